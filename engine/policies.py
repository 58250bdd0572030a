"""Deadline policies: a process owner's due dates, follow-ups and escalation ladders per step,
used wherever the diagram itself says nothing."""

from __future__ import annotations

import threading
import time
from typing import Any

import sqlalchemy as sa

from . import deadlines, escalation
from .core import Engine
from .errors import Forbidden, InvalidInput, NotFound
from .identity import Actor
from .models import DeadlinePolicy, ProcessVersion

_cache: dict[tuple[int, str], tuple[float, dict[str, DeadlinePolicy]]] = {}
_lock = threading.Lock()
TTL_S = 30.0


def for_process(engine: Engine, key: str) -> dict[str, DeadlinePolicy]:
    """The policy rows of a process, by element id (cached briefly)."""
    with _lock:
        hit = _cache.get((id(engine), key))
        if hit and time.monotonic() - hit[0] < TTL_S:
            return hit[1]
    with engine.db.read() as s:
        rows = {p.element_id: p for p in s.execute(sa.select(DeadlinePolicy).where(DeadlinePolicy.process_key == key))
                .scalars()}
    with _lock:
        _cache[(id(engine), key)] = (time.monotonic(), rows)
    return rows


def get(engine: Engine, key: str) -> dict[str, Any]:
    """A process's policy as the API shows it."""
    return {"process_key": key, "tasks": {
        e: {"due": p.due, "follow_up": p.follow_up, "escalation": p.escalation, "updated_by": p.updated_by,
            "updated_at": p.updated_at.isoformat()} for e, p in sorted(for_process(engine, key).items())}}


def put(engine: Engine, actor: Actor, key: str, tasks: dict[str, Any]) -> dict[str, Any]:
    """Replace a process's policy; the process owner role (or an admin) may."""
    from .org import tree

    if not isinstance(tasks, dict):
        raise InvalidInput("tasks ska vara ett objekt: elementets id -> {due, follow_up, escalation}.")
    with engine.db.write() as s:
        v = s.execute(sa.select(ProcessVersion).where(ProcessVersion.key == key)
                      .order_by(ProcessVersion.version.desc()).limit(1)).scalar_one_or_none()
        if v is None:
            raise NotFound(f"Processen {key!r} finns inte.")
        owner = tree(engine).canonical(v.owner_role or "Processägare")
        if not (actor.is_admin or owner in actor.roles or any(r.startswith(owner + "@") for r in actor.roles)):
            raise Forbidden(f"Bara {v.owner_role} för processen kan ändra dess tidsfrister.")
        known = {st["element_id"] for st in v.model.get("steps", {}).values()}
        for element, spec in tasks.items():
            if element not in known:
                raise InvalidInput(f"Processen har inget steg {element!r}.")
            for field in ("due", "follow_up"):
                if spec.get(field) and deadlines.parse_period(spec[field]) is None:
                    raise InvalidInput(f"{element}.{field}: {spec[field]!r} är ingen period (t.ex. P10D, 5WD).")
            if spec.get("escalation"):
                try:
                    escalation.parse(spec["escalation"])
                except ValueError as exc:
                    raise InvalidInput(f"{element}.escalation: {exc}") from None
        s.execute(sa.delete(DeadlinePolicy).where(DeadlinePolicy.process_key == key))
        now = engine.clock.now()
        for element, spec in tasks.items():
            s.add(DeadlinePolicy(process_key=key, element_id=element, due=spec.get("due"),
                                 follow_up=spec.get("follow_up"), escalation=spec.get("escalation"),
                                 updated_by=actor.name, updated_at=now))
    with _lock:
        _cache.pop((id(engine), key), None)
    return get(engine, key)
