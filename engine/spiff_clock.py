"""SpiffWorkflow's timer module reads the wall clock itself; this makes it read ours.

SpiffWorkflow computes when a timer is due, and whether it has fired, with
``datetime.now(timezone.utc)`` inside ``SpiffWorkflow.bpmn.specs.event_definitions.timer``, and
offers no clock parameter. We replace that module's ``datetime`` with a subclass whose ``now`` asks
the clock of the unit of work running on this thread (a context variable), so timers follow the
injected clock: in tests, time is moved, never slept.

It also reads a time written without a zone (``2026-03-05T10:00``) in the zone fixed when the
module was imported (the host's, UTC on a server), while Rutin's deadlines read it as Swedish
time. Its ``get_datetime`` is replaced so that a zone-less time in a timer means Europe/Stockholm
everywhere: ``timeDate``, the start of a ``timeCycle``, and what an expression evaluates to.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

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

_STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _get_datetime(expression: str) -> datetime:
    """SpiffWorkflow's ISO reading, with a time without a zone taken as Swedish time."""
    # Of the module's own class: SpiffWorkflow tells instants from durations with isinstance.
    dt = _ClockDatetime.fromisoformat(expression)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_STOCKHOLM)
    return dt.astimezone(UTC)


_timer.TimerEventDefinition.get_datetime = staticmethod(_get_datetime)


@contextmanager
def using(clock: Clock) -> Iterator[None]:
    """Run SpiffWorkflow's timer arithmetic on `clock` for the duration of the block."""
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)
