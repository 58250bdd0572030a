"""Read every human step of a normalized process into the model, whichever dialect wrote it.

The role a step is routed to comes from the most specific source present, in this order:
assignee, candidate users, candidate groups (any dialect), potential owner / human performer
(standard BPMN), the lane the element lies in, and finally the process owner role. The
diagnostics say which source was used when it was not the obvious one.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from . import dates, nulls
from . import forms as camunda_forms
from .declared import message_outputs, start_form, start_outputs
from .diagnostics import Diagnostic
from .dialects import TaskExtensions, read_all
from .dialects.camunda import read_properties as camunda_properties
from .expressions import variable_reference
from .model import FormField, HumanStep, Option, ProcessModel
from .normalize import FLOW_NODE_TYPES, HUMAN_TYPES, Rewrite, flow_elements, local
from .starters import read_starters
from .xml import q

DEFAULT_OWNER_ROLE = "Processägare"


def _text(el: etree._Element | None) -> str | None:
    if el is None:
        return None
    text = "".join(el.itertext()).strip()
    return text or None


def _lanes(proc: etree._Element) -> dict[str, str]:
    """The lane (its name, else its id) of every flow node; a node inside a subprocess drawn in a
    lane, with no lane of its own, is in the subprocess's lane."""
    lanes: dict[str, str] = {}
    for lane in proc.iter(q("lane")):
        name = (lane.get("name") or lane.get("id") or "").strip()
        for ref in lane.findall(q("flowNodeRef")):
            if ref.text and ref.text.strip():
                # Nested lanes are visited after their parents, so the innermost lane wins.
                lanes[ref.text.strip()] = name

    def inherit(container: etree._Element, lane: str | None) -> None:
        for el in flow_elements(container):
            own = lanes.get(el.get("id") or "")
            if own is None and lane is not None and el.get("id"):
                lanes[el.get("id") or ""] = lane
            if local(el) in {"subProcess", "transaction", "adHocSubProcess"}:
                inherit(el, own or lane)

    inherit(proc, None)
    return lanes


def _unnamed_lanes(proc: etree._Element, pid: str) -> list[Diagnostic]:
    found = []
    for lane in proc.iter(q("lane")):
        if not (lane.get("name") or "").strip() and lane.find(q("flowNodeRef")) is not None:
            found.append(Diagnostic("warning", "lane-unnamed",
                                    f"Banan saknar namn; dess id {lane.get('id')!r} används som roll för stegen i den. "
                                    "Ge banan rollens namn.", element_id=lane.get("id"), line=lane.sourceline,
                                    process_id=pid))
    return found


_RESOURCE_CALL = re.compile(r"^\s*(user|group)\s*\(\s*['\"]?([^'\")]+?)['\"]?\s*\)\s*$", re.IGNORECASE)


@dataclass
class Resources:
    """Who BPMN's resource assignments name: roles, people who may do it, the one who does it."""

    roles: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    performer: str | None = None


def _resources(el: etree._Element, resources: dict[str, str]) -> Resources:
    """``potentialOwner``/``humanPerformer``/``performer`` of a task: ``group(X)`` (and a plain
    name, or a resource by reference: maps name roles there) is a role, ``user(x)`` a person -
    a candidate under potentialOwner, the assignee under humanPerformer."""
    found = Resources()
    for tag in ("potentialOwner", "humanPerformer", "performer"):
        for owner in el.findall(q(tag)):
            expr = owner.find(f"{q('resourceAssignmentExpression')}/{q('formalExpression')}")
            text = _text(expr) if expr is not None else None
            for part in (p.strip() for p in (text or "").split(",")):
                if not part:
                    continue
                m = _RESOURCE_CALL.match(part)
                if m and m.group(1).lower() == "user":
                    if tag == "humanPerformer" and found.performer is None:
                        found.performer = m.group(2).strip()
                    else:
                        found.users.append(m.group(2).strip())
                else:
                    found.roles.append(m.group(2).strip() if m else part)
            ref = owner.get("resourceRef") or _text(owner.find(q("resourceRef")))
            if ref and ref in resources:
                found.roles.append(resources[ref])
    return found


_ZEEBE = "http://camunda.org/schema/zeebe/1.0"


def _form_not_shown(key: str, zeebe_form: etree._Element | None) -> str:
    """Why a form the diagram names cannot be shown in Rutin."""
    if zeebe_form is not None and zeebe_form.get("externalReference"):
        return (f"Formuläret finns i ett annat system ({key!r}); Rutin kan inte visa det, och steget visas utan "
                "formulärfält.")
    if key.startswith(("embedded:", "app:")) or key.lower().endswith((".html", ".htm")):
        return (f"Formuläret {key!r} är ett HTML-formulär i Camunda-applikationen; Rutin kan inte visa det, och "
                "steget visas utan formulärfält.")
    return f"Formuläret {key!r} finns inte i Rutin; steget visas utan formulärfält."


def _priority(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _merge(exts: list[TaskExtensions]) -> TaskExtensions:
    merged = TaskExtensions(dialect="+".join(e.dialect for e in exts) or "bpmn")
    for ext in reversed(exts):  # most specific dialect last, so it wins
        for attr in ("assignee", "due", "follow_up", "priority", "form_key", "instructions"):
            if getattr(ext, attr):
                setattr(merged, attr, getattr(ext, attr))
        for attr in ("candidate_groups", "candidate_users", "form_fields", "io"):
            if getattr(ext, attr):
                setattr(merged, attr, getattr(ext, attr))
        merged.properties.update(ext.properties)
    return merged


def _source(exts: list[TaskExtensions], attr: str) -> str:
    for ext in exts:
        if getattr(ext, attr):
            return ext.dialect
    return "bpmn"


def read_steps(
    proc: etree._Element, rw: Rewrite, root: etree._Element, participant_name: str | None,
    uploaded_forms: dict[str, bytes] | None = None,
) -> tuple[ProcessModel, list[Diagnostic]]:
    """Build the `ProcessModel` of one normalized process element."""
    by_form: dict[str, list[dict[str, Any]]] = {}
    for filename, text in (uploaded_forms or {}).items():
        parsed = camunda_forms.fields(text)
        if parsed is not None:
            by_form[filename] = parsed
            declared = camunda_forms.form_id(text)
            if declared:
                by_form[declared] = parsed
    pid = proc.get("id") or ""
    diagnostics: list[Diagnostic] = []
    lanes = _lanes(proc)
    resources = {r.get("id") or "": r.get("name") or r.get("id") or "" for r in root.iter(q("resource"))}
    process_props = {**camunda_properties(proc)}
    for ext in read_all(proc):
        process_props.update(ext.properties)
    owner_role = process_props.get("rutin:owner") or DEFAULT_OWNER_ROLE
    diagnostics.extend(_process_ladders(proc, process_props, pid))
    diagnostics.extend(_unnamed_lanes(proc, pid))
    model = ProcessModel(
        key=pid,
        name=(participant_name or proc.get("name") or pid).strip(),
        documentation=_text(proc.find(q("documentation"))),
        marked_executable=not any(d.code == "descriptive-model" for d in rw.diagnostics),
        lanes=sorted(set(lanes.values())),
        spec_ids=dict(rw.spec_ids),
        properties=process_props,
        owner=(process_props.get("rutin:owner") or "").strip() or None,
        start_form=start_form(proc, by_form),
        start_outputs=start_outputs(proc),
        message_outputs=message_outputs(proc),
    )
    # Message flows between pools are documentation of who talks to whom; kept with the process.
    # A flow drawn to the pool's border names its participant, not the process.
    pools = {p.get("id") for p in root.iter(q("participant")) if p.get("processRef") == pid and p.get("id")}
    own = {el.get("id") for el in proc.iter() if isinstance(el.tag, str) and el.get("id")} | {pid} | pools
    for mf in root.iter(q("messageFlow")):
        if mf.get("sourceRef") in own or mf.get("targetRef") in own:
            model.message_flows.append({"id": mf.get("id"), "name": mf.get("name"), "source": mf.get("sourceRef"),
                                        "target": mf.get("targetRef"), "message": mf.get("messageRef")})
    inserted = set(rw.decisions.values())
    reads = _condition_reads(proc)
    by_id: dict[str, etree._Element] = {}
    flows: list[etree._Element] = []

    def walk(container: etree._Element) -> None:
        for el in flow_elements(container):
            if el.get("id"):
                by_id[el.get("id") or ""] = el
            if local(el) == "sequenceFlow":
                flows.append(el)
            if local(el) in FLOW_NODE_TYPES:
                model.element_names[rw.spec_ids.get(el.get("id") or "", el.get("id") or "")] = (
                    el.get("name") or el.get("id") or ""
                )
            if local(el) in {"subProcess", "transaction", "adHocSubProcess"}:
                walk(el)

    walk(proc)
    model.conditions = _conditions(flows, by_id, set(rw.decisions))

    def warn(code: str, msg: str, el: etree._Element, severity: str = "warning") -> None:
        original = rw.spec_ids.get(el.get("id") or "", el.get("id"))
        diagnostics.append(Diagnostic(severity, code, msg, element_id=original,  # type: ignore[arg-type]
                                      element_name=rw.names.get(original or "") or el.get("name"),
                                      line=el.sourceline, process_id=pid))

    for spec_id, el in by_id.items():
        if local(el) not in HUMAN_TYPES or spec_id in inserted:
            continue
        exts = read_all(el)
        ext = _merge(exts)
        step = HumanStep(
            element_id=rw.spec_ids.get(spec_id, spec_id),
            name=(el.get("name") or spec_id).strip(),
            element_type=rw.converted.get(spec_id, local(el)),
            documentation=_text(el.find(q("documentation"))) or ext.instructions,
            lane=lanes.get(spec_id),
            line=el.sourceline,
            form_key=ext.form_key,
            form=[FormField(**f) for f in ext.form_fields],
            properties=ext.properties,
            io=list(ext.io),
        )
        _route(step, ext, exts, _resources(el, resources), owner_role, warn, el)
        _dates(step, ext, warn, el)
        if not step.form and step.form_key:
            ref = el.get("{http://camunda.org/schema/1.0/bpmn}formRef") or step.form_key.rsplit(":", 1)[-1]
            zeebe_form = el.find(f".//{{{_ZEEBE}}}formDefinition")
            if ref in by_form:
                step.form = [FormField(**f) for f in by_form[ref]]
            elif step.form_key.endswith(".json"):  # SpiffArena's JSON Schema, a file beside the diagram
                warn("form-missing", f"Formuläret {ref!r} laddades inte upp med diagrammet; steget visas utan "
                                     "formulärfält (ladda upp JSON-schemat tillsammans med diagrammet).", el)
            elif step.form_key.startswith("camunda-forms:") or el.get("{http://camunda.org/schema/1.0/bpmn}formRef") \
                    or (zeebe_form is not None and zeebe_form.get("formId")):
                warn("form-missing", f"Formuläret {ref!r} laddades inte upp med diagrammet; steget visas utan "
                                     "formulärfält (ladda upp .form-filen tillsammans med diagrammet).", el)
            else:
                warn("form-not-shown", _form_not_shown(step.form_key, zeebe_form), el)
        if not step.form:
            # No form Rutin can show (none drawn, or one that lives in another application):
            # the handler records what the diagram says the step produces.
            step.form = _recorded_outputs(el, ext, rw.data_outputs.get(spec_id, []), reads)
            if step.form:
                warn("form-from-outputs", "Steget saknar formulär som Rutin kan visa; handläggaren registrerar "
                                          f"det steget ger: {', '.join(f.id for f in step.form)}.", el, "info")
        model.steps[spec_id] = step

    leaving: dict[str, list[etree._Element]] = {}
    for f in flows:
        leaving.setdefault(f.get("sourceRef") or "", []).append(f)
    for gid, task_id in rw.decisions.items():
        gw = by_id[gid]
        options = []
        for f in leaving.get(gid, []):
            target = by_id.get(f.get("targetRef") or "")
            name = (f.get("name") or "").strip() or (target.get("name") if target is not None else None) or f.get("id")
            options.append(Option(id=f.get("id") or "", name=(name or "").strip(), target=f.get("targetRef")))
        exts = read_all(gw)
        ext = _merge(exts)
        step = HumanStep(
            element_id=gid,
            name=(gw.get("name") or "Beslut").strip(),
            kind="decision",
            element_type=local(gw),
            options=options,
            multiple=gid in rw.multiple_choice,
            documentation=_text(gw.find(q("documentation"))),
            lane=lanes.get(gid),
            line=gw.sourceline,
            properties=ext.properties,
        )
        _route(step, ext, exts, _resources(gw, resources), owner_role, warn, gw)
        _dates(step, ext, warn, gw)
        model.steps[task_id] = step
    model.starters, starter_diags = read_starters(proc, process_props, lanes, model, rw, flows)
    diagnostics.extend(starter_diags)
    return model, diagnostics


def _conditions(flows: list[etree._Element], by_id: dict[str, etree._Element],
                decisions: set[str]) -> dict[str, dict[str, str]]:
    """The conditions on the process's sequence flows, by flow id: what the flow is called (its
    name, or where it leads from and to) and its condition as the designer wrote it. The flows of a
    decision (a gateway a person decides) are left out: their conditions are Rutin's own."""
    out = {}
    for f in flows:
        cond = f.find(q("conditionExpression"))
        if cond is None or not cond.get("rutinOriginal") or f.get("sourceRef") in decisions:
            continue  # none, or one Rutin made
        names = [(by_id[r].get("name") or "").strip() if r in by_id else ""
                 for r in (f.get("sourceRef") or "", f.get("targetRef") or "")]
        label = (f.get("name") or "").strip() or f"från {names[0] or 'ett namnlöst element'} till " \
                                                   f"{names[1] or 'ett namnlöst element'}"
        out[f.get("id") or ""] = {"flow": label, "condition": cond.get("rutinOriginal") or ""}
    return out


def _route(step: HumanStep, ext: TaskExtensions, exts: list[TaskExtensions], res: Resources,
           owner_role: str, warn: Any, el: etree._Element) -> None:
    """Who does the step, most specific source first: assignee > candidate users > candidate
    groups > potentialOwner > lane > the process owner role.

    As in Camunda, an assignee is given the task, and the dialect's candidate users and
    candidate groups may both take it (or take it over). Only when the dialect names no
    candidates do the diagram's potential owners, then its lane, say which role may; that role
    is also who may take over from an assignee (absent, reassigned).
    """
    step.assignee = ext.assignee or res.performer
    step.candidate_users = list(ext.candidate_users)
    if ext.candidate_groups:
        step.candidate_groups = list(ext.candidate_groups)
    elif ext.candidate_users:
        step.candidate_groups = []
    elif res.roles or res.users:
        step.candidate_groups = list(res.roles)
        step.candidate_users = list(res.users)
    elif step.lane:
        step.candidate_groups = [step.lane]
    step.role = step.candidate_groups[0] if step.candidate_groups else None
    if ext.assignee:
        step.role_source = f"{_source(exts, 'assignee')}:assignee"
    elif res.performer:
        step.role_source = "humanPerformer"
    elif ext.candidate_users:
        step.role_source = f"{_source(exts, 'candidate_users')}:candidateUsers"
    elif ext.candidate_groups:
        step.role_source = f"{_source(exts, 'candidate_groups')}:candidateGroups"
    elif res.roles or res.users:
        step.role_source = "potentialOwner"
    elif step.lane:
        step.role_source = "lane"
    given = (("tilldelad", step.assignee), ("kandidatanvändare", ext.candidate_users),
             ("kandidatgrupper", ext.candidate_groups), ("potentialOwner", res.roles or res.users),
             ("bana", step.lane))
    sources = [name for name, value in given if value]
    if len(sources) > 1:
        who = []
        if step.assignee:
            who.append(f"steget tilldelas {step.assignee!r}")
        pool = [*(f"rollen {g!r}" for g in step.candidate_groups), *(repr(u) for u in step.candidate_users)]
        if pool:
            who.append(f"{'även ' if step.assignee else ''}{', '.join(pool)} kan ta det"
                       + (" (både kandidatanvändare och kandidatgrupper, som i Camunda)"
                          if ext.candidate_users and ext.candidate_groups else ""))
        ignored = [name for name, value in given[3:] if value and not _routes(name, step, res)]
        warn("role-source", f"Flera källor anger vem som ska utföra steget ({', '.join(sources)}); den mest specifika "
                            f"gäller: {sources[0]}. Därför: {'; '.join(who) or 'ingen'}"
                            + (f"; {' och '.join(ignored)} används inte" if ignored else "") + ".", el, "info")
    if step.role is None and not step.assignee and not step.candidate_users:
        step.role = owner_role
        step.candidate_groups = [owner_role]
        step.role_source = "process-owner"
        warn("no-role", f"Steget saknar roll och bana; det går till processägarens roll ({owner_role}).", el)
    if step.assignee:
        warn("assignee", f"Steget tilldelas direkt {step.assignee!r} "
                         f"({_source(exts, 'assignee') if ext.assignee else 'humanPerformer'}).", el, "info")
    decision = (ext.properties.get("rutin:decision") or "").lower() in {"true", "ja", "yes", "1"}
    step.decision_authority = decision


def _routes(source: str, step: HumanStep, res: Resources) -> bool:
    """Whether a lower-ranked source (potentialOwner, the lane) is what routes the step."""
    if source == "potentialOwner":
        return step.role_source in {"potentialOwner", "humanPerformer"} and bool(
            set(res.roles) & set(step.candidate_groups) or set(res.users) & set(step.candidate_users))
    return step.lane is not None and step.candidate_groups == [step.lane]


def _dates(step: HumanStep, ext: TaskExtensions, warn: Any, el: etree._Element) -> None:
    """The step's due and follow-up dates and priority; a date or ladder Rutin cannot read is a
    warning on the step, and is dropped (the process's deadline policy, or the default, applies)."""
    props = ext.properties
    priority = props.get("rutin:priority") or ext.priority
    step.priority = _priority(priority)
    variable = variable_reference(priority)
    if priority and step.priority is None and variable:
        step.priority_variable = variable
        warn("priority-from-data", f"Prioriteten läses ur ärendets variabel {variable!r} "
                                   "när uppgiften skapas; saknas den, eller är den inte ett heltal, får uppgiften "
                                   "standardprioriteten 50.", el, severity="info")
    elif priority and step.priority is None:
        warn("unreadable-priority", f"Prioriteten {priority!r} kan inte läsas som ett heltal (ett uttryck räknas inte "
                                    "ut); steget får standardprioriteten 50.", el)
    for attr, text, what in (("due", props.get("rutin:due") or ext.due, "Förfallodatumet"),
                             ("follow_up", props.get("rutin:followUp") or props.get("rutin:follow_up")
                              or ext.follow_up, "Uppföljningsdatumet")):
        if text:
            try:
                dates.parse(text)
            except dates.DateSyntaxError as exc:
                warn(f"unreadable-{attr.replace('_', '-')}-date",
                     f"{what} {text!r} kan inte läsas ({exc}); steget får inget {what.lower()[:-2]} från "
                     "diagrammet (processens tidsfristpolicy gäller om den anger ett).", el)
                text = None
        setattr(step, attr, text)
    ladder = props.get("rutin:escalation")
    if ladder:
        actions = dates.DECISION_ACTIONS if step.decision_authority else dates.WORK_ACTIONS
        why = dates.check_ladder(ladder, actions)
        if why is not None:
            if step.decision_authority and dates.check_ladder(ladder, dates.WORK_ACTIONS) is None:
                why += "; ett beslut eskaleras bara enligt delegationsordningen, aldrig uppåt i chefsleden"
            warn("unreadable-escalation", f"Eskaleringstrappan {ladder!r} kan inte användas: {why}. "
                                          "Processens eller standardtrappan gäller.", el)


def _process_ladders(proc: etree._Element, props: dict[str, str], pid: str) -> list[Diagnostic]:
    """Diagnostics for the process's own ladders: ``rutin:escalation`` (every step) and
    ``rutin:caseEscalation`` (warnings before the case deadline)."""
    found = []
    for name, actions, fallback in (("rutin:escalation", dates.WORK_ACTIONS | dates.DECISION_ACTIONS,
                                     "standardtrappan gäller"),
                                    ("rutin:caseEscalation", dates.CASE_WARNING_ACTIONS,
                                     "standardvarningen (-3WD:notify_manager) gäller")):
        text = props.get(name)
        why = dates.check_ladder(text, actions) if text else None
        if why is not None:
            found.append(Diagnostic("warning", "unreadable-escalation",
                                    f"{name} {text!r} kan inte användas: {why}; {fallback}.",
                                    element_id=pid, element_name=proc.get("name"), line=proc.sourceline,
                                    process_id=pid))
    deadline = props.get("rutin:caseDeadline")
    if deadline:
        why = None if dates.is_period(deadline) else "ingen period (skriv t.ex. P10W, P1M eller 20WD)"
        why = why or (dates.TOO_LONG if dates.period_too_long(deadline) else None)
        if why is not None:
            found.append(Diagnostic("warning", "unreadable-case-deadline",
                                    f"rutin:caseDeadline {deadline!r} kan inte användas: {why}; ärendet får "
                                    "ingen lagstadgad tidsfrist.", element_id=pid, element_name=proc.get("name"),
                                    line=proc.sourceline, process_id=pid))
    return found


_RESULT_VARIABLES = (
    "{http://camunda.org/schema/1.0/bpmn}resultVariable", "{http://flowable.org/bpmn}resultVariable",
    "{http://flowable.org/bpmn}resultVariableName", "{http://activiti.org/bpmn}resultVariable",
    "{http://activiti.org/bpmn}resultVariableName",
)


def _condition_reads(proc: etree._Element) -> dict[str, list[Any]]:
    """The variables the process's conditions read, each with the constants it is compared to."""
    reads: dict[str, list[Any]] = {}
    for cond in proc.iter(q("conditionExpression")):
        try:
            tree = ast.parse((cond.text or "").strip(), mode="eval")
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            name = _variable_name(node)
            if name is not None:
                reads.setdefault(name, [])
            if isinstance(node, ast.Compare) and len(node.comparators) == 1 and \
                    isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
                left, right = node.left, node.comparators[0]
                for var, const in ((left, right), (right, left)):
                    vname = _variable_name(var)
                    if vname is not None and isinstance(const, ast.Constant) and \
                            const.value not in reads.setdefault(vname, []):
                        reads[vname].append(const.value)
    return reads


def _variable_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name) and node.id not in {"True", "False", "None", "rutin_beslut", "rutin_variable",
                                                      *nulls.HELPERS}:
        return node.id
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id in {"rutin_variable", "rutin_value"} and node.args and \
            isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _recorded_outputs(el: etree._Element, ext: TaskExtensions, data_outputs: list[tuple[str, str]],
                      reads: dict[str, list[Any]]) -> list[FormField]:
    """Form fields for what a step without a form produces: its output mappings, result variable
    and the data objects it writes. A field a condition reads is required (the case cannot go on
    without it); one compared to text values offers those values."""
    wanted: list[tuple[str, str]] = []
    for io in ext.io:
        if io.get("direction") == "out" and io.get("name"):
            wanted.append((str(io["name"]), "string"))
    for attr in _RESULT_VARIABLES:
        if el.get(attr):
            wanted.append((el.get(attr) or "", "string"))
    for found in el.iter("{http://camunda.org/schema/zeebe/1.0}calledDecision",
                         "{http://camunda.org/schema/zeebe/1.0}script"):
        if found.get("resultVariable"):
            wanted.append((found.get("resultVariable") or "", "string"))
    wanted.extend(data_outputs)
    fields: list[FormField] = []
    for name, kind in wanted:
        name = name.strip()
        if not name or name.startswith("_") or any(f.id == name for f in fields):
            continue
        compared = reads.get(name)
        texts = [c for c in compared or [] if isinstance(c, str)]
        numbers = [c for c in compared or [] if isinstance(c, (int, float)) and not isinstance(c, bool)]
        if texts:
            field = FormField(id=name, label=name, type="enum", options=[{"id": t, "name": t} for t in texts])
        elif numbers and kind == "string":
            kind = "double" if any(isinstance(n, float) for n in numbers) else "long"
            field = FormField(id=name, label=name, type=kind)
        else:
            field = FormField(id=name, label=name, type=kind)
        field.required = compared is not None
        fields.append(field)
    return fields
