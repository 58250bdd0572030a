"""What a draft changes against the version published: computed from the normalized models
(`bpmn.model.ProcessModel`), never from the XML, so that a reformatted diagram shows no change.

Steps are matched by their element id; a step is added, removed or renamed, and a kept step may
change its role, its due time or its form (the labels of its fields). A condition on a flow may be
added, removed or changed; a version stored before Rutin kept conditions is compared on its steps
only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bpmn.model import HumanStep, ProcessModel


@dataclass
class StepChange:
    """One change to a human step (`kind` added, removed, renamed, role, due or form), or to the
    condition on a flow (`kind` condition; `step` then names the flow)."""

    kind: str
    step: str
    before: Any = None
    after: Any = None


def _steps(model: ProcessModel) -> dict[str, HumanStep]:
    return {st.element_id: st for st in model.steps.values()}


def _form(st: HumanStep) -> list[str]:
    return [f.label or f.id for f in st.form]


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[StepChange]:
    """The changes to the human steps between two stored models (`before` None: all are added)."""
    after_model = ProcessModel.from_json(after)
    before_model = ProcessModel.from_json(before) if before is not None else None
    new = _steps(after_model)
    old = _steps(before_model) if before_model is not None else {}
    out = [StepChange("added", new[k].name or "namnlöst steg") for k in new if k not in old]
    out += [StepChange("removed", old[k].name or "namnlöst steg") for k in old if k not in new]
    for k in (k for k in new if k in old):
        was, now = old[k], new[k]
        name = now.name or "namnlöst steg"
        if was.name != now.name:
            out.append(StepChange("renamed", name, was.name, now.name))
        if was.role != now.role:
            out.append(StepChange("role", name, was.role, now.role))
        if was.due != now.due:
            out.append(StepChange("due", name, was.due, now.due))
        if _form(was) != _form(now):
            out.append(StepChange("form", name, ", ".join(_form(was)) or "inget", ", ".join(_form(now)) or "inget"))
    if before_model is not None and before_model.conditions is not None and after_model.conditions is not None:
        old_c, new_c = before_model.conditions, after_model.conditions
        for k in dict.fromkeys([*old_c, *new_c]):
            a, b = (old_c.get(k) or {}).get("condition"), (new_c.get(k) or {}).get("condition")
            if a != b:
                out.append(StepChange("condition", (new_c.get(k) or old_c.get(k) or {}).get("flow", ""), a, b))
    return out
