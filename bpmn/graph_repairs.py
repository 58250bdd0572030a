"""The repairs that follow the flow graph (`bpmn.repairs`): what no start reaches, joins that wait
for branches a choice never takes, and paths that end nowhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lxml import etree

from .normalize import FLOW_NODE_TYPES, flow_elements, local
from .xml import q

if TYPE_CHECKING:
    pass

from .repair_base import RepairBase


class GraphRepairs(RepairBase):
    """Reachability, joins and ends of a process's flow graph."""

    def _entries(self, container: etree._Element) -> set[str]:
        """Where tokens come from in a container: its start events, boundary events and event
        subprocesses (and, in an ad hoc subprocess, every step)."""
        nodes = [el for el in flow_elements(container) if local(el) in FLOW_NODE_TYPES]
        if local(container) == "adHocSubProcess":
            return {el.get("id") or "" for el in nodes}
        return {el.get("id") or "" for el in nodes
                if local(el) in {"startEvent", "boundaryEvent"} or el.get("triggeredByEvent") == "true"}

    def unreachable(self, container: etree._Element) -> None:
        """Steps no path reaches: in a map, left out (a join must not wait for them); in an
        executable model, pointed out."""
        entries = self._entries(container)
        if not any(local(el) == "startEvent" for el in flow_elements(container)):
            return  # a process without a start is refused elsewhere; an event subprocess starts itself
        flows = self._flows(container)
        out: dict[str, list[str]] = {}
        for f in flows:
            out.setdefault(f.get("sourceRef") or "", []).append(f.get("targetRef") or "")
        seen, todo = set(entries), list(entries)
        while todo:
            for nxt in out.get(todo.pop(), []):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        lost = [el for el in flow_elements(container) if local(el) in FLOW_NODE_TYPES and el.get("id") not in seen]
        # A boundary event on a lost step is lost with it.
        lost_ids = {el.get("id") for el in lost}
        lost += [el for el in flow_elements(container) if local(el) == "boundaryEvent"
                 and el.get("attachedToRef") in lost_ids and el not in lost]
        # What is lost only because a repair left out what led to it.
        ours, todo = set(), [t for t in self.orphaned if t in lost_ids]
        while todo:
            nid = todo.pop()
            if nid in ours or nid not in lost_ids:
                continue
            ours.add(nid)
            todo.extend(out.get(nid, []))
        dropped = False
        for el in lost:
            if not self.descriptive and el.get("id") not in ours and el.get("attachedToRef") not in ours:
                self.warn("unreachable", "Inget flöde leder hit; steget kan aldrig nås.", el)
                continue
            container.remove(el)
            dropped = True
            self.removed.add(el.get("id") or "")
            self.warn("unreachable", "Inget flöde leder hit (eller det som ledde hit kan inte inträffa här); "
                                     "steget utelämnas.", el)
        if dropped:
            for f in flows:
                if {f.get("sourceRef"), f.get("targetRef")} & self.removed:
                    container.remove(f)

    def joins(self, container: etree._Element) -> None:
        """In a map, a parallel join after a choice would wait for ever for the path not chosen: it
        waits for the paths actually taken instead (an inclusive join, the same when all come). In
        an executable model the designer is told."""
        flows = self._flows(container)
        nodes = {el.get("id"): el for el in flow_elements(container) if local(el) in FLOW_NODE_TYPES}
        into: dict[str, list[str]] = {}
        outof: dict[str, list[str]] = {}
        leaving: dict[str, list[etree._Element]] = {}
        for f in flows:
            into.setdefault(f.get("targetRef") or "", []).append(f.get("sourceRef") or "")
            outof.setdefault(f.get("sourceRef") or "", []).append(f.get("targetRef") or "")
            leaving.setdefault(f.get("sourceRef") or "", []).append(f)
        for gid, gw in nodes.items():
            if local(gw) != "parallelGateway" or len(into.get(gid or "", [])) < 2:
                continue
            if not self._after_a_choice(gid or "", nodes, into, outof):
                continue
            if not self.descriptive:
                self.warn("join-after-choice", "Den parallella grinden väntar på alla vägar in, men några av dem "
                                               "kommer efter ett val; ärendet fastnar här om inte alla väljs.", gw)
                continue
            outgoing = leaving.get(gid or "", [])
            if len(outgoing) > 1:
                # The gateway also splits: the split stays parallel, in a gateway of its own.
                split = self._new_node(container, "parallelGateway", f"Gateway_rutin_split_{gid}", gw)
                for f in outgoing:
                    f.set("sourceRef", split.get("id") or "")
                self._flow(container, gid or "", split.get("id") or "")
            gw.tag = q("inclusiveGateway")
            self.warn("join-as-inclusive", "Alla vägar in till den parallella grinden tas inte alltid; Rutin "
                                           "väntar bara på de vägar som faktiskt tagits.", gw)

    @staticmethod
    def _after_a_choice(gid: str, nodes: dict[str | None, etree._Element], into: dict[str, list[str]],
                        outof: dict[str, list[str]]) -> bool:
        """Whether a path into the join may carry no token: walking back from each incoming flow,
        it meets a boundary event or a choice (a decision, an event race) some of whose branches
        cannot come back to that flow. A choice closed again before the join (an exclusive split
        and its merge inside a parallel branch) is no such choice."""

        def reaches(start: str, goal: str) -> bool:
            seen, todo = {gid}, [start]
            while todo:
                nid = todo.pop()
                if nid == goal:
                    return True
                if nid in seen:
                    continue
                seen.add(nid)
                todo.extend(outof.get(nid, []))
            return False

        for source in into.get(gid, []):
            seen: set[str] = set()
            todo = [source]
            while todo:
                nid = todo.pop()
                if nid in seen or nid == gid:
                    continue
                seen.add(nid)
                el = nodes.get(nid)
                if el is None or local(el) == "boundaryEvent":
                    return True
                kind = local(el)
                branches = outof.get(nid, [])
                if kind in {"exclusiveGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway"} and \
                        len(branches) > 1 and not all(reaches(b, source) for b in branches):
                    return True
                if kind == "startEvent" or (kind == "parallelGateway" and len(branches) > 1):
                    continue
                todo.extend(into.get(nid, []))
        return False

    def ends(self, container: etree._Element) -> None:
        """A path that stops without an end event ends there (BPMN's implicit end), made explicit:
        SpiffWorkflow would otherwise wait for ever for that path to reach the end."""
        if local(container) == "adHocSubProcess":
            return
        sources = {f.get("sourceRef") for f in self._flows(container)}
        for el in list(flow_elements(container)):
            kind = local(el)
            if kind not in FLOW_NODE_TYPES or kind == "endEvent" or el.get("id") in sources:
                continue
            if el.get("triggeredByEvent") == "true" or el.get("isForCompensation") == "true":
                continue
            end = self._new_node(container, "endEvent", f"EndEvent_rutin_{el.get('id')}", el)
            self._flow(container, el.get("id") or "", end.get("id") or "")
            self.warn("implicit-end", "Inget flöde leder vidare härifrån; vägen slutar här.", el, "info")
