"""The approved delegation ordinance as routing and deciding read it: which items are in force
for a step, which one governs a case, and who has stepped aside (jäv) from a task.

Proposing, approving, importing and reporting on items, and the check that a person may decide,
are `engine.routing.delegation`'s; this is the part the unit of work needs when it creates a task
(is it a decision? whose substitute stands in?), kept below it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bpmn import sandbox

from ..base.errors import Forbidden, InvalidInput
from ..core import Engine
from ..store.models import CaseEvent, DelegationItem

APPROVED = ("approved", "replaced")

_cache: dict[int, tuple[float, dict[str, list[DelegationItem]]]] = {}
_cache_lock = threading.Lock()
# Every completion asks whether its task is a decision, so the approved ordinance is held in
# memory; a change made through this process is seen at once, one made elsewhere within this time.
CACHE_TTL_S = 30.0


def _approved(engine: Engine) -> dict[str, list[DelegationItem]]:
    """Every approved version by process key, superseded ones included: a version replaced by a
    later one stays in force until its `valid_to`, so items are chosen by validity, not status."""
    with _cache_lock:
        hit = _cache.get(id(engine))
        if hit and time.monotonic() - hit[0] < CACHE_TTL_S:
            return hit[1]
    by_process: dict[str, list[DelegationItem]] = {}
    with engine.db.read() as s:
        for item in s.execute(sa.select(DelegationItem).where(DelegationItem.status.in_(APPROVED))
                              .order_by(DelegationItem.number, DelegationItem.version)).scalars():
            by_process.setdefault(item.process_key or "", []).append(item)
    with _cache_lock:
        _cache[id(engine)] = (time.monotonic(), by_process)
    return by_process


def approved_items(engine: Engine, process_key: str) -> list[DelegationItem]:
    """Every approved item version for a process (in force, past or coming)."""
    return list(_approved(engine).get(process_key, []))


def forget(engine: Engine) -> None:
    """Drop the cached ordinance (after an item is approved through this process)."""
    with _cache_lock:
        _cache.pop(id(engine), None)


def in_force(item: DelegationItem, at: datetime) -> bool:
    """Whether an approved item version applies at an instant."""
    return (item.valid_from is None or item.valid_from <= at) and (item.valid_to is None or item.valid_to > at)


def governing(engine: Engine, process_key: str, element_id: str | None, explicit: bool,
              at: datetime) -> list[DelegationItem]:
    """The items in force at `at` that speak of a step, most specific first: those naming its
    element, and, when the diagram marks it a decision (`explicit`), the process-wide ones."""
    found = [
        i for i in _approved(engine).get(process_key, [])
        if (i.element_id == element_id or (i.element_id is None and explicit)) and in_force(i, at)
    ]
    found.sort(key=lambda i: (i.element_id is None, i.number))
    return found


def names_element(engine: Engine, process_key: str, element_id: str | None, at: datetime) -> bool:
    """Whether an item in force names this step's element, which makes it a decision whatever
    the item's limit says (outside the limit it is the committee's, not an ordinary task)."""
    return any(i.element_id == element_id and in_force(i, at) for i in _approved(engine).get(process_key, []))


def governing_item(items: list[DelegationItem], case_data: dict[str, Any]) -> DelegationItem:
    """Of the items speaking of a step (`governing`), the one under which it may be decided now:
    the first whose limit holds over the case's data.

    `Forbidden` when there is none, or when items name the decision but none's limit holds (the
    decision then belongs to the committee itself); `InvalidInput` when a limit cannot be
    evaluated over the case's data: a decision is never taken on the guess that a limit applies.
    """
    if not items:
        raise Forbidden("Beslutet saknar en gällande punkt i delegationsordningen; det kan inte fattas här.")
    for item in items:
        if not item.limit_expr:
            return item
        try:
            holds = sandbox.evaluate(item.limit_expr, case_data)
        except Exception as exc:
            raise InvalidInput(
                f"Punkt {item.number} gäller bara när {item.limit_expr!r}, och det kan inte prövas mot ärendets "
                f"uppgifter ({exc}). Komplettera ärendet innan beslutet fattas.",
                item=item.number, limit=item.limit_expr,
            ) from None
        if holds:
            return item
    committee = next((i.committee for i in items if i.committee), None)
    limits = "; ".join(f"punkt {i.number}: {i.limit_expr}" for i in items)
    raise Forbidden(
        f"Ärendet ligger utanför delegationen ({limits}). Beslutet är inte delegerat och fattas av "
        f"{committee or 'nämnden'} själv.", committee=committee,
    )


def item_for(items: list[DelegationItem], case_data: dict[str, Any]) -> DelegationItem | None:
    """The item governing a step now, or None where none applies or its limit cannot be judged
    (for routing: substitutes, superiors; deciding goes through `governing_item`)."""
    try:
        return governing_item(items, case_data)
    except (Forbidden, InvalidInput):
        return None


def stepped_aside(conn: Session | sa.Connection, case_id: str, task_id: str) -> set[str]:
    """Who has declared a conflict of interest (jäv) on a task."""
    return set(conn.execute(
        sa.select(CaseEvent.actor).where(CaseEvent.case_id == case_id, CaseEvent.task_id == task_id,
                                         CaseEvent.type == "conflict_of_interest_declared")
    ).scalars())
