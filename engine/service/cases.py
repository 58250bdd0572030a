"""Cases: starting them, reading them, listing them, retrying incidents."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from ..authority import org
from ..authority.identity import Actor, require_writer
from ..base import data_limits, forms, spiff, state
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..catalogue import processes, starting
from ..clocks import case_clock
from ..core import Engine
from ..execution.runtime import CaseWork, locked_case
from ..execution.step_data import json_safe
from ..records import history, incidents
from ..store.models import Case, HumanTask, ProcessVersion, TaskCandidate, transient
from . import declared, first_step
from . import search as search_in
from .first_step import DEVIATION_PROCESS
from .views import task_json

CASE_STATUSES = ("active", "completed", "incident", "culled")
# A period [since, until) to filter by, either end open (None).
Period = tuple[datetime | None, datetime | None]


def start_case(engine: Engine, actor: Actor, key: str, data: dict[str, Any] | None = None,
               business_key: str | None = None, org_unit: str | None = None) -> dict[str, Any]:
    """Start a case of the latest published version of `key`; run it until it waits."""
    require_writer(actor)
    if actor.start_only is not None and key not in actor.start_only:
        # An integration's token starts cases of the processes it names, whatever roles its account holds.
        raise Forbidden(f"Den här token får inte starta ärenden i processen {key!r}.")
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("data ska vara ett JSON-objekt.")
    if business_key is not None and (not isinstance(business_key, str) or len(business_key) > 200):
        raise InvalidInput("business_key ska vara text på högst 200 tecken.")
    data_limits.check_input(engine.settings, data or {})  # before anything walks it: depth and sizes
    bad = forms.bad_keys(data or {})  # before `json_safe`, which drops "_" names without a word
    initial = json_safe(data or {})
    if bad:
        raise InvalidInput(f"Ogiltiga variabelnamn: {', '.join(bad)}")
    if org_unit is not None:
        t = org.tree(engine)
        if org_unit not in t.units:
            raise InvalidInput(f"Enheten {org_unit!r} finns inte.")
        if not org.may_start_in(t, actor, org_unit):
            raise Forbidden(f"Du har ingen roll i enheten {t.units[org_unit].name} och kan inte starta ärenden där.")

    def unit(data: dict[str, Any]) -> dict[str, Any]:
        with engine.db.write() as s:
            version = processes.latest_version(s.connection(), key, with_unit=True)
            # Starting is an authority: the starter roles of the version the case starts on, in its unit.
            placed = starting.authorize(engine, s.connection(), actor, version, org_unit)
            data = declared.check_start(engine, engine.model(version.id), data)
            # A deviation started by hand is its reporter's: the first step is theirs alone.
            reporter = actor.name if version.key == DEVIATION_PROCESS and first_step.is_person(actor) else None
            if reporter is not None:
                data = {**data, "rapportor": reporter}
            work = start_in(engine, s, actor, version, data, business_key, org_unit=placed, unit_decided=True)
            for row in work.open_rows:
                if reporter is not None and row.assignee == reporter:
                    first_step.offer_only(s, row.id, [("user", reporter)], engine.clock.now())
                    row.candidates = [f"user:{reporter}"]
            return case_json(engine, s, work.case, actor, with_history=False, tasks=work.open_rows,
                             version=version.version)

    return engine.db.optimistic(unit, initial)


def start_in(engine: Engine, s: Session, actor: Actor, version: Any, data: dict[str, Any],
             business_key: str | None, *, via: str = "manual", org_unit: str | None = None,
             unit_decided: bool = False) -> CaseWork:
    """Create and run a case inside the caller's transaction (also used by scheduled starts).
    ``unit_decided``: `org_unit` is the unit already decided for the case, even when None (no
    unit), so the process's own unit is not read again."""
    now = engine.clock.now()
    spec, subs = engine.spec(version.id)
    if org_unit is None and not unit_decided:  # the process's own unit, where its owner (or its diagram) says
        org_unit = org.process_unit(engine, s.connection(), version.key, engine.model(version.id).properties)
    case = transient(
        Case,
        id=str(uuid.uuid4()), process_version_id=version.id, process_key=version.key,
        business_key=business_key, status="active", revision=0, state_json="", data=data,
        started_by=actor.name, org_unit_id=org_unit, created_at=now, updated_at=now, event_count=0,
        deadline_extended=False,
    )
    workflow = state.new_workflow(spec, subs)
    workflow.task_tree.data.update(data)
    work = CaseWork(engine, s, case, workflow, new=True)
    case_clock.start(work)
    work.event("case_started", actor=actor.name, data={
        "process_key": version.key, "version": version.version, "business_key": business_key,
        "data": data, "via": via, "org_unit": org_unit,
    })
    work.run(actor.name)
    # A case exists because its start time has come (or someone started it by hand): the timer
    # start event has done its job and must not make the new case wait again.
    if case.status != "incident" and work.run(actor.name, lambda: _release_timer_start(workflow), steps=False):
        work.run(actor.name)
    work.finish(actor.name)
    return work


def _release_timer_start(workflow: Any) -> bool:
    """Let the process's own timer start event go: the case exists because its time has come.

    Only the top-level process's start event: a timer start event of an event subprocess waits
    in a subprocess workflow and must keep its own clock (releasing it starts the event
    subprocess at once, and a non-interrupting one then keeps the case from ever completing).
    """
    released = False
    for task in workflow.get_tasks(state=TaskState.WAITING):
        if task.workflow is not workflow:
            continue
        if isinstance(task.task_spec, StartEvent) and isinstance(task.task_spec.event_definition,
                                                                 TimerEventDefinition):
            task.internal_data.pop("event_value", None)
            spiff.set_internal_data(task, event_fired=True)
            spiff.update(task)
            released = True
    return released


def may_see_case(s: Session, case: Case, actor: Actor, *, acting: bool = False) -> bool:
    """Whether the actor may see the case (or, `acting`, change it: auditors only read)."""
    if actor.is_admin or case.started_by == actor.name or (actor.is_auditor and not acting):
        return True
    if case.org_unit_id is not None and case.org_unit_id in actor.manages:
        return True
    rows = s.execute(
        sa.select(HumanTask.assignee, HumanTask.completed_by, HumanTask.candidates, HumanTask.org_unit_id)
        .where(HumanTask.case_id == case.id)
    ).all()
    mine = {f"user:{actor.name}", *(f"role:{r}" for r in actor.roles)}
    for assignee, completed_by, candidates, unit in rows:
        if actor.name in (assignee, completed_by) or mine.intersection(candidates or []) or unit in actor.manages:
            return True
    return False


def case_json(engine: Engine, s: Session, case: Case, actor: Actor, *, with_history: bool = True,
              tasks: list[HumanTask] | None = None, version: int | None = None) -> dict[str, Any]:
    """The API form of a case: status, version, data, open tasks and (optionally) history.

    `tasks` and `version` may be given by a caller that already has them, saving the queries.
    """
    model = engine.model(case.process_version_id)
    if version is None:
        version = s.execute(
            sa.select(ProcessVersion.version).where(ProcessVersion.id == case.process_version_id)
        ).scalar_one()
    if tasks is None:
        tasks = list(s.execute(
            sa.select(HumanTask).where(HumanTask.case_id == case.id).order_by(HumanTask.created_at, HumanTask.id)
        ).scalars())
    out: dict[str, Any] = {
        "id": case.id, "process_key": case.process_key, "process_name": model.name,
        "version": version, "process_version_id": case.process_version_id,
        "business_key": case.business_key, "org_unit": case.org_unit_id, "status": case.status,
        "revision": case.revision,
        "data": case.data, "started_by": case.started_by, "created": case.created_at.isoformat(),
        "updated": case.updated_at.isoformat(),
        "completed": case.completed_at.isoformat() if case.completed_at else None,
        "incident": {"element_id": case.incident_element,
                     "element_name": model.element_names.get(case.incident_element or ""),
                     "message": case.incident_message}
        if case.status == "incident" else None,
        "deadline": case_clock.status(case, engine.clock.now()),
        "open_tasks": [task_json(engine, t, actor) for t in tasks if t.status == "open"],
        "tasks": [task_json(engine, t, actor, brief=True) for t in tasks],
    }
    if with_history:
        out["history"] = [history.to_json(e) for e in history.events(s, case.id)]
        out["history_intact"] = history.verify(s, case)
    return out


def get_case(engine: Engine, actor: Actor, case_id: str) -> dict[str, Any]:
    """A case the actor may see; 404 if it does not exist, 403 if it is not theirs to see."""
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(f"Ärendet {case_id} finns inte.")
        if not may_see_case(s, case, actor):
            raise Forbidden("Du har ingen uppgift eller roll i det här ärendet.")
        return case_json(engine, s, case, actor)


def list_cases(engine: Engine, actor: Actor, *, process: str | None = None, status: str | None = None,
               business_key: str | None = None, started_by: str | None = None, unit: str | None = None,
               search: str | None = None, overdue: bool = False, started: Period | None = None,
               completed: Period | None = None, deadline_kept: bool | None = None,
               limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """Cases the actor may see, newest first, with filters and paging.

    Admins and auditors see every case; a manager the cases of the units they manage (and the
    units below); everyone the cases they started or hold, did or could take a task in.
    `unit` narrows to one unit's cases, or with ``mine`` to the units one works in or manages;
    `search` to those whose business key, data or an open step's name holds the text; `overdue`
    to open cases past their statutory deadline. `started` and `completed` narrow to the cases
    started, or finished, in a period [since, until) (either end open), as the measures count
    them; `deadline_kept` to the finished cases with a deadline that finished within it (or, false,
    after it). Each case comes with its open steps' names
    (``current_steps``) and its deadline, read from the task rows and the case row.
    """
    if status is not None and status not in CASE_STATUSES:
        raise InvalidInput(f"status ska vara en av {', '.join(CASE_STATUSES)}.")
    q = sa.select(Case)
    if not (actor.is_admin or actor.is_auditor):
        parts: list[Any] = [
            sa.select(HumanTask.case_id).where(
                sa.or_(HumanTask.assignee == actor.name, HumanTask.completed_by == actor.name)
            ),
            sa.select(HumanTask.case_id).join(TaskCandidate, TaskCandidate.task_id == HumanTask.id).where(
                sa.or_(
                    sa.and_(TaskCandidate.kind == "role", TaskCandidate.key.in_(sorted(actor.roles))),
                    sa.and_(TaskCandidate.kind == "user", TaskCandidate.key == actor.name),
                )
            ),
        ]
        if actor.manages:
            managed = sorted(actor.manages)
            parts.append(sa.select(HumanTask.case_id).where(HumanTask.org_unit_id.in_(managed)))
            parts.append(sa.select(Case.id).where(Case.org_unit_id.in_(managed)))
        mine = sa.union(*parts).subquery()
        q = q.where(sa.or_(Case.started_by == actor.name, Case.id.in_(sa.select(mine.c[0]))))
    if unit is not None:
        units = set(actor.units) | set(actor.manages) if unit == "mine" else {unit}
        q = q.where(Case.org_unit_id.in_(sorted(units)))
    if process:
        q = q.where(Case.process_key == process)
    if status:
        q = q.where(Case.status == status)
    if business_key:
        q = q.where(Case.business_key == business_key)
    if started_by:
        q = q.where(Case.started_by == (actor.name if started_by == "me" else started_by))
    if search:
        q = q.where(search_in.case_matches(engine, search))
    if overdue:
        q = q.where(Case.status != "completed", Case.deadline_at < engine.clock.now())
    for column, period in ((Case.created_at, started), (Case.completed_at, completed)):
        if period is not None:
            since, until = period
            q = q.where(column.is_not(None), *([column >= since] if since else []),
                        *([column < until] if until else []))
    if deadline_kept is not None:
        q = q.where(Case.status == "completed", Case.deadline_at.is_not(None),
                    Case.completed_at <= Case.deadline_at if deadline_kept else Case.completed_at > Case.deadline_at)
    with engine.db.read() as s:
        total = s.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
        rows = s.execute(q.order_by(Case.created_at.desc(), Case.id).limit(limit).offset(offset)).scalars().all()
        items: list[dict[str, Any]] = [
            {
                "id": c.id, "process_key": c.process_key, "process_name": engine.model(c.process_version_id).name,
                "business_key": c.business_key, "status": c.status, "started_by": c.started_by,
                "org_unit": c.org_unit_id, "created": c.created_at.isoformat(), "updated": c.updated_at.isoformat(),
                "completed": c.completed_at.isoformat() if c.completed_at else None,
                "deadline": c.deadline_at.isoformat() if c.deadline_at else None,
                "overdue": bool(c.status != "completed" and c.deadline_at is not None
                                and c.deadline_at < engine.clock.now()),
            }
            for c in rows
        ]
        steps: dict[str, list[str]] = {}
        if rows:
            for case_id, name in s.execute(
                sa.select(HumanTask.case_id, HumanTask.name)
                .where(HumanTask.case_id.in_([c.id for c in rows]), HumanTask.status == "open")
                .order_by(HumanTask.created_at, HumanTask.id)
            ):
                steps.setdefault(case_id, []).append(name)
        for item in items:
            item["current_steps"] = steps.get(item["id"], [])
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def retry_case(engine: Engine, actor: Actor, case_id: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Retry a case in incident, optionally after correcting its data; admins and the owner may."""
    require_writer(actor)
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("data ska vara ett JSON-objekt.")
    with locked_case(engine, case_id) as (s, case):
        if not may_see_case(s, case, actor, acting=True):
            raise Forbidden("Du har ingen uppgift eller roll i det här ärendet.")
        if case.status != "incident":
            raise Conflict("Ärendet har ingen incident att försöka igen.")
        work = CaseWork(engine, s, case)
        if data:
            data_limits.check_input(engine.settings, data, case.data)
            if forms.bad_keys(data):
                raise InvalidInput(f"Ogiltiga variabelnamn: {', '.join(forms.bad_keys(data))}")
            patch = json_safe(data)
            failing = incidents.failed_tasks(work.workflow)
            declared.check_retry(failing, case.incident_message, case.data or {}, patch,
                                 work.model.element_names.get(failing[0].task_spec.name, case.incident_element or "")
                                 if failing else case.incident_element or "")
            for task in work.workflow.get_tasks(state=TaskState.ERROR | TaskState.READY | TaskState.WAITING):
                task.data.update(patch)
            work.event("data_corrected", actor=actor.name, data={"data": patch})
        work.retry(actor.name, json_safe(data) if data else None)
        work.finish(actor.name)
        return case_json(engine, s, case, actor)
