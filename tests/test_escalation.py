"""Deadlines and escalation ladders on the injected clock, with real e-mail on loopback."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import FIXTURES, Mailbox, fixture_bytes
from test_authority import ITEMS

from engine import cases, delegation, escalation, identity, notifications, org, processes, tasks
from engine.clock import ManualClock
from engine.core import Engine
from engine.identity import SYSTEM
from engine.models import Notification, Timer


@pytest.fixture
def town(engine: Engine, smtp: Mailbox, clock: ManualClock) -> dict[str, identity.Actor]:
    # Monday 2 March 2026, 09:00 in Stockholm
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine.settings = dataclasses.replace(engine.settings, smtp_host=smtp.host, smtp_port=smtp.port)
    org.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    identity.add_user(engine, "alice", ["admin"])
    identity.add_user(engine, "adam", ["admin"])
    delegation.import_items(engine, identity.get_actor(engine, "alice"), identity.get_actor(engine, "adam"), ITEMS)
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    return {n: identity.get_actor(engine, n) for n in ("bea", "bo", "bert", "fia")}


def _events(engine: Engine, case_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in cases.get_case(engine, SYSTEM, case_id)["history"] if e["type"] == kind]


def test_ladder_parsing() -> None:
    steps = escalation.parse("-1WD:remind; 0:notify_manager; +3WD:reassign_manager")
    assert [(s.sign, s.offset, s.action) for s in steps] == [(-1, "1WD", "remind"), (1, "0", "notify_manager"),
                                                              (1, "3WD", "reassign_manager")]
    with pytest.raises(ValueError):
        escalation.parse("0:reassign_manager", decision=True)  # a decision never goes up the manager chain
    with pytest.raises(ValueError):
        escalation.parse("soon:remind")
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
    assert engine.scheduler.tick().kinds == {"escalation": 1}
    [mail] = smtp.to("bea@exempelby.se")
    assert mail["Subject"].startswith("Påminnelse: Granska ansökan (ärende BN-1)")
    assert engine.scheduler.tick().fired == 0 and len(smtp.messages) == 1  # once
    assert notifications.list_for(engine, town["bea"])["unread"] == 1

    clock.set(datetime(2026, 3, 9, 23, 0, tzinfo=UTC))  # just past due
    engine.scheduler.tick()
    [to_manager] = smtp.to("bert@exempelby.se")
    assert "Försenad uppgift: Granska ansökan" in to_manager["Subject"]
    assert "tilldelad bea" in to_manager.get_content()
    assert tasks.get_task(engine, SYSTEM, task["id"])["overdue"] is True

    clock.set(datetime(2026, 3, 12, 7, 1, tzinfo=UTC))  # Thursday 08:01, 3 WD after
    engine.scheduler.tick()
    moved = tasks.get_task(engine, SYSTEM, task["id"])
    assert moved["assignee"] is None and moved["role"] == "Bygglovschef" and moved["priority"] == 80
    assert task["id"] in [t["id"] for t in tasks.list_tasks(engine, town["bert"])["items"]]
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
    assert engine.scheduler.tick().fired == 0  # the old reminder is gone
    tasks.complete(engine, town["bea"], task["id"], {})
    with engine.db.read() as s:
        statuses = set(s.execute(sa.select(Timer.status).where(Timer.task_id == task["id"])).scalars())
    assert statuses == {"cancelled"}
    clock.set(datetime(2026, 4, 30, 8, 0, tzinfo=UTC))
    engine.scheduler.tick()  # the next step's own ladder runs; the completed task's never does
    fired_for = {e["task_id"] for e in _events(engine, case["id"], "escalation_step")}
    assert task["id"] not in fired_for and fired_for


def test_decisions_escalate_only_along_the_ordinance(engine: Engine, town: dict[str, Any], clock: ManualClock,
                                                     smtp: Mailbox) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-2", org_unit="bygglov")
    done = tasks.complete(engine, town["bea"], case["open_tasks"][0]["id"], {})
    [decision] = done["case"]["open_tasks"]
    tasks.claim(engine, town["bea"], decision["id"])
    clock.set(datetime(2026, 3, 4, 23, 0, tzinfo=UTC))  # 2 WD: due end of Wednesday 4 March
    engine.scheduler.tick()
    assert tasks.get_task(engine, SYSTEM, decision["id"])["assignee"] == "bert"  # the substitute
    assert any("ersättare" in m["Subject"] for m in smtp.to("bert@exempelby.se"))
    clock.set(datetime(2026, 3, 9, 7, 1, tzinfo=UTC))  # +3 WD: superior may decide under F.1.5
    engine.scheduler.tick()
    assert any("Försenat beslut" in m["Subject"] for m in smtp.to("bert@exempelby.se"))
    actions = [e["data"]["action"] for e in _events(engine, case["id"], "escalation_step")]
    assert "reassign_manager" not in actions and "notify_manager" not in actions


def test_escalation_due_during_downtime_is_sent_once_late_and_says_so(engine: Engine, town: dict[str, Any],
                                                                     clock: ManualClock, smtp: Mailbox) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-3", org_unit="bygglov")
    tasks.claim(engine, town["bea"], case["open_tasks"][0]["id"])
    clock.set(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))  # down from Thursday to Tuesday
    result = engine.scheduler.tick()
    assert result.kinds == {"escalation": 2} and result.late == 2
    [reminder] = smtp.to("bea@exempelby.se")
    assert "Skickas sent" in reminder.get_content()
    assert engine.scheduler.tick().fired == 0
    assert len(smtp.to("bea@exempelby.se")) == 1


def test_failed_delivery_is_retried_with_backoff_and_never_blocks(engine: Engine, town: dict[str, Any],
                                                                  clock: ManualClock, smtp: Mailbox) -> None:
    engine.settings = dataclasses.replace(engine.settings, smtp_port=1)  # nothing listens there
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, org_unit="bygglov")
    tasks.claim(engine, town["bea"], case["open_tasks"][0]["id"])
    clock.set(datetime(2026, 3, 6, 7, 1, tzinfo=UTC))
    result = engine.scheduler.tick()
    assert result.fired == 1 and result.emails == {"sent": 0, "retry": 1, "failed": 0}
    with engine.db.read() as s:
        n = s.execute(sa.select(Notification)).scalar_one()
    assert n.email_status == "pending" and n.next_attempt_at == clock.now() + timedelta(minutes=2)
    engine.settings = dataclasses.replace(engine.settings, smtp_port=smtp.port)
    assert engine.scheduler.tick().emails == {"sent": 0, "retry": 0, "failed": 0}  # not yet due
    clock.advance(timedelta(minutes=3))
    assert engine.scheduler.tick().emails["sent"] == 1
    assert len(smtp.to("bea@exempelby.se")) == 1
