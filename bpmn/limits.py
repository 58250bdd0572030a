"""How far an uploaded diagram may make the engine go: instances of one multi-instance step, and
how often a timer repeats.

A diagram that asks for ten thousand parallel instances of a step would write ten thousand task
rows in one transaction; a reminder every second (or ``R/PT0S``, every instant) would keep the
scheduler firing for ever. Both are refused at upload when the diagram writes the number or the
period as a constant (``bpmn.loops``, ``bpmn.normalize``), and are incidents when a case's data
computes them (``engine.run_limits``): both sides use the functions here, so the two checks
cannot drift apart.

Periods are read with SpiffWorkflow's own ISO 8601 reader, the one that runs the timer.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from . import sandbox

DEFAULT_MAX_MULTI_INSTANCE = 1_000
DEFAULT_MIN_TIMER_CYCLE_S = 60.0


@dataclass(frozen=True)
class Limits:
    """The limits one upload (or one run of a case) is held to."""

    max_multi_instance: int = DEFAULT_MAX_MULTI_INSTANCE
    min_timer_cycle_s: float = DEFAULT_MIN_TIMER_CYCLE_S


class NotConstant(Exception):
    """The expression reads the case's data (or calls a function): only a case can compute it."""


class ConstantError(ValueError):
    """The expression is a constant, but computing it fails (the message says why, in Swedish)."""


# A constant is written with literals and operators only: no name, call, attribute or
# generator, so computing it at upload is as cheap as reading it (the sandbox bounds the
# operators that could make it large).
_CONSTANT_NODES = (ast.Expression, ast.Constant, ast.UnaryOp, ast.BinOp, ast.List, ast.Tuple, ast.Load,
                   ast.operator, ast.unaryop)


def constant(python: str) -> Any:
    """The value of a (translated) expression that needs no case data, computed in the sandbox.

    Raises `NotConstant` when it names a variable or calls anything, `ConstantError` when it is a
    constant that cannot be computed (``1/0``, a number too large).
    """
    try:
        tree = ast.parse(python.strip(), mode="eval")
    except (SyntaxError, ValueError):
        raise NotConstant(python) from None
    if not all(isinstance(node, _CONSTANT_NODES) for node in ast.walk(tree)):
        raise NotConstant(python)
    try:
        return sandbox.evaluate(python, {})
    except sandbox.SandboxError as exc:
        raise ConstantError(str(exc)) from None
    except ZeroDivisionError:
        raise ConstantError("division med noll") from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ConstantError(f"värdena går inte att räkna med ({type(exc).__name__})") from None


# -- multi-instance ------------------------------------------------------------------------------


def cardinality_problem(value: Any, cap: int) -> str | None:
    """Why `value` cannot be the number of instances of a step (in Swedish), or None when it can."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"antalet instanser ska vara ett heltal, men är {_shown(value)}"
    if value < 0:
        return f"antalet instanser ska vara noll eller fler, men är {value}"
    if value > cap:
        return f"{value} instanser begärs, men högst {cap} tillåts"
    return None


def collection_problem(value: Any, cap: int) -> str | None:
    """Why `value` cannot be the collection a multi-instance step runs once per element of (in
    Swedish), or None when it can: a list (or a record, one instance per field), within the cap."""
    if not isinstance(value, (list, tuple, dict)):
        return f"samlingen ska vara en lista, men är {_shown(value)}"
    if len(value) > cap:
        return f"samlingen har {len(value)} element, men högst {cap} instanser tillåts"
    return None


def _shown(value: Any) -> str:
    kinds = {str: "text", int: "ett heltal", float: "ett decimaltal", bool: "ett sant/falskt-värde",
             dict: "en post", type(None): "tom (None)"}
    kind = kinds.get(type(value), type(value).__name__)
    text = repr(value)
    text = text if len(text) <= 40 else text[:40] + "…"
    return kind if value is None else f"{kind} ({text})"


# -- timer cycles --------------------------------------------------------------------------------


class CycleSyntaxError(ValueError):
    """Not an ISO 8601 repeating interval SpiffWorkflow can run."""


# The shortest a calendar unit can be: a period's length only matters here when it is short.
_SECONDS = {"years": 365 * 86400, "months": 28 * 86400, "weeks": 7 * 86400, "days": 86400, "hours": 3600,
            "minutes": 60, "seconds": 1}


def cycle_seconds(text: str) -> float:
    """The time between two firings of an ISO 8601 repeating interval (``R/PT1H``, ``R3/P1D``,
    ``R/2026-01-05T07:00:00+01:00/P1D``, ``R2/P1D/2026-02-01T00:00``), calendar units at their
    shortest; `CycleSyntaxError` when the text is no such interval."""
    parts = text.strip().upper().replace("--", "/").split("/")
    head = parts[0]
    if len(parts) not in (2, 3) or not head.startswith("R") or not (head[1:] == "" or head[1:].isdigit()):
        raise CycleSyntaxError(text)
    durations = [p for p in parts[1:] if p.startswith("P")]
    if len(durations) != 1:
        raise CycleSyntaxError(text)
    try:
        parsed = TimerEventDefinition.parse_iso_duration(durations[0])
        for other in parts[1:]:
            if other is not durations[0]:
                TimerEventDefinition.get_datetime(other)
    except Exception:  # SpiffWorkflow raises a bare Exception for a bad duration
        raise CycleSyntaxError(text) from None
    if not parsed:
        raise CycleSyntaxError(text)
    return float(sum(_SECONDS[unit] * value for unit, value in parsed.items()))


EXAMPLES = "t.ex. R/P1D (varje dag), R3/PT1H (tre gånger, en gång i timmen) eller R/2026-01-05T07:00:00+01:00/P1D"


def cycle_problem(text: str, min_seconds: float) -> tuple[str, str] | None:
    """Why a timer cycle cannot run (a diagnostic code and a Swedish message saying how to fix
    it), or None when it can. A cycle of no length is refused whatever the minimum."""
    try:
        seconds = cycle_seconds(text)
    except CycleSyntaxError:
        return ("unreadable-timer-cycle", f"Tidscykeln {text!r} är inget upprepat ISO 8601-intervall som kan köras; "
                                          f"skriv {EXAMPLES}.")
    if seconds <= 0:
        return ("timer-cycle-too-short", f"Tidscykeln {text!r} upprepas utan paus och skulle utlösas om och om igen; "
                                         f"skriv ett intervall på minst {_duration(min_seconds)}, {EXAMPLES}.")
    if seconds < min_seconds:
        return ("timer-cycle-too-short", f"Tidscykeln {text!r} upprepas var {_duration(seconds)}; kortaste tillåtna "
                                         f"intervall är {_duration(min_seconds)}. Skriv ett längre intervall, "
                                         f"{EXAMPLES}.")
    return None


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        n, unit = int(seconds // 3600), ("timme", "timmar")
    elif seconds >= 60 and seconds % 60 == 0:
        n, unit = int(seconds // 60), ("minut", "minuter")
    else:
        value = str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}".replace(".", ",")
        return f"{value} sekund" if value == "1" else f"{value} sekunder"
    return f"{n} {unit[0] if n == 1 else unit[1]}"
