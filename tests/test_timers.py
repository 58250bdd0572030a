"""BPMN timers on the injected clock: time is moved, never slept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from conftest import fixture_bytes

from engine import cases, messages, processes, tasks
from engine.clock import ManualClock
from engine.core import Engine
from engine.identity import SYSTEM
from engine.models import Case, Timer


def _deploy(engine: Engine) -> None:
    processes.deploy(engine, SYSTEM, fixture_bytes("timers.bpmn"))


def _open(engine: Engine, case_id: str) -> list[str]:
    return sorted(t["name"] for t in cases.get_case(engine, SYSTEM, case_id)["open_tasks"])


def _pending(engine: Engine, **where: Any) -> list[Timer]:
    with engine.db.read() as s:
        q = sa.select(Timer).where(Timer.status == "pending")
        for k, v in where.items():
            q = q.where(getattr(Timer, k) == v)
        return list(s.execute(q.order_by(Timer.due_at)).scalars())


def test_intermediate_timer_fires_when_time_has_come(engine: Engine, clock: ManualClock) -> None:
    _deploy(engine)
    case = cases.start_case(engine, SYSTEM, "mellantimer")
    tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"])
    [timer] = _pending(engine, case_id=case["id"])
    assert timer.kind == "bpmn" and timer.due_at == clock.now() + timedelta(hours=1)

    clock.advance(timedelta(minutes=59))
    assert engine.scheduler.tick().fired == 0
    assert _open(engine, case["id"]) == []

    clock.advance(timedelta(minutes=2))
    result = engine.scheduler.tick()
    assert result.fired == 1 and result.late == 0
    assert _open(engine, case["id"]) == ["Följ upp"]
    assert engine.scheduler.tick().fired == 0  # fired once
    history = cases.get_case(engine, SYSTEM, case["id"])["history"]
    assert [e["type"] for e in history].count("timer_fired") == 1


def test_boundary_timers_interrupting_and_cycle(engine: Engine, clock: ManualClock) -> None:
    _deploy(engine)
    case = cases.start_case(engine, SYSTEM, "grans")
    assert _open(engine, case["id"]) == ["Besluta"]
    clock.advance(timedelta(hours=4, minutes=1))
    assert engine.scheduler.tick().fired == 1
    assert _open(engine, case["id"]) == ["Besluta", "Påminnelse"]  # non-interrupting: both open
    clock.advance(timedelta(hours=4))
    engine.scheduler.tick()
    assert _open(engine, case["id"]) == ["Besluta", "Påminnelse", "Påminnelse"]
    clock.advance(timedelta(hours=4))
    engine.scheduler.tick()  # R2: only two reminders
    assert _open(engine, case["id"]) == ["Besluta", "Påminnelse", "Påminnelse"]

    clock.advance(timedelta(days=2))
    engine.scheduler.tick()
    assert _open(engine, case["id"]) == ["Eskalera", "Påminnelse", "Påminnelse"]  # interrupting cancels Besluta
    history = [e["type"] for e in cases.get_case(engine, SYSTEM, case["id"])["history"]]
    assert "task_cancelled" in history


def test_completing_the_task_cancels_its_boundary_timers(engine: Engine, clock: ManualClock) -> None:
    _deploy(engine)
    case = cases.start_case(engine, SYSTEM, "grans")
    assert len(_pending(engine, case_id=case["id"])) == 2
    besluta = next(t for t in case["open_tasks"] if t["name"] == "Besluta")
    assert tasks.complete(engine, SYSTEM, besluta["id"])["case"]["status"] == "completed"
    assert _pending(engine, case_id=case["id"]) == []
    clock.advance(timedelta(days=3))
    assert engine.scheduler.tick().fired == 0


def test_event_based_gateway_message_wins(engine: Engine, clock: ManualClock) -> None:
    _deploy(engine)
    case = cases.start_case(engine, SYSTEM, "kapplopning", business_key="BYGG-1")
    assert len(_pending(engine, case_id=case["id"])) == 1
    messages.correlate_message(engine, SYSTEM, "svar", "BYGG-1", {"innehall": "ritningar"})
    assert _open(engine, case["id"]) == ["Granska svaret"]
    assert _pending(engine, case_id=case["id"]) == []
    clock.advance(timedelta(days=11))
    assert engine.scheduler.tick().fired == 0


def test_event_based_gateway_timer_wins(engine: Engine, clock: ManualClock) -> None:
    _deploy(engine)
    case = cases.start_case(engine, SYSTEM, "kapplopning")
    clock.advance(timedelta(days=10, seconds=1))
    assert engine.scheduler.tick().fired == 1
    assert _open(engine, case["id"]) == ["Avskriv ärendet"]
    r = None
    try:
        messages.send_message(engine, SYSTEM, case["id"], "svar", {})
    except Exception as exc:  # the race is over: the case no longer waits for the message
        r = exc
    assert r is not None and getattr(r, "status", None) == 409


def test_timer_start_event_starts_cases_on_schedule(engine: Engine, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
    _deploy(engine)
    [start] = _pending(engine, kind="start")
    assert start.process_key == "trendanalys" and start.due_at == datetime(2026, 4, 1, 6, 0, tzinfo=UTC)
    clock.set(datetime(2026, 4, 1, 6, 0, 1, tzinfo=UTC))
    assert engine.scheduler.tick().kinds == {"start": 1}
    listed = cases.list_cases(engine, SYSTEM, process="trendanalys")
    assert listed["total"] == 1
    case = cases.get_case(engine, SYSTEM, listed["items"][0]["id"])
    assert [t["name"] for t in case["open_tasks"]] == ["Analysera avvikelser"]
    assert case["started_by"] == "scheduler"
    [nxt] = _pending(engine, kind="start")
    assert nxt.due_at == datetime(2026, 7, 1, 6, 0, tzinfo=UTC)
    # started by hand, the case does not wait for the next quarter either
    manual = cases.start_case(engine, SYSTEM, "trendanalys")
    assert [t["name"] for t in manual["open_tasks"]] == ["Analysera avvikelser"]


def test_missed_firings_are_caught_up_in_due_order_and_say_they_are_late(engine: Engine, clock: ManualClock) -> None:
    _deploy(engine)
    first = cases.start_case(engine, SYSTEM, "mellantimer")
    tasks.complete(engine, SYSTEM, first["open_tasks"][0]["id"])
    clock.advance(timedelta(minutes=30))
    second = cases.start_case(engine, SYSTEM, "mellantimer")
    tasks.complete(engine, SYSTEM, second["open_tasks"][0]["id"])
    clock.advance(timedelta(hours=5))  # the service was down for hours
    result = engine.scheduler.tick()
    assert result.fired == 2 and result.late == 2
    with engine.db.read() as s:
        fired = s.execute(sa.select(Timer).where(Timer.status == "fired").order_by(Timer.fired_at, Timer.id)).scalars().all()
    assert [t.case_id for t in fired] == [first["id"], second["id"]]
    assert all(t.data["late_by_s"] > 3600 for t in fired)
    late_event = next(e for e in cases.get_case(engine, SYSTEM, first["id"])["history"] if e["type"] == "timer_fired")
    assert late_event["data"]["late_by_s"] == 4 * 3600 + 30 * 60


def test_busy_case_is_skipped_not_waited_for(engine: Engine, clock: ManualClock) -> None:
    _deploy(engine)
    case = cases.start_case(engine, SYSTEM, "mellantimer")
    tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"])
    clock.advance(timedelta(hours=2))
    with engine.db.read() as s:
        assert s.get(Case, case["id"]).status == "active"
    assert engine.scheduler.tick().fired == 1


def test_boundary_timers_on_a_subprocess(engine: Engine, clock: ManualClock) -> None:
    processes.deploy(engine, SYSTEM, fixture_bytes("timer_subprocess.bpmn"))
    case = cases.start_case(engine, SYSTEM, "delprocess_tid")
    assert _open(engine, case["id"]) == ["Samla underlag"]
    clock.advance(timedelta(days=7, minutes=1))
    assert engine.scheduler.tick().fired == 1
    assert _open(engine, case["id"]) == ["Påminn utredaren", "Samla underlag"]  # non-interrupting
    samla = next(t for t in cases.get_case(engine, SYSTEM, case["id"])["open_tasks"] if t["name"] == "Samla underlag")
    tasks.complete(engine, SYSTEM, samla["id"])
    clock.advance(timedelta(days=7))
    assert engine.scheduler.tick().fired == 1
    # interrupting: the whole subprocess (with its open task) is cancelled
    assert _open(engine, case["id"]) == ["Påminn utredaren", "Utredningen tog för lång tid"]
    history = [e["type"] for e in cases.get_case(engine, SYSTEM, case["id"])["history"]]
    assert history.count("task_cancelled") == 1


def test_time_date_timer_waits_until_the_instant(engine: Engine, clock: ManualClock) -> None:
    xml = fixture_bytes("timer_direct.bpmn").replace(
        b"<bpmn:timeDuration>PT1H</bpmn:timeDuration>", b"<bpmn:timeDate>2026-03-05T10:00:00Z</bpmn:timeDate>")
    processes.deploy(engine, SYSTEM, xml)
    case = cases.start_case(engine, SYSTEM, "vanta")
    [timer] = _pending(engine, case_id=case["id"])
    assert timer.due_at == datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    clock.set(datetime(2026, 3, 5, 9, 59, tzinfo=UTC))
    assert engine.scheduler.tick().fired == 0
    clock.set(datetime(2026, 3, 5, 10, 0, 1, tzinfo=UTC))
    assert engine.scheduler.tick().fired == 1 and _open(engine, case["id"]) == ["Följ upp"]
