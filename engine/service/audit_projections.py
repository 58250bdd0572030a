"""Projections an auditor relies on, checked against the chain events that say the same.

The rows queries read (who completed a step, who approved a version and how) are written beside
the history, not in it; someone who can write to the database could change them without touching
a chain. So each is compared with the event that records it, and a row that disagrees (or has no
event) is a finding naming the case or process and the event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..base import labels
from ..store.models import (
    CaseEvent,
    DelegatedDecision,
    HumanTask,
    ProcessEvent,
    ProcessVersion,
)

# What a finding is told: what it concerns ("case", "process"), the case id or process key, the
# event's number, and the message.
Finding = Callable[[str, str | None, int | None, str], None]

# The events after which a step's holder is what the event says (`data["assignee"]`; a transfer
# says it per moved task).
HOLDER_EVENTS = ("task_created", "task_claimed", "task_unclaimed", "task_assigned", "task_handed_over",
                 "task_reassigned", "escalation_step", "conflict_of_interest_declared", "task_completed",
                 "case_transferred")


def check_projections(s: Session, add: Finding, only: str | None = None) -> None:
    """Who completed a step, holds it, decided under which delegation and approved a version, as the
    rows say (`only`: that case's steps alone), against the chain events
    that say the same: a row changed without its event (or an event without its row) is a finding."""
    done: dict[str, tuple[str, str, str | None, int, dict[str, Any] | None]] = {}
    for case_id, task_id, actor, role, seq, data in s.execute(
            sa.select(CaseEvent.case_id, CaseEvent.task_id, CaseEvent.actor, CaseEvent.role, CaseEvent.seq,
                      CaseEvent.data).where(CaseEvent.type == "task_completed", *_of(CaseEvent.case_id, only))):
        done[task_id] = (case_id, actor, role, seq, (data or {}).get("delegation"))
    for task_id, case_id, by, role, name in s.execute(
            sa.select(HumanTask.id, HumanTask.case_id, HumanTask.completed_by, HumanTask.completed_role, HumanTask.name)
            .where(HumanTask.completed_by.is_not(None), *_of(HumanTask.case_id, only))):
        event = done.get(task_id)
        if event is None:
            add("case", case_id, None, f"Ärende {case_id}, steget ”{name}”: slutfört av {by} enligt "
                                       "uppgiften, men ingen händelse i historiken säger att det slutfördes.")
        elif event[1] != by or (event[2] or None) != (role or None):
            add("case", case_id, event[3], f"Ärende {case_id}, händelse {event[3]}: steget ”{name}” slutfördes "
                                           f"av {event[1]} ({event[2] or 'utan roll'}) enligt historiken, "
                                           f"men uppgiften anger {by} ({role or 'utan roll'}).")
    _check_delegated(s, add, done, only)
    _check_assignees(s, add, only)
    if only is None:
        check_approvals(s, add)


def check_approvals(s: Session, add: Finding, process: str | None = None) -> None:
    """Who approved each version and how, as the versions say, against the process history's
    `version_approved` events (`process`: that process's versions alone)."""
    approved: dict[tuple[str, int], tuple[str, str | None, int]] = {}
    version_event: tuple[str, str | None, int] | None
    uploaded: set[tuple[str, int]] = set()
    for key, version, type_, actor, data, seq in s.execute(
            sa.select(ProcessEvent.process_key, ProcessEvent.version, ProcessEvent.type, ProcessEvent.actor,
                      ProcessEvent.data, ProcessEvent.seq)
            .where(ProcessEvent.type.in_(("version_approved", "version_uploaded")),
                   *_of(ProcessEvent.process_key, process))):
        if type_ == "version_uploaded":
            uploaded.add((key, version))
        else:
            approved[(key, version)] = (actor, (data or {}).get("via"), seq)
    for key, version, by, via in s.execute(
            sa.select(ProcessVersion.key, ProcessVersion.version, ProcessVersion.approved_by,
                      ProcessVersion.approved_via).where(ProcessVersion.approved_by.is_not(None),
                                                         *_of(ProcessVersion.key, process))):
        version_event = approved.get((key, version))
        if version_event is None:
            if (key, version) in uploaded:  # versions from before the process history have no events
                add("process", key, None, f"Process {key}, version {version}: godkänd av {by} enligt "
                                                 "versionen, men ingen händelse i historiken säger det.")
        elif version_event[0] != by or version_event[1] != via:
            add("process", key, version_event[2], f"Process {key}, händelse {version_event[2]}: version "
                                                         f"{version} godkändes av {version_event[0]} "
                                                         f"({version_event[1]}) enligt historiken, men versionen anger "
                                                 f"{by} ({via}).")


def _of(column: Any, only: str | None) -> list[Any]:
    """The condition narrowing a query to one case or process (none for all)."""
    return [] if only is None else [column == only]


def _check_delegated(s: Session, add: Finding,
                     done: dict[str, tuple[str, str, str | None, int, dict[str, Any] | None]],
                     only: str | None) -> None:
    """The committee's report of decisions taken under delegation (who, under which role and
    delegation item) against the completion event that records the same decision."""
    for task_id, case_id, by, role, number, name in s.execute(
            sa.select(DelegatedDecision.task_id, DelegatedDecision.case_id, DelegatedDecision.decided_by,
                      DelegatedDecision.role, DelegatedDecision.item_number, DelegatedDecision.task_name)
            .where(*_of(DelegatedDecision.case_id, only))):
        event = done.get(task_id)
        used = event[4] if event is not None else None
        if event is None or not isinstance(used, dict):
            add("case", case_id, event[3] if event else None,
                f"Ärende {case_id}, beslutet ”{name}”: fattat av {by} på delegation (punkt {number}) enligt "
                "anmälan till nämnden, men ingen händelse i historiken säger att det fattades på delegation.")
        elif (event[1], event[2], str(used.get("item"))) != (by, role, number):
            add("case", case_id, event[3],
                f"Ärende {case_id}, händelse {event[3]}: beslutet ”{name}” fattades av {event[1]} som {event[2]} "
                f"enligt punkt {used.get('item')} enligt historiken, men anmälan till nämnden anger {by} som "
                f"{role} enligt punkt {number}.")


def _check_assignees(s: Session, add: Finding, only: str | None) -> None:
    """Who holds each step, as its row says, against the last event that moved or stated it
    (creation, claim, hand-over, assignment, reassignment, escalation, jäv, transfer, completion).
    An event of such a kind that does not state the holder (written before events did) leaves the
    step unchecked rather than guessed."""
    unknown = object()
    expected: dict[str, tuple[Any, str, int, str]] = {}
    for case_id, task_id, seq, type_, data in s.execute(
            sa.select(CaseEvent.case_id, CaseEvent.task_id, CaseEvent.seq, CaseEvent.type, CaseEvent.data)
            .where(CaseEvent.type.in_(HOLDER_EVENTS), *_of(CaseEvent.case_id, only))
            .order_by(CaseEvent.case_id, CaseEvent.seq)):
        data = data or {}
        if type_ == "case_transferred":
            for moved in data.get("tasks") or []:
                if isinstance(moved, dict) and moved.get("task_id"):
                    expected[moved["task_id"]] = (moved.get("assignee", unknown), case_id, seq, type_)
        elif task_id is not None:
            expected[task_id] = (data.get("assignee", unknown), case_id, seq, type_)
    for task_id, case_id, holder, name in s.execute(
            sa.select(HumanTask.id, HumanTask.case_id, HumanTask.assignee, HumanTask.name)
            .where(*_of(HumanTask.case_id, only))):
        said = expected.get(task_id)
        if said is None or said[0] is unknown or said[0] == holder:
            continue
        label = labels.EVENT_LABELS.get(said[3], said[3])
        add("case", case_id, said[2], f"Ärende {case_id}, händelse {said[2]} ({label}): steget ”{name}” är "
                                      f"tilldelat {said[0] or 'ingen'} enligt historiken, men uppgiften anger "
                                      f"{holder or 'ingen'}.")
