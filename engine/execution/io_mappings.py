"""Input and output mappings, listener scripts and pre- and post-scripts, run when an element
starts and when it completes (`bpmn.io_mappings` reads them at upload and says in which order).

The steps travel on the engine's task spec (``extensions``, which SpiffWorkflow's serializer
keeps) and run from two hooks of SpiffWorkflow's `BpmnTaskSpec`, patched through
`engine.base.spiff`: its update hook (the element starts: its inputs become ready) and its
completion hook (the element ends, before its successors see its data). Every expression and
script goes through the case's script engine, the same restricted evaluator as conditions.

An input is a local variable of the element, as Camunda 7 and 8 define it: the variable it
shadows (or its absence) is kept in the task's internal data and put back when the element ends,
after the outputs are evaluated in the local scope and before they are written. A step that
fails is the element's incident (`engine.records.incidents`), naming the mapping in Swedish;
the update or completion is then done again by a retry, and inputs already applied are not
applied twice.
"""

from __future__ import annotations

import copy
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.bpmn_task_spec import BpmnTaskSpec

from bpmn import io_mappings
from bpmn.nulls import Null

from ..base import spiff
from ..records import incidents

_LOCALS = "rutin_io_locals"  # {name: [held, value]} of the variables the inputs shadow
_STARTED = "rutin_io_started"


def steps(spec: Any) -> list[dict[str, Any]]:
    """The mapping steps a task spec carries (none for specs stored before Rutin ran them)."""
    extensions = getattr(spec, "extensions", None)
    found = extensions.get(io_mappings.KEY) if isinstance(extensions, dict) else None
    return list(found) if isinstance(found, list) else []


def _element(spec: Any) -> str:
    return str(getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name)


def _failed(step: dict[str, Any], spec: Any, exc: Exception) -> incidents.StepError:
    if incidents.is_infrastructure(exc):
        raise exc
    inner: BaseException = exc
    if step["kind"] != "script" and isinstance(exc, WorkflowTaskException):
        # The evaluation's own error, not SpiffWorkflow's wrapping (which quotes the translation).
        inner = exc.__cause__ or exc.__context__ or exc
    cause = incidents.explain(inner).rstrip(".")
    cause = cause[:1].lower() + cause[1:]
    verb = "kunde inte köras" if step["kind"] == "script" else "kunde inte utvärderas"
    written = f" ({step['expression']})" if step.get("expression") else ""
    return incidents.StepError(f"{step['what']} i '{_element(spec)}'{written} {verb}: {cause}.")


def _plain(value: Any) -> Any:
    """A value to store: FEEL's null (a missing variable read) stored as None."""
    if isinstance(value, Null):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    """Set a variable, or a field at a path into one (Zeebe's ``order.id``), making the records on the way."""
    *parents, last = [part.strip() for part in path.split(".")]
    here = data
    for part in parents:
        if not isinstance(here.get(part), dict):
            here[part] = {}
        here = here[part]
    here[last] = value


def _evaluate(task: Any, step: dict[str, Any]) -> Any:
    try:
        return _plain(task.workflow.script_engine.evaluate(task, step["source"]))
    except Exception as exc:
        raise _failed(step, task.task_spec, exc) from exc


def _run(task: Any, step: dict[str, Any]) -> None:
    try:
        task.workflow.script_engine.execute(task, step["source"])
    except Exception as exc:
        raise _failed(step, task.task_spec, exc) from exc


def start(task: Any) -> None:
    """The element starts: its inputs as local variables, then its start listeners and pre-script."""
    found = [s for s in steps(task.task_spec) if s.get("at") == io_mappings.START]
    if not found or task.internal_data.get(_STARTED):
        return
    held = task.internal_data.setdefault(_LOCALS, {})
    for step in found:
        if step["kind"] == "input":
            value = _evaluate(task, step)
            top = step["name"].split(".", 1)[0].strip()
            if top not in held:
                held[top] = [top in task.data, copy.deepcopy(task.data.get(top))]
            _set(task.data, step["name"], value)
        else:
            _run(task, step)
    task.internal_data[_STARTED] = True


def end(task: Any) -> None:
    """The element ends: its end listeners and post-script, its outputs evaluated in its local
    scope, its inputs' variables put back as they were, then the outputs written."""
    found = [s for s in steps(task.task_spec) if s.get("at") == io_mappings.END]
    held = task.internal_data.get(_LOCALS) or {}
    if not found and not held:
        return
    outputs = []
    for step in found:
        if step["kind"] == "output":
            outputs.append((step["name"], _evaluate(task, step)))
        else:
            _run(task, step)
    for name, (had, value) in held.items():
        if had:
            task.data[name] = value
        else:
            task.data.pop(name, None)
    for name, value in outputs:
        _set(task.data, name, value)
    task.internal_data.pop(_LOCALS, None)


def _update_hook(self: Any, my_task: Any) -> Any:
    ready = spiff.stock(BpmnTaskSpec, "_update_hook")(self, my_task)
    start(my_task)
    return ready


def _on_complete_hook(self: Any, my_task: Any) -> None:
    end(my_task)
    spiff.stock(BpmnTaskSpec, "_on_complete_hook")(self, my_task)


spiff.patch(BpmnTaskSpec, "_update_hook", _update_hook)
spiff.patch(BpmnTaskSpec, "_on_complete_hook", _on_complete_hook)
