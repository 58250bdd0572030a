"""Read one uploaded BPMN document into deployable processes, or located diagnostics.

``read_document(bytes)`` is the single entry point the engine calls at upload: secure parse,
normalize a copy (``normalize``), read every human step in every dialect (``steps``), let
SpiffWorkflow build the executable specs, and serialize them so that each process definition is
stored once per version and never again inside each case.
"""

from __future__ import annotations

import copy
import hashlib
import sys
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer

from . import dataflow, io_mappings
from .deep import with_deep_stack
from .diagnostics import Diagnostic, DiagramRejected
from .engine_messages import explain
from .limits import DEFAULT_MAX_MULTI_INSTANCE, DEFAULT_MIN_TIMER_CYCLE_S, Limits
from .model import ProcessModel
from .normalize import FLOW_NODE_TYPES, Normalizer, flow_elements, is_bpmn, local
from .steps import read_steps
from .xml import RECOVERED, parse_document, q


@dataclass
class DeployableProcess:
    """One process of a document, ready to be stored as a process version."""

    key: str
    name: str
    model: ProcessModel
    spec: dict[str, Any]
    subprocess_specs: dict[str, Any]
    diagnostics: list[Diagnostic] = field(default_factory=list)


@dataclass
class Document:
    """The result of reading one upload."""

    content_hash: str
    xml: bytes
    processes: list[DeployableProcess]
    diagnostics: list[Diagnostic]


_serializer = BpmnWorkflowSerializer()


def spec_registry() -> Any:
    """The serializer registry that converts specs to and from dicts (shared with the engine)."""
    return _serializer.registry


def content_hash(data: bytes) -> str:
    """The sha256 of the uploaded bytes, as stored with every version."""
    return hashlib.sha256(data).hexdigest()


# Most flow nodes and sequence flows an upload may hold (RUTIN_MAX_FLOW_ELEMENTS): well beyond the
# largest map in the corpus (a few hundred), well below what makes starting a case slow (a
# 21,000-element model took 9.7 s to start a case).
DEFAULT_MAX_FLOW_ELEMENTS = 5_000

# SpiffWorkflow's parser recurses along the flow (two frames per node): a plain chain of 500 tasks
# exhausted Python's default limit of 1,000 frames. Uploads are read with room for the largest
# model the flow-element limit lets through.
_FRAMES_PER_ELEMENT = 8


def read_document(data: bytes, *, max_bytes: int | None = None, forms: dict[str, bytes] | None = None,
                  max_flow_elements: int = DEFAULT_MAX_FLOW_ELEMENTS,
                  max_multi_instance: int = DEFAULT_MAX_MULTI_INSTANCE,
                  min_timer_cycle_s: float = DEFAULT_MIN_TIMER_CYCLE_S) -> Document:
    """Read an uploaded document; raise `DiagramRejected` with diagnostics if nothing can run.

    `forms` are Camunda Forms uploaded with the diagram, by file name. A document with more than
    `max_flow_elements` flow nodes and sequence flows is refused before anything else is read. A
    multi-instance step that writes more than `max_multi_instance` instances as a constant, and a
    timer cycle written to repeat more often than every `min_timer_cycle_s` seconds, are located
    errors.
    """
    root = parse_document(data, **({"max_bytes": max_bytes} if max_bytes else {}))
    count = count_flow_elements(root)
    if count > max_flow_elements:
        message = (f"Diagrammet har {count} flödesobjekt och sekvensflöden; högst {max_flow_elements} tillåts. "
                   "Dela upp det i processer som anropar varandra (anropsaktiviteter).")
        raise DiagramRejected(message, [Diagnostic("error", "too-many-flow-elements", message,
                                                   line=root.sourceline)])
    limit = sys.getrecursionlimit() + _FRAMES_PER_ELEMENT * count
    upload_limits = Limits(max_multi_instance=max_multi_instance, min_timer_cycle_s=min_timer_cycle_s)
    return with_deep_stack(limit, lambda: _read(root, data, forms, upload_limits))


def count_flow_elements(root: etree._Element) -> int:
    """Flow nodes and sequence flows in every process of the document."""
    wanted = {q(kind) for kind in FLOW_NODE_TYPES | {"sequenceFlow"}}
    return sum(1 for el in root.iter() if el.tag in wanted)


def _read(root: etree._Element, data: bytes, forms: dict[str, bytes] | None, upload_limits: Limits) -> Document:
    # Findings about the document rather than one process; every process's diagnostics carry
    # them, so the upload response and each stored version show them.
    document_level: list[Diagnostic] = []
    if root.get(RECOVERED):
        document_level.append(Diagnostic("warning", "invalid-encoding",
                                      "Filen anger UTF-8 men innehåller tecken i en annan kodning; de har lästs "
                                      "som Windows-1252 (kontrollera namn med å, ä och ö)."))
    document_level.extend(duplicate_ids(root))
    diagnostics: list[Diagnostic] = list(document_level)
    work = copy.deepcopy(root)
    _inline_event_definitions(work)
    normalizer = Normalizer(work, upload_limits)

    processes = list(work.iter(q("process")))
    if not processes:
        raise DiagramRejected(
            "Dokumentet innehåller ingen process.",
            [Diagnostic("error", "no-process", "Dokumentet innehåller ingen bpmn:process.", line=root.sourceline)],
        )
    candidates: list[tuple[etree._Element, Any]] = []
    for proc in processes:
        pid = proc.get("id")
        if not pid:
            diagnostics.append(Diagnostic("error", "missing-id", "En process saknar id.", line=proc.sourceline))
            continue
        nodes = [el for el in flow_elements(proc) if local(el) in FLOW_NODE_TYPES]
        if not nodes:
            empty = Diagnostic("info", "empty-process", "Processen har inga flödesobjekt och hoppas över.",
                               element_id=pid, element_name=proc.get("name"), line=proc.sourceline, process_id=pid)
            document_level.append(empty)
            diagnostics.append(empty)
            continue
        rw = normalizer.process(proc)
        diagnostics.extend(rw.diagnostics)
        if not any(d.severity == "error" and d.code == "no-start-event" for d in rw.diagnostics):
            candidates.append((proc, rw))

    for found in (normalizer.correlations(), _call_cycles(work)):
        document_level.extend(found)
        diagnostics.extend(found)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors or not candidates:
        if not errors:
            errors = [Diagnostic("error", "nothing-to-run", "Dokumentet innehåller ingen process som kan köras.")]
            diagnostics.extend(errors)
        raise DiagramRejected(_summary(errors), diagnostics)

    parser = BpmnParser()
    try:
        parser.add_bpmn_xml(work, filename="upload.bpmn")
    except ValidationException as exc:
        diag = _from_validation(exc, None, root)
        raise DiagramRejected(diag.message, [*diagnostics, diag]) from None
    except (TypeError, KeyError, AttributeError, ValueError, NotImplementedError) as exc:
        diag = Diagnostic("error", "engine-parse", explain(str(exc)))
        raise DiagramRejected(diag.message, [*diagnostics, diag]) from None

    registry = spec_registry()
    deployable = []
    flows: dict[str, tuple[etree._Element, ProcessModel, etree._Element | None]] = {}
    participant_names = {
        p.get("processRef"): p.get("name") for p in root.iter(q("participant")) if p.get("processRef")
    }
    for proc, rw in candidates:
        pid = proc.get("id") or ""
        try:
            spec = parser.get_spec(pid)
            subprocess_specs = parser.get_subprocess_specs(pid)
            io_mappings.attach(work, [spec, *subprocess_specs.values()], set(rw.converted))
        except ValidationException as exc:
            diagnostics.append(_from_validation(exc, pid, root))
            continue
        except (TypeError, KeyError, AttributeError, ValueError, NotImplementedError) as exc:
            diagnostics.append(Diagnostic("error", "engine-parse", explain(str(exc)),
                                          element_id=pid, process_id=pid, line=proc.sourceline))
            continue
        model, step_diags = read_steps(proc, rw, work, participant_names.get(pid), forms or {})
        original = next((p for p in root.iter(q("process")) if p.get("id") == pid), None)
        flows[pid] = (proc, model, original)
        diagnostics.extend(step_diags)
        deployable.append(
            DeployableProcess(
                key=pid,
                name=model.name,
                model=model,
                spec=registry.convert(spec),
                subprocess_specs={k: registry.convert(v) for k, v in subprocess_specs.items()},
                diagnostics=[*document_level, *rw.diagnostics, *step_diags],
            )
        )
    # The data-flow check once every process is read: a call activity brings back what the
    # process it calls writes.
    returned = dataflow.called_writes({pid: f[0] for pid, f in flows.items()},
                                      {pid: dataflow.written(*f) for pid, f in flows.items()})
    for d in deployable:
        found = dataflow.unwritten(*flows[d.key], returned=returned.get(d.key, set()))
        d.diagnostics.extend(found)
        diagnostics.extend(found)
    errors = [d for d in diagnostics if d.severity == "error"]
    if errors:
        raise DiagramRejected(_summary(errors), diagnostics)
    _include_called(deployable, {proc.get("id") or "": proc for proc, _ in candidates})
    return Document(content_hash=content_hash(data), xml=data, processes=deployable, diagnostics=diagnostics)


# Elements SpiffWorkflow and Rutin find by id: two of these with one id make the diagram mean two
# things (only one of two tasks would run, a flow would point at a task).
_RESOLVED_BY_ID = FLOW_NODE_TYPES | {
    "process", "sequenceFlow", "lane", "laneSet", "participant", "messageFlow", "message", "signal", "error",
    "escalation", "dataObject", "dataObjectReference", "dataStore", "dataStoreReference", "collaboration",
    "correlationProperty", "correlationKey", "resource", "itemDefinition", "association",
}


def duplicate_ids(root: etree._Element) -> list[Diagnostic]:
    """Ids used by more than one element of the diagram (its vendor extensions and layout aside).

    An error when two of them are elements that are found by id (tasks, flows, processes, lanes,
    messages...); a warning when one is a modeler's bookkeeping (a global task copied beside
    the process of the same id, an io specification repeated), which Rutin does not read.
    """
    skipped: set[etree._Element] = set()
    for ext in root.iter(q("extensionElements")):
        skipped.update(ext.iter())
    seen: dict[str, list[etree._Element]] = {}
    for el in root.iter():
        if el in skipped or not is_bpmn(el):
            continue
        ident = el.get("id")
        if ident:
            seen.setdefault(ident, []).append(el)
    found = []
    for ident, els in seen.items():
        if len(els) < 2:
            continue
        where = " och ".join(f"rad {el.sourceline} ({local(el)}{' ' + repr(el.get('name')) if el.get('name') else ''})"
                             for el in els)
        resolved = [el for el in els if local(el) in _RESOLVED_BY_ID]
        if len(resolved) >= 2:
            found.append(Diagnostic(
                "error", "duplicate-id", f"Id:t {ident!r} används av flera element: {where}. Varje id måste vara "
                "unikt i filen; byt id på det ena elementet.", element_id=ident,
                element_name=els[1].get("name"), line=els[1].sourceline))
        else:
            kept = resolved[0] if resolved else els[0]
            found.append(Diagnostic(
                "warning", "duplicate-id", f"Id:t {ident!r} används av flera element: {where}. Rutin läser bara "
                f"{local(kept)} på rad {kept.sourceline}.", element_id=ident, element_name=kept.get("name"),
                line=kept.sourceline))
    return found


def _summary(errors: list[Diagnostic]) -> str:
    first = errors[0]
    where = f" ({first.element_id}, rad {first.line})" if first.element_id and first.line else ""
    more = f" och {len(errors) - 1} fel till" if len(errors) > 1 else ""
    return f"Diagrammet kan inte driftsättas: {first.message}{where}{more}."


def _inline_event_definitions(root: etree._Element) -> None:
    """An event that names its definition by reference (``<eventDefinitionRef>td</eventDefinitionRef>``
    to a definition at the top of the document, as BPMN allows) gets a copy of it in place, as if
    nested: SpiffWorkflow reads nested definitions only. A reference to nothing is dropped (the
    event then has no trigger, and is repaired as such an event is)."""
    definitions = {el.get("id"): el for el in root if isinstance(el.tag, str) and local(el).endswith("EventDefinition")
                   and el.get("id")}
    for ref in list(root.iter(q("eventDefinitionRef"))):
        event = ref.getparent()
        found = definitions.get((ref.text or "").strip())
        if event is None:
            continue
        if found is not None:
            event.insert(event.index(ref), copy.deepcopy(found))
        event.remove(ref)


def _from_validation(exc: ValidationException, pid: str | None, root: etree._Element) -> Diagnostic:
    line = exc.line_number if isinstance(exc.line_number, int) else None
    if line is None and exc.id:
        # SpiffWorkflow often leaves the line out; the element is in the uploaded document.
        found = next((el for el in root.iter() if isinstance(el.tag, str) and el.get("id") == exc.id), None)
        line = found.sourceline if found is not None else None
    return Diagnostic(
        "error",
        "engine-validation",
        explain(str(exc)),
        element_id=exc.id or None,
        element_name=exc.name or None,
        line=line,
        process_id=pid,
    )


def is_process(el: etree._Element) -> bool:
    """Whether the element is a bpmn:process."""
    return is_bpmn(el, "process")


def _include_called(deployable: list[DeployableProcess], elements: dict[str, etree._Element]) -> None:
    """A process called by a call activity runs inside the caller's cases: its human steps (and
    the ids of what it was rewritten into) belong to the caller's model too."""
    models = {d.key: d.model for d in deployable}

    def called(pid: str, seen: set[str]) -> None:
        proc = elements.get(pid)
        if proc is None:
            return
        for call in proc.iter(q("callActivity")):
            target = call.get("calledElement") or ""
            if target in models and target not in seen:
                seen.add(target)
                called(target, seen)

    for d in deployable:
        reached: set[str] = {d.key}
        called(d.key, reached)
        for pid in sorted(reached - {d.key}):
            other = models[pid]
            for name, step in other.steps.items():
                d.model.steps.setdefault(name, step)
            for name, value in other.element_names.items():
                d.model.element_names.setdefault(name, value)
            for name, value in other.spec_ids.items():
                d.model.spec_ids.setdefault(name, value)
            d.model.lanes = sorted(set(d.model.lanes) | set(other.lanes))


def _call_cycles(root: etree._Element) -> list[Diagnostic]:
    """Call activities that call back into a process already on the call chain: a case of such a
    process would call itself for ever, so the document is refused."""
    procs = {p.get("id"): p for p in root.iter(q("process")) if p.get("id")}
    calls = {pid: [c for c in proc.iter(q("callActivity")) if c.get("calledElement") in procs]
             for pid, proc in procs.items()}
    found: list[Diagnostic] = []
    reported: set[str] = set()
    done: set[str] = set()

    def visit(pid: str, chain: list[str]) -> None:
        if pid in done:
            return
        for call in calls.get(pid, []):
            target = call.get("calledElement") or ""
            if target in chain:
                cycle = " → ".join([*chain[chain.index(target):], target])
                if call.get("id") not in reported:
                    reported.add(call.get("id") or "")
                    found.append(Diagnostic(
                        "error", "call-cycle", f"Anropet bildar en cirkel av processer ({cycle}); ett ärende skulle "
                        "anropa sig självt i all oändlighet.", element_id=call.get("id"),
                        element_name=call.get("name"), line=call.sourceline, process_id=pid))
                continue
            visit(target, [*chain, target])
        done.add(pid)

    for pid in procs:
        visit(pid or "", [pid or ""])
    return found
