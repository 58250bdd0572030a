"""Running SpiffWorkflow's recursive code on large diagrams.

SpiffWorkflow walks a process's flow recursively: its parser when it reads a diagram (two frames
per node) and its prediction when it creates a workflow (every task known to come next, down the
whole chain). Python's default limit of 1,000 frames ends that at about 500 tasks in a row. Such
work runs here in a thread of its own, with a large stack and a higher recursion limit.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

_STACK_BYTES = 512 * 1024 * 1024  # address space reserved for the thread, not memory used
_lock = threading.Lock()
_T = TypeVar("_T")


def with_deep_stack(limit: int, fn: Callable[[], _T]) -> _T:
    """Run `fn` in a thread with a large stack and a recursion limit of at least `limit`.

    The recursion limit is the interpreter's, not the thread's: it is raised only while such a
    call runs (one at a time) and put back afterwards. `fn` sees the caller's context variables
    (the injected clock among them); its exception is raised in the caller's thread.
    """
    outcome: dict[str, Any] = {}
    context = contextvars.copy_context()

    def run() -> None:
        try:
            outcome["value"] = context.run(fn)
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    with _lock:
        previous_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(previous_limit, limit))
        try:
            previous_stack = threading.stack_size(_STACK_BYTES)
            try:
                thread = threading.Thread(target=run, name="rutin-deep-stack", daemon=True)
                thread.start()
            finally:
                threading.stack_size(previous_stack)
            thread.join()
        finally:
            sys.setrecursionlimit(previous_limit)
    if "error" in outcome:
        raise outcome["error"]
    return cast(_T, outcome["value"])
