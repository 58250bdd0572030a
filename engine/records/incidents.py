"""Where a step failed, in words a case handler reads, and how a retry takes it up again.

SpiffWorkflow raises from deep inside its task tree (a successor's update while a task completes,
a multi-instance step merging one of its instances, a timer evaluating its cycle), names no task
for most errors, and leaves undone whatever came after the failure: a completion that fails at
one successor never updates the others. Three methods of its base `TaskSpec` are wrapped here so
that a failure

- names the task it happened in (`failed_task`), so the incident names the element;
- leaves a note on that task (``rutin_incident`` in its internal data, saved with the workflow)
  saying what to do again: ``update`` (its update failed) or ``complete`` (its completion failed;
  the task is put in ERROR meanwhile, so that corrected data reaches it). A task whose own run
  failed is in ERROR already, by SpiffWorkflow's doing, and is simply run again;
- does not keep a completing task's other successors from being updated.

`redo` does what the notes say, after putting a retry's corrected data where the failed step
reads it. `explain` says in Swedish what went wrong. Errors of the database and Rutin's own
(`is_infrastructure`) are never a step's failure: they roll the whole action back.

Why our own code: SpiffWorkflow has no notion of taking a failed step up again (its
``reset_branch`` runs a branch again from scratch, with its scripts) and no Swedish.
"""

from __future__ import annotations

import contextlib
import copy
import re
import sqlite3
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowDataException, WorkflowTaskException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.exc import SQLAlchemyError

from bpmn import sandbox

from ..base import spiff
from ..base.errors import RutinError
from ..store.optimistic import Stale

NOTE = "rutin_incident"
UPDATE, COMPLETE = "update", "complete"


class StepError(Exception):
    """A step cannot go on with the case's data (Rutin's own checks; the message is Swedish)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


_INFRASTRUCTURE: tuple[type[BaseException], ...] = (SQLAlchemyError, sqlite3.Error, RutinError, Stale)
with contextlib.suppress(ImportError):
    import psycopg

    _INFRASTRUCTURE = (*_INFRASTRUCTURE, psycopg.Error)


def is_infrastructure(exc: BaseException) -> bool:
    """Whether an error is the database's or Rutin's own (rolled back), not a step's (an incident)."""
    return isinstance(exc, _INFRASTRUCTURE)


def failed_task(exc: BaseException) -> Any:
    """The workflow task a step's error happened in, or None when no task can be named."""
    return getattr(exc, "_rutin_task", None) or getattr(exc, "task", None)


def _locate(exc: BaseException, task: Any) -> bool:
    """Name the task an error happened in, unless a task deeper down was named already."""
    if is_infrastructure(exc) or getattr(exc, "_rutin_task", None) is not None:
        return False
    try:
        exc._rutin_task = task  # type: ignore[attr-defined]
    except AttributeError:  # an exception type without a __dict__: it stays unnamed
        return False
    return True




def _update(self: TaskSpec, my_task: Any) -> None:
    try:
        spiff.stock(TaskSpec, "_update")(self, my_task)
    except Exception as exc:
        if _locate(exc, my_task):
            my_task.internal_data[NOTE] = UPDATE
        raise


def _run(self: TaskSpec, my_task: Any) -> Any:
    try:
        return spiff.stock(TaskSpec, "_run")(self, my_task)
    except Exception as exc:  # SpiffWorkflow has put the task in ERROR
        _locate(exc, my_task)
        raise


def _on_complete(self: TaskSpec, my_task: Any) -> None:
    """SpiffWorkflow's `TaskSpec._on_complete`, with a failing successor no longer keeping the
    others from being updated, nor the workflow from learning that the task completed."""
    try:
        spiff.on_complete_hook(self, my_task)
    except Exception as exc:
        if _locate(exc, my_task):
            spiff.set_state(my_task, TaskState.ERROR)
            my_task.internal_data[NOTE] = COMPLETE
        raise
    failure: Exception | None = None
    for child in my_task.children:
        if not child.has_state(TaskState.FINISHED_MASK):
            try:
                spiff.update(child)
            except Exception as exc:
                if is_infrastructure(exc):
                    raise
                failure = failure or exc
    spiff.notify_completed(my_task)
    if failure is not None:
        raise failure


spiff.patch(TaskSpec, "_update", _update)
spiff.patch(TaskSpec, "_run", _run)
spiff.patch(TaskSpec, "_on_complete", _on_complete)


def failed_tasks(workflow: Any) -> list[Any]:
    """The tasks a retry takes up again: those noted with what to redo (a failed update or
    completion, which may have left the task in any state) and those whose own run failed."""
    return [t for t in workflow.get_tasks() if NOTE in t.internal_data or t.has_state(TaskState.ERROR)]


def redo(workflow: Any, patch: dict[str, Any] | None = None) -> None:
    """Take the failed steps of a case up again: each noted task's update or completion, and
    each task whose run failed. `patch` (a retry's corrected data) is put first into the failed
    task and into the task it takes its data from (its parent in the tree)."""
    noted = [t for t in workflow.get_tasks() if NOTE in t.internal_data]
    failed_runs = [t for t in workflow.get_tasks(state=TaskState.ERROR) if NOTE not in t.internal_data]
    for task in noted:
        what = task.internal_data.pop(NOTE)
        if patch:
            for target in (task, task.parent):
                if target is not None:
                    target.data.update(copy.deepcopy(patch))
        if what == COMPLETE:
            spiff.set_state(task, TaskState.COMPLETED)
            spiff.complete(task)
        else:
            _drop_unfinished_instances(task)
            spiff.update(task)
    for task in failed_runs:
        spiff.set_state(task, TaskState.READY)
        if task.task_spec.manual:  # a person completed it already; nobody would run it again
            task.run()


def _drop_unfinished_instances(task: Any) -> None:
    """The instances a multi-instance step (or loop) made before its update failed: made again."""
    spec = task.task_spec
    if not isinstance(spec, LoopTask) or not isinstance(getattr(spec, "task_spec", None), str):
        return
    for child in list(task.children):
        if child.task_spec.name == spec.task_spec and not child.has_state(TaskState.FINISHED_MASK):
            spiff.remove_task(task.workflow, child.id)


# -- what went wrong, in Swedish -------------------------------------------------------------------

_TYPES = {"str": "text", "int": "ett heltal", "float": "ett decimaltal", "bool": "ett sant/falskt-värde",
          "NoneType": "ett tomt värde (None)", "list": "en lista", "tuple": "en lista", "dict": "en post",
          "datetime": "en tidpunkt", "date": "ett datum", "Decimal": "ett tal", "set": "en mängd"}
_OPERATORS = {"<": "mindre än", ">": "större än", "<=": "mindre än eller lika med", ">=": "större än eller lika med"}
_EVALUATING = re.compile(r"Error evaluating expression '(.*)'\s*$", re.DOTALL)


def _type(name: str) -> str:
    return _TYPES.get(name, name)


def explain(exc: BaseException) -> str:
    """Why a step failed, as one Swedish sentence for the case's incident (never Python's English)."""
    text = _explain(exc).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


def _explain(exc: BaseException | None) -> str:
    if exc is None:
        return "okänt fel"
    if isinstance(exc, StepError):
        return exc.message
    if isinstance(exc, (sandbox.ScriptTimeout, sandbox.ResourceLimit)):
        return f"skriptets eller uttryckets gräns för tid eller minne överskreds: {exc}"
    if isinstance(exc, sandbox.SandboxError):
        return f"skriptet eller uttrycket stoppades: {exc}"
    if isinstance(exc, WorkflowDataException):
        return _data(exc)
    if isinstance(exc, WorkflowTaskException):
        inner = exc.__cause__ or exc.__context__
        message = str(exc.args[0]) if exc.args else ""
        found = _EVALUATING.match(message)
        if found:
            return f"uttrycket '{found.group(1)}' kunde inte utvärderas: {_explain(inner)}"
        if inner is not None:
            line = f" på rad {exc.line_number}" if isinstance(exc.line_number, int) and exc.line_number else ""
            return f"skriptet stoppade{line}: {_explain(inner)}"
        return _spiff(message)
    if isinstance(exc, WorkflowException):
        message = str(exc.args[0]) if exc.args else ""
        if message.startswith("No conditions satisfied"):
            return _no_condition(getattr(exc, "task_spec", None))
        return _spiff(message)
    return _python(exc)


_VALUE_CALL = re.compile(r"rutin_value\('([^']*)'\)")
_TRUTH = re.compile(r"^rutin_truth\((.*)\)$", re.DOTALL)


def _no_condition(spec: Any) -> str:
    """A gateway none of whose conditions held and that has no default flow, with its conditions
    as the designer reads them (the translation's helpers taken out)."""
    shown = []
    for condition, _ in getattr(spec, "cond_task_specs", None) or []:
        args = getattr(condition, "args", None)  # SpiffWorkflow's condition operator holds the expression
        text = _VALUE_CALL.sub(r"\1", str(args[0] if args else condition))
        found = _TRUTH.match(text)
        shown.append(f"«{found.group(1) if found else text}»")
    listed = f" ({'; '.join(shown)})" if shown else ""
    return (f"inget av villkoren på grindens utgående flöden är uppfyllt{listed} och grinden har inget "
            "standardflöde; ange data som uppfyller ett av villkoren, eller rita ett standardflöde")


def _data(exc: WorkflowDataException) -> str:
    message = str(exc.args[0]) if exc.args else ""
    data_input = getattr(getattr(exc, "data_input", None), "bpmn_id", None)
    data_output = getattr(getattr(exc, "data_output", None), "bpmn_id", None)
    if message.startswith("You are missing a required Data Input"):
        return f"anropet kräver indata '{data_input}', som saknas i ärendets data"
    if message.startswith("The Data Output was not available"):
        return f"den anropade processen lämnade inte utdata '{data_output}'"
    if message.startswith("Missing data input"):
        return f"indata '{data_input}' saknas i ärendets data"
    if message.startswith("Missing data ouput"):
        return f"utdata '{data_output}' saknas i stegets data"
    if message.startswith("Multiinstance data input must be iterable"):
        return f"samlingen '{data_input}' är ingen lista"
    if "can be used for output" in message or "the output must be" in message:
        return f"utsamlingen '{data_output}' ska vara en tom lista eller en post"
    if message.startswith("Expected an output item"):
        return "instansen lämnade inget utvärde"
    return _spiff(message)


def _spiff(message: str) -> str:
    found = re.match(r"The (?:called process|subprocess) '(.+)' was not found", message)
    if found:
        return f"processen '{found.group(1)}' som steget anropar finns inte"
    if message.startswith("No conditions satisfied"):
        return _no_condition(None)
    return "motorn kunde inte köra steget"


def _python(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else ""
    if isinstance(exc, NameError):
        name = getattr(exc, "name", None) or (re.search(r"name '(.+?)' is not defined", text) or [None, "?"])[1]
        return f"variabeln '{name}' saknas i ärendets data"
    if isinstance(exc, KeyError):
        return f"värdet {text!r} saknas" if exc.args else "ett värde saknas"
    if isinstance(exc, TypeError):
        found = re.search(r"'(.+?)' not supported between instances of '(\w+)' and '(\w+)'", text)
        if found:
            op, left, right = found.groups()
            return (f"{_type(left)} och {_type(right)} går inte att jämföra "
                    f"({_OPERATORS.get(op, op)}); rätta värdet i ärendets data")
        found = re.search(r"unsupported operand type\(s\) for (.+?): '(\w+)' and '(\w+)'", text)
        if found:
            op, left, right = found.groups()
            return f"räknesättet {op} går inte att använda på {_type(left)} och {_type(right)}"
        found = re.search(r"can only concatenate (\w+) \(not \"(\w+)\"\)", text)
        if found:
            return f"{_type(found.group(2))} kan inte läggas till {_type(found.group(1))}"
        found = re.search(r"'(\w+)' object is not (iterable|subscriptable|callable)", text)
        if found:
            what = {"iterable": "ingen lista", "subscriptable": "varken en lista eller en post",
                    "callable": "ingen funktion"}[found.group(2)]
            return f"{_type(found.group(1))} är {what}"
        return "ett värde har fel typ"
    if isinstance(exc, ZeroDivisionError):
        return "division med noll"
    if isinstance(exc, OverflowError):
        return "talet blir för stort"
    if isinstance(exc, ArithmeticError):
        return "en beräkning gick inte att göra"
    if isinstance(exc, ValueError):
        found = re.search(r"invalid literal for int\(\) with base \d+: (.+)", text) or re.search(
            r"could not convert string to float: (.+)", text)
        if found:
            return f"{found.group(1)} är inget tal"
        return "ett värde har fel form"
    if isinstance(exc, AttributeError):
        return "värdet har inget sådant fält"
    if isinstance(exc, IndexError):
        return "listan har inget element på den platsen"
    if isinstance(exc, AssertionError):
        return "ett villkor i skriptet (assert) var inte uppfyllt"
    if isinstance(exc, RecursionError):
        return "för djup rekursion"
    if isinstance(exc, MemoryError):
        return "minnet räckte inte"
    return f"oväntat fel ({type(exc).__name__})"
