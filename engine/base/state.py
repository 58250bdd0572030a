"""Saving and loading a case's SpiffWorkflow state, without its spec, and keeping it bounded.

Stock serialization puts the whole process definition inside every case (half of its JSON) and
keeps every finished task forever, so a rework loop makes the task tree deeper on each pass:
state and load time grow linearly, and past 333 passes SpiffWorkflow's iterators (depth limit
1000) silently stop seeing the ready task. We store each spec once per process version (cached
here, deserialized once per process) and, before each save, splice long chains of finished
tasks out of the tree. History does not need them: the case's audit events are the record.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from bpmn.deep import with_deep_stack

from . import spiff
from .plain_data import CaseDataRegistry, escape
from .scripting import SCRIPT_ENGINE

# Finished tasks this close to an unfinished one stay, so joins and boundary events that look a
# few steps back (find_ancestor, a task's parent) still find what they need.
KEEP_DISTANCE = 4


class _CaseWorkflowConverter(BpmnWorkflowConverter):
    """Workflow converter that leaves the specs out and takes them from the cache on load."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = [_escaped_event(self.registry.convert(e)) for e in workflow.bpmn_events]
        _escape_data(dct)
        for sub in dct["subprocesses"].values():
            _escape_data(sub)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _escape_data(dct: dict[str, Any]) -> None:
    """Escape the case data a converted (sub)workflow holds (`plain_data`): its own data, and each
    task's data, data changes and internal data (a multi-instance item, a caught message)."""
    dct["data"] = escape(dct["data"])
    for task in dct["tasks"].values():
        task["data"] = escape(task["data"])
        if task.get("delta"):
            task["delta"]["updates"] = escape(task["delta"]["updates"])
        task["internal_data"] = escape(task["internal_data"])


def _escaped_event(event: dict[str, Any]) -> dict[str, Any]:
    """A converted pending event with its payload and correlations escaped (`plain_data`)."""
    event["payload"] = escape(event["payload"])
    event["correlations"] = {k: escape(v) for k, v in event["correlations"].items()}
    return event


_registry = BpmnWorkflowSerializer.configure(registry=CaseDataRegistry())
# Specs hold no case data: restored strictly, so a spec that does not read back fails loudly.
_spec_registry = BpmnWorkflowSerializer.configure()
_converter = _CaseWorkflowConverter(BpmnWorkflow, _registry)
_serializer = BpmnWorkflowSerializer(_registry)


class SpecCache:
    """Deserialized specs per process version; a spec is immutable, so cases share it."""

    def __init__(self, size: int = 256):
        self._lock = threading.Lock()
        self._items: OrderedDict[int, tuple[Any, dict[str, Any]]] = OrderedDict()
        self._size = size

    def get(self, version_id: int, spec_json: str | None) -> tuple[Any, dict[str, Any]]:
        """The (spec, subprocess_specs) of a version; `spec_json` is used on a cache miss."""
        with self._lock:
            if version_id in self._items:
                self._items.move_to_end(version_id)
                return self._items[version_id]
        if spec_json is None:
            raise KeyError(version_id)
        spec, subs = restore_spec(spec_json)
        with self._lock:
            self._items[version_id] = (spec, subs)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return spec, subs

    def __contains__(self, version_id: int) -> bool:
        with self._lock:
            return version_id in self._items


class WorkflowCache:
    """Workflows this process saved, by case and revision, to skip deserializing them again."""

    def __init__(self, size: int = 512):
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._size = size

    def take(self, case_id: str, revision: int) -> BpmnWorkflow | None:
        """Remove and return the workflow saved at exactly this revision, if any."""
        with self._lock:
            item = self._items.pop(case_id, None)
        if item is None or item[0] != revision:
            return None
        return item[1]

    def put(self, case_id: str, revision: int, workflow: BpmnWorkflow) -> None:
        """Remember a workflow as saved (call only after its transaction committed)."""
        with self._lock:
            self._items[case_id] = (revision, workflow)
            self._items.move_to_end(case_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


def restore_spec(spec_json: str) -> tuple[Any, dict[str, Any]]:
    """Deserialize a version's stored specs (uncached)."""
    stored = json.loads(spec_json)
    spec = _spec_registry.restore(stored["spec"])
    return spec, {k: _spec_registry.restore(v) for k, v in stored["subprocess_specs"].items()}


def spec_json(spec: dict[str, Any], subprocess_specs: dict[str, Any]) -> str:
    """The stored form of a version's specs (already converted to dicts by the bpmn layer)."""
    return json.dumps({"spec": spec, "subprocess_specs": subprocess_specs}, separators=(",", ":"))


# Creating a workflow predicts, recursively, every task known to come next: a long chain of tasks
# needs more than Python's default stack (bpmn.deep). Small processes skip the extra thread.
_DEEP_SPECS = 200
_FRAMES_PER_SPEC = 8


def new_workflow(spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    """A fresh workflow of a spec, with the restricted script engine."""
    size = len(spec.task_specs)
    if size <= _DEEP_SPECS:
        return BpmnWorkflow(spec, subprocess_specs, script_engine=SCRIPT_ENGINE)
    return with_deep_stack(1000 + _FRAMES_PER_SPEC * size,
                           lambda: BpmnWorkflow(spec, subprocess_specs, script_engine=SCRIPT_ENGINE))


def dump(workflow: BpmnWorkflow) -> str:
    """Serialize a workflow's state (no spec) after compacting it."""
    compact(workflow)
    spiff.encoder_mode(_registry, True)
    try:
        dct = _converter.to_dict(workflow)
        dct["serializer_version"] = VERSION
        return json.dumps(dct, cls=spiff.encoder_class(_serializer), separators=(",", ":"))
    finally:
        spiff.encoder_mode(_registry, False)


def load(state: str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    """Rebuild a workflow from its stored state and its version's cached spec."""
    dct = json.loads(state)
    _serializer.migrate(dct)
    workflow = _converter.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = SCRIPT_ENGINE
    return workflow


def _finished(task: Any) -> bool:
    return bool(task.has_state(TaskState.FINISHED_MASK))


def _tree(root: Any) -> list[Any]:
    """Every task of a tree, parents before children."""
    order: list[Any] = []
    stack = [root]
    while stack:
        task = stack.pop()
        order.append(task)
        stack.extend(task.children)
    return order


def _ancestor_ids(task: Any) -> set[UUID]:
    out: set[UUID] = set()
    up = task.parent
    while up is not None:
        out.add(up.id)
        up = up.parent
    return out


def _join_tokens(order: list[Any]) -> tuple[set[UUID], list[Any]]:
    """Which join instances still hold a token, and which are spent.

    A BPMN join (parallel, inclusive; SpiffWorkflow's unstructured joins) counts its arrived
    tokens by looking at the *parent* of each of its instances: the instance under branch A is
    cancelled as soon as the instance under branch B takes over the waiting, yet A's finished
    task must stay its parent until the join fires, or the join never sees A arrive (a three-way
    split then waits forever). Returned first: the ids of those parents, which must stay.

    Once an instance of the join has completed elsewhere (not above this one: that is an earlier
    pass of a loop), this instance's token has been consumed. Returned second: such spent
    instances. They must go, not merely their parents: SpiffWorkflow would count a spent
    instance's parent as an arrived token on the next pass of a loop and fire the join early.
    """
    instances: dict[Any, list[Any]] = {}
    for task in order:
        if isinstance(task.task_spec, UnstructuredJoin):
            instances.setdefault(task.task_spec, []).append(task)
    keep: set[UUID] = set()
    spent: list[Any] = []
    for group in instances.values():
        completed = [t for t in group if t.has_state(TaskState.COMPLETED)]
        any_open = any(not _finished(t) for t in group)
        for task in group:
            if task.has_state(TaskState.COMPLETED) or task.parent is None:
                continue
            ancestors = _ancestor_ids(task)
            if any(done.id not in ancestors for done in completed):
                if _finished(task) and not spiff.child_ids(task):
                    spent.append(task)
            elif any_open:
                keep.add(task.parent.id)
    return keep, spent


def _drop(workflow: Any, top: BpmnWorkflow, task: Any) -> None:
    if isinstance(task.task_spec, SubWorkflowTask) and task.id in top.subprocesses:
        top.delete_subprocess(task)
    del workflow.tasks[task.id]


def _prune_spent_branches(workflow: Any, top: BpmnWorkflow, root: Any, spent: list[Any],
                          keep: set[UUID]) -> int:
    """Remove each spent join instance with the finished branch that led only to it."""
    removed = 0
    for task in spent:
        path = [task]
        up = task.parent
        while (up is not None and up is not root and _finished(up) and len(spiff.child_ids(up)) == 1
               and up.id not in keep):
            path.append(up)
            up = up.parent
        # Only cut a branch off a fork; a lone chain is left to the splicing below.
        if up is None or len(spiff.child_ids(up)) < 2:
            continue
        spiff.child_ids(up).remove(path[-1].id)
        for dead in path:
            if workflow.last_task is dead:
                workflow.last_task = up
            _drop(workflow, top, dead)
        removed += len(path)
    return removed


def _compact_tree(workflow: Any, top: BpmnWorkflow) -> int:
    """Drop spent join branches, then splice finished single-child tasks far from any unfinished
    task out of one tree."""
    root = workflow.task_tree
    if root is None:
        return 0
    keep, spent = _join_tokens(_tree(root))
    removed = _prune_spent_branches(workflow, top, root, spent, keep)
    order = _tree(root)
    # Distance from each task down to its nearest unfinished descendant (or itself).
    distance: dict[UUID, float] = {}
    for task in reversed(order):
        best = 0.0 if not _finished(task) else float("inf")
        for child in task.children:
            best = min(best, distance[child.id] + 1)
        distance[task.id] = best
    for task in order:
        if task is root or task.parent is None or len(spiff.child_ids(task)) != 1:
            continue
        if not _finished(task) or distance[task.id] <= KEEP_DISTANCE or task.id in keep:
            continue
        parent = task.parent
        child_id = spiff.child_ids(task)[0]
        child = workflow.tasks[child_id]
        index = spiff.child_ids(parent).index(task.id)
        spiff.child_ids(parent)[index] = child_id
        spiff.set_parent_id(child, parent.id)
        if workflow.last_task is task:
            workflow.last_task = child
        _drop(workflow, top, task)
        removed += 1
    return removed


def compact(workflow: BpmnWorkflow) -> int:
    """Compact the main tree and every subprocess tree; return how many tasks were removed."""
    removed = _compact_tree(workflow, workflow)
    for sub in list(workflow.subprocesses.values()):
        removed += _compact_tree(sub, workflow)
    return removed


def has_timers(spec: Any, subprocess_specs: dict[str, Any]) -> bool:
    """Whether any task of a process (or its subprocesses) waits on a timer."""
    for s in [spec, *subprocess_specs.values()]:
        for task_spec in s.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            definitions = getattr(definition, "event_definitions", None) or [definition]
            if any(isinstance(d, TimerEventDefinition) for d in definitions):
                return True
    return False
