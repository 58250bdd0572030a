"""Absences: a person who is away gets no new tasks, and their open work goes to others.

When an absence begins (at once, or later through a timer row of kind ``absence``), each open
task assigned to the person is handed on: a work task goes back to its role's other holders (it
is unassigned), a decision task to the delegation ordinance's substitute when one is present
(`delegation.substitute_for`), else back to the role. Each hand-over is an audit event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from . import timers
from .core import Engine
from .errors import Forbidden, InvalidInput, NotFound
from .identity import Actor
from .models import Absence, Case, HumanTask, User
from .runtime import CaseWork, load_task, locked_case

_absences = cast(sa.Table, Absence.__table__)


def register(engine: Engine, actor: Actor, user: str, starts_at: datetime, ends_at: datetime,
             reason: str | None = None) -> dict[str, Any]:
    """Record an absence (one's own, or as a manager or admin) and hand on open work when it begins."""
    if ends_at <= starts_at:
        raise InvalidInput("Frånvaron måste sluta efter att den börjar.")
    with engine.db.write() as s:
        person = s.execute(sa.select(User).where(User.name == user)).scalar_one_or_none()
        if person is None:
            raise NotFound(f"Användaren {user!r} finns inte.")
        if actor.name != user and not actor.is_admin and not _manages(s, actor, person.id):
            raise Forbidden("Du kan bara registrera frånvaro för dig själv eller dina medarbetare.")
        absence = Absence(user_id=person.id, starts_at=starts_at, ends_at=ends_at, reason=reason)
        s.add(absence)
        s.flush()
        absence_id = absence.id
        if starts_at > engine.clock.now():
            s.connection().execute(timers.INSERT, {"kind": "absence", "ref": str(absence_id), "due_at": starts_at,
                                                   "status": "pending", "data": {"user": user}})
    moved = hand_on(engine, user, actor.name) if starts_at <= engine.clock.now() else []
    return {"id": absence_id, "user": user, "from": starts_at.isoformat(), "to": ends_at.isoformat(),
            "reason": reason, "handed_on": moved}


def _manages(s: Any, actor: Actor, user_id: int) -> bool:
    from .models import UserRole

    units = set(s.execute(sa.select(UserRole.org_unit_id).where(UserRole.user_id == user_id)).scalars())
    return bool(units & actor.manages)


def hand_on(engine: Engine, user: str, by: str) -> list[str]:
    """Hand on every open task assigned to `user`; return the task ids moved."""
    with engine.db.read() as s:
        rows = s.execute(
            sa.select(HumanTask.id, HumanTask.case_id).where(HumanTask.assignee == user, HumanTask.status == "open")
        ).all()
    moved = []
    for task_id, case_id in rows:
        with locked_case(engine, case_id) as (s, case):
            row = load_task(s, task_id)
            if row is None or row.status != "open" or row.assignee != user:
                continue
            _hand_on_task(engine, CaseWork(engine, s, case), row, user, by)
            moved.append(task_id)
    return moved


def _hand_on_task(engine: Engine, work: CaseWork, row: HumanTask, user: str, by: str) -> None:
    from .delegation import substitute_for

    target = substitute_for(engine, work, row, exclude={user}) if work.is_decision(row) else None
    row.assignee = target
    work.touch(row)
    work.event("task_reassigned", actor=by, task_id=row.id, element_id=row.element_id,
               data={"name": row.name, "from": user, "to": target, "reason": "frånvaro"})


def fire_absence(engine: Engine, s: Any, row: Any, case: Case | None, now: datetime) -> str:
    """Timer handler: an absence registered in advance has begun."""
    user = (row["data"] or {}).get("user")
    if not user:
        return "cancelled"
    # The hand-over locks each case in its own transaction after this one commits.
    s.info.setdefault("after_commit", []).append(lambda: hand_on(engine, user, "scheduler"))
    return "fired"


def is_absent(engine: Engine, user: str, at: datetime | None = None) -> bool:
    """Whether a person is away at an instant (now by default)."""
    now = at or engine.clock.now()
    with engine.db.read() as s:
        return s.execute(
            sa.select(_absences.c.id).join(User, User.id == _absences.c.user_id)
            .where(User.name == user, _absences.c.starts_at <= now, _absences.c.ends_at > now)
        ).first() is not None
