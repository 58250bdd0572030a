"""Human tasks: claiming, unclaiming, completing, assigning and handing them over (the lists are
`engine.service.inbox`).

Every change happens under the case lock, so of two people acting on one task at once
exactly one wins and the other gets a conflict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from ..authority import identity, org
from ..authority.identity import Actor, require_writer
from ..authority.roles import role_key
from ..base import data_limits, forms
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..clocks import case_clock, task_clock, timers
from ..core import Engine
from ..execution.runtime import CaseWork, load_task, locked_case, locked_task_case
from ..execution.step_data import json_safe
from ..routing import delegation
from ..store.models import HumanTask
from . import declared
from .assignees import holds_step_role
from .cases import may_see_case
from .views import candidates_of, is_candidate, oversees, task_json

# A deadline change says why in at most this many characters (it goes into the case history).
REASON_MAX = 500


def _acting_role(actor: Actor, row: HumanTask) -> str | None:
    """The role under which the actor acts on the task (as the diagram names it)."""
    roles, _ = candidates_of(row)
    held = sorted(actor.roles & roles)
    if row.role and any(h.split("@")[0] == role_key(row.role) for h in held):
        return row.role
    if held:
        # The role as the person holds it ("Bygglovshandläggare"), not its matching key, where
        # the diagram names it otherwise (a lane "Handläggare bygglov", an alias of it).
        key = held[0].split("@")[0]
        return next((n for n in actor.role_names if role_key(n) == key), key)
    return "admin" if actor.is_admin else None


def may_see_task(actor: Actor, row: HumanTask, *, acting: bool = False) -> bool:
    """Whether the actor may see the task (or, `acting`, act on it: an auditor only reads)."""
    return ((actor.is_admin if acting else actor.is_auditor) or actor.name in (row.assignee, row.completed_by)
            or is_candidate(actor, row) or (row.org_unit_id is not None and row.org_unit_id in actor.manages))


def _load(s: Session, task_id: str, actor: Actor, *, acting: bool = False) -> HumanTask:
    row = load_task(s, task_id)
    if row is None:
        raise NotFound(f"Uppgiften {task_id} finns inte.")
    if not may_see_task(actor, row, acting=acting):
        raise Forbidden("Uppgiften hör inte till någon av dina roller.")
    return row


def _check_separation(work: CaseWork, row: HumanTask, actor: Actor) -> None:
    """Separation of duties: a step may require someone other than whoever did another step."""
    # Both ways: the step naming another, and any step that names this one, so that two steps
    # open at once (parallel branches) cannot both be done by one person in either order.
    partners = [other] if (other := _separate_from(work.step(row))) else []
    partners += [st.element_id for st in work.model.steps.values()
                 if _separate_from(st) in (row.element_id, row.spec_name)]
    if not partners:
        return
    done = work.s.execute(
        sa.select(HumanTask.element_id).where(
            HumanTask.case_id == work.case.id, HumanTask.status == "completed",
            HumanTask.completed_by == actor.name,
            sa.or_(HumanTask.element_id.in_(partners), HumanTask.spec_name.in_(partners)),
        ).limit(1)
    ).scalar()
    if done is not None:
        raise Forbidden("Det här steget måste utföras av någon annan än den som utförde "
                        f"{work.model.element_names.get(done, done)!r} (åtskillnad av arbetsuppgifter).")


def _separate_from(step: Any) -> str | None:
    if step is None:
        return None
    return step.properties.get("rutin:separateFrom") or step.properties.get("rutin:separate_from") or None


def get_task(engine: Engine, actor: Actor, task_id: str) -> dict[str, Any]:
    """One task the actor may see."""
    with engine.db.read() as s:
        return task_json(engine, _load(s, task_id, actor), actor)


def _open_for_action(s: Session, task_id: str, actor: Actor) -> HumanTask:
    # Whoever may not act on the task learns nothing of its state or holder.
    row = _load(s, task_id, actor, acting=True)
    if row.status != "open":
        raise Conflict(f"Uppgiften är redan {'avslutad' if row.status == 'completed' else 'avbruten'}.",
                       task_status=row.status)
    return row


def _reach(engine: Engine, s: Session, case: Any, task_id: str, actor: Actor) -> tuple[HumanTask, CaseWork]:
    """The open task an actor would complete, and its case's unit of work.

    Who may not see the task, and does not hold the authority for it as a decision (a substitute
    or superior may decide without holding the role that prepares it), is refused before anything
    about the task's state or holder is told.
    """
    row = load_task(s, task_id)
    if row is None:
        raise NotFound(f"Uppgiften {task_id} finns inte.")
    work = CaseWork(engine, s, case)
    if not may_see_task(actor, row, acting=True) and not (work.is_decision(row) and _can_decide(work, row, actor)):
        raise Forbidden("Uppgiften hör inte till någon av dina roller.")
    if row.status != "open":
        raise Conflict(f"Uppgiften är redan {'avslutad' if row.status == 'completed' else 'avbruten'}.",
                       task_status=row.status)
    return row, work


def claim(engine: Engine, actor: Actor, task_id: str) -> dict[str, Any]:
    """Take an unassigned task; a conflict if someone else has it."""
    require_writer(actor)
    with locked_task_case(engine, task_id) as (s, case):
        row = _open_for_action(s, task_id, actor)
        if row.assignee == actor.name:
            return task_json(engine, row, actor)
        if row.assignee is not None:
            raise Conflict(f"Uppgiften är redan tagen av {row.assignee}.", assignee=row.assignee)
        if not (is_candidate(actor, row) or actor.is_admin):
            raise Forbidden("Uppgiften hör inte till någon av dina roller.")
        work = CaseWork(engine, s, case)
        if actor.name in delegation.declared_conflict(work, row):
            raise Forbidden("Du har anmält jäv i ärendet och kan inte ta beslutet.")
        _check_separation(work, row, actor)
        row.assignee = actor.name
        work.event("task_claimed", actor=actor.name, role=_acting_role(actor, row), task_id=row.id,
                   element_id=row.element_id, data={"name": row.name, "assignee": row.assignee})
        case.revision += 1
        return task_json(engine, row, actor)


def unclaim(engine: Engine, actor: Actor, task_id: str) -> dict[str, Any]:
    """Give a claimed task back to its roles; only its assignee (or an admin) may."""
    require_writer(actor)
    with locked_task_case(engine, task_id) as (s, case):
        row = _open_for_action(s, task_id, actor)
        if row.assignee is None:
            if not (is_candidate(actor, row) or actor.is_admin):
                raise Forbidden("Uppgiften hör inte till någon av dina roller.")
            return task_json(engine, row, actor)
        if row.assignee != actor.name and not actor.is_admin:
            raise Forbidden(f"Uppgiften är tagen av {row.assignee}; bara hen kan lämna tillbaka den.")
        work = CaseWork(engine, s, case)
        previous = row.assignee
        row.assignee = None
        work.event("task_unclaimed", actor=actor.name, role=_acting_role(actor, row), task_id=row.id,
                   element_id=row.element_id, data={"name": row.name, "previous_assignee": previous, "assignee": None})
        case.revision += 1
        return task_json(engine, row, actor)


def complete(engine: Engine, actor: Actor, task_id: str, data: dict[str, Any] | None = None,
             choice: Any = None, *, no_conflict_of_interest: bool | None = None) -> dict[str, Any]:
    """Complete a task with form data, or a decision with a choice; the case then runs on.

    A decision under the delegation ordinance needs the authority for it (not only the role that
    does the work) and the decider's confirmation that no conflict of interest exists.
    """
    require_writer(actor)
    if data is not None and not isinstance(data, dict):
        raise InvalidInput("data ska vara ett JSON-objekt.")
    data_limits.check_input(engine.settings, data or {})  # before anything walks it: depth and sizes
    bad = forms.bad_keys(data or {})  # before `json_safe`, which drops "_" names without a word
    data = json_safe(data or {})
    if bad:
        raise InvalidInput(f"Ogiltiga fältnamn: {', '.join(map(str, bad))}")
    return engine.db.optimistic(lambda sent: _complete(engine, actor, task_id, sent, choice,
                                                       no_conflict_of_interest), data)


def _complete(engine: Engine, actor: Actor, task_id: str, data: dict[str, Any], choice: Any,
              no_conflict_of_interest: bool | None) -> dict[str, Any]:
    with locked_task_case(engine, task_id) as (s, case):
        row, work = _reach(engine, s, case, task_id, actor)
        authority = None
        decision = work.is_decision(row)
        if decision:
            authority = delegation.authority(work, row, actor)
        if row.assignee is not None and row.assignee != actor.name and not actor.is_admin:
            raise Conflict(f"Uppgiften är tagen av {row.assignee}.", assignee=row.assignee)
        if decision:
            if no_conflict_of_interest is not True:
                raise InvalidInput("Bekräfta att du inte är jävig (no_conflict_of_interest: true), "
                                   "eller anmäl jäv så går beslutet till ersättaren.")
        elif row.assignee is None and not (is_candidate(actor, row) or actor.is_admin):
            raise Forbidden("Uppgiften hör inte till någon av dina roller.")
        _check_separation(work, row, actor)
        step = work.model.steps.get(row.spec_name)
        task = work.spiff_task(row.id)
        if task is None or not task.has_state(TaskState.READY):
            raise Conflict("Uppgiften är inte längre aktiv i ärendet.")
        event_data: dict[str, Any] = {"name": row.name}
        if step is not None and step.kind == "decision":
            chosen = _choose(step, choice)
            data = declared.check_step(step, row.name, data, engine.settings, work.case.data, task.data,
                                       now=engine.clock.now())
            gateway = step.element_id
            prior = task.data.get("rutin_beslut")  # the engine's own; never taken from a client
            decisions = dict(prior) if isinstance(prior, dict) else {}
            decisions[gateway] = chosen if step.multiple else chosen[0]
            task.data.update(data)
            task.data["rutin_beslut"] = decisions
            names = {o.id: o.name for o in step.options}
            event_data.update(choice=chosen if step.multiple else chosen[0],
                              choice_name=[names[c] for c in chosen] if step.multiple else names[chosen[0]])
            if data:
                event_data["data"] = data
            result: dict[str, Any] = {"choice": event_data["choice"], "choice_name": event_data["choice_name"]}
        else:
            if choice is not None:
                raise InvalidInput("Uppgiften är inget beslut; skicka data, inte choice.")
            cleaned = declared.check_step(step, row.name, data, engine.settings, work.case.data, task.data,
                                       now=engine.clock.now())
            task.data.update(cleaned)
            event_data["data"] = cleaned
            result = {"data": cleaned}
        role = _acting_role(actor, row)
        if authority is not None:
            item, role, grounds = authority
            event_data["delegation"] = {"item": item.number, "item_id": item.id, "grounds": grounds,
                                        "committee": item.committee, "reporting": item.reporting}
            event_data["no_conflict_of_interest"] = True
            delegation.record(work, row, actor, item, role, grounds, result)
        if row.assignee is None:
            row.assignee = actor.name
        row.status = "completed"
        row.completed_at = work.now
        row.completed_by = actor.name
        row.completed_role = role
        row.result = result
        event_data["assignee"] = row.assignee
        work.drop_candidates(row.id)
        if row.due_at is not None or row.follow_up_at is not None:  # only these have timer rows
            timers.cancel_task_timers(work.conn, row.id, work.now)
        case_clock.extend(work, row, actor.name)
        work.event("task_completed", actor=actor.name, role=role, task_id=row.id, element_id=row.element_id,
                   data=event_data)
        work.run(actor.name, task.run)  # a failure after the completion is the case's incident
        # On PostgreSQL written with the commit, in one round trip: the answer reads nothing back.
        work.finish(actor.name, write=engine.db.is_sqlite)
        open_rows = sorted(work.open_rows, key=lambda r: (r.created_at, r.id))
        return {
            "task": task_json(engine, row, actor),
            "case": {"id": case.id, "status": case.status, "revision": case.revision,
                     "incident": {"element_id": case.incident_element,
                                  "element_name": work.model.element_names.get(case.incident_element or ""),
                                  "message": case.incident_message}
                     if case.status == "incident" else None,
                     "open_tasks": [task_json(engine, r, actor) for r in open_rows]},
        }


def _choose(step: Any, choice: Any) -> list[str]:
    """The flow ids a decision's choice names (by flow id or by name, case-insensitively)."""
    if choice is None or choice == [] or choice == "":
        raise InvalidInput("Beslutet kräver ett val (choice).",
                           options=[{"id": o.id, "name": o.name} for o in step.options])
    values = choice if isinstance(choice, list) else [choice]
    if len(values) > 1 and not step.multiple:
        raise InvalidInput("Beslutet tillåter bara ett val.")
    chosen = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidInput("choice ska vara ett flödes id eller namn.")
        match = [o for o in step.options if o.id == value] or [
            o for o in step.options if o.name.casefold() == value.strip().casefold()
        ]
        if len(match) != 1:
            raise InvalidInput(
                f"{value!r} är inget av beslutets alternativ.",
                options=[{"id": o.id, "name": o.name} for o in step.options],
            )
        chosen.append(match[0].id)
    return list(dict.fromkeys(chosen))


# -- what handlers and managers do with tasks besides completing them -----------------------------


def assign(engine: Engine, actor: Actor, task_id: str, user: str) -> dict[str, Any]:
    """Assign a task to a person (managers of its unit and admins); pending escalation steps are cancelled."""
    require_writer(actor)

    target = identity.get_actor(engine, user)
    with locked_task_case(engine, task_id) as (s, case):
        row = _open_for_action(s, task_id, actor)
        if not oversees(actor, row):
            raise Forbidden("Bara chefen för uppgiftens enhet (eller en administratör) kan tilldela den.")
        work = CaseWork(engine, s, case)
        if not (is_candidate(target, row) or holds_step_role(engine, row, target)
                or (work.is_decision(row) and _can_decide(work, row, target))):
            raise InvalidInput(f"{target.display_name or user} har inte rollen som uppgiften kräver.")
        _check_present_and_free(work, row, target)
        _check_separation(work, row, target)
        previous, row.assignee = row.assignee, user
        work.event("task_assigned", actor=actor.name, role=_overseer_role(engine, actor, row.org_unit_id) or "chef",
                   task_id=row.id, element_id=row.element_id,
                   data={"name": row.name, "from": previous, "to": user, "assignee": user})
        task_clock.schedule(work, row, reassigned=previous != user)
        return task_json(engine, row, actor)


def _check_present_and_free(work: CaseWork, row: HumanTask, person: Actor) -> None:
    """An absent person gets no new tasks, and one who declared jäv on a decision gets it no more."""
    if work.router.away(person.name):
        raise InvalidInput(f"{person.display_name or person.name} är frånvarande och kan inte få nya uppgifter; "
                           "välj någon annan.")
    if person.name in delegation.declared_conflict(work, row):
        raise InvalidInput(f"{person.name} har anmält jäv i ärendet och kan inte få beslutet.")


def _can_decide(work: CaseWork, row: HumanTask, person: Actor) -> bool:
    try:
        delegation.authority(work, row, person)
    except (Forbidden, InvalidInput):
        return False
    return True


def hand_over(engine: Engine, actor: Actor, task_id: str, user: str) -> dict[str, Any]:
    """Hand one's task over to another holder of the same role."""
    require_writer(actor)

    target = identity.get_actor(engine, user)
    with locked_task_case(engine, task_id) as (s, case):
        row = _open_for_action(s, task_id, actor)
        if row.assignee != actor.name and not actor.is_admin:
            raise Forbidden("Bara den som har uppgiften kan lämna över den.")
        if not is_candidate(target, row):
            raise InvalidInput(f"{user} har inte rollen {row.role!r}.")
        work = CaseWork(engine, s, case)
        _check_present_and_free(work, row, target)
        _check_separation(work, row, target)
        row.assignee = user
        work.event("task_handed_over", actor=actor.name, role=_acting_role(actor, row), task_id=row.id,
                   element_id=row.element_id, data={"name": row.name, "from": actor.name, "to": user, "assignee": user})
        task_clock.schedule(work, row, reassigned=True)
        return task_json(engine, row, actor)


def update(engine: Engine, actor: Actor, task_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """Change a task's priority, due date or follow-up date (its assignee, a manager, an admin)."""
    require_writer(actor)

    allowed = {"priority", "due", "follow_up", "reason"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"Okända fält: {', '.join(sorted(unknown))}.")
    reason = changes.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > REASON_MAX):
        raise InvalidInput(f"reason ska vara en text på högst {REASON_MAX} tecken.")
    reason = reason.strip() if reason else None
    with locked_task_case(engine, task_id) as (s, case):
        row = _open_for_action(s, task_id, actor)
        if row.assignee != actor.name and not oversees(actor, row):
            raise Forbidden("Bara den som har uppgiften, dess chef eller en administratör kan ändra den.")
        work = CaseWork(engine, s, case)
        before = {"priority": row.priority, "due": _iso(row.due_at), "follow_up": _iso(row.follow_up_at)}
        if "priority" in changes:
            p = changes["priority"]
            if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p <= 100:
                raise InvalidInput("priority ska vara ett heltal 0–100.")
            row.priority = p
        for field, column in (("due", "own_due_at"), ("follow_up", "follow_up_at")):
            if field in changes:
                value = changes[field]
                setattr(row, column, forms.instant(value, field) if value is not None else None)
        if "due" in changes:  # a step bound by the case deadline stays within it, whatever is asked
            row.due_at = case_clock.capped_due(work, row)
        after = {"priority": row.priority, "due": _iso(row.due_at), "follow_up": _iso(row.follow_up_at)}
        mine = row.assignee == actor.name
        role = _acting_role(actor, row) if mine else _overseer_role(engine, actor, row.org_unit_id)
        work.event("task_updated", actor=actor.name, role=role, task_id=row.id,
                   element_id=row.element_id, data={"name": row.name, "before": before, "after": after,
                         **({"reason": reason} if reason else {})})
        if before["due"] != after["due"] or before["follow_up"] != after["follow_up"]:
            task_clock.schedule(work, row)
        return task_json(engine, row, actor)


def _overseer_role(engine: Engine, actor: Actor, unit_id: str | None) -> str | None:
    """The role of someone acting on a unit's task or case as its manager (as the org names that
    role, in the unit or above), or as an administrator."""
    t = org.tree(engine)
    for unit in t.chain(unit_id):
        role = t.units[unit].manager_role
        if role and actor.holds(t.canonical(role), unit):
            return role
    return "admin" if actor.is_admin else None


def _case_role(engine: Engine, s: Session, case: Any, actor: Actor) -> str | None:
    """The role under which someone acts on a case as a whole: that of their task in it, else
    their unit's manager role, else admin."""
    rows = s.execute(sa.select(HumanTask).where(HumanTask.case_id == case.id)
                     .order_by(HumanTask.created_at, HumanTask.id)).scalars().all()
    for row in rows:
        if actor.name in (row.assignee, row.completed_by) or is_candidate(actor, row):
            done_as = row.completed_role if row.completed_by == actor.name else None
            return done_as or _acting_role(actor, row)
    for unit in [case.org_unit_id, *(r.org_unit_id for r in rows)]:
        role = _overseer_role(engine, actor, unit)
        if role and role != "admin":
            return role
    return "admin" if actor.is_admin else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def comment(engine: Engine, actor: Actor, *, text: str, case_id: str | None = None,
            task_id: str | None = None) -> dict[str, Any]:
    """A comment on a case or a task, kept in the case's history."""
    require_writer(actor)

    if not isinstance(text, str) or not text.strip() or len(text) > 10_000:
        raise InvalidInput("Kommentaren ska vara text (1–10 000 tecken).")
    if task_id is not None:
        with locked_task_case(engine, task_id) as (s, case):
            row = _load(s, task_id, actor)
            if not (is_candidate(actor, row) or actor.name in (row.assignee, row.completed_by)
                    or oversees(actor, row)):
                raise Forbidden("Bara de som arbetar med uppgiften, deras chef eller en administratör kan kommentera.")
            if case.status == "culled":
                raise Conflict("Ärendet är gallrat; det tar inte emot kommentarer.")
            work = CaseWork(engine, s, case)
            working = is_candidate(actor, row)
            role = _acting_role(actor, row) if working else _overseer_role(engine, actor, row.org_unit_id)
            work.event("comment", actor=actor.name, role=role or _acting_role(actor, row), task_id=row.id,
                       element_id=row.element_id, data={"text": text.strip()})
            return {"case_id": case.id, "task_id": row.id, "author": actor.name, "text": text.strip(),
                    "at": work.now.isoformat()}
    assert case_id is not None
    with locked_case(engine, case_id) as (s, case):
        if not may_see_case(s, case, actor, acting=True):
            raise Forbidden("Du har ingen uppgift eller roll i det här ärendet.")
        if case.status == "culled":
            raise Conflict("Ärendet är gallrat; det tar inte emot kommentarer.")
        work = CaseWork(engine, s, case)
        work.event("comment", actor=actor.name, role=_case_role(engine, s, case, actor), data={"text": text.strip()})
        return {"case_id": case.id, "task_id": None, "author": actor.name, "text": text.strip(),
                "at": work.now.isoformat()}
