"""Structural repairs that let descriptive exports run: what modelers draw that SpiffWorkflow refuses.

Process maps from Signavio, ARIS, ADONIS, Bizagi and friends describe work; SpiffWorkflow
refuses many of them (see ``shared/reference/spiffworkflow-3.2-parse-baseline.md``): data stores
with no implementation, tasks with several outgoing flows (implicit splits), subprocesses without
one start event, unresolvable data associations, timers with no time, events referring to
messages or errors that are not defined, link events, compensation, call activities without a
target. Each repair here rewrites the executable copy so the model runs as a guided checklist,
and leaves a located warning on the element it touched. Nothing SpiffWorkflow can run as drawn
is rewritten.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lxml import etree

from .expressions import ExpressionError, to_python
from .graph_repairs import GraphRepairs
from .loops import gather_zeebe_output
from .normalize import EVENT_TYPES, FLOW_NODE_TYPES, GATEWAY_TYPES, ISO_TIME_LITERAL, flow_elements, is_bpmn, local
from .xml import q

if TYPE_CHECKING:
    pass

DATA_ELEMENTS = {
    "dataStore", "dataStoreReference", "dataObject", "dataObjectReference", "dataInputAssociation",
    "dataOutputAssociation", "ioSpecification", "property", "dataInput", "dataOutput", "inputSet", "outputSet",
}
CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}
_REF_OF = {"messageEventDefinition": "messageRef", "signalEventDefinition": "signalRef",
           "errorEventDefinition": "errorRef", "escalationEventDefinition": "escalationRef"}
_REF_TARGET = {"messageRef": "message", "signalRef": "signal", "errorRef": "error", "escalationRef": "escalation"}


_MI_DIALECTS = {
    "http://camunda.org/schema/1.0/bpmn": ("collection", "elementVariable"),
    "http://flowable.org/bpmn": ("collection", "elementVariable"),
    "http://activiti.org/bpmn": ("collection", "elementVariable"),
}
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
# No two unbounded runs of spaces side by side: "x" and a long run of spaces would backtrack.
_VARIABLE = re.compile(r"^\s*(?:=\s*|[$#]\{\s*)?([^\W\d]\w*)(?:\s*\})?\s*$")


def plain_variable(text: str | None) -> str | None:
    """The variable an expression consisting of one plain variable names (``items``, ``${items}``,
    ``=items``), else None."""
    m = _VARIABLE.match(text or "")
    return m.group(1) if m else None


def _dialect_collection(mi: etree._Element) -> tuple[str | None, str | None]:
    """The collection variable (and element variable) a modeler's dialect gives a multi-instance.

    Camunda 7, Flowable and Activiti write ``collection``/``elementVariable`` attributes, Camunda 8
    ``zeebe:loopCharacteristics inputCollection/inputElement``. Only a plain variable (``items``,
    ``${items}``, ``=items``) is taken: an expression would be run where Rutin cannot check it.
    """
    candidates: list[tuple[str | None, str | None]] = [
        (mi.get(f"{{{ns}}}{coll}"), mi.get(f"{{{ns}}}{elem}")) for ns, (coll, elem) in _MI_DIALECTS.items()
    ]
    for z in mi.iter(f"{{{ZEEBE_NS}}}loopCharacteristics"):
        candidates.append((z.get("inputCollection"), z.get("inputElement")))
    for collection, element in candidates:
        m = _VARIABLE.match(collection or "")
        if m:
            return m.group(1), (element or "").strip() or None
    return None, None


def _xsd_type(ref: str) -> str:
    """A form field type for an item definition's structure (``xsd:boolean``, ``xsdBool``...)."""
    name = ref.rsplit(":", 1)[-1].lower().removeprefix("xsd").removeprefix("t")
    if name in {"boolean", "bool"}:
        return "boolean"
    if name in {"int", "integer", "long", "short"}:
        return "long"
    if name in {"decimal", "double", "float", "number"}:
        return "double"
    if name in {"date", "datetime"}:
        return "date"
    return "string"


class Repairs(GraphRepairs):
    """Repairs one process (and the subprocesses in it) of the executable copy."""

    # -- the repairs -----------------------------------------------------------------------

    def run(self, proc: etree._Element) -> None:
        """Apply every repair to a process and its subprocesses."""
        self.thrown_signals = {
            d.get("signalRef") or "" for d in proc.iter(q("signalEventDefinition"))
            if local(d.getparent()) in {"intermediateThrowEvent", "endEvent"}
        }
        self.strip_data(proc)
        self.boundaries(proc)
        self.links(proc)
        self.compensation(proc)
        for el in [proc, *[e for e in proc.iter() if isinstance(e.tag, str) and local(e) in CONTAINERS]]:
            self.calls(el)
        containers = [proc, *[el for el in proc.iter() if isinstance(el.tag, str) and local(el) in CONTAINERS]]
        for container in containers:
            self.loops(container)
            self.events(container)
            self.gateways(container)
            self.dangling(container)
            self.implicit_splits(container)
            self.starts(container, is_process=container is proc)
        # Once every element is where it will run: what cannot be reached, joins that would wait
        # for a path not taken, and paths that stop without an end event.
        for container in containers:
            if container.getparent() is None and container is not proc:
                continue  # inside a subprocess a repair turned into a task
            self.unreachable(container)
            self.joins(container)
            self.ends(container)

    def strip_data(self, proc: etree._Element) -> None:
        """Data stores, objects and associations are information in a map; a case keeps its data.

        What a step writes into a data object is remembered first: the step's form asks for it.
        """
        self._data_outputs(proc)
        removed = 0
        for el in list(proc.iter()):
            if is_bpmn(el) and local(el) in DATA_ELEMENTS and el.getparent() is not None:
                el.getparent().remove(el)
                removed += 1
        for el in list(self.n.root.iter(q("dataStore"))):
            el.getparent().remove(el)
            removed += 1
        for assoc in list(proc.iter(q("association"))):
            assoc.getparent().remove(assoc)
        if removed:
            self.warn("data-ignored", f"{removed} dataobjekt, datalager och dataassociationer är information i "
                                      "kartan; ärendets data lagras i ärendet.", proc, "info")

    def _data_outputs(self, proc: etree._Element) -> None:
        root = self.n.root
        items = {el.get("id"): el.get("structureRef") or "" for el in root.iter(q("itemDefinition"))}
        objects = {el.get("id"): el for el in root.iter(q("dataObject"))}
        refs = {el.get("id"): objects.get(el.get("dataObjectRef")) for el in root.iter(q("dataObjectReference"))}
        for assoc in proc.iter(q("dataOutputAssociation")):
            owner = assoc.getparent()
            target = (assoc.findtext(q("targetRef")) or "").strip()
            obj = objects.get(target) if target in objects else refs.get(target)
            if owner is None or not owner.get("id") or (target not in objects and target not in refs):
                continue
            name = self.n.data_names.get(target)
            if not name:
                continue
            item = (obj.get("itemSubjectRef") if obj is not None else None) or ""
            kind = _xsd_type(items.get(item, item))
            found = self.rw.data_outputs.setdefault(owner.get("id") or "", [])
            if name not in [n for n, _ in found]:
                found.append((name, kind))

    def links(self, proc: etree._Element) -> None:
        """A pair of link events (throw and catch with one name) is a sequence flow in two pieces."""
        catches: dict[str, etree._Element] = {}
        for ev in proc.iter(q("intermediateCatchEvent")):
            link = ev.find(q("linkEventDefinition"))
            if link is not None:
                catches[(link.get("name") or ev.get("name") or "").strip()] = ev
        for ev in list(proc.iter(q("intermediateThrowEvent"))):
            link = ev.find(q("linkEventDefinition"))
            if link is None:
                continue
            target = catches.get((link.get("name") or ev.get("name") or "").strip())
            ev.remove(link)
            if target is None:
                self.warn("link-without-target", "Länkhändelsen har ingen fångande länk med samma namn.", ev)
                continue
            self._flow(ev.getparent(), ev.get("id") or "", target.get("id") or "")
            self.warn("link-joined", f"Länken förbinds med {target.get('name') or target.get('id')!r}.", ev, "info")
        for ev in catches.values():
            link = ev.find(q("linkEventDefinition"))
            if link is not None:
                ev.remove(link)
                self.link_catches.add(ev.get("id") or "")  # a joined link passes the token on

    def compensation(self, proc: etree._Element) -> None:
        """Compensation cannot run here: its boundary events and handlers are left out."""
        for el in list(proc.iter()):
            if not isinstance(el.tag, str):
                continue
            if el.get("isForCompensation") == "true" and el.getparent() is not None:
                self.warn("compensation-ignored", "Kompensationshanteraren körs inte här.", el)
                el.getparent().remove(el)
                self.removed.add(el.get("id") or "")
            elif local(el) == "compensateEventDefinition":
                event = el.getparent()
                if local(event) == "boundaryEvent" and event.getparent() is not None:
                    self.warn("compensation-ignored", "Kompensationshändelsen körs inte här.", event)
                    event.getparent().remove(event)
                    self.removed.add(event.get("id") or "")
                else:
                    event.remove(el)

    def loops(self, container: etree._Element) -> None:
        """Loops the engine cannot run as drawn become a single pass."""
        for el in flow_elements(container):
            mi = el.find(q("multiInstanceLoopCharacteristics"))
            if mi is not None:
                for part in ("loopCardinality", "completionCondition"):
                    found = mi.find(q(part))
                    if found is not None and not (found.text or "").strip():
                        mi.remove(found)  # exporters write empty ones; SpiffWorkflow would evaluate ""
                if mi.find(q("loopCardinality")) is None and not (mi.findtext(q("loopDataInputRef")) or "").strip():
                    collection, element = _dialect_collection(mi)
                    if collection:
                        ref = etree.SubElement(mi, q("loopDataInputRef"))
                        ref.text = collection
                        if element:
                            etree.SubElement(mi, q("inputDataItem"), id=element, name=element)
                        self.warn("loop-collection", f"Flerinstansen körs en gång per element i {collection!r}.",
                                  el, "info")
                        gather_zeebe_output(mi)
                    else:
                        el.remove(mi)
                        self.warn("loop-ignored", "Flerinstansen saknar antal och en samling Rutin kan läsa; "
                                                  "steget görs en gång.", el)
            std = el.find(q("standardLoopCharacteristics"))
            if std is not None:
                cond = std.find(q("loopCondition"))
                if cond is not None and not (cond.text or "").strip():
                    std.remove(cond)
                    cond = None
                if std.get("loopMaximum") is None and cond is None:
                    el.remove(std)
                    self.warn("loop-ignored", "Slingan saknar villkor och maxantal; steget görs en gång.", el)
            if local(el) == "adHocSubProcess" and (el.get("ordering") or "").lower() == "sequential":
                el.set("ordering", "Parallel")
                self.warn("adhoc-parallel", "Ad hoc-delprocessen körs med stegen i valfri ordning.", el, "info")

    def _executable_definition(self, d: etree._Element) -> bool:
        kind = local(d)
        if kind == "timerEventDefinition":
            texts = [(d.find(q(t)).text or "").strip() for t in ("timeDate", "timeDuration", "timeCycle")
                     if d.find(q(t)) is not None]
            texts = [t for t in texts if t]
            if not texts:
                return False
            if not self.descriptive:
                return True  # an executable model's timer is checked, and refused if wrong, later
            for text in texts:
                if ISO_TIME_LITERAL.match(text):
                    continue
                try:
                    to_python(text)
                except ExpressionError:
                    return False
            return True
        if kind == "signalEventDefinition" and local(d.getparent()) in {"intermediateCatchEvent", "boundaryEvent"}:
            # A signal from another pool never reaches this process: only one thrown in it counts.
            ref = d.get("signalRef")
            return bool(ref) and ref in self.defined["signal"] and ref in self.thrown_signals
        if kind in _REF_OF:
            ref = d.get(_REF_OF[kind])
            if kind in {"errorEventDefinition", "escalationEventDefinition"}:
                return ref is None or ref in self.defined[_REF_TARGET[_REF_OF[kind]]]
            return bool(ref) and ref in self.defined[_REF_TARGET[_REF_OF[kind]]]
        return kind in {"terminateEventDefinition", "cancelEventDefinition"}

    def events(self, container: etree._Element) -> None:
        """Events whose trigger cannot happen here wait for a handler, or fall away."""
        for ev in list(flow_elements(container)):
            kind = local(ev)
            if kind not in EVENT_TYPES:
                continue
            defs = [d for d in ev if isinstance(d.tag, str) and local(d).endswith("EventDefinition")]
            broken = [d for d in defs if not self._executable_definition(d)]
            if kind == "intermediateCatchEvent" and not defs and ev.get("id") not in self.link_catches:
                # A catch event says "wait until this happens"; with no trigger, a handler records it.
                self._to_human(ev, "Registrera", "Händelsen har ingen utlösare; en handläggare registrerar att "
                                                 "den har inträffat.")
                continue
            if kind == "boundaryEvent" and not defs:
                # Nothing says what happens on the border: no case can ever leave through it.
                ev.getparent().remove(ev)
                self.removed.add(ev.get("id") or "")
                self.warn("boundary-ignored", "Gränshändelsen har ingen utlösare och kan inte inträffa; flödet efter "
                                              "den nås inte. Ge den en utlösare (en timer, ett meddelande, ett fel) "
                                              "om den ska kunna inträffa.", ev)
                continue
            if not broken:
                continue
            if kind == "intermediateCatchEvent":
                self._to_human(ev, "Registrera", "Händelsen kan inte utlösas här; en handläggare registrerar "
                                                 "att den har inträffat.")
            elif kind == "boundaryEvent":
                ev.getparent().remove(ev)
                self.removed.add(ev.get("id") or "")
                self.warn("boundary-ignored", "Gränshändelsen kan inte utlösas här; flödet efter den nås inte.", ev)
            elif kind == "startEvent":
                for d in defs:
                    ev.remove(d)
                self.warn("start-simplified", "Starthändelsens utlösare finns inte här; ärendet startas av en "
                                              "handläggare.", ev)
            else:  # end and throw events: the throw has nowhere to go, the flow still ends or goes on
                for d in broken:
                    ev.remove(d)
                self.warn("event-simplified", "Händelsens meddelande, signal eller fel är inte definierat; "
                                              "den kastar ingenting.", ev)
        # A message start event starts the case when the message comes; here, when someone starts it.
        for ev in flow_elements(container):
            if local(ev) == "startEvent" and ev.getparent() is not None and local(ev.getparent()) == "process":
                for d in list(ev):
                    if isinstance(d.tag, str) and local(d) in {"messageEventDefinition", "signalEventDefinition",
                                                               "conditionalEventDefinition"}:
                        ev.remove(d)
                        self.warn("start-simplified", "Ärendet startas av en handläggare (eller via API:t) när "
                                                      "det som starthändelsen väntar på har inträffat.", ev)
        named = {m.get("id") for m in self.n.root.iter(q("message")) if (m.get("name") or "").strip()}
        for task in list(flow_elements(container)):
            if local(task) == "receiveTask" and task.get("messageRef") not in named:
                self._to_human(task, "Registrera", "Mottagandet kan inte ske här; en handläggare registrerar det.")
            elif local(task) == "sendTask":
                self._to_human(task, "Utför", "Rutin skickar inga meddelanden själv.")
        # An event-based gateway races events; once one of them is a handler's registration, the
        # race is the handler's choice of what happened.
        for gw in flow_elements(container):
            if local(gw) != "eventBasedGateway":
                continue
            targets = {f.get("targetRef") for f in self._flows(container) if f.get("sourceRef") == gw.get("id")}
            kinds = {local(el) for el in flow_elements(container) if el.get("id") in targets}
            if kinds - {"intermediateCatchEvent"}:
                gw.tag = q("exclusiveGateway")
                for attr in ("eventGatewayType", "instantiate"):
                    gw.attrib.pop(attr, None)
                self.warn("event-gateway-as-decision", "Händelserna efter grinden kan inte alla inträffa här; "
                                                       "handläggaren väljer vad som hände.", gw)

    def calls(self, container: etree._Element) -> None:
        """A call activity whose process is not in the upload, or a collapsed (empty) subprocess, is
        done by a person."""
        for el in list(flow_elements(container)):
            if local(el) == "callActivity" and el.get("calledElement") not in self.processes:
                self._to_human(el, "Utför", "Den anropade processen finns inte i filen.")
            elif local(el) == "callActivity" and el.get("calledElement") in self.empty_processes:
                self._to_human(el, "Utför", "Den anropade processen är tom i filen.")
            elif local(el) in CONTAINERS and el.get("triggeredByEvent") != "true" and \
                    not any(local(c) in FLOW_NODE_TYPES - {"boundaryEvent"} for c in flow_elements(el)):
                self._to_human(el, "Utför", "Delprocessen är hopfälld utan innehåll.")

    def gateways(self, container: etree._Element) -> None:
        """A complex gateway is read as an inclusive one."""
        for el in flow_elements(container):
            if local(el) == "complexGateway":
                el.tag = q("inclusiveGateway")
                for child in list(el):
                    if local(child) == "activationCondition":
                        el.remove(child)
                self.warn("complex-as-inclusive", "Den komplexa grinden tolkas som en inkluderande grind.", el)

    def dangling(self, container: etree._Element) -> None:
        """Flows from elements a repair left out go too; in a descriptive map, so do flows to elements
        that are not there."""
        nodes = {el.get("id") for el in flow_elements(container) if local(el) in FLOW_NODE_TYPES}
        for flow in self._flows(container):
            ends = {flow.get("sourceRef"), flow.get("targetRef")}
            if ends & self.removed:
                container.remove(flow)
                if flow.get("sourceRef") in self.removed:
                    self.orphaned.add(flow.get("targetRef") or "")
                continue
            if self.descriptive and not ends <= nodes:
                container.remove(flow)
                self.warn("dangling-flow", f"Flödet pekar på {flow.get('targetRef')!r} eller kommer från "
                                           f"{flow.get('sourceRef')!r}, som inte finns här; det utelämnas.", flow)

    def implicit_splits(self, container: etree._Element) -> None:
        """Several flows out of a task or event split the path, as BPMN says: made explicit."""
        flows = self._flows(container)
        out: dict[str, list[etree._Element]] = {}
        for f in flows:
            out.setdefault(f.get("sourceRef") or "", []).append(f)
        for el in list(flow_elements(container)):
            kind = local(el)
            if kind in GATEWAY_TYPES or kind not in FLOW_NODE_TYPES:
                continue
            leaving = out.get(el.get("id") or "", [])
            if len(leaving) < 2:
                continue
            conditioned = [f for f in leaving if f.find(q("conditionExpression")) is not None]
            gw_kind = "inclusiveGateway" if conditioned else "parallelGateway"
            gw = self._new_node(container, gw_kind, f"Gateway_rutin_{el.get('id')}", el)
            default = el.attrib.pop("default", None)
            for f in leaving:
                f.set("sourceRef", gw.get("id") or "")
                if conditioned and f.find(q("conditionExpression")) is None and f.get("id") != default:
                    cond = etree.SubElement(f, q("conditionExpression"))
                    cond.text = "True"
            if default:
                gw.set("default", default)
            for og in list(el.findall(q("outgoing"))):
                el.remove(og)
            self._flow(container, el.get("id") or "", gw.get("id") or "")
            self.warn("implicit-split", "Flera flöden ut från steget delar vägen; Rutin lägger in en "
                                        f"{'inkluderande' if conditioned else 'parallell'} grind.", el, "info")

    def starts(self, container: etree._Element, *, is_process: bool) -> None:
        """A subprocess needs exactly one start event; a descriptive process without one gets one."""
        if local(container) == "adHocSubProcess" or container.get("triggeredByEvent") == "true":
            return
        starts = [el for el in flow_elements(container) if local(el) == "startEvent"]
        if is_process and (starts or not self.descriptive):
            return
        if not is_process and len(starts) == 1:
            return
        targets = set()
        incoming = {f.get("targetRef") for f in self._flows(container)}
        for el in flow_elements(container):
            kind = local(el)
            if kind in FLOW_NODE_TYPES and kind not in {"boundaryEvent", "startEvent"} and \
                    el.get("id") not in incoming and el.get("triggeredByEvent") != "true":
                targets.add(el.get("id") or "")
        for s in starts:  # several starts: one start that starts them all
            for f in self._flows(container):
                if f.get("sourceRef") == s.get("id"):
                    targets.add(f.get("targetRef") or "")
                    container.remove(f)
            container.remove(s)
        if not targets:
            return
        start = self._new_node(container, "startEvent", f"StartEvent_rutin_{container.get('id')}", container)
        first = start.get("id") or ""
        if len(targets) > 1:
            split = self._new_node(container, "parallelGateway", f"Gateway_rutin_start_{container.get('id')}",
                                   container)
            self._flow(container, first, split.get("id") or "")
            first = split.get("id") or ""
        for t in sorted(targets):
            self._flow(container, first, t)
        self.warn("start-added", f"{'Processen' if is_process else 'Delprocessen'} saknade en entydig start; "
                                 f"Rutin startar den i {', '.join(sorted(targets))}.", container)


    def boundaries(self, proc: etree._Element) -> None:
        """A boundary event belongs beside the activity it is attached to; some exporters write it
        inside that activity, or attach it to something that is not in the file."""
        nodes = {el.get("id"): el for el in proc.iter() if isinstance(el.tag, str) and is_bpmn(el)
                 and local(el) in FLOW_NODE_TYPES and el.get("id")}
        for ev in list(proc.iter(q("boundaryEvent"))):
            host = nodes.get(ev.get("attachedToRef"))
            here = ev.getparent()
            if host is None or host is ev:
                here.remove(ev)
                self.removed.add(ev.get("id") or "")
                self.warn("boundary-ignored", "Gränshändelsen sitter inte fast på något steg i processen; "
                                              "den utelämnas.", ev)
                continue
            home = host.getparent()
            if here is home:
                continue
            home.append(ev)
            for flow in [f for f in self._flows(here) if f.get("sourceRef") == ev.get("id")]:
                home.append(flow)
            self.warn("boundary-moved", "Gränshändelsen låg inuti steget den sitter på; den flyttas ut till "
                                        "stegets kant.", ev, "info")
