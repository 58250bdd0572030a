"""Who a manager may give a task to: the people holding its step's role in its unit, with who is away.

Read from the task row, the cached model and the organisation tables, never a workflow. The
step's own role counts as well as the row's candidates, so a task escalated to the manager (its
candidates then the manager's role) can be handed back to a handläggare of the step's role.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority import org, routing
from ..authority.identity import Actor
from ..core import Engine
from ..store.models import Absence, HumanTask, User, UserRole
from .views import candidates_of, oversees


def step_role_keys(engine: Engine, row: HumanTask) -> set[str]:
    """The scoped role keys of the task's step as the diagram names them, in the task's unit
    (groups naming a case variable are left out: only the row's candidates know them)."""
    return routing.step_role_keys(org.tree(engine), engine.model(row.process_version_id).steps.get(row.spec_name),
                                  row.org_unit_id)


def holds_step_role(engine: Engine, row: HumanTask, person: Actor) -> bool:
    """Whether a person holds the task's step role in the task's unit (after an escalation too)."""
    return bool(person.roles & step_role_keys(engine, row))


def _holders(s: Session, keys: set[str], now: datetime) -> set[str]:
    names: set[str] = set()
    for key in keys:
        role, _, unit = key.partition("@")
        unit_match = UserRole.org_unit_id == unit if unit else UserRole.org_unit_id.is_(None)
        names |= set(s.execute(
            sa.select(User.name).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role_key == role, unit_match, User.active.is_(True), org.role_active(now))
        ).scalars())
    return names


def assignable(engine: Engine, actor: Actor, task_id: str) -> list[dict[str, Any]]:
    """The people the actor may give an open task to, by display name: each with `name`,
    `display_name` and `away_until` (the end of a present absence; they may not be chosen).

    Empty unless the actor oversees the task (its unit's manager, an administrator); the task's
    present assignee is left out.
    """
    now = engine.clock.now()
    with engine.db.read() as s:
        row = s.get(HumanTask, task_id)
        if row is None or row.status != "open" or not oversees(actor, row):
            return []
        roles, users = candidates_of(row)
        names = (_holders(s, roles | step_role_keys(engine, row), now) | users) - {row.assignee}
        if not names:
            return []
        people = s.execute(sa.select(User.name, User.display_name)
                           .where(User.name.in_(sorted(names)), User.active.is_(True))).all()
        away = dict(s.execute(
            sa.select(User.name, sa.func.max(Absence.ends_at)).join(Absence, Absence.user_id == User.id)
            .where(User.name.in_(sorted(names)), Absence.starts_at <= now, Absence.ends_at > now)
            .group_by(User.name)
        ).all())
    listed = [{"name": n, "display_name": shown or n, "away_until": away.get(n)} for n, shown in people]
    return sorted(listed, key=lambda p: (p["display_name"].casefold(), p["name"]))
