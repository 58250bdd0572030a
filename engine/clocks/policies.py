"""Deadline policies: a process owner's due dates, follow-ups and escalation ladders per step,
used wherever the diagram itself says nothing.

An entry is keyed by the step's element id, or ``*`` for every step of the process: a step's own
entry wins field by field, the ``*`` entry fills in what it leaves out. A decision under the
delegation ordinance escalates only along the ordinance, so a ladder with manager-chain actions
is refused for such a step (a ``*`` ladder with them applies to the work steps only).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa

from ..authority import ordinance
from ..authority.identity import Actor, require_writer
from ..authority.ownership import governing_owner, holds_role
from ..base import forms
from ..base.errors import Forbidden, InvalidInput, NotFound
from ..core import Engine
from ..store.models import DeadlinePolicy, ProcessVersion
from . import deadlines, ladders

EVERY_STEP = "*"


class Policies(dict[str, DeadlinePolicy]):
    """A process's policy rows by element id; `get` fills a step's blanks from the ``*`` entry."""

    def get(self, element: str, default: Any = None) -> Any:
        """The policy for one step: its own entry, completed field by field by the ``*`` entry."""
        own, every = super().get(element), super().get(EVERY_STEP)
        if every is None or element == EVERY_STEP:
            return own if own is not None else default
        if own is None:
            return every
        return SimpleNamespace(due=own.due or every.due, follow_up=own.follow_up or every.follow_up,
                               escalation=own.escalation or every.escalation)


_cache: dict[tuple[int, str], tuple[float, Policies]] = {}
_lock = threading.Lock()
TTL_S = 30.0


def for_process(engine: Engine, key: str) -> Policies:
    """The policy rows of a process, by element id (cached briefly)."""
    with _lock:
        hit = _cache.get((id(engine), key))
        if hit and time.monotonic() - hit[0] < TTL_S:
            return hit[1]
    with engine.db.read() as s:
        rows = Policies({p.element_id: p for p in s.execute(
            sa.select(DeadlinePolicy).where(DeadlinePolicy.process_key == key)).scalars()})
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
    require_writer(actor)

    if not isinstance(tasks, dict):
        raise InvalidInput("tasks ska vara ett objekt: elementets id -> {due, follow_up, escalation}.")
    with engine.db.write() as s:
        v = s.execute(sa.select(ProcessVersion).where(ProcessVersion.key == key)
                      .order_by(ProcessVersion.version.desc()).limit(1)).scalar_one_or_none()
        if v is None:
            raise NotFound(f"Processen {key!r} finns inte.")
        # Who owns the process is what its published version says, never what a draft declares.
        owner = governing_owner(s, key)
        if owner is None and not actor.is_admin:
            raise Forbidden("Processen har ingen publicerad version ännu; bara en administratör kan ändra dess "
                            "tidsfrister.")
        if not (actor.is_admin or (owner is not None and holds_role(engine, actor, owner))):
            raise Forbidden(f"Bara {owner} för processen kan ändra dess tidsfrister.")
        steps = {st["element_id"]: st for st in v.model.get("steps", {}).values()}
        decisions = _decision_steps(engine, key, steps)
        for element, spec in tasks.items():
            if element != EVERY_STEP and element not in steps:
                raise InvalidInput(f"Processen har inget steg {element!r} (ange ett stegs id, eller * för alla steg).")
            if not isinstance(spec, dict):
                raise InvalidInput(f"{element}: ska vara ett objekt med due, follow_up och escalation.")
            for field in ("due", "follow_up", "escalation"):
                if spec.get(field) is not None and not isinstance(spec[field], str):
                    raise InvalidInput(f"{element}.{field}: ska vara text (t.ex. "
                                       f"{'-1WD:remind; 0:notify_manager' if field == 'escalation' else 'P10D, 5WD'}).")
            for field in ("due", "follow_up"):
                if spec.get(field):
                    _check_period(f"{element}.{field}", spec[field], engine.clock.now())
            if spec.get("escalation"):
                try:
                    ladder = ladders.parse(spec["escalation"], decision=element in decisions)
                except ValueError as exc:
                    why = (" Steget är ett beslut enligt delegationsordningen: det eskaleras bara till ersättare "
                           "och överordnad, aldrig uppåt i chefsleden." if element in decisions else "")
                    raise InvalidInput(f"{element}.escalation: {exc}.{why}") from None
                _check_ladder(f"{element}.escalation", ladder, engine.clock.now())
        s.execute(sa.delete(DeadlinePolicy).where(DeadlinePolicy.process_key == key))
        now = engine.clock.now()
        for element, spec in tasks.items():
            s.add(DeadlinePolicy(process_key=key, element_id=element, due=spec.get("due"),
                                 follow_up=spec.get("follow_up"), escalation=spec.get("escalation"),
                                 updated_by=actor.name, updated_at=now))
    with _lock:
        _cache.pop((id(engine), key), None)
    return get(engine, key)


# Working days are counted one by one; more than this runs past `forms.LATEST_YEAR` anyway.
_MAX_WORKING_DAYS = 250 * (forms.LATEST_YEAR - forms.EARLIEST_YEAR)


def _check_period(where: str, text: str, now: datetime) -> None:
    """Refuse a period that cannot be read, or whose end cannot be computed from now (every case
    started later would fail on it) or falls after the last year a due date may have."""
    try:
        period = deadlines.parse_period(text)
    except ValueError:  # digits beyond what int() converts
        period = None
    if period is None:
        raise InvalidInput(f"{where}: {text!r} är ingen period (t.ex. P10D, 5WD).")
    too_long = InvalidInput(f"{where}: {text!r} är för lång; en tidsfrist måste sluta senast år {forms.LATEST_YEAR}.")
    if (period.working_days or 0) > _MAX_WORKING_DAYS:
        raise too_long
    try:
        end = deadlines.due_after(now, period)
    except (OverflowError, ValueError):
        raise too_long from None
    if end.year > forms.LATEST_YEAR:
        raise too_long


def _check_ladder(where: str, ladder: list[ladders.Step], now: datetime) -> None:
    """Refuse a ladder with a step so far from its due date that its instant cannot be computed."""
    for step in ladder:
        far = InvalidInput(f"{where}: steget {step.offset!r} ligger för långt från förfallodagen.")
        if step.offset.endswith("WD") and int(step.offset[:-2]) > _MAX_WORKING_DAYS:
            raise far
        try:
            at = step.due(now)
        except (OverflowError, ValueError):
            raise far from None
        if not forms.EARLIEST_YEAR <= at.year <= forms.LATEST_YEAR:
            raise far


def _decision_steps(engine: Engine, key: str, steps: dict[str, Any]) -> set[str]:
    """The steps that are decisions under the delegation ordinance: marked so in the diagram, or
    named by an approved ordinance item that is, or will be, in force."""
    now = engine.clock.now()
    named = {i.element_id for i in ordinance.approved_items(engine, key)
             if i.element_id and (i.valid_to is None or i.valid_to > now)}
    return {e for e, st in steps.items() if st.get("decision_authority")} | (named & set(steps))
