"""The input and output mappings, listener scripts and pre- and post-scripts of an element, read
into the steps Rutin runs when the element starts and when it completes.

Each dialect's own rules, as its documentation gives them:

- **Camunda 7** ``camunda:inputOutput``: an input parameter is a local variable of the activity,
  visible to its form, script and listeners and gone when it ends; an output parameter is
  evaluated in that local scope when the activity ends and set on the case. A value is text (a
  constant string), a JUEL expression ``${...}`` (a variable it reads that the case does not hold
  stops the step, as Camunda's "Cannot resolve identifier" does), ``camunda:list``,
  ``camunda:map``, or a ``camunda:script`` (run here only when it is Python and one expression).
- **Camunda 8** ``zeebe:ioMapping``: the same locality; a source is FEEL after ``=`` (a missing
  variable is null, as FEEL reads it) or else a constant string; a target may be a path
  (``order.id``), which builds the nested record.
- **Execution and task listeners** (Camunda 7, Flowable, Activiti) whose implementation is an
  inline Python ``script``: run on the element's data, ``start``/``create`` after the inputs,
  ``end``/``complete`` before the outputs. Flowable and Activiti write a script listener as the
  class ``ScriptExecutionListener`` or ``ScriptTaskListener`` with the fields ``script``,
  ``language`` and ``resultVariable`` (`listener_script`): read the same way, the result of a
  script that is one expression set on the result variable. A Java class, a delegate expression or a method
  expression calls Java objects for their effect, which Rutin does not have: those stay
  warnings (`bpmn.implementations`), as do listeners on other events.
- **SpiffArena** ``spiffworkflow:preScript``/``postScript``: Python run on the task's data before
  the task and after it, as SpiffWorkflow's own ``SpiffBpmnTask`` does.

`read` gives the steps (plain JSON, stored on the engine's task spec) and, for each part that is
not run, why; the engine applies the steps (`engine.execution.io_mappings`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask

from . import sandbox
from .expressions import ExpressionError, null_safe, shown, to_python
from .xml import BPMN_NS

CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
LISTENER_NAMESPACES = (CAMUNDA_NS, "http://flowable.org/bpmn", "http://activiti.org/bpmn")
EXTENSIONS = f"{{{BPMN_NS}}}extensionElements"
# The key under which the steps travel on the engine's task spec (``TaskSpec.extensions``).
KEY = "rutin_io"
START, END = "start", "end"
# When a listener's event comes, in Rutin's two moments; other events are not run.
LISTENER_EVENTS = {("executionListener", "start"): START, ("executionListener", "end"): END,
                   ("taskListener", "create"): START, ("taskListener", "complete"): END}


@dataclass
class Reading:
    """What one element asks to run: its steps, and a (code, message) per part that is not run."""

    steps: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def is_python(fmt: str | None) -> bool:
    """Whether a ``scriptFormat`` names Python (no format: Python, as in SpiffWorkflow)."""
    return (fmt or "python").strip().lower() in {"python", "python3", "py"}


def own(el: etree._Element, ns: str, local: str) -> list[etree._Element]:
    """Extension elements of `el` itself, not of the elements nested in it (a subprocess's tasks)."""
    ext = el.find(EXTENSIONS)
    return [] if ext is None else list(ext.iter(f"{{{ns}}}{local}"))


# Flowable's and Activiti's script listeners are Java classes of the engine given the script as fields.
SCRIPT_LISTENER_CLASSES = {"ScriptExecutionListener", "ScriptTaskListener"}


@dataclass
class ListenerScript:
    """A listener's script, however the dialect writes it: its text, language, file, and the
    variable its result is set on (Flowable's and Activiti's ``resultVariable``)."""

    source: str
    language: str | None
    resource: str | None = None
    result_variable: str | None = None

    def runs_as(self) -> str | None:
        """The Python that runs: the script, or with a result variable an assignment of the
        script's value (None when the script is not one expression to take the value of)."""
        if not self.result_variable:
            return self.source.strip()
        try:
            ast.parse(self.source.strip(), mode="eval")
        except SyntaxError:
            return None
        if not self.result_variable.isidentifier():
            return None
        return f"{self.result_variable} = ({self.source.strip()})"


def _field(listener: etree._Element, ns: str, name: str) -> str | None:
    for f in listener.findall(f"{{{ns}}}field"):
        if f.get("name") == name:
            value = f.get("stringValue")
            if value is None:
                child = f.find(f"{{{ns}}}string")
                value = child.text if child is not None else None
            return value
    return None


def listener_script(listener: etree._Element, ns: str) -> ListenerScript | None:
    """The script a listener runs, or None when it calls Java: a nested ``script`` element
    (Camunda 7, Flowable), or Flowable's and Activiti's script listener class with its fields."""
    script = listener.find(f"{{{ns}}}script")
    if script is not None:
        return ListenerScript(script.text or "", script.get("scriptFormat"), script.get("resource"))
    cls = (listener.get("class") or "").strip()
    if ns == CAMUNDA_NS or cls.rsplit(".", 1)[-1] not in SCRIPT_LISTENER_CLASSES:
        return None
    return ListenerScript(_field(listener, ns, "script") or "", _field(listener, ns, "language"),
                          None, (_field(listener, ns, "resultVariable") or "").strip() or None)


class Unreadable(ValueError):
    """A mapping Rutin cannot evaluate; the message says why, in Swedish."""


class Refused(Unreadable):
    """A mapping whose script cannot run here: refused at upload (`bpmn.implementations`), so not
    warned about again."""


def _name(target: str) -> bool:
    """Whether a Zeebe target is a variable, or a path into one (names may hold spaces in Camunda 8)."""
    return all(part.strip() and not part.strip()[0].isdigit() and all(c.isalnum() or c in "_ " for c in part)
               for part in target.split("."))


def _juel_or_text(text: str | None) -> str:
    value = (text or "").strip()
    if value[:2] in {"${", "#{"}:
        try:
            return to_python(value)
        except ExpressionError as exc:
            raise Unreadable(f"{shown(value)} kan inte utvärderas här ({exc})") from None
    return repr(value) if text is not None else "None"


def _camunda_value(param: etree._Element) -> str:
    """Python for a Camunda parameter's (or list item's, or map entry's) value."""
    for child in param:
        if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{CAMUNDA_NS}}}"):
            continue
        kind = child.tag.rsplit("}", 1)[-1]
        if kind == "list":
            return "[" + ", ".join(_camunda_value(v) for v in child if isinstance(v.tag, str)) + "]"
        if kind == "map":
            entries = [e for e in child if isinstance(e.tag, str)]
            return "{" + ", ".join(f"{(e.get('key') or '')!r}: {_camunda_value(e)}" for e in entries) + "}"
        if kind == "script":
            return _script_value(child)
        if kind == "value":  # a list item
            return _camunda_value(child)
    return _juel_or_text(param.text if (param.text or "").strip() else None)


def _script_value(script: etree._Element) -> str:
    if not is_python(script.get("scriptFormat")) or script.get("resource"):
        raise Refused(f"skriptet i {script.get('scriptFormat')!r} kan inte köras här")
    source = (script.text or "").strip()
    try:
        ast.parse(source, mode="eval")
        sandbox.check_expression(source)
    except (SyntaxError, ValueError, sandbox.PolicyViolation):
        raise Unreadable("skriptets värde är inte ett enda Python-uttryck, som Rutin kan ta värdet av") from None
    return source


def _feel_or_text(source: str | None) -> str:
    value = (source or "").strip()
    if not value.startswith("="):
        return repr(value)
    try:
        return null_safe(to_python(value), condition=False)
    except ExpressionError as exc:
        raise Unreadable(f"{shown(value)} kan inte utvärderas här ({exc})") from None


def _camunda(el: etree._Element, out: Reading) -> None:
    for local, kind, direction in (("inputParameter", "input", "Inmappningen"),
                                   ("outputParameter", "output", "Utmappningen")):
        for param in own(el, CAMUNDA_NS, local):
            name = (param.get("name") or "").strip()
            what = f"{direction} {name!r}"
            if not name:
                out.refused.append(("mapping-unreadable", f"{what} saknar namn; mappningen körs inte."))
                continue
            try:
                source = _camunda_value(param)
            except Refused:
                continue
            except Unreadable as exc:
                out.refused.append(("mapping-unreadable", f"{what}: {exc}; mappningen körs inte."))
                continue
            text = (param.text or "").strip()
            shown_as = text if len(param) == 0 and text[:2] in {"${", "#{"} else None
            out.steps.append({"at": START if kind == "input" else END, "kind": kind, "name": name,
                              "source": source, "what": what, "expression": shown(shown_as) if shown_as else None})


def _zeebe(el: etree._Element, out: Reading) -> None:
    for local, direction in (("input", "Inmappningen"), ("output", "Utmappningen")):
        for m in own(el, ZEEBE_NS, local):
            target = (m.get("target") or "").strip()
            what = f"{direction} till {target!r}"
            if not target or not _name(target):
                out.refused.append(("mapping-unreadable", f"{what}: målet är inget variabelnamn; mappningen körs "
                                                          "inte."))
                continue
            try:
                source = _feel_or_text(m.get("source"))
            except Unreadable as exc:
                out.refused.append(("mapping-unreadable", f"{what}: {exc}; mappningen körs inte."))
                continue
            written = (m.get("source") or "").strip()
            out.steps.append({"at": START if local == "input" else END, "kind": "input" if local == "input"
                              else "output", "name": target, "source": source, "what": what,
                              "expression": shown(written) if written.startswith("=") else None})


def _listeners(el: etree._Element, out: Reading) -> list[dict[str, Any]]:
    """Listener scripts that run; the others (Java, other events) are `bpmn.implementations`' warnings."""
    steps = []
    for ns in LISTENER_NAMESPACES:
        for kind in ("executionListener", "taskListener"):
            for listener in own(el, ns, kind):
                script = listener_script(listener, ns)
                at = LISTENER_EVENTS.get((kind, (listener.get("event") or "").strip()))
                if script is None or at is None or not runnable(el, script):
                    continue
                source = script.runs_as()
                if source is None:
                    continue  # a warning at upload (`bpmn.implementations`)
                try:
                    sandbox.check_script(source)
                except sandbox.PolicyViolation:
                    continue  # refused at upload (`bpmn.implementations`)
                steps.append({"at": at, "kind": "script", "name": None, "source": source,
                              "what": f"Lyssnarens skript ({listener.get('event')})"})
    return steps


def runnable(el: etree._Element, script: ListenerScript) -> bool:
    """Whether a listener's script can run here: inline Python, on an element the engine runs as a
    step (not on the process, whose start and end are not a step's, nor on a sequence flow)."""
    if not is_python(script.language) or script.resource:
        return False
    tag = el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""
    return tag not in {"process", "sequenceFlow"}


def _spiff(el: etree._Element, local: str, at: str) -> list[dict[str, Any]]:
    steps = []
    for script in own(el, SPIFF_NS, local):
        source = (script.text or "").strip()
        if not source:
            continue
        try:
            sandbox.check_script(source)
        except sandbox.PolicyViolation:
            continue  # refused at upload (`bpmn.implementations`)
        steps.append({"at": at, "kind": "script", "name": None, "source": source,
                      "what": "Skriptet före steget" if at == START else "Skriptet efter steget"})
    return steps


def _start_event(el: etree._Element, out: Reading) -> Reading:
    """A start event's mappings are not run: Camunda 7 refuses them there, and Rutin reads an
    output that passes a variable on under its own name (``${belopp}`` to ``belopp``) as the
    declaration of the data a case starts with (`bpmn.declared`). Any other is not run."""
    _camunda(el, out)
    _zeebe(el, out)
    for step in out.steps:
        if step["kind"] != "output" or variable_reference_python(step["source"]) != step["name"]:
            out.refused.append(("mapping-not-applied",
                                f"{step['what']} på starthändelsen körs inte; ärendet startar med de uppgifter "
                                "som skickas, med variablernas egna namn."))
    out.steps = []
    return out


def variable_reference_python(source: str) -> str | None:
    """The variable a translated expression reads alone (``x`` for ``x`` or ``rutin_truth(rutin_value('x'), None)``)."""
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError:
        return None
    if isinstance(tree, ast.Call) and getattr(tree.func, "id", None) == "rutin_truth" and tree.args:
        tree = tree.args[0]
    if isinstance(tree, ast.Call) and getattr(tree.func, "id", None) == "rutin_value" and len(tree.args) == 1 \
            and isinstance(tree.args[0], ast.Constant):
        return str(tree.args[0].value)
    return tree.id if isinstance(tree, ast.Name) else None


def read(el: etree._Element) -> Reading:
    """The steps `el` asks to run when it starts and ends, in the order they run: inputs, then
    start listeners and the pre-script; end listeners and the post-script, then outputs."""
    out = Reading()
    if el.find(EXTENSIONS) is None:
        return out
    tag = el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""
    if tag in {"process", "sequenceFlow"}:
        return out
    if tag == "startEvent":
        return _start_event(el, out)
    _camunda(el, out)
    _zeebe(el, out)
    listeners = _listeners(el, out)
    inputs = [s for s in out.steps if s["kind"] == "input"]
    outputs = [s for s in out.steps if s["kind"] == "output"]
    out.steps = [*inputs, *[s for s in listeners if s["at"] == START], *_spiff(el, "preScript", START),
                 *[s for s in listeners if s["at"] == END], *_spiff(el, "postScript", END), *outputs]
    return out


def attach(root: etree._Element, specs: list[Any], converted: set[str] | frozenset[str] = frozenset()) -> None:
    """Put each element's steps on its engine task specs (``extensions``, kept by SpiffWorkflow's
    serializer), in the process specs `specs` parsed from `root`. A multi-instance step's steps
    go on its instances, which are the element each time it runs. An element a person does in
    place of a service or decision (`converted`, by id) runs no output mapping: the person
    records what the step produces under the outputs' own names (``form-from-outputs``)."""
    found: dict[str | None, list[dict[str, Any]]] = {}
    for el in root.iter(f"{{{BPMN_NS}}}*"):
        if el.get("id") and el.find(EXTENSIONS) is not None:
            steps = [s for s in read(el).steps if not (s["kind"] == "output" and el.get("id") in converted)]
            if steps:
                found[el.get("id")] = steps
    if not found:
        return
    for process in specs:
        for task_spec in process.task_specs.values():
            own_steps = found.get(getattr(task_spec, "bpmn_id", None))
            if own_steps and not isinstance(task_spec, LoopTask):
                extensions = getattr(task_spec, "extensions", None)
                task_spec.extensions = {**(extensions if isinstance(extensions, dict) else {}), KEY: own_steps}
