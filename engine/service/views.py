"""The JSON shapes the API and the pages show, built from projections only."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from ..authority import ordinance
from ..authority.identity import Actor
from ..core import Engine
from ..store.models import DelegationItem, HumanTask


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def ordinance_items(engine: Engine, row: HumanTask, explicit: bool, at: datetime) -> list[DelegationItem]:
    """The ordinance items in force at `at` that speak of a task, most specific first: those naming
    its element, then (when the diagram marks it a decision) the process-wide ones.

    Read from the task row and the cached ordinance alone, never a workflow; the same selection
    the engine makes when the decision is taken, where the items' limits are judged over the
    case's data to find the one that governs.
    """
    return ordinance.governing(engine, row.process_key, row.element_id, explicit, at)


def task_json(engine: Engine, row: HumanTask, actor: Actor | None = None, *, brief: bool = False) -> dict[str, Any]:
    """A task as the API shows it; the form or decision options come from the cached model."""
    now = engine.clock.now()
    out: dict[str, Any] = {
        "id": row.id, "name": row.name, "kind": row.kind, "status": row.status, "case_id": row.case_id,
        "process_key": row.process_key, "business_key": row.business_key, "element_id": row.element_id,
        "role": row.role, "assignee": row.assignee, "priority": row.priority, "created": _iso(row.created_at),
        "due": _iso(row.due_at), "follow_up": _iso(row.follow_up_at),
        "overdue": bool(row.status == "open" and row.due_at is not None and row.due_at < now),
        "completed": _iso(row.completed_at), "completed_by": row.completed_by,
    }
    if brief:
        return out
    model = engine.model(row.process_version_id)
    step = model.steps.get(row.spec_name)
    out["process_name"] = model.name
    out["candidates"] = row.candidates
    if step is not None:
        out["documentation"] = step.documentation
        out["lane"] = step.lane
        if step.kind == "decision":
            out["options"] = [{"id": o.id, "name": o.name} for o in step.options]
            out["multiple"] = step.multiple
        else:
            out["form"] = [asdict(f) for f in step.form]
        out["decision_authority"] = step.decision_authority
    # A decision under the delegation ordinance (marked in the diagram, or named by an item in
    # force: `CaseWork.is_decision`) needs the decider's no-conflict-of-interest confirmation.
    explicit = bool(step is not None and step.decision_authority)
    items = ordinance_items(engine, row, explicit, now)
    out["decision_under_ordinance"] = explicit or any(i.element_id == row.element_id for i in items)
    out["delegation_item"] = items[0].number if items else None
    out["delegation_items"] = [i.number for i in items]
    out["delegation_item_title"] = items[0].title if items else None
    if row.result is not None:
        out["result"] = row.result
    if actor is not None:
        out["actions"] = task_actions(row, actor)
    return out


def candidates_of(row: HumanTask) -> tuple[set[str], set[str]]:
    """The role keys and the user names that may take a task."""
    roles = {c.split(":", 1)[1] for c in row.candidates or [] if c.startswith("role:")}
    users = {c.split(":", 1)[1] for c in row.candidates or [] if c.startswith("user:")}
    return roles, users


def is_candidate(actor: Actor, row: HumanTask) -> bool:
    """Whether the actor may take the task: named, or holding one of its roles."""
    roles, users = candidates_of(row)
    return actor.name in users or bool(actor.roles & roles)


def oversees(actor: Actor, row: HumanTask) -> bool:
    """Whether the actor manages the task's unit (or one above it), or is an administrator."""
    return actor.is_admin or (row.org_unit_id is not None and row.org_unit_id in actor.manages)


def task_actions(row: HumanTask, actor: Actor) -> dict[str, bool]:
    """What the actor may do with the task now, so that a page offers only that (the engine
    checks each again when it is done: this only spares people buttons that would fail)."""
    candidate = is_candidate(actor, row)
    watches = oversees(actor, row)
    is_open = row.status == "open"
    takes = is_open and row.assignee is None and (candidate or actor.is_admin)
    return {
        "claim": takes,
        "unclaim": is_open and row.assignee == actor.name,
        "complete": is_open and (row.assignee == actor.name or takes),
        "assign": is_open and watches,
        "comment": candidate or actor.name in (row.assignee, row.completed_by) or watches,
    }
