"""What a human step's row takes from the diagram and the case's data: the step's key and its
priority; and data made fit for JSON. (Who the step goes to is `engine.authority.routing`.)"""

from __future__ import annotations

import math
from typing import Any

from bpmn.model import HumanStep

from ..authority.routing import lookup


def step_key(task: Any) -> str:
    """The key of a human task's step in the process model: its element's id. An instance of a
    multi-instance step or loop has a spec of its own (``id [child]``) with the element's id."""
    return getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name


def priority(step: HumanStep, data: dict[str, Any]) -> int:
    """The step's priority: the diagram's number, or the case variable it names (``${prio}``),
    kept within 0–100; 50 when neither gives a whole number."""
    if step.priority is not None:
        return step.priority
    value = lookup(step.priority_variable, data) if step.priority_variable else None
    text = str(value).strip() if value is not None else ""
    return max(0, min(100, int(text))) if text.lstrip("-").isdigit() else 50


def json_safe(value: Any, top: bool = True) -> Any:
    """Data as JSON can hold it (scripts may leave dates or sets behind). Names starting with "_"
    are the engine's at the top of a case's data only; deeper down they are data like any other."""
    if isinstance(value, dict):
        return {str(k): json_safe(v, False) for k, v in value.items() if not (top and str(k).startswith("_"))}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v, False) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity (the API and the sandbox refuse them before)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: replaced, as JSON text cannot carry it
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return value
    if value is None or isinstance(value, (int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
