"""SpiffWorkflow's timer module reads the wall clock itself; this makes it read ours.

SpiffWorkflow computes when a timer is due, and whether it has fired, with
``datetime.now(timezone.utc)`` inside ``SpiffWorkflow.bpmn.specs.event_definitions.timer``, and
offers no clock parameter. We replace that module's ``datetime`` with a subclass whose ``now`` asks
the clock of the unit of work running on this thread (a context variable), so timers follow the
injected clock: in tests, time is moved, never slept.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer

from .clock import Clock, SystemClock

_current: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("rutin_clock", default=None)
_SYSTEM = SystemClock()


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        instant = (_current.get() or _SYSTEM).now()
        return instant.astimezone(tz) if tz is not None else instant.astimezone(UTC).replace(tzinfo=None)


_timer.datetime = _ClockDatetime


@contextmanager
def using(clock: Clock) -> Iterator[None]:
    """Run SpiffWorkflow's timer arithmetic on `clock` for the duration of the block."""
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)
