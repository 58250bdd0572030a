"""The case record (ärendeakt) an auditor prints: one case end to end on one page, with who did each
step under which role and delegation, planned and actual dates, on time or late, the version and
its approval, the deadline's changes, hand-overs, and the history's verification."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from conftest import PASSWORD, Person, Web, fixture_bytes, publish
from signin_helpers import login_csrf
from test_authority_reporting import _decide, town  # noqa: F401 (town is a fixture)

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.core import Engine
from engine.store.models import DelegatedDecision, HumanTask, User


def _signed_in(app: Any, engine: Engine, name: str) -> Any:
    identity.set_password(engine, name, PASSWORD)
    browser = app.test_client()
    r = browser.post("/login", data={"csrf": login_csrf(browser), "name": name, "password": PASSWORD})
    assert r.status_code == 302
    return browser


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _late_reviewed_case(client: Any, people: dict[str, Person], engine: Engine, clock: ManualClock) -> tuple[str, str]:
    """Granska is given a due date with a reason, done two days after it; the decision is handed
    over from hanna to hugo, who takes it on time."""
    with engine.db.write() as s:
        s.execute(sa.update(User).where(User.name == "greta").values(display_name="Greta Granskare"))
        s.execute(sa.update(User).where(User.name == "hugo").values(display_name="Hugo Handläggare"))
    publish(client, people, "review.bpmn")
    r = client.post("/api/processes/granskning/cases", json={"data": {"belopp": 100}}, headers=people["hanna"].headers)
    case_id = r.get_json()["id"]
    [review] = r.get_json()["open_tasks"]
    client.post(f"/api/tasks/{review['id']}/claim", headers=people["greta"].headers)
    r = client.patch(f"/api/tasks/{review['id']}", json={"due": "2026-03-04T12:00:00+01:00",
                                                         "reason": "Remissvar väntas"},
                     headers=people["greta"].headers)
    assert r.status_code == 200, r.get_json()
    clock.advance(timedelta(days=4))
    r = client.post(f"/api/tasks/{review['id']}/complete", json={"data": {"kommentar": "ok"}},
                    headers=people["greta"].headers)
    [decision] = r.get_json()["case"]["open_tasks"]
    client.post(f"/api/tasks/{decision['id']}/claim", headers=people["hanna"].headers)
    client.post(f"/api/tasks/{decision['id']}/handover", json={"user": "hugo"}, headers=people["hanna"].headers)
    r = client.post(f"/api/tasks/{decision['id']}/complete", json={"choice": "Ja"}, headers=people["hugo"].headers)
    assert r.get_json()["case"]["status"] == "completed"
    return case_id, review["id"]


def test_the_record_shows_each_step_on_time_or_late_and_the_verification(
        app: Any, client: Any, people: dict[str, Person], engine: Engine, clock: ManualClock) -> None:
    case_id, review_id = _late_reviewed_case(client, people, engine, clock)
    browser = _signed_in(app, engine, "admin")
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'href="/cases/{case_id}/akt"' in page and "Ärendeakt (utskrift för granskning)" in page
    r = browser.get(f"/cases/{case_id}/akt")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    text = _text(html)
    assert "Historiken stämmer: 10 händelser" in text
    assert "granskning, version 1" in text and "av en administratör" in text
    review = re.search(rf'<tr class="step late" data-step="{review_id}">(.*?)</tr>', html, re.S)
    assert review is not None  # done after its due date: late, though no longer "overdue"
    row = _text(review.group(1))
    assert "Greta Granskare (greta)" in row and "granskare" in row and "Försenat 1 dag 21 tim" in row
    assert "förfallodatum ändrat av Greta Granskare (greta) som granskare, från inget till 2026-03-04 12:00" in text
    assert "Skäl: Remissvar väntas" in text
    decision = re.search(r'<tr class="step " data-step="[^"]+">(.*?Godkänd\?.*?)</tr>', html, re.S)
    assert decision is not None and "Hugo Handläggare (hugo)" in _text(decision.group(1))
    assert "Uppgift överlämnad av hanna till Hugo Handläggare (hugo)" in text
    assert "@media print" in browser.get("/static/rutin.css").get_data(as_text=True)
    download = browser.get(f"/cases/{case_id}/akt.json")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert download.get_json()["verification"]["clean"] is True

    with engine.db.write() as s:  # a projection rewritten: the record says so
        s.execute(sa.update(HumanTask).where(HumanTask.id == review_id).values(completed_by="mallory"))
    text = _text(browser.get(f"/cases/{case_id}/akt").get_data(as_text=True))
    assert "Historiken stämmer inte (1 avvikelser)" in text and "mallory" in text


def test_the_record_names_the_delegation_and_the_jav_confirmation(app: Any, engine: Engine,
                                                                   town: dict[str, Any]) -> None:  # noqa: F811
    _decide(engine, "bygglov_test", "bygglov", "bea", "bo")
    with engine.db.read() as s:
        case_id = s.execute(sa.select(DelegatedDecision.case_id)).scalar_one()
    text = _text(_signed_in(app, engine, "rut").get(f"/cases/{case_id}/akt").get_data(as_text=True))  # the auditor
    assert "Delegation punkt F.1.5 (Bygglov inom detaljplan, högst 200 m²)" in text
    assert "intygat ej jävig" in text and "Historiken stämmer" in text


def test_the_record_is_not_for_everyone(app: Any, client: Any, people: dict[str, Person], engine: Engine,
                                        clock: ManualClock) -> None:
    case_id, _ = _late_reviewed_case(client, people, engine, clock)
    browser = _signed_in(app, engine, "stina")
    for path in (f"/cases/{case_id}/akt", f"/cases/{case_id}/akt.json", f"/cases/{case_id}/akt.zip"):
        r = browser.get(path)
        assert r.status_code == 403 and "Greta" not in r.get_data(as_text=True)
    assert _signed_in(app, engine, "admin").get("/cases/finns-inte/akt").status_code == 404


def test_the_record_sees_a_checkpoint_log_changed_after_it_was_read(
        app: Any, client: Any, people: dict[str, Person], engine: Engine, clock: ManualClock) -> None:
    from engine.service import audit

    case_id, _ = _late_reviewed_case(client, people, engine, clock)
    assert audit.seal(engine, "test") is not None
    browser = _signed_in(app, engine, "admin")
    assert "Historiken stämmer: 10 händelser" in _text(browser.get(f"/cases/{case_id}/akt").get_data(as_text=True))
    path = audit.audit_dir(engine.settings) / audit.LOG_FILE
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"actor":"test"', b'"actor":"tset"'))  # same size, new content
    text = _text(browser.get(f"/cases/{case_id}/akt").get_data(as_text=True))
    assert "Historiken stämmer inte" in text and "signaturen stämmer inte" in text


def test_in_the_browser_the_record_is_reached_from_the_case_and_prints_without_the_menu(web: Web) -> None:
    from playwright.sync_api import expect

    from engine.authority.identity import SYSTEM
    from engine.catalogue import processes
    from engine.service import cases

    processes.deploy(web.engine, SYSTEM, fixture_bytes("review.bpmn"))
    case = cases.start_case(web.engine, SYSTEM, "granskning", {"belopp": 1}, "GR-2026-1")
    identity.set_password(web.engine, "admin", PASSWORD)
    page = web.sign_in("admin", start=f"/cases/{case['id']}")
    page.get_by_role("link", name="Ärendeakt (utskrift för granskning)").click()
    expect(page.get_by_role("heading", name="Ärendeakt: GR-2026-1")).to_be_visible()
    expect(page.locator("tr.step")).to_contain_text("Granska")
    expect(page.locator("header.top")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.get_by_role("button", name="Skriv ut")).to_be_hidden()
    expect(page.get_by_role("heading", name="Steg för steg")).to_be_visible()
    expect(page.locator("section.verification")).to_contain_text("Historiken stämmer")
    assert web.errors == []
