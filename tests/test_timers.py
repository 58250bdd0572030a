"""BPMN timers on the injected clock: time is moved, never slept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import fixture_bytes

from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, messages, tasks
from engine.store.models import Case, Timer


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


def test_a_message_by_business_key_goes_to_the_one_case_that_waits_for_it(engine: Engine, clock: ManualClock) -> None:
    from engine.base.errors import Conflict

    _deploy(engine)
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    waiting = cases.start_case(engine, SYSTEM, "kapplopning", business_key="BYGG-2")
    cases.start_case(engine, SYSTEM, "seq3", business_key="BYGG-2")  # same diary number, waits for no message
    messages.correlate_message(engine, SYSTEM, "svar", "BYGG-2", {"innehall": "ritningar"})
    assert _open(engine, waiting["id"]) == ["Granska svaret"]
    # now neither waits: a conflict that says so, not "two cases have the number"
    with pytest.raises(Conflict, match="Inget av de 2 aktiva ärendena"):
        messages.correlate_message(engine, SYSTEM, "svar", "BYGG-2", {})
    # two cases that both wait: the sender must choose
    first = cases.start_case(engine, SYSTEM, "kapplopning", business_key="BYGG-3")
    cases.start_case(engine, SYSTEM, "kapplopning", business_key="BYGG-3")
    with pytest.raises(Conflict, match="2 aktiva ärenden med ärendenumret 'BYGG-3' väntar"):
        messages.correlate_message(engine, SYSTEM, "svar", "BYGG-3", {})
    assert _open(engine, first["id"]) == []


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


def _start_process(cycle: str, key: str = "schema", name: str = "Schemalagd") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="st" targetNamespace="https://rutin.example/test">
  <bpmn:process id="{key}" name="{name}" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:timerEventDefinition><bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Analysera"/><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def _started(engine: Engine, key: str) -> int:
    return int(cases.list_cases(engine, SYSTEM, process=key)["total"])


def test_a_quarterly_start_stays_on_the_first_of_the_month(engine: Engine, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
    _deploy(engine)
    for due in (datetime(2026, 4, 1, 6, 0, tzinfo=UTC), datetime(2026, 7, 1, 6, 0, tzinfo=UTC),
                datetime(2026, 10, 1, 6, 0, tzinfo=UTC)):
        [start] = _pending(engine, kind="start")
        assert start.due_at == due  # never 30 September: a quarter is three calendar months
        clock.set(due + timedelta(seconds=1))
        assert engine.scheduler.tick().kinds == {"start": 1}
    # 08:00 Swedish time, in winter too
    assert [t.due_at for t in _pending(engine, kind="start")] == [datetime(2027, 1, 1, 7, 0, tzinfo=UTC)]
    assert _started(engine, "trendanalys") == 3


def test_a_schedule_anchored_in_the_past_starts_from_now_and_catches_up_one_start(
        engine: Engine, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))  # Monday, after this Monday's 07:00 start
    processes.deploy(engine, SYSTEM, _start_process("R/2025-01-06T06:00:00Z/P1W"))
    [start] = _pending(engine, kind="start")
    assert start.due_at == datetime(2026, 3, 9, 6, 0, tzinfo=UTC)  # the next Monday, not 60 past ones
    assert engine.scheduler.tick().fired == 0 and _started(engine, "schema") == 0
    clock.set(datetime(2026, 3, 25, 12, 0, tzinfo=UTC))  # down for three Mondays
    assert engine.scheduler.tick().kinds == {"start": 1}
    assert engine.scheduler.tick().fired == 0
    assert _started(engine, "schema") == 1
    [late] = [e for c in cases.list_cases(engine, SYSTEM, process="schema")["items"]
              for e in cases.get_case(engine, SYSTEM, c["id"])["history"] if e["type"] == "scheduled_start_late"]
    assert late["data"]["missed_starts"] == 2 and late["data"]["due"] == "2026-03-09T06:00:00+00:00"
    [nxt] = _pending(engine, kind="start")
    assert nxt.due_at == datetime(2026, 3, 30, 5, 0, tzinfo=UTC)  # 07:00 summer time


def test_publishing_a_new_version_does_not_repeat_a_start_already_made(engine: Engine, clock: ManualClock) -> None:
    from engine.authority import identity

    clock.set(datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
    processes.deploy(engine, SYSTEM, _start_process("R/2026-04-01T06:00:00Z/P3M"))
    clock.set(datetime(2026, 4, 1, 6, 0, tzinfo=UTC))
    assert engine.scheduler.tick().kinds == {"start": 1}
    owner = identity.add_user(engine, "olle", ["Processägare"])
    # published in the very instant of the start, now monthly from the same anchor: the start
    # made a moment ago is not made again
    [v2] = processes.deploy(engine, SYSTEM, _start_process("R/2026-04-01T06:00:00Z/P1M", name="Schemalagd 2"),
                            approve_as_admin=False)
    processes.approve(engine, owner, "schema", v2.version)
    assert [t.due_at for t in _pending(engine, kind="start")] == [datetime(2026, 5, 1, 6, 0, tzinfo=UTC)]
    assert engine.scheduler.tick().fired == 0 and _started(engine, "schema") == 1
    # unchanged in a later version, the schedule keeps its pending start
    [v3] = processes.deploy(engine, SYSTEM, _start_process("R/2026-04-01T06:00:00Z/P1M", name="Schemalagd 3"),
                            approve_as_admin=False)
    processes.approve(engine, owner, "schema", v3.version)
    assert [t.due_at for t in _pending(engine, kind="start")] == [datetime(2026, 5, 1, 6, 0, tzinfo=UTC)]
    # a version with a new schedule starts on it, from now on
    clock.set(datetime(2026, 4, 20, 9, 0, tzinfo=UTC))
    [v4] = processes.deploy(engine, SYSTEM, _start_process("R/2026-01-05T07:00:00+01:00/P1W", name="Schemalagd 4"),
                            approve_as_admin=False)
    processes.approve(engine, owner, "schema", v4.version)
    assert [t.due_at for t in _pending(engine, kind="start")] == [datetime(2026, 4, 27, 5, 0, tzinfo=UTC)]


def test_a_failing_timer_is_retried_with_backoff_and_never_stops_the_others(engine: Engine,
                                                                            clock: ManualClock) -> None:
    from engine.authority import identity
    from engine.routing import notifications
    from engine.service import scheduler

    identity.add_user(engine, "alice", ["admin"])
    _deploy(engine)
    case = cases.start_case(engine, SYSTEM, "mellantimer")
    tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"])  # a good timer, due in an hour
    calls: list[datetime] = []

    def broken(s: Any, row: Any, case: Any, now: datetime) -> str:
        calls.append(now)
        raise RuntimeError("trasig hanterare")

    engine.scheduler.register("trasig", broken)
    with engine.db.write() as s:
        s.add(Timer(kind="trasig", ref="x", due_at=clock.now(), status="pending", data={}))
    clock.advance(timedelta(hours=1, minutes=1))
    result = engine.scheduler.tick()
    assert result.failed == 1 and result.kinds == {"bpmn": 1}  # the good one fired all the same
    assert _open(engine, case["id"]) == ["Följ upp"]
    [row] = _pending(engine, kind="trasig")
    assert row.attempts == 1 and "trasig hanterare" in (row.last_error or "")
    assert row.due_at == clock.now() + timedelta(minutes=1)
    assert engine.scheduler.tick().failed == 0  # backing off
    for attempt in range(2, scheduler.MAX_ATTEMPTS + 1):
        clock.advance(scheduler.RETRY_AFTER * 2 ** (attempt - 2))
        assert engine.scheduler.tick().failed == 1
    assert len(calls) == scheduler.MAX_ATTEMPTS and _pending(engine, kind="trasig") == []
    with engine.db.read() as s:
        failed = s.execute(sa.select(Timer).where(Timer.kind == "trasig")).scalar_one()
    assert failed.status == "failed" and failed.attempts == scheduler.MAX_ATTEMPTS
    [note] = notifications.list_for(engine, identity.get_actor(engine, "alice"))["items"]
    assert note["subject"].startswith("En tidsstyrd händelse misslyckades: trasig")
    clock.advance(timedelta(days=1))
    assert engine.scheduler.tick().failed == 0 and len(calls) == scheduler.MAX_ATTEMPTS


def test_a_timer_given_up_is_written_in_its_cases_history(engine: Engine, clock: ManualClock) -> None:
    from engine.service import scheduler

    _deploy(engine)
    case = cases.start_case(engine, SYSTEM, "mellantimer")

    def broken(s: Any, row: Any, case: Any, now: datetime) -> str:
        raise RuntimeError("trasig hanterare")

    engine.scheduler.register("trasig", broken)
    with engine.db.write() as s:
        s.add(Timer(kind="trasig", ref="x", case_id=case["id"], due_at=clock.now(), status="pending", data={}))
    clock.advance(timedelta(minutes=1))
    assert engine.scheduler.tick().failed == 1
    assert "timer_failed" not in [e["type"] for e in cases.get_case(engine, SYSTEM, case["id"])["history"]]
    for attempt in range(2, scheduler.MAX_ATTEMPTS + 1):
        clock.advance(scheduler.RETRY_AFTER * 2 ** (attempt - 2))
        assert engine.scheduler.tick().failed == 1
    full = cases.get_case(engine, SYSTEM, case["id"])
    [event] = [e for e in full["history"] if e["type"] == "timer_failed"]
    assert event["actor"] == "scheduler"
    assert event["data"]["kind"] == "trasig" and event["data"]["attempts"] == scheduler.MAX_ATTEMPTS
    assert "trasig hanterare" in event["data"]["error"]
    assert full["history_intact"] and full["status"] == "active"


def test_a_time_without_a_zone_is_swedish_time(engine: Engine, clock: ManualClock) -> None:
    xml = fixture_bytes("timer_direct.bpmn").replace(
        b"<bpmn:timeDuration>PT1H</bpmn:timeDuration>", b"<bpmn:timeDate>2026-03-05T10:00</bpmn:timeDate>")
    processes.deploy(engine, SYSTEM, xml)
    case = cases.start_case(engine, SYSTEM, "vanta")
    [timer] = _pending(engine, case_id=case["id"])
    assert timer.due_at == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)  # 10:00 in Stockholm (CET), on any host
    clock.set(datetime(2026, 3, 5, 8, 59, tzinfo=UTC))
    assert engine.scheduler.tick().fired == 0
    clock.set(datetime(2026, 3, 5, 9, 0, 1, tzinfo=UTC))
    assert engine.scheduler.tick().fired == 1
    # the start of a schedule likewise, and in summer time
    clock.set(datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
    processes.deploy(engine, SYSTEM, _start_process("R/2026-04-01T08:00/P3M"))
    [start] = _pending(engine, kind="start")
    assert start.due_at == datetime(2026, 4, 1, 6, 0, tzinfo=UTC)


def test_a_timer_fires_at_its_exact_instant_once(engine: Engine, clock: ManualClock) -> None:
    """The scheduler finds a row due when its instant has come; SpiffWorkflow only counts a timer
    fired strictly after it. At the very instant the timer must fire once, not be re-found forever."""
    _deploy(engine)
    case = cases.start_case(engine, SYSTEM, "mellantimer")
    tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"])
    [timer] = _pending(engine, case_id=case["id"])
    clock.set(timer.due_at)
    result = engine.scheduler.tick()
    assert result.fired == 1
    assert _open(engine, case["id"]) == ["Följ upp"]
    assert _pending(engine, case_id=case["id"]) == []


def _reminder_process(cycle: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="rp" targetNamespace="https://rutin.example/test">
  <bpmn:process id="paminnelser" name="Påminnelser" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Yttra sig"/><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
    <bpmn:boundaryEvent id="b" name="Påminn varje morgon" attachedToRef="t" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="p"/>
    <bpmn:userTask id="p" name="Påminnelse"/><bpmn:sequenceFlow id="f4" sourceRef="p" targetRef="e2"/>
    <bpmn:endEvent id="e"/><bpmn:endEvent id="e2"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


@pytest.mark.parametrize("cycle", ["R4/2026-10-24T08:00:00/P1D", "R4/P1D"])
def test_a_daily_reminder_stays_at_its_hour_over_the_change_to_winter_time(
        engine: Engine, clock: ManualClock, cycle: str) -> None:
    # Sweden leaves summer time on 25 October 2026: 08:00 is 06:00 UTC before, 07:00 UTC after.
    # A cycle moved on by 24 hours at a time would remind at 09:00 from the 26th on.
    clock.set(datetime(2026, 10, 23, 6, 0, tzinfo=UTC))  # Friday 08:00 in Stockholm
    processes.deploy(engine, SYSTEM, _reminder_process(cycle))
    case = cases.start_case(engine, SYSTEM, "paminnelser")
    expected = [datetime(2026, 10, 24, 6, 0, tzinfo=UTC), datetime(2026, 10, 25, 7, 0, tzinfo=UTC),
                datetime(2026, 10, 26, 7, 0, tzinfo=UTC), datetime(2026, 10, 27, 7, 0, tzinfo=UTC)]
    for n, due in enumerate(expected, start=1):
        [timer] = _pending(engine, case_id=case["id"], kind="bpmn")
        assert timer.due_at == due, n
        clock.set(due + timedelta(seconds=1))
        assert engine.scheduler.tick().fired == 1
        assert _open(engine, case["id"]).count("Påminnelse") == n
    assert _pending(engine, case_id=case["id"], kind="bpmn") == []  # R4: four reminders, then no more


def test_a_cycle_stored_before_calendar_cycles_runs_on_as_it_began(clock: ManualClock) -> None:
    # a case that waited on a cycle over the upgrade holds SpiffWorkflow's own value: seconds
    from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition

    from engine.clocks import spiff_clock

    class _Task:
        def __init__(self, value: dict[str, Any]) -> None:
            self.internal_data: dict[str, Any] = {"event_value": value}

        def _get_internal_data(self, key: str) -> Any:
            return self.internal_data.get(key)

        def _set_internal_data(self, **values: Any) -> None:
            self.internal_data.update(values)

    task = _Task({"cycles": 2, "next": "2026-03-02T07:00:00+00:00", "duration": 3600.0})
    definition = CycleTimerEventDefinition("paminn", "R2/PT1H")
    with spiff_clock.using(clock):  # 08:00 UTC: the stored occurrence has passed
        assert definition.cycle_complete(task) is True
    assert task.internal_data["event_value"] == {"cycles": 1, "next": "2026-03-02T08:00:00+00:00", "duration": 3600.0}


def test_a_scheduled_start_of_a_process_without_a_published_version_ends_loudly(
        engine: Engine, clock: ManualClock, caplog: pytest.LogCaptureFixture) -> None:
    """A recurring start whose process has no published version ends, and says so: in the log and
    to every administrator (it once ended without a word, whatever the error)."""
    from engine.authority import identity
    from engine.routing import notifications

    identity.add_user(engine, "alice", ["admin"])
    with engine.db.write() as s:
        s.add(Timer(kind="start", process_key="finns_inte", ref="start", due_at=clock.now(), status="pending",
                    data={"anchor": clock.now().isoformat(), "period": "P1D", "cycles": -1, "n": 0}))
    clock.advance(timedelta(minutes=1))
    with caplog.at_level("WARNING", logger="engine.service.scheduler"):
        result = engine.scheduler.tick()
    assert result.cancelled == 1 and result.fired == 0 and result.failed == 0
    assert _pending(engine, kind="start") == []  # ended: no next start is scheduled
    assert any("finns_inte" in r.getMessage() and "ended" in r.getMessage() for r in caplog.records)
    [note] = notifications.list_for(engine, identity.get_actor(engine, "alice"))["items"]
    assert note["subject"] == "En schemalagd start upphörde: process finns_inte"
    assert "finns inte" in note["body"]
    clock.advance(timedelta(days=2))
    assert engine.scheduler.tick().cancelled == 0  # told once, not every tick


def test_an_unexpected_error_in_a_scheduled_start_is_retried_not_taken_for_the_end(
        engine: Engine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """Only "the process has no published version" ends a recurring start; any other error (the
    database, a bug) is logged and the row retried with back-off like any failing timer."""
    from engine.service import scheduler

    clock.set(datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
    _deploy(engine)
    [start] = _pending(engine, kind="start")

    def broken(conn: Any, key: str) -> Any:
        raise RuntimeError("databasen svarar inte")

    monkeypatch.setattr(scheduler.processes, "latest_version", broken)
    clock.set(start.due_at + timedelta(seconds=1))
    with caplog.at_level("ERROR", logger="engine.service.scheduler"):
        assert engine.scheduler.tick().failed == 1
    assert any("databasen svarar inte" in r.getMessage() for r in caplog.records)
    [row] = _pending(engine, kind="start")
    assert row.id == start.id and row.attempts == 1 and "databasen svarar inte" in (row.last_error or "")
    monkeypatch.undo()
    clock.advance(scheduler.RETRY_AFTER)
    assert engine.scheduler.tick().kinds == {"start": 1}  # the retry starts the case after all
    assert cases.list_cases(engine, SYSTEM, process="trendanalys")["total"] == 1
