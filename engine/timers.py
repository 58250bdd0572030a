"""Timer rows: every instant something is due is a row with that instant, indexed.

A case's timer rows are brought in line with its workflow in the same transaction as every other
change to the case (`sync`), so the scheduler finds due timers with one indexed query and never
loads a case to learn whether it has a timer. Kinds:

- ``bpmn``: a waiting BPMN timer event (intermediate, boundary, event-based gateway branch);
  ``task_id`` is the SpiffWorkflow task, ``due_at`` what SpiffWorkflow computed on our clock;
- ``start``: the next scheduled start of a process with a timer start event (``process_key``);
- ``escalation``: one step of a human task's escalation ladder (``task_id`` the human task,
  ``ref`` the step number).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

from .models import Timer

_timers = cast(sa.Table, Timer.__table__)
PENDING_OF_CASE = sa.select(_timers.c.id, _timers.c.task_id, _timers.c.ref, _timers.c.due_at).where(
    _timers.c.case_id == sa.bindparam("case_id"), _timers.c.kind == sa.bindparam("kind"),
    _timers.c.status == "pending",
)
INSERT = sa.insert(_timers)
CANCEL = sa.update(_timers).where(_timers.c.id.in_(sa.bindparam("ids", expanding=True))).values(
    status="cancelled", fired_at=sa.bindparam("now"))
RESCHEDULE = sa.update(_timers).where(_timers.c.id == sa.bindparam("b_id")).values(due_at=sa.bindparam("due"))


def _parse(value: Any) -> datetime | None:
    if isinstance(value, dict):
        value = value.get("next")
    if not isinstance(value, str):
        return None
    try:
        return TimerEventDefinition.get_datetime(value)
    except ValueError:
        try:
            parsed = TimerEventDefinition.parse_time_or_duration(value)
        except Exception:
            return None
        return parsed if isinstance(parsed, datetime) else None


def due_bpmn_timers(workflow: BpmnWorkflow) -> dict[str, datetime]:
    """The waiting timer events of a workflow and when each is due, by SpiffWorkflow task id."""
    due: dict[str, datetime] = {}
    for task in list(workflow.event_manager.tasks.values()):
        definition = getattr(task.task_spec, "event_definition", None)
        definitions = getattr(definition, "event_definitions", None) or [definition]
        for d in definitions:
            if not isinstance(d, TimerEventDefinition):
                continue
            value = task.internal_data.get("event_value")
            if isinstance(d, CycleTimerEventDefinition) and isinstance(value, dict) and value.get("cycles") == 0:
                continue
            instant = _parse(value)
            if instant is not None:
                due[str(task.id)] = min(instant, due.get(str(task.id), instant))
    return due


def sync(conn: sa.Connection, case_id: str, kind: str, desired: dict[str, datetime], now: datetime,
         **extra: Any) -> None:
    """Make the case's pending timers of `kind` exactly `desired` (keyed by task id or ref)."""
    key_column = "task_id" if kind == "bpmn" else "ref"
    existing = {getattr(r, key_column): r for r in conn.execute(PENDING_OF_CASE, {"case_id": case_id, "kind": kind})}
    gone = [r.id for k, r in existing.items() if k not in desired]
    if gone:
        conn.execute(CANCEL, {"ids": gone, "now": now})
    for key, due in desired.items():
        row = existing.get(key)
        if row is None:
            conn.execute(INSERT, {"kind": kind, "case_id": case_id, key_column: key, "due_at": due,
                                  "status": "pending", "data": {}, **extra})
        elif row.due_at != due:
            conn.execute(RESCHEDULE, {"b_id": row.id, "due": due})


CANCEL_TASK = (
    sa.update(_timers)
    .where(_timers.c.task_id == sa.bindparam("b_task_id"), _timers.c.kind == "escalation",
           _timers.c.status == "pending")
    .values(status="cancelled", fired_at=sa.bindparam("b_now"))
)


def cancel_task_timers(conn: sa.Connection, task_id: str, now: datetime) -> None:
    """Cancel the pending escalation steps of a human task (completed, cancelled or reassigned)."""
    conn.execute(CANCEL_TASK, {"b_task_id": task_id, "b_now": now})


def has_timers(spec: Any, subprocess_specs: dict[str, Any]) -> bool:
    """Whether any task of a process (or its subprocesses) waits on a timer."""
    for s in [spec, *subprocess_specs.values()]:
        for task_spec in s.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            definitions = getattr(definition, "event_definitions", None) or [definition]
            if any(isinstance(d, TimerEventDefinition) for d in definitions):
                return True
    return False
