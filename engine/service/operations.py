"""What operators watch: the service's figures, read from the database when asked.

Read at each scrape rather than counted in memory, so that every web process and every worker
reports the same figures (the database is the one place where all of them write), and a restart
loses nothing. Each figure is one indexed aggregate; `bench/README.md` has what a scrape costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..core import Engine
from ..store.models import AuditRun, Case, HumanTask, Notification, Timer


@dataclass(frozen=True)
class Figures:
    """One reading of the service's figures."""

    cases_started: int
    cases_completed: int
    tasks_completed: int
    tasks_overdue_open: int
    escalations_sent: int
    incidents_open: int
    timer_lag_s: float
    outbox_backlog: int
    audit_last_clean: datetime | None


def _instant(value: Any) -> datetime | None:
    if isinstance(value, str):  # SQLite's aggregates hand back the stored text, not the typed column
        value = datetime.fromisoformat(value)
    return value if isinstance(value, datetime) else None


def figures(engine: Engine) -> Figures:
    """Read the figures now (by the engine's clock)."""
    now = engine.clock.now()
    with engine.db.read() as s:
        by_status = dict(s.execute(sa.select(Case.status, sa.func.count()).group_by(Case.status)).all())
        tasks_completed = s.execute(sa.select(sa.func.count()).select_from(HumanTask)
                                    .where(HumanTask.status == "completed")).scalar_one()
        overdue = s.execute(sa.select(sa.func.count()).select_from(HumanTask)
                            .where(HumanTask.status == "open", HumanTask.due_at < now)).scalar_one()
        escalations = s.execute(sa.select(sa.func.count()).select_from(Timer)
                                .where(Timer.status == "fired", Timer.kind == "escalation")).scalar_one()
        oldest_due = _instant(s.execute(sa.select(sa.func.min(Timer.due_at))
                                        .where(Timer.status == "pending", Timer.due_at <= now)).scalar())
        backlog = s.execute(sa.select(sa.func.count()).select_from(Notification)
                            .where(Notification.email_status.in_(("pending", "sending")))).scalar_one()
        clean = _instant(s.execute(sa.select(sa.func.max(AuditRun.finished_at))
                                   .where(AuditRun.clean.is_(True))).scalar())
    if oldest_due is not None and oldest_due.tzinfo is None:
        oldest_due = oldest_due.replace(tzinfo=now.tzinfo)
    return Figures(
        cases_started=sum(by_status.values()), cases_completed=by_status.get("completed", 0),
        tasks_completed=tasks_completed, tasks_overdue_open=overdue, escalations_sent=escalations,
        incidents_open=by_status.get("incident", 0),
        timer_lag_s=max(0.0, (now - oldest_due).total_seconds()) if oldest_due is not None else 0.0,
        outbox_backlog=backlog, audit_last_clean=clean)
