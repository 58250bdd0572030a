"""Deadline arithmetic: calendar time and Swedish working days, per Lag (1930:173).

- Working days exclude weekends, public holidays and the de facto holidays midsommarafton,
  julafton and nyårsafton (the maintained ``holidays`` package knows them as ``de_facto``).
- A period in days, weeks or months ends on a date; if that date is not a working day the
  deadline moves to the next working day (the "söndagsregeln" of Lag 1930:173).
- A month is a calendar month: 31 January + 1 month = the last day of February.
- Day-based deadlines end at the end of that day in Swedish time; hour-based ones are exact.
"""

from __future__ import annotations

import calendar
import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import holidays

from bpmn import dates

from ..base.clock import STOCKHOLM

_WORKING = dates.PERIOD_WORKING
_ISO = dates.PERIOD_ISO


@functools.lru_cache(maxsize=64)
def _holidays(year: int) -> dict[date, str]:
    se = holidays.Sweden(years=year, include_sundays=False, language="sv", categories=("public", "de_facto"))
    return dict(se.items())


def holiday_name(day: date) -> str | None:
    """The Swedish name of a public or de facto holiday on `day`, or None."""
    return _holidays(day.year).get(day)


def is_working_day(day: date) -> bool:
    """Whether `day` is a Swedish working day."""
    return day.weekday() < 5 and day not in _holidays(day.year)


def next_working_day(day: date) -> date:
    """`day` itself if it is a working day, else the next one."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def add_working_days(day: date, n: int) -> date:
    """The working day `n` working days after `day` (n >= 0; 0 gives the next working day)."""
    if n <= 0:
        return next_working_day(day)
    while n > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


def add_months(day: date, months: int) -> date:
    """Calendar-month arithmetic: the same date, or the last day of a shorter month."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Period:
    """A parsed duration: calendar parts, or a number of working days."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: float = 0
    working_days: int | None = None

    @property
    def day_based(self) -> bool:
        """Whether the period ends on a date (no hour/minute/second part)."""
        return self.working_days is not None or not (self.hours or self.minutes or self.seconds)


def parse_period(text: str) -> Period | None:
    """Parse ``P10D``, ``PT4H``, ``P1M``, ``P2W`` or ``10WD``; None if it is not a period."""
    text = text.strip().strip("'\"")
    if dates.period_too_long(text):
        return None  # the upload's diagnostics and the policy's check say so; nothing to count
    m = _WORKING.match(text)
    if m:
        return Period(working_days=int(m.group(1)))
    m = _ISO.match(text.upper())
    if not m:
        return None
    y, mo, w, d, h, mi, s = m.groups()
    return Period(int(y or 0), int(mo or 0), int(w or 0), int(d or 0), int(h or 0), int(mi or 0), float(s or 0))


def end_of_day(day: date) -> datetime:
    """The last instant of `day` in Swedish time, as UTC."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=STOCKHOLM).astimezone(UTC)


def period_end(start: datetime, period: Period) -> datetime:
    """The instant a period that starts at `start` runs out, before a non-working day moves it.

    Lag (1930:173) lets what is due on a non-working day be done on the next working day; the
    period itself still ends on its own day, so anything counted on from it (a pause, an
    extension) counts from there (`due_after` gives the moved deadline).
    """
    local = start.astimezone(STOCKHOLM)
    if period.working_days is not None:
        return end_of_day(add_working_days(local.date(), period.working_days))
    if period.day_based:
        day = add_months(local.date(), period.years * 12 + period.months)
        day += timedelta(weeks=period.weeks, days=period.days)
        return end_of_day(day)
    if period.years or period.months:
        # Calendar months on the Swedish date, keeping the time of day, then the exact rest.
        moved = add_months(local.date(), period.years * 12 + period.months)
        local = datetime.combine(moved, local.timetz().replace(tzinfo=None), tzinfo=STOCKHOLM)
        start = local.astimezone(UTC)
    return start + timedelta(
        days=period.days + 7 * period.weeks, hours=period.hours, minutes=period.minutes, seconds=period.seconds
    )


def on_working_day(end: datetime) -> datetime:
    """A day-based deadline ending at `end`, moved to the end of the next working day if its day
    is not one (Lag 1930:173)."""
    day = end.astimezone(STOCKHOLM).date()
    return end if is_working_day(day) else end_of_day(next_working_day(day))


def due_after(start: datetime, period: Period) -> datetime:
    """The instant a period that starts at `start` runs out (a day-based one moved off a
    non-working day, per Lag 1930:173)."""
    end = period_end(start, period)
    return on_working_day(end) if period.day_based else end


def resolve(spec: str | None, start: datetime, data: dict[str, Any] | None = None) -> datetime | None:
    """A due instant from a diagram's value (see `bpmn.dates`): a period from `start`, an
    instant, a case variable (holding either), optionally plus a period; None when the value
    cannot be read (the upload's diagnostics said so) or its variable is not set."""
    if not spec:
        return None
    try:
        parsed = dates.parse(spec)
    except dates.DateSyntaxError:
        return None
    if parsed.kind == "period":
        period = parse_period(parsed.value)
        return due_after(start, period) if period is not None else None
    if parsed.kind == "now":
        base: datetime | None = start
    elif parsed.kind == "variable":
        base = _value_instant((data or {}).get(parsed.value), start)
    else:
        base = _instant(parsed.value)
    if base is None or not parsed.plus:
        return base
    period = parse_period(parsed.plus)
    return due_after(base, period) if period is not None else None


def _value_instant(value: Any, start: datetime) -> datetime | None:
    """The instant a case variable holds: a date or datetime, or text a diagram could have written."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=STOCKHOLM).astimezone(UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return end_of_day(value)
    text = str(value).strip()
    period = parse_period(text)
    if period is not None:
        return due_after(start, period)
    return _instant(text)


def _instant(text: str) -> datetime | None:
    """An ISO instant (Swedish time when it names no zone), or the end of a day written alone."""
    text = text.strip().strip("'\"")
    try:
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if instant.tzinfo is None:
        if len(text) <= 10:
            return end_of_day(instant.date())
        instant = instant.replace(tzinfo=STOCKHOLM)
    return instant.astimezone(UTC)
