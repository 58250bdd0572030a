"""What each way into a case accepts: the fields the diagram declares, and nothing else.

A form is a whitelist (DESIGN.md, trust boundaries). Without one, a handler could add
``"godkand": true`` to their own step's completion and the gateway after it would skip the
manager's review. So:

- **Completing a step** accepts its form's fields and the variables its output mapping declares
  (``camunda:outputParameter``, ``zeebe:ioMapping`` outputs: `HumanStep.io`); a decision takes
  its ``choice``, and data only if the decision step declares form fields. A read-only field may
  be sent back as shown; its value is not taken (`engine.base.forms.validate`).
- **Starting a case** accepts the start form's fields (`ProcessModel.start_form`) and the
  documented case fields, `CASE_FIELDS`: the fields Rutin itself reads from a case's data,
  each named by the process (or its delegation ordinance) in a documented property. These are
  facts of the case that arrive with it: the day it was received, a date a step is due by, the
  area or amount that decides which ordinance item a decision falls under. Variables that say
  who does a step (``camunda:assignee="${ansvarig}"``) are not among them: who works on a case
  is never chosen through undeclared data; a start form that asks for it declares it.
  `engine/service/measures.py` reads nothing from case data.
- **A message** carries what its catching element maps (its output mapping, plus what the
  message's correlation reads); an element that maps nothing takes any field except those a
  human step's form fills in and the documented case fields, so a message cannot decide in a
  person's place, nor move a deadline or the limit a decision falls under.
- **Retrying an incident** may correct the variables the case already has and those the failing
  element reads (its script, condition or expression), nothing else.

Every refusal is `InvalidInput` (422) naming each offending field in Swedish, raised before
anything is written. Sizes and nesting are `engine.base.data_limits`'; reserved names (``_...``,
``rutin_beslut``) `engine.base.forms.bad_keys`'.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask

from bpmn import dates
from bpmn.expressions import variable_reference
from bpmn.model import FormField, HumanStep, ProcessModel

from ..authority import ordinance
from ..base import data_limits, form_defaults, forms
from ..base.errors import InvalidInput
from ..base.settings import Settings
from ..clocks import policies
from ..core import Engine
from ..execution import io_mappings


@dataclass(frozen=True)
class CaseField:
    """One kind of documented case field: where a process names it, and what Rutin reads it for."""

    source: str
    reader: str
    description: str


# The one list of documented case fields (the OpenAPI description and the README list these).
CASE_FIELDS: tuple[CaseField, ...] = (
    CaseField("rutin:caseDeadlineFrom", "engine/clocks/case_clock.py",
              "dagen ärendet kom in (t.ex. inkom, ÅÅÅÅ-MM-DD), som den lagstadgade tidsfristen räknas från"),
    CaseField("rutin:due, rutin:followUp, camunda:dueDate, camunda:followUpDate (en variabel, ${svarsdatum})",
              "engine/clocks/deadlines.py", "ett datum som ett steg ska vara klart eller följas upp senast"),
    CaseField("delegationsordningens limit för processens beslut (area <= 200)", "engine/authority/ordinance.py",
              "uppgifter som avgör under vilken punkt i delegationsordningen ett beslut fattas"),
    CaseField("camunda:priority, zeebe:priorityDefinition (en variabel, ${prio})", "engine/execution/runtime.py",
              "ett stegs prioritet (0–100)"),
)


def _reject(messages: dict[str, str], accepted: set[str]) -> None:
    if messages:
        raise InvalidInput(" ".join(messages.values()),
                           errors=[{"field": k, "message": m} for k, m in messages.items()],
                           accepted=sorted(accepted))


def step_fields(step: HumanStep | None) -> set[str]:
    """The data keys completing a step accepts: its form's fields, its output mapping's variables
    and the variable each output reads when it reads one (``=kommentar``, ``${beslut}``): what the
    step's worker hands back for the mapping to take (`engine.execution.io_mappings`)."""
    if step is None:
        return set()
    outputs = [io for io in step.io if io.get("direction") == "out" and io.get("name")]
    read = {ref.split(".", 1)[0] for io in outputs if (ref := variable_reference(io.get("source")))}
    return {f.id for f in step.form} | {str(io["name"]).strip() for io in outputs} | read


def check_step(step: HumanStep | None, name: str, data: dict[str, Any], settings: Settings,
               current: dict[str, Any] | None, scope: dict[str, Any] | None = None,
               now: datetime | None = None) -> dict[str, Any]:
    """The completion's data, omitted fields filled in with their form defaults (an expression
    default evaluated over `scope`, the task's data, else `current`), typed by the step's form;
    `InvalidInput` naming every field the step does not declare, every form field in error, a
    default that cannot be computed (its dates read `now`), or the field that takes the case (its `current` data) over
    its size limit."""
    accepted = step_fields(step)
    _reject({k: f"Fältet '{k}' finns inte i steget '{name}'." for k in data if k not in accepted}, accepted)
    if step is not None:
        data = form_defaults.fill(step.form, data, scope if scope is not None else current, now)
    cleaned = forms.validate(step.form if step is not None else [], data)
    data_limits.check_input(settings, cleaned, current)
    return cleaned


def _first_name(path: str) -> str:
    return path.split(".", 1)[0].strip()


def _date_variable(spec: str | None) -> str | None:
    if not spec:
        return None
    try:
        parsed = dates.parse(spec)
    except dates.DateSyntaxError:
        return None
    return _first_name(parsed.value) if parsed.kind == "variable" else None


def expression_names(source: str | None) -> set[str]:
    """The variables a (Python) expression or script reads: its names, and ``rutin_variable("x")``
    (``rutin_value("x")`` in a condition translated from JUEL or FEEL)."""
    if not source:
        return set()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in called
                and node.id not in {"True", "False", "None"}):
            names.add(node.id)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in {"rutin_variable", "rutin_value"} and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.add(node.args[0].value)
    return names


def case_fields(engine: Engine, model: ProcessModel) -> dict[str, CaseField]:
    """The documented case fields of a process (`CASE_FIELDS`), by the name it gives each."""
    found: dict[str, CaseField] = {}
    receipt, due_dates, limits, priorities = CASE_FIELDS
    if model.properties.get("rutin:caseDeadlineFrom"):
        found[model.properties["rutin:caseDeadlineFrom"].strip()] = receipt
    specs = [s for step in model.steps.values() for s in (step.due, step.follow_up)]
    specs += [s for p in policies.for_process(engine, model.key).values()
              for s in (getattr(p, "due", None), getattr(p, "follow_up", None))]
    for spec in specs:
        name = _date_variable(spec)
        if name:
            found.setdefault(name, due_dates)
    for step in model.steps.values():
        if step.priority_variable:
            found.setdefault(_first_name(step.priority_variable), priorities)
    for item in ordinance.approved_items(engine, model.key):
        for name in expression_names(item.limit_expr):
            found.setdefault(name, limits)
    return found


def check_start(engine: Engine, model: ProcessModel, data: dict[str, Any]) -> dict[str, Any]:
    """Start data, typed by the start form; `InvalidInput` naming every field that is neither in the
    start form nor a documented case field, or every start form field in error."""
    documented = case_fields(engine, model)
    form = list(model.start_form)
    accepted = {f.id for f in form} | set(model.start_outputs) | set(documented)
    _reject({k: f"Fältet '{k}' finns inte i startformuläret för '{model.name}'." for k in data if k not in accepted},
            accepted)
    receipt = CASE_FIELDS[0]
    form += [FormField(id=k, label=k, type="date") for k, kind in documented.items()
             if kind is receipt and k not in {f.id for f in form}]
    return forms.validate(form, form_defaults.fill(list(model.start_form), data, data, engine.clock.now()))


def _human_fields(model: ProcessModel) -> dict[str, str]:
    """Fields a person fills in, by the step whose form declares them (read-only ones aside)."""
    out: dict[str, str] = {}
    for step in model.steps.values():
        for f in step.form:
            if not f.constraints.get("readonly"):
                out.setdefault(f.id, step.name)
    return out


def check_message(engine: Engine, model: ProcessModel, element: str, definition: Any, name: str,
                  payload: dict[str, Any]) -> None:
    """`InvalidInput` naming every payload field the catching element (by spec id) does not take."""
    mapped = model.message_outputs.get(element)
    shown = model.element_names.get(element) or model.original_id(element)
    if mapped:
        accepted = set(mapped)
        for prop in getattr(definition, "correlation_properties", None) or []:
            accepted |= expression_names(getattr(prop, "retrieval_expression", None))
        _reject({k: f"Fältet '{k}' finns inte i det '{shown}' tar emot av meddelandet '{name}'."
                 for k in payload if k not in accepted}, accepted)
        return
    people = _human_fields(model)
    documented = case_fields(engine, model)
    refused = {k: f"Fältet '{k}' fylls i av steget '{people[k]}' och kan inte sättas av meddelandet '{name}'."
               for k in payload if k in people}
    refused.update({k: f"Fältet '{k}' är ett ärendefält som Rutin läser ({documented[k].description}) och kan "
                       f"inte sättas av meddelandet '{name}'." for k in payload if k in documented and k not in people})
    _reject(refused, set())


_MISSING = re.compile(r"name '([^']+)' is not defined")


def spec_reads(task_spec: Any) -> set[str]:
    """The variables a task spec reads: its script, conditions, expressions, mappings, listener
    and pre- and post-scripts, collections and the item its instances hand back."""
    sources: list[Any] = [getattr(task_spec, a, None) for a in ("script", "prescript", "postscript",
                                                                 "cardinality", "condition")]
    sources += [step.get("source") for step in io_mappings.steps(task_spec)]  # its mappings and scripts
    for condition, _ in getattr(task_spec, "cond_task_specs", None) or []:
        sources += list(getattr(condition, "args", None) or [])  # a gateway's conditions, as its flows hold them
    definition = getattr(task_spec, "event_definition", None)
    for d in [definition, *(getattr(definition, "event_definitions", None) or [])]:
        sources.append(getattr(d, "expression", None))
        sources += [getattr(p, "retrieval_expression", None) for p in getattr(d, "correlation_properties", None) or []]
    names: set[str] = set()
    for source in sources:
        if isinstance(source, str):
            names |= expression_names(source)
    # A multi-instance step reads its collections, and each instance's output item when it merges.
    for attr in ("data_input", "data_output", "output_item"):
        collection = getattr(getattr(task_spec, attr, None), "bpmn_id", None)
        if isinstance(collection, str) and collection:
            names.add(collection)
    return names


def check_retry(failing: list[Any], incident: str | None, case_data: dict[str, Any], data: dict[str, Any],
                element: str) -> None:
    """`InvalidInput` naming every corrected field that is neither in the case's data nor read by
    the failing tasks (their specs, or the variable the incident says is missing)."""
    accepted = set(case_data)
    for task in failing:
        accepted |= spec_reads(task.task_spec)
        # An instance of a multi-instance or loop step fails in its parent's conditions (completion,
        # loop condition) or collections when it completes: those are the step's reads as well.
        if task.parent is not None and isinstance(task.parent.task_spec, LoopTask):
            accepted |= spec_reads(task.parent.task_spec)
    accepted |= set(_MISSING.findall(incident or ""))
    _reject({k: f"Fältet '{k}' finns inte i ärendet och läses inte av '{element}'; en omkörning kan bara rätta "
                "ärendets uppgifter och det steget läser." for k in data if k not in accepted}, accepted)
