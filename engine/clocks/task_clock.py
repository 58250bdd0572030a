"""A task's clock: its escalation ladder and follow-up reminder as timer rows.

Each step of the task's ladder (`ladders`) is a timer row; the scheduler fires it once per due
date: completing or reassigning the task (a manager's assignment, a hand-over) cancels the
pending ones, and moving its due date makes a fresh ladder for the new date. A step that has
fired is never made again, and a ladder's own ``reassign_manager`` step leaves its later steps in
place. A task's follow-up date is a timer row too (kind ``follow_up``): its holder is reminded once.

Where a task's ladder comes from, first found: the step's ``rutin:escalation`` property, the
process owner's policy for the step, the policy's ``*`` entry (every step of the process), the
process's own ``rutin:escalation`` property, and the default.

What a step does when it fires is `engine.routing.escalation`'s.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import sqlalchemy as sa

from ..store.models import HumanTask
from . import deadlines, policies, timers
from .ladders import Step, default_ladder, parse
from .work import Work


def ladder_for(work: Work, row: HumanTask) -> list[Step]:
    """The task's ladder: the first of its sources that holds one valid for the task's kind."""
    step = work.step(row)
    decision = work.is_decision(row)
    rows = policies.for_process(work.engine, work.case.process_key)
    own, every = dict.get(rows, row.element_id), dict.get(rows, policies.EVERY_STEP)
    sources = [
        step.properties.get("rutin:escalation") if step is not None else None,
        own.escalation if own is not None else None,
        every.escalation if every is not None else None,
        work.model.properties.get("rutin:escalation"),
    ]
    for text in sources:
        if not text:
            continue
        try:
            return parse(text, decision=decision)
        except ValueError:
            # Unreadable, or a manager-chain action on a decision: the upload or the policy said
            # so; the next source applies.
            continue
    return parse(default_ladder(row, decision=decision), decision=decision)


def due_token(at: datetime) -> str:
    """The date a timer row is for, as stored: in UTC, however the instant was given."""
    return at.astimezone(UTC).isoformat()


def follow_up_reminder_at(follow_up: datetime) -> datetime:
    """When to remind of a follow-up date: at 08:00 on a follow-up day given as a whole day (its end,
    as day-based periods give it), else at the instant itself."""
    local = follow_up.astimezone(deadlines.STOCKHOLM)
    if local.time() >= time(23, 59):
        return datetime.combine(local.date(), time(8, 0), tzinfo=deadlines.STOCKHOLM).astimezone(follow_up.tzinfo)
    return follow_up


_OWN = sa.select(timers.TIMERS.c.id, timers.TIMERS.c.kind, timers.TIMERS.c.ref, timers.TIMERS.c.status,
                 timers.TIMERS.c.due_at, timers.TIMERS.c.data).where(
    timers.TIMERS.c.task_id == sa.bindparam("task_id"), timers.TIMERS.c.kind.in_(timers.TASK_KINDS),
    timers.TIMERS.c.status.in_(("pending", "fired", "failed", "cancelled")),
)
# Marks the steps a reassignment cancelled, so that they are not made again for the same due date.
_DROPPED = "reassigned"
# What a unit of work records when a person (not the ladder) gives the task to someone else.
_REASSIGNING_EVENTS = {"task_assigned", "task_handed_over"}


def _reassigned_now(work: Work, row: HumanTask) -> bool:
    """Whether this unit of work gave the task to someone else by assignment or hand-over."""
    return any(e.get("task_id") == row.id and e.get("type") in _REASSIGNING_EVENTS
               and (e.get("data") or {}).get("from") != (e.get("data") or {}).get("to")
               for e in work.events)


def schedule(work: Work, row: HumanTask, *, new: bool = False, reassigned: bool | None = None) -> None:
    """Bring a task's escalation steps and follow-up reminder in line with its dates and holder.

    Each step fires once per due date: one that has fired for the task's current due date is not
    made again, nor is one that fired for an earlier due date and whose instant under the new one
    has passed too. Steps still ahead are (re)created; one whose instant passed without firing (a
    task created or re-dated late) fires now. The follow-up reminder likewise, once per follow-up
    date. `new`: the task was just created and has no timer rows yet.

    `reassigned`: a person gave the task to someone else (an assignment, a hand-over). Its pending
    escalation steps are then cancelled, and stay so for that due date: the new holder starts
    without the old holder's ladder, until the due date is moved and a fresh one is made. When not
    given, it is whether this unit of work recorded such an assignment or hand-over of the task.
    """
    conn, now = work.conn, work.now
    if reassigned is None:
        reassigned = not new and _reassigned_now(work, row)
    pending: dict[tuple[str, str], Any] = {}
    done: dict[tuple[str, str], set[Any]] = {}
    dropped: dict[tuple[str, str], set[Any]] = {}
    if not new:
        for r in conn.execute(_OWN, {"task_id": row.id}):
            if r.status == "pending":
                pending[(r.kind, r.ref)] = r
            elif r.status != "cancelled":
                done.setdefault((r.kind, r.ref), set()).add((r.data or {}).get("for"))
            elif (r.data or {}).get("dropped") == _DROPPED:
                dropped.setdefault((r.kind, r.ref), set()).add((r.data or {}).get("for"))
    if reassigned and row.due_at is not None:
        token = due_token(row.due_at)
        ladder = {key: r for key, r in pending.items() if key[0] == "escalation"}
        for key, r in ladder.items():
            timers.P_SET_DATA.run(conn, {"b_id": r.id, "data": {**(r.data or {}), "for": token,
                                                                  "dropped": _DROPPED}}, scope=timers.TASK_SCOPE)
            dropped.setdefault(key, set()).add(token)
            del pending[key]
        if ladder:
            timers.P_CANCEL.run(conn, {"ids": [r.id for r in ladder.values()], "now": now}, scope=timers.TASK_SCOPE)
    wanted: dict[tuple[str, str], tuple[datetime, dict[str, Any]]] = {}

    def want(key: tuple[str, str], at: datetime, token: str, data: dict[str, Any]) -> None:
        fired = done.get(key, set())
        if token in fired or token in dropped.get(key, set()) or (fired and at <= now):
            return
        wanted[key] = (max(at, now), {**data, "for": token})

    if row.status == "open" and row.due_at is not None:
        token = due_token(row.due_at)
        for number, step in enumerate(ladder_for(work, row)):
            want(("escalation", str(number)), step.due(row.due_at), token,
                 {"action": step.action, "offset": f"{'-' if step.sign < 0 else '+'}{step.offset}"})
    if row.status == "open" and row.follow_up_at is not None:
        want(("follow_up", "0"), follow_up_reminder_at(row.follow_up_at), due_token(row.follow_up_at), {})
    gone = [r.id for key, r in pending.items() if key not in wanted]
    if gone:
        timers.P_CANCEL.run(conn, {"ids": gone, "now": now}, scope=timers.TASK_SCOPE)
    inserts = []
    for (kind, ref), (due, data) in wanted.items():
        existing = pending.get((kind, ref))
        if existing is None:
            inserts.append({"kind": kind, "case_id": row.case_id, "task_id": row.id, "ref": ref, "due_at": due,
                            "status": "pending", "data": data})
            continue
        if existing.due_at != due:
            timers.P_RESCHEDULE.run(conn, {"b_id": existing.id, "due": due}, scope=timers.TASK_SCOPE)
        if (existing.data or {}) != data:
            timers.P_SET_DATA.run(conn, {"b_id": existing.id, "data": data}, scope=timers.TASK_SCOPE)
    if inserts:
        timers.P_INSERT.run(conn, inserts, scope=timers.TASK_SCOPE)
