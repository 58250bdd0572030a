"""The case record (ärendeakt) an auditor samples: one case from start to end on one page.

Per step: who did it (display name), under which role and unit, the delegation item and the jäv
confirmation for a decision, planned and actual dates and whether it was on time (a completed step
finished after its due date was late, though it is no longer "overdue"), every change of its due
date (who, from, to, why), every change of who held it, comments and late timers. Around them: the
process version the case ran on and who approved it how, the case's statutory deadline and its
changes, and the chain verification of this case's history (`verification.verify_case`), so that
what the page says is shown to be what the sealed history says. What each step recorded (the
form's values as its completion event holds them: a deviation's cause, its corrective action,
whether it was effective) stands beside the step, and a deviation says what it concerns (the
case and step it was reported from, or the measure and period out of target that opened it), so
a nonconformity is followed to its corrective action and effectiveness check on this one page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..authority.identity import Actor
from ..base.errors import Forbidden, NotFound
from ..core import Engine
from ..records import history
from ..store.models import Case, DelegationItem, HumanTask, OrgUnit, ProcessVersion, User
from .cases import may_see_case
from .deviations import links as deviation_links
from .verification import verify_case

# Events that change who holds a step, and those that change its due date.
HOLDER_CHANGES = ("task_claimed", "task_unclaimed", "task_assigned", "task_handed_over", "task_reassigned",
                  "conflict_of_interest_declared")
DUE_CHANGES = ("task_updated", "task_due_moved")
DEADLINE_EVENTS = ("case_clock_started", "case_clock_extended", "case_clock_not_extended", "case_clock_paused",
                   "case_clock_resumed", "case_clock_stopped", "case_clock_restarted", "case_clock_recounted",
                   "case_deadline_passed")
# A timer that fired this much after its instant fired late (after downtime), as escalation counts it.
LATE_AFTER_S = 120


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _lateness(due: datetime | None, done: datetime | None, now: datetime) -> dict[str, Any]:
    """On time or late, and by how much: against completion, or against now for an open step."""
    if due is None:
        return {"on_time": None, "late_by_s": 0}
    until = done or now
    late = (until - due).total_seconds()
    return {"on_time": late <= 0, "late_by_s": max(0, int(late)), "open": done is None}


def case_record(engine: Engine, actor: Actor, case_id: str) -> dict[str, Any]:
    """The record of one case the actor may see (404 if none, 403 if not theirs)."""
    now = engine.clock.now()
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(f"Ärendet {case_id} finns inte.")
        if not may_see_case(s, case, actor):
            raise Forbidden("Du har ingen uppgift eller roll i det här ärendet.")
        events = [history.to_json(e) for e in history.events(s, case_id)]
        rows = list(s.execute(sa.select(HumanTask).where(HumanTask.case_id == case_id)
                              .order_by(HumanTask.created_at, HumanTask.id)).scalars())
        version = s.execute(sa.select(ProcessVersion).where(ProcessVersion.id == case.process_version_id)).scalar_one()
        people = {e["actor"] for e in events} | {case.started_by, version.uploaded_by, version.approved_by}
        people |= {r.completed_by for r in rows} | {r.assignee for r in rows}
        names = dict(s.execute(sa.select(User.name, User.display_name)
                               .where(User.name.in_([p for p in people if p]))).all())
        units: dict[Any, Any] = dict(s.execute(sa.select(OrgUnit.id, OrgUnit.name)).all())
        item_ids = {e["data"]["delegation"].get("item_id") for e in events
                    if isinstance(e["data"].get("delegation"), dict)}
        items: dict[Any, str] = {i.id: i.title for i in s.execute(sa.select(DelegationItem)
                                                  .where(DelegationItem.id.in_([i for i in item_ids if i]))).scalars()}
        case_json = {"id": case.id, "business_key": case.business_key, "process_key": case.process_key,
                     "status": case.status, "started_by": case.started_by, "created": _iso(case.created_at),
                     "completed": _iso(case.completed_at), "org_unit": units.get(case.org_unit_id, case.org_unit_id),
                     "deadline": _iso(case.deadline_at), "deadline_extended": case.deadline_extended}
    labels = {f.id: f.label or f.id for st in engine.model(version.id).steps.values() for f in st.form}
    by_task: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        if e["task_id"]:
            by_task.setdefault(e["task_id"], []).append(e)
    steps = []
    for r in rows:
        mine = by_task.get(r.id, [])
        done = next((e for e in mine if e["type"] == "task_completed"), None)
        delegation = (done or {}).get("data", {}).get("delegation")
        if isinstance(delegation, dict):
            delegation = {**delegation, "title": items.get(delegation.get("item_id"))}
        steps.append({
            "id": r.id, "name": r.name, "kind": r.kind, "status": r.status, "role": r.completed_role or r.role,
            "unit": units.get(r.org_unit_id, r.org_unit_id), "created": _iso(r.created_at), "due": _iso(r.due_at),
            "completed": _iso(r.completed_at), "completed_by": r.completed_by, "assignee": r.assignee,
            "delegation": delegation if isinstance(delegation, dict) else None,
            "no_conflict_of_interest": bool((done or {}).get("data", {}).get("no_conflict_of_interest")),
            "choice": (done or {}).get("data", {}).get("choice_name"),
            "entered": [{"field": k, "label": labels.get(k, k), "value": v}
                        for k, v in ((done or {}).get("data", {}).get("data") or {}).items()],
            **_lateness(r.due_at, r.completed_at, now),
            "due_changes": [e for e in mine if e["type"] in DUE_CHANGES],
            "holders": [e for e in mine if e["type"] in HOLDER_CHANGES],
            "comments": [e for e in mine if e["type"] == "comment"],
            "escalations": [e for e in mine if e["type"] in ("escalation_step", "follow_up_reminder")],
        })
    return {
        "case": case_json,
        "version": {"key": version.key, "version": version.version, "status": version.status,
                    "uploaded_by": version.uploaded_by, "uploaded_at": _iso(version.uploaded_at),
                    "approved_by": version.approved_by, "approved_via": version.approved_via,
                    "approved_at": _iso(version.approved_at)},
        "steps": steps,
        "deadline_events": [e for e in events if e["type"] in DEADLINE_EVENTS],
        "case_events": [e for e in events if not e["task_id"]],
        "late_timers": [e for e in events if e["type"] in ("timer_fired", "scheduled_start_late")
                        and (e["data"].get("late_by_s") or 0) > LATE_AFTER_S],
        "names": names,
        "deviation": deviation_links(engine, actor, case_id),
        "verification": verify_case(engine, case_id),
        "printed_at": now.isoformat(),
        "printed_by": actor.name,
    }
