"""Form defaults applied when a completion or a start omits a field, as the pages already show them.

A default is the diagram's: a literal (``Nej``, ``5``) is taken as written; one written as an
expression (JUEL ``${...}`` / ``#{...}``, FEEL ``=...``) is translated like any other expression
and evaluated through the restricted evaluator (`bpmn.sandbox.evaluate`) over the case's data. A
FEEL default that reads a variable the case lacks is null (FEEL's reading), so the field stays
empty; JUEL, as Camunda 7 does, cannot resolve it. SpiffArena renders its JSON Schema forms as
Jinja templates over the task's data, so there a default ``{{ expression }}`` is a Python
expression: alone it gives its value (a number stays a number), inside text its text; a variable
the case lacks renders empty, as Jinja's undefined does, so the field stays empty. Dates in any of
them read the engine's clock (``date.today()``, ``datetime.now()``), never the wall clock. A
default that cannot be computed is refused naming the field (`InvalidInput`, 422), never a server
error, and nothing is written.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bpmn import expressions, sandbox, script_builtins
from bpmn.model import FormField

from .errors import InvalidInput

_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.S)


def is_expression(default: Any) -> bool:
    """Whether a default is written as an expression rather than a literal value."""
    if not isinstance(default, str):
        return False
    text = default.strip()
    return (text.startswith(("${", "#{")) and text.endswith("}")) or (text.startswith("=") and len(text) > 1) \
        or _is_template(text)


def _is_template(text: str) -> bool:
    return not text.startswith(("${", "#{", "=")) and _TEMPLATE.search(text) is not None


def _python(source: str, scope: dict[str, Any]) -> Any:
    try:
        return sandbox.evaluate(source.strip(), scope)
    except NameError:
        return None  # Jinja renders an undefined variable empty


def _template(text: str, scope: dict[str, Any]) -> Any:
    whole = _TEMPLATE.fullmatch(text)
    if whole:
        return _python(whole.group(1), scope)

    def rendered(match: re.Match[str]) -> str:
        value = _python(match.group(1), scope)
        return "" if value is None else str(value)

    return _TEMPLATE.sub(rendered, text)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _evaluate(field: FormField, default: str, scope: dict[str, Any]) -> Any:
    name = field.label or field.id
    try:
        if _is_template(default.strip()):
            return _template(default.strip(), scope)
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


def fill(fields: list[FormField], data: dict[str, Any], scope: dict[str, Any] | None,
         now: datetime | None = None) -> dict[str, Any]:
    """`data` with each omitted (or blank) field that has a default filled in with it; read-only
    fields are left alone (what they show is not taken from a handler). `now`, the engine's clock,
    is what an expression's dates read; without it they are refused."""
    filled = dict(data)
    context = dict(scope or {})
    if now is not None:
        context[script_builtins.ENV_KEY] = {"now": now}
    for field in fields:
        if field.default is None or field.constraints.get("readonly") or not _missing(filled.get(field.id)):
            continue
        value = _evaluate(field, field.default, context) if is_expression(field.default) else field.default
        if not _missing(value):
            filled[field.id] = value
    return filled
