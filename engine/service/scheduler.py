"""Firing what is due: the tick every scheduler runs, embedded or as separate workers.

A tick repeatedly takes the earliest due pending timer row and fires it in one transaction with
the change it causes: the row is claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite has a
single writer), its case is locked without waiting (a busy case is skipped and retried next tick,
so a worker never waits on a case while holding a timer, and cannot deadlock with a handler), the
case is changed, and the row is marked fired in the same commit. A worker that dies mid-way
rolls back and the row stays pending for another: every firing happens once. After downtime the
backlog fires in due order, and each firing records how late it is.

A handler that fails rolls its transaction back; the failure is then recorded on the row in a
transaction of its own (attempts, last error, a later due instant with back-off) and the tick
goes on with the next row, so one broken timer never stops the others. After `MAX_ATTEMPTS` the
row is marked ``failed`` and the administrators are told.

APScheduler runs `tick` on an interval: in-process with ``rutin serve``, alone with
``rutin worker`` (any number of them against one PostgreSQL database). E-mail delivery is a job
of its own beside it (`notifications.deliver`), so a slow mail server never holds up a timer.
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
from sqlalchemy.orm import Session

from ..authority.identity import Actor
from ..authority.roles import ADMIN
from ..base.clock import Clock
from ..base.errors import RutinError
from ..catalogue import processes
from ..clocks import spiff_clock, timers
from ..core import Engine
from ..execution.runtime import CaseWork, lock_case
from ..routing import absence, case_deadline, escalation, notifications
from ..store.models import Case, Timer, User, UserRole, from_row
from . import process_review
from .cases import start_in

log = logging.getLogger(__name__)

SCHEDULER_ACTOR = Actor(name="scheduler", display_name="Rutins schemaläggare", roles=frozenset())
# Later than this, a firing says in its record and notifications that it comes late.
LATE_AFTER = timedelta(minutes=2)
# A failing timer is retried after 1, 2, 4, 8 minutes, then marked failed.
MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(minutes=1)

_timers = cast(sa.Table, Timer.__table__)
_cases = cast(sa.Table, Case.__table__)


@dataclass
class TickResult:
    """What one tick did."""

    fired: int = 0
    cancelled: int = 0
    busy: int = 0
    late: int = 0
    failed: int = 0
    kinds: dict[str, int] = field(default_factory=dict)


class Scheduler:
    """Claims and fires due timers for one engine."""

    def __init__(self, engine: Engine, name: str | None = None):
        self.engine = engine
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

        self.handlers = {
            "bpmn": self._fire_bpmn,
            "start": self._fire_start,
            "escalation": lambda s, row, case, now: escalation.fire(engine, s, row, case, now),
            "absence": lambda s, row, case, now: absence.fire_absence(engine, s, row, case, now),
            "absence_task": lambda s, row, case, now: absence.fire_absence_task(engine, s, row, case, now),
            "case_deadline": lambda s, row, case, now: case_deadline.fire(engine, s, row, case, now),
            "case_warning": lambda s, row, case, now: case_deadline.fire_warning(engine, s, row, case, now),
            "follow_up": lambda s, row, case, now: escalation.fire_follow_up(engine, s, row, case, now),
            "review": lambda s, row, case, now: process_review.fire(engine, s, row, case, now),
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
            if status == "error":
                result.failed += 1
                continue
            if status == "fired":
                result.fired += 1
                result.kinds[kind] = result.kinds.get(kind, 0) + 1
                result.late += int(late)
            else:
                result.cancelled += 1
        return result

    def _fire_next(self, skipped: list[int]) -> tuple[str, str, bool] | None:
        now = self.engine.clock.now()
        claimed: dict[str, Any] | None = None
        try:
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
                found_row = conn.execute(query).mappings().first()
                if found_row is None:
                    return None
                row = claimed = dict(found_row)
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
                data = dict(row["data"] or {})
                if data.get("first_due_at"):
                    # A retried row was moved on by its back-off; its lateness counts from when it was due.
                    row["due_at"] = datetime.fromisoformat(data["first_due_at"])
                late = now - row["due_at"] > LATE_AFTER
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
        except Exception as exc:
            if claimed is None:
                raise  # the claim itself failed: the database is in trouble, not one timer
            skipped.append(claimed["id"])
            self._record_failure(claimed, exc, now)
            return claimed["kind"], "error", False

    def _record_failure(self, row: dict[str, Any], exc: Exception, now: datetime) -> None:
        """Note a failed firing on its row (the firing itself was rolled back): retry later, or give up."""
        attempts = int(row.get("attempts") or 0) + 1
        error = f"{type(exc).__name__}: {exc}"[:500]
        log.error("timer %s (%s) failed, attempt %s of %s: %s", row["id"], row["kind"], attempts, MAX_ATTEMPTS,
                  error, exc_info=exc)
        data = dict(row["data"] or {})
        data.setdefault("first_due_at", row["due_at"].isoformat())
        mark = sa.update(_timers).where(_timers.c.id == row["id"], _timers.c.status == "pending")
        try:
            with self.engine.db.write() as s:
                conn = s.connection()
                if attempts < MAX_ATTEMPTS:
                    conn.execute(mark.values(attempts=attempts, last_error=error, data=data,
                                             due_at=now + RETRY_AFTER * 2 ** (attempts - 1)))
                    return
                conn.execute(mark.values(status="failed", attempts=attempts, last_error=error, data=data,
                                         fired_at=now, fired_by=self.name))
                if row["case_id"]:
                    self._note_on_case(s, row, attempts, error, now)
                admins = self._admins(conn)
                what = f"ärende {row['case_id'][:8]}" if row["case_id"] else f"process {row['process_key'] or '–'}"
                notifications.notify(
                    conn, now, admins, kind="timer_failed", dedupe=f"timerfail:{row['id']}",
                    case_id=row["case_id"], task_id=row["task_id"] if row["kind"] != "bpmn" else None,
                    subject=f"En tidsstyrd händelse misslyckades: {row['kind']} ({what})",
                    body=f"Händelsen ({row['kind']}, rad {row['id']}) skulle ha utförts "
                         f"{row['due_at'].isoformat()} men misslyckades {attempts} gånger och har gett upp. "
                         f"Senaste felet: {error}")
        except Exception:  # recording must never stop the tick either; the row stays as it was
            log.exception("could not record the failure of timer %s", row["id"])

    @staticmethod
    def _admins(conn: sa.Connection) -> list[str]:
        """The active administrators, who are told what the scheduler could not do."""
        return sorted(set(conn.execute(
            sa.select(User.name).join(UserRole, UserRole.user_id == User.id)
            .where(UserRole.role_key == ADMIN, User.active.is_(True))
        ).scalars()))

    def _note_on_case(self, s: Session, row: dict[str, Any], attempts: int, error: str, now: datetime) -> None:
        """The case's own history says that a step of its clock was given up: an auditor reading
        the case must see why a reminder, an escalation or a timer never happened."""
        case = lock_case(s, row["case_id"])
        if case is None:
            return
        work = CaseWork(self.engine, s, case)
        work.now = now  # the tick's instant, as on the timer row
        work.event("timer_failed", actor="scheduler", task_id=row["task_id"], data={
            "kind": row["kind"], "timer": row["id"], "due": row["due_at"].isoformat(), "attempts": attempts,
            "error": error})

    # -- the built-in kinds --------------------------------------------------------------------

    def _fire_bpmn(self, s: Session, row: Any, case: Case | None, now: datetime) -> str:
        if case is None or case.status != "active":
            return "cancelled"
        work = CaseWork(self.engine, s, case)
        task = work.spiff_task(row["task_id"])
        if task is None or not task.has_state(TaskState.WAITING):
            return "cancelled"
        late_by = (now - row["due_at"]).total_seconds()
        work.event("timer_fired", actor=SCHEDULER_ACTOR.name, element_id=work.model.original_id(task.task_spec.name),
                   data={"due": row["due_at"].isoformat(), "late_by_s": round(late_by) if late_by > 0 else 0})
        # SpiffWorkflow counts a timer fired only strictly after its instant, while the row is due
        # at the instant itself: at exactly that instant the timer would stay waiting, its row be
        # written again as due, and the tick find it again without end. Its arithmetic therefore
        # runs a microsecond past the row's instant (never earlier than now).
        with spiff_clock.using(_AtLeast(self.engine.clock, row["due_at"] + timedelta(microseconds=1))):
            work.run(SCHEDULER_ACTOR.name, work.workflow.refresh_timers)  # a failure is the case's incident
        work.finish(SCHEDULER_ACTOR.name)
        return "fired"

    def _fire_start(self, s: Session, row: Any, case: Case | None, now: datetime) -> str:
        conn = s.connection()
        try:
            version = processes.latest_version(conn, row["process_key"])
        except RutinError as exc:
            # The process has no published version (any more): the start, and its schedule, end
            # here, and the administrators are told why. Any other error is no answer about the
            # process: it goes to the tick's failure handling (retried, then given up, loudly).
            log.warning("scheduled start of %s (timer %s) ended: %s", row["process_key"], row["id"], exc.detail)
            notifications.notify(
                conn, now, self._admins(conn), kind="scheduled_start_ended", dedupe=f"startend:{row['id']}",
                subject=f"En schemalagd start upphörde: process {row['process_key']}",
                body=f"Starten som skulle ha gjorts {row['due_at'].isoformat()} gjordes inte, och inga fler "
                     f"starter är schemalagda: {exc.detail} Publicera en version av processen för att "
                     "schemalägga starterna igen.")
            return "cancelled"
        data = dict(row["data"] or {})
        work = start_in(self.engine, s, SCHEDULER_ACTOR, version, {}, None, via="timer")
        schedule = _schedule_of(row, data)
        missed = 0
        if schedule is not None:
            # The next start after now: after downtime one missed start is made (this one, late),
            # never the whole backlog of them.
            n = int(data.get("n", 0)) if data.get("anchor") else 0
            found = timers.next_occurrence(schedule, not_before=now, after_index=n, strictly=True)
            if found is not None:
                nxt_n, nxt = found
                missed = nxt_n - n - 1
                conn.execute(timers.INSERT, {
                    "kind": "start", "process_key": row["process_key"], "ref": row["ref"], "due_at": nxt,
                    "status": "pending", "data": {**schedule, "expression": data.get("expression"), "n": nxt_n},
                })
            elif schedule["cycles"] > 0:
                missed = max(0, schedule["cycles"] - n - 1)
        late_by = now - row["due_at"]
        if late_by > LATE_AFTER or missed:
            work.event("scheduled_start_late", actor=SCHEDULER_ACTOR.name,
                       data={"due": row["due_at"].isoformat(), "late_by_s": round(late_by.total_seconds()),
                             "missed_starts": missed})
        return "fired"


def _schedule_of(row: Any, data: dict[str, Any]) -> dict[str, Any] | None:
    """The calendar schedule of a start row, None for a one-time start."""
    if data.get("period") and data.get("anchor"):
        return {"anchor": data["anchor"], "period": data["period"], "cycles": int(data.get("cycles", -1))}
    if data.get("every_s"):
        # A row scheduled before schedules were stored: its interval in seconds, from this start,
        # with the starts it had left (counting this one).
        left = int(data.get("cycles", -1))
        return {"anchor": row["due_at"].isoformat(), "period": f"PT{int(data['every_s'])}S",
                "cycles": left if left > 0 else -1}
    return None


class _AtLeast:
    """A clock that never reads earlier than a given instant."""

    def __init__(self, clock: Clock, floor: datetime):
        self.clock, self.floor = clock, floor

    def now(self) -> datetime:
        """The later of the clock's time and the floor."""
        return max(self.clock.now(), self.floor)
