"""The demo's cases: a living organisation for `rutin demo` (and `make run` on first start).

``workflows/demo-cases.yaml`` says, per shipped process, who starts its cases and how far back;
here each case is started and its steps done by the demo people who hold the roles, through the
engine's own functions, while the engine's clock is a manual one set back in time and moved
forward event by event: starts, steps and every timer due in between (escalation ladders, BPMN
timers) fire at their own instant, as they would have had the cases been worked for real. At the
end the clock is where the wall clock was when seeding began and the engine gets its own back.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from ..authority import identity
from ..authority.identity import Actor
from ..base.clock import STOCKHOLM, ManualClock
from ..base.errors import Forbidden
from ..core import Engine
from ..store.models import Timer
from . import cases, tasks

STEP_GAP = timedelta(hours=3)  # between one step of a case and its next
WAIT = timedelta(days=1)  # a case with no open step waits on a timer: look again a day on
FILLERS: dict[str, Any] = {"string": "Enligt rutinen", "long": 2, "integer": 2, "boolean": True}


@dataclass
class _Run:
    """One demo case being worked: its plan and where it stands."""

    key: str
    plan: dict[str, Any]
    state: str
    steps: int | str
    number: int
    case: dict[str, Any] | None = None
    done: int = 0
    choices: dict[str, list[str]] = field(default_factory=dict)


def seed(engine: Engine, directory: Path) -> dict[str, dict[str, int]]:
    """Start and work the demo cases ``demo-cases.yaml`` lists (none if it is missing); return how
    many cases of each process ended in each state ("completed", "open", ...)."""
    plan_file = directory / "demo-cases.yaml"
    if not plan_file.exists():
        return {}
    plan = yaml.safe_load(plan_file.read_text(encoding="utf-8")) or {}
    wall = engine.clock
    end = wall.now()
    start_of = {i: _start_at(end, int(c["days_ago"])) for i, c in enumerate(plan.get("cases") or [])}
    clock = ManualClock(min(start_of.values(), default=end))
    people = {a.name: a for a in identity.list_users(engine)}
    agenda: list[tuple[datetime, int, _Run]] = []
    number = 0
    for key, entry in (plan.get("processes") or {}).items():
        for i, spec in enumerate(plan.get("cases") or []):
            number += 1
            run = _Run(key, entry, str(spec["state"]), spec["steps"], number,
                       choices={k: list(v) for k, v in (entry.get("choices") or {}).items()})
            agenda.append((start_of[i], number, run))
    runs = [r for _, _, r in agenda]
    heapq.heapify(agenda)
    engine.clock = clock
    try:
        while agenda:
            at, order, run = heapq.heappop(agenda)
            _run_until(engine, clock, at)
            after = _advance(engine, people, plan.get("fields") or {}, run, clock)
            if after is not None:
                heapq.heappush(agenda, (max(after, clock.now()), order, run))
        _run_until(engine, clock, end)
    finally:
        engine.clock = wall
    return _states(engine, runs)


def _states(engine: Engine, runs: list[_Run]) -> dict[str, dict[str, int]]:
    """How many of each process's seeded cases are in each status now."""
    out: dict[str, dict[str, int]] = {}
    for run in runs:
        if run.case is not None:
            status = cases.get_case(engine, identity.SYSTEM, run.case["id"])["status"]
            counts = out.setdefault(run.key, {})
            counts[status] = counts.get(status, 0) + 1
    return out


def _start_at(now: datetime, days_ago: int) -> datetime:
    """09:00 Swedish time `days_ago` days before `now`; today, an hour before now if that is earlier."""
    day = now.astimezone(STOCKHOLM).date() - timedelta(days=days_ago)
    at = datetime.combine(day, time(9), STOCKHOLM).astimezone(now.tzinfo)
    return min(at, now - timedelta(hours=1))


def _run_until(engine: Engine, clock: ManualClock, until: datetime) -> None:
    """Move the clock to `until`, stopping at each pending timer due before then to fire it on time."""
    while True:
        with engine.db.read() as s:
            due = s.execute(sa.select(sa.func.min(Timer.due_at))
                            .where(Timer.status == "pending", Timer.due_at <= until)).scalar_one_or_none()
        if due is None:
            break
        if due > clock.now():
            clock.set(due)
        if not engine.scheduler.tick().fired:
            break  # nothing more fires at this instant (a cancelled step, a busy row): go on
    if until > clock.now():
        clock.set(until)


def _advance(engine: Engine, people: dict[str, Actor], fields: dict[str, Any], run: _Run,
             clock: ManualClock) -> datetime | None:
    """Do the run's next thing (start its case, or one step); when to come back, or None when done."""
    now = clock.now()
    if run.case is None:
        data = {k: _value(v, now) for k, v in (run.plan.get("data") or {}).items()}
        run.case = cases.start_case(engine, people[run.plan["starter"]], run.key, data,
                                    f"{run.plan['prefix']}{run.number:03d}", org_unit=run.plan.get("unit"))
        return now + STEP_GAP if run.steps else None
    case = cases.get_case(engine, identity.SYSTEM, run.case["id"])
    if case["status"] != "active":
        return None
    if not case["open_tasks"]:
        return now + WAIT
    task = case["open_tasks"][0]
    decision = task["kind"] == "decision" or bool(task.get("decision_authority"))
    _do(engine, people, fields, task, run, now)
    run.done += 1
    if run.steps == "decision" and decision:
        return None
    if isinstance(run.steps, int) and run.done >= run.steps:
        return None
    return now + STEP_GAP


def _do(engine: Engine, people: dict[str, Actor], fields: dict[str, Any], task: dict[str, Any], run: _Run,
        now: datetime) -> None:
    """Complete `task` as the first demo person who may (its assignee first)."""
    choice = None
    if task["kind"] == "decision":
        names = [o["name"] for o in task["options"]]
        queue = run.choices.get(task["name"])
        want = queue.pop(0) if queue else names[0]
        # the plan names an option by its first words ("Ja" for "Ja, helt")
        choice = next((n for n in names if n == want), next((n for n in names if n.startswith(want)), names[0]))
    data = None if choice is not None else _fill(task, fields, now)
    jav = True if task.get("decision_authority") or task.get("decision_under_ordinance") else None
    order = sorted(people.values(), key=lambda a: a.name != task.get("assignee"))
    for person in order:
        if person.name in {"admin", "admin2", "designer", "revisor"}:
            continue  # the system's accounts do no one's work in the demo
        try:
            tasks.complete(engine, person, task["id"], data, choice, no_conflict_of_interest=jav)
        except Forbidden:
            continue
        return
    raise RuntimeError(f"Ingen i demoorganisationen får göra {task['name']!r} ({task.get('role')}).")


def _fill(task: dict[str, Any], fields: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A form's answers: the demo's value for a field it names, else one that fits the field's type."""
    data: dict[str, Any] = {}
    for f in task.get("form") or []:
        if f["id"] in fields:
            data[f["id"]] = _value(fields[f["id"]], now)
        elif f["type"] == "enum" and f.get("options"):
            data[f["id"]] = f["options"][0]["id"]
        elif f["type"] == "date":
            data[f["id"]] = now.astimezone(STOCKHOLM).date().isoformat()
        else:
            data[f["id"]] = FILLERS.get(f["type"], "Enligt rutinen")
    return data


def _value(value: Any, now: datetime) -> Any:
    """A value of the plan at `now`: "{idag}" the day, "{nu}" the minute, "+N" the day N days on."""
    local = now.astimezone(STOCKHOLM)
    if value == "{idag}":
        return local.date().isoformat()
    if value == "{nu}":
        return local.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, str) and value.startswith("+") and value[1:].isdigit():
        return (local.date() + timedelta(days=int(value[1:]))).isoformat()
    return value
