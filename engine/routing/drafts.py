"""Drafts waiting for approval: the list designers, owners and administrators see, and the
notifications that tell the process's owners of a new draft and its uploader of a rejection.

Deploying and rejecting themselves live in `engine.catalogue.processes` (a layer below, which
knows nothing of notifications); the pages and the API call them through here so that whoever
decides hears of it. A notification is written in the version's own transaction (it exists exactly
when the change does, and its e-mail leaves only after the commit), with a dedupe key per version,
so writing it again is a no-op.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority import org
from ..authority.identity import Actor
from ..authority.ownership import DEFAULT_OWNER_ROLE, may_approve
from ..catalogue import processes
from ..catalogue.processes import Deployed
from ..core import Engine
from ..store.models import ProcessVersion, User, UserRole
from . import notifications

_roles = cast(sa.Table, UserRole.__table__)
_users = cast(sa.Table, User.__table__)


def owner_holders(engine: Engine, conn: sa.Connection, role: str) -> list[str]:
    """The active people holding `role` in any unit or across the group, in name order."""
    key = org.tree(engine).canonical(role)
    now = engine.clock.now()
    return list(conn.execute(
        sa.select(_users.c.name).join(_roles, _roles.c.user_id == _users.c.id)
        .where(_roles.c.role_key == key, _users.c.active.is_(True), org.role_active(now))
        .distinct().order_by(_users.c.name)).scalars())


def waiting(engine: Engine, actor: Actor) -> list[dict[str, Any]]:
    """The drafts waiting for approval that the actor may see: all of them for designers and
    administrators, those of processes whose owner role the actor holds for anyone else. Each says
    who uploaded it, when, how many diagnostics it has, and whether the actor may approve it."""
    out = []
    with engine.db.read() as s:
        drafts = s.execute(sa.select(ProcessVersion).where(ProcessVersion.status == "draft")
                           .order_by(ProcessVersion.uploaded_at.desc(), ProcessVersion.id.desc())).scalars().all()
        for v in drafts:
            owner = v.owner_role or v.proposed_owner_role or DEFAULT_OWNER_ROLE
            if not (actor.is_designer or actor.is_admin or org.tree(engine).canonical(owner) in _role_keys(actor)):
                continue
            out.append({"key": v.key, "name": v.name, "version": v.version, "uploaded_by": v.uploaded_by,
                        "uploaded_at": v.uploaded_at.isoformat(), "diagnostics": len(v.diagnostics or []),
                        "owner_role": v.owner_role, "approvable": may_approve(engine, actor, v)})
    return out


def _role_keys(actor: Actor) -> set[str]:
    """The actor's role keys without their units (``role@unit`` → ``role``)."""
    return {r.split("@", 1)[0] for r in actor.roles}


def deploy(engine: Engine, actor: Actor, data: bytes, filename: str | None = None,
           forms: dict[str, bytes] | None = None) -> list[Deployed]:
    """Deploy a BPMN document (`engine.catalogue.processes.deploy`) and, in the same transaction,
    tell the owners of each process a new draft was made for (the holders of the owner role of the
    process as published; for a new process, of the owner role it proposes) that it waits for
    them. The uploader is not told of their own upload."""
    return processes.deploy(engine, actor, data, filename, forms,
                            then=lambda s, deployed: _notify_new_drafts(engine, s, actor, deployed))


def _notify_new_drafts(engine: Engine, s: Session, actor: Actor, deployed: list[Deployed]) -> None:
    now = engine.clock.now()
    conn = s.connection()
    for d in deployed:
        if not d.created or d.status != "draft":
            continue
        v = s.get(ProcessVersion, d.id)
        if v is None:
            continue
        owner = v.owner_role or v.proposed_owner_role or DEFAULT_OWNER_ROLE
        to = [n for n in owner_holders(engine, conn, owner) if n != actor.name]
        notifications.notify(
            conn, now, to, kind="draft_waiting", dedupe=f"draft:{v.key}:{v.version}",
            subject=f"Ny version av {v.name or v.key} väntar på godkännande",
            body=(f"Version {v.version} av processen {v.name or v.key} har laddats upp och väntar på att "
                  f"någon granskar och godkänner eller avvisar den. Du har rollen {owner}."))


def reject(engine: Engine, actor: Actor, key: str, number: int, reason: Any) -> dict[str, Any]:
    """Reject a draft with a reason (`engine.catalogue.processes.reject` decides who may) and tell
    its uploader why, in the same transaction."""

    def tell(s: Session, result: dict[str, Any]) -> None:
        notifications.notify(
            s.connection(), engine.clock.now(), [result["uploaded_by"]], kind="draft_rejected",
            dedupe=f"draft-rejected:{key}:{number}",
            subject=f"Version {number} av {result['name'] or key} avvisades",
            body=f"Version {number} av processen {result['name'] or key} avvisades. Motivering: "
                 f"{result['rejection_reason']}")

    return processes.reject(engine, actor, key, number, reason, then=tell)
