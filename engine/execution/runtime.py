"""One unit of work on one case: lock, load, apply, run, project, record, commit.

Every change to a case (start, task completion, retry, and later timers and messages) goes
through `CaseWork` inside one database transaction that holds the case lock, so two actors on
one case cannot both win and nothing is half-written. The serialized workflow is the source of
truth; the human task rows, candidate rows and the case summary are projections rebuilt here in
the same transaction; the history gets one event per change.

Who a new task goes to is decided by `engine.authority.routing` (the unit tree, aliases,
absences and the ordinance's substitute), and when it falls due by `engine.clocks` (its deadline
policy and escalation ladder, the case clock); this module only asks them and writes the answers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from operator import itemgetter
from types import SimpleNamespace
from typing import Any, cast
from uuid import UUID

import sqlalchemy as sa
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from bpmn import sandbox
from bpmn.model import HumanStep, ProcessModel

from ..authority import ordinance, org, routing
from ..base import (
    data_limits,
    script_world,
    state,
)
from ..base.errors import InvalidInput, NotFound
from ..base.search_text import search_text
from ..clocks import (
    case_clock,
    deadlines,
    policies,
    spiff_clock,
    task_clock,
    timers,
)
from ..core import Engine
from ..records import (
    history,
    incidents,
    run_limits,
)
from ..store import optimistic
from ..store.db import after_commit, at_end
from ..store.models import Case, HumanTask, TaskCandidate, from_row, transient
from ..store.pipeline import batched
from ..store.prepared import Prepared
from . import (
    io_mappings,  # noqa: F401  (elements' mappings, listener scripts and pre- and post-scripts run, from here on)
    multi_instance,  # noqa: F401  (multi-instance steps held to the limits, from here on)
)
from .case_world import CaseWorld
from .step_data import json_safe, priority, step_key

log = logging.getLogger(__name__)

# A case that runs this many automatic steps without waiting for anyone is in an endless loop.
MAX_ENGINE_STEPS = 10_000
COMPACT_EVERY = 500


class _EndlessLoop(Exception):
    pass


# Errors a diagram's own expressions and data are expected to make: an incident, logged without a trace.
_EXPECTED: tuple[type[BaseException], ...] = (
    incidents.StepError, WorkflowException, sandbox.SandboxError, LookupError, TypeError, ValueError, NameError,
    ArithmeticError, AttributeError,
)


# The hot path talks to the database through Core statements built once, on the session's
# connection: building a statement, or going through the ORM's unit of work, costs several
# times more than running the statement itself. Rows are loaded into plain (transient) model
# objects and written back explicitly by `CaseWork.write`.
_cases, _tasks = cast(sa.Table, Case.__table__), cast(sa.Table, HumanTask.__table__)
CASE_OF_TASK = sa.select(_tasks.c.case_id).where(_tasks.c.id == sa.bindparam("task_id"))
LOCK_CASE = sa.select(_cases).where(_cases.c.id == sa.bindparam("case_id")).with_for_update()
# The case of a task, found and locked in one statement (one round trip on PostgreSQL).
LOCK_CASE_OF_TASK = sa.select(_cases).where(_cases.c.id == CASE_OF_TASK.scalar_subquery()).with_for_update()
TASK_BY_ID = sa.select(_tasks).where(_tasks.c.id == sa.bindparam("task_id"))
CASE_TASKS = sa.select(_tasks).where(
    _tasks.c.case_id == sa.bindparam("case_id"),
    sa.or_(_tasks.c.status == "open", _tasks.c.id.in_(sa.bindparam("ids", expanding=True))),
)
DELETE_CANDIDATES = sa.delete(TaskCandidate).where(TaskCandidate.task_id == sa.bindparam("task_id"))
INSERT_TASKS = sa.insert(_tasks)
INSERT_CANDIDATES = sa.insert(TaskCandidate)
INSERT_CASE = sa.insert(_cases)
_CASE_COLUMNS = [c.key for c in _cases.columns if c.key != "id"]
# Sets only the columns given: SQLite rewrites an index whenever the UPDATE names one of its
# columns, changed or not, and the case row has five (a completion changes none of them).
UPDATE_CASE = sa.update(_cases).where(_cases.c.id == sa.bindparam("b_id"))
_TASK_MUTABLE = ("assignee", "role", "candidates", "org_unit_id", "status", "priority", "due_at", "own_due_at",
                 "follow_up_at",
                 "completed_at",
                 "completed_by",
                 "completed_role", "result")
UPDATE_TASK = (
    sa.update(_tasks).where(_tasks.c.id == sa.bindparam("b_id"))
    .values({k: sa.bindparam(k) for k in _TASK_MUTABLE})
)
_mutable_of = itemgetter(*_TASK_MUTABLE)


def _task_values(row: HumanTask) -> tuple[Any, ...]:
    """What a task row holds that a unit of work may change; the row is written back when these
    differ from what was last read or written (`held_rows`). Read from the instance's dict, where
    `from_row` and assignments put them (through the attribute descriptors it costs ten times
    more, and this runs for every held row at every write)."""
    values = row.__dict__
    try:
        return cast(tuple[Any, ...], _mutable_of(values))
    except KeyError:  # a row opened in this unit has no completion columns yet
        return tuple(values.get(k) for k in _TASK_MUTABLE)


# A new row's columns (those of its completion are left out: NULL until then).
_TASK_INSERTED = [c.key for c in _tasks.columns
                  if c.key not in ("completed_at", "completed_by", "completed_role", "result")]
# Key in a write session's `info` of the task rows held in it (`held_rows`).
_HELD = "rutin.task_rows"
# The same statements, run on the DB-API cursor (engine/store/prepared.py says why).
_P_CASE_OF_TASK, _P_LOCK_CASE, _P_TASK_BY_ID, _P_CASE_TASKS = map(
    Prepared, (CASE_OF_TASK, LOCK_CASE, TASK_BY_ID, CASE_TASKS))
_P_DELETE_CANDIDATES, _P_INSERT_TASKS, _P_INSERT_CANDIDATES = map(
    Prepared, (DELETE_CANDIDATES, INSERT_TASKS, INSERT_CANDIDATES))
_P_INSERT_CASE, _P_UPDATE_CASE, _P_UPDATE_TASK = map(Prepared, (INSERT_CASE, UPDATE_CASE, UPDATE_TASK))
_P_LOCK_CASE_OF_TASK = Prepared(LOCK_CASE_OF_TASK)


def held_rows(s: Session) -> dict[int, tuple[HumanTask, tuple[Any, ...]]]:
    """The task rows loaded in a write session, each with its values as last read or written.

    The rows are plain objects, not tracked by the session (the hot path reads and writes them
    with Core statements); this is what stands in for the ORM's identity map. A unit of work on
    the session writes back every held row whose values differ, so a row marks itself changed
    by being assigned to: ``row.priority = 99`` is written with no call to say so. A JSON value
    (``candidates``, ``result``) counts as changed when it is assigned anew, not when it is
    changed in place. Keyed by the object's identity: two objects of one row (loaded twice) are
    both watched.
    """
    held: dict[int, tuple[HumanTask, tuple[Any, ...]]] = s.info.setdefault(_HELD, {})
    return held


def hold(s: Session, row: HumanTask) -> HumanTask:
    """Watch a task row for changes in a write session (`held_rows`); returns the row."""
    held_rows(s)[id(row)] = (row, _task_values(row))
    return row


def open_task_rows(s: Session, case_id: str) -> list[HumanTask]:
    """A case's open task rows, as plain objects watched for changes (`held_rows`)."""
    return [hold(s, from_row(HumanTask, r))
            for r in _P_CASE_TASKS.rows(s.connection(), {"case_id": case_id, "ids": []})]


def drop_candidates(conn: sa.Connection, task_id: str) -> None:
    """Remove a task's candidate rows (it left the inboxes: completed or cancelled)."""
    _P_DELETE_CANDIDATES.run(conn, {"task_id": task_id})


def load_task(s: Session, task_id: str) -> HumanTask | None:
    """A task row as a plain object, watched for changes (`held_rows`): a unit of work on the
    session writes it back if it is changed."""
    row = _P_TASK_BY_ID.one_or_none(s.connection(), {"task_id": task_id})
    return hold(s, from_row(HumanTask, row)) if row is not None else None


def lock_case(s: Session, case_id: str) -> Case | None:
    """A case row, locked inside the caller's write transaction (None when there is no such case)."""
    row = _P_LOCK_CASE.one_or_none(s.connection(), {"case_id": case_id})
    return from_row(Case, row) if row is not None else None


@contextmanager
def locked_case(engine: Engine, case_id: str) -> Iterator[tuple[Session, Case]]:
    """A write transaction holding the lock of one case (row lock on PostgreSQL)."""
    with engine.db.write() as s:
        case = lock_case(s, case_id)
        if case is None:
            raise NotFound(f"Ärendet {case_id} finns inte.")
        yield s, case


@contextmanager
def locked_task_case(engine: Engine, task_id: str) -> Iterator[tuple[Session, Case]]:
    """A write transaction holding the lock of the case a task belongs to."""
    with engine.db.write() as s:
        conn = s.connection()
        if engine.db.is_sqlite:  # as the optimistic attempt records and checks its reads
            case_id = _P_CASE_OF_TASK.scalar(conn, {"task_id": task_id})
            case = lock_case(s, case_id) if case_id is not None else None
        else:
            row = _P_LOCK_CASE_OF_TASK.one_or_none(conn, {"task_id": task_id})
            case = from_row(Case, row) if row is not None else None
        if case is None:
            raise NotFound(f"Uppgiften {task_id} finns inte.")
        yield s, case


def _no_world() -> None:
    script_world.use(None)


class CaseWork:
    """Load, change, run and save one case inside a locked transaction."""

    def __init__(self, engine: Engine, session: Session, case: Case, workflow: BpmnWorkflow | None = None,
                 *, new: bool = False):
        self.engine = engine
        self.s = session
        # The transaction's connection, fetched once: each `Session.connection()` call walks the
        # session's transaction state again.
        self.conn: sa.Connection = session.connection()
        self.case = case
        self.now: datetime = engine.clock.now()
        # SpiffWorkflow's timer arithmetic on this thread follows the engine's clock from here on,
        # and what the case's data computes is held to the engine's limits.
        spiff_clock.use(engine.clock)
        run_limits.use(engine.settings)
        data_limits.use(engine.settings)  # and its scripts keep case data within its limits
        # An optimistic attempt gives up here, before any work, on a version known not to fit it.
        optimistic.case_version(case.process_version_id)
        self.model: ProcessModel = engine.model(case.process_version_id)
        self._workflow = workflow
        self.open_rows: list[HumanTask] = []
        # Ids of the tasks this unit of work opened.
        self.created: set[str] = set()
        # Rows written in a few statements just before commit, not one ORM flush each.
        self._events: list[dict[str, Any]] = []
        self._tasks: list[HumanTask] = []  # opened in this unit, inserted by `write`
        self._candidates: list[dict[str, Any]] = []
        self._held = held_rows(session)
        self._dropped: list[dict[str, Any]] = []  # tasks whose candidates go (PostgreSQL)
        self._new = new
        self._written: dict[str, Any] = {k: getattr(case, k) for k in _CASE_COLUMNS} if not new else {}
        session.info.setdefault("before_commit", []).append(self.write)
        # What its scripts may ask (`run`) is this unit's alone: nothing evaluated on this thread
        # after the transaction ends is answered about its case, its actor or its rows.
        at_end(session, _no_world)

    def add_candidates(self, task_id: str, candidates: list[tuple[str, str]]) -> None:
        """Offer a task to these candidates, (kind, key), written with the unit of work."""
        self._candidates.extend({"task_id": task_id, "kind": kind, "key": key, "created_at": self.now}
                                for kind, key in candidates)

    def drop_candidates(self, task_id: str) -> None:
        """Take a task out of the inboxes (completed or cancelled), with the candidates offered it
        earlier in this unit. The delete runs now on SQLite (as the optimistic attempt records it),
        in `write`'s pipeline on PostgreSQL, ahead of the rows offered after it."""
        self._candidates = [c for c in self._candidates if c["task_id"] != task_id]
        if self.engine.db.is_sqlite:
            drop_candidates(self.conn, task_id)
            return
        self._dropped.append({"task_id": task_id})

    def pending_rows(self) -> list[HumanTask]:
        """Task rows changed in this unit of work, not yet written."""
        return [row for row, before in self._held.values() if _task_values(row) != before]

    def write(self) -> None:
        """Write the case, its changed and new task rows and its events (also run before commit),
        on PostgreSQL in one pipeline (``batched``): one round trip for all."""
        written = self._written
        if self._new or written.get("data") != self.case.data or written.get("business_key") != self.case.business_key:
            self.case.search_text = search_text(self.case.business_key, self.case.data)  # only what it is made of moved
        values = {k: getattr(self.case, k) for k in _CASE_COLUMNS}
        held = self._held
        changed = [(key, row, now) for key, (row, before) in held.items() if (now := _task_values(row)) != before]
        if not (self._new or changed or self._tasks or self._candidates or self._events or self._dropped) \
                and values == self._written:
            return  # written already (`save` writes, then the commit asks again)
        with batched(conn := self.conn):
            if self._dropped:
                _P_DELETE_CANDIDATES.run(conn, self._dropped)
                self._dropped = []
            if self._new:
                _P_INSERT_CASE.run(conn, {"id": self.case.id, **values})
                self._new = False
            elif values != self._written:
                written = self._written
                _P_UPDATE_CASE.run(conn, {"b_id": self.case.id,
                                          **{k: v for k, v in values.items() if k not in written or written[k] != v}})
            self._written = values
            if changed:
                _P_UPDATE_TASK.run(conn, [{"b_id": row.id, **dict(zip(_TASK_MUTABLE, now, strict=True))}
                                           for _, row, now in changed])
                for key, row, now in changed:
                    held[key] = (row, now)
            if self._tasks:
                # Their values as they are now: a new row may change after it was opened (its due
                # date capped by the case clock), and is then inserted as it stands.
                _P_INSERT_TASKS.run(conn, [{k: getattr(r, k) for k in _TASK_INSERTED} for r in self._tasks])
                for r in self._tasks:
                    held[id(r)] = (r, _task_values(r))
            if self._candidates:
                _P_INSERT_CANDIDATES.run(conn, self._candidates)
            history.write(conn, self._events)
            self._tasks, self._candidates, self._events = [], [], []

    @property
    def workflow(self) -> BpmnWorkflow:
        """The case's workflow, loaded on first use (claiming a task never needs it).

        A workflow this process saved at the case's current revision is reused instead of
        deserialized again; it is taken out of the cache while in use and put back only after
        the transaction commits, so a failed attempt never leaves a half-changed one behind.
        """
        if self._workflow is None:
            cached = self.engine.workflows.take(self.case.id, self.case.revision)
            if cached is None:
                spec, subs = self.engine.spec(self.case.process_version_id)
                cached = state.load(self.case.state_json, spec, subs)
            self._workflow = cached
        return self._workflow

    # -- history -----------------------------------------------------------------------------

    @property
    def events(self) -> list[dict[str, Any]]:
        """The history events this unit of work has recorded and not yet written."""
        return self._events

    def event(self, type: str, *, actor: str, role: str | None = None, task_id: str | None = None,
              element_id: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Append an event to the case's history."""
        self._events.append(history.append(self.case, type, actor=actor, at=self.now, role=role, task_id=task_id,
                                           element_id=element_id, data=data))

    # -- running ------------------------------------------------------------------------------

    def run(self, actor: str, action: Callable[[], Any] | None = None, *, steps: bool = True) -> Any:
        """Apply `action` (completing a task, catching a message, firing timers), then run engine
        steps until the case waits; returns what `action` returned.

        Whatever the diagram or the case's data makes fail on the way, in the action or in the
        steps after it, is an incident on the case naming the element, and the action stands (a
        completion is recorded, a message received). Only the database's and Rutin's own errors
        propagate, and roll the whole change back.
        """
        steps_run = 0

        def counted(_task: Any) -> None:
            nonlocal steps_run
            steps_run += 1
            if steps_run > MAX_ENGINE_STEPS:
                raise _EndlessLoop()
            if steps_run % COMPACT_EVERY == 0:
                state.compact(self.workflow)

        script_world.use(CaseWorld(self, actor))  # what its scripts ask: the clock, who acts, the roles
        try:
            result = action() if action is not None else None
            if steps:
                self.workflow.do_engine_steps(did_complete_task=counted)
            return result
        except _EndlessLoop:
            self.record_incident(actor, None, f"Ärendet tog över {MAX_ENGINE_STEPS} automatiska steg utan att vänta "
                                        "på någon; troligen en oändlig slinga i diagrammet.")
        except Exception as exc:
            if incidents.is_infrastructure(exc):
                raise
            if isinstance(exc, _EXPECTED):
                log.info("case %s stopped in an incident: %s", self.case.id, exc)
            else:  # not what a diagram usually gets wrong: the trace is for whoever maintains Rutin
                log.warning("case %s stopped in an incident", self.case.id, exc_info=exc)
            self.record_incident(actor, incidents.failed_task(exc), incidents.explain(exc), exc)
        return None

    def record_incident(self, actor: str, task: Any, message: str, exc: BaseException | None = None) -> None:
        """Stop the case in an incident at `task` (the errored task when None), with `message`
        shown to whoever repairs it."""
        if task is None:
            errored = self.workflow.get_tasks(state=TaskState.ERROR)
            task = errored[0] if errored else None
        spec = task.task_spec if task is not None else None
        element = self.model.original_id(getattr(spec, "bpmn_id", None) or spec.name) if spec is not None else None
        name = (self.model.element_names.get(element or "") or getattr(spec, "bpmn_name", None)) if spec else None
        self.case.status = "incident"
        self.case.incident_element = element
        self.case.incident_message = message
        data: dict[str, Any] = {"error": message, "element_name": name}
        if exc is not None:
            data["error_type"] = type(exc).__name__
        self.event("incident_raised", actor=actor, element_id=element,
                   task_id=str(task.id) if task is not None else None, data=data)

    def retry(self, actor: str, patch: dict[str, Any] | None = None) -> None:
        """Take the failed steps up again (with `patch`, corrected data, where they read it) and run."""
        self.event("incident_retried", actor=actor, element_id=self.case.incident_element,
                   data={"error": self.case.incident_message})
        self.case.status = "active"
        self.case.incident_element = None
        self.case.incident_message = None
        self.run(actor, lambda: incidents.redo(self.workflow, patch))

    # -- projections ----------------------------------------------------------------------------

    def policy(self, element_id: str) -> Any:
        """The process owner's deadline policy for a step (empty when there is none)."""
        found = policies.for_process(self.engine, self.case.process_key).get(element_id)
        return found or SimpleNamespace(due=None, follow_up=None, escalation=None)

    def step(self, row: HumanTask) -> HumanStep | None:
        """The diagram's step behind a task row."""
        return self.model.steps.get(row.spec_name)

    def is_decision(self, row: HumanTask) -> bool:
        """Whether the task is a decision under the delegation ordinance: marked in the diagram, or
        named by an ordinance item in force (whether or not the item's limit holds for this case:
        outside it the decision is the committee's, never an ordinary task anyone may complete)."""
        step = self.step(row)
        return bool(step is not None and step.decision_authority) or ordinance.names_element(
            self.engine, self.case.process_key, row.element_id, self.now)

    def substitute_role(self, row: HumanTask) -> str | None:
        """The substitute role (ersättare) of the ordinance item governing the task now, or None."""
        step = self.step(row)
        items = ordinance.governing(self.engine, self.case.process_key, row.element_id,
                                    bool(step is not None and step.decision_authority), self.now)
        item = ordinance.item_for(items, self.case.data or {})
        return item.substitute_role if item is not None and item.substitute_role else None

    def cover(self, row: HumanTask, route: routing.Route, away: str) -> routing.Route:
        """Where a task goes when `away` may not hold it (away, stepped aside): the router's answer,
        given the ordinance's substitute role when the task is a decision and who declared jäv."""
        role = self.substitute_role(row) if self.is_decision(row) else None
        stepped_aside = ordinance.stepped_aside(self.s, self.case.id, row.id) if role else set()
        return self.router.cover(route, away, role, self.case.org_unit_id, stepped_aside)

    def ready_human_tasks(self) -> list[Any]:
        """The workflow's READY manual tasks, including those inside subprocesses."""
        return [t for t in self.workflow.get_tasks(state=TaskState.READY) if t.task_spec.manual]

    def spiff_task(self, task_id: str) -> Any:
        """A workflow task by id, or None."""
        try:
            return self.workflow.get_task_from_id(UUID(task_id))
        except (ValueError, KeyError):
            return None

    def sync(self, actor: str) -> None:
        """Bring task rows, candidates and the case summary in line with the workflow."""
        ready = {str(t.id): t for t in self.ready_human_tasks()}
        # A row changed and not yet written is taken as it stands, not read again.
        pending = {r.id: r for r in self.pending_rows()}
        # A case not yet written (a start) has no task rows to read: its rows are inserted with it.
        rows = {} if self._new else {
            r["id"]: pending.get(r["id"]) or hold(self.s, from_row(HumanTask, r)) for r in _P_CASE_TASKS.rows(
                self.conn, {"case_id": self.case.id, "ids": list(ready)})
        }
        open_rows = {k: r for k, r in rows.items() if r.status == "open"}
        for task_id, row in open_rows.items():
            if task_id not in ready:
                row.status = "cancelled"
                row.completed_at = self.now
                self.drop_candidates(task_id)
                timers.cancel_task_timers(self.conn, task_id, self.now)
                self.event("task_cancelled", actor=actor, task_id=task_id, element_id=row.element_id,
                           data={"name": row.name})
        self.open_rows = [r for task_id, r in open_rows.items() if task_id in ready]
        for task_id, task in ready.items():
            if task_id not in rows:
                self.open_rows.append(self._create_task(task, actor))
        self._sync_timers()
        if self.case.status != "incident":
            self.case.status = "completed" if self.workflow.completed else "active"
        # The summary's data first: the case clock reads a receipt date from it.
        self.case.data = json_safe(self.case_data())
        if (too_large := data_limits.case_problem(self.engine.settings, self.case.data)) is not None:
            raise InvalidInput(too_large)  # the net behind the checks on input and scripts: nothing is kept
        case_clock.update(self, actor)
        case_clock.cap_steps(self, actor)
        if self.workflow.completed and self.case.completed_at is None and self.case.status == "completed":
            self.case.completed_at = self.now
            self.event("case_completed", actor=actor, data={"data": self.case.data})

    def _sync_timers(self) -> None:
        if not self.engine.has_timers(self.case.process_version_id):
            return
        due = {} if self.workflow.completed else timers.due_bpmn_timers(self.workflow)
        timers.sync(self.conn, self.case.id, "bpmn", due, self.now)

    def human_step(self, task: Any) -> HumanStep:
        """What the diagram says about a human task: the parsed step, else one made from its lane."""
        spec_name = step_key(task)
        return self.model.steps.get(spec_name) or routing.lane_step(
            self.model.original_id(spec_name), getattr(task.task_spec, "bpmn_name", None) or spec_name,
            getattr(task.task_spec, "lane", None))

    @property
    def router(self) -> routing.Router:
        """Who the case's steps go to, decided over this unit of work's connection and instant."""
        return routing.Router(self.conn, org.tree(self.engine), self.now)

    def _create_task(self, task: Any, actor: str) -> HumanTask:
        spec_name = step_key(task)
        step = self.human_step(task)
        policy = self.policy(step.element_id)
        router = self.router
        route = router.offer(step, task.data, self.case.org_unit_id)
        row = transient(
            HumanTask,
            id=str(task.id), case_id=self.case.id, process_key=self.case.process_key,
            process_version_id=self.case.process_version_id, business_key=self.case.business_key,
            spec_name=spec_name, element_id=step.element_id, name=step.name, kind=step.kind,
            role=route.role, org_unit_id=route.unit or self.case.org_unit_id, assignee=route.assignee, status="open",
            priority=priority(step, task.data),
            created_at=self.now, due_at=deadlines.resolve(step.due or policy.due, self.now, task.data),
            follow_up_at=deadlines.resolve(step.follow_up or policy.follow_up, self.now, task.data),
            candidates=route.keys,
        )
        row.own_due_at = row.due_at
        row.due_at = case_clock.capped_due(self, row)
        self.created.add(row.id)
        if route.assignee and router.away(route.assignee):
            # An absent person gets no new tasks (the router says where they go instead).
            route = self.cover(row, route, route.assignee)
            row.assignee = route.assignee
        self._tasks.append(row)
        self.add_candidates(row.id, list(route.candidates))
        if row.due_at is not None or row.follow_up_at is not None:
            task_clock.schedule(self, row, new=True)
        self.event("task_created", actor=actor, task_id=row.id, element_id=step.element_id, role=step.role,
                   data={"name": step.name, "kind": step.kind, "assignee": row.assignee,
                         **({"assignee_absent": route.absent} if route.absent else {}),
                         "due": row.due_at.isoformat() if row.due_at else None})
        return row

    def case_data(self) -> dict[str, Any]:
        """The case's current data: the last task's when finished, else merged over waiting tasks."""
        wf = self.workflow
        if wf.completed and wf.last_task is not None:
            return dict(wf.last_task.data)
        merged: dict[str, Any] = {}
        active = wf.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR)
        for t in active:
            DeepMerge.merge(merged, t.data)
        if not active and wf.last_task is not None:
            return dict(wf.last_task.data)
        return merged

    def finish(self, actor: str, *, sync: bool = True, write: bool = True) -> None:
        """End the unit of work on the case: task rows, candidates and summary brought in line
        with the workflow (`sync`), the workflow state saved under a new revision (`save`), and
        all of it written (`write`) so that the answer can read the rows back. In this order:
        `sync` changes rows and the case that `save` and `write` must see.

        ``sync=False`` where the workflow did not move and the caller changed the rows itself
        (a transfer to another unit). ``write=False`` leaves the write to the commit (on PostgreSQL
        in one pipeline with it), for a caller that reads nothing back from the database after it.
        Whatever changes after this is written before the commit."""
        if sync:
            self.sync(actor)
        self.save()
        if write:
            self.write()

    def save(self) -> None:
        """Write the workflow state and bump the revision."""
        workflow = self.workflow
        try:
            self.case.state_json = state.dump(workflow)
        except (TypeError, ValueError) as exc:
            # Data JSON cannot hold (scripts' outputs are made data in the sandbox; this is the
            # net behind it): the action is refused and rolled back, the case stays as it was.
            log.warning("case %s: state not serializable: %s", self.case.id, exc)
            raise InvalidInput(f"Ärendets data kan inte sparas: {exc}") from None
        self.case.revision += 1
        self.case.updated_at = self.now
        case_id, revision, cache = self.case.id, self.case.revision, self.engine.workflows
        after_commit(self.s, lambda: cache.put(case_id, revision, workflow))
