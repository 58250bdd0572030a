"""Handing a case over to another unit (överlämna ärendet): it came to the wrong unit, or the
matter turned out to belong elsewhere.

The case's unit decides where its steps land: a role is offered in the case's unit (or the
nearest unit above it where someone holds it). Handing over moves the case and re-routes each
open step as if it had been created in the new unit; a step someone had taken is given back, so
that the new unit's holders of the role take it. What the case did before stays as it was: the
history records who handed it over, from where, to where and why. The statutory clock runs on,
since the matter is the same.

Those who answer for the case's unit may hand it over: its manager (or a manager above it) and
admins.
"""

from __future__ import annotations

from typing import Any

from ..authority import org
from ..authority.identity import Actor, require_writer
from ..base.errors import Conflict, Forbidden, InvalidInput
from ..core import Engine
from ..execution.runtime import CaseWork, drop_candidates, locked_case, open_task_rows
from .cases import case_json

OPEN = ("active", "incident")


def may_transfer(actor: Actor, unit: str | None) -> bool:
    """Whether the actor answers for cases lying in this unit, and so may hand them over."""
    return actor.is_admin or (unit is not None and unit in actor.manages)


def transfer_case(engine: Engine, actor: Actor, case_id: str, unit: Any, reason: Any) -> dict[str, Any]:
    """Move an open case to another unit with a stated reason; its open steps go to that unit."""
    require_writer(actor)
    if not isinstance(unit, str) or not unit.strip():
        raise InvalidInput("Ange enheten som ärendet ska till (unit).")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("Ange varför ärendet lämnas över (reason).")
    unit, reason = unit.strip(), reason.strip()[:2000]
    tree = org.tree(engine)
    if unit not in tree.units:
        raise InvalidInput(f"Enheten {unit} finns inte.", known=sorted(tree.units))
    with locked_case(engine, case_id) as (s, case):
        if not may_transfer(actor, case.org_unit_id):
            raise Forbidden("Bara chefen för ärendets enhet, eller en administratör, kan lämna över ärendet.")
        if case.status not in OPEN:
            raise Conflict("Ärendet är avslutat och kan inte lämnas över.")
        if case.org_unit_id == unit:
            raise InvalidInput(f"Ärendet ligger redan på {tree.units[unit].name}.")
        work = CaseWork(engine, s, case)
        previous_unit = case.org_unit_id
        case.org_unit_id = unit
        moved: list[dict[str, Any]] = []
        rows = open_task_rows(s, case.id)
        router = work.router
        for row in rows:
            task = work.spiff_task(row.id)
            if task is None:
                continue
            route = router.transfer(work.human_step(task), task.data, unit, row.assignee)
            released = row.assignee
            row.org_unit_id, row.candidates, row.assignee = route.unit, route.keys, route.assignee
            drop_candidates(work.conn, row.id)
            work.add_candidates(row.id, list(route.candidates))
            moved.append({"task_id": row.id, "name": row.name, "unit": row.org_unit_id, "assignee": row.assignee,
                          **({"released_from": released} if released and row.assignee is None else {})})
        work.event("case_transferred", actor=actor.name,
                   data={"from": previous_unit, "to": unit, "to_name": tree.units[unit].name, "reason": reason,
                         "tasks": moved})
        # No `sync`: the rows were moved above and the workflow did not move. The revision moves
        # on, the workflow loaded above goes back to the cache, and the rows are written before
        # the answer reads them back.
        work.finish(actor.name, sync=False)

        return case_json(engine, s, case, actor)
