"""Statutory clocks over whole cases: started at receipt, paused while waiting for the applicant,
extended once by a decision (as for a building permit, PBL 9 kap. 27 §).

A process declares its clock with properties on the process element:

- ``rutin:caseDeadline`` — the period (``P10W``, ``P1M``, ``20WD``), counted per Lag (1930:173);
- ``rutin:caseDeadlineFrom`` — optional: the data field holding the day of receipt (else the
  case's start);

and on steps: ``rutin:pausesCaseClock=true`` on a step during which the clock stands still
(waiting for a completion from the applicant), ``rutin:extendsCaseClock=P10W`` on the decision
that extends it — once. The deadline is a timer row; when it passes the case's managers hear of
it. The case view shows time left, or how late the case is and how many weeks have started.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

from . import deadlines, timers


def _period(model: Any) -> str | None:
    return model.properties.get("rutin:caseDeadline") or model.properties.get("rutin:case_deadline")


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() in {"true", "ja", "yes", "1"}


def start(work: Any) -> None:
    """Set the deadline of a new case, if its process declares a statutory clock."""
    period_text = _period(work.model)
    if not period_text:
        return
    period = deadlines.parse_period(period_text)
    if period is None:
        return
    origin = work.now
    field = work.model.properties.get("rutin:caseDeadlineFrom")
    received = (work.case.data or {}).get(field) if field else None
    if isinstance(received, str):
        try:
            day = date.fromisoformat(received[:10])
            origin = datetime.combine(day, datetime.min.time(), tzinfo=deadlines.STOCKHOLM)
        except ValueError:
            pass
    work.case.deadline_at = deadlines.due_after(origin, period)
    work.event("case_clock_started", actor="system",
               data={"period": period_text, "from": origin.isoformat(), "deadline": work.case.deadline_at.isoformat()})


def update(work: Any, actor: str) -> None:
    """Pause or resume the clock as pausing steps open and close; keep its timer row in step."""
    case = work.case
    if case.deadline_at is None:
        return
    pausing = any(_true((work.step(r).properties if work.step(r) else {}).get("rutin:pausesCaseClock"))
                  for r in work.open_rows)
    if pausing and case.deadline_paused_at is None and case.status == "active":
        case.deadline_paused_at = work.now
        work.event("case_clock_paused", actor=actor, data={"deadline": case.deadline_at.isoformat()})
    elif not pausing and case.deadline_paused_at is not None:
        stood_still = work.now - case.deadline_paused_at
        case.deadline_at = case.deadline_at + stood_still
        case.deadline_paused_at = None
        work.event("case_clock_resumed", actor=actor,
                   data={"paused_s": round(stood_still.total_seconds()), "deadline": case.deadline_at.isoformat()})
    running = case.status == "active" and case.deadline_paused_at is None
    timers.sync(work.conn, case.id, "case_deadline", {"deadline": case.deadline_at} if running else {},
                work.now)


def extend(work: Any, row: Any, actor: str) -> None:
    """Extend the clock when the completed step says so, the first time only."""
    step = work.step(row)
    text = step.properties.get("rutin:extendsCaseClock") if step is not None else None
    case = work.case
    if not text or case.deadline_at is None:
        return
    if case.deadline_extended:
        work.event("case_clock_not_extended", actor=actor, task_id=row.id,
                   data={"reason": "tidsfristen har redan förlängts en gång"})
        return
    period = deadlines.parse_period(text)
    if period is None:
        return
    before = case.deadline_at
    case.deadline_at = deadlines.due_after(before, period)
    case.deadline_extended = True
    work.event("case_clock_extended", actor=actor, task_id=row.id,
               data={"by": text, "from": before.isoformat(), "to": case.deadline_at.isoformat()})


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


def fire(engine: Any, s: Any, timer: Any, case: Any, now: datetime) -> str:
    """Scheduler handler: the statutory deadline has passed; tell the case unit's managers once."""
    from . import notifications, org
    from .runtime import CaseWork

    if case is None or case.status != "active" or case.deadline_paused_at is not None:
        return "cancelled"
    work = CaseWork(engine, s, case)
    conn = s.connection()
    _, _, managers = org.managers(conn, org.tree(engine), case.org_unit_id, now)
    handlers = sorted({r.assignee for r in _open(s, case.id) if r.assignee})
    who = list(dict.fromkeys([*handlers, *managers]))
    label = case.business_key or case.id[:8]
    notifications.notify(conn, now, who, kind="case_deadline", dedupe=f"deadline:{timer['id']}", case_id=case.id,
                         subject=f"Tidsfristen har passerats: ärende {label}",
                         body=f"Ärendet {label} ({work.model.name}) skulle ha avgjorts senast "
                              f"{case.deadline_at.astimezone(deadlines.STOCKHOLM):%Y-%m-%d}.")
    work.event("case_deadline_passed", actor="scheduler", data={"deadline": case.deadline_at.isoformat(),
                                                                 "notified": who})
    return "fired"


def _open(s: Any, case_id: str) -> list[Any]:
    import sqlalchemy as sa

    from .models import HumanTask

    return list(s.execute(sa.select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.status == "open")
                          ).scalars())
