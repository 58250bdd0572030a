"""Walking a case to its end by doing whatever it asks: the smoke test of a diagram.

Completes each open task (filling its required form fields with plausible values), takes each
decision's least-taken option (so a rework loop is entered once and then left), delivers the
messages the diagram defines when the case waits for one, and moves an injected clock to the
next timer when nothing else is open. Used by the corpus tests, `make corpus` and designers who
want to know whether their map runs from start to end.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from bpmn.diagnostics import DiagramRejected
from bpmn.xml import parse_document, q

from ..authority.identity import Actor
from ..base.errors import RutinError
from ..core import Engine
from ..store.models import Timer
from . import cases, messages, tasks

SAMPLE = {"string": "Exempel", "long": 1, "integer": 1, "boolean": True, "date": "2026-03-02", "double": 1.0}


@dataclass
class Walk:
    """How a walk ended."""

    case_id: str
    status: str
    steps: int = 0
    reason: str | None = None
    path: list[str] = field(default_factory=list)


def _fill(task: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in task.get("form") or []:
        # (a read-only field is the process's to fill, and posting it is refused)
        if f.get("default") not in (None, "") or (f.get("constraints") or {}).get("readonly"):
            continue
        if f["type"] == "enum" and f.get("options"):
            data[f["id"]] = f["options"][0]["id"]
        elif f.get("required"):
            data[f["id"]] = SAMPLE.get(f["type"], "Exempel")
    return data


def walk(engine: Engine, actor: Actor, case_id: str, *, message_names: list[str] | None = None,
         max_steps: int = 200) -> Walk:
    """Drive a case until it completes, fails or gets stuck; return how it went."""
    taken: Counter[str] = Counter()
    retries = 0
    result = Walk(case_id, "active")
    for _ in range(max_steps):
        case = cases.get_case(engine, actor, case_id)
        result.status = case["status"]
        if case["status"] == "completed":
            return result
        if case["status"] == "incident":
            result.reason = (case["incident"] or {}).get("message")
            fix = missing_variables(result.reason or "", case["data"])
            if fix and retries < 3:
                # What a handler does when a condition asks for data the map never collects: supply
                # it and retry the case.
                retries += 1
                try:
                    cases.retry_case(engine, actor, case_id, fix)
                except RutinError as exc:  # data the failing step does not read is refused
                    result.reason = f"{result.reason} ({exc.detail})"
                    return result
                result.path.append(f"rättade data: {', '.join(sorted(fix))}")
                continue
            return result
        if case["open_tasks"]:
            task = case["open_tasks"][0]
            choice = None
            if task["kind"] == "decision":
                options = task["options"]
                pick = min(options, key=lambda o: (taken[o["id"]], options.index(o)))
                taken[pick["id"]] += 1
                choice = [pick["id"]] if task.get("multiple") else pick["id"]
            try:
                tasks.complete(engine, actor, task["id"], None if choice else _fill(task), choice,
                               no_conflict_of_interest=True if task.get("decision_authority") else None)
            except RutinError as exc:
                result.status, result.reason = "blocked", f"{task['name']}: {exc.detail}"
                return result
            result.steps += 1
            result.path.append(task["name"])
            continue
        if any(deliver(engine, actor, case_id, name) for name in message_names or []):
            result.steps += 1
            continue
        if not next_timer(engine, case_id):
            result.status, result.reason = "stuck", "ärendet väntar på något som inte kan inträffa här"
            return result
    result.status, result.reason = "too-long", f"mer än {max_steps} steg"
    return result


_QUOTED = re.compile(r"(?:expression|Uttrycket) '(.*?)'(?: kunde inte|$)")
_UNDEFINED = re.compile(r"name '([^']+)' is not defined")
_NAME = re.compile(r"[^\W\d]\w*")
_KNOWN = {"and", "or", "not", "True", "False", "None", "in", "is", "if", "else", "for", "any", "all", "len",
          "rutin_variable"}


_CONDITIONS = re.compile(r"«(.*?)»")
_COMPARED = re.compile(r"([^\W\d]\w*)\s*==\s*('[^']*'|\"[^\"]*\"|\d+(?:\.\d+)?)")


def missing_variables(message: str, data: dict[str, Any]) -> dict[str, Any]:
    """What a handler supplies when a condition asks for data the map never collects: each name
    the failed expression reads (outside its string literals) or the error says is undefined,
    that the case does not hold; a list where the expression iterates over it, the value the
    first of a gateway's conditions compares it to (none of them held), else True."""
    conditions = _CONDITIONS.findall(message)
    if conditions:
        compared = {name: ast.literal_eval(value) for name, value in _COMPARED.findall(conditions[0])}
        names = {n for c in conditions for n in _NAME.findall(re.sub(r"'[^']*'|\"[^\"]*\"", "", c))} - _KNOWN
        return {n: compared.get(n, True) for n in sorted(names) if n not in data and not n.startswith("_")}
    names = set(_UNDEFINED.findall(message))
    m = _QUOTED.search(message)
    text = m.group(1) if m else ""
    names |= {n for n in _NAME.findall(re.sub(r"'[^']*'|\"[^\"]*\"", "", text)) if n not in _KNOWN}
    iterated = set(re.findall(r"\bin\s+([^\W\d]\w*)", text))
    return {n: ([] if n in iterated else True) for n in sorted(names) if n not in data and not n.startswith("_")}


def message_names(data: bytes) -> list[str]:
    """The names of the messages a document defines (to deliver when a case waits for one)."""
    try:
        root = parse_document(data)
    except DiagramRejected:
        return []
    return [m.get("name") or "" for m in root.iter(q("message")) if m.get("name")]


def deliver(engine: Engine, actor: Actor, case_id: str, name: str) -> bool:
    """Deliver the message `name` to the case with no payload; False if it was not waiting for it."""
    try:
        messages.send_message(engine, actor, case_id, name, {})
    except RutinError:
        return False
    return True


def next_timer(engine: Engine, case_id: str) -> bool:
    """Move a manual clock to the case's next timer and fire it; False if it has none (or no clock)."""
    with engine.db.read() as s:
        due = s.execute(sa.select(sa.func.min(Timer.due_at)).where(
            Timer.case_id == case_id, Timer.status == "pending")).scalar()
    clock = engine.clock
    if due is None or not hasattr(clock, "set"):
        return False
    # Just past the due instant, as a real clock would be by the time a worker ticks:
    # SpiffWorkflow fires a timer only strictly after its instant.
    if due >= clock.now():
        clock.set(due + timedelta(seconds=1))
    return engine.scheduler.tick().fired > 0
