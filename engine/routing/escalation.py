"""Escalation: what a step of a task's ladder does when it fires, and the follow-up reminder.

The ladder and when its steps fall due are the clocks' (`engine.clocks.ladders`,
`engine.clocks.task_clock`); a step fires here, once: a reminder, a notice to the manager chain
(``notify_manager:2`` the manager's manager), the task reassigned up it, a higher priority, or for
a decision the ordinance's substitute or superior.

Work may go up the manager chain; a decision only along the delegation ordinance. A task that
became a decision after its ladder was made (an ordinance item naming its step approved since) is
asked again when a step fires: a ``reassign_manager`` step then goes along the ordinance instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority import org, routing
from ..authority.roles import ADMIN
from ..clocks import deadlines
from ..clocks.ladders import LEVELLED, action_level
from ..clocks.task_clock import due_token
from ..core import Engine
from ..execution.runtime import CaseWork, load_task
from ..store.models import Case, HumanTask, TaskCandidate, User, UserRole
from . import notifications
from .delegation import item_for, substitute_for

RAISED_PRIORITY = 80


def _when(at: datetime) -> str:
    return at.astimezone(deadlines.STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def fire(engine: Engine, s: Session, timer: Any, case: Case | None, now: datetime) -> str:
    """Scheduler handler for ``escalation`` timers: carry out one step, once."""

    if case is None:
        return "cancelled"
    row = load_task(s, timer["task_id"])
    if row is None or row.status != "open":
        return "cancelled"
    work = CaseWork(engine, s, case)
    conn = s.connection()
    action = (timer["data"] or {}).get("action", "remind")
    late_by = now - timer["due_at"]
    late = late_by > timedelta(minutes=2)
    late_note = (f"\n\n(Skickas sent: steget skulle ha utförts {_when(timer['due_at'])}, "
                 f"{int(late_by.total_seconds() // 60)} minuter sent.)") if late else ""
    # The scheduler's instant, not the unit of work's: the step is judged as of when it fell due to run.
    router = routing.Router(conn, org.tree(engine), now)
    subject_case = f"ärende {case.business_key or case.id[:8]}"
    due = _when(row.due_at) if row.due_at else "–"
    outcome: dict[str, Any] = {"action": action, "step": timer["ref"], "late": late}
    dedupe = f"esc:{timer['id']}"
    ctx = _Firing(engine, work, conn, row, case, now, router, outcome, dedupe, subject_case, due, late_note)
    if action == "remind":
        to = [row.assignee] if row.assignee else router.pool(row.candidates or [])
        notifications.notify(conn, now, to, kind="reminder", dedupe=dedupe, case_id=case.id, task_id=row.id,
                             subject=f"Påminnelse: {row.name} ({subject_case}) förfaller {due}",
                             body=f"Uppgiften {row.name!r} i {subject_case} ska vara klar {due}.{late_note}")
        outcome["notified"] = to
    elif action_level(action)[0] == "reassign_manager" and work.is_decision(row):
        # Asked now, not when the ladder was made: an ordinance item approved since may have made
        # the task a decision, over which the manager chain has no authority. It goes, as on the
        # decision ladder, to a substitute, else is left to a superior where the item allows, else
        # someone who can see to it hears that no one with delegation has it.

        outcome["as_decision"] = True
        if not _to_substitute(ctx):
            item = item_for(work, row)
            if item is not None and item.superior_may_decide:
                _to_superior(ctx, item)
            else:
                _no_substitute(ctx)
    elif action_level(action)[0] in LEVELLED:
        # Up the manager chain, `level` steps, past the assignee (no one is escalated to about
        # themselves) and anyone away; the top of the chain where it is shorter.
        name, level = action_level(action)
        unit, manager_role, managers = router.managers(row.org_unit_id or case.org_unit_id, level=level,
                                                       exclude={row.assignee} if row.assignee else set())
        outcome.update(unit=unit, manager_role=manager_role, notified=managers, level=level)
        what = "har passerat sitt förfallodatum" if row.due_at and row.due_at <= now else "närmar sig förfallodatum"
        if name == "reassign_manager" and manager_role and unit:
            route = router.to_manager(unit, manager_role)
            conn.execute(sa.delete(TaskCandidate).where(TaskCandidate.task_id == row.id))
            conn.execute(sa.insert(TaskCandidate), [{"task_id": row.id, "kind": kind, "key": key,
                                                     "created_at": row.created_at} for kind, key in route.candidates])
            previous = row.assignee
            row.assignee, row.role = route.assignee, route.role
            row.candidates = route.keys
            row.priority = max(row.priority, RAISED_PRIORITY)
            outcome.update(previous_assignee=previous, priority=row.priority)
            what += f"; den har flyttats till {manager_role} och fått högre prioritet"
        notifications.notify(conn, now, managers, kind="escalation", dedupe=dedupe, case_id=case.id, task_id=row.id,
                             subject=f"Försenad uppgift: {row.name} ({subject_case})",
                             body=f"Uppgiften {row.name!r} i {subject_case} (förfaller {due}, "
                                  f"tilldelad {row.assignee or 'ingen'}) {what}.{late_note}")
    elif action == "substitute":
        if not _to_substitute(ctx):
            _no_substitute(ctx)
    elif action == "superior":
        item = item_for(work, row)
        if item is None or not item.superior_may_decide:
            _superior_may_not(ctx)
        else:
            _to_superior(ctx, item)
    elif action == "raise_priority":
        row.priority = max(row.priority, RAISED_PRIORITY)
        outcome["priority"] = row.priority
    work.event("escalation_step", actor="scheduler", task_id=row.id, element_id=row.element_id,
               data={**outcome, "name": row.name, "assignee": row.assignee,
                     "due": row.due_at.isoformat() if row.due_at else None,
                     "step_due": timer["due_at"].isoformat()})
    return "fired"


@dataclass
class _Firing:
    """What the parts of one step's firing share."""

    engine: Engine
    work: CaseWork
    conn: sa.Connection
    row: HumanTask
    case: Case
    now: datetime
    router: routing.Router
    outcome: dict[str, Any]
    dedupe: str
    subject_case: str
    due: str
    late_note: str


def _to_substitute(f: _Firing) -> bool:
    """Route a late decision to the ordinance's substitute and tell them; False when there is none."""
    row = f.row
    target = substitute_for(f.engine, f.work, row, exclude={row.assignee} if row.assignee else set())
    f.outcome["routed_to"] = target
    if not target:
        return False
    row.assignee = target
    notifications.notify(f.conn, f.now, [target], kind="escalation", dedupe=f.dedupe, case_id=f.case.id,
                         task_id=row.id, subject=f"Beslut till dig som ersättare: {row.name} ({f.subject_case})",
                         body=f"Beslutet {row.name!r} i {f.subject_case} förföll {f.due} och går enligt "
                              f"delegationsordningen till dig som ersättare.{f.late_note}")
    return True


def _no_substitute(f: _Firing) -> None:
    """Nobody may take the decision over: it stays where it is, but someone who can see to it (the
    unit's manager, else an administrator) hears that it is late."""
    _tell_late_decision(f, "ingen ersättare enligt delegationsordningen är tillgänglig",
                        "Försenat beslut utan ersättare",
                        ", och ingen ersättare enligt delegationsordningen är tillgänglig. Se till att någon med "
                        "befogenhet fattar det.")


def _superior_may_not(f: _Firing) -> None:
    """The ordinance lets no superior decide: no one is given the decision, but the unit's manager
    (else an administrator) hears that it is late, so that the one who holds the delegation is
    made to decide instead of the step passing in silence."""
    _tell_late_decision(f, "delegationsordningen låter inte överordnad besluta", "Försenat beslut",
                        ". Delegationsordningen låter inte överordnad fatta det; se till att den som har "
                        "delegationen gör det.")


def _tell_late_decision(f: _Firing, skipped: str, subject: str, advice: str) -> None:
    """Tell the unit's manager (past the one holding it), else an administrator, that a decision
    no one else may take over is late; `advice` ends the message's first sentence and says why."""
    row = f.row
    _, _, told = f.router.managers(row.org_unit_id or f.case.org_unit_id,
                                        exclude={row.assignee} if row.assignee else set())
    told = told or _admins(f.conn)
    f.outcome.update(notified=told, skipped=skipped)
    notifications.notify(f.conn, f.now, told, kind="escalation", dedupe=f.dedupe, case_id=f.case.id, task_id=row.id,
                         subject=f"{subject}: {row.name} ({f.subject_case})",
                         body=f"Beslutet {row.name!r} i {f.subject_case} förföll {f.due} (tilldelat "
                              f"{row.assignee or 'ingen'}){advice}{f.late_note}")


def _to_superior(f: _Firing, item: Any) -> None:
    """Tell the superiors who may decide under `item` that the decision is late."""
    # The nearest present manager above the case who is not the one already holding the
    # decision (a substitute who is also the unit's manager): every manager up the chain
    # manages the case's unit, so each may decide as superior.
    row = f.row
    holder = {row.assignee} if row.assignee else set()
    unit, _, managers = f.router.managers(f.case.org_unit_id, exclude=holder)
    f.outcome.update(unit=unit, notified=managers)
    if not managers:
        f.outcome["skipped"] = "ingen överordnad utöver den som har beslutet är tillgänglig"
    notifications.notify(f.conn, f.now, managers, kind="escalation", dedupe=f.dedupe, case_id=f.case.id,
                         task_id=row.id, subject=f"Försenat beslut: {row.name} ({f.subject_case})",
                         body=f"Beslutet {row.name!r} i {f.subject_case} förföll {f.due} (tilldelat "
                              f"{row.assignee or 'ingen'}). Enligt punkt {item.number} får du som "
                              f"överordnad fatta det.{f.late_note}")


def fire_follow_up(engine: Engine, s: Session, timer: Any, case: Case | None, now: datetime) -> str:
    """Scheduler handler for ``follow_up`` timers: remind whoever has the task (else who may take it)."""

    if case is None:
        return "cancelled"
    row = load_task(s, timer["task_id"])
    if row is None or row.status != "open" or row.follow_up_at is None:
        return "cancelled"
    meant = (timer["data"] or {}).get("for")
    if meant is not None and meant != due_token(row.follow_up_at):
        return "cancelled"  # re-dated since; its own row reminds
    work = CaseWork(engine, s, case)
    conn = s.connection()
    to = [row.assignee] if row.assignee else routing.Router(conn, org.tree(engine), now).pool(row.candidates or [])
    subject_case = f"ärende {case.business_key or case.id[:8]}"
    due = f" Den ska vara klar {_when(row.due_at)}." if row.due_at else ""
    notifications.notify(conn, now, to, kind="follow_up", dedupe=f"fu:{timer['id']}", case_id=case.id,
                         task_id=row.id, subject=f"Följ upp: {row.name} ({subject_case})",
                         body=f"Det är dags att följa upp uppgiften {row.name!r} i {subject_case} "
                              f"(uppföljning {_when(row.follow_up_at)}).{due}")
    work.event("follow_up_reminder", actor="scheduler", task_id=row.id, element_id=row.element_id,
               data={"name": row.name, "follow_up": row.follow_up_at.isoformat(), "notified": to})
    return "fired"


def _admins(conn: sa.Connection) -> list[str]:
    return sorted(set(conn.execute(sa.select(User.name).join(UserRole, UserRole.user_id == User.id)
                                   .where(UserRole.role_key == ADMIN, User.active.is_(True))).scalars()))
