"""The organisation: one tree of units for the whole group, people's roles in units, absences,
role aliases, and who manages whom.

A role named in a diagram resolves to the people holding it in the case's unit, then up the tree
where that unit has none. Each unit names its manager role; its holders (and those of the units
above) are the route of escalation. All of it is data, imported and exported as one document by
`engine.service.org_data` (an import also ends accounts and registers absences, which
`engine.routing` owns, a layer above this one).

Imports inside functions: `ownership` imports this module for the unit tree, so the calls back
to it are made at call time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..base.clock import STOCKHOLM
from ..base.errors import Forbidden, InvalidInput, NotFound
from ..core import Engine
from ..store.models import Absence, OrgUnit, ProcessUnit, ProcessVersion, RoleAlias, User, UserRole
from ..store.prepared import Prepared
from .identity import (
    forget_tokens,  # identity reads the tree when it builds an actor
    require_writer,
)
from .roles import SYSTEM_ROLES, role_key

_roles = cast(sa.Table, UserRole.__table__)
_users = cast(sa.Table, User.__table__)
_absences = cast(sa.Table, Absence.__table__)

UNIT_KINDS = ("kommun", "forvaltning", "bolag", "avdelning", "enhet", "namnd")


@dataclass
class Tree:
    """A snapshot of the unit tree and the role aliases."""

    units: dict[str, OrgUnit] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)

    def chain(self, unit_id: str | None) -> list[str]:
        """The unit and its ancestors, nearest first."""
        out: list[str] = []
        while unit_id and unit_id in self.units and unit_id not in out:
            out.append(unit_id)
            unit_id = self.units[unit_id].parent_id
        return out

    def descendants(self, unit_id: str) -> set[str]:
        """The unit and every unit below it."""
        below = {unit_id}
        changed = True
        while changed:
            changed = False
            for u in self.units.values():
                if u.parent_id in below and u.id not in below:
                    below.add(u.id)
                    changed = True
        return below

    def canonical(self, role: str) -> str:
        """The role key a name means, after aliases ("Handläggare bygglov" → bygglovshandläggare)."""
        key = role_key(role)
        return self.aliases.get(key, key)


_cache: dict[int, tuple[float, Tree]] = {}
_cache_lock = threading.Lock()
TREE_TTL_S = 30.0


def tree(engine: Engine) -> Tree:
    """The unit tree (cached briefly; changes made through this process invalidate it at once)."""
    with _cache_lock:
        hit = _cache.get(id(engine))
        if hit and time.monotonic() - hit[0] < TREE_TTL_S:
            return hit[1]
    with engine.db.read() as s:
        units = {u.id: u for u in s.execute(sa.select(OrgUnit)).scalars()}
        aliases = {a.alias_key: role_key(a.role) for a in s.execute(sa.select(RoleAlias)).scalars()}
    snapshot = Tree(units, aliases)
    with _cache_lock:
        _cache[id(engine)] = (time.monotonic(), snapshot)
    return snapshot


def invalidate(engine: Engine) -> None:
    """Forget the cached tree and who holds which role (after a change)."""
    with _cache_lock:
        _cache.pop(id(engine), None)
    forget_tokens(engine)


def role_active(now: datetime) -> Any:
    """The condition that a `user_roles` row is in force at `now` (within its valid_from/valid_to)."""
    return sa.and_(
        sa.or_(_roles.c.valid_from.is_(None), _roles.c.valid_from <= now),
        sa.or_(_roles.c.valid_to.is_(None), _roles.c.valid_to > now),
    )


_active = role_active


def holders(conn: sa.Connection, key: str, unit_id: str | None, now: datetime) -> list[str]:
    """Names of active users holding role `key` in exactly `unit_id` (None: group-wide)."""
    unit_match = _roles.c.org_unit_id.is_(None) if unit_id is None else _roles.c.org_unit_id == unit_id
    return list(conn.execute(
        sa.select(_users.c.name).join(_roles, _roles.c.user_id == _users.c.id)
        .where(_roles.c.role_key == key, unit_match, _users.c.active.is_(True), _active(now))
        .order_by(_users.c.name)
    ).scalars())


def resolve_unit(conn: sa.Connection, t: Tree, key: str, unit_id: str | None, now: datetime) -> str | None:
    """The nearest unit, from `unit_id` up, where someone holds role `key`; None if nowhere."""
    chain = t.chain(unit_id)
    if not chain:
        return None
    found = set(conn.execute(
        sa.select(_roles.c.org_unit_id).join(_users, _roles.c.user_id == _users.c.id)
        .where(_roles.c.role_key == key, _roles.c.org_unit_id.in_(chain), _users.c.active.is_(True), _active(now))
        .distinct()
    ).scalars())
    return next((u for u in chain if u in found), None)


def manager_chain(conn: sa.Connection, t: Tree, unit_id: str | None, now: datetime,
                  *, exclude: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, str, list[str]]]:
    """The route of escalation from a unit up: one (unit, manager role, people) per level, nearest
    first (enhetschef, avdelningschef, förvaltningschef, kommundirektör; linjechef, VD).

    A unit without a manager role is no level, nor one whose managers are all away, excluded (the
    task's own assignee: no one is escalated to about themselves) or already a level below (one
    person managing two units in a row); the chain then goes on to the unit above. It ends at a
    company (bolag): its VD is the top of its chain.
    """
    levels: list[tuple[str, str, list[str]]] = []
    seen = set(exclude)
    for u in t.chain(unit_id):
        role = t.units[u].manager_role
        if not role:
            continue
        held = holders(conn, t.canonical(role), u, now)
        away = absent(conn, held, now)
        people = [p for p in held if p not in away and p not in seen]
        if people:
            levels.append((u, role, people))
            seen.update(people)
        if t.units[u].kind == "bolag":
            # A company's VD answers to its board (ABL), not to the municipality's officers.
            break
    return levels


def managers(conn: sa.Connection, t: Tree, unit_id: str | None, now: datetime, *, above: bool = False, level: int = 1,
             exclude: set[str] | frozenset[str] = frozenset()) -> tuple[str | None, str | None, list[str]]:
    """(unit, manager role, people) `level` steps up the manager chain from `unit_id` (1: the
    nearest present manager), or the top of the chain where it is shorter; nobody if it is empty.

    With `above`, start from the parent (the manager's own manager).
    """
    start = (t.units[unit_id].parent_id if unit_id in t.units else None) if above else unit_id
    chain = manager_chain(conn, t, start, now, exclude=exclude)
    if not chain:
        return None, None, []
    return chain[min(max(level, 1), len(chain)) - 1]


def absent(conn: sa.Connection, names: list[str], now: datetime) -> set[str]:
    """Which of these people are away right now."""
    if not names:
        return set()
    return set(conn.execute(
        sa.select(_users.c.name).join(_absences, _absences.c.user_id == _users.c.id)
        .where(_users.c.name.in_(names), _absences.c.starts_at <= now, _absences.c.ends_at > now)
    ).scalars())


# -- as imported and as the API shows it ------------------------------------------------------


def read_instant(value: Any) -> datetime | None:
    """An instant from imported or posted data: ISO 8601 text or a datetime, none when empty; a
    time without a zone is Swedish time. Unreadable text is refused in Swedish (InvalidInput)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=__import__("datetime").UTC)
    text = str(value)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"Ogiltig tidpunkt: {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=STOCKHOLM)
    return parsed


def unit_json(t: Tree, unit_id: str) -> dict[str, Any]:
    """One unit as the API shows it."""
    u = t.units.get(unit_id)
    if u is None:
        raise NotFound(f"Enheten {unit_id!r} finns inte.")
    return {"id": u.id, "name": u.name, "kind": u.kind, "parent": u.parent_id, "manager_role": u.manager_role,
            "committee": u.committee, "path": list(reversed(t.chain(unit_id)))}




# -- where cases belong -----------------------------------------------------------------------


def committee_of(t: Tree, unit_id: str | None) -> str | None:
    """The committee (nämnd, or a company's board) a unit answers to: its own, else the nearest above."""
    return next((t.units[u].committee for u in t.chain(unit_id) if t.units[u].committee), None)


def may_start_in(t: Tree, actor: Any, unit_id: str) -> bool:
    """Whether the actor may place a new case in a unit: administrators and the unit's managers,
    and whoever holds a business role in it, above or below it, or across the whole group."""
    if actor.is_admin or unit_id in actor.manages:
        return True
    near = set(t.chain(unit_id)) | t.descendants(unit_id)
    for held in actor.roles:
        key, _, unit = held.partition("@")
        if key in SYSTEM_ROLES:
            continue
        if not unit or unit in near:
            return True
    return False


_P_PROCESS_UNIT = Prepared(sa.select(ProcessUnit.org_unit_id).where(ProcessUnit.process_key == sa.bindparam("key")))


def process_unit(engine: Engine, conn: sa.Connection, key: str, properties: dict[str, str]) -> str | None:
    """The unit new cases of a process belong to when started without one: the process owner's
    setting, else the diagram's ``rutin:unit`` property (when it names a known unit)."""
    return unit_chosen_or_declared(engine, _P_PROCESS_UNIT.scalar(conn, {"key": key}), properties)


def unit_chosen_or_declared(engine: Engine, chosen: str | None, properties: dict[str, str]) -> str | None:
    """`process_unit` from the owner's setting already read (`starting.chosen_unit_column`)."""
    if chosen:
        return str(chosen)
    declared = (properties.get("rutin:unit") or properties.get("rutin:orgUnit") or "").strip()
    return declared if declared in tree(engine).units else None


def _latest(s: Session, key: str) -> ProcessVersion:
    version = s.execute(sa.select(ProcessVersion).where(ProcessVersion.key == key)
                        .order_by(ProcessVersion.version.desc()).limit(1)).scalar_one_or_none()
    if version is None:
        raise NotFound(f"Processen {key!r} finns inte.")
    return version


def get_process_unit(engine: Engine, key: str) -> dict[str, Any]:
    """A process's owning unit and where it comes from (``owner``, ``diagram`` or none): the
    diagram as published (a draft's ``rutin:unit`` places no case until it is approved)."""
    from .ownership import governing_version

    with engine.db.read() as s:
        version = governing_version(s, key) or _latest(s, key)
        chosen = s.get(ProcessUnit, key)
        if chosen is not None:
            return {"process_key": key, "unit": chosen.org_unit_id, "source": "owner", "updated_by": chosen.updated_by,
                    "updated_at": chosen.updated_at.isoformat()}
        unit = process_unit(engine, s.connection(), key, engine.model(version.id).properties)
        return {"process_key": key, "unit": unit, "source": "diagram" if unit else None}


def set_process_unit(engine: Engine, actor: Any, key: str, unit_id: str | None) -> dict[str, Any]:
    """Set (or with None clear) the unit a process's new cases belong to: its owner or an admin."""
    require_writer(actor)
    t = tree(engine)
    if unit_id is not None and unit_id not in t.units:
        raise InvalidInput(f"Enheten {unit_id!r} finns inte.")
    from .ownership import governing_owner, holds_role

    with engine.db.write() as s:
        _latest(s, key)
        # The owner of the process as published decides, never the owner a draft declares.
        owner = governing_owner(s, key)
        if owner is None and not actor.is_admin:
            raise Forbidden("Processen har ingen publicerad version ännu; bara en administratör kan välja dess enhet.")
        if not (actor.is_admin or (owner is not None and holds_role(engine, actor, owner))):
            raise Forbidden(f"Bara den som har rollen {owner} för processen kan välja dess enhet.")
        chosen = s.get(ProcessUnit, key)
        if unit_id is None:
            if chosen is not None:
                s.delete(chosen)
        else:
            chosen = chosen or ProcessUnit(process_key=key)
            chosen.org_unit_id, chosen.updated_by, chosen.updated_at = unit_id, actor.name, engine.clock.now()
            s.add(chosen)
    return get_process_unit(engine, key)
