"""The upload's limits, held again when a case computes what the diagram left to its data.

A multi-instance step whose number of instances (or collection) comes from the case's data, and
a timer cycle an expression computes, cannot be checked at upload. The engine checks them with
the same functions (`bpmn.limits`) just before SpiffWorkflow acts on them (`engine.execution.multi_instance`,
`engine.clocks.spiff_clock`); a value beyond a limit stops the step as an incident, before a single
instance or firing is made. The limits are those of the unit of work running on this thread
(a context variable, as the clock in `engine.clocks.spiff_clock`), from `RUTIN_MAX_MULTI_INSTANCE` and
`RUTIN_MIN_TIMER_CYCLE_S`.
"""

from __future__ import annotations

import contextvars
from typing import Any

from bpmn import limits

from .incidents import StepError

_DEFAULT = limits.Limits()
_current: contextvars.ContextVar[limits.Limits | None] = contextvars.ContextVar("rutin_limits", default=None)
# Instances the unit of work running on this thread has made: a step inside a multi-instance
# subprocess makes its instances in every instance of the subprocess.
_made: contextvars.ContextVar[int] = contextvars.ContextVar("rutin_instances_made", default=0)


def use(settings: Any) -> None:
    """Hold what runs on this thread from now on (one unit of work) to the limits of `settings`."""
    _current.set(limits.Limits(max_multi_instance=settings.max_multi_instance,
                               min_timer_cycle_s=settings.min_timer_cycle_s))
    _made.set(0)


def current() -> limits.Limits:
    """The limits of the unit of work running on this thread."""
    return _current.get() or _DEFAULT


def make_instances(count: int) -> None:
    """Count `count` instances about to be made; `StepError` when the unit of work would make more
    than the limit in all (nested multi-instance steps multiply)."""
    cap = current().max_multi_instance
    total = _made.get() + count
    if total > cap:
        raise StepError(f"Steget skulle göra {count} instanser till, {total} i samma åtgärd, men högst {cap} "
                        "tillåts på en gång (troligen en flerinstans inuti en annan flerinstans). Försök igen: då "
                        "görs de instanser som återstår.")
    _made.set(total)


def check_cycle(value: Any) -> None:
    """Raise `StepError` when a computed timer cycle repeats more often than the limit allows."""
    problem = limits.cycle_problem(str(value), current().min_timer_cycle_s)
    if problem is not None:
        raise StepError(f"Timern kan inte startas: {problem[1]} Rätta värdet i ärendets data och försök igen.")
