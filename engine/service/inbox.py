"""The inbox: the tasks a person may see or take, counted and listed a page at a time, with the
filters and sorting the pages and the API offer.

Lists read the projections (`human_tasks`, `task_candidates`) with indexed SQL and never load a
workflow.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority import org
from ..authority.identity import Actor
from ..base.errors import InvalidInput
from ..core import Engine
from ..store.models import HumanTask, TaskCandidate
from . import search as search_in
from .views import task_json

SORTS = {
    "created": (HumanTask.created_at, HumanTask.id),
    "due": (HumanTask.due_at, HumanTask.id),
    "priority": (HumanTask.priority, HumanTask.id),
}
MAX_LIMIT = 500


def _candidate_ids(actor: Actor, roles: list[str] | None = None) -> sa.Select[Any]:
    role_keys = sorted(actor.roles) if roles is None else roles
    return sa.select(TaskCandidate.task_id).where(
        sa.or_(
            sa.and_(TaskCandidate.kind == "role", TaskCandidate.key.in_(role_keys)),
            sa.and_(TaskCandidate.kind == "user", TaskCandidate.key == actor.name),
        )
    )


def _visible_open(actor: Actor) -> Any:
    """A condition selecting the open tasks the actor may see: admins and auditors all (auditors
    only read), managers their units' (and the units' below), everyone the tasks they hold or
    could take."""
    if actor.is_admin or actor.is_auditor:
        return HumanTask.status == "open"
    parts: list[Any] = [
        sa.select(HumanTask.id).where(HumanTask.status == "open", HumanTask.assignee == actor.name),
        _candidate_ids(actor),
    ]
    if actor.manages:
        parts.append(sa.select(HumanTask.id).where(HumanTask.status == "open",
                                                   HumanTask.org_unit_id.in_(sorted(actor.manages))))
    return sa.and_(HumanTask.status == "open", HumanTask.id.in_(sa.union(*parts)))


def list_tasks(
    engine: Engine, actor: Actor, *, assignee: str | None = None, candidate: str | None = None,
    role: str | None = None, process: str | None = None, case: str | None = None, overdue: bool = False,
    unit: str | None = None,
    due_before: datetime | None = None, search: str | None = None, sort: str = "created", order: str = "asc",
    limit: int = 50, offset: int = 0, follow_up_before: datetime | None = None,
) -> dict[str, Any]:
    """Open tasks the actor may act on, filtered, sorted and paged, with counts for the inbox."""
    if sort not in SORTS:
        raise InvalidInput(f"sort ska vara en av {', '.join(SORTS)}.")
    if order not in ("asc", "desc"):
        raise InvalidInput("order ska vara asc eller desc.")
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise InvalidInput(f"limit ska vara 1–{MAX_LIMIT} och offset minst 0.")
    now = engine.clock.now()
    conditions = [_visible_open(actor)]
    if assignee is not None:
        conditions.append(HumanTask.assignee == (actor.name if assignee == "me" else assignee))
    if candidate is not None:
        if candidate != "me":
            raise InvalidInput("candidate stöder bara värdet me.")
        conditions.append(HumanTask.assignee.is_(None))
        conditions.append(HumanTask.id.in_(_candidate_ids(actor)))
    if role is not None:
        # The role as a task names it ("Handläggare bygglov") reaches its key through the aliases.
        key = org.tree(engine).canonical(role)
        conditions.append(HumanTask.id.in_(
            sa.select(TaskCandidate.task_id).where(
                TaskCandidate.kind == "role",
                sa.or_(TaskCandidate.key == key, TaskCandidate.key.like(key + "@%")),
            )
        ))
    if unit is not None:
        units = _my_units(actor) if unit == "mine" else {unit}
        conditions.append(HumanTask.org_unit_id.in_(sorted(units)))
    if process:
        conditions.append(HumanTask.process_key == process)
    if case:
        conditions.append(HumanTask.case_id == case)
    if overdue:
        conditions.append(HumanTask.due_at < now)
    if due_before is not None:
        conditions.append(HumanTask.due_at < due_before)
    if follow_up_before is not None:  # "to follow up": the tasks whose follow-up date has come by then
        conditions.append(HumanTask.follow_up_at < follow_up_before)
    if search:  # the business key, the step's name, the case's data
        conditions.append(search_in.task_matches(engine, search))
    columns = SORTS[sort]
    ordering: list[Any] = [c.desc() if order == "desc" else c.asc() for c in columns]
    if sort == "due":
        ordering.insert(0, HumanTask.due_at.is_(None))
    where = sa.and_(*conditions)
    with engine.db.read() as s:
        counts = _counts(s, actor, now)
        if len(conditions) == 1 and sort == "created" and not (actor.is_admin or actor.is_auditor or actor.manages):
            # The inbox as it opens: all one may act on, oldest first. Its page is merged from the
            # candidates index per role key (each an index range of at most offset+limit rows)
            # instead of sorting everything visible; its total is the count already made.
            rows = _inbox_page(s, actor, limit, offset, order == "desc")
            total = counts["all"]
        else:
            total = s.execute(sa.select(sa.func.count()).select_from(HumanTask).where(where)).scalar_one()
            rows = list(s.execute(sa.select(HumanTask).where(where).order_by(*ordering).limit(limit)
                                  .offset(offset)).scalars())
        items = [task_json(engine, r, actor) for r in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset, "counts": counts}


def _inbox_page(s: Session, actor: Actor, limit: int, offset: int, descending: bool) -> list[HumanTask]:
    need = offset + limit
    tc = TaskCandidate
    order = (tc.created_at.desc(), tc.task_id.desc()) if descending else (tc.created_at, tc.task_id)
    found: dict[str, Any] = {}
    keys = [("role", k) for k in sorted(actor.roles)] + [("user", actor.name)]
    for kind, key in keys:
        for task_id, created in s.execute(
            sa.select(tc.task_id, tc.created_at).where(tc.kind == kind, tc.key == key).order_by(*order).limit(need)
        ):
            found[task_id] = created
    ht = HumanTask
    ht_order = (ht.created_at.desc(), ht.id.desc()) if descending else (ht.created_at, ht.id)
    for task_id, created in s.execute(
        sa.select(ht.id, ht.created_at).where(ht.status == "open", ht.assignee == actor.name)
        .order_by(*ht_order).limit(need)
    ):
        found[task_id] = created
    ranked = sorted(found.items(), key=lambda item: (item[1], item[0]), reverse=descending)[offset:offset + limit]
    ids = [task_id for task_id, _ in ranked]
    rows = {r.id: r for r in s.execute(sa.select(HumanTask).where(HumanTask.id.in_(ids))).scalars()}
    return [rows[i] for i in ids if i in rows]


def _my_units(actor: Actor) -> set[str]:
    return set(actor.units) | set(actor.manages)


def _counts(s: Session, actor: Actor, now: datetime) -> dict[str, int]:
    """How many open tasks each of the inbox's filters would show, in one pass."""
    visible = _visible_open(actor)

    def count_if(condition: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    units = sorted(_my_units(actor))
    row = s.execute(
        sa.select(
            sa.func.count(),
            count_if(HumanTask.assignee == actor.name),
            # "unclaimed in my roles", as the inbox's tab filters it (candidate=me), not every
            # unclaimed task a manager sees in the units
            count_if(sa.and_(HumanTask.assignee.is_(None), HumanTask.id.in_(_candidate_ids(actor)))),
            count_if(HumanTask.due_at < now),
            count_if(HumanTask.org_unit_id.in_(units)) if units else sa.literal(0),
        ).where(visible)
    ).one()
    return {"all": int(row[0]), "mine": int(row[1]), "unclaimed": int(row[2]), "overdue": int(row[3]),
            "unit": int(row[4])}
