"""Messages from outside: delivered to one case, or correlated to a case by its business key."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.util.task import TaskState

from bpmn import sandbox

from ..authority.identity import Actor, require_writer
from ..base import data_limits, forms, state
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..core import Engine
from ..execution.runtime import CaseWork, locked_case
from ..execution.step_data import json_safe
from ..store.models import Case
from . import declared
from .cases import case_json, may_see_case


def _waiting_for(work: CaseWork, name: str) -> list[tuple[Any, MessageEventDefinition]]:
    """Waiting tasks that catch message `name` (an event-based gateway waits for several)."""
    return _waiting_in(work.workflow, name)


def _waiting_in(workflow: Any, name: str) -> list[tuple[Any, MessageEventDefinition]]:
    found = []
    for t in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(t.task_spec, "event_definition", None)
        for d in getattr(definition, "event_definitions", None) or [definition]:
            if isinstance(d, MessageEventDefinition) and d.name == name:
                found.append((t, d))
    return found


def send_message(engine: Engine, actor: Actor, case_id: str, name: str,
                 data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Deliver message `name` with `data` to a case that waits for it; 409 if it does not."""
    require_writer(actor)
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("data ska vara ett JSON-objekt.")
    data_limits.check_input(engine.settings, data or {})  # before anything walks it: depth and sizes
    if forms.bad_keys(data or {}):
        raise InvalidInput(f"Ogiltiga fältnamn: {', '.join(forms.bad_keys(data or {}))}")
    payload = json_safe(data or {})
    with locked_case(engine, case_id) as (s, case):
        if not may_see_case(s, case, actor, acting=True):
            raise Forbidden("Du har ingen uppgift eller roll i det här ärendet.")
        if case.status != "active":
            raise Conflict(f"Ärendet är {case.status} och tar inte emot meddelanden.")
        work = CaseWork(engine, s, case)
        waiting = _waiting_for(work, name)
        if not waiting:
            raise Conflict(f"Ärendet väntar inte på meddelandet {name!r}.")
        task, definition = waiting[0]
        declared.check_message(engine, work.model, task.task_spec.name, definition, name, payload)
        data_limits.check_input(engine.settings, payload, case.data)
        try:
            correlations = definition.get_correlations(task, payload)
        except sandbox.SandboxError as exc:
            work.record_incident(actor.name, task, f"Korrelationsuttrycket kunde inte utvärderas: {exc}")
            work.finish(actor.name)
            return case_json(engine, s, case, actor)
        except Exception as exc:
            raise InvalidInput(f"Meddelandet saknar det som korrelationen kräver: {exc}") from None
        work.event("message_received", actor=actor.name, element_id=work.model.original_id(task.task_spec.name),
                   data={"message": name, "data": payload})

        def deliver() -> None:
            caught = work.workflow.top_workflow.event_manager.catch(
                BpmnEvent(definition, payload=payload, correlations=correlations), internal=False
            )
            if caught == 0:
                raise Conflict(f"Meddelandet {name!r} matchar inte ärendets korrelation.")

        work.run(actor.name, deliver)  # a failure after the message is caught is the case's incident
        work.finish(actor.name)
        return case_json(engine, s, case, actor)


def correlate_message(engine: Engine, actor: Actor, name: str, business_key: str,
                      data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Deliver a message to the one active case with this business key."""
    require_writer(actor)
    if not business_key:
        raise InvalidInput("business_key krävs för att hitta ärendet.")
    with engine.db.read() as s:
        found = s.execute(
            sa.select(Case).where(Case.business_key == business_key, Case.status == "active")
        ).scalars().all()
        # Only cases the sender may act on count: a stranger learns nothing about others' cases.
        visible = [c for c in found if may_see_case(s, c, actor, acting=True)]
    # Of several cases with the key, only those waiting for this message are meant (a permit
    # case and its archiving case share the diary number; only one waits for the reply).
    ids = [c.id for c in visible] if len(visible) <= 1 else [c.id for c in visible if _waits(engine, c, name)]
    if not ids and visible:
        raise Conflict(f"Inget av de {len(visible)} aktiva ärendena med ärendenumret {business_key!r} "
                       f"väntar på meddelandet {name!r}.")
    if not ids:
        raise NotFound(f"Inget aktivt ärende har ärendenumret {business_key!r}.")
    if len(ids) > 1:
        raise Conflict(f"{len(ids)} aktiva ärenden med ärendenumret {business_key!r} väntar på meddelandet "
                       f"{name!r}; ange ärendets id.")
    return send_message(engine, actor, ids[0], name, data)


def _waits(engine: Engine, case: Case, name: str) -> bool:
    """Whether a case waits for message `name` now (read from its stored state, not locked)."""
    spec, subs = engine.spec(case.process_version_id)
    return bool(_waiting_in(state.load(case.state_json, spec, subs), name))
