"""An honest walk of one case: as the people the tasks name, with only what a form would send.

Unlike `engine.service.walkthrough.walk` (a designer's smoke test, which acts as whoever it is
given and supplies missing variables on an incident), this walk never injects a variable and
never retries: each open task is completed by a user holding one of the roles the task is
offered to (created on first need), or by the user it names; the data sent is what the task's
form would send when a person accepts its defaults and fills each required field with a typed
sample; a decision is a choice among the flows it offers (the least taken first, so a rework
loop is entered once and then left); messages the diagram defines are delivered with no payload
when nothing else is open; the clock is moved to the next timer. The first incident, refusal or
wait that nothing here can end stops the walk, and where it stopped is reported.

The walk acts through a `Door`: `EngineDoor` calls the engine's service functions (what
`bench/corpus.py` measures); a test supplies one that goes through the HTTP API instead, so the
same choices are made on both ways in.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from engine.authority import identity
from engine.authority.identity import SYSTEM, Actor
from engine.base import form_defaults
from engine.base.errors import RutinError
from engine.core import Engine
from engine.service import cases, tasks, walkthrough

SAMPLE = {"string": "Exempel", "long": 1, "integer": 1, "int": 1, "number": 1, "boolean": True,
          "date": "2026-03-02", "double": 1.0, "float": 1.0}


@dataclass
class Stop:
    """How a walk ended: `completed`, or where and why it stopped."""

    status: str  # completed | incident | refused | stuck | too-long | crash
    element_id: str | None = None
    reason: str | None = None
    steps: int = 0
    path: list[str] = field(default_factory=list)
    # For a walk that loops or waits: the elements its history names, and those it waits at.
    visited: set[str] = field(default_factory=set)
    waiting: set[str] = field(default_factory=set)


def form_data(form: list[dict[str, Any]]) -> dict[str, Any]:
    """What a person sends from a form: its defaults, the first option of a choice, and a typed
    sample in each required field; read-only fields are the process's and not sent."""
    data: dict[str, Any] = {}
    for f in form or []:
        if (f.get("constraints") or {}).get("readonly"):
            continue
        if form_defaults.is_expression(f.get("default")):
            continue  # as the task page does: the engine computes it when the field is omitted
        if f.get("default") not in (None, ""):
            data[f["id"]] = f["default"]
        elif f.get("type") == "enum" and f.get("options"):
            data[f["id"]] = f["options"][0]["id"]
        elif f.get("required"):
            data[f["id"]] = SAMPLE.get(str(f.get("type")), "Exempel")
    return data


class People:
    """The walk's users: one per role key a task is offered to, and the named users themselves.

    `everyone` are roles each of them holds besides: the API admits no one who holds no role, so a
    walk through it gives the users a task names by name a role of their own too."""

    def __init__(self, engine: Engine, everyone: tuple[str, ...] = ()) -> None:
        self.engine = engine
        self.everyone = list(everyone)
        self.made: dict[str, Actor] = {}

    def for_task(self, task: dict[str, Any]) -> Actor:
        """A person who may take the task: the named user, else a holder of its first role."""
        candidates = task.get("candidates") or []
        for c in candidates:
            kind, _, key = c.partition(":")
            if kind == "user":
                return self._user(key, [])
        for c in candidates:
            kind, _, key = c.partition(":")
            if kind == "role" and "@" not in key:
                name = "roll-" + hashlib.sha256(key.encode()).hexdigest()[:12]
                return self._user(name, [key])
        return SYSTEM  # offered to no one: only an administrator could take it

    def _user(self, name: str, roles: list[str]) -> Actor:
        if name not in self.made:
            name_ok = name.strip() and len(name) <= 120 and not any(ch.isspace() for ch in name)
            user = name if name_ok else "anv-" + hashlib.sha256(name.encode()).hexdigest()[:12]
            self.made[name] = identity.add_user(self.engine, user, [*roles, *self.everyone])
        return self.made[name]


class Door(Protocol):
    """How the walk acts on a case. A refusal is raised as a `RutinError` with its detail."""

    def start(self, key: str, data: dict[str, Any] | None) -> str:
        """Start a case of `key` with start data; its id."""

    def case(self, case_id: str) -> dict[str, Any]:
        """The case as its page reads it: status, incident, open tasks, history."""

    def task(self, actor: Actor, task_id: str) -> dict[str, Any]:
        """The task as `actor` reads it (form, options)."""

    def complete(self, actor: Actor, task_id: str, data: dict[str, Any] | None, choice: Any,
                 no_conflict_of_interest: bool | None) -> None:
        """Complete a task as `actor`."""

    def deliver(self, case_id: str, name: str) -> bool:
        """Deliver the message `name` with no payload; False if the case did not wait for it."""

    def next_timer(self, case_id: str) -> bool:
        """Move the clock to the case's next timer and fire it; False if it has none."""


class EngineDoor:
    """The engine's own service functions, as the API calls them."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(self, key: str, data: dict[str, Any] | None) -> str:
        """Start a case as the system."""
        return str(cases.start_case(self.engine, SYSTEM, key, data)["id"])

    def case(self, case_id: str) -> dict[str, Any]:
        """The case as the system reads it."""
        return cases.get_case(self.engine, SYSTEM, case_id)

    def task(self, actor: Actor, task_id: str) -> dict[str, Any]:
        """The task as `actor` reads it."""
        return tasks.get_task(self.engine, actor, task_id)

    def complete(self, actor: Actor, task_id: str, data: dict[str, Any] | None, choice: Any,
                 no_conflict_of_interest: bool | None) -> None:
        """Complete a task as `actor`."""
        tasks.complete(self.engine, actor, task_id, data, choice, no_conflict_of_interest=no_conflict_of_interest)

    def deliver(self, case_id: str, name: str) -> bool:
        """Deliver a message as the system."""
        return walkthrough.deliver(self.engine, SYSTEM, case_id, name)

    def next_timer(self, case_id: str) -> bool:
        """Move the manual clock and tick the scheduler."""
        return walkthrough.next_timer(self.engine, case_id)


def walk(engine: Engine, people: People, key: str, message_names: list[str], start_form: list[dict[str, Any]],
         max_steps: int = 200, door: Door | None = None) -> Stop:
    """Start a case of `key` and walk it as the people its tasks name, through `door` (the
    engine's service functions by default); see the module docstring."""
    door = door or EngineDoor(engine)
    try:
        case_id = door.start(key, form_data(start_form) or None)
    except RutinError as exc:
        return Stop("refused", None, f"start: {exc.detail}")
    taken: Counter[str] = Counter()
    stop = Stop("active")
    for _ in range(max_steps):
        case = door.case(case_id)
        if case["status"] == "completed":
            stop.status = "completed"
            return stop
        if case["status"] == "incident":
            inc = case["incident"] or {}
            stop.status, stop.element_id, stop.reason = "incident", inc.get("element_id"), inc.get("message")
            return stop
        if case["open_tasks"]:
            task = case["open_tasks"][0]
            actor = people.for_task(task)
            try:
                task = door.task(actor, task["id"])
            except RutinError as exc:
                stop.status, stop.element_id = "refused", task["element_id"]
                stop.reason = f"{task['name']}: {exc.detail}"
                return stop
            choice: Any = None
            data: dict[str, Any] | None = None
            if task["kind"] == "decision":
                options = task.get("options") or []
                if not options:
                    stop.status, stop.element_id = "stuck", task["element_id"]
                    stop.reason = "beslutet erbjuder inget val"
                    return stop
                pick = min(options, key=lambda o: (taken[o["id"]], options.index(o)))
                taken[pick["id"]] += 1
                choice = [pick["id"]] if task.get("multiple") else pick["id"]
            else:
                data = form_data(task.get("form") or [])
            try:
                door.complete(actor, task["id"], data, choice,
                              True if task.get("decision_under_ordinance") else None)
            except RutinError as exc:
                stop.status, stop.element_id = "refused", task["element_id"]
                stop.reason = f"{task['name']}: {exc.detail}"
                return stop
            stop.steps += 1
            stop.path.append(task["name"])
            continue
        if any(door.deliver(case_id, name) for name in message_names):
            stop.steps += 1
            continue
        if not door.next_timer(case_id):
            stop.status, stop.reason = "stuck", "ärendet väntar på något som inte kan inträffa här"
            stop.visited, stop.waiting = _visited(case), elements(engine, case_id, "WAITING")
            return stop
    stop.status, stop.reason = "too-long", f"mer än {max_steps} steg"
    stop.visited = _visited(door.case(case_id)) | elements(engine, case_id, "COMPLETED")
    return stop


def elements(engine: Engine, case_id: str, state_name: str) -> set[str]:
    """The elements of a case's workflow in a SpiffWorkflow task state, read from the stored
    state: WAITING (where a stuck case waits: a join, a catch event), COMPLETED (what it passed,
    gateways too)."""
    from SpiffWorkflow.util.task import TaskState

    from engine.base import state
    from engine.store.models import Case

    with engine.db.read() as s:
        case = s.get(Case, case_id)
        if case is None:
            return set()
        spec, subs = engine.spec(case.process_version_id)
        workflow = state.load(case.state_json, spec, subs)
    return {str(t.task_spec.bpmn_id) for t in workflow.get_tasks(state=getattr(TaskState, state_name))
            if getattr(t.task_spec, "bpmn_id", None)}


def _visited(case: dict[str, Any]) -> set[str]:
    return {str(e["element_id"]) for e in case.get("history") or [] if e.get("element_id")} | \
        {str(t["element_id"]) for t in case.get("tasks") or [] if t.get("element_id")}

