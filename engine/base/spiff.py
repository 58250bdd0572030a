"""The one place Rutin reaches inside SpiffWorkflow: its patches and its private attributes.

SpiffWorkflow's public API does not cover everything Rutin does with a running workflow (mark a
failed step, release a waiting timer, prune the finished tree, merge instances). Whatever goes
past the public API goes through the functions here, never through ``task._something`` in the
callers, so that `tests/test_spiff_adapter.py` pins each of them against the installed version:
an upgrade that renames or changes one fails there first, by name.

Two kinds of reach:

- **patches** (`patch`): Rutin's replacement of a SpiffWorkflow attribute (a method of a spec
  class, a module's ``datetime``). Each is recorded with the stock value it replaced (`stock`,
  `patches`), so a test can see that it is installed and that the stock one still exists.
- **private accessors**: one small function per private attribute or method used, each saying
  what Rutin uses it for.
"""

from __future__ import annotations

from typing import Any

_MISSING = object()
_patches: dict[tuple[Any, str], Any] = {}


def patch(owner: Any, name: str, value: Any) -> Any:
    """Replace `owner.name` (a SpiffWorkflow class or module) by `value`; the stock value it had.

    The stock value must exist: a name SpiffWorkflow no longer has is an upgrade to look at, not
    a new attribute to add silently. Patching twice keeps the first stock value."""
    current = getattr(owner, name, _MISSING)
    if current is _MISSING:
        raise AttributeError(f"SpiffWorkflow has no {getattr(owner, '__name__', owner)}.{name} to patch")
    stock_value = _patches.setdefault((owner, name), current)
    setattr(owner, name, value)
    return stock_value


def stock(owner: Any, name: str) -> Any:
    """SpiffWorkflow's own `owner.name`, as it was before Rutin patched it (or as it is)."""
    return _patches.get((owner, name), getattr(owner, name))


def patches() -> dict[tuple[Any, str], Any]:
    """Every patch installed so far: (owner, name) -> the stock value it replaced."""
    return dict(_patches)


# -- a task's state and its internal data ----------------------------------------------------------


def set_state(task: Any, state: Any) -> None:
    """Put a task in `state` without running anything (``Task._set_state``): marking a failed
    step ERROR, taking a failed step up again as READY or COMPLETED, a multi-instance step STARTED."""
    task._set_state(state)


def get_internal_data(task: Any, name: str) -> Any:
    """One value of a task's internal data, or None (``Task._get_internal_data``): a cycle timer's state."""
    return task._get_internal_data(name)


def set_internal_data(task: Any, **values: Any) -> None:
    """Set values in a task's internal data (``Task._set_internal_data``): a cycle timer's state,
    a timer start event released (``event_fired``)."""
    task._set_internal_data(**values)


# -- a task's spec, driven by hand ---------------------------------------------------------------------


def update(task: Any) -> None:
    """Let a task's spec look again whether the task can become ready (``TaskSpec._update``)."""
    task.task_spec._update(task)


def complete(task: Any) -> None:
    """Finish what completing a task does after its own run (``TaskSpec._on_complete``): its
    hook, its successors updated, the workflow told."""
    task.task_spec._on_complete(task)


def on_complete_hook(spec: Any, task: Any) -> None:
    """The spec's own part of completing a task (``TaskSpec._on_complete_hook``)."""
    spec._on_complete_hook(task)


def parent_update_hook(cls: Any, spec: Any, task: Any) -> Any:
    """The update hook of the class after `cls` in the spec's method order
    (``super(cls, spec)._update_hook``): a patched hook calling the one it wraps."""
    return super(cls, spec)._update_hook(task)


def notify_completed(task: Any) -> None:
    """Tell a task's workflow that the task completed (``Workflow._task_completed_notify``):
    what ends a finished (sub)workflow and fires its completion."""
    task.workflow._task_completed_notify(task)


# -- the task tree -----------------------------------------------------------------------------------


def remove_task(workflow: Any, task_id: Any) -> None:
    """Remove a task and its descendants from a workflow (``Workflow._remove_task``)."""
    workflow._remove_task(task_id)


def child_ids(task: Any) -> list[Any]:
    """The ids of a task's children, as the task's own list (``Task._children``): changing the list
    changes the tree, which is what compacting a finished tree does."""
    return task._children


def set_parent_id(task: Any, parent_id: Any) -> None:
    """Hang a task under another parent by id (``Task._parent``), when compacting the tree."""
    task._parent = parent_id


# -- serializing ---------------------------------------------------------------------------------------


def encoder_mode(registry: Any, on: bool) -> None:
    """Switch a serializer registry to encoding (``DefaultRegistry._encoder_mode``): Rutin converts
    the workflow to a dict itself and encodes it with the serializer's own JSON encoder."""
    registry._encoder_mode = on


def encoder_class(serializer: Any) -> Any:
    """The JSON encoder class of a serializer (``BpmnWorkflowSerializer._encoder_cls``)."""
    return serializer._encoder_cls
