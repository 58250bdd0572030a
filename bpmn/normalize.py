"""Rewrite an uploaded diagram into the executable form SpiffWorkflow parses.

The original XML is kept untouched (it is what designers download and what diagnostics point
into); this module works on a copy and closes the gap between what modelers export and what the
engine runs:

- every process runs, also those a modeler marked ``isExecutable="false"`` (descriptive models
  run as guided checklists; a diagnostic says so);
- a diverging gateway whose outgoing flows carry no conditions becomes a human decision: a user
  task placed in front of it, and one generated condition per flow over the handler's choice;
- flow node ids that collide with the engine's built-in task names (``Start``, ``End``) are renamed;
- work the engine cannot do itself (service, send, receive, business rule tasks and scripts with
  no implementation) becomes a human task "Utför: NAME";
- conditions in JUEL or FEEL are translated to the sandbox's Python subset; timer values written
  as bare ISO-8601 literals are quoted (SpiffWorkflow evaluates them as expressions).

Every rewrite leaves a diagnostic on the element it touched.

Imports inside functions: the implementations, loops and repairs that `Normalizer.run`
applies import this module's element lists and helpers at their top; the normalizer imports them
when it runs, so no two of them import each other at load.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from . import limits, sandbox
from .diagnostics import Diagnostic
from .expressions import ExpressionError, check_length, dialect, multiword_comparison, null_safe, shown, to_python
from .xml import BPMN_NS, XSI_NS, q

RESERVED_IDS = {"Start", "End", "Root"}
CHOICE_VARIABLE = "rutin_beslut"

HUMAN_TYPES = {"userTask", "manualTask", "task"}
CONVERTIBLE_TYPES = {"serviceTask", "sendTask", "receiveTask", "businessRuleTask", "scriptTask"}
ACTIVITY_TYPES = HUMAN_TYPES | CONVERTIBLE_TYPES | {"subProcess", "callActivity", "transaction", "adHocSubProcess"}
GATEWAY_TYPES = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
EVENT_TYPES = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
FLOW_NODE_TYPES = ACTIVITY_TYPES | GATEWAY_TYPES | EVENT_TYPES

_REF_ATTRIBUTES = ("sourceRef", "targetRef", "default", "attachedToRef", "bpmnElement")
_REF_ELEMENTS = ("incoming", "outgoing", "flowNodeRef", "sourceRef", "targetRef")
# A timer written as an ISO 8601 date, duration or repeating interval as it stands (not an
# expression): kept as a literal by the normalizer and by the repairs.
ISO_TIME_LITERAL = re.compile(r"^(R\d*/)?(P(?!$)[0-9YMWDTHS.,]*|\d{4}-\d{2}-\d{2}[T0-9:.+\-Z]*)(/.*)?$")


_DATA_OBJECT_CALL = re.compile(r"((?:bpmn:)?)getDataObject\(\s*['\"]([^'\"]+)['\"]\s*\)")


def _data_object_names(root: etree._Element) -> dict[str, str]:
    """What a ``getDataObject`` argument may name, mapped to the data object's name: its id, a
    reference's id, and an item definition used by exactly one data object."""
    names: dict[str, str] = {}
    by_item: dict[str, set[str]] = {}
    objects = {}
    for obj in root.iter(f"{{{BPMN_NS}}}dataObject"):
        name = (obj.get("name") or "").strip()
        if not name:
            continue
        objects[obj.get("id")] = name
        if obj.get("id"):
            names[obj.get("id") or ""] = name
        if obj.get("itemSubjectRef"):
            by_item.setdefault(obj.get("itemSubjectRef") or "", set()).add(name)
    for ref in root.iter(f"{{{BPMN_NS}}}dataObjectReference"):
        name = objects.get(ref.get("dataObjectRef")) or (ref.get("name") or "").strip()
        if ref.get("id") and name:
            names[ref.get("id") or ""] = name
    for item, found in by_item.items():
        if len(found) == 1:
            names.setdefault(item, next(iter(found)))
    for name in set(objects.values()):
        names[name] = name  # a name always means itself
    return names


# Quartz/Spring cron (Camunda 7 accepts it in timeCycle): 6 or 7 fields of digits and * ? / , - L W #.
_CRON = re.compile(r"^[0-9*?/,LW#A-Z-]+(\s+[0-9*?/,LW#A-Z-]+){4,6}$")
_EVERY = {"*", "?", "0/1", "*/1", "1/1"}


def cron_as_iso(text: str) -> str | None:
    """The ISO 8601 repeating interval of a cron expression that fires at a fixed rate ("every 5
    seconds"), or None when it fires at calendar times (which no interval expresses)."""
    fields = text.split()
    if len(fields) == 5:  # Unix cron, no seconds
        fields = ["0", *fields]
    if len(fields) not in (6, 7):
        return None
    units = ("S", "M", "H")
    for n, unit in enumerate(units):
        head, rest = fields[:n], fields[n + 1:6]
        step = re.match(r"^(?:0|\*)/(\d+)$", fields[n])
        if step and all(f == "0" for f in head) and all(f in _EVERY for f in rest):
            return f"R/PT{int(step.group(1))}{unit}"
    return None


# Camunda 8's FEEL for a repeating interval: cycle(duration("PT1H")), cycle(3, duration("PT1H")).
_FEEL_CYCLE = re.compile(r'^=\s*cycle\(\s*(?:(\d+)\s*,\s*)?duration\(\s*"([^"]+)"\s*\)\s*\)\s*$')

_BPMN_PREFIX = f"{{{BPMN_NS}}}"
_CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
_ZEEBE = "http://camunda.org/schema/zeebe/1.0"


def _implementation(el: etree._Element) -> str | None:
    """What a service-like task says implements it, in words ("Java-klassen 'org.x.Send'")."""
    for ns in (_CAMUNDA, "http://flowable.org/bpmn", "http://activiti.org/bpmn"):
        if el.get(f"{{{ns}}}class"):
            return f"Java-klassen {el.get(f'{{{ns}}}class')!r}"
        if el.get(f"{{{ns}}}delegateExpression"):
            return f"delegatuttrycket {el.get(f'{{{ns}}}delegateExpression')!r}"
        if el.get(f"{{{ns}}}expression"):
            return f"uttrycket {el.get(f'{{{ns}}}expression')!r}"
    if el.get(f"{{{_CAMUNDA}}}topic"):
        return f"den externa uppgiften {el.get(f'{{{_CAMUNDA}}}topic')!r}"
    definition = el.find(f".//{{{_ZEEBE}}}taskDefinition")
    if definition is not None and definition.get("type"):
        return f"jobbtypen {definition.get('type')!r}"
    return None


def local(el: etree._Element) -> str:
    """Local name of an element's tag (no namespace)."""
    tag = el.tag
    # Clark notation, read as a string: called for every element many times over.
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def is_bpmn(el: etree._Element, *names: str) -> bool:
    """Whether the element is in the BPMN namespace and (optionally) one of the given names."""
    tag = el.tag
    if not isinstance(tag, str) or not tag.startswith(_BPMN_PREFIX):
        return False
    return not names or tag[len(_BPMN_PREFIX):] in names


def flow_elements(container: etree._Element) -> Iterator[etree._Element]:
    """Direct flow-element children of a process or subprocess."""
    for child in container:
        tag = child.tag
        if isinstance(tag, str) and tag.startswith(_BPMN_PREFIX):
            yield child


@dataclass
class Rewrite:
    """What the normalizer did to one process: renamed ids, decisions, converted tasks."""

    spec_ids: dict[str, str] = field(default_factory=dict)  # engine spec name -> original id
    decisions: dict[str, str] = field(default_factory=dict)  # gateway id -> inserted task id
    multiple_choice: set[str] = field(default_factory=set)
    converted: dict[str, str] = field(default_factory=dict)  # element id -> original type
    # element id -> (variable, type) of each data object the element writes (before data is stripped)
    data_outputs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # element id -> the name its designer gave it (before "Utför: NAME" and other rewrites)
    names: dict[str, str] = field(default_factory=dict)


class Normalizer:
    """Rewrites one document copy in place; call `process` for each process element."""

    def __init__(self, root: etree._Element, upload_limits: limits.Limits | None = None):
        self.root = root
        self.limits = upload_limits or limits.Limits()
        self.ids: set[str] = {el.get("id") for el in root.iter() if isinstance(el.tag, str) and el.get("id")}
        self.by_id: dict[str, etree._Element] = {
            el.get("id"): el for el in root.iter() if isinstance(el.tag, str) and el.get("id") and is_bpmn(el)
        }
        self.data_names = _data_object_names(root)
        # Diagnostics name an element as its designer did, not as a rewrite renamed it.
        self.names: dict[str, str] = {
            el.get("id") or "": el.get("name") or "" for el in self.by_id.values() if el.get("name")
        }
        self._lane_index: dict[str, list[etree._Element]] | None = None
        self.renamed: dict[str, str] = {}  # new id -> the reserved id the diagram used
        # Camunda 8 names the called process in zeebe:calledElement/@processId; every later step
        # (the repairs, call cycles, SpiffWorkflow) reads calledElement.
        for call in root.iter(q("callActivity")):
            zeebe = call.find(f".//{{{_ZEEBE}}}calledElement")
            if not call.get("calledElement") and zeebe is not None and (zeebe.get("processId") or "").strip():
                call.set("calledElement", (zeebe.get("processId") or "").strip())

    def lane_refs(self, el_id: str) -> list[etree._Element]:
        """The ``flowNodeRef`` elements that put an element in lanes (indexed once: a large
        diagram gets many new elements, each placed in its neighbour's lane)."""
        if self._lane_index is None:
            self._lane_index = {}
            for ref in self.root.iter(q("flowNodeRef")):
                self._lane_index.setdefault((ref.text or "").strip(), []).append(ref)
        return self._lane_index.get(el_id, [])

    def add_to_lanes_of(self, el_id: str, new_id: str) -> None:
        """Put a new element in the lanes an existing one is in."""
        for ref in list(self.lane_refs(el_id)):
            new_ref = etree.Element(q("flowNodeRef"))
            new_ref.text = new_id
            ref.addnext(new_ref)
            if self._lane_index is not None:
                self._lane_index.setdefault(new_id, []).append(new_ref)

    def new_id(self, base: str) -> str:
        """An id not yet in the document, `base` or `base_2`, `base_3`...: for elements a rewrite adds."""
        candidate, n = base, 1
        while candidate in self.ids:
            n += 1
            candidate = f"{base}_{n}"
        self.ids.add(candidate)
        return candidate

    def python(self, text: str, language: str | None = None) -> str:
        """`to_python`, with the document's data objects resolved: exporters write
        ``getDataObject(...)`` with the object's id or its item definition instead of its name."""
        check_length(text)
        if "getDataObject" in text:
            text = _DATA_OBJECT_CALL.sub(
                lambda m: f"{m.group(1)}getDataObject({self.data_names.get(m.group(2), m.group(2))!r})", text)
        return to_python(text, language)

    def expression(self, rw: Rewrite, text: str, language: str | None, what: str, el: etree._Element | None,
                   pid: str, *, report: bool = True) -> str | None:
        """The Python of an expression the diagram carries, or None when it cannot be evaluated
        safely, after the located error every such expression gets (unless `report` is off: a
        descriptive model drops what it cannot evaluate, with its own warning)."""
        try:
            return self.python(text, language)
        except ExpressionError as exc:
            if report:
                self.expression_error(rw, what, text, exc, el, pid)
            return None

    def expression_error(self, rw: Rewrite, what: str, text: str, exc: Exception, el: etree._Element | None,
                         pid: str) -> None:
        """The located error of an expression that cannot be evaluated (conditions, timers,
        correlations, loops: one wording for all)."""
        self.diag(rw, "error", "unsupported-expression", f"{what} {shown(text)} kan inte utvärderas: {exc}", el, pid)

    def diag(self, rw: Rewrite, severity: str, code: str, msg: str, el: etree._Element | None,
              pid: str) -> None:
        """Record a diagnostic about `el` (its id and shown name) in process `pid`."""
        rw.diagnostics.append(
            Diagnostic(
                severity,  # type: ignore[arg-type]
                code,
                msg,
                element_id=el.get("id") if el is not None else None,
                element_name=(self.names.get(el.get("id") or "") or el.get("name")) if el is not None else None,
                line=el.sourceline if el is not None else None,
                process_id=pid,
            )
        )

    # -- id collisions -------------------------------------------------------------------------

    def rename_reserved(self, rw: Rewrite, proc: etree._Element) -> None:
        """Rename ids the engine reserves, updating every reference in the document (once), and
        record in the process's rewrite which of its elements were renamed."""
        for old in sorted(RESERVED_IDS & self.ids):
            owner = self.by_id.get(old)
            if owner is None or local(owner) not in FLOW_NODE_TYPES:
                # Only a task spec's name collides with the engine's own tasks; a process (its key),
                # flow or lane may keep the id its modeler gave it.
                continue
            new = self.new_id(f"{old}_")
            for el in self.root.iter():
                if not isinstance(el.tag, str):
                    continue
                if el.get("id") == old:
                    el.set("id", new)
                for attr in _REF_ATTRIBUTES:
                    if el.get(attr) == old:
                        el.set(attr, new)
                if local(el) in _REF_ELEMENTS and (el.text or "").strip() == old:
                    el.text = new
            if old in self.by_id:
                self.by_id[new] = self.by_id.pop(old)
            self.ids.discard(old)
            self._lane_index = None
            self.renamed[new] = old
        for new, old in self.renamed.items():
            if proc.get("id") == new or any(el.get("id") == new for el in proc.iter() if isinstance(el.tag, str)):
                rw.spec_ids[new] = old

    # -- the checks and rewrites of one process -------------------------------------------------

    def process(self, proc: etree._Element) -> Rewrite:
        """Normalize one process element (and its subprocesses) in place."""
        from .implementations import Implementations
        from .loops import LoopChecks
        from .repairs import Repairs

        rw = Rewrite(names=self.names)
        pid = proc.get("id") or ""
        self.rename_reserved(rw, proc)
        # Only a process its modeler marked executable is held to executable standards; any other
        # is a description of work, run as a guided checklist where the description falls short.
        self.descriptive = (proc.get("isExecutable") or "").lower() != "true"
        if self.descriptive:
            self.diag(rw, "info", "descriptive-model",
                       "Processen är inte markerad som körbar; Rutin kör den som en guidad checklista.",
                       proc, pid)
        proc.set("isExecutable", "true")
        LoopChecks(self, rw, pid, self.descriptive).run(proc)
        Repairs(self, rw, pid, self.descriptive).run(proc)
        if not any(local(el) == "startEvent" for el in flow_elements(proc)):
            self.diag(rw, "error", "no-start-event", "Processen saknar starthändelse och kan inte startas.",
                       proc, pid)
            return rw
        self._containers(proc, rw, pid)
        Implementations(self, rw, pid).run(proc)
        return rw

    def _containers(self, container: etree._Element, rw: Rewrite, pid: str) -> None:
        elements = list(flow_elements(container))
        flows = [el for el in elements if local(el) == "sequenceFlow"]
        node_ids = {el.get("id") for el in elements if local(el) in FLOW_NODE_TYPES}
        for flow in flows:
            for end in ("sourceRef", "targetRef"):
                ref = flow.get(end)
                if not ref or ref not in node_ids:
                    self.diag(rw, "error", "missing-element",
                               f"Sekvensflödet {flow.get('id')!r} pekar på {ref!r} som inte finns i processen.",
                               flow, pid)
        # Indexed once: a large map has thousands of flows and hundreds of gateways.
        leaving: dict[str, list[etree._Element]] = {}
        arriving: dict[str, list[etree._Element]] = {}
        for flow in flows:
            leaving.setdefault(flow.get("sourceRef") or "", []).append(flow)
            arriving.setdefault(flow.get("targetRef") or "", []).append(flow)
        for el in elements:
            kind = local(el)
            if kind in {"subProcess", "transaction", "adHocSubProcess"}:
                self._containers(el, rw, pid)
            if kind in CONVERTIBLE_TYPES:
                self._convertible(el, rw, pid)
            elif kind in {"exclusiveGateway", "inclusiveGateway"}:
                gid = el.get("id") or ""
                self._gateway(container, el, leaving.get(gid, []), arriving.get(gid, []), rw, pid)
            elif kind in EVENT_TYPES:
                self._timers(el, rw, pid)
        for flow in flows:
            self._condition(flow, rw, pid)

    def _convertible(self, el: etree._Element, rw: Rewrite, pid: str) -> None:
        kind = local(el)
        if kind == "scriptTask":
            script = el.find(q("script"))
            fmt = (el.get("scriptFormat") or "python").lower()
            text = script.text if script is not None else None
            resource = el.get(f"{{{_CAMUNDA}}}resource") or el.get("resource")
            if resource and not (text and text.strip()):
                self.diag(rw, "error", "script-resource",
                           f"Skriptet ligger i filen {resource!r}, som Rutin inte har och inte kan köra; skriv "
                           "skriptet i Python i diagrammet.", el, pid)
                return
            if text and text.strip():
                if "python" not in fmt:
                    self.diag(rw, "error", "unsupported-script-language",
                               f"Skriptspråket {el.get('scriptFormat')!r} kan inte köras här; skriv skriptet i Python.",
                               el, pid)
                    return
                try:
                    sandbox.check_script(text)
                except sandbox.PolicyViolation as exc:
                    self.diag(rw, "error", "script-refused", f"Skriptet tillåts inte: {exc}", el, pid)
                return
        elif kind == "receiveTask" and el.get("messageRef") and el.get("messageRef") in self.by_id:
            return
        name = el.get("name") or el.get("id") or ""
        implementation = _implementation(el)
        el.tag = q("userTask")
        el.set("name", f"Utför: {name}")
        for child in list(el):
            if local(child) in {"script"}:
                el.remove(child)
        for attr in ("messageRef", "implementation", "operationRef", "scriptFormat"):
            el.attrib.pop(attr, None)
        rw.converted[el.get("id") or ""] = kind
        self.diag(rw, "warning", "converted-to-human-task",
                   (f"{kind} med {implementation}, som inte körs här," if implementation else
                    f"{kind} utan något Rutin kan köra") + f" blir en mänsklig uppgift: \"Utför: {name}\".", el, pid)

    def _gateway(self, container: etree._Element, gw: etree._Element, outgoing: list[etree._Element],
                 incoming: list[etree._Element], rw: Rewrite, pid: str) -> None:
        gid = gw.get("id") or ""
        if len(outgoing) < 2:
            return
        conditioned = [f for f in outgoing if f.find(q("conditionExpression")) is not None
                       and (f.find(q("conditionExpression")).text or "").strip()]
        if conditioned and getattr(self, "descriptive", False) and not self._evaluable(conditioned):
            # A map's conditions are often prose ("Ansökan godkänd"): the handler decides instead.
            for f in conditioned:
                f.remove(f.find(q("conditionExpression")))
            self.diag(rw, "warning", "conditions-as-decision",
                       "Villkoren kan inte utvärderas; handläggaren väljer väg bland flödena.", gw, pid)
            conditioned = []
        default = gw.get("default")
        if conditioned:
            bare = [f for f in outgoing if f not in conditioned and f.get("id") != default]
            if local(gw) == "exclusiveGateway" and len(bare) == 1 and not default:
                # The one path drawn without a condition beside conditioned ones is the "otherwise".
                gw.set("default", bare[0].get("id") or "")
                self.diag(rw, "warning", "implicit-default",
                           f"Flödet {bare[0].get('name') or bare[0].get('id')!r} saknar villkor; det tas när inget "
                           "annat villkor är uppfyllt.", bare[0], pid)
                return
            for f in bare:
                if local(gw) == "inclusiveGateway":
                    # An inclusive gateway takes every path whose condition holds; none is none that fails.
                    self.diag(rw, "warning", "flow-always-taken",
                               f"Flödet {f.get('name') or f.get('id')!r} saknar villkor; det tas alltid.", f, pid)
                    self._set_condition(f, "True")
                    continue
                self.diag(rw, "warning", "flow-never-taken",
                           f"Flödet {f.get('name') or f.get('id')!r} saknar villkor och är inte standardflöde; "
                           "det tas aldrig.", f, pid)
                self._set_condition(f, "False")
            return
        # No conditions at all: the handler decides.
        multiple = local(gw) == "inclusiveGateway"
        task_id = self.new_id(f"{gid}_beslut")
        task = etree.Element(q("userTask"), id=task_id, name=gw.get("name") or "Beslut")
        task.sourceline = gw.sourceline
        gw.addprevious(task)
        for f in incoming:
            f.set("targetRef", task_id)
        for inc in gw.findall(q("incoming")):
            gw.remove(inc)
            task.append(inc)
        link = etree.SubElement(container, q("sequenceFlow"), id=self.new_id(f"{gid}_beslut_flode"),
                                sourceRef=task_id, targetRef=gid)
        etree.SubElement(task, q("outgoing")).text = link.get("id")
        etree.SubElement(gw, q("incoming")).text = link.get("id")
        gw.attrib.pop("default", None)
        for f in outgoing:
            fid = f.get("id") or ""
            expr = (f"{fid!r} in {CHOICE_VARIABLE}.get({gid!r}, [])" if multiple
                    else f"{CHOICE_VARIABLE}.get({gid!r}) == {fid!r}")
            self._set_condition(f, expr)
        self.add_to_lanes_of(gid, task_id)
        rw.decisions[gid] = task_id
        rw.spec_ids[task_id] = gid
        if multiple:
            rw.multiple_choice.add(gid)
        unnamed = [f for f in outgoing if not (f.get("name") or "").strip()]
        self.diag(rw, "warning", "human-decision",
                   "Grindens utgående flöden saknar villkor; handläggaren väljer väg"
                   + (" (flöden utan namn visas med målets namn)." if unnamed else "."), gw, pid)

    def _evaluable(self, flows: list[etree._Element]) -> bool:
        for f in flows:
            cond = f.find(q("conditionExpression"))
            try:
                self.python((cond.text or "").strip(), cond.get("language"))
            except ExpressionError:
                return False
        return True

    @staticmethod
    def _set_condition(flow: etree._Element, python: str) -> None:
        for old in flow.findall(q("conditionExpression")):
            flow.remove(old)
        cond = etree.SubElement(flow, q("conditionExpression"))
        cond.set(f"{{{XSI_NS}}}type", "bpmn:tFormalExpression")
        cond.text = python
        cond.set("rutinGenerated", "true")

    def _condition(self, flow: etree._Element, rw: Rewrite, pid: str) -> None:
        cond = flow.find(q("conditionExpression"))
        if cond is None or cond.get("rutinGenerated"):
            if cond is not None:
                cond.attrib.pop("rutinGenerated", None)
            return
        text = (cond.text or "").strip()
        if not text:
            flow.remove(cond)
            return
        # What the designer wrote, for the comparison of versions (`bpmn.steps` keeps it in the model).
        cond.set("rutinOriginal", text)
        try:
            cond.text = self.python(text, cond.get("language"))
            # FEEL reads a missing variable as null; JUEL (Camunda 7, Flowable, Activiti) refuses it
            # ("Unknown property used in expression ... Cannot resolve identifier"), which Rutin
            # makes an incident at the gateway, as Python conditions are.
            if dialect(text, cond.get("language")) == "feel" and "getDataObject" not in text:
                cond.text = null_safe(cond.text)
        except ExpressionError as exc:
            lenient = multiword_comparison(text) if not cond.get("language") or "xpath" in (
                cond.get("language") or "").lower() else None
            if lenient is not None:
                # "Service Level == 'Premium'": no language reads it, but its meaning is plain.
                cond.text = lenient
                self.diag(rw, "warning", "condition-read-as-feel",
                           f"Villkoret {text!r} läses som en jämförelse av variabler med mellanslag i namnet "
                           f"({lenient}).", flow, pid)
                return
            self.expression_error(rw, "Villkoret", text, exc, flow, pid)

    def correlations(self) -> list[Diagnostic]:
        """Translate and check every correlation retrieval expression of the document."""
        rw = Rewrite()
        for cpre in self.root.iter(q("correlationPropertyRetrievalExpression")):
            expr = next((c for c in cpre if isinstance(c.tag, str)), None)
            if expr is None or not (expr.text or "").strip():
                continue
            text = expr.text.strip()
            python = self.expression(rw, text, expr.get("language"), "Korrelationsuttrycket", cpre.getparent(), "")
            if python is not None:
                expr.text = python
        return rw.diagnostics

    def _timers(self, event: etree._Element, rw: Rewrite, pid: str) -> None:
        for timer in event.iter(q("timerEventDefinition")):
            for kind in ("timeDate", "timeDuration", "timeCycle"):
                el = timer.find(q(kind))
                if el is None or not (el.text or "").strip():
                    continue
                text = el.text.strip()
                feel_cycle = _FEEL_CYCLE.match(text) if kind == "timeCycle" else None
                if feel_cycle:
                    # Camunda 8's cycle(duration("PT1H")) is the ISO interval R/PT1H.
                    text = f"R{feel_cycle.group(1) or ''}/{feel_cycle.group(2)}"
                cron = None
                if ISO_TIME_LITERAL.match(text):
                    python: str | None = repr(text)
                elif kind == "timeCycle" and _CRON.match(text):
                    cron = cron_as_iso(text)
                    if not cron:
                        self.diag(rw, "error", "unsupported-timer",
                                   f"Cron-uttrycket {text!r} anger klockslag i kalendern, vilket Rutin inte kan köra; "
                                   "skriv tiden som ett upprepat ISO 8601-intervall med starttid, t.ex. "
                                   "'R/2026-01-05T07:00:00+01:00/P1D' för varje dag klockan 7.", event, pid)
                        continue
                    python = repr(cron)
                else:
                    python = self.expression(rw, text, el.get("language"), "Timeruttrycket", event, pid)
                if python is None:
                    continue
                if kind == "timeCycle" and not self._cycle_runs(python, text, event, rw, pid):
                    continue
                el.text = python
                if cron:
                    # Camunda runs cron; one that fires at a fixed rate is that ISO interval.
                    self.diag(rw, "warning", "cron-as-interval",
                               f"Cron-uttrycket {text!r} körs som det upprepade ISO 8601-intervallet {cron!r} "
                               "(samma takt, räknad från när timern startar); skriv intervallet i diagrammet.",
                               event, pid)

    def _cycle_runs(self, python: str, written: str, event: etree._Element, rw: Rewrite, pid: str) -> bool:
        """Whether a timer cycle the diagram writes as a constant repeats no more often than the
        upload's limit allows (a computed one is checked when a case computes it); a located
        error when it does not."""
        try:
            value = limits.constant(python)
        except limits.NotConstant:
            return True
        except limits.ConstantError as exc:
            self.diag(rw, "error", "unsupported-expression",
                       f"Timeruttrycket {shown(written)} kan inte räknas ut: {exc}.", event, pid)
            return False
        problem = limits.cycle_problem(str(value), self.limits.min_timer_cycle_s)
        if problem is None:
            return True
        code, message = problem
        if str(value) != written.strip("'\""):
            message = f"{shown(written)} motsvarar {str(value)!r}. {message}"
        self.diag(rw, "error", code, message, event, pid)
        return False
