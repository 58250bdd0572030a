"""The case history: append-only, hash-chained audit events.

Every state change of a case writes one event in the same transaction (who, under which role,
what, on which process version, when). Each event's hash covers its content and the previous
event's hash; the case row keeps the last hash, so removing or altering any event breaks the
chain, and `verify` finds it. The database refuses UPDATE and DELETE on the table (migration).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..store.models import Case, CaseEvent
from ..store.prepared import Prepared
from . import chain, redaction


def append(case: Case, type: str, *, actor: str, at: datetime, role: str | None = None,
           task_id: str | None = None, element_id: str | None = None,
           data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The next event of a case's history as a row to insert (the caller holds the case lock).

    The case row's chain head moves on at once; the caller writes the row in the same
    transaction (`write`)."""
    event: dict[str, Any] = {
        "case_id": case.id, "seq": case.event_count + 1, "type": type, "actor": actor, "role": role,
        "task_id": task_id, "element_id": element_id, "process_version_id": case.process_version_id,
        "data": data or {}, "at": at, "prev_hash": case.last_event_hash,
    }
    event["hash"] = chain.case_event_hash(event["prev_hash"], event)
    case.event_count = event["seq"]
    case.last_event_hash = event["hash"]
    return event


def write(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Insert buffered event rows in one statement."""
    if rows:
        _INSERT.run(conn, rows)


_INSERT = Prepared(sa.insert(cast(sa.Table, CaseEvent.__table__)))


def events(session: Session, case_id: str) -> list[CaseEvent]:
    """A case's events in order."""
    return list(
        session.execute(sa.select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)).scalars()
    )


def verify(session: Session, case: Case) -> bool:
    """Whether the case's stored events form an unbroken chain ending at the case's last hash
    (a culled case's removed events by their kept hashes, `redaction`)."""
    prev = None
    stored = events(session, case.id)
    for n, (e, expected) in enumerate(zip(stored, redaction.expected_hashes(stored), strict=True), start=1):
        if e.seq != n or e.prev_hash != prev or expected != e.hash:
            return False
        prev = e.hash
    return prev == case.last_event_hash


def to_json(e: CaseEvent) -> dict[str, Any]:
    """The API form of an event."""
    return {
        "seq": e.seq, "type": e.type, "actor": e.actor, "role": e.role, "task_id": e.task_id,
        "element_id": e.element_id, "process_version_id": e.process_version_id, "data": e.data,
        "at": e.at.isoformat(), "hash": e.hash,
    }
