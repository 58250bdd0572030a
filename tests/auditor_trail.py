"""The four traces an ISO 9001 auditor samples, made on the demo organisation through the engine's
own functions, for the auditor walkthrough's test (tests/test_auditor_walkthrough.py) and its
benchmark at 10,000 cases (bench/auditor_traces.py).

On the demo (`demo.load`: its people, roles and process library) a small process with a statutory
deadline of two weeks (`matt`) gets two applications in March 2026: ANS 2026-1 decided in three
days, ANS 2026-2 in twenty (late), both by Hanna (Handläggare, kansliet). Hanna reports a deviation
from the late one; Petra, the process owner, sets a target (at least 95 % within the deadline); when April begins the measure is out of
target (50 %) and Rutin opens a deviation for her. Both deviations are worked by the demo people
who hold each step's role through classification, root cause, the corrective action plan, its
implementation and the check that it was effective, to their end. A checkpoint then seals every
history. `grow`, if given, is called with the late case's id while March is open (the benchmark
clones it there).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from test_measures import MATT

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.base.errors import Forbidden
from engine.catalogue import processes
from engine.core import Engine
from engine.service import audit, cases, demo, deviations, measure_follow_up, measure_targets, tasks

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"
# What the demo people answer where a form asks for a person, a moment or a decision.
FIELDS = {"atgardsansvarig": "petra", "ansvarig": "petra", "upptackt": "2026-03-23 08:30",
          "korrigerande_atgard": True, "orsak": "Mallen för beslut saknade tidsfristen",
          "atgardsplan": "Tidsfristen läggs in i mallen och i introduktionen"}
CHOICES = {"Särskild anmälningsplikt?": "Nej", "Korrigerande åtgärd behövs?": "Ja", "Var åtgärderna effektiva?": "Ja"}
NOT_WORKERS = {"admin", "admin2", "designer", "revisor"}


def _finish_step(engine: Engine, case_id: str) -> None:
    [task] = cases.get_case(engine, SYSTEM, case_id)["open_tasks"]
    tasks.complete(engine, identity.get_actor(engine, "hanna"), task["id"])


def _fill(task: dict[str, Any], today: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in task.get("form") or []:
        if f["id"] in FIELDS:
            data[f["id"]] = FIELDS[f["id"]]
        elif f["type"] == "enum" and f.get("options"):
            data[f["id"]] = f["options"][0]["id"]
        elif f["type"] == "boolean":
            data[f["id"]] = True
        elif f["type"] == "date":
            data[f["id"]] = today
        elif f["type"] == "long":
            data[f["id"]] = 1
        else:
            data[f["id"]] = "Enligt rutinen"
    return data


def walk(engine: Engine, clock: ManualClock, case_id: str) -> list[str]:
    """Work a deviation case to its end as the demo people whose step each is; the steps done."""
    people = {a.name: a for a in identity.list_users(engine) if a.name not in NOT_WORKERS}
    done = []
    for _ in range(40):
        case = cases.get_case(engine, SYSTEM, case_id)
        if case["status"] != "active" or not case["open_tasks"]:
            return done
        task = case["open_tasks"][0]
        choice = None
        if task["kind"] == "decision":
            names = [o["name"] for o in task["options"]]
            want = CHOICES.get(task["name"], names[0])
            choice = next((n for n in names if n.startswith(want)), names[0])
        data = None if choice is not None else _fill(task, clock.now().date().isoformat())
        if data is not None and "beskrivning" in data and isinstance(case["data"].get("beskrivning"), str):
            data["beskrivning"] = case["data"]["beskrivning"]  # what Rutin wrote of the measure
        jav = True if task.get("decision_authority") or task.get("decision_under_ordinance") else None
        for person in sorted(people.values(), key=lambda a: a.name != task.get("assignee")):
            try:
                tasks.complete(engine, person, task["id"], data, choice, no_conflict_of_interest=jav)
            except Forbidden:
                continue
            done.append(task["name"])
            break
        else:
            raise AssertionError(f"no demo person may do {task['name']!r} ({task.get('role')})")
        clock.set(clock.now() + timedelta(hours=2))
    raise AssertionError(f"case {case_id} did not end")


def build(engine: Engine, clock: ManualClock, grow: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The demo with the four traces (see the module docstring); the ids an auditor follows."""
    demo.load(engine, WORKFLOWS)
    processes.deploy(engine, SYSTEM, MATT)
    petra, hanna = identity.get_actor(engine, "petra"), identity.get_actor(engine, "hanna")
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    t0 = clock.now()
    a = cases.start_case(engine, hanna, "matt", {}, "ANS 2026-1", org_unit="kansli")["id"]
    b = cases.start_case(engine, hanna, "matt", {}, "ANS 2026-2", org_unit="kansli")["id"]
    clock.set(t0 + timedelta(hours=2))
    _finish_step(engine, a)  # registered in two hours: on time
    clock.set(t0 + timedelta(days=2))
    _finish_step(engine, b)  # registered after two days, one past its due date: late
    clock.set(t0 + timedelta(days=3))
    _finish_step(engine, a)  # decided in three days: within its two weeks
    clock.set(t0 + timedelta(days=20))
    _finish_step(engine, b)  # decided in twenty: late
    clock.set(t0 + timedelta(days=21))
    reported = deviations.report(engine, hanna, b)
    nonconformity = reported["case_id"]
    walk(engine, clock, nonconformity)
    measure_targets.set_target(engine, petra, "matt", "within_deadline_share", 95)
    if grow is not None:
        grow(b)
    clock.set(datetime(2026, 4, 1, 6, 0, tzinfo=UTC))  # April has begun in Stockholm
    [opened] = measure_follow_up.run_due(engine)
    measure_deviation = opened["case_id"]
    walk(engine, clock, measure_deviation)
    audit.seal(engine, "trail", force=True)
    return {"case": a, "late_case": b, "version": ("matt", 1), "deviation_version": ("avvikelsehantering", 1),
            "nonconformity": nonconformity, "measure_deviation": measure_deviation,
            "period": ("2026-03-01", "2026-03-31")}
