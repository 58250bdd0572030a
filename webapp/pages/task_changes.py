"""What the task page's "Ändra prioritet och datum" form asks, read and checked: the changes to
hand to `tasks.update` (as `PATCH /api/tasks/{id}` does), or the Swedish errors per field."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from engine.base.clock import STOCKHOLM

# The form's fields, in the order the page shows them (also the ids its error summary links to).
FIELDS = ("prioritet", "forfaller", "bevakas", "skal")
REASON_MAX = 500


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _end_of(day: date) -> str:
    """A local day's last second as an ISO instant: a step due on a day is on time all that day."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=STOCKHOLM).isoformat()


def _shown_day(value: str | None) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(STOCKHOLM).date().isoformat()


def current_values(task: dict[str, Any]) -> dict[str, str]:
    """The form's fields as the task has them now (dates as local days)."""
    return {"prioritet": str(task["priority"]), "forfaller": _shown_day(task.get("due")),
            "bevakas": _shown_day(task.get("follow_up")), "skal": ""}


def read(form: Any, task: dict[str, Any], today: date) -> tuple[dict[str, Any], dict[str, str]]:
    """The changes the form asks for (only what differs from the task), and the errors by field.

    A date is a day (YYYY-MM-DD), not before today; an emptied date is removed; a changed due date
    needs a reason, which goes into the case history.
    """
    now = current_values(task)
    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    priority = (form.get("prioritet") or "").strip()
    if priority != now["prioritet"]:
        if not priority.isdigit() or not 0 <= int(priority) <= 100:
            errors["prioritet"] = "Ange prioriteten som ett heltal från 0 till 100."
        else:
            changes["priority"] = int(priority)
    for field, key in (("forfaller", "due"), ("bevakas", "follow_up")):
        text = (form.get(field) or "").strip()
        if text == now[field]:
            continue
        if not text:
            changes[key] = None
            continue
        day = _day(text)
        if day is None:
            errors[field] = "Ange datumet som ÅÅÅÅ-MM-DD, till exempel 2027-01-31."
        elif day < today:
            errors[field] = "Datumet har redan passerat; välj i dag eller senare."
        elif day.year > 2999:
            errors[field] = "Välj ett datum före år 3000."
        else:
            changes[key] = _end_of(day)
    reason = " ".join((form.get("skal") or "").split())
    if len(reason) > REASON_MAX:
        errors["skal"] = f"Skriv skälet med högst {REASON_MAX} tecken."
    elif "due" in changes and not reason and "forfaller" not in errors:
        errors["skal"] = "Skriv varför förfallodatumet ändras."
    elif reason:
        changes["reason"] = reason
    if not set(changes) - {"reason"} and not errors:
        errors["prioritet"] = "Inget är ändrat."
    return changes, errors
