"""A manager's overview of the units they manage: open, overdue and due-soon steps per person.

One grouped count over the task projection (`human_tasks`), never a workflow.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from ..authority import identity, org
from ..authority.identity import Actor
from ..core import Engine
from ..store.models import HumanTask

# A step is "due soon" when it falls due within this or is overdue (as the inbox's ?forfaller=snart
# filters, so each count is the number of steps its link shows).
DUE_SOON = timedelta(days=3)


def overview(engine: Engine, actor: Actor) -> list[dict[str, Any]]:
    """Per unit the actor manages (and the units below), by unit name: each person holding open
    steps there with `open`, `overdue` and `due_soon` counts (the unclaimed steps as the person
    None, last), and the unit's totals. An administrator sees every unit; someone who manages no
    unit, none."""
    tree = org.tree(engine)
    units = sorted(tree.units if actor.is_admin else actor.manages)
    if not units:
        return []
    now = engine.clock.now()
    overdue = sa.func.sum(sa.case((HumanTask.due_at < now, 1), else_=0))
    soon = sa.func.sum(sa.case((HumanTask.due_at < now + DUE_SOON, 1), else_=0))
    with engine.db.read() as s:
        rows = s.execute(
            sa.select(HumanTask.org_unit_id, HumanTask.assignee, sa.func.count(), overdue, soon)
            .where(HumanTask.status == "open", HumanTask.org_unit_id.in_(units))
            .group_by(HumanTask.org_unit_id, HumanTask.assignee)
        ).all()
    names = identity.display_names(engine, {r[1] for r in rows if r[1]})
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for unit, person, count, late, due_soon in rows:
        by_unit.setdefault(unit, []).append({
            "name": person, "display_name": names.get(person, person) if person else None,
            "open": int(count), "overdue": int(late or 0), "due_soon": int(due_soon or 0)})
    out = []
    for unit, people in by_unit.items():
        people.sort(key=lambda p: (p["name"] is None, (p["display_name"] or "").casefold()))
        out.append({"unit": unit, "unit_name": tree.units[unit].name if unit in tree.units else unit,
                    "people": people,
                    "totals": {k: sum(p[k] for p in people) for k in ("open", "overdue", "due_soon")}})
    return sorted(out, key=lambda u: u["unit_name"].casefold())
