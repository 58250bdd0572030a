"""A process's yearly review, when its date passes: a review case for the process's owner role,
given the year's measures to read, and the next review a year on.

The review date belongs to the version (`engine.catalogue.processes` sets it when a version is
published and keeps one pending ``review`` timer row per process); starting a case is this
layer's (`cases.start_in`), so the firing is here, and the scheduler calls it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority.identity import SYSTEM
from ..authority.ownership import DEFAULT_OWNER_ROLE
from ..catalogue.processes import REVIEW_INTERVAL, REVIEW_PROCESS, latest_version, schedule_review
from ..core import Engine
from ..store.models import ProcessVersion
from .cases import start_in
from .measure_follow_up import review_data


def fire(engine: Engine, s: Session, row: Any, case: Any, now: datetime) -> str:
    """Scheduler handler for ``review`` timers: a process's review date has passed; its owner role
    gets a review task, with the measures of the year up to the review's due date (late or not) as
    case data."""
    conn = s.connection()
    v = s.execute(sa.select(ProcessVersion).where(ProcessVersion.key == row["process_key"],
                                                  ProcessVersion.status == "published")
                  .order_by(ProcessVersion.version.desc()).limit(1)).scalar_one_or_none()
    if v is None:
        return "cancelled"
    review = latest_version(conn, REVIEW_PROCESS)
    extra = review_data(engine, s, v.key, row["due_at"])
    start_in(engine, s, SYSTEM, review, {**extra, "process": v.key, "process_name": v.name, "version": v.version,
                                         "agare": v.owner_role or DEFAULT_OWNER_ROLE},
             f"Granskning {v.key} {now.year}", via="review")
    v.review_due_at = row["due_at"] + REVIEW_INTERVAL
    s.flush()
    schedule_review(engine, conn, v)
    return "fired"
