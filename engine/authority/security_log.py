"""The security log: an append-only record of who signed in (or failed to), which tokens were
created and revoked, which accounts were deactivated or reactivated and whose roles changed.

Entries are written in the transaction that makes the change they record, so a change is never
without its entry nor an entry without its change; a trigger (migration 0023) refuses to update
or delete one. Administrators and auditors read it (`entries`, the page and its CSV).
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..base.errors import Forbidden
from ..core import Engine
from ..store.models import SecurityEvent

_events = cast(sa.Table, SecurityEvent.__table__)

SIGN_IN, SIGN_IN_FAILED = "sign_in", "sign_in_failed"
TOKEN_CREATED, TOKEN_REVOKED = "token_created", "token_revoked"
DEACTIVATED, REACTIVATED, ROLES_CHANGED = "deactivated", "reactivated", "roles_changed"
GROUP_ROLES_CHANGED = "group_roles_changed"

LABELS = {
    SIGN_IN: "Inloggning",
    SIGN_IN_FAILED: "Misslyckad inloggning",
    TOKEN_CREATED: "Token skapad",
    TOKEN_REVOKED: "Token återkallad",
    DEACTIVATED: "Konto avaktiverat",
    REACTIVATED: "Konto återaktiverat",
    ROLES_CHANGED: "Roller ändrade",
    GROUP_ROLES_CHANGED: "Grupproller ändrade",
}


def _clip(text: str | None, length: int) -> str | None:
    # A name as typed at a failed sign-in is whatever was sent: bounded, printable, no NUL.
    if text is None:
        return None
    return "".join(c if c.isprintable() else "\ufffd" for c in text[:length])


def record(s: Session | sa.Connection, now: datetime, kind: str, actor: str, *, subject: str | None = None,
           address: str | None = None, **data: Any) -> None:
    """Append one entry, in the caller's transaction."""
    s.execute(sa.insert(_events).values(at=now, type=kind, actor=_clip(actor, 200) or "", subject=_clip(subject, 200),
                                        address=_clip(address, 100), data=data))


def record_now(engine: Engine, kind: str, actor: str, *, subject: str | None = None, address: str | None = None,
               **data: Any) -> None:
    """Append one entry in a transaction of its own (a sign-in, which changes nothing else here)."""
    with engine.db.write() as s:
        record(s, engine.clock.now(), kind, actor, subject=subject, address=address, **data)


def _may_read(actor: Any) -> None:
    if not actor.is_auditor:
        raise Forbidden("Bara administratörer och revisorer kan läsa säkerhetsloggen.")


def entries(engine: Engine, actor: Any, *, user: str | None = None, limit: int = 500,
            offset: int = 0) -> dict[str, Any]:
    """The newest entries first (`user`: those by or about that user); administrators and auditors."""
    _may_read(actor)
    query = sa.select(_events)
    if user:
        query = query.where(sa.or_(_events.c.actor == user, _events.c.subject == user))
    with engine.db.read() as s:
        total = s.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
        rows = s.execute(query.order_by(_events.c.id.desc()).limit(limit).offset(offset)).mappings().all()
    return {"total": int(total), "items": [_json(r) for r in rows]}


def _json(r: Any) -> dict[str, Any]:
    return {"id": r["id"], "at": r["at"].isoformat(), "type": r["type"], "label": LABELS.get(r["type"], r["type"]),
            "actor": r["actor"], "subject": r["subject"], "address": r["address"], "data": r["data"] or {}}


CSV_HEADERS = ["Tidpunkt", "Händelse", "Utförd av", "Gäller", "Adress", "Uppgifter"]


def _details(data: dict[str, Any]) -> str:
    return "; ".join(f"{k}={', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in sorted(data.items()))


def _cell(value: str) -> str:
    # A name typed at a failed sign-in is anyone's text: a spreadsheet must not run it as a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def as_csv(engine: Engine, actor: Any, *, user: str | None = None) -> str:
    """The whole log as CSV (semicolon-separated, Swedish headers), oldest first."""
    _may_read(actor)
    items = entries(engine, actor, user=user, limit=10**9)["items"]
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(CSV_HEADERS)
    for e in reversed(items):
        writer.writerow([_cell(str(v)) for v in (e["at"], e["label"], e["actor"], e["subject"] or "",
                                                 e["address"] or "", _details(e["data"]))])
    return out.getvalue()
