"""Periods and due dates in words, as the pages show them (bpmn.dates.period_in_words and
spec_in_words): never the diagram's own notation."""

from __future__ import annotations

import pytest

from bpmn import dates


@pytest.mark.parametrize(("text", "words"), [
    ("P14D", "14 dagar"), ("P1D", "1 dag"), ("2WD", "2 arbetsdagar"), ("1WD", "1 arbetsdag"), ("P0D", "samma dag"),
    ("0WD", "samma dag"), ("P10W", "10 veckor"), ("P1W", "1 vecka"), ("P1M", "1 månad"), ("P3M", "3 månader"),
    ("PT4H", "4 timmar"), ("PT1H", "1 timme"), ("PT30M", "30 minuter"), ("P1Y2M3D", "1 år, 2 månader och 3 dagar"),
    ("P1DT12H", "1 dag och 12 timmar"), ("'P6W'", "6 veckor"), ("10 arbetsdagar", "10 arbetsdagar"),
])
def test_a_period_in_words(text: str, words: str) -> None:
    assert dates.period_in_words(text) == words


@pytest.mark.parametrize("text", ["", "tio dagar", "P", "2026-04-01", "${svar}"])
def test_what_is_no_period_has_no_words(text: str) -> None:
    assert dates.period_in_words(text) is None


@pytest.mark.parametrize(("text", "words"), [
    ("P14D", "14 dagar"),
    ("2WD", "2 arbetsdagar"),
    ("P0D", "samma dag"),
    ('=inkom + duration("P10W")', "senast 10 veckor efter Inkom"),
    ('=inkom + duration("10WD")', "senast 10 arbetsdagar efter Inkom"),
    ("${svarsdatum}", "senast Svara senast"),
    ('${execution.getVariable("svarsdatum")}', "senast Svara senast"),
    ("=now() + duration(\"P3D\")", "3 dagar"),
    ("${dateTime().plusDays(3).plusHours(2).toDate()}", "3 dagar och 2 timmar"),
    ("${now()}", "genast"),
    ("2026-04-01", "senast 2026-04-01"),
    ("2026-04-01T12:00", "senast 2026-04-01 12:00"),
    ("${anything.goes()}", "enligt diagrammet"),
])
def test_a_due_date_in_words_names_variables_as_the_forms_do(text: str, words: str) -> None:
    labels = {"inkom": "Inkom", "svarsdatum": "Svara senast"}
    shown = dates.spec_in_words(text, lambda v: labels.get(v, v))
    assert shown == words
    assert "P1" not in shown and "WD" not in shown and "${" not in shown and "duration" not in shown
