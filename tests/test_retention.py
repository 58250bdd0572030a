"""Records management: retention rules approved by two people, culling exactly once when a case's
period has run out (its history still verifying, its culling record readable), holds, the dry
run that changes nothing, and the culling report; on SQLite and PostgreSQL, with the clock moved."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Person, publish

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.base.errors import Conflict, Forbidden, InvalidInput
from engine.core import Engine
from engine.records import history
from engine.retention import culling, holds, rules
from engine.service import audit
from engine.store.models import Base, Case, CaseEvent, HumanTask
from engine.store.retention_models import CullingRecord, RetentionHold, RetentionRule

RULE = {"process_key": "granskning", "action": "gallras", "years": 2, "decision_ref": "KS 2025/117",
        "decision_body": "Kommunstyrelsen", "decision_date": "2025-06-10"}


def run_case(client: Any, people: dict[str, Person], amount: int = 100) -> str:
    """A closed granskning case: started with data, reviewed (greta, a form answer), decided (hugo)."""
    r = client.post("/api/processes/granskning/cases", json={"data": {"belopp": amount}},
                    headers=people["hanna"].headers)
    assert r.status_code == 201, r.get_json()
    [task] = r.get_json()["open_tasks"]
    r = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"kommentar": "Sökanden Sven Svensson"}},
                    headers=people["greta"].headers)
    [decision] = r.get_json()["case"]["open_tasks"]
    r = client.post(f"/api/tasks/{decision['id']}/complete", json={"choice": "Ja"}, headers=people["hugo"].headers)
    assert r.get_json()["case"]["status"] == "completed"
    case_id = str(r.get_json()["case"]["id"])
    r = client.post(f"/api/cases/{case_id}/comments", json={"text": "Ring Sven Svensson"},
                    headers=people["admin"].headers)
    assert r.status_code == 201, r.get_json()
    return case_id


@pytest.fixture
def archivist(engine: Engine, people: dict[str, Person]) -> identity.Actor:
    """An archive officer (arkivansvarig): the second person beside the administrator."""
    identity.add_user(engine, "arkiv", ["arkivansvarig"])
    return identity.get_actor(engine, "arkiv")


def _approved_rule(engine: Engine, people: dict[str, Person], archivist: identity.Actor,
                   **over: Any) -> dict[str, Any]:
    draft = rules.propose(engine, people["admin"].actor, {**RULE, **over})
    return rules.approve(engine, archivist, draft["id"])


def _count(engine: Engine, model: Any) -> int:
    with engine.db.read() as s:
        return int(s.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())


def _snapshot(engine: Engine) -> dict[str, list[Any]]:
    """Every row of every table, to compare the database before and after."""
    out = {}
    with engine.db.read() as s:
        for table in Base.metadata.sorted_tables:
            out[table.name] = sorted(repr(tuple(r)) for r in s.execute(sa.select(table)))
    return out


def test_a_rule_is_approved_by_a_second_person_and_versioned(engine: Engine, people: dict[str, Person],
                                                             archivist: identity.Actor, client: Any) -> None:
    publish(client, people, "review.bpmn")
    draft = rules.propose(engine, people["admin"].actor, RULE)
    assert draft["status"] == "draft" and draft["version"] == 1 and draft["period_months"] == 24
    with pytest.raises(Forbidden, match="annan person"):
        rules.approve(engine, people["admin"].actor, draft["id"])
    assert rules.list_rules(engine, archivist) == []  # the draft is in force nowhere
    with pytest.raises(Forbidden):
        rules.approve(engine, people["hanna"].actor, draft["id"])  # a case handler approves nothing
    first = rules.approve(engine, archivist, draft["id"])
    assert (first["status"], first["approved_by"]) == ("approved", "arkiv")
    assert first["summary"] == "Gallras 2 år efter avslut enligt KS 2025/117 (Kommunstyrelsen, 2025-06-10)"
    with pytest.raises(Conflict):
        rules.approve(engine, people["admin"].actor, draft["id"])

    second = rules.propose(engine, archivist, {**RULE, "years": 5, "months": 6, "decision_ref": "KS 2026/4"})
    assert second["version"] == 2
    rules.approve(engine, people["admin"].actor, second["id"])
    [in_force] = rules.list_rules(engine, archivist, process_key="granskning")
    assert (in_force["version"], in_force["period"]) == (2, "5 år och 6 månader")
    versions = rules.list_rules(engine, archivist, process_key="granskning", include_all=True)
    assert [(v["version"], v["status"]) for v in versions] == [(1, "replaced"), (2, "approved")]
    with pytest.raises(Forbidden):
        rules.list_rules(engine, people["hanna"].actor, include_all=True)


@pytest.mark.parametrize(("spec", "message"), [
    ({**RULE, "action": "radera"}, "bevaras eller gallras"),
    ({**RULE, "years": 0}, "en tid"),
    ({**RULE, "years": -1}, "heltal"),
    ({**RULE, "years": "två"}, "heltal"),
    ({**RULE, "years": True}, "heltal"),
    ({**RULE, "action": "bevaras"}, "ingen gallringsfrist"),
    ({**RULE, "decision_date": "2025-13-10"}, "datum"),
    ({**RULE, "decision_date": "10 juni 2025"}, "högst 10"),
    ({**RULE, "decision_ref": ""}, "saknar decision_ref"),
    ({**RULE, "decision_body": "x" * 201}, "högst 200"),
    ({**RULE, "process_key": "finns-inte"}, "finns inte"),
    ({**RULE, "outcome_field": "beslut"}, "tillsammans"),
    ({**RULE, "status": "approved"}, "Okända fält"),
    (["inte", "ett", "objekt"], "objekt"),
])
def test_a_bad_rule_is_refused_in_swedish_and_leaves_nothing(spec: Any, message: str, engine: Engine,
                                                            people: dict[str, Person], client: Any) -> None:
    publish(client, people, "review.bpmn")
    with pytest.raises(InvalidInput, match=message):
        rules.propose(engine, people["admin"].actor, spec)
    assert _count(engine, RetentionRule) == 0


def test_only_administrators_and_archive_officers_propose(engine: Engine, people: dict[str, Person],
                                                          client: Any) -> None:
    publish(client, people, "review.bpmn")
    for who in ("hanna", "owner", "stina"):
        with pytest.raises(Forbidden):
            rules.propose(engine, people[who].actor, RULE)
    identity.add_user(engine, "revisor", ["auditor"])
    with pytest.raises(Forbidden):
        rules.propose(engine, identity.get_actor(engine, "revisor"), RULE)
    assert _count(engine, RetentionRule) == 0


def test_a_case_is_culled_exactly_once_when_its_period_runs_out(engine: Engine, people: dict[str, Person],
                                                                archivist: identity.Actor, client: Any,
                                                                clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    case_id = run_case(client, people)
    _approved_rule(engine, people, archivist)
    clock.advance(timedelta(days=365 + 300))  # under two years: not yet
    first = culling.run_due(engine, "worker-a")
    assert first is not None and first["culled"] == []
    clock.advance(timedelta(days=70))  # past two years since the case closed
    assert culling.run_due(engine, "worker-b") is not None  # the job was due again: b claimed it
    assert culling.run_due(engine, "worker-a") is None  # claimed: only one worker runs it
    again = culling.cull_due(engine)  # and a round run by hand finds nothing left to cull
    assert again["culled"] == []
    assert _count(engine, CullingRecord) == 1

    with engine.db.read() as s:
        case = s.get(Case, case_id)
        assert case is not None and case.status == "culled" and case.data == {} and case.state_json == ""
        events = history.events(s, case_id)
        assert [e.type for e in events].count("case_culled") == 1
        assert all(e.data == {} and e.redacted_at is not None for e in events[:-1])
        assert events[-1].type == "case_culled" and events[-1].data["redacted_through"] == len(events) - 1
        assert history.verify(s, case)
        assert not any(r for r in s.execute(sa.select(HumanTask.result).where(HumanTask.case_id == case_id))
                       .scalars())
        text = repr([(e.data, e.actor) for e in events]) + repr(case.data)
        assert "Sven Svensson" not in text and "100" not in repr(case.data)
    record = culling.culling_record(engine, people["admin"].actor, case_id)
    assert record is not None
    assert (record["process_key"], record["process_name"], record["decision"]["ref"]) == \
        ("granskning", "Granskning", "KS 2025/117")
    assert record["closed_at"] < record["culled_at"] and record["events_redacted"] >= 6
    result = audit.verify_all(engine, trigger="test", actor="test")
    assert result["clean"], result["findings"]
    audit.seal(engine, "test")  # the culling event sealed too: still clean
    assert audit.verify_all(engine, trigger="test", actor="test")["clean"]


def test_what_culling_kept_cannot_be_changed_unnoticed(engine: Engine, people: dict[str, Person],
                                                       archivist: identity.Actor, client: Any,
                                                       clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    case_id = run_case(client, people)
    _approved_rule(engine, people, archivist)
    clock.advance(timedelta(days=800))
    assert len(culling.cull_due(engine)["culled"]) == 1
    _switch_trigger(engine, on=False)
    try:
        with engine.db.write() as s:
            s.execute(sa.update(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.seq == 3)
                      .values(actor="mallory"))
    finally:
        _switch_trigger(engine, on=True)
    findings = audit.verify_all(engine, trigger="test", actor="test")["findings"]
    assert any(f.get("case_id") == case_id for f in findings), findings


def _switch_trigger(engine: Engine, *, on: bool) -> None:
    """The case history's update trigger off or on, as the database owner can (0025's rule)."""
    from importlib import import_module

    migration = import_module("engine.store.migrations.versions.0025_retention_and_culling")
    with engine.db.write() as s:
        if engine.db.is_sqlite:
            s.execute(sa.text(migration.SQLITE_UPDATE if on else "DROP TRIGGER case_events_no_update"))
        else:
            s.execute(sa.text(f"ALTER TABLE case_events {'ENABLE' if on else 'DISABLE'} TRIGGER "
                              "case_events_append_only"))


def test_the_history_of_a_case_not_culled_stays_append_only(engine: Engine, people: dict[str, Person],
                                                            client: Any, clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    case_id = run_case(client, people)
    with pytest.raises(sa.exc.DBAPIError), engine.db.write() as s:
        s.execute(sa.update(CaseEvent).where(CaseEvent.case_id == case_id)
                  .values(data={}, redacted_at=clock.now()))
    with engine.db.read() as s:
        assert all(e.redacted_at is None for e in history.events(s, case_id))


def test_a_held_case_is_not_culled_until_released(engine: Engine, people: dict[str, Person],
                                                  archivist: identity.Actor, client: Any,
                                                  clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    held_id = run_case(client, people)
    other_id = run_case(client, people, 200)
    _approved_rule(engine, people, archivist)
    with pytest.raises(InvalidInput):
        holds.hold(engine, archivist, held_id, "  ")
    with pytest.raises(Forbidden):
        holds.hold(engine, people["hanna"].actor, held_id, "Överklagat")
    assert _count(engine, RetentionHold) == 0
    placed = holds.hold(engine, archivist, held_id, "Överklagat till förvaltningsrätten")
    with pytest.raises(Conflict):
        holds.hold(engine, people["admin"].actor, held_id, "igen")
    clock.advance(timedelta(days=800))
    result = culling.cull_due(engine)
    assert [c["case_id"] for c in result["culled"]] == [other_id]
    assert [c["case_id"] for c in result["held"]] == [held_id]
    with engine.db.read() as s:
        held = s.get(Case, held_id)
        assert held is not None and held.status == "completed" and held.data["belopp"] == 100
    released = holds.release(engine, people["admin"].actor, held_id, "Domen har vunnit laga kraft")
    assert released["id"] == placed["id"] and released["released_by"] == "admin"
    assert [c["case_id"] for c in culling.cull_due(engine)["culled"]] == [held_id]
    with engine.db.read() as s:
        types = [e.type for e in history.events(s, held_id)]
    assert types[-3:] == ["culling_hold_placed", "culling_hold_released", "case_culled"]


def test_a_dry_run_lists_what_would_go_and_changes_nothing(engine: Engine, people: dict[str, Person],
                                                           archivist: identity.Actor, client: Any,
                                                           clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    case_id = run_case(client, people)
    _approved_rule(engine, people, archivist)
    clock.advance(timedelta(days=800))
    log = engine.settings.data_dir / "audit" / "checkpoints.jsonl"
    before, log_before = _snapshot(engine), log.read_bytes() if log.exists() else b""
    dry = culling.dry_run(engine, people["admin"].actor)
    assert [c["case_id"] for c in dry["culled"]] == [case_id] and dry["dry_run"] is True
    assert dry["culled"][0]["rule"]["decision"]["ref"] == "KS 2025/117"
    assert _snapshot(engine) == before
    assert (log.read_bytes() if log.exists() else b"") == log_before
    with pytest.raises(Forbidden):
        culling.dry_run(engine, people["hanna"].actor)


def test_the_report_lists_what_was_culled_under_which_decision(engine: Engine, people: dict[str, Person],
                                                               archivist: identity.Actor, client: Any,
                                                               clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    case_id = run_case(client, people)
    _approved_rule(engine, people, archivist)
    start = clock.now()
    clock.advance(timedelta(days=800))
    culling.cull_due(engine)
    rows = culling.report(engine, archivist, since=start, until=clock.now() + timedelta(days=1))
    assert [r["case_id"] for r in rows] == [case_id]
    assert culling.report(engine, archivist, since=clock.now() + timedelta(days=1)) == []
    text = culling.report_csv(rows)
    header, line = text.splitlines()
    assert header.startswith("Gallrat;Gallringsbeslut;Beslutande organ;Beslutsdatum;Ärendeslag")
    assert "KS 2025/117;Kommunstyrelsen;2025-06-10;Granskning" in line
    with pytest.raises(InvalidInput):
        culling.report(engine, archivist, since=clock.now(), until=start)
    with pytest.raises(Forbidden):
        culling.report(engine, people["hanna"].actor)


def test_a_case_without_a_rule_or_kept_for_ever_is_never_culled(engine: Engine, people: dict[str, Person],
                                                                archivist: identity.Actor, client: Any,
                                                                clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    run_case(client, people)
    clock.advance(timedelta(days=365 * 50))
    assert culling.cull_due(engine)["culled"] == []
    _approved_rule(engine, people, archivist, action="bevaras", years=0)
    assert culling.cull_due(engine)["culled"] == []
    assert _count(engine, CullingRecord) == 0


def test_an_outcome_rule_applies_before_the_general_one(engine: Engine, people: dict[str, Person],
                                                        archivist: identity.Actor, client: Any,
                                                        clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    small = run_case(client, people, 100)
    large = run_case(client, people, 900)
    _approved_rule(engine, people, archivist)
    _approved_rule(engine, people, archivist, outcome_field="belopp", outcome_value="900", action="bevaras",
                   years=0)
    assert rules.applies(engine, large)["action"] == "bevaras"  # type: ignore[index]
    clock.advance(timedelta(days=800))
    assert [c["case_id"] for c in culling.cull_due(engine)["culled"]] == [small]


def test_a_culled_case_takes_no_comment(engine: Engine, people: dict[str, Person], archivist: identity.Actor,
                                        client: Any, clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    case_id = run_case(client, people)
    _approved_rule(engine, people, archivist)
    clock.advance(timedelta(days=800))
    culling.cull_due(engine)
    with engine.db.read() as s:
        count = s.get(Case, case_id).event_count  # type: ignore[union-attr]
        task_id = s.execute(sa.select(HumanTask.id).where(HumanTask.case_id == case_id,
                                                          HumanTask.completed_by == "greta")).scalar_one()
    r = client.post(f"/api/cases/{case_id}/comments", json={"text": "Sven igen"}, headers=people["admin"].headers)
    assert r.status_code == 409 and "gallrat" in r.get_json()["detail"]
    r = client.post(f"/api/tasks/{task_id}/comments", json={"text": "Sven igen"}, headers=people["greta"].headers)
    assert r.status_code == 409
    with engine.db.read() as s:
        assert s.get(Case, case_id).event_count == count  # type: ignore[union-attr]


def test_two_workers_culling_at_once_cull_each_case_once(engine: Engine, people: dict[str, Person],
                                                         archivist: identity.Actor, client: Any,
                                                         clock: ManualClock) -> None:
    import threading

    publish(client, people, "review.bpmn")
    ids = {run_case(client, people, n) for n in (100, 200, 300)}
    _approved_rule(engine, people, archivist)
    clock.advance(timedelta(days=800))
    results: list[dict[str, Any]] = []
    start = threading.Barrier(2)

    def work() -> None:
        start.wait()
        results.append(culling.cull_due(engine))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    culled = [c["case_id"] for r in results for c in r["culled"]]
    assert sorted(culled) == sorted(ids)  # each once, between them
    assert _count(engine, CullingRecord) == 3
    with engine.db.read() as s:
        for case_id in ids:
            assert [e.type for e in history.events(s, case_id)].count("case_culled") == 1
    assert audit.verify_all(engine, trigger="test", actor="test")["clean"]
