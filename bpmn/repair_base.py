"""What every repair of the executable copy shares (`bpmn.repairs`): the process it works on, what
the model defines, and the helpers that add nodes and flows and leave a warning on the element."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from .normalize import FLOW_NODE_TYPES, flow_elements, local
from .xml import q

if TYPE_CHECKING:
    from .normalize import Normalizer, Rewrite

SEQUENCE_FLOW = q("sequenceFlow")


class RepairBase:
    """The state and helpers of the repairs of one process (and the subprocesses in it)."""


    def __init__(self, n: Normalizer, rw: Rewrite, pid: str, descriptive: bool):
        self.n, self.rw, self.pid, self.descriptive = n, rw, pid, descriptive
        root = n.root
        # SpiffWorkflow matches messages and signals by name: one without a name cannot be caught.
        self.defined = {
            kind: {el.get("id") for el in root.iter(q(kind))
                   if el.get("id") and (kind in {"error", "escalation"} or (el.get("name") or "").strip())}
            for kind in ("message", "signal", "error", "escalation")
        }
        self.processes = {el.get("id") for el in root.iter(q("process")) if el.get("id")}
        # A pool drawn without content (a black box, or a tool's placeholder for a collapsed
        # subprocess) has nothing to call.
        self.empty_processes = {
            el.get("id") for el in root.iter(q("process"))
            if not any(local(c) in FLOW_NODE_TYPES for c in flow_elements(el))
        }
        self.removed: set[str] = set()
        # Targets of flows from elements a repair left out: what follows them is lost by Rutin's
        # doing, not the designer's, and goes too, also in an executable model.
        self.orphaned: set[str] = set()
        self.link_catches: set[str] = set()
        self.thrown_signals: set[str] = set()

    def warn(self, code: str, msg: str, el: etree._Element | None, severity: str = "warning") -> None:
        """Leave a diagnostic on the element the repair touched."""
        self.n.diag(self.rw, severity, code, msg, el, self.pid)

    # -- helpers ---------------------------------------------------------------------------

    def _new_node(self, container: etree._Element, tag: str, base: str, near: etree._Element,
                  name: str | None = None) -> etree._Element:
        new_id = self.n.new_id(base)
        el = etree.SubElement(container, q(tag), id=new_id)
        if name:
            el.set("name", name)
        el.sourceline = near.sourceline
        self.n.add_to_lanes_of(near.get("id") or "", new_id)
        return el

    def _flow(self, container: etree._Element, source: str, target: str) -> etree._Element:
        return etree.SubElement(container, q("sequenceFlow"), id=self.n.new_id(f"Flow_rutin_{source}"),
                                sourceRef=source, targetRef=target)

    @staticmethod
    def _flows(container: etree._Element) -> list[etree._Element]:
        return [el for el in container if el.tag == SEQUENCE_FLOW]

    def _to_human(self, el: etree._Element, verb: str, why: str) -> None:
        """Turn an element into a user task that a handler completes to record what happened."""
        name = el.get("name") or el.get("id") or ""
        kind = local(el)
        for child in list(el):
            if local(child) not in {"incoming", "outgoing", "documentation", "extensionElements"}:
                el.remove(child)
        for attr in ("messageRef", "implementation", "instantiate", "calledElement", "cancelActivity",
                     "attachedToRef", "parallelMultiple", "eventGatewayType"):
            el.attrib.pop(attr, None)
        el.tag = q("userTask")
        el.set("name", f"{verb}: {name}")
        self.rw.converted[el.get("id") or ""] = kind
        self.warn("converted-to-human-task", f"{why} Det blir en mänsklig uppgift: \"{verb}: {name}\".", el)
