"""The case beside a task: what the person deciding or doing a step needs to see of the case it
belongs to, read from the case's JSON (projections only): the earlier steps with who did them,
when and whether on time, and a jäv declaration on the task."""

from __future__ import annotations

from typing import Any

from .common import parse_instant


def earlier_steps(case: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    """The case's steps done before this one, oldest first: name, who did it, when, its due date,
    and whether it was done on time (None when it had no due date)."""
    steps = []
    for t in case.get("tasks", []):
        if t["id"] == task_id or t["status"] != "completed":
            continue
        done, due = parse_instant(t.get("completed")), parse_instant(t.get("due"))
        steps.append({**t, "on_time": None if done is None or due is None else done <= due})
    steps.sort(key=lambda t: t.get("completed") or "")
    return steps


def step_dates(case: dict[str, Any]) -> list[dict[str, Any]]:
    """Every step of the case, in the order they opened: its planned date (due), its actual date
    (completed), and whether it was done on time (None when open, cancelled or without a due date)."""
    steps = []
    for t in case.get("tasks", []):
        done, due = parse_instant(t.get("completed")), parse_instant(t.get("due"))
        on_time = None if t["status"] != "completed" or done is None or due is None else done <= due
        steps.append({**t, "on_time": on_time})
    steps.sort(key=lambda t: t.get("created") or "")
    return steps


def conflict_declared(case: dict[str, Any], task_id: str) -> dict[str, Any] | None:
    """The last jäv declaration on the task (who declared it, when, to whom it went), if any."""
    found = [e for e in case.get("history", [])
             if e["type"] == "conflict_of_interest_declared" and e.get("task_id") == task_id]
    return found[-1] if found else None


# A step's state beside the diagram, in words (the diagram's colours say the same).
STEP_STATES = {"done": "klart", "open": "pågår nu", "incident": "stannat här", None: "inte påbörjat"}


def diagram_steps(steps: Any, done: list[str] | None = None, open_ids: list[str] | None = None,
                  incident_id: str | None = None, *, with_state: bool = True) -> list[dict[str, Any]]:
    """The steps of a version's diagram as a text list for those who do not use the drawing (a
    screen reader, the keyboard): each step's name, role and, on a case, its state, in the
    diagram's order. `steps` is the model's steps (by spec name) or the process's step list."""
    rows = list(steps.values()) if isinstance(steps, dict) else list(steps or [])
    out = []
    for st in rows:
        found = st if isinstance(st, dict) else vars(st)
        element = found.get("element_id")
        state = ("incident" if element and element == incident_id else "open" if element in (open_ids or [])
                 else "done" if element in (done or []) else None)
        out.append({"element_id": element, "name": found.get("name") or element, "role": found.get("role"),
                    "kind": found.get("kind"), "state": STEP_STATES[state] if with_state else None,
                    "state_key": state})
    return out
