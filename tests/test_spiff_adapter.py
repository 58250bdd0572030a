"""What Rutin relies on inside SpiffWorkflow, pinned against the installed version.

Everything Rutin does past SpiffWorkflow's public API goes through `engine.base.spiff`; these
tests check each patch is installed over a stock attribute that still exists with the shape the
patch expects, and that each private attribute or method still does what Rutin uses it for. An
upgrade of SpiffWorkflow that breaks one of them fails here first, by name, instead of somewhere
deep in a case.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from SpiffWorkflow.bpmn.specs.bpmn_task_spec import BpmnTaskSpec
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import (
    MultiInstanceTask,
    ParallelMultiInstanceTask,
    StandardLoopTask,
)
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.util.task import TaskState

# The modules that install the patches, imported here so the test stands on its own.
import engine.clocks.spiff_clock
import engine.execution.io_mappings
import engine.execution.multi_instance
import engine.records.incidents
from bpmn.document import read_document
from engine.base import spiff, state

FIXTURES = Path(__file__).parent / "fixtures"

# Every patch Rutin installs, and the parameters the stock attribute must still take for the
# patch (which calls it or stands in for it) to fit.
PATCHES: dict[tuple[Any, str], list[str] | None] = {
    (TaskSpec, "_update"): ["self", "my_task"],
    (TaskSpec, "_run"): ["self", "my_task"],
    (TaskSpec, "_on_complete"): ["self", "my_task"],
    (MultiInstanceTask, "_update_hook"): ["self", "my_task"],
    (MultiInstanceTask, "create_child"): ["self", "my_task"],
    (ParallelMultiInstanceTask, "create_children"): ["self", "my_task"],
    (MultiInstanceTask, "merge_child"): ["self", "workflow", "child"],
    (MultiInstanceTask, "init_data_output_with_cardinality"): ["self", "my_task"],
    (MultiInstanceTask, "check_completion_condition"): ["self", "my_task"],
    (StandardLoopTask, "merge_child"): ["self", "workflow", "child"],
    (BpmnTaskSpec, "_update_hook"): ["self", "my_task"],
    (BpmnTaskSpec, "_on_complete_hook"): ["self", "my_task"],
    (spiff_timer, "datetime"): None,
    (spiff_timer.TimerEventDefinition, "get_datetime"): ["expression"],
    (spiff_timer.TimerEventDefinition, "get_timedelta_from_start"): None,
    (spiff_timer.CycleTimerEventDefinition, "cycle_complete"): ["self", "my_task"],
}


def test_every_patch_is_installed_over_a_stock_attribute() -> None:
    installed = spiff.patches()
    assert set(installed) == set(PATCHES), "a patch was added or dropped: list it here"
    for (owner, name), stock in installed.items():
        current = inspect.getattr_static(owner, name)
        assert current is not stock, f"{owner.__name__}.{name} is not patched"
        assert spiff.stock(owner, name) is stock


@pytest.mark.parametrize(("owner", "name"), [k for k, v in PATCHES.items() if v is not None],
                         ids=lambda x: x if isinstance(x, str) else getattr(x, "__name__", str(x)))
def test_each_stock_attribute_keeps_the_shape_its_patch_expects(owner: Any, name: str) -> None:
    stock = spiff.stock(owner, name)
    function = stock.__func__ if isinstance(stock, staticmethod) else stock
    params = list(inspect.signature(function).parameters)
    if isinstance(stock, staticmethod) and params and params[0] == "self":
        params = params[1:]
    assert params[:len(PATCHES[owner, name] or [])] == PATCHES[owner, name]


def test_the_timer_module_reads_now_through_the_patched_datetime() -> None:
    stock = spiff.stock(spiff_timer, "datetime")
    assert spiff_timer.datetime is not stock and issubclass(spiff_timer.datetime, stock)
    assert "datetime.now" in inspect.getsource(spiff.stock(spiff_timer.CycleTimerEventDefinition, "cycle_complete"))


def test_a_task_specs_extensions_survive_storing_the_spec() -> None:
    # The mappings an element runs travel on its task spec's ``extensions``, which SpiffWorkflow's
    # spec converter writes when the spec has them and hands back to the restored spec.
    document = read_document((FIXTURES / "io_camunda7.bpmn").read_bytes())
    process = document.processes[0]
    spec, _ = state.restore_spec(state.spec_json(process.spec, process.subprocess_specs))
    steps = engine.execution.io_mappings.steps(spec.task_specs["Activity_granska"])
    assert [s["name"] for s in steps if s["kind"] == "input"][:2] == ["gransbelopp", "handlingstyp"]


def test_patching_a_name_spiffworkflow_lacks_fails_loudly() -> None:
    with pytest.raises(AttributeError, match=r"no TaskSpec\.no_such_method"):
        spiff.patch(TaskSpec, "no_such_method", lambda: None)


def _workflow() -> Any:
    document = read_document((FIXTURES / "seq3.bpmn").read_bytes())
    process = document.processes[0]
    spec, subprocess_specs = state.restore_spec(state.spec_json(process.spec, process.subprocess_specs))
    workflow = state.new_workflow(spec, subprocess_specs)
    workflow.do_engine_steps()
    return workflow


def _ready(workflow: Any) -> Any:
    return workflow.get_tasks(state=TaskState.READY, manual=True)[0]


def test_set_state_puts_a_task_in_a_state_without_running_it() -> None:
    workflow = _workflow()
    task = _ready(workflow)
    spiff.set_state(task, TaskState.ERROR)
    assert task.has_state(TaskState.ERROR)
    spiff.set_state(task, TaskState.READY)
    assert task.has_state(TaskState.READY) and all(c.has_state(TaskState.FUTURE | TaskState.LIKELY)
                                                   for c in task.children)


def test_internal_data_is_read_and_written_by_name() -> None:
    task = _ready(_workflow())
    assert spiff.get_internal_data(task, "event_value") is None
    spiff.set_internal_data(task, event_value={"cycles": 2}, event_fired=True)
    assert spiff.get_internal_data(task, "event_value") == {"cycles": 2}
    assert task.internal_data["event_fired"] is True


def test_completing_by_hand_moves_the_successor_on() -> None:
    workflow = _workflow()
    task = _ready(workflow)
    successor = task.children[0]
    assert not successor.has_state(TaskState.READY)
    spiff.set_state(task, TaskState.COMPLETED)
    spiff.complete(task)  # Rutin's patched _on_complete: the hook, the successors, the notice
    assert successor.has_state(TaskState.READY)


def test_update_lets_a_task_become_ready_once_its_predecessor_is_done() -> None:
    workflow = _workflow()
    task = _ready(workflow)
    successor = task.children[0]
    spiff.set_state(task, TaskState.COMPLETED)
    spiff.update(successor)
    assert successor.has_state(TaskState.READY)


def test_on_complete_hook_and_notify_completed_exist_as_used() -> None:
    workflow = _workflow()
    task = _ready(workflow)
    assert list(inspect.signature(task.task_spec._on_complete_hook).parameters) == ["my_task"]
    seen: list[Any] = []
    workflow.completed_event.connect(lambda wf, *a, **k: seen.append(wf))
    end = next(t for t in workflow.get_tasks() if not t.children)
    spiff.notify_completed(end)  # the end of a top-level workflow fires its completion
    assert seen == [workflow]


def test_parent_update_hook_calls_the_next_class_in_the_method_order() -> None:
    after = MultiInstanceTask.__mro__[1:]
    assert any("_update_hook" in vars(cls) for cls in after)


def test_the_task_tree_is_read_and_rearranged_by_id() -> None:
    workflow = _workflow()
    task = _ready(workflow)
    ids = spiff.child_ids(task)
    assert ids is spiff.child_ids(task), "the task's own list, so that changing it changes the tree"
    assert ids == [c.id for c in task.children] and all(isinstance(i, UUID) for i in ids)
    grandchild = task.children[0].children[0]
    spiff.set_parent_id(grandchild, task.id)
    assert grandchild.parent is task


def test_remove_task_drops_a_task_and_its_descendants() -> None:
    workflow = _workflow()
    task = _ready(workflow)
    child = task.children[0]
    gone = [child.id, *(c.id for c in child.children)]
    spiff.remove_task(workflow, child.id)
    assert child.id not in spiff.child_ids(task)
    assert not any(i in workflow.tasks for i in gone)


def test_the_serializer_encodes_with_its_own_encoder_in_encoder_mode() -> None:
    registry, serializer = state._registry, state._serializer
    assert isinstance(registry._encoder_mode, bool)
    assert issubclass(spiff.encoder_class(serializer), json.JSONEncoder)
    spiff.encoder_mode(registry, True)
    try:
        assert registry._encoder_mode is True
    finally:
        spiff.encoder_mode(registry, False)
    workflow = _workflow()
    spec = workflow.spec
    again = state.load(state.dump(workflow), spec, workflow.subprocess_specs)
    assert [t.task_spec.name for t in again.get_tasks(state=TaskState.READY)] == \
        [t.task_spec.name for t in workflow.get_tasks(state=TaskState.READY)]
