"""Who a step goes to: the one place that decides it.

Given a step's static facts (its role and candidate groups, which the diagram parser takes from
``candidateGroups``, ``potentialOwner`` or the lane, `bpmn/steps.py`; its candidate users and
assignee expression) and the case (its data and unit), and the organisation (the unit tree, role
aliases, who holds which role where, who is away), a `Router` answers with a `Route`: the role
the task is held under, the unit it lands in, a named assignee or none (the pool of
candidates), the candidates themselves, and why.

The rules, each decided here and nowhere else:

- a group's name is made canonical through the role aliases, and may name a case variable
  (``${agare}``); an assignee or candidate user may too (``${x}``, ``=x``, ``=user.name``);
- a role is offered in the case's unit, or the nearest unit above it where someone holds it (the
  task lands in the first such unit), and across the whole group besides;
- a person who is away gets no new work: a decision goes to the first present holder of the
  ordinance item's substitute role (ersättare) who has not stepped aside, other work to the pool;
- escalation moves a task to a manager role in the unit the manager chain found (chef);
- a case handed over to another unit is routed as if created there, keeping its holder only where
  the step names them.

Which ordinance item governs a task (and so its substitute role) is `engine.routing.delegation`'s
answer; it is given to the router, which decides only who.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa

from bpmn.expressions import variable_reference
from bpmn.model import HumanStep

from ..store.models import User, UserRole
from . import org
from .roles import scoped

_roles = cast(sa.Table, UserRole.__table__)
_users = cast(sa.Table, User.__table__)

# Why a task went where it did (the `reason` of a `Route`).
DIAGRAM = "diagram"  # the step's candidates, as the diagram and the case's unit give them
SUBSTITUTE = "ersättare"  # the ordinance's substitute, for a person away or stepped aside
POOL = "frånvaro"  # the named person is away and no one stands in: back to the candidates
MANAGER = "chef"  # escalated up the manager chain
TRANSFER = "överlämnad"  # the case was handed over to another unit


@dataclass(frozen=True)
class Route:
    """Where a task goes: `candidates` as (kind, key) pairs (``role``/``user``), the `unit` it lands
    in (None: the case's own), the `role` it is held under, the `assignee` (None: the pool), and
    `reason` (one of this module's constants); `absent` names a person passed over as away."""

    candidates: tuple[tuple[str, str], ...]
    unit: str | None
    role: str | None
    assignee: str | None
    reason: str = DIAGRAM
    absent: str | None = None

    @property
    def keys(self) -> list[str]:
        """The candidates as a task row stores them (``kind:key``)."""
        return [f"{k}:{v}" for k, v in self.candidates]


def held(row: Any) -> Route:
    """The route a task row holds now (its stored candidates, unit, role and assignee)."""
    pairs = tuple((kind, key) for kind, _, key in (c.partition(":") for c in row.candidates or []))
    return Route(pairs, row.org_unit_id, row.role, row.assignee)


def lookup(path: str, data: dict[str, Any]) -> Any:
    """The value at a dotted variable path in the task data, or None."""
    found: Any = data
    for part in path.split("."):
        found = found.get(part) if isinstance(found, dict) else None
    return found


def resolve_user(value: str | None, data: dict[str, Any]) -> str | None:
    """A literal user name, or the value of a ``${variable}`` / ``=variable`` (or a dotted path
    into one, ``=user.name``) in the task data; None when the data does not hold it. Any other
    expression (``=`` and more than a path) names nobody rather than a user called that."""
    if not value:
        return None
    path = variable_reference(value)
    if path:
        found = lookup(path, data)
        return str(found) if found not in (None, "", [], {}) else None
    text = value.strip()
    if text.startswith(("=", "${", "#{")):
        return None
    return text or None


def lane_step(element_id: str, name: str, lane: str | None) -> HumanStep:
    """A step the parsed model does not know (a task SpiffWorkflow made): its lane is its role."""
    return HumanStep(element_id=element_id, name=name, role=lane, candidate_groups=[lane] if lane else [])


def step_role_keys(tree: org.Tree, step: HumanStep | None, unit: str | None) -> set[str]:
    """The scoped role keys of a step as the diagram names them, in `unit` (groups naming a case
    variable are left out: only a task's candidates know them)."""
    if step is None:
        return set()
    return {scoped(tree.canonical(g), unit) for g in step.candidate_groups if "${" not in g}


class Router:
    """The routing decision over one connection, one snapshot of the tree, at one instant."""

    def __init__(self, conn: sa.Connection, tree: org.Tree, now: datetime) -> None:
        self.conn, self.tree, self.now = conn, tree, now

    def offer(self, step: HumanStep, data: dict[str, Any], case_unit: str | None) -> Route:
        """Who may take a step in a case of `case_unit`, as the diagram names them (no one is
        asked whether they are away: see `cover`)."""
        assignee = resolve_user(step.assignee, data)
        candidates: list[tuple[str, str]] = []
        task_unit = None
        for group in step.candidate_groups:
            group = resolve_user(group, data) or ""  # a group may name a variable: ${agare}
            if not group:
                continue
            key = self.tree.canonical(group)
            if case_unit:
                unit = org.resolve_unit(self.conn, self.tree, key, case_unit, self.now)
                if unit is not None:
                    candidates.append(("role", scoped(key, unit)))
                    task_unit = task_unit or unit
            candidates.append(("role", key))  # holders of the role across the whole group
        candidates += [("user", u) for u in (resolve_user(u, data) for u in step.candidate_users) if u]
        if assignee:
            candidates.append(("user", assignee))
        return Route(tuple(dict.fromkeys(candidates)), task_unit,
                     resolve_user(step.role, data) if step.role else None, assignee)

    def away(self, person: str | None) -> bool:
        """Whether a person is away now (nobody is never away)."""
        return bool(person) and bool(org.absent(self.conn, [person or ""], self.now))

    def pool(self, keys: list[str]) -> list[str]:
        """The people a task's stored candidates (``kind:key``) stand for, not away, each once: who
        hears of a task no one holds. Holders are read as the role rows stand, whatever their dates."""
        people: list[str] = []
        for c in keys:
            kind, _, key = c.partition(":")
            if kind == "user":
                people.append(key)
                continue
            role, _, unit = key.partition("@")
            unit_match = _roles.c.org_unit_id == unit if unit else _roles.c.org_unit_id.is_(None)
            people += self.conn.execute(
                sa.select(_users.c.name).join(_roles, _roles.c.user_id == _users.c.id)
                .where(_roles.c.role_key == role, unit_match, _users.c.active.is_(True))
            ).scalars().all()
        away = org.absent(self.conn, people, self.now)
        return [p for p in dict.fromkeys(people) if p not in away]

    def present(self, role: str, case_unit: str | None, exclude: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """People holding `role` for a case of `case_unit` (that unit, then up; else group-wide),
        not away and not excluded, by name."""
        key = self.tree.canonical(role)
        unit = org.resolve_unit(self.conn, self.tree, key, case_unit, self.now) if case_unit else None
        people = org.holders(self.conn, key, unit, self.now)
        away = org.absent(self.conn, people, self.now)
        return [p for p in people if p not in away and p not in exclude]

    def substitute(self, substitute_role: str | None, case_unit: str | None,
                   exclude: set[str] | frozenset[str] = frozenset()) -> str | None:
        """The first present holder of an ordinance item's substitute role, not excluded (those
        away from the task, those who declared jäv on it); None when there is none."""
        if not substitute_role:
            return None
        people = self.present(substitute_role, case_unit, exclude)
        return people[0] if people else None

    def cover(self, route: Route, away: str, substitute_role: str | None, case_unit: str | None,
              exclude: set[str] | frozenset[str] = frozenset()) -> Route:
        """The route when `away` may not hold the task: a decision (`substitute_role` given) to
        the ordinance's substitute, other work (or a decision with none present) to the pool."""
        target = self.substitute(substitute_role, case_unit, {away} | set(exclude)) if substitute_role else None
        return replace(route, assignee=target, reason=SUBSTITUTE if target else POOL, absent=away)

    def managers(self, unit: str | None, *, level: int = 1,
                 exclude: set[str] | frozenset[str] = frozenset()) -> tuple[str | None, str | None, list[str]]:
        """(unit, manager role, people) `level` steps up the manager chain from `unit` (see
        `org.managers`): who is told of, or takes over, a late task."""
        return org.managers(self.conn, self.tree, unit, self.now, level=level, exclude=exclude)

    def to_manager(self, unit: str, manager_role: str) -> Route:
        """The route of a task escalated to the manager role of `unit`: offered to that role there."""
        return Route((("role", scoped(self.tree.canonical(manager_role), unit)),), unit, manager_role, None,
                     MANAGER)

    def transfer(self, step: HumanStep, data: dict[str, Any], new_unit: str, held_by: str | None) -> Route:
        """The route of an open step when its case is handed over to `new_unit`: as if created
        there, its holder kept only where the step names them."""
        route = self.offer(step, data, new_unit)
        kept = next((v for k, v in route.candidates if k == "user" and v == held_by), None)
        return replace(route, unit=route.unit or new_unit, assignee=kept, reason=TRANSFER)
