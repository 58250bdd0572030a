"""Firing what is due: the tick every scheduler runs, embedded or as separate workers.

A tick repeatedly takes the earliest due pending timer row and fires it in one transaction with
the change it causes: the row is claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has a
single writer), its case is locked without waiting (a busy case is skipped and retried next tick,
so a worker never waits on a case while holding a timer, and cannot deadlock with a handler), the
case is changed, and the row is marked fired in the same commit. A worker that dies mid-way
rolls back and the row stays pending for another: every firing happens once. After downtime the
backlog fires in due order, and each firing records how late it is.

APScheduler runs `tick` on an interval: in-process with ``rutin serve``, alone with
``rutin worker`` (any number of them against one PostgreSQL database).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from SpiffWorkflow.util.task import TaskState

from . import notifications, processes, timers
from .core import Engine
from .identity import Actor
from .models import Case, Timer, from_row
from .runtime import CaseWork

log = logging.getLogger(__name__)

SCHEDULER_ACTOR = Actor(name="scheduler", display_name="Rutins schemaläggare", roles=frozenset())
# Later than this, a firing says in its record and notifications that it comes late.
LATE_AFTER = timedelta(minutes=2)

_timers = cast(sa.Table, Timer.__table__)
_cases = cast(sa.Table, Case.__table__)


@dataclass
class TickResult:
    """What one tick did."""

    fired: int = 0
    cancelled: int = 0
    busy: int = 0
    late: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    emails: dict[str, int] = field(default_factory=dict)


class Scheduler:
    """Claims and fires due timers for one engine."""

    def __init__(self, engine: Engine, name: str | None = None):
        self.engine = engine
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        from . import absence, case_clock, escalation

        self.handlers = {
            "bpmn": self._fire_bpmn,
            "start": self._fire_start,
            "escalation": lambda s, row, case, now: escalation.fire(engine, s, row, case, now),
            "absence": lambda s, row, case, now: absence.fire_absence(engine, s, row, case, now),
            "case_deadline": lambda s, row, case, now: case_clock.fire(engine, s, row, case, now),
            "review": lambda s, row, case, now: processes.fire_review(engine, s, row, case, now),
        }

    def register(self, kind: str, handler: Any) -> None:
        """Add a handler for a timer kind: ``handler(session, timer_row, case_or_None, now) -> str``."""
        self.handlers[kind] = handler

    def tick(self, limit: int | None = None) -> TickResult:
        """Fire every timer due now (up to `limit`), earliest first; return what happened."""
        result = TickResult()
        skipped: list[int] = []
        while limit is None or result.fired + result.cancelled < limit:
            outcome = self._fire_next(skipped)
            if outcome is None:
                break
            kind, status, late = outcome
            if status == "busy":
                result.busy += 1
                continue
            if status == "fired":
                result.fired += 1
                result.kinds[kind] = result.kinds.get(kind, 0) + 1
                result.late += int(late)
            else:
                result.cancelled += 1
        result.emails = notifications.deliver(self.engine)
        return result

    def _fire_next(self, skipped: list[int]) -> tuple[str, str, bool] | None:
        now = self.engine.clock.now()
        with self.engine.db.write() as s:
            conn = s.connection()
            query = (
                sa.select(_timers)
                .where(_timers.c.status == "pending", _timers.c.due_at <= now)
                .order_by(_timers.c.due_at, _timers.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if skipped:
                query = query.where(_timers.c.id.not_in(skipped))
            row = conn.execute(query).mappings().first()
            if row is None:
                return None
            case = None
            if row["case_id"] is not None:
                found = conn.execute(
                    sa.select(_cases).where(_cases.c.id == row["case_id"]).with_for_update(skip_locked=True)
                ).mappings().first()
                if found is None:
                    exists = conn.execute(sa.select(_cases.c.id).where(_cases.c.id == row["case_id"])).first()
                    if exists is not None:
                        skipped.append(row["id"])
                        return row["kind"], "busy", False
                else:
                    case = from_row(Case, found)
            late = now - row["due_at"] > LATE_AFTER
            data = dict(row["data"] or {})
            if late:
                data["late_by_s"] = round((now - row["due_at"]).total_seconds())
            # Marked fired before the handler runs, so that what the handler schedules next (the
            # next cycle of a timer, say) is a new pending row, not this one moved.
            mark = sa.update(_timers).where(_timers.c.id == row["id"])
            conn.execute(mark.values(status="fired", fired_at=now, fired_by=self.name, data=data))
            handler = self.handlers.get(row["kind"])
            status = handler(s, row, case, now) if handler is not None else "cancelled"
            if status != "fired":
                conn.execute(mark.values(status=status))
            return row["kind"], status, late

    # -- the built-in kinds --------------------------------------------------------------------

    def _fire_bpmn(self, s: Any, row: Any, case: Case | None, now: datetime) -> str:
        if case is None or case.status != "active":
            return "cancelled"
        work = CaseWork(self.engine, s, case)
        task = work.spiff_task(row["task_id"])
        if task is None or not task.has_state(TaskState.WAITING):
            return "cancelled"
        late_by = (now - row["due_at"]).total_seconds()
        work.event("timer_fired", actor=SCHEDULER_ACTOR.name, element_id=work.model.original_id(task.task_spec.name),
                   data={"due": row["due_at"].isoformat(), "late_by_s": round(late_by) if late_by > 0 else 0})
        work.workflow.refresh_timers()
        work.run(SCHEDULER_ACTOR.name)
        work.sync(SCHEDULER_ACTOR.name)
        work.save()
        return "fired"

    def _fire_start(self, s: Any, row: Any, case: Case | None, now: datetime) -> str:
        from .cases import start_in

        conn = s.connection()
        try:
            version = processes.latest_version(conn, row["process_key"])
        except Exception:
            return "cancelled"
        data = dict(row["data"] or {})
        start_in(self.engine, s, SCHEDULER_ACTOR, version, {}, None, via="timer")
        cycles = data.get("cycles", 0)
        if data.get("every_s") and cycles != 1:
            nxt = row["due_at"] + timedelta(seconds=data["every_s"])
            conn.execute(timers.INSERT, {
                "kind": "start", "process_key": row["process_key"], "ref": row["ref"], "due_at": nxt,
                "status": "pending", "data": {**data, "cycles": cycles - 1 if cycles > 0 else -1},
            })
        return "fired"
