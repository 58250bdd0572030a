"""Accounts that end, and the personal access tokens people and integrations hold.

Deactivating an account (from the CLI, the API or an organisation import with ``active: false``)
ends it at once everywhere: its page sessions (the session generation moves on, and each request
asks the database whether the user is active), its tokens (revoked, and each request asks the
database), its claimed open tasks (they go back to their role, with an event in each case's
history) and its place in every picker (who holds a role counts only active users). What it did
stays in every history under its name. Reactivating it lets the person sign in again; tokens
revoked at deactivation stay revoked (new ones are made). Each step is in the security log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority import security_log
from ..authority.identity import Actor, issue_token, require_writer, revoke_all, token_hash
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..core import Engine
from ..execution.runtime import CaseWork, load_task, locked_case
from ..store.models import ApiToken, HumanTask, User

DEACTIVATED_REASON = "kontot avaktiverat"


def _admin(actor: Actor, what: str) -> None:
    require_writer(actor)
    if not actor.is_admin:
        raise Forbidden(f"Bara administratörer kan {what}.")


def _user(s: Session, name: str) -> User:
    user = s.execute(sa.select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"Användaren {name!r} finns inte.")
    return user


def end_account(s: Session, now: datetime, user: User, by: str, reason: str | None = None) -> None:
    """Deactivate `user` in the caller's transaction: sessions end, tokens are revoked, the log
    records it. Their claimed tasks are handed back afterwards (`return_work`), case by case."""
    user.active = False
    user.deactivated_at = now
    user.session_generation = (user.session_generation or 0) + 1
    revoke_all(s, now, user, by, reason=DEACTIVATED_REASON)
    security_log.record(s, now, security_log.DEACTIVATED, by, subject=user.name,
                        **({"reason": reason} if reason else {}))


def restore_account(s: Session, now: datetime, user: User, by: str, reason: str | None = None) -> None:
    """Reactivate `user` in the caller's transaction, recorded in the log."""
    user.active = True
    user.deactivated_at = None
    security_log.record(s, now, security_log.REACTIVATED, by, subject=user.name,
                        **({"reason": reason} if reason else {}))


def deactivate(engine: Engine, actor: Actor, name: str, reason: str | None = None) -> dict[str, Any]:
    """End an account (administrators; not one's own): see the module."""
    _admin(actor, "avaktivera konton")
    if name == actor.name:
        raise Conflict("Du kan inte avaktivera ditt eget konto.")
    _check_reason(reason)
    with engine.db.write() as s:
        user = _user(s, name)
        if not user.active:
            raise Conflict(f"Kontot {name} är redan avaktiverat.")
        end_account(s, engine.clock.now(), user, actor.name, reason)
    returned = return_work(engine, name, actor.name)
    return {"name": name, "active": False, "returned_tasks": returned}


def reactivate(engine: Engine, actor: Actor, name: str, reason: str | None = None) -> dict[str, Any]:
    """Let a deactivated account sign in again (administrators)."""
    _admin(actor, "återaktivera konton")
    _check_reason(reason)
    with engine.db.write() as s:
        user = _user(s, name)
        if user.active:
            raise Conflict(f"Kontot {name} är redan aktivt.")
        restore_account(s, engine.clock.now(), user, actor.name, reason)
    return {"name": name, "active": True}


def _check_reason(reason: Any) -> None:
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise InvalidInput("reason ska vara text på högst 500 tecken.", field="reason")


def return_work(engine: Engine, name: str, by: str) -> list[str]:
    """Give every open task `name` has claimed back to its role; return the task ids.

    Each case is locked on its own, as a hand-over at an absence is; a task completed or taken
    over in between is left as it is."""
    with engine.db.read() as s:
        rows = s.execute(sa.select(HumanTask.id, HumanTask.case_id)
                         .where(HumanTask.assignee == name, HumanTask.status == "open")).all()
    moved = []
    for task_id, case_id in rows:
        with locked_case(engine, case_id) as (s, case):
            row = load_task(s, task_id)
            if row is None or row.status != "open" or row.assignee != name:
                continue
            work = CaseWork(engine, s, case)
            row.assignee = None
            work.event("task_reassigned", actor=by, role="admin" if by != "system" else "system", task_id=row.id,
                       element_id=row.element_id,
                       data={"name": row.name, "from": name, "to": None, "assignee": None,
                             "reason": DEACTIVATED_REASON})
            case.revision += 1
            moved.append(task_id)
    return moved


# -- tokens -------------------------------------------------------------------------------------


def _token_json(row: ApiToken, owner: str, now: datetime) -> dict[str, Any]:
    state = "revoked" if row.revoked_at else ("expired" if row.expires_at <= now else "active")
    return {"id": row.id, "name": row.name, "user": owner, "created_at": row.created_at.isoformat(),
            "created_by": row.created_by, "expires_at": row.expires_at.isoformat(),
            "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
            "revoked_at": row.revoked_at.isoformat() if row.revoked_at else None, "revoked_by": row.revoked_by,
            "processes": row.start_only, "state": state}


def create_token(engine: Engine, actor: Actor, *, label: str, days: int | None = None, user: str | None = None,
                 processes: list[str] | None = None) -> dict[str, Any]:
    """A new token for oneself, or (administrators) for another account, such as an integration's
    limited to starting cases of `processes`. The token itself is in the answer, and only there."""
    # Not `require_writer`: an auditor reads through the API too, and a token of one's own changes
    # nothing in Rutin but one's own credentials.
    if actor.start_only is not None:
        raise Forbidden("En integrations token kan inte skapa tokens.")
    owner = user or actor.name
    if owner != actor.name and not actor.is_admin:
        raise Forbidden("Bara administratörer kan skapa tokens åt andra.")
    if not isinstance(label, str):
        raise InvalidInput("Ge token ett namn.", field="name")
    token = issue_token(engine, owner, label=label, days=days, start_only=processes, by=actor.name)
    with engine.db.read() as s:
        row = s.execute(sa.select(ApiToken).where(ApiToken.token_hash == token_hash(token))).scalar_one()
        return {**_token_json(row, owner, engine.clock.now()), "token": token}


def list_tokens(engine: Engine, actor: Actor, *, user: str | None = None, everyone: bool = False) -> dict[str, Any]:
    """One's own tokens; an administrator's or auditor's: anyone's (`user`) or everyone's."""
    if (everyone or (user and user != actor.name)) and not actor.is_auditor:
        raise Forbidden("Bara administratörer och revisorer kan se andras tokens.")
    query = sa.select(ApiToken, User.name).join(User, User.id == ApiToken.user_id)
    if not everyone:
        query = query.where(User.name == (user or actor.name))
    now = engine.clock.now()
    with engine.db.read() as s:
        rows = s.execute(query.order_by(ApiToken.id.desc())).all()
        return {"items": [_token_json(t, owner, now) for t, owner in rows]}


def revoke_token(engine: Engine, actor: Actor, token_id: int) -> dict[str, Any]:
    """Revoke one token: its owner (an auditor too), or an administrator."""
    if actor.start_only is not None:
        raise Forbidden("En integrations token kan inte återkalla tokens.")
    now = engine.clock.now()
    with engine.db.write() as s:
        found = s.execute(sa.select(ApiToken, User.name).join(User, User.id == ApiToken.user_id)
                          .where(ApiToken.id == token_id)).one_or_none()
        if found is None or (found[1] != actor.name and not actor.is_admin):
            raise NotFound(f"Token {token_id} finns inte.")
        row, owner = found
        if row.revoked_at is None:
            row.revoked_at, row.revoked_by = now, actor.name
            security_log.record(s, now, security_log.TOKEN_REVOKED, actor.name, subject=owner, token=row.id,
                                name=row.name)
        return _token_json(row, owner, now)


def account_list(engine: Engine, actor: Actor) -> dict[str, Any]:
    """Every account, active or not (administrators and auditors)."""
    if not actor.is_auditor:
        raise Forbidden("Bara administratörer och revisorer kan se alla konton.")
    with engine.db.read() as s:
        users = s.execute(sa.select(User).order_by(User.name)).scalars().all()
        return {"items": [{"name": u.name, "display_name": u.display_name, "active": u.active,
                           "deactivated_at": u.deactivated_at.isoformat() if u.deactivated_at else None}
                          for u in users]}
