"""What an auditor relies on beside the chains, checked against the chains: who holds a step after
a claim or a hand-over, who decided under which delegation item and role (the committee's report),
and a deadline's changes (who, from, to, why) recorded as chained events.

Each projection is tampered with directly in the database, as someone with write access could, and
`rutin audit verify` must name the case and the event whose record the row no longer matches; on
SQLite and on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from conftest import Person, publish
from test_authority_reporting import _decide, town  # noqa: F401 (town is a fixture)

from engine.base.clock import ManualClock
from engine.core import Engine
from engine.service import audit
from engine.store.models import Case, CaseEvent, DelegatedDecision, HumanTask


def _decision_open(client: Any, people: dict[str, Person]) -> tuple[str, str]:
    """A granskning case whose review greta completed: its decision open for the handlers."""
    publish(client, people, "review.bpmn")
    r = client.post("/api/processes/granskning/cases", json={"data": {"belopp": 100}}, headers=people["hanna"].headers)
    [task] = r.get_json()["open_tasks"]
    r = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"kommentar": "ok"}},
                    headers=people["greta"].headers)
    [decision] = r.get_json()["case"]["open_tasks"]
    return str(r.get_json()["case"]["id"]), str(decision["id"])


def _case_findings(engine: Engine, case_id: str) -> list[dict[str, Any]]:
    return [f for f in audit.verify_all(engine)["findings"] if f.get("case_id") == case_id]


def _seq_of(engine: Engine, case_id: str, type_: str) -> int:
    with engine.db.read() as s:
        return int(s.execute(sa.select(sa.func.max(CaseEvent.seq))
                             .where(CaseEvent.case_id == case_id, CaseEvent.type == type_)).scalar_one())


def test_a_holder_changed_after_a_hand_over_is_found(client: Any, people: dict[str, Person], engine: Engine) -> None:
    case_id, task_id = _decision_open(client, people)
    assert client.post(f"/api/tasks/{task_id}/claim", headers=people["hanna"].headers).status_code == 200
    r = client.post(f"/api/tasks/{task_id}/handover", json={"user": "hugo"}, headers=people["hanna"].headers)
    assert r.status_code == 200 and r.get_json()["assignee"] == "hugo"
    assert audit.verify_all(engine)["clean"]
    with engine.db.write() as s:  # the hand-over undone in the row only
        s.execute(sa.update(HumanTask).where(HumanTask.id == task_id).values(assignee="hanna"))
    [finding] = _case_findings(engine, case_id)
    assert finding["seq"] == _seq_of(engine, case_id, "task_handed_over")
    assert "Uppgift överlämnad" in finding["message"] and "hugo" in finding["message"]
    assert "hanna" in finding["message"] and case_id in finding["message"]


def test_a_holder_set_without_any_event_is_found(client: Any, people: dict[str, Person], engine: Engine) -> None:
    case_id, task_id = _decision_open(client, people)
    with engine.db.write() as s:  # nobody claimed it; the row says hugo holds it
        s.execute(sa.update(HumanTask).where(HumanTask.id == task_id).values(assignee="hugo"))
    [finding] = _case_findings(engine, case_id)
    assert finding["seq"] == _seq_of(engine, case_id, "task_created")
    assert "tilldelat ingen enligt historiken" in finding["message"] and "hugo" in finding["message"]


def test_the_holder_of_a_completed_step_is_checked(client: Any, people: dict[str, Person], engine: Engine) -> None:
    case_id, task_id = _decision_open(client, people)
    r = client.post(f"/api/tasks/{task_id}/complete", json={"choice": "Ja"}, headers=people["hugo"].headers)
    assert r.status_code == 200
    assert audit.verify_all(engine)["clean"]
    with engine.db.write() as s:
        s.execute(sa.update(HumanTask).where(HumanTask.id == task_id).values(assignee="hanna"))
    [finding] = _case_findings(engine, case_id)
    assert finding["seq"] == _seq_of(engine, case_id, "task_completed") and "hanna" in finding["message"]


def test_a_deadline_change_is_chained_with_who_from_to_and_why(client: Any, people: dict[str, Person],
                                                               engine: Engine) -> None:
    case_id, task_id = _decision_open(client, people)
    client.post(f"/api/tasks/{task_id}/claim", headers=people["hanna"].headers)
    r = client.patch(f"/api/tasks/{task_id}", json={"due": "2026-03-20T12:00:00+01:00",
                                                    "reason": "Sökanden har begärt anstånd"},
                     headers=people["hanna"].headers)
    assert r.status_code == 200, r.get_json()
    with engine.db.read() as s:
        event = s.execute(sa.select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.type == "task_updated")
                          ).scalar_one()
    assert event.actor == "hanna" and event.data["reason"] == "Sökanden har begärt anstånd"
    assert event.data["before"]["due"] is None and event.data["after"]["due"] == "2026-03-20T12:00:00+01:00"
    assert audit.verify_all(engine)["clean"]


def test_a_bad_reason_is_refused_and_changes_nothing(client: Any, people: dict[str, Person], engine: Engine) -> None:
    case_id, task_id = _decision_open(client, people)
    client.post(f"/api/tasks/{task_id}/claim", headers=people["hanna"].headers)
    with engine.db.read() as s:
        before = s.execute(sa.select(Case.event_count).where(Case.id == case_id)).scalar_one()
    for reason in (["lista"], "x" * 501, 7):
        r = client.patch(f"/api/tasks/{task_id}", json={"due": "2026-03-20T12:00:00+01:00", "reason": reason},
                         headers=people["hanna"].headers)
        assert r.status_code == 422 and r.content_type == "application/problem+json"
        assert "reason" in r.get_json()["detail"]
    with engine.db.read() as s:
        assert s.execute(sa.select(Case.event_count).where(Case.id == case_id)).scalar_one() == before
        assert s.execute(sa.select(HumanTask.due_at).where(HumanTask.id == task_id)).scalar_one() is None


def test_the_committees_report_is_checked_against_the_decision_event(engine: Engine, town: dict[str, Any],  # noqa: F811
                                                                     clock: ManualClock) -> None:
    _decide(engine, "bygglov_test", "bygglov", "bea", "bo")
    assert audit.verify_all(engine)["clean"]
    with engine.db.read() as s:
        case_id, number = s.execute(sa.select(DelegatedDecision.case_id, DelegatedDecision.item_number)).one()
    with engine.db.write() as s:  # the report now says another item was used
        s.execute(sa.update(DelegatedDecision).values(item_number="9.9.9"))
    [finding] = _case_findings(engine, case_id)
    assert finding["seq"] == _seq_of(engine, case_id, "task_completed")
    assert "9.9.9" in finding["message"] and "bea" in finding["message"] and "anmälan till nämnden" in finding["message"]
    with engine.db.write() as s:  # a decision reported that no event says was taken on delegation
        s.execute(sa.update(DelegatedDecision).values(item_number=number))
        real = s.execute(sa.select(DelegatedDecision)).scalar_one()
        s.add(DelegatedDecision(item_id=real.item_id, item_number=number, case_id=case_id, task_id="nope",
                                process_key=real.process_key, business_key=None, task_name="Påhittat beslut",
                                decided_by="mallory", role="Bygglovschef", grounds="delegat", committee=None,
                                reporting=real.reporting, decided_at=real.decided_at, outcome={}))
    messages = [f["message"] for f in _case_findings(engine, case_id)]
    assert any("Påhittat beslut" in m and "mallory" in m for m in messages)
