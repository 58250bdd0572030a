"""Who owns a process, and so who decides about its new versions: always the process as published.

A draft's diagram may declare an owner role (``rutin:owner``, in any dialect); that is a proposal,
never what decides who approves the draft. A draft is judged by the owner role of the process's
published version; a process never published, or a draft that proposes another owner, only an
administrator approves. Everything else an owner may do (deadline policies, the process's unit,
its measures, the yearly review) is likewise decided by the published version.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bpmn.model import ProcessModel

from ..core import Engine
from ..store.models import ProcessVersion
from .identity import Actor
from .org import tree

DEFAULT_OWNER_ROLE = "Processägare"


def holds_role(engine: Engine, actor: Actor, role: str) -> bool:
    """Whether the actor holds `role` (in any unit, or across the group)."""
    key = tree(engine).canonical(role)
    return key in actor.roles or any(r.startswith(key + "@") for r in actor.roles)


def holds_owner_role(engine: Engine, actor: Actor, v: ProcessVersion) -> bool:
    """Whether the actor holds a published version's process owner role (in any unit)."""
    return holds_role(engine, actor, v.owner_role or DEFAULT_OWNER_ROLE)


def governing_version(s: Session, key: str) -> ProcessVersion | None:
    """The version that decides about a process: the published one (None for a key never published)."""
    return cast(ProcessVersion | None, s.execute(
        sa.select(ProcessVersion).where(ProcessVersion.key == key,
                                        ProcessVersion.status.in_(("published", "superseded")))
        .order_by(ProcessVersion.version.desc()).limit(1)).scalar_one_or_none())


def governing_owner(s: Session, key: str) -> str | None:
    """The owner role of the process as published; None for a key never published."""
    v = governing_version(s, key)
    return None if v is None else (v.owner_role or DEFAULT_OWNER_ROLE)


def proposed_owner(engine: Engine, current: str | None, declared: str | None) -> str | None:
    """The owner role a draft would install where it is not `current`: the declared one when it
    names another role, the declared one (or the default) for a process never published."""
    if current is None:
        return declared or DEFAULT_OWNER_ROLE
    if declared and tree(engine).canonical(declared) != tree(engine).canonical(current):
        return declared
    return None


def refresh_owner(engine: Engine, s: Session, v: ProcessVersion) -> None:
    """Bring a draft's owner columns to the process as published now (it may have changed since upload)."""
    current = governing_owner(s, v.key)
    v.owner_role = current
    # Not through the engine's model cache: this transaction may still roll back, and SQLite reuses row ids.
    v.proposed_owner_role = proposed_owner(engine, current, ProcessModel.from_json(v.model).owner)


def approval_rule(v: ProcessVersion) -> dict[str, Any]:
    """Who may approve a draft, as the pages and the API say it: the owner role in force, whether
    only an administrator may (a new process, a change of owner), and why, in Swedish."""
    current, proposed = v.owner_role, v.proposed_owner_role
    if current is None:
        notice = (f"Processen är ny och har ingen publicerad version; en administratör som inte laddat upp versionen "
                  f"måste godkänna den. Processägare blir {proposed or DEFAULT_OWNER_ROLE}.")
    elif proposed is not None:
        notice = f"Versionen byter processägare från {current} till {proposed}; en administratör måste godkänna bytet."
    else:
        notice = (f"En innehavare av processägarrollen {current} eller en administratör, som inte själv laddat upp "
                  "versionen, kan godkänna den.")
    return {"owner_role": current, "proposed_owner_role": proposed,
            "admin_only": current is None or proposed is not None, "notice": notice}


def may_approve(engine: Engine, actor: Actor, v: ProcessVersion) -> bool:
    """Whether the actor may approve draft `v` (as its owner columns stand), so that a page offers
    the button only to them; `processes.approve` decides again."""
    if v.status != "draft" or actor.name == v.uploaded_by or actor.is_read_only:
        return False
    if actor.is_admin:
        return True
    rule = approval_rule(v)
    return not rule["admin_only"] and v.owner_role is not None and holds_role(engine, actor, v.owner_role)


def approvable(engine: Engine, actor: Actor, key: str) -> set[int]:
    """The numbers of the drafts of `key` the actor may approve (for a page's buttons)."""
    with engine.db.read() as s:
        drafts = s.execute(sa.select(ProcessVersion).where(ProcessVersion.key == key,
                                                           ProcessVersion.status == "draft")).scalars().all()
        return {v.version for v in drafts if may_approve(engine, actor, v)}
