"""Process measures for monitoring and management review (ISO 9001 9.1): per process and step.

Over a period: how many cases started and were finished, their lead times (from the day of
receipt where the case holds one, else from its start), how many finished
within their statutory deadline; per step, how long it took, whether it was done by its due
date, and how often it escalated. Beside that, what stands now: open cases, those past their
deadline, incidents, open and overdue steps. Everything is read from the projections and the
history (`cases`, `human_tasks`, `case_events`), never from a workflow.

A case counts in the period it finished in (what a quarter delivered); "started" counts the
cases that began in it. Medians and the 90th percentile are taken in Python over the period's
finished cases: the three databases' percentile functions differ, and a period's rows are few.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority.identity import Actor
from ..authority.ownership import holds_owner_role
from ..base.errors import Forbidden, InvalidInput
from ..clocks import case_clock
from ..core import Engine
from ..store.models import Case, CaseEvent, HumanTask, ProcessVersion
from . import measure_targets

DAY = 86400.0
HOUR = 3600.0


def readable_processes(engine: Engine, actor: Actor) -> set[str] | None:
    """The process keys whose measures the actor may read; None: all of them.

    Auditors and administrators read every process; a process owner (who holds the process's
    owner role) reads their own processes, whose measures their management review needs.
    """
    if actor.is_admin or actor.is_auditor:
        return None

    with engine.db.read() as s:
        # The owner of the process as published: a draft naming another owner role grants nothing.
        versions = s.execute(sa.select(ProcessVersion).where(ProcessVersion.status == "published")).scalars()
        return {v.key for v in versions if holds_owner_role(engine, actor, v)}


def _quantile(values: list[float], q: float) -> float | None:
    """The q-quantile (0–1) of the values by linear interpolation, None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _in_period(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    conditions = [column.is_not(None)]
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


def measures(engine: Engine, actor: Actor, *, since: datetime | None = None, until: datetime | None = None,
             process: str | None = None) -> dict[str, Any]:
    """The measures of each process the actor may read over [since, until), and of each step
    of `process` when one is named."""
    if since is not None and until is not None and until <= since:
        raise InvalidInput("Periodens slut ska ligga efter dess början.")
    allowed = readable_processes(engine, actor)
    if allowed is not None and not allowed:
        raise Forbidden("Mätetalen är för processägare, revisorer och administratörer.")
    if process and allowed is not None and process not in allowed:
        raise Forbidden(f"Du äger inte processen {process!r} och kan inte läsa dess mätetal.")
    now = engine.clock.now()
    keys = [process] if process else (sorted(allowed) if allowed is not None else None)
    with engine.db.read() as s:
        out: dict[str, Any] = {
            "period": {"from": since.isoformat() if since else None, "until": until.isoformat() if until else None},
            "processes": _process_rows(s, keys, since, until, now),
        }
        if process:
            out["steps"] = _step_rows(s, process, since, until, now)
    with_targets(engine, out["processes"])
    return out


def with_targets(engine: Engine, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each process row with its targets against the period's actuals (`targets`, empty without any)."""
    found = measure_targets.targets(engine, [r["process_key"] for r in rows])
    for r in rows:
        r["targets"] = measure_targets.verdicts(r, found.get(r["process_key"], {}))
    return rows


def period_rows(s: Session, keys: list[str], since: datetime, until: datetime, now: datetime) -> list[dict[str, Any]]:
    """The measures of the processes `keys` over [since, until), read in the caller's session (for
    the scheduler's follow-up and the yearly review, which read as the system)."""
    return _process_rows(s, keys, since, until, now)


def lead_time_origin(created: datetime, received: str | None) -> datetime:
    """Where a case's lead time counts from: the start of the day of receipt when the case holds
    one (the registrar's "Inkom", which the statutory clock also counts from), else its start.

    Handling time in a municipality runs from when the matter came in, not from when someone
    got round to registering it; the receipt value is kept as entered even when a pause or a
    restart later moves the clock's own origin.
    """
    return case_clock.receipt_day(received) or created


def _epoch(s: Session, column: Any) -> Any:
    """An instant column as seconds since 1970 (UTC), computed by the database."""
    if s.get_bind().dialect.name == "sqlite":  # stored as UTC text, which julianday reads as UTC
        return (sa.func.julianday(column) - 2440587.5) * 86400.0
    return sa.cast(sa.extract("epoch", column), sa.Float)


def _process_rows(s: Session, keys: list[str] | None, since: datetime | None, until: datetime | None,
                  now: datetime) -> list[dict[str, Any]]:
    versions = s.execute(sa.select(ProcessVersion.key, ProcessVersion.name, ProcessVersion.status)
                         .order_by(ProcessVersion.version)).all()
    names = {key: name for key, name, _ in versions}
    scope = [Case.process_key.in_(keys)] if keys is not None else []
    rows: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "started": 0, "completed": 0, "lead_times": [], "with_deadline": 0, "within_deadline": 0,
        "active": 0, "past_deadline": 0, "incidents": 0})
    for key, count in s.execute(
        sa.select(Case.process_key, sa.func.count()).where(*_in_period(Case.created_at, since, until),
                                                           *scope)
        .group_by(Case.process_key)
    ):
        rows[key]["started"] = int(count)
    # Instants as seconds computed by the database, and the deadline compared there: building a
    # datetime per value for every case in the period was most of the page's time. Read through
    # the connection (plain rows, no ORM loading), and each day of receipt's start reckoned once.
    origins: dict[str, float | None] = {}
    for key, created, completed, within, received in s.connection().execute(
        sa.select(Case.process_key, _epoch(s, Case.created_at), _epoch(s, Case.completed_at),
                  sa.case((Case.deadline_at.is_(None), None), (Case.completed_at <= Case.deadline_at, 1), else_=0),
                  Case.deadline_from_value)
        .where(Case.status == "completed", *_in_period(Case.completed_at, since, until),
               *scope)
    ).all():
        assert completed is not None  # a completed case has its completion time
        row = rows[key]
        row["completed"] += 1
        start = None
        if received is not None:
            if received not in origins:
                origin = case_clock.receipt_day(received)
                origins[received] = origin.timestamp() if origin is not None else None
            start = origins[received]
        row["lead_times"].append((float(completed) - (float(created) if start is None else start)) / DAY)
        if within is not None:
            row["with_deadline"] += 1
            row["within_deadline"] += int(within)
    for key, status, count, late in s.execute(
        sa.select(Case.process_key, Case.status, sa.func.count(),
                  sa.func.sum(sa.case((Case.deadline_at < now, 1), else_=0)))
        .where(Case.status.in_(("active", "incident")), *scope)
        .group_by(Case.process_key, Case.status)
    ):
        rows[key]["active" if status == "active" else "incidents"] += int(count)
        rows[key]["past_deadline"] += int(late or 0)
    # A process without cases has its (empty) row too: each asked for, or every published one.
    for key in keys if keys is not None else {k for k, _, status in versions if status == "published"}:
        _ = rows[key]
    out = []
    for key in sorted(rows, key=lambda k: (names.get(k) or k).casefold()):
        r = rows[key]
        lead = r.pop("lead_times")
        out.append({"process_key": key, "process_name": names.get(key, key), **r,
                    "lead_time_days_median": _round(_quantile(lead, 0.5)),
                    "lead_time_days_p90": _round(_quantile(lead, 0.9)),
                    "within_deadline_share": _share(r["within_deadline"], r["with_deadline"])})
    return out


def _step_rows(s: Session, key: str, since: datetime | None, until: datetime | None,
               now: datetime) -> list[dict[str, Any]]:
    steps: dict[str, dict[str, Any]] = {}

    def step(element_id: str, name: str | None) -> dict[str, Any]:
        found = steps.get(element_id)
        if found is None:
            found = steps[element_id] = {"element_id": element_id, "name": name or element_id, "completed": 0,
                                         "durations": [], "with_due": 0, "on_time": 0, "open": 0, "overdue": 0,
                                         "escalations": 0}
        return found

    # Plain rows through the connection: ORM loading of one row per finished step was most of the
    # page's time. (Ranking in the database, for the quantiles, measured slower on both databases.)
    for element, name, created, completed, on_time in s.connection().execute(
        sa.select(HumanTask.element_id, HumanTask.name, _epoch(s, HumanTask.created_at),
                  _epoch(s, HumanTask.completed_at),
                  sa.case((HumanTask.due_at.is_(None), None), (HumanTask.completed_at <= HumanTask.due_at, 1), else_=0))
        .where(HumanTask.process_key == key, HumanTask.status == "completed",
               *_in_period(HumanTask.completed_at, since, until))
    ).all():
        assert completed is not None  # a completed task has its completion time
        row = steps.get(element) or step(element, name)
        row["completed"] += 1
        row["durations"].append((float(completed) - float(created)) / HOUR)
        if on_time is not None:
            row["with_due"] += 1
            row["on_time"] += int(on_time)
    for element, name, count, late in s.execute(
        sa.select(HumanTask.element_id, sa.func.max(HumanTask.name), sa.func.count(),
                  sa.func.sum(sa.case((HumanTask.due_at < now, 1), else_=0)))
        .where(HumanTask.process_key == key, HumanTask.status == "open")
        .group_by(HumanTask.element_id)
    ):
        row = step(element, name)
        row["open"], row["overdue"] = int(count), int(late or 0)
    for event_element, count in s.execute(  # an event's element may be None, a task's never
        sa.select(CaseEvent.element_id, sa.func.count())
        .join(Case, Case.id == CaseEvent.case_id)
        .where(Case.process_key == key, CaseEvent.type == "escalation_step",
               *_in_period(CaseEvent.at, since, until))
        .group_by(CaseEvent.element_id)
    ):
        if event_element:
            step(event_element, None)["escalations"] = int(count)
    out = []
    for r in sorted(steps.values(), key=lambda r: r["name"].casefold()):
        durations = r.pop("durations")
        out.append({**r, "duration_hours_median": _round(_quantile(durations, 0.5)),
                    "duration_hours_p90": _round(_quantile(durations, 0.9)),
                    "on_time_share": _share(r["on_time"], r["with_due"])})
    return out


PROCESS_COLUMNS = ["process_key", "process_name", "started", "completed", "lead_time_days_median",
                   "lead_time_days_p90", "with_deadline", "within_deadline", "within_deadline_share", "active",
                   "past_deadline", "incidents"]
STEP_COLUMNS = ["element_id", "name", "completed", "duration_hours_median", "duration_hours_p90", "with_due",
                "on_time", "on_time_share", "escalations", "open", "overdue"]


def as_csv(found: dict[str, Any]) -> str:
    """The measures as CSV for the management review's papers: the processes, or a chosen
    process's steps (semicolon-separated and decimal commas, as Swedish spreadsheets expect)."""
    steps = "steps" in found
    rows, columns = (found["steps"], STEP_COLUMNS) if steps else (found["processes"], PROCESS_COLUMNS)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, delimiter=";", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: str(v).replace(".", ",") if isinstance(v, float) else v for k, v in row.items()})
    return out.getvalue()
