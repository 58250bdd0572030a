"""Absences: a person who is away gets no new tasks, and their open work goes to others.

When an absence begins (at once, or later through a timer row of kind ``absence``), whether it
was registered through the API, the CLI or an organisation import, each open task assigned to
the person is handed on: a work task goes back to its role's other holders (it
is unassigned), a decision task to the delegation ordinance's substitute when one is present
(`CaseWork.cover`, which asks `engine.authority.routing`), else back to the role. Each
hand-over is an audit event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority import org, routing
from ..authority.identity import Actor, require_writer
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..clocks import timers
from ..core import Engine
from ..execution.runtime import CaseWork, load_task, locked_case
from ..store.models import Absence, Case, HumanTask, Timer, User, UserRole

_absences = cast(sa.Table, Absence.__table__)
_user_roles = cast(sa.Table, UserRole.__table__)
REASON_MAX = int(getattr(_absences.c.reason.type, "length", None) or 200)
# Ids beyond a signed 64-bit integer exist in no table, and SQLite refuses to even compare them.
_MAX_ID = 2**63 - 1


def register(engine: Engine, actor: Actor, user: str, starts_at: datetime, ends_at: datetime,
             reason: str | None = None) -> dict[str, Any]:
    """Record an absence (one's own, or as a manager or admin) and hand on open work when it begins."""
    require_writer(actor)
    if not isinstance(user, str) or not user.strip():
        raise InvalidInput("user ska vara ett användarnamn.", field="user")
    if reason is not None and not isinstance(reason, str):
        raise InvalidInput("reason ska vara text.", field="reason")
    if reason is not None and len(reason) > REASON_MAX:
        raise InvalidInput(f"reason får vara högst {REASON_MAX} tecken.", field="reason")
    if ends_at <= starts_at:
        raise InvalidInput("Frånvaron måste sluta efter att den börjar.")
    now = engine.clock.now()
    with engine.db.write() as s:
        person = s.execute(sa.select(User).where(User.name == user)).scalar_one_or_none()
        if person is None:
            raise NotFound(f"Användaren {user!r} finns inte.")
        if not _may_manage(s, actor, person, now):
            raise Forbidden("Du kan bara registrera frånvaro för dig själv eller dina medarbetare.")
        role = _registrar_role(s, engine, actor, person, now)
        absence_id = add(s, now, person, starts_at, ends_at, reason)
    moved = hand_on(engine, user, actor.name, role=role) if starts_at <= now < ends_at else []
    return {"id": absence_id, "user": user, "from": starts_at.isoformat(), "to": ends_at.isoformat(),
            "reason": reason, "handed_on": moved}


def add(s: Session, now: datetime, person: User, starts_at: datetime, ends_at: datetime, reason: str | None) -> int:
    """Store an absence inside the caller's transaction; one that begins later gets the timer that
    hands the person's work on when it does (the caller hands on at once one already begun)."""
    absence = Absence(user_id=person.id, starts_at=starts_at, ends_at=ends_at, reason=reason)
    s.add(absence)
    s.flush()
    if starts_at > now:
        s.connection().execute(timers.INSERT, {"kind": "absence", "ref": str(absence.id), "due_at": starts_at,
                                               "status": "pending", "data": {"user": person.name}})
    return int(absence.id)


def _may_manage(s: Session, actor: Actor, person: User, now: datetime) -> bool:
    return actor.name == person.name or actor.is_admin or _manages(s, actor, person.id, now)


def _registrar_role(s: Session, engine: Engine, actor: Actor, person: User, now: datetime) -> str | None:
    """The role under which someone records another's absence (None: one's own, as oneself)."""
    if actor.name == person.name:
        return None
    if _manages(s, actor, person.id, now):
        t = org.tree(engine)
        units = _units_of(s, person.id, now)
        for unit in sorted(u for u in units if u):
            for u in t.chain(unit):
                manager_role = t.units[u].manager_role
                if manager_role and actor.holds(t.canonical(manager_role), u):
                    return manager_role
        return "chef"
    return "admin" if actor.is_admin else None


def _units_of(s: Session, user_id: int, now: datetime) -> set[str | None]:
    """The units where a person holds a role at `now`: a role that has ended (or not begun) makes
    no one their manager, just as it gives them no work."""
    return set(s.execute(sa.select(_user_roles.c.org_unit_id)
                         .where(_user_roles.c.user_id == user_id, org.role_active(now))).scalars())


def _manages(s: Session, actor: Actor, user_id: int, now: datetime) -> bool:
    return bool(_units_of(s, user_id, now) & actor.manages)


def _json(a: Absence, name: str, now: datetime) -> dict[str, Any]:
    return {"id": a.id, "user": name, "from": a.starts_at.isoformat(), "to": a.ends_at.isoformat(),
            "reason": a.reason, "current": a.starts_at <= now < a.ends_at}


def list_absences(engine: Engine, actor: Actor, *, user: str | None = None,
                  include_past: bool = False) -> list[dict[str, Any]]:
    """Absences the actor may see (their own, their staff's; admins and auditors everyone's),
    current and coming ones first by start, or with `include_past` the ended ones too."""
    now = engine.clock.now()
    with engine.db.read() as s:
        q = sa.select(Absence, User).join(User, User.id == Absence.user_id).order_by(Absence.starts_at, Absence.id)
        if user:
            q = q.where(User.name == user)
        if not include_past:
            q = q.where(Absence.ends_at > now)
        if not (actor.is_admin or actor.is_auditor):
            staff = sa.select(_user_roles.c.user_id).where(_user_roles.c.org_unit_id.in_(sorted(actor.manages)),
                                                           org.role_active(now))
            q = q.where(sa.or_(User.name == actor.name, User.id.in_(staff)))
        return [_json(a, u.name, now) for a, u in s.execute(q).all()]


def cancel(engine: Engine, actor: Actor, absence_id: int) -> dict[str, Any]:
    """Withdraw an absence: one not yet begun is removed with its timer, one under way ends now."""
    require_writer(actor)
    if not 0 < absence_id <= _MAX_ID:
        raise NotFound(f"Frånvaron {absence_id} finns inte.")
    now = engine.clock.now()
    with engine.db.write() as s:
        found = s.execute(sa.select(Absence, User).join(User, User.id == Absence.user_id)
                          .where(Absence.id == absence_id)).one_or_none()
        if found is None or not _may_manage(s, actor, found[1], now):
            # Someone else's absence is not theirs to know of.
            raise NotFound(f"Frånvaron {absence_id} finns inte.")
        absence, person = found
        if absence.ends_at <= now:
            raise Conflict("Frånvaron är redan avslutad.")
        out = _json(absence, person.name, now)
        if absence.starts_at > now:
            s.execute(sa.update(Timer).where(Timer.kind == "absence", Timer.ref == str(absence.id),
                                             Timer.status == "pending").values(status="cancelled", fired_at=now))
            s.delete(absence)
            out.update(outcome="cancelled", current=False)
        else:
            absence.ends_at = now
            out.update(outcome="ended", to=now.isoformat(), current=False)
    return out


def hand_on(engine: Engine, user: str, by: str, *, role: str | None = None) -> list[str]:
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
            _hand_on_task(engine, CaseWork(engine, s, case), row, user, by, role)
            moved.append(task_id)
    return moved


def _hand_on_task(engine: Engine, work: CaseWork, row: HumanTask, user: str, by: str, role: str | None) -> None:
    target = work.cover(row, routing.held(row), user).assignee
    row.assignee = target
    # Who handed it on, and as what: the absent person under the task's role, their manager, an
    # administrator, or the scheduler when an absence registered ahead of time began.
    work.event("task_reassigned", actor=by, role=role or (row.role if by == user else None) or "system",
               task_id=row.id, element_id=row.element_id,
               data={"name": row.name, "from": user, "to": target, "assignee": target, "reason": "frånvaro"})


def fire_absence(engine: Engine, s: Session, row: Any, case: Case | None, now: datetime) -> str:
    """Timer handler: an absence registered in advance has begun."""
    user = (row["data"] or {}).get("user")
    if not user or (row["ref"] and s.get(Absence, int(row["ref"])) is None):
        return "cancelled"  # the absence was withdrawn
    # Each hand-over locks its own case, so it is not done here: one timer row per task, written in
    # this transaction, hands it on through the scheduler (a crash in between loses none of them).
    conn = s.connection()
    rows = conn.execute(sa.select(HumanTask.id, HumanTask.case_id)
                        .where(HumanTask.assignee == user, HumanTask.status == "open")).all()
    if rows:
        conn.execute(timers.INSERT, [{"kind": "absence_task", "case_id": case_id, "task_id": task_id,
                                      "ref": row["ref"], "due_at": now, "status": "pending", "data": {"user": user}}
                                     for task_id, case_id in rows])
    return "fired"


def fire_absence_task(engine: Engine, s: Session, row: Any, case: Case | None, now: datetime) -> str:
    """Timer handler: hand on one task of a person whose absence has begun (see `fire_absence`)."""
    user = str((row["data"] or {}).get("user") or "")
    task = load_task(s, row["task_id"]) if row["task_id"] else None
    if case is None or task is None or task.status != "open" or not user or task.assignee != user:
        return "cancelled"
    _hand_on_task(engine, CaseWork(engine, s, case), task, user, "scheduler", None)
    return "fired"


def is_absent(engine: Engine, user: str, at: datetime | None = None) -> bool:
    """Whether a person is away at an instant (now by default)."""
    now = at or engine.clock.now()
    with engine.db.read() as s:
        return s.execute(
            sa.select(_absences.c.id).join(User, User.id == _absences.c.user_id)
            .where(User.name == user, _absences.c.starts_at <= now, _absences.c.ends_at > now)
        ).first() is not None
