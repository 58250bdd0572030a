"""Deadline arithmetic per Lag (1930:173), on Swedish working days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.clocks import deadlines


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 6, 19), False),   # midsommarafton
    (date(2026, 12, 24), False),  # julafton
    (date(2026, 12, 31), False),  # nyårsafton
    (date(2026, 4, 3), False),    # långfredagen
    (date(2026, 6, 6), False),    # nationaldagen (a Saturday anyway)
    (date(2026, 3, 7), False),    # a Saturday
    (date(2026, 3, 9), True),     # a Monday
    (date(2026, 6, 18), True),    # the day before midsommarafton
])
def test_working_days(day: date, working: bool) -> None:
    assert deadlines.is_working_day(day) is working


def test_a_month_is_a_calendar_month() -> None:
    assert deadlines.add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert deadlines.add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert deadlines.add_months(date(2026, 3, 31), 1) == date(2026, 4, 30)
    assert deadlines.add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)


def test_a_deadline_on_a_non_working_day_moves_to_the_next_working_day() -> None:
    # one month from 24 May 2026 is Wednesday 24 June: a working day, kept
    start = datetime(2026, 5, 24, 10, 0, tzinfo=UTC)
    assert deadlines.resolve("P1M", start) == deadlines.end_of_day(date(2026, 6, 24))
    # ten days from 9 June 2026 is Friday 19 June, midsommarafton: moves to Monday 22 June
    assert deadlines.resolve("P10D", datetime(2026, 6, 9, 9, 0, tzinfo=UTC)) == deadlines.end_of_day(date(2026, 6, 22))
    # one week from Christmas Eve's week: 31 December (nyårsafton) moves past New Year's Day to 2 January
    assert deadlines.resolve("P1W", datetime(2026, 12, 24, 9, 0, tzinfo=UTC)) == deadlines.end_of_day(date(2027, 1, 4))


def test_working_days_skip_weekends_and_holidays() -> None:
    thursday_before_easter = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)
    assert deadlines.resolve("2WD", thursday_before_easter) == deadlines.end_of_day(date(2026, 4, 8))
    assert deadlines.resolve("P5WD", datetime(2026, 3, 2, 9, 0, tzinfo=UTC)) == deadlines.end_of_day(date(2026, 3, 9))


def test_hours_are_exact_and_end_of_day_is_swedish() -> None:
    start = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)
    assert deadlines.resolve("PT72H", start) == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)
    assert deadlines.end_of_day(date(2026, 7, 1)) == datetime(2026, 7, 1, 21, 59, 59, tzinfo=UTC)  # CEST
    assert deadlines.end_of_day(date(2026, 1, 1)) == datetime(2026, 1, 1, 22, 59, 59, tzinfo=UTC)  # CET


def test_instants_variables_and_nonsense() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert deadlines.resolve("2026-04-01T12:00:00Z", start) == datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    assert deadlines.resolve("${svar_senast}", start, {"svar_senast": "2026-03-20"}) == \
        deadlines.end_of_day(date(2026, 3, 20))
    assert deadlines.resolve("${saknas}", start, {}) is None
    assert deadlines.resolve("snart", start) is None
    assert deadlines.parse_period("10 arbetsdagar") == deadlines.Period(working_days=10)


def test_a_period_with_months_and_hours_keeps_its_months() -> None:
    start = datetime(2026, 1, 31, 8, 0, tzinfo=UTC)  # 09:00 in Stockholm
    due = deadlines.due_after(start, deadlines.parse_period("P1MT1H"))
    # the last day of February, 10:00 Swedish time: calendar month first, then the exact hour
    assert due == datetime(2026, 2, 28, 9, 0, tzinfo=UTC)
    # the period's own end is kept apart from the moved deadline: 19 June 2026 is midsommarafton
    ten_weeks = deadlines.parse_period("P10W")
    received = datetime(2026, 4, 10, 8, 0, tzinfo=UTC)
    assert deadlines.period_end(received, ten_weeks) == deadlines.end_of_day(date(2026, 6, 19))
    assert deadlines.due_after(received, ten_weeks) == deadlines.end_of_day(date(2026, 6, 22))
