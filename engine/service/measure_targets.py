"""Targets for process measures (ISO 9001 9.1): set by the process's owner or an administrator,
one per process and measure, each change recorded in the process's (chained) history; and the
verdict of a period's actual against its target, in plain Swedish.

A share's target is kept in percent (95 means 95 %), a lead time's in days, as the owner enters them.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..authority.identity import Actor, require_writer
from ..authority.ownership import governing_version, holds_owner_role
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..base.labels import MEASURE_TARGET_LABELS
from ..catalogue import processes
from ..core import Engine
from ..store.measure_models import MeasureTarget

# The largest target that makes sense: a share is at most 100 %, a lead time at most ten years.
LIMITS = {"%": 100.0, "dagar": 3650.0}


def _number(value: Any, unit: str) -> float:
    """The target as a number within its unit's range, or a Swedish refusal."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidInput("Ange målet som ett tal.")
    if isinstance(value, str):
        text = value.strip().replace(",", ".").rstrip("%").strip()
        if len(text) > 20:
            raise InvalidInput("Ange målet som ett tal.")
        try:
            value = float(text)
        except ValueError:
            raise InvalidInput(f"Ange målet som ett tal, inte {text[:20]!r}.") from None
    number = float(value)
    if not math.isfinite(number) or not 0 <= number <= LIMITS[unit]:
        raise InvalidInput(f"Målet ska vara mellan 0 och {LIMITS[unit]:g} {unit}.")
    return round(number, 2)


def may_set(engine: Engine, actor: Actor, key: str) -> bool:
    """Whether the actor may set the targets of process `key`: an administrator, or a holder of
    the owner role of the process as published."""
    if actor.is_read_only:
        return False
    if actor.is_admin:
        return True
    with engine.db.read() as s:
        v = governing_version(s, key)
        return v is not None and holds_owner_role(engine, actor, v)


def set_target(engine: Engine, actor: Actor, key: Any, measure: Any, value: Any) -> dict[str, Any]:
    """Set (or, with an empty value, remove) process `key`'s target for `measure`; recorded in
    the process's history. Returns the process's targets as they stand."""
    require_writer(actor)
    if not isinstance(key, str) or not isinstance(measure, str):
        raise InvalidInput("Ange process och mätetal som text.")
    spec = MEASURE_TARGET_LABELS.get(measure)
    if spec is None:
        raise InvalidInput(f"Mätetalet {measure[:60]!r} kan inte ha något mål; välj bland "
                           f"{', '.join(v['label'] for v in MEASURE_TARGET_LABELS.values())}.")
    removing = value is None or (isinstance(value, str) and not value.strip())
    target = None if removing else _number(value, spec["unit"])
    now = engine.clock.now()
    try:
        with engine.db.write() as s:
            v = governing_version(s, key)
            if v is None:
                raise NotFound(f"Processen {key[:200]!r} finns inte eller är inte publicerad.")
            if not (actor.is_admin or holds_owner_role(engine, actor, v)):
                raise Forbidden(f"Bara processägaren ({v.owner_role or 'Processägare'}) eller en administratör "
                                "kan sätta mål för processens mätetal.")
            row = s.execute(sa.select(MeasureTarget).where(MeasureTarget.process_key == key,
                                                           MeasureTarget.measure == measure)).scalar_one_or_none()
            before = None if row is None else row.target
            if target is None:
                if row is not None:
                    s.delete(row)
                    processes.record(s, key, "measure_target_removed", actor.name, now, None,
                                     {"measure": measure, "before": before})
            else:
                if row is None:
                    s.add(MeasureTarget(process_key=key, measure=measure, target=target, set_by=actor.name,
                                        set_at=now))
                else:
                    row.target, row.set_by, row.set_at = target, actor.name, now
                processes.record(s, key, "measure_target_set", actor.name, now, None,
                                 {"measure": measure, "before": before, "target": target, "unit": spec["unit"]})
            s.flush()
    except IntegrityError:
        raise Conflict("Målet ändrades samtidigt av någon annan; försök igen.") from None
    return {"process_key": key, "targets": targets(engine, [key]).get(key, {})}


def targets(engine: Engine, keys: list[str] | None = None) -> dict[str, dict[str, float]]:
    """The targets of each process (of `keys`, or all): {process key: {measure: target}}."""
    with engine.db.read() as s:
        q = sa.select(MeasureTarget.process_key, MeasureTarget.measure, MeasureTarget.target)
        if keys is not None:
            q = q.where(MeasureTarget.process_key.in_(keys))
        out: dict[str, dict[str, float]] = {}
        for key, measure, target in s.execute(q):
            out.setdefault(key, {})[measure] = target
        return out


def actual(row: dict[str, Any], measure: str) -> float | None:
    """A measure's actual value in its target's unit (a share in percent), None without data."""
    value = row.get(measure)
    if value is None:
        return None
    return round(value * 100, 1) if MEASURE_TARGET_LABELS[measure]["unit"] == "%" else float(value)


def verdicts(row: dict[str, Any], process_targets: dict[str, float]) -> list[dict[str, Any]]:
    """Each target of a process's row of measures against its actual: within (True), out of
    target (False) or nothing to judge yet (None), with the verdict in plain Swedish."""
    out = []
    for measure, spec in MEASURE_TARGET_LABELS.items():
        if measure not in process_targets:
            continue
        target, found = process_targets[measure], actual(row, measure)
        sign = "minst" if spec["direction"] == "min" else "högst"
        if found is None:
            within, text = None, "Inget utfall i perioden"
        else:
            within = found >= target if spec["direction"] == "min" else found <= target
            text = "Inom målet" if within else "Utanför målet"
        out.append({"measure": measure, "label": spec["label"], "unit": spec["unit"], "target": target,
                    "target_text": f"{sign} {target:g} {spec['unit']}".replace(".", ","), "actual": found,
                    "within": within, "verdict": text})
    return out
