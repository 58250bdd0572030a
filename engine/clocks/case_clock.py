"""Statutory clocks over whole cases: started at receipt, paused while waiting for the applicant,
extended once by a decision (as for a building permit, PBL 9 kap. 27 §).

A process declares its clock with properties on the process element:

- ``rutin:caseDeadline`` — the period (``P10W``, ``P1M``, ``20WD``), counted per Lag (1930:173);
- ``rutin:caseDeadlineFrom`` — optional: the data field holding the day of receipt (else the
  case's start);

and on steps: ``rutin:pausesCaseClock=true`` on a step during which the clock stands still
(waiting for a completion from the applicant), ``rutin:restartsCaseClock=true`` on one after
which the whole period begins again from the day it is done (a building permit's ten weeks run
from the day the application is complete, PBL 9 kap. 27 §), with ``rutin:restartWithin=P3W``
when that holds only if the step opens within that time of receipt (else the clock runs on from
receipt), ``rutin:extendsCaseClock=P10W`` on the decision
that extends it — once, and only before the deadline has passed (the extension must be decided
and sent before the original deadline runs out). Once passed, a deadline is not stopped or moved
by what is done afterwards (MÖD P 6223-22): a pausing step opened late does not pause it.

The clock counts as the law does (Lag 1930:173): a deadline on a non-working day moves to the
next working day, but the period itself still ends on its own day, so a pause (the days the
clock stood still) and the extension count on from that day (kept as the case's
``deadline_period_end_at``), and only the result is moved again.

A step that must be done within the case deadline says so with ``rutin:withinCaseDeadline=true``
(on the process: every step, each may say ``false``). Its due date is then the earlier of its own
(diagram, policy, a person's change; the task's ``own_due_at``) and the case deadline, the
deadline itself when it has none of its own, and it moves with the deadline (a pause, the
extension, a restart), its escalation ladder with it. While the clock stands still, the step has
its own due date only: the deadline it would be capped at is about to move. Steps after the
decision (sending it, archiving) are not bound by the decision's deadline, hence a choice per
step, not for every step.

Warnings before the deadline are a ladder on the process, ``rutin:caseEscalation`` (default
``-3WD:notify_manager``; the actions are ``remind``, the handlers of the open tasks, and
``notify_manager``, the case unit's managers). The deadline and each warning are timer rows,
fired once per deadline value: a late case's notice is sent once, not after every change
(`engine.routing.case_deadline` sends them). The case view shows time left, or how late the case
is and how many weeks have started.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from . import deadlines, ladders, task_clock, timers
from .work import Work


def _period(model: Any) -> str | None:
    return model.properties.get("rutin:caseDeadline") or model.properties.get("rutin:case_deadline")


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in {"true", "ja", "yes", "1"}


def start(work: Work) -> None:
    """Set the deadline of a new case, if its process declares a statutory clock."""
    period_text = _period(work.model)
    if not period_text:
        return
    period = deadlines.parse_period(period_text)
    if period is None:
        return
    field = work.model.properties.get("rutin:caseDeadlineFrom")
    received = _received((work.case.data or {}).get(field) if field else None)
    # Without a receipt date the clock counts from the case's own start instant (not this
    # moment's reading of the clock, a little later): a receipt date entered later recognises
    # a clock still counted from the start by that instant (`_received_later`).
    origin = receipt_day(received) or work.case.created_at
    _count_from(work.case, origin, received, period)
    assert work.case.deadline_at is not None  # just counted
    work.event("case_clock_started", actor="system",
               data={"period": period_text, "from": origin.isoformat(), "deadline": work.case.deadline_at.isoformat(),
                     **_period_end_note(work.case)})


def _received(value: Any) -> str | None:
    """A receipt date as the case variable holds it (ISO text), if it is one."""
    if isinstance(value, str) and receipt_day(value) is not None:
        return value[:40]
    return None


def receipt_day(received: str | None) -> datetime | None:
    """The start of the day of receipt, Swedish time (None when there is no valid date)."""
    if received is None:
        return None
    try:
        day = date.fromisoformat(received[:10])
    except ValueError:
        return None
    return datetime.combine(day, datetime.min.time(), tzinfo=deadlines.STOCKHOLM)


def _count_from(case: Any, origin: datetime, received: str | None, period: Any) -> None:
    case.deadline_from_at, case.deadline_from_value = origin, received
    case.deadline_period_end_at = deadlines.period_end(origin, period)
    case.deadline_at = deadlines.due_after(origin, period)


def _received_later(work: Work, actor: str) -> None:
    """A receipt date entered in a task after the case started (the registrar's "Inkom") sets
    where the clock counts from, as long as nothing has paused, restarted or extended it."""
    case = work.case
    field = work.model.properties.get("rutin:caseDeadlineFrom")
    if not field or case.deadline_from_at is None:
        return
    received = _received((case.data or {}).get(field))
    if received is None or received == case.deadline_from_value:
        return
    period = deadlines.parse_period(_period(work.model) or "")
    counted_from_entry = _counted_from_entry(case)
    untouched = (period is not None and not case.deadline_extended and case.deadline_paused_at is None
                 and counted_from_entry
                 and case.deadline_period_end_at == deadlines.period_end(case.deadline_from_at, period))
    if not untouched or period is None:
        case.deadline_from_value = received  # said once, not at every later change of the case
        assert case.deadline_at is not None  # a clock that has started has a deadline
        work.event("case_clock_not_recounted", actor=actor,
                   data={"received": received, "deadline": case.deadline_at.isoformat(),
                         "reason": "tidsfristen har redan stått still, börjat om eller förlängts"})
        return
    before = case.deadline_at
    origin = receipt_day(received)
    assert origin is not None and before is not None
    _count_from(case, origin, received, period)
    assert case.deadline_at is not None  # just counted
    work.event("case_clock_recounted", actor=actor,
               data={"received": received, "from": origin.isoformat(), "before": before.isoformat(),
                     "deadline": case.deadline_at.isoformat(), **_period_end_note(case)})


def _counted_from_entry(case: Any) -> bool:
    """Whether the clock still counts from what the case started with: its receipt date, or its
    start (cases started before the start instant was the origin were counted from a reading of
    the clock a few milliseconds later: within a second is the start)."""
    if case.deadline_from_value is not None:
        return bool(case.deadline_from_at == receipt_day(case.deadline_from_value))
    return abs(case.deadline_from_at - case.created_at) < timedelta(seconds=1)


DEFAULT_WARNINGS = "-3WD:notify_manager"
WARNING_ACTIONS = {"remind", "notify_manager"}


def warning_ladder(model: Any) -> list[Any]:
    """The warnings before a case deadline: the process's ``rutin:caseEscalation``, else the default.

    A step at the deadline itself (``0``) is left out: the deadline's own notice says it.
    """
    text = model.properties.get("rutin:caseEscalation") or DEFAULT_WARNINGS
    try:
        steps = ladders.parse(text)
        if any(st.action not in WARNING_ACTIONS for st in steps):
            raise ValueError(text)
    except ValueError:  # the upload's diagnostics said so; the default applies
        steps = ladders.parse(DEFAULT_WARNINGS)
    return [st for st in steps if st.offset != "0"]


def _day_based(model: Any) -> bool:
    period = deadlines.parse_period(_period(model) or "")
    return period is None or period.day_based


def resumed_period_end(period_end: datetime, paused_at: datetime, now: datetime, *, day_based: bool = True
                       ) -> datetime:
    """Where the period runs out after the clock stood still from `paused_at` to `now`.

    A day-based clock moves by the days it stood still, counted from the period's own last day
    (not from a day Lag 1930:173 moved it to), and ends at the end of that day; an hour-based
    clock moves by the exact time. `deadlines.on_working_day` gives the deadline from it.
    """
    if not day_based:
        return period_end + (now - paused_at)
    days = (now.astimezone(deadlines.STOCKHOLM).date() - paused_at.astimezone(deadlines.STOCKHOLM).date()).days
    return deadlines.end_of_day(period_end.astimezone(deadlines.STOCKHOLM).date() + timedelta(days=days))


def _period_end(case: Any) -> datetime:
    # Cases whose clock started before the period's own end was kept count from the deadline.
    return case.deadline_period_end_at or case.deadline_at


def _period_end_note(case: Any) -> dict[str, str]:
    end = case.deadline_period_end_at
    return {"period_end": end.isoformat()} if end is not None and end != case.deadline_at else {}


def _deadline(end: datetime, day_based: bool) -> datetime:
    return deadlines.on_working_day(end) if day_based else end


def _props(work: Work, row: Any) -> dict[str, str]:
    step = work.step(row)
    return step.properties if step is not None else {}


def _restart_too_late(work: Work, row: Any) -> bool:
    """Whether a restarting step opened after its `rutin:restartWithin` from the clock's start
    (PBL 9 kap. 27 §: an order to complete given after three weeks leaves the clock running)."""
    within = deadlines.parse_period(_props(work, row).get("rutin:restartWithin") or "")
    origin = work.case.deadline_from_at
    return within is not None and origin is not None and row.created_at > deadlines.period_end(origin, within)


def update(work: Work, actor: str) -> None:
    """Pause, restart or resume the clock as steps that stop it open and close; take a receipt
    date entered later; keep the clock's timer rows in step."""
    case = work.case
    if case.deadline_at is None:
        return
    _received_later(work, actor)
    restarting = [r for r in work.open_rows if _true(_props(work, r).get("rutin:restartsCaseClock"))]
    late = [r for r in restarting if _restart_too_late(work, r)]
    for row in late:
        if row.created_at == work.now:
            work.event("case_clock_not_restarted", actor=actor, task_id=row.id,
                       data={"deadline": case.deadline_at.isoformat(),
                             "reason": "kompletteringen begärdes senare än "
                                       f"{_props(work, row).get('rutin:restartWithin')} efter att ärendet kom in; "
                                       "tidsfristen räknas från ankomstdagen"})
    restarting = [r for r in restarting if r not in late]
    pausing_rows = restarting or [r for r in work.open_rows if _true(_props(work, r).get("rutin:pausesCaseClock"))]
    if pausing_rows and case.deadline_paused_at is None and case.status == "active":
        if case.deadline_at <= work.now:
            if any(r.created_at == work.now for r in pausing_rows):
                work.event("case_clock_not_paused", actor=actor,
                           data={"deadline": case.deadline_at.isoformat(),
                                 "reason": "tidsfristen har redan passerats; den står inte still för det som "
                                           "görs efteråt"})
        else:
            case.deadline_paused_at = work.now
            case.deadline_pause_kind = "restart" if restarting else "pause"
            work.event("case_clock_stopped" if restarting else "case_clock_paused", actor=actor,
                       data={"deadline": case.deadline_at.isoformat()})
    elif not pausing_rows and case.deadline_paused_at is not None:
        stood_still = work.now - case.deadline_paused_at
        before = case.deadline_at
        if case.deadline_pause_kind == "restart":
            # The whole period again, from the day the deficiency was remedied.
            period = deadlines.parse_period(_period(work.model) or "")
            if period is not None:
                day = work.now.astimezone(deadlines.STOCKHOLM).date()
                origin = datetime.combine(day, datetime.min.time(), tzinfo=deadlines.STOCKHOLM)
                case.deadline_from_at = origin
                case.deadline_period_end_at = deadlines.period_end(origin, period)
                case.deadline_at = deadlines.due_after(origin, period)
            case.deadline_paused_at, case.deadline_pause_kind = None, None
            work.event("case_clock_restarted", actor=actor,
                       data={"stopped_s": round(stood_still.total_seconds()), "from": before.isoformat(),
                             "deadline": case.deadline_at.isoformat(), **_period_end_note(case)})
        else:
            day_based = _day_based(work.model)
            case.deadline_period_end_at = resumed_period_end(_period_end(case), case.deadline_paused_at, work.now,
                                                             day_based=day_based)
            case.deadline_at = _deadline(case.deadline_period_end_at, day_based)
            case.deadline_paused_at, case.deadline_pause_kind = None, None
            work.event("case_clock_resumed", actor=actor,
                       data={"paused_s": round(stood_still.total_seconds()), "from": before.isoformat(),
                             "deadline": case.deadline_at.isoformat(), **_period_end_note(case)})
    running = case.status == "active" and case.deadline_paused_at is None
    token = case.deadline_at.astimezone(UTC).isoformat()
    timers.sync(work.conn, case.id, "case_deadline", {"deadline": case.deadline_at} if running else {},
                work.now, once_per={"deadline": token})
    warnings: dict[str, datetime] = {}
    if running:
        for number, step in enumerate(warning_ladder(work.model)):
            at = step.due(case.deadline_at)
            if at < case.deadline_at <= work.now:
                continue  # a warning before a deadline that has passed says nothing any more
            warnings[str(number)] = max(at, work.now)
    timers.sync(work.conn, case.id, "case_warning", warnings, work.now, once_per=dict.fromkeys(warnings, token))


def within_deadline(work: Work, row: Any) -> bool:
    """Whether the step of a task must be done within the case deadline."""
    own = _props(work, row).get("rutin:withinCaseDeadline")
    return _true(own if own is not None else work.model.properties.get("rutin:withinCaseDeadline"))


def capped_due(work: Work, row: Any) -> datetime | None:
    """The due date in force of a task: its own, capped at the case deadline where its step must
    be done within it and the clock runs."""
    own, case = row.own_due_at, work.case
    if case.deadline_at is None or case.deadline_paused_at is not None or not within_deadline(work, row):
        return cast(datetime | None, own)
    return cast(datetime, min(own, case.deadline_at) if own is not None else case.deadline_at)


def cap_steps(work: Work, actor: str) -> None:
    """Keep the open steps that must be done within the case deadline at it as it moves."""
    if work.case.deadline_at is None:
        return
    for row in work.open_rows:
        if not within_deadline(work, row):
            continue
        due = capped_due(work, row)
        if due == row.due_at:
            continue
        before, row.due_at = row.due_at, due
        if row.id not in work.created:  # a step opened in this change was created with it
            work.event("task_due_moved", actor=actor, task_id=row.id, element_id=row.element_id,
                       data={"name": row.name, "from": before.isoformat() if before else None,
                             "due": due.isoformat() if due else None, "deadline": work.case.deadline_at.isoformat()})
        task_clock.schedule(work, row)


def extend(work: Work, row: Any, actor: str) -> None:
    """Extend the clock when the completed step says so: once, and before the deadline has passed."""
    step = work.step(row)
    text = step.properties.get("rutin:extendsCaseClock") if step is not None else None
    case = work.case
    if not text or case.deadline_at is None:
        return
    if case.deadline_extended:
        work.event("case_clock_not_extended", actor=actor, task_id=row.id,
                   data={"reason": "tidsfristen har redan förlängts en gång"})
        return
    if case.deadline_at < work.now and case.deadline_paused_at is None:
        # PBL 9 kap. 27 §: the extension is decided, and told the applicant, before the original
        # deadline runs out; one decided afterwards cannot undo the lateness.
        work.event("case_clock_not_extended", actor=actor, task_id=row.id,
                   data={"reason": "förlängningen beslutades efter att tidsfristen hade passerats "
                                   f"({case.deadline_at.astimezone(deadlines.STOCKHOLM):%Y-%m-%d}); den måste "
                                   "beslutas före den ursprungliga tidsfristen",
                         "deadline": case.deadline_at.isoformat()})
        return
    period = deadlines.parse_period(text)
    if period is None:
        return
    before = case.deadline_at
    # The extension runs on from the period's own end, not from a day Lag 1930:173 moved it to.
    case.deadline_period_end_at = deadlines.period_end(_period_end(case), period)
    case.deadline_at = _deadline(case.deadline_period_end_at, period.day_based)
    case.deadline_extended = True
    work.event("case_clock_extended", actor=actor, task_id=row.id,
               data={"by": text, "from": before.isoformat(), "to": case.deadline_at.isoformat(),
                     **_period_end_note(case)})


def status(case: Any, now: datetime) -> dict[str, Any] | None:
    """Where the case stands against its statutory clock (None if it has none)."""
    if case.deadline_at is None:
        return None
    at = case.deadline_paused_at or case.completed_at or now
    left = case.deadline_at - at
    late = max(timedelta(0), -left)
    return {
        "deadline": case.deadline_at.isoformat(),
        "paused": case.deadline_paused_at is not None,
        "extended": bool(case.deadline_extended),
        "time_left_s": max(0, round(left.total_seconds())),
        "late_by_s": round(late.total_seconds()),
        "late_weeks_started": math.ceil(late / timedelta(weeks=1)) if late else 0,
    }
