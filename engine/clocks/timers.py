"""Timer rows: every instant something is due is a row with that instant, indexed.

A case's timer rows are brought in line with its workflow in the same transaction as every other
change to the case (`sync`), so the scheduler finds due timers with one indexed query and never
loads a case to learn whether it has a timer. Kinds:

- ``bpmn``: a waiting BPMN timer event (intermediate, boundary, event-based gateway branch);
  ``task_id`` is the SpiffWorkflow task, ``due_at`` what SpiffWorkflow computed on our clock;
- ``start``: the next scheduled start of a process with a timer start event (``process_key``);
- ``escalation``: one step of a human task's escalation ladder (``task_id`` the human task,
  ``ref`` the step number);
- ``follow_up``: a human task's follow-up date (``task_id``), a reminder to whoever has it;
- ``case_deadline`` and ``case_warning``: a case's statutory deadline and the warnings before it
  (``ref`` the step), each fired once per deadline value (``data["for"]``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from ..store import optimistic
from ..store.models import Timer
from ..store.prepared import Prepared
from . import (
    deadlines,
    spiff_clock,  # noqa: F401  (SpiffWorkflow reads zone-less times as Swedish time from here on)
)

# The timers table itself, for the statements other modules write about timers (escalation's
# steps of a task, a version's review and start timers).
TIMERS = cast(sa.Table, Timer.__table__)
PENDING_OF_CASE = sa.select(TIMERS.c.id, TIMERS.c.task_id, TIMERS.c.ref, TIMERS.c.due_at, TIMERS.c.data).where(
    TIMERS.c.case_id == sa.bindparam("case_id"), TIMERS.c.kind == sa.bindparam("kind"),
    TIMERS.c.status == "pending",
)
INSERT = sa.insert(TIMERS)
CANCEL = sa.update(TIMERS).where(TIMERS.c.id.in_(sa.bindparam("ids", expanding=True))).values(
    status="cancelled", fired_at=sa.bindparam("now"))
RESCHEDULE = sa.update(TIMERS).where(TIMERS.c.id == sa.bindparam("b_id")).values(due_at=sa.bindparam("due"))


def _parse(value: Any) -> datetime | None:
    if isinstance(value, dict):
        value = value.get("next")
    if not isinstance(value, str):
        return None
    try:
        return TimerEventDefinition.get_datetime(value)
    except ValueError:
        try:
            parsed = TimerEventDefinition.parse_time_or_duration(value)
        except Exception:
            return None
        return parsed if isinstance(parsed, datetime) else None


def due_bpmn_timers(workflow: BpmnWorkflow) -> dict[str, datetime]:
    """The waiting timer events of a workflow and when each is due, by SpiffWorkflow task id."""
    due: dict[str, datetime] = {}
    for task in list(workflow.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        definitions = getattr(definition, "event_definitions", None) or [definition]
        for d in definitions:
            if not isinstance(d, TimerEventDefinition):
                continue
            value = task.internal_data.get("event_value")
            if isinstance(d, CycleTimerEventDefinition) and isinstance(value, dict) and value.get("cycles") == 0:
                continue
            instant = _parse(value)
            if instant is not None:
                due[str(task.id)] = min(instant, due.get(str(task.id), instant))
    return due


FIRED_OF_CASE = sa.select(TIMERS.c.task_id, TIMERS.c.ref, TIMERS.c.data).where(
    TIMERS.c.case_id == sa.bindparam("case_id"), TIMERS.c.kind == sa.bindparam("kind"),
    TIMERS.c.status.in_(("fired", "failed")),
)
SET_DATA = sa.update(TIMERS).where(TIMERS.c.id == sa.bindparam("b_id")).values(data=sa.bindparam("data"))


def sync(conn: sa.Connection, case_id: str, kind: str, desired: dict[str, datetime], now: datetime,
         *, once_per: dict[str, str] | None = None, **extra: Any) -> None:
    """Make the case's pending timers of `kind` exactly `desired` (keyed by task id or ref).

    With `once_per` (key -> a token such as the deadline it is for), a key whose timer has already
    fired for the same token gets no new one: a notice about a deadline is sent once per deadline
    value, however often the case changes afterwards.
    """
    key_column = "task_id" if kind == "bpmn" else "ref"
    part = f"timers:{kind}"  # rows of this kind only, read and written (engine/store/optimistic.py)
    scope = (part,)
    with optimistic.reading(part):
        existing = {getattr(r, key_column): r
                    for r in conn.execute(PENDING_OF_CASE, {"case_id": case_id, "kind": kind})}
        done: set[tuple[Any, Any]] | None = None
        if once_per is not None and any(k not in existing for k in desired):
            done = {(getattr(r, key_column), (r.data or {}).get("for")) for r in
                    conn.execute(FIRED_OF_CASE, {"case_id": case_id, "kind": kind})}
    if once_per is not None and done:
        desired = {k: v for k, v in desired.items() if (k, once_per.get(k)) not in done}
    gone = [r.id for k, r in existing.items() if k not in desired]
    if gone:
        P_CANCEL.run(conn, {"ids": gone, "now": now}, scope=scope)
    for key, due in desired.items():
        row = existing.get(key)
        token = {"for": once_per[key]} if once_per is not None and key in once_per else {}
        if row is None:
            P_INSERT.run(conn, {"kind": kind, "case_id": case_id, key_column: key, "due_at": due,
                                "status": "pending", "data": token, **extra}, scope=scope)
            continue
        if row.due_at != due:
            P_RESCHEDULE.run(conn, {"b_id": row.id, "due": due}, scope=scope)
        if token and (row.data or {}).get("for") != token["for"]:
            P_SET_DATA.run(conn, {"b_id": row.id, "data": {**(row.data or {}), **token}}, scope=scope)


TASK_KINDS = ("escalation", "follow_up")
# The timer rows of a human task's escalation steps and follow-up, as optimistic writes name them.
TASK_SCOPE = tuple(f"timers:{k}" for k in TASK_KINDS)
CANCEL_TASK = (
    sa.update(TIMERS)
    .where(TIMERS.c.task_id == sa.bindparam("b_task_id"), TIMERS.c.kind.in_(TASK_KINDS),
           TIMERS.c.status == "pending")
    .values(status="cancelled", fired_at=sa.bindparam("b_now"))
)


# The writes on the DB-API cursor (engine/store/prepared.py), which an optimistic unit of work on
# SQLite keeps until its check (engine/store/optimistic.py); the reads stay ordinary statements.
P_INSERT, P_CANCEL, P_RESCHEDULE, P_SET_DATA, P_CANCEL_TASK = map(
    Prepared, (INSERT, CANCEL, RESCHEDULE, SET_DATA, CANCEL_TASK))


def cancel_task_timers(conn: sa.Connection, task_id: str, now: datetime) -> None:
    """Cancel the pending escalation steps and follow-up of a human task (completed or cancelled)."""
    P_CANCEL_TASK.run(conn, {"b_task_id": task_id, "b_now": now}, scope=TASK_SCOPE)


# -- scheduled starts: repeating intervals on the calendar -----------------------------------------


def parse_cycle(expression: str, now: datetime) -> dict[str, Any]:
    """The schedule of an ISO 8601 repeating interval (``R/2026-04-01T08:00/P3M``, ``R3/PT1H``).

    The result is stored on the start's timer row: the first instant (``anchor``), the period as
    written and the number of starts (-1 for no end). Occurrence n is ``anchor + n × period`` on
    the calendar (`cycle_at`), never an accumulated number of seconds: a quarter stays on the 1st.
    Without a start instant the first start is one period from `now`, as SpiffWorkflow has it.
    """
    parts = expression.strip().upper().replace("--", "/").split("/")
    if len(parts) not in (2, 3) or not parts[0].startswith("R"):
        raise ValueError(f"inget upprepat intervall: {expression!r}")
    cycles = int(parts[0][1:]) if parts[0][1:] else -1
    if len(parts) == 3 and not parts[1].startswith("P"):
        anchor, period = TimerEventDefinition.get_datetime(parts[1]), parts[2]
    elif len(parts) == 3:
        # period/end: the starts lead up to the end instant
        period = parts[1]
        end = TimerEventDefinition.get_datetime(parts[2])
        anchor = end
        if cycles > 0:
            anchor = _add(end, period, -(cycles - 1))
    else:
        period = parts[1]
        anchor = _add(now, period, 1)
    if _add(anchor, period, 1) <= anchor:
        raise ValueError(f"intervallet {period!r} är inte positivt")
    return {"anchor": anchor.isoformat(), "period": period, "cycles": cycles}


def _add(start: datetime, period: str, n: int) -> datetime:
    """`start` plus n times an ISO period: years, months, weeks and days on the Swedish calendar
    (same wall-clock time, whatever the daylight saving), hours and smaller exactly."""
    p = deadlines.parse_period(period)
    if p is None or p.working_days is not None:
        raise ValueError(f"ingen period: {period!r}")
    local = start.astimezone(deadlines.STOCKHOLM)
    day = deadlines.add_months(local.date(), n * (12 * p.years + p.months)) + timedelta(days=n * (7 * p.weeks + p.days))
    wall = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=deadlines.STOCKHOLM)
    exact = timedelta(hours=p.hours, minutes=p.minutes, seconds=p.seconds) * n
    return (wall + exact).astimezone(start.tzinfo)


def cycle_at(schedule: dict[str, Any], n: int) -> datetime:
    """Occurrence n (from 0) of a stored schedule."""
    return _add(datetime.fromisoformat(schedule["anchor"]), schedule["period"], n)


def next_occurrence(schedule: dict[str, Any], *, not_before: datetime, after_index: int = -1,
                    strictly: bool = False) -> tuple[int, datetime] | None:
    """The first occurrence after `after_index` at or after `not_before` (after it, `strictly`);
    None when the schedule's starts have run out."""
    anchor = datetime.fromisoformat(schedule["anchor"])
    cycles = int(schedule.get("cycles", -1))
    n = after_index + 1
    # Jump close to `not_before` (a period's length is nearly constant), then walk.
    approx = (cycle_at(schedule, 1) - anchor).total_seconds()
    if approx > 0 and not_before > anchor:
        n = max(n, int((not_before - anchor).total_seconds() // approx) - 2)
    while cycles < 0 or n < cycles:
        at = cycle_at(schedule, n)
        if at > not_before or (at == not_before and not strictly):
            return n, at
        n += 1
    return None
