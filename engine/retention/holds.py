"""Holding a case from culling: an appeal, a request for the record, an inspection. A held case
is not culled, whatever its rule says, until an administrator or archive officer releases the
hold; both are recorded in the case's history, with who and why."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority.identity import Actor, require_writer
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..core import Engine
from ..execution.runtime import CaseWork, locked_case
from ..store.retention_models import RetentionHold
from .rules import may_manage

MAX_REASON = 1000


def _require(actor: Actor) -> None:
    require_writer(actor)
    if not may_manage(actor):
        raise Forbidden("Bara administratörer och arkivansvariga undantar ärenden från gallring.")


def _reason(reason: Any) -> str:
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidInput(f"Ange ett skäl (text, 1–{MAX_REASON} tecken).", field="reason")
    return reason.strip()


def active(s: Session, case_id: str) -> RetentionHold | None:
    """The hold in force on a case, if any."""
    return s.execute(sa.select(RetentionHold).where(RetentionHold.case_id == case_id,
                                                    RetentionHold.released_at.is_(None))
                     .order_by(RetentionHold.id).limit(1)).scalar_one_or_none()


def held_case_ids(s: Session) -> set[str]:
    """Every case held now."""
    return set(s.execute(sa.select(RetentionHold.case_id).where(RetentionHold.released_at.is_(None))).scalars())


def current(engine: Engine, case_id: str) -> dict[str, Any] | None:
    """The hold in force on a case, in its API form (None: not held)."""
    with engine.db.read() as s:
        row = active(s, case_id)
        return hold_json(row) if row is not None else None


def hold_json(h: RetentionHold) -> dict[str, Any]:
    """The API form of a hold."""
    return {"id": h.id, "case_id": h.case_id, "reason": h.reason, "held_by": h.held_by,
            "held_at": h.held_at.isoformat(), "released_by": h.released_by,
            "released_at": h.released_at.isoformat() if h.released_at else None, "release_reason": h.release_reason}


def hold(engine: Engine, actor: Actor, case_id: str, reason: Any) -> dict[str, Any]:
    """Hold a case from culling, with a reason (`Conflict` if it is already held or culled)."""
    _require(actor)
    text = _reason(reason)
    with locked_case(engine, case_id) as (s, case):
        if case.status == "culled":
            raise Conflict("Ärendet är redan gallrat.")
        if active(s, case.id) is not None:
            raise Conflict("Ärendet är redan undantaget från gallring.")
        work = CaseWork(engine, s, case)
        row = RetentionHold(case_id=case.id, reason=text, held_by=actor.name, held_at=work.now)
        s.add(row)
        s.flush()
        work.event("culling_hold_placed", actor=actor.name, data={"hold": row.id, "reason": text})
        return hold_json(row)


def release(engine: Engine, actor: Actor, case_id: str, reason: Any) -> dict[str, Any]:
    """End the hold on a case: from now its rule applies again."""
    _require(actor)
    text = _reason(reason)
    with locked_case(engine, case_id) as (s, case):
        row = active(s, case.id)
        if row is None:
            raise NotFound("Ärendet är inte undantaget från gallring.")
        work = CaseWork(engine, s, case)
        row.released_by, row.released_at, row.release_reason = actor.name, work.now, text
        work.event("culling_hold_released", actor=actor.name, data={"hold": row.id, "reason": text})
        return hold_json(row)


def list_holds(engine: Engine, actor: Actor, *, include_released: bool = False) -> list[dict[str, Any]]:
    """The holds in force (or every hold ever placed)."""
    if not (may_manage(actor) or actor.is_auditor):
        raise Forbidden("Undantag från gallring visas för administratörer, arkivansvariga och revisorer.")
    q = sa.select(RetentionHold).order_by(RetentionHold.id)
    if not include_released:
        q = q.where(RetentionHold.released_at.is_(None))
    with engine.db.read() as s:
        return [hold_json(h) for h in s.execute(q).scalars()]
