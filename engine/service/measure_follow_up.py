"""Follow-up of measures out of target (ISO 9001 9.1 → 10.2), and the measures a yearly review reads.

After a calendar month has ended, each process target its actual missed in that month opens a
nonconformity: a case of the shipped deviation process (`avvikelsehantering`, ISO 9001 10.2),
placed in the measured process's unit (or, where it has none, the unit most of its cases are
in, so that the unit manager's immediate action has someone), whose first step ("Rapportera avvikelse") goes to the
measured process's owner role alone (`engine.service.first_step`) with the measure, the target,
the actual and the period as its data and its description. From there it flows as any deviation
does: classification, corrective action, the check that it was effective. Where the deviation
process is not published, the follow-up is Rutin's own one-step process
`rutin_matetalsuppfoljning` for the owner instead, so a missed target is never lost.

It opens once: the case and its `measure_follow_ups` row (the link from the measure and period to
the case) are written in one transaction, and the row is unique per process, measure and period,
so a second scheduler worker (or a second run) that gets as far as writing one is refused by the
database and rolls its case back with it.

The yearly review (`engine.service.process_review`) gets the measures of the year it
reviews, with their targets, as data on the review case.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bpmn.model import HumanStep

from ..authority import org
from ..authority.identity import SYSTEM
from ..authority.ownership import DEFAULT_OWNER_ROLE, governing_version
from ..base.clock import STOCKHOLM
from ..base.errors import Conflict, NotFound
from ..base.labels import MEASURE_TARGET_LABELS
from ..catalogue import processes
from ..core import Engine
from ..store.measure_models import MeasureFollowUp, MeasureTarget
from ..store.models import Case, ProcessVersion
from . import first_step, measure_targets, measures
from .cases import start_in
from .first_step import DEVIATION_PROCESS

log = logging.getLogger(__name__)

FOLLOW_UP_PROCESS = "rutin_matetalsuppfoljning"
REVIEWED_PERIOD = timedelta(days=365)


def closed_period(now: datetime) -> tuple[datetime, datetime]:
    """The last calendar month (Swedish time) that has ended by `now`: [its first day, the next's)."""
    local = now.astimezone(STOCKHOLM)
    until = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    since = (until - timedelta(days=1)).replace(day=1)
    return since, until


def _ensure_process(engine: Engine) -> None:
    with engine.db.read() as s:
        present = s.execute(sa.select(ProcessVersion.id).where(
            ProcessVersion.key.in_([DEVIATION_PROCESS, FOLLOW_UP_PROCESS]))).first()
    if present is None:
        # Another worker deploying it at the same moment: a conflict, and it is there now.
        with contextlib.suppress(Conflict):
            processes.deploy(engine, SYSTEM, (processes.BUILTIN / "matetalsuppfoljning.bpmn").read_bytes(),
                             "matetalsuppfoljning.bpmn", approve_as_admin=True)


def _period_text(since: datetime, until: datetime) -> str:
    return f"{since.date().isoformat()} – {(until - timedelta(days=1)).date().isoformat()}"


def run_due(engine: Engine) -> list[dict[str, Any]]:
    """Open a deviation (or follow-up) case for each target missed in the last closed month that has none yet;
    return those opened (a scheduler job: `rutin serve` and `rutin worker` run it)."""
    now = engine.clock.now()
    since, until = closed_period(now)
    with engine.db.read() as s:
        wanted = s.execute(sa.select(MeasureTarget.process_key, MeasureTarget.measure, MeasureTarget.target)).all()
        done = {(k, m) for k, m in s.execute(sa.select(MeasureFollowUp.process_key, MeasureFollowUp.measure)
                                              .where(MeasureFollowUp.period_from == since))}
        keys = sorted({k for k, m, _ in wanted if (k, m) not in done})
        rows = {r["process_key"]: r for r in measures.period_rows(s, keys, since, until, now)} if keys else {}
    missed = []
    for key, measure, target in wanted:
        if (key, measure) in done or key not in rows:
            continue
        [verdict] = measure_targets.verdicts(rows[key], {measure: target})
        if verdict["within"] is False:
            missed.append((key, measure, verdict))
    if not missed:
        return []
    _ensure_process(engine)
    opened = []
    for key, measure, verdict in missed:
        try:
            with engine.db.write() as s:
                if s.execute(sa.select(MeasureFollowUp.id).where(
                        MeasureFollowUp.process_key == key, MeasureFollowUp.measure == measure,
                        MeasureFollowUp.period_from == since)).first() is not None:
                    continue  # another worker opened it meanwhile
                opened.append(_open(engine, s, key, measure, verdict, since, until, now))
        except IntegrityError:
            log.info("follow-up of %s %s for %s already opened by another worker", key, measure, since.date())
    return opened


def _open(engine: Engine, s: Session, key: str, measure: str, verdict: dict[str, Any], since: datetime,
          until: datetime, now: datetime) -> dict[str, Any]:
    v = governing_version(s, key)
    owner = (v.owner_role if v is not None else None) or DEFAULT_OWNER_ROLE
    period = _period_text(since, until)
    unit = MEASURE_TARGET_LABELS[measure]["unit"]
    name = v.name if v is not None else key
    actual = f"{verdict['actual']:g} {unit}".replace(".", ",")
    data = {"process": key, "process_name": name, "agare": owner, "matetal": verdict["label"],
            "mal": verdict["target_text"], "utfall": actual, "period": period}
    business_key = f"Mätetal {key} {measure} {since.date().isoformat()}"[:200]
    try:
        deviation = processes.latest_version(s.connection(), DEVIATION_PROCESS)
    except NotFound:
        deviation = None
    if deviation is not None:
        data |= {"galler_matetal": f"{verdict['label']} i {name}, {period}", "kalla": "internt",
                 "upptackt_datum": until.date().isoformat(),
                 "beskrivning": f"Mätetalet {verdict['label'].lower()} i processen {name} låg utanför målet "
                                f"under {period}: mål {verdict['target_text']}, utfall {actual}."}
        placed = org.process_unit(engine, s.connection(), key, engine.model(v.id).properties if v is not None else {})
        if placed is None:  # where the measured work was done: the unit most of the period's cases are in
            placed = s.execute(sa.select(Case.org_unit_id).where(
                Case.process_key == key, Case.org_unit_id.is_not(None), Case.created_at < until)
                .group_by(Case.org_unit_id).order_by(sa.func.count().desc(), Case.org_unit_id).limit(1)).scalar()
        work = start_in(engine, s, SYSTEM, deviation, data, business_key, via="measure_follow_up", org_unit=placed)
        first = [r for r in work.open_rows if r.name == "Rapportera avvikelse"]
        for row in first:
            route = work.router.offer(HumanStep(element_id="", name=row.name, role=owner,
                                                candidate_groups=[owner]), data, work.case.org_unit_id)
            first_step.offer_only(s, row.id, list(route.candidates), now, role=owner)
    else:
        follow_up = processes.latest_version(s.connection(), FOLLOW_UP_PROCESS)
        work = start_in(engine, s, SYSTEM, follow_up, data, business_key, via="measure_follow_up")
    s.add(MeasureFollowUp(process_key=key, measure=measure, period_from=since, period_until=until,
                          target=verdict["target"], actual=verdict["actual"], case_id=work.case.id, opened_at=now))
    s.flush()  # the unique row: a second opening fails here, and its case goes with the rollback
    return {"process_key": key, "measure": measure, "period": period, "case_id": work.case.id,
            "process": work.case.process_key}


def follow_ups(engine: Engine, keys: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The cases opened for the processes `keys` by measures out of target, newest period first,
    for the page: each a deviation (`deviation` true) or the owner's follow-up, with its status."""
    with engine.db.read() as s:
        out: dict[str, list[dict[str, Any]]] = {}
        for r, kind, status in s.execute(
                sa.select(MeasureFollowUp, Case.process_key, Case.status).join(Case, Case.id == MeasureFollowUp.case_id)
                .where(MeasureFollowUp.process_key.in_(keys)).order_by(MeasureFollowUp.period_from.desc())):
            out.setdefault(r.process_key, []).append({
                "measure": r.measure, "label": MEASURE_TARGET_LABELS.get(r.measure, {}).get("label", r.measure),
                "period": _period_text(r.period_from.astimezone(STOCKHOLM), r.period_until.astimezone(STOCKHOLM)),
                "case_id": r.case_id, "deviation": kind == DEVIATION_PROCESS, "status": status})
        return out


def review_data(engine: Engine, s: Session, key: str, until: datetime) -> dict[str, Any]:
    """What a yearly review of `key` is given to read: the measures of the year up to `until` (its
    due date), and each target against its actual (in the scheduler's transaction)."""
    since = until - REVIEWED_PERIOD
    [row] = measures.period_rows(s, [key], since, until, engine.clock.now())
    found = s.execute(sa.select(MeasureTarget.measure, MeasureTarget.target)
                      .where(MeasureTarget.process_key == key)).all()
    verdicts = measure_targets.verdicts(row, {r.measure: r.target for r in found})

    def num(value: float | None, unit: str) -> str:
        return "–" if value is None else f"{value:g} {unit}".replace(".", ",")

    # Said in words as well: the case page shows a case's plain values, not its nested ones.
    summary = (f"{row['started']} startade, {row['completed']} avslutade; ledtid median "
               f"{num(row['lead_time_days_median'], 'dagar')}, "
               f"90 % klara inom {num(row['lead_time_days_p90'], 'dagar')}; "
               f"inom tidsfristen {num(measure_targets.actual(row, 'within_deadline_share'), '%')}")
    goals = "; ".join(f"{v['label']}: mål {v['target_text']}, utfall {num(v['actual'], v['unit'])} – {v['verdict']}"
                      for v in verdicts) or "Inga mål satta"
    return {"Mätetal under perioden": summary, "Mål och utfall": goals,
            "granskad_period": _period_text(since.astimezone(STOCKHOLM), until.astimezone(STOCKHOLM)
                                            + timedelta(days=1)),
            "matetal": {"startade": row["started"], "avslutade": row["completed"],
                        "ledtid_median_dagar": row["lead_time_days_median"],
                        "ledtid_p90_dagar": row["lead_time_days_p90"],
                        "andel_inom_tidsfristen": measure_targets.actual(row, "within_deadline_share"),
                        "pagaende": row["active"], "efter_tidsfristen": row["past_deadline"],
                        "incidenter": row["incidents"]},
            "mal": [{"matetal": v["label"], "mal": v["target_text"], "utfall": v["actual"], "bedomning": v["verdict"]}
                    for v in verdicts]}
