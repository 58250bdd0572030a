"""Form defaults applied when a completion or a start omits a field, as the pages already show them.

A default is the diagram's: a literal (``Nej``, ``5``) is taken as written; one written as an
expression (JUEL ``${...}`` / ``#{...}``, FEEL ``=...``) is translated like any other expression
and evaluated through the restricted evaluator (`bpmn.sandbox.evaluate`) over the case's data. A
FEEL default that reads a variable the case lacks is null (FEEL's reading), so the field stays
empty; JUEL, as Camunda 7 does, cannot resolve it. A default that cannot be computed is refused
naming the field (`InvalidInput`, 422), never a server error, and nothing is written.
"""

from __future__ import annotations

from typing import Any

from bpmn import expressions, sandbox
from bpmn.model import FormField

from .errors import InvalidInput


def is_expression(default: Any) -> bool:
    """Whether a default is written as an expression rather than a literal value."""
    if not isinstance(default, str):
        return False
    text = default.strip()
    return (text.startswith(("${", "#{")) and text.endswith("}")) or (text.startswith("=") and len(text) > 1)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _evaluate(field: FormField, default: str, scope: dict[str, Any]) -> Any:
    name = field.label or field.id
    try:
        python = expressions.to_python(default)
        return sandbox.evaluate(python, scope)
    except NameError as exc:
        if expressions.dialect(default) == "feel":
            return None  # FEEL: a missing variable is null, and a null default fills nothing in
        problem = f"variabeln {getattr(exc, 'name', None) or str(exc)} finns inte i ärendet"
    except expressions.ExpressionError as exc:
        problem = str(exc)
    except sandbox.SandboxError as exc:
        problem = str(exc)
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    message = f"Standardvärdet för fältet {name} kunde inte beräknas ({default.strip()}): {problem}."
    raise InvalidInput(message, errors=[{"field": field.id, "message": message}])


def fill(fields: list[FormField], data: dict[str, Any], scope: dict[str, Any] | None) -> dict[str, Any]:
    """`data` with each omitted (or blank) field that has a default filled in with it; read-only
    fields are left alone (what they show is not taken from a handler)."""
    filled = dict(data)
    context = dict(scope or {})
    for field in fields:
        if field.default is None or field.constraints.get("readonly") or not _missing(filled.get(field.id)):
            continue
        value = _evaluate(field, field.default, context) if is_expression(field.default) else field.default
        if not _missing(value):
            filled[field.id] = value
    return filled
