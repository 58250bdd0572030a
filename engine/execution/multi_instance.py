"""Multi-instance steps and loops as SpiffWorkflow runs them, made safe for the data a case brings.

- Before a multi-instance step makes its instances, their number (the cardinality, or the
  collection's length) is held to the limit (`engine.records.run_limits`), and a collection that is
  missing or not a list, or an output collection that cannot take the instances' results, stops
  the step with a Swedish reason. SpiffWorkflow would make one instance per element of anything
  iterable (the characters of a text), thousands of them if asked, or fail with a TypeError.
- An instance's element variable belongs to the instance, as in BPMN: a value of that name left
  in the step's data (by an earlier pass, or an earlier step over the same name) no longer stops
  the step with "input item already exists".
- No unit of work makes more instances than the limit in all: a step inside a multi-instance
  subprocess makes its instances in each of the subprocess's. The subprocess makes all its
  instances even when some fail to start theirs, so a retry makes what is left.
- An instance is merged into its step once: a retry after an incident in the completion
  condition (or a loop's condition) does not merge it twice. An instance that leaves no output
  item says so in Swedish.
- SpiffWorkflow 3.2's check of an output collection beside a cardinality reads an undefined name
  (``data_ouput``); it is replaced by the check it means.
- The instances' results are gathered in the order of the instances (of the input collection),
  as Camunda 8 defines its output collection, not in the order they complete; a Camunda 8
  ``outputCollection``/``outputElement`` pair of plain names is gathered so (`bpmn.repairs`).
- A completion condition can count the instances as Camunda 7 and Flowable
  (``${nrOfCompletedInstances/nrOfInstances >= 0.6}``, also ``nrOfActiveInstances``) and Camunda 8
  (``numberOfCompletedInstances``, ``numberOfInstances``, ``numberOfActiveInstances``) write it;
  without them such a condition failed at every completion of an instance.

Why patches of the library's classes: SpiffWorkflow builds these task specs from the diagram and
restores them by class name, so subclasses would need a parser and a serializer of our own for
the same few lines; each replaced method says what it adds and calls the original.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import (
    MultiInstanceTask,
    ParallelMultiInstanceTask,
    SequentialMultiInstanceTask,
    StandardLoopTask,
)
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from bpmn import limits

from ..base import spiff
from ..records import run_limits
from ..records.incidents import StepError, is_infrastructure


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def check_instances(spec: MultiInstanceTask, my_task: Any) -> None:
    """Raise `StepError` unless the step may make its instances from the data it has now (and the
    unit of work may make that many more)."""
    cap = run_limits.current().max_multi_instance
    source: Any = spec.data_input.get(my_task) if spec.data_input is not None else None
    if spec.data_input is not None:
        name = spec.data_input.bpmn_id
        if not spec.data_input.exists(my_task):
            raise StepError(f"Samlingen '{name}' som flerinstanssteget ska gå igenom saknas i ärendets data. Ange den "
                            "(en lista) och försök igen.")
        problem = limits.collection_problem(source, cap)
        if problem is not None:
            raise StepError(f"Samlingen '{name}' kan inte användas: {problem}. Rätta den i ärendets data och försök "
                            "igen.")
        count = len(source)
    else:
        value = my_task.workflow.script_engine.evaluate(my_task, spec.cardinality)
        problem = limits.cardinality_problem(value, cap)
        if problem is not None:
            raise StepError(f"Antalet instanser ({spec.cardinality}) kan inte användas: {problem}. Rätta värdet i "
                            "ärendets data och försök igen.")
        count = value
    if spec.data_output is not None and spec.data_output.exists(my_task):
        name = spec.data_output.bpmn_id
        output = spec.data_output.get(my_task)
        if not isinstance(output, (list, dict)):
            raise StepError(f"Utsamlingen '{name}' ska vara en lista eller en post, men är {_shown(output)}. Ta bort "
                            "eller rätta värdet och försök igen.")
        in_place = spec.data_input is not None and spec.data_input.bpmn_id == name
        if isinstance(output, list) and output and not in_place:
            raise StepError(f"Utsamlingen '{name}' ska vara tom när flerinstanssteget börjar, men har {len(output)} "
                            "element. Töm den (en tom lista) och försök igen.")
    run_limits.make_instances(count)


def _update_hook(self: MultiInstanceTask, my_task: Any) -> Any:
    # Between the step's own hook and the one it calls first (which takes over the data of the
    # task before it): the check sees the data the instances will be made from.
    result = spiff.parent_update_hook(MultiInstanceTask, self, my_task)
    check_instances(self, my_task)
    return result


_stock_create_child = MultiInstanceTask.create_child
_stock_merge_child = MultiInstanceTask.merge_child


def _create_children(self: ParallelMultiInstanceTask, my_task: Any) -> None:
    """SpiffWorkflow's `ParallelMultiInstanceTask.create_children`, making every instance even when
    one fails as it starts (a step inside it that fails is noted on that step, `engine.records.incidents`):
    a retry then takes up the failed ones, and none is left unmade."""
    if self.data_input is not None:
        source = self.data_input.get(my_task)
        children = list(source.items() if isinstance(source, Mapping) else enumerate(source))
    else:
        children = [(i, i) for i in range(my_task.workflow.script_engine.evaluate(my_task, self.cardinality))]
    if self.data_output is not None:
        if self.data_input is not None:
            self.init_data_output_with_input_data(my_task, self.data_input.get(my_task))
        else:
            self.init_data_output_with_cardinality(my_task)
    failure: Exception | None = None
    for key_or_index, item in children:
        try:
            self.create_child(my_task, item, key_or_index)
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            failure = failure or exc
    if failure is not None:
        spiff.set_state(my_task, TaskState.STARTED)  # what the step's own update does once its instances exist
        raise failure


def _create_child(self: MultiInstanceTask, my_task: Any, item: Any, key_or_index: Any = None) -> None:
    collections = {getattr(ref, "bpmn_id", None) for ref in (self.data_input, self.data_output)}
    for variable in (self.input_item, self.output_item):
        if variable is not None and variable.bpmn_id in my_task.data and variable.bpmn_id not in collections:
            del my_task.data[variable.bpmn_id]  # the instance's own, not the step's
    _stock_create_child(self, my_task, item, key_or_index)


def _merge_child(self: MultiInstanceTask, workflow: Any, child: Any) -> None:
    my_task = child.parent
    if str(child.id) in my_task.internal_data.get("merged", []):
        return  # merged before an incident stopped the rest of the instance's completion
    if self.data_output is not None and self.output_item is not None and not self.output_item.exists(child):
        raise StepError(f"Instansen lämnade inget värde i '{self.output_item.bpmn_id}', som flerinstanssteget samlar "
                        f"i '{self.data_output.bpmn_id}'. Ange värdet och försök igen.")
    _stock_merge_child(self, workflow, child)
    _keep_input_order(self, my_task, child)


def _keep_input_order(self: MultiInstanceTask, my_task: Any, child: Any) -> None:
    """Keep a gathered list in the order of the instances (of the input collection), as Camunda 8
    defines its output collection; SpiffWorkflow appends in the order the instances complete."""
    index = child.internal_data.get("key_or_index")
    if self.data_output is None or self.output_item is None or not isinstance(index, int):
        return
    output = self.data_output.get(my_task)
    order = my_task.internal_data.setdefault("output_order", [])
    if not isinstance(output, list) or len(output) != len(order) + 1:
        return  # gathered in place (into the input collection itself), or not by appending
    pairs = sorted(zip([*order, index], output, strict=True), key=lambda pair: pair[0])
    my_task.internal_data["output_order"] = [i for i, _ in pairs]
    self.data_output.set(my_task, [item for _, item in pairs])


def _init_data_output_with_cardinality(self: MultiInstanceTask, my_task: Any) -> None:
    if not self.data_output.exists(my_task):
        self.data_output.set(my_task, [])
    # Anything else was refused by `check_instances`.


def _check_completion_condition(self: MultiInstanceTask, my_task: Any) -> Any:
    """SpiffWorkflow's check, with the instance counters the modelers' engines offer the condition."""
    merged = my_task.internal_data.get("merged", [])
    if not merged or self.condition is None:
        return None
    last = next(c for c in my_task.children if str(c.id) == merged[-1])
    if self.data_input is not None:
        source = self.data_input.get(my_task)
        total = len(source) if isinstance(source, (list, tuple, dict)) else 0
    else:
        total = my_task.internal_data.get("cardinality")
        if total is None:
            total = my_task.workflow.script_engine.evaluate(my_task, self.cardinality)
    done = len(merged)
    active = 1 if isinstance(self, SequentialMultiInstanceTask) and done < total else max(total - done, 0)
    counters = {"nrOfInstances": total, "nrOfCompletedInstances": done, "nrOfActiveInstances": active,
                "numberOfInstances": total, "numberOfCompletedInstances": done, "numberOfActiveInstances": active}
    return my_task.workflow.script_engine.evaluate(last, self.condition, external_context=counters)


def _loop_merge_child(self: StandardLoopTask, workflow: Any, child: Any) -> None:
    """SpiffWorkflow's `StandardLoopTask.merge_child`, merging each iteration once."""
    my_task = child.parent
    merged = my_task.internal_data.setdefault("merged", [])
    if str(child.id) not in merged:
        DeepMerge.merge(my_task.data, child.data)
        merged.append(str(child.id))
    if self.loop_complete(my_task):
        spiff.set_state(my_task, TaskState.READY)
    else:
        self.create_child(my_task)


spiff.patch(MultiInstanceTask, "_update_hook", _update_hook)
spiff.patch(MultiInstanceTask, "create_child", _create_child)
spiff.patch(ParallelMultiInstanceTask, "create_children", _create_children)
spiff.patch(MultiInstanceTask, "merge_child", _merge_child)
spiff.patch(MultiInstanceTask, "init_data_output_with_cardinality", _init_data_output_with_cardinality)
spiff.patch(MultiInstanceTask, "check_completion_condition", _check_completion_condition)
spiff.patch(StandardLoopTask, "merge_child", _loop_merge_child)

