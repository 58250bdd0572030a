"""Deadlines and escalation ladders on the injected clock, with real e-mail on loopback."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import FIXTURES, Mailbox, fixture_bytes
from test_authority import ITEMS

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.clocks import ladders
from engine.core import Engine
from engine.routing import delegation, notifications
from engine.service import cases, inbox, org_data, tasks
from engine.store.models import Notification, Timer


@pytest.fixture(name="town")
def town_fixture(engine: Engine, smtp: Mailbox, clock: ManualClock) -> dict[str, identity.Actor]:
    """The test organisation with its ordinance and bygglov_test, on a clock at Monday 2 March 2026
    (shared with tests/test_clock_review.py)."""
    # Monday 2 March 2026, 09:00 in Stockholm
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine.settings = dataclasses.replace(engine.settings, smtp_host=smtp.host, smtp_port=smtp.port)
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    identity.add_user(engine, "alice", ["admin"])
    identity.add_user(engine, "adam", ["admin"])
    delegation.import_items(engine, identity.get_actor(engine, "alice"), identity.get_actor(engine, "adam"), ITEMS)
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    return {n: identity.get_actor(engine, n) for n in ("bea", "bo", "bert", "fia", "alice", "adam")}


def _tick(engine: Engine) -> Any:
    """One scheduler tick, then one round of e-mail delivery (its own job beside the tick)."""
    result = engine.scheduler.tick()
    notifications.deliver(engine)
    return result


def _events(engine: Engine, case_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in cases.get_case(engine, SYSTEM, case_id)["history"] if e["type"] == kind]


def test_ladder_parsing() -> None:
    steps = ladders.parse("-1WD:remind; 0:notify_manager; +3WD:reassign_manager")
    assert [(s.sign, s.offset, s.action) for s in steps] == [(-1, "1WD", "remind"), (1, "0", "notify_manager"),
                                                              (1, "3WD", "reassign_manager")]
    with pytest.raises(ValueError):
        ladders.parse("0:reassign_manager", decision=True)  # a decision never goes up the manager chain
    with pytest.raises(ValueError):
        ladders.parse("soon:remind")
    # 1 WD before a Monday due date is the Friday before, 08:00 Swedish time
    due = datetime(2026, 3, 9, 22, 59, 59, tzinfo=UTC)
    assert steps[0].due(due) == datetime(2026, 3, 6, 7, 0, tzinfo=UTC)
    # 3 WD after Thursday 2 April 2026 skips Good Friday and Easter Monday
    easter = datetime(2026, 4, 2, 21, 59, 59, tzinfo=UTC)
    assert steps[2].due(easter) == datetime(2026, 4, 9, 6, 0, tzinfo=UTC)


def test_default_ladder_reminds_notifies_and_reassigns_once(engine: Engine, town: dict[str, Any],
                                                           clock: ManualClock, smtp: Mailbox) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-1", org_unit="bygglov")
    [task] = case["open_tasks"]
    # 5 working days from Monday 2 March: Monday 9 March, end of day
    assert task["due"] == "2026-03-09T22:59:59+00:00"
    tasks.claim(engine, town["bea"], task["id"])
    with engine.db.read() as s:
        steps = s.execute(sa.select(Timer).where(Timer.kind == "escalation", Timer.status == "pending")
                          .order_by(Timer.due_at)).scalars().all()
    assert [t.data["action"] for t in steps] == ["remind", "notify_manager", "reassign_manager"]

    clock.set(datetime(2026, 3, 6, 7, 1, tzinfo=UTC))  # Friday 08:01
    assert _tick(engine).kinds == {"escalation": 1}
    [mail] = smtp.to("bea@exempelby.se")
    assert mail["Subject"].startswith("Påminnelse: Granska ansökan (ärende BN-1)")
    assert _tick(engine).fired == 0 and len(smtp.messages) == 1  # once
    assert notifications.list_for(engine, town["bea"])["unread"] == 1

    clock.set(datetime(2026, 3, 9, 23, 0, tzinfo=UTC))  # just past due
    _tick(engine)
    [to_manager] = smtp.to("bert@exempelby.se")
    assert "Försenad uppgift: Granska ansökan" in to_manager["Subject"]
    assert "tilldelad bea" in to_manager.get_content()
    assert tasks.get_task(engine, SYSTEM, task["id"])["overdue"] is True

    clock.set(datetime(2026, 3, 12, 7, 1, tzinfo=UTC))  # Thursday 08:01, 3 WD after
    _tick(engine)
    moved = tasks.get_task(engine, SYSTEM, task["id"])
    assert moved["assignee"] is None and moved["role"] == "Bygglovschef" and moved["priority"] == 80
    assert task["id"] in [t["id"] for t in inbox.list_tasks(engine, town["bert"])["items"]]
    steps_fired = _events(engine, case["id"], "escalation_step")
    assert [e["data"]["action"] for e in steps_fired] == ["remind", "notify_manager", "reassign_manager"]
    assert all(not e["data"]["late"] for e in steps_fired)


def test_completing_cancels_and_redating_reschedules(engine: Engine, town: dict[str, Any], clock: ManualClock,
                                                     smtp: Mailbox) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, org_unit="bygglov")
    [task] = case["open_tasks"]
    tasks.claim(engine, town["bea"], task["id"])
    tasks.update(engine, town["bea"], task["id"], {"due": "2026-03-20T16:00:00+00:00"})
    with engine.db.read() as s:
        [remind] = s.execute(sa.select(Timer).where(Timer.kind == "escalation", Timer.status == "pending",
                                                    Timer.ref == "0")).scalars().all()
    assert remind.due_at == datetime(2026, 3, 19, 7, 0, tzinfo=UTC)  # 08:00 the working day before
    clock.set(datetime(2026, 3, 6, 8, 0, tzinfo=UTC))
    assert _tick(engine).fired == 0  # the old reminder is gone
    tasks.complete(engine, town["bea"], task["id"], {})
    with engine.db.read() as s:
        statuses = set(s.execute(sa.select(Timer.status).where(Timer.task_id == task["id"])).scalars())
    assert statuses == {"cancelled"}
    clock.set(datetime(2026, 4, 30, 8, 0, tzinfo=UTC))
    _tick(engine)  # the next step's own ladder runs; the completed task's never does
    fired_for = {e["task_id"] for e in _events(engine, case["id"], "escalation_step")}
    assert task["id"] not in fired_for and fired_for


def test_decisions_escalate_only_along_the_ordinance(engine: Engine, town: dict[str, Any], clock: ManualClock,
                                                     smtp: Mailbox) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-2", org_unit="bygglov")
    done = tasks.complete(engine, town["bea"], case["open_tasks"][0]["id"], {})
    [decision] = done["case"]["open_tasks"]
    tasks.claim(engine, town["bea"], decision["id"])
    clock.set(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))  # 2 WD: due end of Wednesday 4 March
    _tick(engine)
    assert tasks.get_task(engine, SYSTEM, decision["id"])["assignee"] == "bert"  # the substitute
    assert any("ersättare" in m["Subject"] for m in smtp.to("bert@exempelby.se"))
    clock.set(datetime(2026, 3, 9, 7, 1, tzinfo=UTC))  # +3 WD: superior may decide under F.1.5
    _tick(engine)
    # bert, the unit's manager, already holds it as substitute: the superior told is the next one up
    assert not any("Försenat beslut" in m["Subject"] for m in smtp.to("bert@exempelby.se"))
    [to_superior] = [m for m in smtp.to("fia@exempelby.se") if "Försenat beslut" in m["Subject"]]
    assert "tilldelat bert" in to_superior.get_content()
    # and she may indeed decide: she takes the decision over from bert and makes it
    tasks.assign(engine, town["fia"], decision["id"], "fia")
    result = tasks.complete(engine, town["fia"], decision["id"], {"utfall": "bifall"}, no_conflict_of_interest=True)
    assert [t["name"] for t in result["case"]["open_tasks"]] == ["Expediera beslutet"]
    actions = [e["data"]["action"] for e in _events(engine, case["id"], "escalation_step")]
    assert "reassign_manager" not in actions and "notify_manager" not in actions


def test_escalation_due_during_downtime_is_sent_once_late_and_says_so(engine: Engine, town: dict[str, Any],
                                                                     clock: ManualClock, smtp: Mailbox) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-3", org_unit="bygglov")
    tasks.claim(engine, town["bea"], case["open_tasks"][0]["id"])
    clock.set(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))  # down from Thursday to Tuesday
    result = _tick(engine)
    assert result.kinds == {"escalation": 2} and result.late == 2
    [reminder] = smtp.to("bea@exempelby.se")
    assert "Skickas sent" in reminder.get_content()
    assert _tick(engine).fired == 0
    assert len(smtp.to("bea@exempelby.se")) == 1


def test_failed_delivery_is_retried_with_backoff_and_never_blocks(engine: Engine, town: dict[str, Any],
                                                                  clock: ManualClock, smtp: Mailbox) -> None:
    engine.settings = dataclasses.replace(engine.settings, smtp_port=1)  # nothing listens there
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, org_unit="bygglov")
    tasks.claim(engine, town["bea"], case["open_tasks"][0]["id"])
    clock.set(datetime(2026, 3, 6, 7, 1, tzinfo=UTC))
    assert engine.scheduler.tick().fired == 1
    assert notifications.deliver(engine) == {"sent": 0, "retry": 1, "failed": 0}
    with engine.db.read() as s:
        n = s.execute(sa.select(Notification)).scalar_one()
    assert n.email_status == "pending" and n.next_attempt_at == clock.now() + timedelta(minutes=2)
    assert n.email_attempts == 0  # the server was down: the message loses none of its attempts
    engine.settings = dataclasses.replace(engine.settings, smtp_port=smtp.port)
    assert notifications.deliver(engine) == {"sent": 0, "retry": 0, "failed": 0}  # not yet due
    clock.advance(timedelta(minutes=3))
    assert notifications.deliver(engine)["sent"] == 1
    assert len(smtp.to("bea@exempelby.se")) == 1


def test_reassigning_never_repeats_a_step_that_has_fired(engine: Engine, town: dict[str, Any], clock: ManualClock,
                                                         smtp: Mailbox) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-5", org_unit="bygglov")
    [task] = case["open_tasks"]
    tasks.claim(engine, town["bea"], task["id"])
    clock.set(datetime(2026, 3, 6, 7, 1, tzinfo=UTC))  # Friday 08:01: the reminder
    assert _tick(engine).kinds == {"escalation": 1}

    def pending() -> list[Any]:
        with engine.db.read() as s:
            return list(s.execute(sa.select(Timer).where(Timer.task_id == task["id"], Timer.status == "pending")
                                  .order_by(Timer.due_at)).scalars())

    # the manager moves it: the old holder's ladder is cancelled, the reminder that fired stays fired
    tasks.assign(engine, town["bert"], task["id"], "bo")
    assert pending() == [] and _tick(engine).fired == 0
    tasks.hand_over(engine, town["bo"], task["id"], "bea")
    assert pending() == [] and _tick(engine).fired == 0
    tasks.update(engine, town["bea"], task["id"], {"priority": 60})  # not the due date: still no ladder
    assert pending() == []
    clock.set(datetime(2026, 3, 12, 7, 1, tzinfo=UTC))  # past due and +3 WD: nothing of the old ladder
    assert _tick(engine).fired == 0
    assert tasks.get_task(engine, SYSTEM, task["id"])["assignee"] == "bea"
    assert [e["data"]["action"] for e in _events(engine, case["id"], "escalation_step")] == ["remind"]
    assert len(smtp.to("bea@exempelby.se")) == 1
    # a new due date is a new ladder: the steps ahead of it are made again, the past ones not
    tasks.update(engine, town["bert"], task["id"], {"due": "2026-03-20T16:00:00+00:00"})
    assert [t.data["action"] for t in pending()] == ["remind", "notify_manager", "reassign_manager"]
    # one whose instant under the new date has passed, and that fired, is not made again
    tasks.update(engine, town["bert"], task["id"], {"due": "2026-03-12T16:00:00+00:00"})
    assert [t.data["action"] for t in pending()] == ["notify_manager", "reassign_manager"]


def _hourly_process(due: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:rutin="https://rutin.example/bpmn" id="h" targetNamespace="https://rutin.example/test">
  <bpmn:process id="genast" name="Begäran om allmän handling" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Bygglovshandläggare"><bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>t</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Pröva begäran" rutin:due="{due}"/>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def test_the_default_ladder_of_a_task_due_within_hours_counts_hours(engine: Engine, town: dict[str, Any],
                                                                   clock: ManualClock, smtp: Mailbox) -> None:
    processes.deploy(engine, SYSTEM, _hourly_process("PT2H"))
    case = cases.start_case(engine, SYSTEM, "genast", {}, "AH-1", org_unit="bygglov")
    [task] = case["open_tasks"]
    tasks.claim(engine, town["bea"], task["id"])
    assert _tick(engine).fired == 0  # no reminder the moment the task is created
    with engine.db.read() as s:
        steps = s.execute(sa.select(Timer).where(Timer.task_id == task["id"], Timer.status == "pending")
                          .order_by(Timer.due_at)).scalars().all()
    assert [(t.data["action"], t.due_at) for t in steps] == [
        ("remind", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)),             # an hour before
        ("notify_manager", datetime(2026, 3, 2, 10, 0, tzinfo=UTC)),    # at due
        ("reassign_manager", datetime(2026, 3, 2, 12, 0, tzinfo=UTC))]  # two hours after, the same day
    clock.set(datetime(2026, 3, 2, 12, 1, tzinfo=UTC))
    assert _tick(engine).kinds == {"escalation": 3}
    assert tasks.get_task(engine, SYSTEM, task["id"])["role"] == "Bygglovschef"


def test_ladder_months_are_calendar_months() -> None:
    [before] = ladders.parse("-P1M:remind")
    # 12:00 Swedish summer time on 31 March: 12:00 winter time on 28 February
    assert before.due(datetime(2026, 3, 31, 10, 0, tzinfo=UTC)) == datetime(2026, 2, 28, 11, 0, tzinfo=UTC)
    [after] = ladders.parse("+P1M:notify_manager")
    assert after.due(datetime(2026, 1, 31, 10, 0, tzinfo=UTC)) == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)


def _pending_actions(engine: Engine, task_id: str) -> list[str]:
    with engine.db.read() as s:
        return [t.data["action"] for t in s.execute(
            sa.select(Timer).where(Timer.task_id == task_id, Timer.status == "pending").order_by(Timer.due_at)
        ).scalars()]


def test_process_wide_ladders_from_the_policy_and_the_diagram(engine: Engine, town: dict[str, Any]) -> None:
    from engine.base.errors import InvalidInput
    from engine.clocks import policies

    with pytest.raises(InvalidInput) as refused:  # a decision escalates only along the ordinance
        policies.put(engine, SYSTEM, "bygglov_test", {"beslut": {"escalation": "0:notify_manager"}})
    assert refused.value.status == 422 and "delegationsordningen" in refused.value.detail
    with pytest.raises(InvalidInput):
        policies.put(engine, SYSTEM, "bygglov_test", {"finns_inte": {"escalation": "0:remind"}})
    # '*': every step without its own ladder; a decision skips what it may not do
    policies.put(engine, SYSTEM, "bygglov_test", {"*": {"escalation": "0:notify_manager; +1WD:raise_priority"}})
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, org_unit="bygglov")
    granska = case["open_tasks"][0]
    assert _pending_actions(engine, granska["id"]) == ["notify_manager", "raise_priority"]
    decision = tasks.complete(engine, town["bea"], granska["id"], {})["case"]["open_tasks"][0]
    assert _pending_actions(engine, decision["id"]) == ["remind", "substitute", "superior"]
    # a step's own entry wins over '*'
    policies.put(engine, SYSTEM, "bygglov_test", {"*": {"escalation": "0:notify_manager"},
                                                  "granska": {"escalation": "-1WD:remind"}})
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, org_unit="bygglov")
    assert _pending_actions(engine, case["open_tasks"][0]["id"]) == ["remind"]
    # the diagram's process-level rutin:escalation, where no policy speaks
    xml = _hourly_process("5WD").replace(b'name="Beg\xc3\xa4ran om allm\xc3\xa4n handling"',
                      'name="Begäran" rutin:escalation="+2WD:raise_priority"'.encode())
    processes.deploy(engine, SYSTEM, xml)
    case = cases.start_case(engine, SYSTEM, "genast", {}, org_unit="bygglov")
    assert _pending_actions(engine, case["open_tasks"][0]["id"]) == ["raise_priority"]


def test_a_late_decision_without_a_substitute_is_told_to_the_unit_manager(engine: Engine, town: dict[str, Any],
                                                                         clock: ManualClock) -> None:
    # over 200 m²: item F.1.6, which names no substitute
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 300}, "BN-6", org_unit="bygglov")
    done = tasks.complete(engine, town["bea"], case["open_tasks"][0]["id"], {})
    [decision] = done["case"]["open_tasks"]
    clock.set(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))  # the decision's due date has passed
    _tick(engine)
    [step] = [e for e in _events(engine, case["id"], "escalation_step") if e["data"]["action"] == "substitute"]
    assert step["data"]["routed_to"] is None and step["data"]["notified"] == ["bert"]
    [note] = [n for n in notifications.list_for(engine, town["bert"])["items"] if n["task_id"] == decision["id"]]
    assert note["subject"] == "Försenat beslut utan ersättare: Beslut om lov (ärende BN-6)"
    assert tasks.get_task(engine, SYSTEM, decision["id"])["assignee"] is None
    # the superior step: F.1.6 lets no superior decide, so no one is given it, but the step does
    # not pass in silence either
    clock.set(datetime(2026, 3, 9, 7, 1, tzinfo=UTC))
    _tick(engine)
    [step] = [e for e in _events(engine, case["id"], "escalation_step") if e["data"]["action"] == "superior"]
    assert step["data"]["skipped"] == "delegationsordningen låter inte överordnad besluta"
    assert step["data"]["notified"] == ["bert"]
    late = [n for n in notifications.list_for(engine, town["bert"])["items"]
            if n["task_id"] == decision["id"] and n["subject"] == "Försenat beslut: Beslut om lov (ärende BN-6)"]
    assert len(late) == 1 and "låter inte överordnad" in late[0]["body"]
    assert tasks.get_task(engine, SYSTEM, decision["id"])["assignee"] is None


def test_the_case_page_tells_an_auditor_where_each_escalation_took_a_decision(
        engine: Engine, town: dict[str, Any], clock: ManualClock) -> None:
    import re

    from webapp import create_app

    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-H", org_unit="bygglov")
    done = tasks.complete(engine, town["bea"], case["open_tasks"][0]["id"], {})
    tasks.claim(engine, town["bea"], done["case"]["open_tasks"][0]["id"])
    clock.set(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))
    _tick(engine)  # to the substitute, bert
    identity.add_user(engine, "revisor", ["auditor"])
    identity.set_password(engine, "revisor", "revisorns-lösenord-1")
    client = create_app(engine).test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    assert client.post("/login", data={"csrf": token, "name": "revisor",
                                       "password": "revisorns-lösenord-1"}).status_code == 302
    page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "till ersättaren enligt delegationsordningen: Bert Chef" in page  # by name
    assert "systemet" in page and ">scheduler<" not in page and " scheduler" not in page
