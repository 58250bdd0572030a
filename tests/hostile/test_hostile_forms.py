"""A form is a whitelist: completing a step, starting a case, delivering a message and retrying an
incident accept only the fields the diagram declares for them (`engine.service.declared`). Each probe sends
what was not declared and asserts the 422 naming the field in Swedish, and that nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import PASSWORD, Person, fixture_bytes, publish, sign_in
from probes import assert_no_effect, db_state

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.errors import InvalidInput
from engine.core import Engine
from engine.service import cases, messages, tasks

APPLICATION = {"sokande": "Sara Sökande", "inkom": "2026-03-02"}
REVIEW = {"bedomning": "Uppfyller kraven", "rekommendation": "tillstyrk"}


def _start(client: Any, person: Person, data: dict[str, Any] | None = None, business_key: str | None = None) -> Any:
    body: dict[str, Any] = {"data": APPLICATION if data is None else data}
    if business_key:
        body["business_key"] = business_key
    r = client.post("/api/processes/ansokan/cases", json=body, headers=person.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _complete(client: Any, person: Person, task_id: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/tasks/{task_id}/complete", json=body, headers=person.headers)


def _refused(r: Any, *sentences: str) -> dict[str, Any]:
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.headers["Content-Type"] == "application/problem+json"
    problem = r.get_json()
    for sentence in sentences:
        assert sentence in problem["detail"], problem
    return problem  # type: ignore[no-any-return]


@pytest.fixture
def review(client: Any, people: dict[str, Person]) -> dict[str, Any]:
    """The application process published, one case started, its handler step open."""
    publish(client, people, "manager_review.bpmn")
    case = _start(client, people["hanna"])
    [task] = case["open_tasks"]
    assert task["name"] == "Granska ansökan"
    return {"case": case, "task": task}


def _case(client: Any, person: Person, case_id: str) -> dict[str, Any]:
    return client.get(f"/api/cases/{case_id}", headers=person.headers).get_json()  # type: ignore[no-any-return]


# -- completing a step ---------------------------------------------------------------------------


def test_a_handler_cannot_approve_their_own_case_and_skip_the_managers_review(
        client: Any, people: dict[str, Person], engine: Engine, review: dict[str, Any]) -> None:
    hanna, greta = people["hanna"], people["greta"]
    before = db_state(engine)
    r = _complete(client, hanna, review["task"]["id"], {"data": {**REVIEW, "godkand": True}})
    problem = _refused(r, "Fältet 'godkand' finns inte i steget 'Granska ansökan'.")
    assert [e["field"] for e in problem["errors"]] == ["godkand"]
    assert "godkand" not in problem["accepted"] and "bedomning" in problem["accepted"]
    assert_no_effect(before, db_state(engine))
    # done as declared, the case goes to the manager, who decides
    r = _complete(client, hanna, review["task"]["id"], {"data": REVIEW})
    assert r.status_code == 200, r.get_json()
    [manager] = r.get_json()["case"]["open_tasks"]
    assert manager["name"] == "Chefens granskning"
    r = _complete(client, greta, manager["id"], {"data": {"godkand": True, "motivering": "Tillstyrks"}})
    assert r.status_code == 200, r.get_json()
    assert _case(client, greta, review["case"]["id"])["data"]["godkand"] is True


@pytest.mark.parametrize("extra", [
    {"godkand": True},                      # the gateway's variable, declared by the manager's step
    {"motivering": "Självklart"},            # another step's field
    {"Godkand": True},                      # a name that differs only in case
    {"godkand ": True},                     # or by a space
    {"handlaggarens_notering": "x", "okand": 1},  # one declared (the output mapping) and one not
    {"sokande_ny": "Annan Person"},         # a field that only looks like the form's
])
def test_undeclared_fields_on_a_user_task_are_refused(client: Any, people: dict[str, Person], engine: Engine,
                                                      review: dict[str, Any], extra: dict[str, Any]) -> None:
    before = db_state(engine)
    r = _complete(client, people["hanna"], review["task"]["id"], {"data": {**REVIEW, **extra}})
    undeclared = [k for k in extra if k != "handlaggarens_notering"]
    problem = _refused(r, *(f"Fältet '{k}' finns inte i steget 'Granska ansökan'." for k in undeclared))
    assert [e["field"] for e in problem["errors"]] == undeclared
    assert_no_effect(before, db_state(engine))


def test_every_undeclared_field_is_named_at_once(client: Any, people: dict[str, Person], engine: Engine,
                                                 review: dict[str, Any]) -> None:
    before = db_state(engine)
    r = _complete(client, people["hanna"], review["task"]["id"],
                  {"data": {**REVIEW, "godkand": True, "motivering": "x", "belopp": 10}})
    problem = _refused(r)
    assert {e["field"] for e in problem["errors"]} == {"godkand", "motivering", "belopp"}
    assert problem["detail"].count("finns inte i steget 'Granska ansökan'") == 3
    assert_no_effect(before, db_state(engine))


def test_a_step_that_declares_nothing_takes_only_an_empty_completion(
        client: Any, people: dict[str, Person], engine: Engine, review: dict[str, Any]) -> None:
    hanna, greta = people["hanna"], people["greta"]
    r = _complete(client, hanna, review["task"]["id"], {"data": REVIEW})
    manager = r.get_json()["case"]["open_tasks"][0]
    _complete(client, greta, manager["id"], {"data": {"godkand": True}})
    messages.send_message(engine, SYSTEM, review["case"]["id"], "yttrande", {"text": "Inget att erinra"})
    messages.send_message(engine, SYSTEM, review["case"]["id"], "komplettering", {})
    [last] = _case(client, hanna, review["case"]["id"])["open_tasks"]
    assert last["name"] == "Expediera beslutet"
    before = db_state(engine)
    _refused(_complete(client, hanna, last["id"], {"data": {"expedierad": True}}),
             "Fältet 'expedierad' finns inte i steget 'Expediera beslutet'.")
    assert_no_effect(before, db_state(engine))
    assert _complete(client, hanna, last["id"], {"data": {}}).get_json()["case"]["status"] == "completed"


def test_a_read_only_fields_value_is_never_taken(client: Any, people: dict[str, Person], engine: Engine,
                                                 review: dict[str, Any]) -> None:
    r = _complete(client, people["hanna"], review["task"]["id"], {"data": {**REVIEW, "sokande": "Någon Annan"}})
    assert r.status_code == 200, r.get_json()
    assert "sokande" not in r.get_json()["task"]["result"]["data"]
    assert _case(client, people["hanna"], review["case"]["id"])["data"]["sokande"] == "Sara Sökande"


# -- decisions -----------------------------------------------------------------------------------


@pytest.fixture
def decision(client: Any, people: dict[str, Person]) -> dict[str, Any]:
    """review.bpmn's human decision (Godkänd?), open."""
    publish(client, people, "review.bpmn")
    r = client.post("/api/processes/granskning/cases", json={}, headers=people["hanna"].headers)
    task = r.get_json()["open_tasks"][0]
    r = _complete(client, people["greta"], task["id"], {"data": {}})
    [open_decision] = r.get_json()["case"]["open_tasks"]
    assert open_decision["kind"] == "decision"
    return open_decision  # type: ignore[no-any-return]


@pytest.mark.parametrize("data", [{"godkand": True}, {"kommentar": "ja"}, {"rutin_beslut": {"g1": "f4"}}])
def test_a_decision_takes_its_choice_and_no_data(client: Any, people: dict[str, Person], engine: Engine,
                                                 decision: dict[str, Any], data: dict[str, Any]) -> None:
    before = db_state(engine)
    r = _complete(client, people["hanna"], decision["id"], {"choice": "Ja", "data": data})
    [key] = data
    _refused(r, key)
    assert_no_effect(before, db_state(engine))


# -- start data ----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    {**APPLICATION, "godkand": True},        # the manager's decision, at the start
    {**APPLICATION, "bedomning": "Klar"},     # the handler's field
    {**APPLICATION, "rutin_beslut": {"Godkand": "f3"}},  # the engine's own record of decisions
    {**APPLICATION, "okand": 1},
])
def test_undeclared_start_data_is_refused_and_no_case_is_made(client: Any, people: dict[str, Person],
                                                              engine: Engine, data: dict[str, Any]) -> None:
    publish(client, people, "manager_review.bpmn")
    before = db_state(engine)
    r = client.post("/api/processes/ansokan/cases", json={"data": data}, headers=people["hanna"].headers)
    [key] = [k for k in data if k not in APPLICATION]
    _refused(r, key)
    assert_no_effect(before, db_state(engine))


def test_a_documented_case_field_is_checked_like_a_form_field(client: Any, people: dict[str, Person],
                                                              engine: Engine) -> None:
    publish(client, people, "manager_review.bpmn")
    before = db_state(engine)
    r = client.post("/api/processes/ansokan/cases", json={"data": {**APPLICATION, "inkom": "i förrgår"}},
                    headers=people["hanna"].headers)
    problem = _refused(r)
    assert problem["errors"] == [{"field": "inkom", "message": "inkom ska vara ett datum (ÅÅÅÅ-MM-DD)"}]
    assert_no_effect(before, db_state(engine))


def test_a_process_without_a_start_form_takes_no_start_data(client: Any, people: dict[str, Person],
                                                            engine: Engine) -> None:
    publish(client, people, "incident.bpmn")
    before = db_state(engine)
    r = client.post("/api/processes/incident/cases", json={"data": {"belopp": 5}}, headers=people["hanna"].headers)
    _refused(r, "Fältet 'belopp' finns inte i startformuläret för 'Incident'.")
    assert_no_effect(before, db_state(engine))


# -- messages ------------------------------------------------------------------------------------


def _waiting(client: Any, people: dict[str, Person], engine: Engine, review: dict[str, Any], *,
             past_reply: bool = False) -> str:
    r = _complete(client, people["hanna"], review["task"]["id"], {"data": REVIEW})
    _complete(client, people["greta"], r.get_json()["case"]["open_tasks"][0]["id"], {"data": {"godkand": True}})
    if past_reply:
        messages.send_message(engine, SYSTEM, review["case"]["id"], "yttrande", {"text": "Inget att erinra"})
    return str(review["case"]["id"])


# The catch maps ${text} to yttrande: the message carries text (what the mapping reads) or yttrande.
@pytest.mark.parametrize("payload", [{"yttrande": "ok", "godkand": False}, {"text": "ok", "annat": 1}, {"annat": 1}])
def test_a_message_carries_only_what_its_catch_maps(client: Any, people: dict[str, Person], engine: Engine,
                                                    review: dict[str, Any], payload: dict[str, Any]) -> None:
    case_id = _waiting(client, people, engine, review)
    before = db_state(engine)
    r = client.post(f"/api/cases/{case_id}/messages/yttrande", json={"data": payload}, headers=people["admin"].headers)
    [key] = [k for k in payload if k not in {"yttrande", "text"}]
    _refused(r, f"Fältet '{key}' finns inte i det 'Yttrande inkommet' tar emot av meddelandet 'yttrande'.")
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize("payload", [{"godkand": False}, {"motivering": "ändrad"}, {"bedomning": "ny"}])
def test_a_message_that_maps_nothing_cannot_fill_in_a_persons_field(
        client: Any, people: dict[str, Person], engine: Engine, review: dict[str, Any], payload: dict[str, Any]) -> None:
    case_id = _waiting(client, people, engine, review, past_reply=True)
    before = db_state(engine)
    r = client.post(f"/api/cases/{case_id}/messages/komplettering", json={"data": payload},
                    headers=people["admin"].headers)
    [key] = payload
    _refused(r, f"Fältet '{key}' fylls i av steget", "kan inte sättas av meddelandet 'komplettering'")
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize("payload", [{"inkom": "2026-01-02"}, {"inkom": "2026-04-01", "bilaga": "x"}])
def test_a_message_that_maps_nothing_cannot_move_the_day_the_deadline_counts_from(
        client: Any, people: dict[str, Person], engine: Engine, review: dict[str, Any], payload: dict[str, Any]) -> None:
    case_id = _waiting(client, people, engine, review, past_reply=True)
    before = db_state(engine)
    r = client.post(f"/api/cases/{case_id}/messages/komplettering", json={"data": payload},
                    headers=people["admin"].headers)
    problem = _refused(r, "Fältet 'inkom' är ett ärendefält som Rutin läser (dagen ärendet kom in",
                       "kan inte sättas av meddelandet 'komplettering'")
    assert [e["field"] for e in problem["errors"]] == ["inkom"]
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize("payload", [{"rutin_beslut": {"Godkand": "f4"}}, {"_intern": 1}])
def test_a_message_cannot_carry_the_engines_own_names(client: Any, people: dict[str, Person], engine: Engine,
                                                      review: dict[str, Any], payload: dict[str, Any]) -> None:
    case_id = _waiting(client, people, engine, review, past_reply=True)
    before = db_state(engine)
    r = client.post(f"/api/cases/{case_id}/messages/komplettering", json={"data": payload},
                    headers=people["admin"].headers)
    _refused(r, "Ogiltiga fältnamn")
    assert_no_effect(before, db_state(engine))


def test_a_message_by_business_key_is_checked_the_same_way(client: Any, people: dict[str, Person],
                                                           engine: Engine) -> None:
    publish(client, people, "manager_review.bpmn")
    case = _start(client, people["hanna"], business_key="ANS-2026-1")
    review = {"case": case, "task": case["open_tasks"][0]}
    _waiting(client, people, engine, review)
    before = db_state(engine)
    r = client.post("/api/messages/yttrande", json={"business_key": "ANS-2026-1", "data": {"godkand": False}},
                    headers=people["admin"].headers)
    _refused(r, "Fältet 'godkand' finns inte i det 'Yttrande inkommet' tar emot")
    assert_no_effect(before, db_state(engine))


# -- retrying an incident ------------------------------------------------------------------------


@pytest.fixture
def incident(client: Any, people: dict[str, Person]) -> str:
    """incident.bpmn in incident at its script (`belopp` missing)."""
    publish(client, people, "incident.bpmn")
    admin = people["admin"]
    case = client.post("/api/processes/incident/cases", json={}, headers=admin.headers).get_json()
    r = _complete(client, admin, case["open_tasks"][0]["id"], {"data": {"annat": 1}})
    assert r.get_json()["case"]["status"] == "incident"
    return str(case["id"])


@pytest.mark.parametrize(("data", "sentence"), [
    ({"belopp": 600, "godkant": True}, "Fältet 'godkant' finns inte i ärendet och läses inte av 'Beräkna avgift'"),
    ({"avgift": 1}, "Fältet 'avgift' finns inte i ärendet och läses inte av 'Beräkna avgift'"),  # it writes it
    ({"rutin_beslut": {"gw": "f4"}}, "Ogiltiga variabelnamn: rutin_beslut"),
    ({"_intern": 1}, "Ogiltiga variabelnamn: _intern"),
])
def test_a_retry_corrects_only_what_the_case_has_or_the_failing_step_reads(
        client: Any, people: dict[str, Person], engine: Engine, incident: str, data: dict[str, Any],
        sentence: str) -> None:
    before = db_state(engine)
    r = client.post(f"/api/cases/{incident}/retry", json={"data": data}, headers=people["admin"].headers)
    _refused(r, sentence)
    assert_no_effect(before, db_state(engine))


# -- the pages' forms ----------------------------------------------------------------------------


def _signed_in(client: Any, engine: Engine, name: str) -> str:
    identity.set_password(engine, name, PASSWORD)
    return sign_in(client, name)


def test_the_pages_task_form_refuses_a_posted_field_the_step_does_not_declare(
        client: Any, people: dict[str, Person], engine: Engine, review: dict[str, Any]) -> None:
    csrf = _signed_in(client, engine, "hanna")
    before = db_state(engine)
    r = client.post(f"/tasks/{review['task']['id']}/complete",
                    data={"csrf": csrf, **REVIEW, "godkand": "on"}, headers={"Accept": "text/html"})
    assert r.status_code == 422
    assert "Fältet &#39;godkand&#39; finns inte i steget &#39;Granska ansökan&#39;." in r.get_data(as_text=True)
    assert_no_effect(before, db_state(engine))


def test_the_pages_decision_form_refuses_a_posted_field(client: Any, people: dict[str, Person], engine: Engine,
                                                        decision: dict[str, Any]) -> None:
    csrf = _signed_in(client, engine, "hanna")
    before = db_state(engine)
    r = client.post(f"/tasks/{decision['id']}/complete", data={"csrf": csrf, "choice": "f3", "godkand": "on"},
                    headers={"Accept": "text/html"})
    assert r.status_code == 422
    assert "Fältet &#39;godkand&#39; finns inte i steget" in r.get_data(as_text=True)
    assert_no_effect(before, db_state(engine))


def test_the_pages_start_form_refuses_a_posted_field_the_start_form_does_not_declare(
        client: Any, people: dict[str, Person], engine: Engine) -> None:
    publish(client, people, "manager_review.bpmn")
    csrf = _signed_in(client, engine, "hanna")
    before = db_state(engine)
    r = client.post("/processes/ansokan/cases", data={"csrf": csrf, "sokande": "Sara", "godkand": "on"},
                    headers={"Accept": "text/html"})
    assert r.status_code == 422
    assert "Fältet &#39;godkand&#39; finns inte i startformuläret" in r.get_data(as_text=True)
    assert_no_effect(before, db_state(engine))


def test_the_engine_refuses_what_the_api_refuses(engine: Engine) -> None:
    """The same rule holds for a caller of the engine itself (the CLI, the scheduler's starts)."""
    from engine.catalogue import processes

    processes.deploy(engine, SYSTEM, fixture_bytes("manager_review.bpmn"), approve_as_admin=True)
    identity.add_user(engine, "hanna", ["Handläggare"])
    hanna = identity.get_actor(engine, "hanna")
    case = cases.start_case(engine, hanna, "ansokan", dict(APPLICATION))
    before = db_state(engine)
    with pytest.raises(InvalidInput, match="Fältet 'godkand' finns inte i steget 'Granska ansökan'"):
        tasks.complete(engine, hanna, case["open_tasks"][0]["id"], {**REVIEW, "godkand": True})
    assert_no_effect(before, db_state(engine))
