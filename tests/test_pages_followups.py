"""The pages' follow-ups over HTTP (Flask's test client, no browser): the task's JSON says whether
it is a decision under the delegation ordinance; unknown addresses and wrong methods are a Swedish
page for browsers and problem details for everyone else; page sessions end at sign-out and after
RUTIN_SESSION_HOURS (by the engine's clock); a case's data is shown with its forms' labels."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

import pytest
from conftest import PASSWORD, ROOT, Person, fixture_bytes, sign_in
from test_pages import BIDRAG, BIDRAG_ITEM

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base import state
from engine.base.clock import ManualClock
from engine.base.settings import Settings
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import delegation
from engine.service import cases, tasks

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


def _ordinance(engine: Engine, people: dict[str, Person], *items: dict[str, Any]) -> None:
    identity.add_user(engine, "admin2", ["admin"])
    delegation.import_items(engine, people["admin"].actor, identity.get_actor(engine, "admin2"), list(items))


# -- 1. the task's JSON says whether it is a decision under the ordinance -------------------------


def test_task_json_says_whether_the_step_is_a_decision_under_the_ordinance(
        engine: Engine, people: dict[str, Person], client: Any, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    later = clock.now() + timedelta(days=10)
    _ordinance(engine, people,
               {**BIDRAG_ITEM, "number": "3.2", "title": "Beslut i steg ett", "process_key": "seq3", "element_id": "a"},
               {**BIDRAG_ITEM, "number": "3.3", "title": "Beslut i steg två från nästa månad", "process_key": "seq3",
                "element_id": "b", "valid_from": later.isoformat()})
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    processes.deploy(engine, SYSTEM, BIDRAG, "bidrag.bpmn")
    named = cases.start_case(engine, SYSTEM, "seq3", {}, "SEQ-D")["open_tasks"][0]  # only the ordinance names it
    marked = cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-1")["open_tasks"][0]  # the diagram marks it

    one = client.get(f"/api/tasks/{named['id']}", headers=people["hanna"].headers).get_json()
    assert one["decision_authority"] is False  # the diagram says nothing
    assert one["decision_under_ordinance"] is True
    assert one["delegation_item"] == "3.2" and one["delegation_items"] == ["3.2"]
    # a step the diagram marks, with no item naming it in force: a decision still, under no item now
    bare = client.get(f"/api/tasks/{marked['id']}", headers=people["hanna"].headers).get_json()
    assert bare["decision_under_ordinance"] is True and bare["delegation_item"] is None

    # the list says the same without deserializing a workflow
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("a list deserialized a workflow")

    monkeypatch.setattr(state, "load", refuse)
    listed = {t["id"]: t for t in client.get("/api/tasks", headers=people["admin"].headers).get_json()["items"]}
    assert listed[named["id"]]["decision_under_ordinance"] is True
    assert listed[named["id"]]["delegation_item"] == "3.2"
    monkeypatch.undo()

    # the next step: an item names it only from a later date; until then it is an ordinary task
    done = tasks.complete(engine, people["hanna"].actor, named["id"], {}, no_conflict_of_interest=True)
    [step_b] = done["case"]["open_tasks"]
    assert step_b["element_id"] == "b"
    assert step_b["decision_under_ordinance"] is False and step_b["delegation_items"] == []
    clock.advance(timedelta(days=11))
    now_b = client.get(f"/api/tasks/{step_b['id']}", headers=people["hanna"].headers).get_json()
    assert now_b["decision_under_ordinance"] is True and now_b["delegation_item"] == "3.3"
    # as the engine itself judges it when the step is completed
    refused = client.post(f"/api/tasks/{step_b['id']}/complete", json={"data": {}}, headers=people["hanna"].headers)
    assert refused.status_code == 422 and "no_conflict_of_interest" in refused.get_json()["detail"]


def test_the_openapi_task_schema_documents_the_decision_fields(client: Any) -> None:
    task = client.get("/api/openapi.json").get_json()["components"]["schemas"]["Task"]["properties"]
    assert task["decision_under_ordinance"]["type"] == "boolean"
    assert "delegation_item" in task and "delegation_items" in task


def test_the_task_page_asks_for_the_jav_confirmation_from_the_task_json(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    """Before anything is tried, the page of a step only the ordinance names shows the confirmation."""
    _ordinance(engine, people, {**BIDRAG_ITEM, "number": "3.2", "process_key": "seq3", "element_id": "a"})
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    step = cases.start_case(engine, SYSTEM, "seq3", {}, "SEQ-D")["open_tasks"][0]
    identity.set_password(engine, "hanna", PASSWORD)
    sign_in(client)
    page = client.get(f"/tasks/{step['id']}").get_data(as_text=True)
    assert 'name="no_conflict_of_interest"' in page
    assert "Beslut enligt delegationsordningen, punkt 3.2" in page
    assert "Fatta beslut" in page


# -- 2. unknown addresses and wrong methods -------------------------------------------------------


def test_a_browser_gets_the_swedish_error_page_for_an_unknown_address_or_method(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    missing = client.get("/nonexistent", headers={"Accept": BROWSER})
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    body = missing.get_data(as_text=True)
    assert "<h1>Finns inte</h1>" in body and "Sidan finns inte." in body and "Felkod" not in body
    assert "Accept" in missing.headers.get("Vary", "")

    wrong = client.get("/logout", headers={"Accept": BROWSER})  # sign-out is a POST
    assert wrong.status_code == 405 and wrong.mimetype == "text/html"
    assert "Metoden stöds inte" in wrong.get_data(as_text=True)
    assert "POST" in wrong.headers["Allow"]
    posted = client.post("/nonexistent", headers={"Accept": BROWSER})
    assert posted.status_code in (404, 405) and posted.mimetype == "text/html"

    # signed in, the error page keeps the menu
    identity.set_password(engine, "hanna", PASSWORD)
    sign_in(client)
    signed = client.get("/finns/inte", headers={"Accept": BROWSER}).get_data(as_text=True)
    assert "Logga ut" in signed and "Mina uppgifter" in signed


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/problem+json",
                                    "text/html;q=0.5, application/json"])
def test_other_clients_and_the_api_get_problem_details(client: Any, accept: str | None) -> None:
    headers = {"Accept": accept} if accept else {}
    for answer, status in ((client.get("/nonexistent", headers=headers), 404),
                           (client.get("/logout", headers=headers), 405)):
        assert answer.status_code == status and answer.mimetype == "application/problem+json"
        assert answer.get_json()["status"] == status
    # under /api always problem details, even for a browser
    for path in ("/api/nonexistent", "/api/processes/x/nope"):
        api = client.get(path, headers={"Accept": BROWSER})
        assert api.status_code == 404 and api.mimetype == "application/problem+json"
        assert api.get_json()["type"] == "https://rutin.example/problems/not-found"
    wrong = client.delete("/api/health", headers={"Accept": BROWSER})
    assert wrong.status_code == 405 and wrong.mimetype == "application/problem+json"
    assert "GET" in wrong.headers["Allow"]


# -- 3. page sessions -----------------------------------------------------------------------------


def test_sign_out_ends_the_session_on_the_server_so_a_copied_cookie_stops_working(
        engine: Engine, people: dict[str, Person], app: Any) -> None:
    identity.set_password(engine, "hanna", PASSWORD)
    browser = app.test_client()
    csrf = sign_in(browser)
    copied = browser.get_cookie("session").value
    other = app.test_client()  # the same person in another browser
    sign_in(other)

    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/").status_code == 200  # the copy works while the session holds

    out = browser.post("/logout", data={"csrf": csrf})
    assert out.status_code == 302 and out.headers["Location"].endswith("/login")
    again = thief.get("/")
    assert again.status_code == 302 and "/login?next=" in again.headers["Location"]
    assert other.get("/").status_code == 302  # signing out ends the person's sessions everywhere
    assert thief.get("/notifications/badge").status_code == 286
    # signing in again works, and is a new session
    sign_in(browser)
    assert browser.get("/").status_code == 200


def test_static_files_and_the_favicon_do_not_resend_the_session_cookie(
        engine: Engine, people: dict[str, Person], app: Any) -> None:
    # a refreshed cookie on a static file is a Set-Cookie a shared cache must not keep, and it
    # brings back a cookie the browser dropped while the request was under way
    identity.set_password(engine, "hanna", PASSWORD)
    browser = app.test_client()
    sign_in(browser)
    page = browser.get("/")
    assert page.status_code == 200 and "Set-Cookie" in page.headers  # pages refresh the session
    for path in ("/static/rutin.css", "/favicon.ico"):
        response = browser.get(path)
        assert response.status_code in (200, 204) and "Set-Cookie" not in response.headers, path


def test_a_bearer_token_call_neither_uses_nor_resends_a_page_session(
        engine: Engine, people: dict[str, Person], app: Any) -> None:
    # the API authenticates by bearer token alone: a signed-in browser's cookie gives it nothing,
    # and a call with a token gets no cookie back (Flask would refresh the permanent session on
    # each one)
    identity.set_password(engine, "hanna", PASSWORD)
    browser = app.test_client()
    sign_in(browser)
    assert browser.get("/").status_code == 200
    assert browser.get("/api/tasks").status_code == 401  # the cookie is not a credential here
    token = identity.issue_token(engine, "hanna")
    answer = browser.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert "Set-Cookie" not in answer.headers and "Cookie" not in answer.headers.get("Vary", "")
    assert browser.get("/").status_code == 200  # the page session is untouched
    # the pages keep their session behind a proxy that adds its own Authorization header
    proxied = app.test_client()
    sign_in(proxied)
    assert proxied.get("/cases", headers={"Authorization": "Basic cHJveHk6cHJveHk="}).status_code == 200


def test_a_session_lasts_the_configured_hours_by_the_engine_clock(
        engine: Engine, people: dict[str, Person], app: Any, clock: ManualClock) -> None:
    assert Settings.from_env({}).session_lifetime == timedelta(hours=8)
    assert Settings.from_env({"RUTIN_SESSION_HOURS": "2.5"}).session_lifetime == timedelta(hours=2, minutes=30)
    identity.set_password(engine, "hanna", PASSWORD)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    signed = client.post("/login", data={"csrf": token, "name": "hanna", "password": PASSWORD})
    cookie = signed.headers["Set-Cookie"]
    assert "Expires=" in cookie  # permanent: it outlives the browser window, for the lifetime
    clock.advance(timedelta(hours=7, minutes=59))
    assert client.get("/cases").status_code == 200
    clock.advance(timedelta(minutes=1))
    expired = client.get("/cases")
    assert expired.status_code == 302 and expired.headers["Location"].endswith("/login?next=/cases")
    login = client.get(expired.headers["Location"]).get_data(as_text=True)
    assert "Sessionen har gått ut eller avslutats; logga in igen." in login
    assert client.get("/").status_code == 302  # the expired session is gone, not revived


def test_the_session_lifetime_is_the_setting(engine: Engine, people: dict[str, Person], clock: ManualClock) -> None:
    from webapp import create_app

    short = Engine(dataclasses.replace(engine.settings, session_hours=1.0), clock)
    try:
        app = create_app(short)
        assert app.permanent_session_lifetime == timedelta(hours=1)
        identity.set_password(short, "hanna", PASSWORD)
        client = app.test_client()
        sign_in(client)
        clock.advance(timedelta(minutes=61))
        assert client.get("/").status_code == 302
    finally:
        short.close()


# -- 4. case data with the forms' labels ----------------------------------------------------------


def test_the_case_page_shows_data_with_the_forms_labels(engine: Engine, people: dict[str, Person],
                                                        client: Any) -> None:
    # As an intake integration deploys it: its start event maps the channel the report came in through
    # into the case, a variable no form names.
    shipped = (ROOT / "workflows" / "avvikelsehantering.bpmn").read_bytes()
    start = '<bpmn:startEvent id="StartEvent_upptackt" name="Avvikelse upptäckt">'.encode()
    assert start in shipped
    mapped = shipped.replace(start, start + b'<bpmn:extensionElements><camunda:inputOutput><camunda:outputParameter '
                                            b'name="inkommen_via">${kanal}</camunda:outputParameter>'
                                            b'</camunda:inputOutput></bpmn:extensionElements>')
    processes.deploy(engine, SYSTEM, mapped, "avvikelsehantering.bpmn")
    identity.add_user(engine, "maja", ["Medarbetare"])
    identity.set_password(engine, "maja", PASSWORD)
    started = cases.start_case(engine, SYSTEM, "avvikelsehantering", {"inkommen_via": "telefon"}, "AVV-9")
    first = started["open_tasks"][0]
    tasks.complete(engine, identity.get_actor(engine, "maja"), first["id"], {
        "beskrivning": "Fel läkemedel.", "plats": "Solgården", "upptackt_datum": "2026-03-02",
        "kalla": "klagomal", "allvarlighetsgrad": "hog"})
    sign_in(client, "maja")
    page = client.get(f"/cases/{started['id']}").get_data(as_text=True)
    data = page[page.index('<dl class="data">'):]
    data = data[:data.index("</dl>")]
    assert '<dt data-key="beskrivning">Vad har hänt?</dt><dd>Fel läkemedel.</dd>' in data
    assert '<dt data-key="kalla">Källa</dt><dd>Klagomål</dd>' in data  # the choice by its name too
    assert '<dt data-key="allvarlighetsgrad">Allvarlighetsgrad</dt><dd>Hög</dd>' in data
    assert '<dt data-key="inkommen_via">inkommen_via</dt><dd>telefon</dd>' in data  # no form names it
    timeline = page[page.index('<ol class="timeline">'):]
    assert "Källa: Klagomål" in timeline and "kalla: klagomal" not in timeline


def test_a_new_password_ends_the_sessions_signed_in_with_the_old_one(
        engine: Engine, people: dict[str, Person], app: Any) -> None:
    identity.set_password(engine, "hanna", PASSWORD)
    browser = app.test_client()
    sign_in(browser)
    assert browser.get("/").status_code == 200
    identity.set_password(engine, "hanna", PASSWORD + "-ny")
    again = browser.get("/")
    assert again.status_code == 302 and "/login?next=" in again.headers["Location"]


def test_after_signing_in_a_next_address_never_leaves_the_site(engine: Engine, people: dict[str, Person],
                                                               app: Any) -> None:
    from webapp.pages.signin import _safe_next

    # as the query string decodes them: a browser drops the tab or newline, or reads \\ as /
    for hostile in ("//evil.example", "/\t/evil.example", "/\n/evil.example", "/\\evil.example",
                    "https://evil.example/", "\t//evil.example", "/\x00/evil.example", "evil.example"):
        assert _safe_next(hostile) == "/", hostile
    assert _safe_next("/tasks/abc?tab=mine") == "/tasks/abc?tab=mine"
    identity.set_password(engine, "hanna", PASSWORD)
    client = app.test_client()
    page = client.get("/login?next=/%09/evil.example").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    answer = client.post("/login?next=/%09/evil.example", data={"csrf": token, "name": "hanna", "password": PASSWORD})
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_after_a_refused_form_the_ticked_boxes_are_still_ticked_and_read_only_fields_are_read_only(
        engine: Engine, people: dict[str, Person], app: Any) -> None:
    import json
    from xml.sax.saxutils import escape

    start_form = {"id": "start", "type": "default", "components": [
        {"type": "textfield", "key": "diarienr", "label": "Diarienummer"}]}
    form = {"id": "frm", "type": "default", "components": [
        {"type": "checklist", "key": "bilagor", "label": "Bilagor",
         "values": [{"label": "Intyg", "value": "intyg"}, {"label": "Karta", "value": "karta"},
                    {"label": "Ritning", "value": "ritning"}]},
        {"type": "textfield", "key": "motivering", "label": "Motivering", "validate": {"required": True}},
        {"type": "textfield", "key": "diarienr", "label": "Diarienummer", "readonly": True},
    ]}
    processes.deploy(engine, SYSTEM, f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="bilagor" isExecutable="true">
    <bpmn:extensionElements><zeebe:userTaskForm id="frm">{escape(json.dumps(form))}</zeebe:userTaskForm>
      <zeebe:userTaskForm id="start">{escape(json.dumps(start_form))}</zeebe:userTaskForm>
    </bpmn:extensionElements>
    <bpmn:startEvent id="s"><bpmn:extensionElements><zeebe:formDefinition formKey="camunda-forms:bpmn:start"/>
    </bpmn:extensionElements></bpmn:startEvent><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Komplettera"><bpmn:extensionElements>
      <zeebe:formDefinition formKey="camunda-forms:bpmn:frm"/>
      <zeebe:assignmentDefinition assignee="hanna"/></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode())
    task = cases.start_case(engine, SYSTEM, "bilagor", {"diarienr": "KS-1"})["open_tasks"][0]["id"]
    identity.set_password(engine, "hanna", PASSWORD)
    browser = app.test_client()
    csrf = sign_in(browser)
    page = browser.get(f"/tasks/{task}").get_data(as_text=True)
    assert re.search(r'name="diarienr"[^>]*readonly', page)
    refused = browser.post(f"/tasks/{task}/complete", data={
        "csrf": csrf, "bilagor": ["intyg", "ritning"], "motivering": "", "diarienr": "KS-999"})
    assert refused.status_code == 422
    again = refused.get_data(as_text=True)
    checked = set(re.findall(r'name="bilagor" value="(\w+)"\s+checked', again))
    assert checked == {"intyg", "ritning"}
