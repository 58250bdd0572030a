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
            # a page's form sends the digits as text; the constraints hold for them all the same
            digits = isinstance(value, str) and re.fullmatch(r"-?\d{1,18}", value.strip()) is not None
            whole = isinstance(value, float) and value.is_integer() and abs(value) < 1e18
            if not (digits or whole):
                return value, "ska vara ett heltal"
            value = int(value)
    elif kind in {"double", "float", "decimal"}:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value, "ska vara ett tal"
    elif kind == "boolean":
        if not isinstance(value, bool):
            if value not in ("true", "false"):
                return value, "ska vara sant eller falskt"
            value = value == "true"
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
    elif kind == "list":
        # Camunda Forms' checklist and taglist: several values, each among the options if it has any.
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return value, "ska vara en lista med text"
        allowed = [o["id"] for o in field.options]
        if allowed and any(v not in allowed for v in value):
            return value, f"får bara innehålla {', '.join(allowed)}"
    elif kind == "string" and not isinstance(value, str):
        return value, "ska vara text"
    return value, _constraint_problem(field, value)


# A pattern is the diagram's, the text the handler's: both bounded, and patterns that can take
# exponential time to fail (a quantified group that itself repeats, as in (a+)+) are not enforced.
_MAX_PATTERN_TEXT = 2000
_NESTED_QUANTIFIER = re.compile(r"\((?:[^()\\]|\\.)*[+*}](?:[^()\\]|\\.)*\)[+*{]")


def _constraint_problem(field: FormField, value: Any) -> str | None:
    """What breaks the field's validation constraints (Camunda's min, max, minlength, maxlength,
    and Camunda Forms' pattern), or None."""
    c = field.constraints
    if not c:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = _num(c.get("min")), _num(c.get("max"))
        if low is not None and value < low:
            return f"ska vara minst {c['min']}"
        if high is not None and value > high:
            return f"får vara högst {c['max']}"
    if isinstance(value, (str, list)):
        shortest, longest = _num(c.get("minlength")), _num(c.get("maxlength"))
        unit = "tecken" if isinstance(value, str) else "val"
        if shortest is not None and len(value) < shortest:
            return f"ska ha minst {c['minlength']} {unit}"
        if longest is not None and len(value) > longest:
            return f"får ha högst {c['maxlength']} {unit}"
    pattern = c.get("pattern")
    if isinstance(value, str) and isinstance(pattern, str) and pattern and len(pattern) <= 500 \
            and len(value) <= _MAX_PATTERN_TEXT and not _NESTED_QUANTIFIER.search(pattern):
        try:
            matched = re.fullmatch(pattern, value) is not None
        except re.error:  # the upload's diagnostics said so; the pattern is not enforced
            matched = True
        if not matched:
            return "har fel format"
    return None


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def validate(fields: list[FormField], data: dict[str, Any]) -> dict[str, Any]:
    """Return the data with typed values; raise `InvalidInput` listing every field in error."""
    errors = []
    cleaned = dict(data)
    for field in fields:
        if field.constraints.get("readonly"):
            # A read-only field shows a value; what a handler sends for it is not taken.
            cleaned.pop(field.id, None)
            continue
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
    return [str(k) for k in data if not isinstance(k, str) or not k.strip() or k.startswith("_") or len(k) > 200
            or k in RESERVED_KEYS]


# Variables the engine keeps in a case's data itself: the choices made at human decisions.
RESERVED_KEYS = frozenset({"rutin_beslut"})


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
