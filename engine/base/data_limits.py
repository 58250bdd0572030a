"""How large a case's data may grow: per field, per case, and how deeply nested.

Every way data enters a case from outside (a task's form, start data, a message's payload, a
retry's corrections) is checked here before anything is written, and refused naming the field
and the limit. Scripts grow data inside the engine: the script engine (`engine.base.scripting`) runs
each script on a copy of its task's data and keeps the result only within the limits; past them
the script's step fails, and the case is in incident naming it, with its data as it was before
the script ran, so a retry runs it again once the cause is fixed.

The limits are `RUTIN_MAX_FIELD_BYTES` (one top-level field, as JSON: a pasted document, an
image in base64) and `RUTIN_MAX_CASE_DATA_BYTES` (all of a case's data, as JSON: the state is
loaded and saved whole at every action, and a case page shows it). Nesting is bounded by
`MAX_DEPTH` levels, far beyond what any form or message builds, far below where the JSON
encoder and SpiffWorkflow's serializer run out of stack.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from typing import Any

from .errors import InvalidInput
from .settings import Settings

MAX_DEPTH = 32

# The settings of the engine whose case the running thread works on (set by `CaseWork`), for the
# script engine, which SpiffWorkflow shares between engines.
_current: ContextVar[Settings | None] = ContextVar("rutin_data_limits", default=None)


def use(settings: Settings) -> None:
    """Apply these settings' limits to the scripts the current thread runs from now on."""
    _current.set(settings)


def current() -> Settings | None:
    """The settings whose limits the current thread's scripts run under (None outside a case)."""
    return _current.get()


def json_size(value: Any) -> int:
    """The bytes `value` takes as compact UTF-8 JSON (as it is stored)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8"))


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether lists and objects nest in `value` more than `limit` levels (without recursing)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if level >= limit:
            return True
        stack.extend((child, level + 1) for child in children if isinstance(child, (dict, list, tuple)))
    return False


def shown(size: int) -> str:
    """A byte count as people read it: 64 KiB, 1 MiB, else bytes."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} byte"


def check_input(settings: Settings, data: dict[str, Any], current: dict[str, Any] | None = None) -> None:
    """Refuse data from outside (`InvalidInput`, naming each field and the limit) that is nested
    too deeply, has a field over `RUTIN_MAX_FIELD_BYTES`, or would take the case (its `current`
    data with these fields set) over `RUTIN_MAX_CASE_DATA_BYTES`."""
    errors = []
    sizes: dict[str, int] = {}
    for key, value in data.items():
        if too_deep(value, MAX_DEPTH - 1):
            errors.append({"field": key, "message": f"Fältet '{key}' är nästlat i fler än {MAX_DEPTH} nivåer."})
            continue
        sizes[key] = size = json_size(value)
        if size > settings.max_field_bytes:
            errors.append({"field": key, "message": f"Fältet '{key}' är {size} byte; ett fält får vara högst "
                                                    f"{shown(settings.max_field_bytes)}."})
    if not errors:
        total = json_size({**(current or {}), **data})
        if total > settings.max_case_data_bytes:
            largest = max(sizes, key=lambda k: sizes[k]) if sizes else ""
            errors.append({"field": largest, "message": f"Med fältet '{largest}' blir ärendets uppgifter {total} "
                                                        f"byte; ett ärende får ha högst "
                                                        f"{shown(settings.max_case_data_bytes)}."})
    if errors:
        raise InvalidInput(" ".join(e["message"] for e in errors), errors=errors,
                           limits={"field_bytes": settings.max_field_bytes,
                                   "case_bytes": settings.max_case_data_bytes, "depth": MAX_DEPTH})


def script_problem(settings: Settings, data: dict[str, Any]) -> str | None:
    """Why data a script left behind cannot be kept (too deep, or the case over its limit), or None."""
    if too_deep(data, MAX_DEPTH):
        return f"skriptet lämnade uppgifter som är nästlade i fler än {MAX_DEPTH} nivåer"
    size = json_size(data)
    if size > settings.max_case_data_bytes:
        return (f"skriptet skulle göra ärendets uppgifter {size} byte; ett ärende får ha högst "
                f"{shown(settings.max_case_data_bytes)} (RUTIN_MAX_CASE_DATA_BYTES)")
    return None


def case_problem(settings: Settings, data: dict[str, Any]) -> str | None:
    """Why a case's data as a whole cannot be saved (over its limit), or None."""
    size = json_size(data)
    if size > settings.max_case_data_bytes:
        return (f"Ärendets uppgifter skulle bli {size} byte; ett ärende får ha högst "
                f"{shown(settings.max_case_data_bytes)}.")
    return None
