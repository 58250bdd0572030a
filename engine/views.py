"""The JSON shapes the API and the pages show, built from projections only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .core import Engine
from .identity import Actor
from .models import HumanTask


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


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
    if row.result is not None:
        out["result"] = row.result
    return out
