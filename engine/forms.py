"""Checking what a handler submits against the task's form, before the engine sees it."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from bpmn.model import FormField

from .errors import InvalidInput

_INT_TYPES = {"long", "integer", "int", "number"}
# Instants a request may give: far enough out for any real deadline or absence, near enough that
# the ladders' and deadlines' arithmetic (days and months added or taken away) stays in range.
EARLIEST_YEAR, LATEST_YEAR = 1900, 2999


def _check(field: FormField, value: Any) -> tuple[Any, str | None]:
    kind = (field.type or "string").lower()
    if kind in _INT_TYPES:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
                return int(value), None
            return value, "ska vara ett heltal"
    elif kind in {"double", "float", "decimal"}:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value, "ska vara ett tal"
    elif kind == "boolean":
        if not isinstance(value, bool):
            if value in ("true", "false"):
                return value == "true", None
            return value, "ska vara sant eller falskt"
    elif kind == "date":
        if not isinstance(value, str):
            return value, "ska vara ett datum (ÅÅÅÅ-MM-DD)"
        try:
            (date.fromisoformat if len(value) == 10 else datetime.fromisoformat)(value)
        except ValueError:
            return value, "ska vara ett datum (ÅÅÅÅ-MM-DD)"
    elif kind == "enum":
        allowed = [o["id"] for o in field.options]
        if value not in allowed:
            return value, f"ska vara ett av {', '.join(allowed)}"
    elif kind == "string" and not isinstance(value, str):
        return value, "ska vara text"
    return value, None


def validate(fields: list[FormField], data: dict[str, Any]) -> dict[str, Any]:
    """Return the data with typed values; raise `InvalidInput` listing every field in error."""
    errors = []
    cleaned = dict(data)
    for field in fields:
        value = data.get(field.id)
        missing = value is None or (isinstance(value, str) and not value.strip())
        if missing:
            if field.required:
                errors.append({"field": field.id, "message": f"{field.label or field.id} måste fyllas i"})
            continue
        typed, problem = _check(field, value)
        if problem:
            errors.append({"field": field.id, "message": f"{field.label or field.id} {problem}"})
        else:
            cleaned[field.id] = typed
    if errors:
        raise InvalidInput("Formuläret är inte korrekt ifyllt.", errors=errors)
    return cleaned


def bad_keys(data: dict[str, Any]) -> list[str]:
    """Data keys a case cannot hold: empty, over-long, or starting with '_' (reserved for the engine).

    Keys need not be identifiers: exported forms use labels such as "Vacation Approval"; only an
    expression that names a variable needs it to be one.
    """
    return [str(k) for k in data if not isinstance(k, str) or not k.strip() or k.startswith("_") or len(k) > 200]


def instant(value: Any, field: str) -> datetime:
    """An ISO 8601 instant with a time zone, in the years 1900–2999, as a request gives it;
    `InvalidInput` otherwise."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{field} ska vara en ISO 8601-tidpunkt.") from None
    if parsed.tzinfo is None:
        raise InvalidInput(f"{field} ska ange tidszon (t.ex. Z).")
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        raise InvalidInput(f"{field} ska ligga mellan år {EARLIEST_YEAR} och {LATEST_YEAR}.")
    return parsed
