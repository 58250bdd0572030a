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

And it turns a ``timeDuration``'s years, months and days into a fixed number of 24-hour days
(``P1M`` from 31 January is 3 March; ``P1D`` over the change to summer time is 25 hours). Its
``get_timedelta_from_start`` is replaced so that, as for Rutin's deadlines, years, months, weeks
and days are calendar periods on the Swedish wall clock (``P1M`` from 31 January is the last day of
February at the same time of day), and hours, minutes and seconds exact elapsed time.

And a ``timeCycle`` on a boundary or intermediate event (``R/P1D``: a reminder every day) moved on
by a fixed number of seconds from one occurrence to the next, so a daily 08:00 reminder came at
09:00 after the change to winter time. Its ``cycle_complete`` is replaced so that occurrence n
is n periods after the first on the calendar, as for scheduled starts (``engine.clocks.timers.cycle_at``):
08:00 stays 08:00. A cycle stored by the stock code (a case that waited over an upgrade) runs on
as it began.

Imports inside functions: `timers` imports this module for SpiffWorkflow's clock, so the cycle
helpers are reached at call time.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _timer

from ..base import spiff
from ..base.clock import Clock, SystemClock
from ..records.run_limits import check_cycle
from .deadlines import add_months

_current: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("rutin_clock", default=None)
_SYSTEM = SystemClock()


def use(clock: Clock) -> None:
    """Let SpiffWorkflow's timer arithmetic on this thread (one unit of work) follow `clock`."""
    _current.set(clock)


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        instant = (_current.get() or _SYSTEM).now()
        return instant.astimezone(tz) if tz is not None else instant.astimezone(UTC).replace(tzinfo=None)


spiff.patch(_timer, "datetime", _ClockDatetime)

_STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _get_datetime(expression: str) -> datetime:
    """SpiffWorkflow's ISO reading, with a time without a zone taken as Swedish time."""
    # Of the module's own class: SpiffWorkflow tells instants from durations with isinstance.
    dt = _ClockDatetime.fromisoformat(expression)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=_STOCKHOLM)
    return dt.astimezone(UTC)


spiff.patch(_timer.TimerEventDefinition, "get_datetime", staticmethod(_get_datetime))


def _calendar_timedelta(parsed_duration: dict[str, Any], start: datetime | None = None) -> timedelta:
    """How long a parsed ISO duration runs from `start` (now when not given): years, months, weeks
    and days on the Swedish calendar, the time parts exact."""
    start = start if start is not None else _ClockDatetime.now(UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=_STOCKHOLM)
    parts = dict(parsed_duration)  # SpiffWorkflow's own version pops from it; callers may reuse it
    months = 12 * parts.get("years", 0) + parts.get("months", 0)
    days = 7 * parts.get("weeks", 0) + parts.get("days", 0)
    whole_months, whole_days = int(months), int(days)
    local = start.astimezone(_STOCKHOLM)
    day = add_months(local.date(), whole_months)
    if months != whole_months:
        # A fraction (only the last designator may have one): of the month it runs into.
        days_in = (add_months(day.replace(day=1), 1) - day.replace(day=1)).days
        days += (months - whole_months) * days_in
        whole_days = int(days)
    day += timedelta(days=whole_days)
    # The same wall time on the new day; a time the clock skips (02:30 on the day summer time
    # begins) comes out an hour later, as zoneinfo resolves it.
    end = datetime.combine(day, local.time(), tzinfo=_STOCKHOLM).astimezone(UTC)
    end += timedelta(days=days - whole_days, hours=parts.get("hours", 0), minutes=parts.get("minutes", 0),
                     seconds=parts.get("seconds", 0))
    return end - start.astimezone(UTC)


spiff.patch(_timer.TimerEventDefinition, "get_timedelta_from_start", staticmethod(_calendar_timedelta))

_stock_cycle_complete = spiff.stock(_timer.CycleTimerEventDefinition, "cycle_complete")


def _calendar_cycle_complete(self: Any, my_task: Any) -> bool:
    """Whether the next occurrence of a cycle has come (SpiffWorkflow's contract), occurrences
    counted on the calendar from the first: ``{"anchor", "period", "fired"}`` beside the stock
    ``cycles`` and ``next`` that SpiffWorkflow and `engine.clocks.timers.due_bpmn_timers` read."""
    from .timers import cycle_at, parse_cycle

    event_value = spiff.get_internal_data(my_task, "event_value")
    if event_value is None:
        expression = my_task.workflow.script_engine.evaluate(my_task, self.expression)
        check_cycle(expression)  # a cycle the case's data computes: held to the limit
        try:
            schedule = parse_cycle(str(expression), _ClockDatetime.now(UTC))
        except ValueError:
            return bool(_stock_cycle_complete(self, my_task))  # which names what is wrong with it
        event_value = {"cycles": schedule["cycles"], "next": schedule["anchor"], "anchor": schedule["anchor"],
                       "period": schedule["period"], "fired": 0}
    elif "period" not in event_value:
        return bool(_stock_cycle_complete(self, my_task))
    ready = False
    if event_value["cycles"] != 0:
        if datetime.fromisoformat(event_value["next"]) < _ClockDatetime.now(UTC):
            event_value["fired"] += 1
            event_value["next"] = cycle_at(event_value, event_value["fired"]).isoformat()
            event_value["cycles"] -= 1
            ready = True
    else:
        my_task.internal_data.pop("event_value", None)
        my_task.internal_data["event_fired"] = True
    spiff.set_internal_data(my_task, event_value=event_value)
    return ready


spiff.patch(_timer.CycleTimerEventDefinition, "cycle_complete", _calendar_cycle_complete)


@contextmanager
def using(clock: Clock) -> Iterator[None]:
    """Run SpiffWorkflow's timer arithmetic on `clock` for the duration of the block."""
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)
