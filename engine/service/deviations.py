"""A deviation from anywhere (ISO 9001 10.2): "Rapportera avvikelse" on a case or one of its steps
starts a case of the shipped deviation process linked to that case and step.

The deviation process's first step ("Rapportera avvikelse") goes to the reporter: the engine puts
their name in the new case's `rapportor` (the diagram assigns the step to ``${rapportor}``) and
offers the step to them alone, not to every employee (`engine.service.first_step`, as for a
deviation started by hand from the process page). `rapportor` is not a start field: start
data cannot name someone else (`engine.service.declared`). The link is a row of its own
(`deviation_links`), so that the deviation case says which case and step it concerns and the
source case lists its deviations.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority.identity import Actor, require_writer
from ..base.clock import STOCKHOLM
from ..base.errors import Forbidden, InvalidInput, NotFound
from ..base.labels import MEASURE_TARGET_LABELS
from ..catalogue import processes, starting
from ..core import Engine
from ..store.deviation_models import DeviationLink
from ..store.measure_models import MeasureFollowUp
from ..store.models import Case, HumanTask
from .cases import may_see_case, start_in
from .first_step import DEVIATION_PROCESS, offer_only


def _label(case: Case) -> str:
    return case.business_key or case.id[:8]


def report(engine: Engine, actor: Actor, case_id: Any, task_id: Any = None) -> dict[str, Any]:
    """Start a deviation case about case `case_id` (and its step `task_id`, if given), its first
    step assigned to the reporter; returns the new case's id and the reporter's open task."""
    require_writer(actor)
    if not isinstance(case_id, str) or (task_id is not None and not isinstance(task_id, str)):
        raise InvalidInput("Ange ärendet och steget som text.")
    task_id = task_id or None
    with engine.db.write() as s:
        source = s.get(Case, case_id)
        if source is None or not may_see_case(s, source, actor):
            raise NotFound("Ärendet finns inte.")
        step = None
        if task_id is not None:
            row = s.get(HumanTask, task_id)
            if row is None or row.case_id != source.id:
                raise InvalidInput("Steget hör inte till ärendet.")
            step = row.name
        try:
            version = processes.latest_version(s.connection(), DEVIATION_PROCESS)
        except NotFound:
            raise NotFound("Avvikelseprocessen (avvikelsehantering) är inte publicerad.") from None
        # In the source case's unit, so that its unit's steps (the manager's immediate action) have
        # someone; where the reporter may not start one there, where the process says.
        try:
            placed = starting.authorize(engine, s.connection(), actor, version, source.org_unit_id)
        except Forbidden:
            placed = starting.authorize(engine, s.connection(), actor, version, None)
        data = {"rapportor": actor.name, "galler_arende": _label(source),
                **({"galler_steg": step} if step else {})}
        work = start_in(engine, s, actor, version, data, f"Avvikelse i {_label(source)}"[:200],
                        org_unit=placed)
        s.add(DeviationLink(case_id=work.case.id, source_case_id=source.id, source_task_id=task_id,
                            source_step=step, reported_by=actor.name, reported_at=engine.clock.now()))
        s.flush()
        mine = [r.id for r in work.open_rows if r.assignee == actor.name]
        for task in mine:
            offer_only(s, task, [("user", actor.name)], engine.clock.now())
        return {"case_id": work.case.id, "task_id": mine[0] if mine else None}


def links(engine: Engine, actor: Actor, case_id: str) -> dict[str, Any]:
    """What a case page shows of deviations: the case and step this deviation concerns (`about`,
    None for a case that is no deviation), the measure and period out of target that opened it
    (`measure`, None unless a measure did), and the deviations reported from this case that the
    actor may see (`reported`)."""
    with engine.db.read() as s:
        return {"about": _about(s, actor, case_id), "measure": _measure(s, case_id),
                "reported": _reported(s, actor, case_id)}


def _measure(s: Session, case_id: str) -> dict[str, Any] | None:
    row = s.execute(sa.select(MeasureFollowUp).where(MeasureFollowUp.case_id == case_id)).scalar_one_or_none()
    if row is None:
        return None
    labels = MEASURE_TARGET_LABELS.get(row.measure, {})
    return {"process_key": row.process_key, "measure": row.measure, "label": labels.get("label", row.measure),
            "target": row.target, "actual": row.actual, "unit": labels.get("unit", ""),
            "period_from": row.period_from.astimezone(STOCKHOLM).date().isoformat(),
            "period_until": (row.period_until.astimezone(STOCKHOLM) - timedelta(days=1)).date().isoformat()}


def _about(s: Session, actor: Actor, case_id: str) -> dict[str, Any] | None:
    link = s.execute(sa.select(DeviationLink).where(DeviationLink.case_id == case_id)).scalar_one_or_none()
    if link is None:
        return None
    source = s.get(Case, link.source_case_id)
    visible = source is not None and may_see_case(s, source, actor)
    return {"case_id": link.source_case_id if visible else None,
            "case": _label(source) if source is not None and visible else "ett ärende du inte kan se",
            "step": link.source_step, "task_id": link.source_task_id if visible else None}


def _reported(s: Session, actor: Actor, case_id: str) -> list[dict[str, Any]]:
    out = []
    for link, case in s.execute(sa.select(DeviationLink, Case).join(Case, Case.id == DeviationLink.case_id)
                                .where(DeviationLink.source_case_id == case_id)
                                .order_by(DeviationLink.reported_at)):
        if may_see_case(s, case, actor):
            out.append({"case_id": case.id, "case": _label(case), "step": link.source_step, "status": case.status,
                        "reported_at": link.reported_at.isoformat()})
    return out
