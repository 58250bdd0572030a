"""The data-flow check at upload: what a condition, timer, loop or script reads that nothing writes.

A case's data comes only from what its diagram declares (DESIGN.md, trust boundaries): the start
form and start mappings, the human steps' form fields, scripts' assignments, output mappings
(``camunda:outputParameter``, ``camunda:out``, ``zeebe:output``), result variables, message
mappings, loop element and output variables and declared data objects. A condition, timer, loop
or script that reads a variable none of these writes cannot get it in any case: it stops there (a
Python condition, a timer, a script) or always reads null (FEEL and JUEL, so the default flow is
taken). The designer gets a warning naming the variable and the element, with what to add.

A call activity writes what its output mappings name and, when it brings back all the called
process's data (`returns_all`), whatever that process (in the same upload) writes (`called_writes`).

Dialect conventions are writes too: Flowable's and Activiti's ``form_<formKey>_outcome`` (the
outcome button of a form), and Rutin's own decision variable.

Reads are taken from the executable copy, after every expression is translated to Python
(`bpmn.expressions`), so one reader serves JUEL, FEEL and Python alike.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable

from lxml import etree

from . import nulls, script_builtins
from .diagnostics import Diagnostic
from .model import ProcessModel
from .normalize import CHOICE_VARIABLE, local

_KNOWN = set(dir(builtins)) | nulls.HELPERS | {"rutin_variable", "floor", "ceil", CHOICE_VARIABLE,
                               "nrOfInstances", "nrOfCompletedInstances", "nrOfActiveInstances",
                               "numberOfInstances", "numberOfCompletedInstances", "numberOfActiveInstances",
                               "loopCounter"} | set(script_builtins.helpers(None))
# Attributes (any namespace) whose value names a variable the element writes.
_WRITING_ATTRIBUTES = {"resultVariable", "resultVariableName", "elementVariable", "inputElement",
                       "outputCollection", "variableName", "messageVariable"}
# Elements (any namespace) that name a variable they write: in `name` or in `target` (an input
# mapping's target is the element's own local variable, which its script and listeners read).
_WRITING_ELEMENTS = {"outputParameter": "name", "output": "target", "out": "target", "inputParameter": "name",
                     "input": "target", "inputDataItem": "id",
                     "outputDataItem": "id", "dataObject": "name", "dataObjectReference": "name"}
_TIMERS = {"timeDate", "timeDuration", "timeCycle"}
_OUT = {"out"}  # camunda:out, flowable:out, activiti:out
_IN = {"in"}
_ZEEBE_CALLED = "{http://camunda.org/schema/zeebe/1.0}calledElement"
_FIX = ("Lägg till ett formulärfält med det namnet i ett steg före, eller deklarera variabeln (som startdata, "
        "utmappning eller dataobjekt).")


def _tree(source: str, mode: str) -> ast.AST | None:
    try:
        return ast.parse(source.strip(), mode=mode)
    except (SyntaxError, ValueError, RecursionError):
        return None


def names_read(tree: ast.AST) -> set[str]:
    """The case variables a translated expression or script reads (and does not assign itself)."""
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}
    stored |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    read -= {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in {"rutin_value", "rutin_variable"} and len(node.args) == 1 and \
                isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            read.add(node.args[0].value)
    return {n for n in read - stored - _KNOWN if not n.startswith("_")}


def _names_written(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def written(proc: etree._Element, model: ProcessModel, original: etree._Element | None = None) -> set[str]:
    """Every variable something in the process declares it writes (`original`: the process as
    uploaded, whose data objects the executable copy no longer holds)."""
    names: set[str] = {f.id for f in model.start_form} | set(model.start_outputs)
    for outputs in model.message_outputs.values():
        names |= set(outputs)
    for step in model.steps.values():
        names |= {f.id for f in step.form}
        names |= {str(io["name"]) for io in step.io if io.get("direction") == "out" and io.get("name")}
        if step.form_key:
            names.add(f"form_{step.form_key}_outcome")  # Flowable's and Activiti's outcome buttons
    if original is not None:
        names |= _data_objects_written(original)
    for el in proc.iter():
        if not isinstance(el.tag, str):
            continue
        tag = local(el)
        for attr, value in el.attrib.items():
            name = attr.rsplit("}", 1)[-1]
            if name in _WRITING_ATTRIBUTES and value.strip():
                names.add(value.strip().lstrip("=").strip())
            if name == "formKey" and value.strip():
                names.add(f"form_{value.strip()}_outcome")
        if tag in _WRITING_ELEMENTS and el.get(_WRITING_ELEMENTS[tag]):
            target = (el.get(_WRITING_ELEMENTS[tag]) or "").strip()
            names |= {target, target.split(".", 1)[0]}  # Zeebe's target path ``order.id`` writes ``order``
        if tag in {"inputDataItem", "outputDataItem", "dataObject"} and el.get("name"):
            names.add((el.get("name") or "").strip())
        if tag == "loopDataOutputRef" and (el.text or "").strip():
            names.add((el.text or "").strip())
        if tag in {"script", "preScript", "postScript"} and (el.text or "").strip():
            tree = _tree(el.text or "", "exec")
            if tree is not None:
                names |= _names_written(tree)
    return names


def _data_objects_written(original: etree._Element) -> set[str]:
    """The names of the data objects a step writes (a ``dataOutputAssociation`` to the object or
    to a reference to it): a declared object nothing writes holds nothing in a case."""
    by_id = {el.get("id"): el for el in original.iter() if isinstance(el.tag, str)
             and local(el) in {"dataObject", "dataObjectReference"} and el.get("id")}
    names: set[str] = set()
    for assoc in original.iter():
        if not isinstance(assoc.tag, str) or local(assoc) != "dataOutputAssociation":
            continue
        for target in assoc:
            if not isinstance(target.tag, str) or local(target) != "targetRef":
                continue
            found = by_id.get((target.text or "").strip())
            while found is not None:
                names |= {v.strip() for v in (found.get("name"), found.get("id")) if v and v.strip()}
                found = by_id.get(found.get("dataObjectRef")) if local(found) == "dataObjectReference" else None
    return names


def _reads(proc: etree._Element) -> Iterable[tuple[str, etree._Element, set[str]]]:
    """(what, element, names) for each expression and script of the process that reads data."""
    for el in proc.iter():
        if not isinstance(el.tag, str):
            continue
        tag = local(el)
        if tag == "conditionExpression" and not el.get("rutinGenerated"):
            flow = el.getparent()
            tree = _tree(el.text or "", "eval")
            if tree is not None and flow is not None:
                source = proc.find(f".//*[@id='{flow.get('sourceRef')}']") if flow.get("sourceRef") else None
                at = source if source is not None and local(flow) == "sequenceFlow" else flow
                yield "Villkoret", at, names_read(tree)
        elif tag in _TIMERS and (el.text or "").strip():
            tree = _tree(el.text or "", "eval")
            event = el.getparent().getparent() if el.getparent() is not None else None
            if tree is not None and event is not None:
                yield "Timern", event, names_read(tree)
        elif tag in {"loopCardinality", "completionCondition", "loopDataInputRef"} and (el.text or "").strip():
            tree = _tree(el.text or "", "eval")
            step = el.getparent().getparent() if el.getparent() is not None else None
            if tree is not None and step is not None:
                yield "Flerinstansen", step, names_read(tree)
        elif tag == "script" and local(el.getparent()) == "scriptTask" and (el.text or "").strip():
            tree = _tree(el.text or "", "exec")
            if tree is not None:
                yield "Skriptet", el.getparent(), names_read(tree)


def unwritten(proc: etree._Element, model: ProcessModel, original: etree._Element | None = None,
              returned: Iterable[str] = ()) -> list[Diagnostic]:
    """A warning for each variable a condition, timer, loop or script of the process reads that
    nothing in the diagram writes: located at the element that reads it, naming the variable.
    `returned`: what its call activities bring back from the processes they call (`called_writes`)."""
    writes = written(proc, model, original) | set(returned)
    out: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()
    pid = proc.get("id")
    for what, el, names in _reads(proc):
        eid = el.get("id") or ""
        for name in sorted(names - writes):
            if (eid, name) in seen:
                continue
            seen.add((eid, name))
            out.append(Diagnostic(
                "warning", "unwritten-variable",
                f"{what} läser variabeln '{name}', som inget i diagrammet skriver (inget formulärfält, startformulär, "
                f"skript, utmappning, meddelande eller dataobjekt). {_FIX}",
                element_id=eid or None, element_name=model.element_names.get(eid) or el.get("name"),
                line=el.sourceline, process_id=pid))
    return out


def returns_all(call: etree._Element) -> bool:
    """Whether a call activity brings back every variable its called process holds at its end:
    Camunda 7's and Flowable's ``<out variables="all"/>``; Camunda 8 unless its
    ``zeebe:calledElement`` sets ``propagateAllChildVariables="false"`` (the default is true);
    and, with no in or out mapping of any dialect, SpiffWorkflow's call activity, which hands its
    data to the called process and takes all of it back. Output mappings alone (``<out
    target=...>``, ``zeebe:output``) bring back only what they name (`written` counts those)."""
    mappings = [el for ext in call if isinstance(ext.tag, str) and local(ext) == "extensionElements"
                for el in ext if isinstance(el.tag, str) and local(el) in _OUT | _IN]
    if any(local(el) in _OUT and (el.get("variables") or "").strip() == "all" for el in mappings):
        return True
    zeebe = call.find(f".//{_ZEEBE_CALLED}")
    if zeebe is not None:
        return (zeebe.get("propagateAllChildVariables") or "true").strip().lower() != "false"
    return not mappings


def called_writes(processes: dict[str, etree._Element], own: dict[str, set[str]]) -> dict[str, set[str]]:
    """For each process (by id), the variables its call activities bring back: everything the
    called process (in the same upload) writes, through its own calls too, for a call that
    returns all (`returns_all`). `own`: what each process writes itself (`written`)."""
    returning = {pid: {call.get("calledElement") or "" for call in proc.iter()
                       if isinstance(call.tag, str) and local(call) == "callActivity" and returns_all(call)}
                 for pid, proc in processes.items()}
    total = {pid: set(own.get(pid, set())) for pid in processes}
    changed = True
    while changed:  # to a fixed point: a call chain is as long as the upload has processes
        changed = False
        for pid, callees in returning.items():
            for callee in callees:
                extra = total.get(callee, set()) - total[pid]
                if extra:
                    total[pid] |= extra
                    changed = True
    return {pid: total[pid] - own.get(pid, set()) for pid in processes}
