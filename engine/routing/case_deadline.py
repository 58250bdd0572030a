"""Telling people about a case's statutory deadline: each warning before it, and the notice when it
passes, once per deadline value.

When they fall due is the case clock's (`engine.clocks.case_clock`: the ``case_warning`` and
``case_deadline`` timer rows, kept in step with the deadline as it moves); who hears is decided
here when the scheduler fires them: the case's handlers, and its unit's managers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority import org
from ..clocks import case_clock, deadlines
from ..execution.runtime import CaseWork
from ..store.models import HumanTask
from . import notifications


def _current(timer: Any, case: Any) -> bool:
    """Whether a deadline timer is still about the case's deadline as it stands."""
    if case is None or case.status != "active" or case.deadline_paused_at is not None or case.deadline_at is None:
        return False
    meant = (timer["data"] or {}).get("for")
    return meant is None or meant == case.deadline_at.astimezone(UTC).isoformat()


def fire(engine: Any, s: Session, timer: Any, case: Any, now: datetime) -> str:
    """Scheduler handler: the statutory deadline has passed; tell the case's handlers and managers once."""
    if not _current(timer, case):
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


def fire_warning(engine: Any, s: Session, timer: Any, case: Any, now: datetime) -> str:
    """Scheduler handler: a warning before the case deadline (its handlers, or its unit's managers)."""
    if not _current(timer, case):
        return "cancelled"
    work = CaseWork(engine, s, case)
    ladder = case_clock.warning_ladder(work.model)
    number = int(timer["ref"] or 0)
    if number >= len(ladder):
        return "cancelled"
    step = ladder[number]
    if step.sign < 0 and case.deadline_at <= now:
        return "cancelled"  # a warning before a deadline that has passed (the deadline's notice said it)
    conn = s.connection()
    handlers = sorted({r.assignee for r in _open(s, case.id) if r.assignee})
    unit = None
    if step.action == "notify_manager":
        unit, _, who = org.managers(conn, org.tree(engine), case.org_unit_id, now)
        if not who:
            who = handlers  # no manager in the chain: at least those who work on the case hear of it
    else:
        who = handlers
    label = case.business_key or case.id[:8]
    deadline = case.deadline_at.astimezone(deadlines.STOCKHOLM)
    passed = case.deadline_at <= now
    subject = (f"Tidsfristen har passerats: ärende {label}" if passed
               else f"Tidsfristen närmar sig: ärende {label} ska avgöras senast {deadline:%Y-%m-%d}")
    left = "" if passed else f" Det återstår {_working_days_left(now, case.deadline_at)} arbetsdagar."
    notifications.notify(conn, now, who, kind="case_warning", dedupe=f"casewarn:{timer['id']}", case_id=case.id,
                         subject=subject,
                         body=f"Ärendet {label} ({work.model.name}) ska avgöras senast {deadline:%Y-%m-%d}.{left}")
    work.event("case_deadline_warning", actor="scheduler",
               data={"deadline": case.deadline_at.isoformat(), "action": step.action,
                     "offset": f"{'-' if step.sign < 0 else '+'}{step.offset}", "unit": unit, "notified": who})
    return "fired"


def _working_days_left(now: datetime, deadline: datetime) -> int:
    day, last = now.astimezone(deadlines.STOCKHOLM).date(), deadline.astimezone(deadlines.STOCKHOLM).date()
    n = 0
    while day < last:
        day += timedelta(days=1)
        n += int(deadlines.is_working_day(day))
    return n


def _open(s: Session, case_id: str) -> list[Any]:
    return list(s.execute(sa.select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.status == "open")
                          ).scalars())
