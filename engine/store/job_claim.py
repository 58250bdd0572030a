"""Claiming a scheduled job that must run once across all workers (the audit's seal and check,
the culling): its schedule is a one-row table (``id = 1``, ``next_due_at``, ``claimed_by``), and
a worker claims a due round by moving ``next_due_at`` on in one conditional UPDATE, so exactly
one of several polling workers wins. A worker that dies after claiming leaves the round to the
next one (an interval later)."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from .db import Database


def claim_round(db: Database, table: sa.Table, now: datetime, interval: timedelta, worker: str | None) -> bool:
    """Whether this worker claimed the job's round due at `now` (its next round then `interval` on)."""
    values = {"next_due_at": now + interval, "claimed_by": worker or f"{socket.gethostname()}:{os.getpid()}"}
    try:
        with db.write() as s:
            claimed = cast(sa.CursorResult[Any], s.execute(
                sa.update(table).where(table.c.id == 1,
                                       sa.or_(table.c.next_due_at.is_(None), table.c.next_due_at <= now))
                .values(**values))).rowcount
            if not claimed and s.execute(sa.select(table.c.id).where(table.c.id == 1)).first() is None:
                # the row the migration made is gone (a database emptied by hand): the first to put it back runs
                s.execute(sa.insert(table).values(id=1, **values))
                claimed = 1
    except IntegrityError:  # another worker put the row back first
        return False
    return bool(claimed)
