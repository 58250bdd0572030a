"""Declaring jäv (a conflict of interest) on a decision: the declarer steps aside and the decision
goes to the ordinance's substitute, or, with none present, the unit's managers are told."""

from __future__ import annotations

from typing import Any

from ..authority.identity import Actor, require_writer
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..core import Engine
from ..execution.runtime import CaseWork, load_task, locked_task_case
from ..routing import delegation, notifications
from .tasks import may_see_task
from .views import task_json


def declare_conflict(engine: Engine, actor: Actor, task_id: str, reason: str | None = None) -> dict[str, Any]:
    """Declare jäv on a decision task: the declarer is out, and a task they held or no one held
    goes to a present substitute.

    With no substitute present the task is left to the role, and the manager of its unit (up the
    chain, past the declarer) is told, so that a decision is never left with no one to take it. A
    task a colleague holds stays with them: the declaration is recorded and the declarer excluded.
    """
    require_writer(actor)
    with locked_task_case(engine, task_id) as (s, case):
        row = load_task(s, task_id)
        if row is None:
            raise NotFound(f"Uppgiften {task_id} finns inte.")
        work = CaseWork(engine, s, case)
        if not work.is_decision(row):
            if not may_see_task(actor, row, acting=True):
                raise Forbidden("Uppgiften hör inte till någon av dina roller.")
            raise InvalidInput("Jäv anmäls på beslutsuppgifter.")
        # Only someone who could decide can step aside; checked before anything about the task is told.
        _, role, _ = delegation.authority(work, row, actor)
        if row.status != "open":
            raise Conflict("Uppgiften är inte öppen.")
        # Someone else's claimed decision is not the declarer's to give away: their jäv concerns
        # only themselves, and `authority` already shuts them out.
        reroute = row.assignee in (None, actor.name)
        target = delegation.substitute_for(engine, work, row, exclude={actor.name}) if reroute else None
        notified: list[str] = []
        what = f"ärende {case.business_key or case.id[:8]}"
        if target is not None:
            # The substitute is told why the decision is theirs now, and in which capacity.
            notifications.notify(
                work.conn, work.now, [target], kind="conflict_of_interest",
                dedupe=f"jav-ersattare:{row.id}:{actor.name}", case_id=case.id, task_id=row.id,
                subject=f"Du beslutar som ersättare: {row.name} ({what})",
                body=f"{actor.display_name} har anmält jäv i beslutet ”{row.name}” i {what}. Beslutet har gått "
                     "till dig som ersättare enligt delegationsordningen; du fattar det i den egenskapen.")
        if reroute and target is None:
            _, _, notified = work.router.managers(row.org_unit_id or case.org_unit_id, exclude={actor.name})
            notifications.notify(
                work.conn, work.now, notified, kind="conflict_of_interest", dedupe=f"jav:{row.id}:{actor.name}",
                case_id=case.id, task_id=row.id, subject=f"Jäv anmält utan närvarande ersättare: {row.name} ({what})",
                body=f"{actor.display_name} har anmält jäv i beslutet {row.name!r} i {what}, och ingen ersättare "
                     "enligt delegationsordningen är på plats. Se till att någon med delegation fattar beslutet.")
        if reroute:
            row.assignee = target
        work.event("conflict_of_interest_declared", actor=actor.name, role=role, task_id=row.id,
                   element_id=row.element_id,
                   data={"name": row.name, "reason": reason, "routed_to": target, "notified": notified,
                         "assignee": row.assignee})
        return task_json(engine, row, actor)
