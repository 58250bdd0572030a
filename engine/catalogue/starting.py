"""Starting a case is an authority: who may start one of a process, and in which unit.

A case may be started by hand by the holders of the process's starter roles (as its published
diagram names them, in any dialect: see ``bpmn/starters.py``; where it names none, the lane of
its start event or the roles of its first human steps), by the people it names, and by
administrators. A role counts in the unit the case is placed in when it is held there, in a unit
above it, or across the whole group, as a step's role resolves up the tree; a case without a unit
needs the role across the group. A diagram that lets every employee start (``*``) lets anyone
holding a role in the organisation, in or near the unit (`org.may_start_in`). Scheduled starts and
the yearly review start as the system and are not asked. An auditor holding no other role starts
nothing.

Imports inside functions: `processes` imports this module to check who may start a version, so
`offer` reaches `processes.latest_version` at call time.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bpmn.diagnostics import DiagramRejected
from bpmn.document import read_document
from bpmn.model import Starters
from bpmn.starters import describe

from ..authority import org
from ..authority.identity import Actor, require_writer
from ..authority.roles import SYSTEM_ROLES, scoped
from ..base.errors import Conflict, Forbidden, NotFound
from ..core import Engine
from ..store.models import BpmnDocument, ProcessUnit, ProcessVersion


def starters(engine: Engine, version_id: int) -> Starters:
    """Who may start cases of a version, as its diagram says."""
    model = engine.model(version_id)
    if model.starters is None:
        # A version stored before Rutin read who may start: its diagram is read again, once.
        model.starters = _read_again(engine, version_id)
    return model.starters


def _read_again(engine: Engine, version_id: int) -> Starters:
    with engine.db.read() as s:
        key, xml = s.execute(sa.select(ProcessVersion.key, BpmnDocument.xml)
                             .join(BpmnDocument, BpmnDocument.hash == ProcessVersion.document_hash)
                             .where(ProcessVersion.id == version_id)).one()
    try:
        doc = read_document(bytes(xml), max_flow_elements=engine.settings.max_flow_elements)
        found = next((p.model.starters for p in doc.processes if p.key == key), None)
    except DiagramRejected:
        found = None
    if found is not None:
        return found
    # Read no more under today's rules: whoever works in one of its steps may start it.
    steps = engine.model(version_id).steps.values()
    return Starters(roles=sorted({g for st in steps for g in (st.candidate_groups or [])}), source="steps")


def may_start(engine: Engine, actor: Actor, version_id: int, unit_id: str | None) -> bool:
    """Whether the actor may start a case of the version placed in `unit_id` (None: no unit)."""
    if actor.is_admin:
        return True
    if actor.is_read_only:
        return False
    found = starters(engine, version_id)
    if actor.name in found.users:
        return True
    t = org.tree(engine)
    if found.everyone:
        if unit_id is None:
            return bool(actor.manages) or any(r.partition("@")[0] not in SYSTEM_ROLES for r in actor.roles)
        return org.may_start_in(t, actor, unit_id)
    chain = t.chain(unit_id)
    for role in found.roles:
        key = t.canonical(role)
        if key in actor.roles or any(scoped(key, u) in actor.roles for u in chain):
            return True
    return False


def start_units(engine: Engine, actor: Actor, version_id: int) -> list[str]:
    """The units a case of the version may be placed in by the actor (for a page's choice)."""
    return sorted(u for u in org.tree(engine).units if may_start(engine, actor, version_id, u))


def chosen_unit_column(process_key: Any) -> Any:
    """The process owner's chosen unit for a process key column, as a column of another select
    (a start reads it with the version it starts: one statement, not two)."""
    return (sa.select(ProcessUnit.org_unit_id).where(ProcessUnit.process_key == process_key)
            .scalar_subquery().label("chosen_unit"))


def authorize(engine: Engine, conn: sa.Connection, actor: Actor, version: Any, org_unit: str | None) -> str | None:
    """The unit a case the actor starts by hand is placed in (`org_unit`, else the process's own);
    `Forbidden`, with nothing written, when they may not start it there."""
    require_writer(actor)
    if org_unit is not None:
        unit: str | None = org_unit
    elif hasattr(version, "chosen_unit"):  # read with the version (`latest_version(with_unit=True)`)
        unit = org.unit_chosen_or_declared(engine, version.chosen_unit, engine.model(version.id).properties)
    else:
        unit = org.process_unit(engine, conn, version.key, engine.model(version.id).properties)
    if not may_start(engine, actor, version.id, unit):
        raise Forbidden(refusal(engine, version.id, unit), process_key=version.key)
    return unit


def refusal(engine: Engine, version_id: int, unit: str | None) -> str:
    """Why a start is refused, in Swedish: the process, and who may start it where."""
    model = engine.model(version_id)
    found = starters(engine, version_id)
    text = f"Du har ingen roll som får starta ärenden i processen {model.name}."
    if not (found.roles or found.users or found.everyone):
        return text + " Bara administratörer kan starta ärenden i den."
    t = org.tree(engine)
    if found.everyone:
        who = "alla som har en roll i organisationen"
    else:
        who = " och ".join(part for part in (
            (f"den som har rollen {found.roles[0]}" if len(found.roles) == 1
             else f"den som har någon av rollerna {', '.join(found.roles)}") if found.roles else "",
            f"{', '.join(found.users)}" if found.users else "") if part)
    where = (f" i {t.units[unit].name} eller en enhet ovanför den" if unit in t.units
             else " i hela organisationen (ärendet får ingen enhet; välj en enhet där du har rollen)")
    return text + f" Det får {who}{where}."


def starters_json(engine: Engine, version_id: int) -> dict[str, Any]:
    """Who may start cases of a version, for the API and the pages."""
    found = starters(engine, version_id)
    return {"roles": found.roles, "users": found.users, "everyone": found.everyone, "source": found.source,
            "text": describe(found)}


def offer(engine: Engine, actor: Actor, key: str) -> dict[str, Any] | None:
    """What a page offers the actor for starting a case of `key`: whether in the process's own
    unit (`default_unit`, `default_allowed`), and in which units they may choose; None when they
    may start none (or nothing is published), so that no "Starta" is shown."""
    from .processes import latest_version

    with engine.db.read() as s:
        conn = s.connection()
        try:
            version = latest_version(conn, key)
        except (Conflict, NotFound):
            return None
        default = org.process_unit(engine, conn, key, engine.model(version.id).properties)
    if actor.is_read_only:
        return None
    allowed = may_start(engine, actor, version.id, default)
    units = start_units(engine, actor, version.id)
    if not (allowed or units):
        return None
    return {"default_unit": default, "default_allowed": allowed, "units": units,
            "starters": starters_json(engine, version.id)}
