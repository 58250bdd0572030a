"""Culling (gallring) under the retention rules: exactly once per case, leaving a trace.

The job (`run_due`, on the scheduler of ``rutin serve`` and ``rutin worker``; once across workers,
claimed as the audit's is) finds closed cases whose rule says ``gallras`` and whose period, counted
from the case's closing, has run out; a held case is passed over. Each is culled in its own
transaction holding the case's lock, and a unique culling record per case makes a second culling
impossible (a second worker finds the record, or fails on it and rolls back). Culling removes the
case's data (the case data, the form answers on its tasks, the serialized workflow that holds them,
its notices) and empties the data of every event of its history (comments and form answers live
there); what remains is the culling record (process, case kind, opened, closed, rule and decision,
culled at) and the history's skeleton.

Why the chain still verifies, and how. We keep each removed event's hash and seal before culling,
both: the chain format hashes an event's data inline, so once the data is gone the old hashes can
be kept but never recomputed. Keeping them keeps the chain linked; sealing the head into a signed
checkpoint before removing anything anchors it outside the database; and a `case_culled` event
appended to the chain (hashed as any event) records the head, how many events were emptied and
the digest of what remains of them (`engine.records.redaction`), so `rutin audit verify` still
detects any change to what culling kept. A case whose history does not verify in full, or whose
head could not be sealed, is not culled: evidence of tampering is never destroyed by culling.

A dry run lists what the job would cull now and changes nothing. The report lists the culling
records of a period, with the decision each rests on.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..authority.identity import Actor, require_writer
from ..base.errors import Busy, Forbidden, InvalidInput
from ..core import Engine
from ..execution.runtime import CaseWork, locked_case
from ..records import history, redaction
from ..service import audit
from ..store.job_claim import claim_round
from ..store.models import Case, CaseEvent, HumanTask, Notification, ProcessVersion
from ..store.retention_models import ArchiveDelivery, CullingRecord, RetentionRule, RetentionSchedule
from . import holds, rules

log = logging.getLogger(__name__)

JOB_ACTOR = "gallring"
_events = cast(sa.Table, CaseEvent.__table__)


@dataclass
class CullResult:
    """What one culling round did (or, dry, would do)."""

    dry_run: bool
    culled: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    checkpoint: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The API form."""
        return {"dry_run": self.dry_run, "culled": self.culled, "held": self.held, "skipped": self.skipped,
                "checkpoint": self.checkpoint}


def _require_reader(actor: Actor) -> None:
    if not (rules.may_manage(actor) or actor.is_auditor):
        raise Forbidden("Gallring visas för administratörer, arkivansvariga och revisorer.")


def _candidate(case: Case, rule: RetentionRule, after: datetime) -> dict[str, Any]:
    return {"case_id": case.id, "process_key": case.process_key, "business_key": case.business_key,
            "opened_at": case.created_at.isoformat(),
            "closed_at": case.completed_at.isoformat() if case.completed_at else None,
            "cull_after": after.isoformat(), "rule": rules.rule_json(rule)}


def due(s: Session, now: datetime) -> list[tuple[Case, RetentionRule, datetime]]:
    """Closed, not yet culled cases whose rule says gallras and whose period has run out (held
    ones included: the caller decides), oldest closing first."""
    shortest: dict[str, int] = {}
    for key, months in s.execute(sa.select(RetentionRule.process_key, sa.func.min(RetentionRule.period_months))
                                 .where(RetentionRule.status == "approved", RetentionRule.action == "gallras")
                                 .group_by(RetentionRule.process_key)):
        shortest[key] = int(months or 0)
    out: list[tuple[Case, RetentionRule, datetime]] = []
    culled = sa.select(CullingRecord.case_id)
    queries = [sa.select(Case).where(Case.process_key == key, Case.completed_at <= rules.add_months(now, -months))
               for key, months in sorted(shortest.items())]
    # Cases kept for ever go once the e-archive has confirmed receiving them.
    queries.append(sa.select(Case).where(Case.id.in_(sa.select(ArchiveDelivery.case_id).where(
        ArchiveDelivery.received_at.is_not(None)))))
    seen: set[str] = set()
    for q in queries:
        q = q.where(Case.status == "completed", Case.completed_at.is_not(None), Case.id.not_in(culled))
        for case in s.execute(q.order_by(Case.completed_at, Case.id)).scalars():
            rule = rules.rule_for_case(s, case)
            after = cull_at(s, rule, case) if rule is not None else None
            if rule is not None and after is not None and after <= now and case.id not in seen:
                seen.add(case.id)
                out.append((case, rule, after))
    out.sort(key=lambda t: (t[2], t[0].id))
    return out


def cull_at(s: Session, rule: RetentionRule, case: Case) -> datetime | None:
    """When a closed case may be culled: its period after closing under a rule of culling, or,
    under a rule of keeping, once the e-archive has confirmed receiving its package (None: not)."""
    if rule.action == "gallras":
        return rules.cull_after(rule, case)
    return s.execute(sa.select(sa.func.min(ArchiveDelivery.received_at)).where(
        ArchiveDelivery.case_id == case.id, ArchiveDelivery.received_at.is_not(None))).scalar()


def dry_run(engine: Engine, actor: Actor) -> dict[str, Any]:
    """What culling would remove now, and which cases a hold keeps; nothing is written."""
    _require_reader(actor)
    result = CullResult(dry_run=True)
    with engine.db.read() as s:
        held = holds.held_case_ids(s)
        for case, rule, after in due(s, engine.clock.now()):
            (result.held if case.id in held else result.culled).append(_candidate(case, rule, after))
    return result.to_json()


def _sealed_heads(engine: Engine) -> dict[str, list[tuple[int, str, int]]]:
    """Every (count, head hash, checkpoint) sealed per case chain, from the signed checkpoint log."""
    points: dict[str, list[tuple[int, str, int]]] = {}
    for record in audit.read_log(engine.settings):
        if record.get("type") == "checkpoint":
            for chain, (count, head) in (record.get("heads") or {}).items():
                points.setdefault(chain, []).append((int(count), str(head), int(record["n"])))
    return points


def cull_due(engine: Engine, actor: Actor | str = JOB_ACTOR, *, limit: int | None = None) -> dict[str, Any]:
    """Cull every case due now (up to `limit`), each once; return what was culled, held and skipped."""
    if isinstance(actor, Actor):
        require_writer(actor)
        if not rules.may_manage(actor):
            raise Forbidden("Bara administratörer och arkivansvariga gallrar.")
    name = actor.name if isinstance(actor, Actor) else actor
    result = CullResult(dry_run=False)
    with engine.db.read() as s:
        found = due(s, engine.clock.now())
        held = holds.held_case_ids(s)
        todo = []
        for case, rule, after in found:
            if case.id in held:
                result.held.append(_candidate(case, rule, after))
            else:
                todo.append(case.id)
    if limit is not None:
        todo = todo[:limit]
    if not todo:
        return result.to_json()
    # The heads are sealed before anything is removed: what culling keeps is anchored outside the database.
    sealed = audit.seal(engine, JOB_ACTOR)
    result.checkpoint = sealed["n"] if sealed else None
    points = _sealed_heads(engine)
    for case_id in todo:
        try:
            outcome = cull_case(engine, case_id, name, points)
        except IntegrityError:  # another worker culled it between our look and our lock
            outcome = {"case_id": case_id, "skipped": "Ärendet har redan gallrats."}
        except Busy:  # someone holds the case longer than the lock timeout: the next round takes it
            outcome = {"case_id": case_id, "skipped": "Ärendet var upptaget; det gallras vid nästa körning."}
        (result.skipped if "skipped" in outcome else result.culled).append(outcome)
    for item in result.skipped:
        log.warning("case %s not culled: %s", item["case_id"], item["skipped"])
    return result.to_json()


def cull_case(engine: Engine, case_id: str, actor: str, points: dict[str, list[tuple[int, str, int]]]
              ) -> dict[str, Any]:
    """Cull one case under the lock of the case, if it is still due, unheld, verifying and sealed."""
    with locked_case(engine, case_id) as (s, case):
        now = engine.clock.now()
        rule = rules.rule_for_case(s, case)
        after = cull_at(s, rule, case) if rule is not None and case.status == "completed" else None
        if rule is None or after is None or after > now:
            return {"case_id": case_id, "skipped": "Ärendet ska inte gallras nu."}
        if s.execute(sa.select(CullingRecord.id).where(CullingRecord.case_id == case.id)).first() is not None:
            return {"case_id": case_id, "skipped": "Ärendet har redan gallrats."}
        if holds.active(s, case.id) is not None:
            return {"case_id": case_id, "skipped": "Ärendet är undantaget från gallring."}
        if audit.case_findings(s, case):
            return {"case_id": case_id, "skipped": "Ärendets historik verifieras inte; det gallras inte förrän "
                                                   "avvikelsen är utredd."}
        head = (case.event_count, case.last_event_hash)
        checkpoint = next((n for count, h, n in points.get(f"case:{case.id}", []) if (count, h) == head), None)
        if checkpoint is None:
            return {"case_id": case_id, "skipped": "Ärendets kedjehuvud är inte förseglat i en kontrollpunkt."}
        version = s.get(ProcessVersion, case.process_version_id)
        assert version is not None and case.completed_at is not None
        record = CullingRecord(
            case_id=case.id, process_key=case.process_key, process_name=version.name,
            process_version=version.version, business_key=case.business_key, org_unit_id=case.org_unit_id,
            opened_at=case.created_at, closed_at=case.completed_at, rule_id=rule.id, rule_version=rule.version,
            decision_ref=rule.decision_ref, decision_body=rule.decision_body, decision_date=rule.decision_date,
            culled_at=now, culled_by=actor, events_redacted=case.event_count, checkpoint=checkpoint)
        s.add(record)
        s.flush()  # the record first: the history's trigger lets data go only from a culled case
        events = history.events(s, case.id)
        vouch = {"redacted_through": len(events), "head_hash": case.last_event_hash,
                 "residual_sha256": redaction.residual_digest(events), "checkpoint": checkpoint}
        s.execute(sa.update(_events).where(_events.c.case_id == case.id).values(data={}, redacted_at=now))
        s.execute(sa.update(HumanTask).where(HumanTask.case_id == case.id).values(result=None))
        s.execute(sa.delete(Notification).where(Notification.case_id == case.id))
        work = CaseWork(engine, s, case)
        work.now = now
        # A new revision, so that no process reuses a workflow it holds in memory for the case.
        case.data, case.state_json, case.status, case.revision = {}, "", "culled", case.revision + 1
        work.event("case_culled", actor=actor, data={
            **vouch, "rule": rule.id, "rule_version": rule.version, "decision_ref": rule.decision_ref,
            "decision_body": rule.decision_body, "decision_date": rule.decision_date})
        return record_json(record)


def record_json(r: CullingRecord) -> dict[str, Any]:
    """The API form of a culling record."""
    return {
        "case_id": r.case_id, "process_key": r.process_key, "process_name": r.process_name,
        "process_version": r.process_version, "business_key": r.business_key, "org_unit": r.org_unit_id,
        "opened_at": r.opened_at.isoformat(), "closed_at": r.closed_at.isoformat(), "rule": r.rule_id,
        "rule_version": r.rule_version,
        "decision": {"ref": r.decision_ref, "body": r.decision_body, "date": r.decision_date},
        "culled_at": r.culled_at.isoformat(), "culled_by": r.culled_by, "events_redacted": r.events_redacted,
        "checkpoint": r.checkpoint,
    }


def culling_record(engine: Engine, actor: Actor, case_id: str) -> dict[str, Any] | None:
    """What remains of a culled case (None: not culled), for who reads culling."""
    _require_reader(actor)
    return record_of(engine, case_id)


def record_of(engine: Engine, case_id: str) -> dict[str, Any] | None:
    """A case's culling record (None: not culled); the caller has checked that the case may be seen."""
    with engine.db.read() as s:
        r = s.execute(sa.select(CullingRecord).where(CullingRecord.case_id == case_id)).scalar_one_or_none()
        return record_json(r) if r is not None else None


def report(engine: Engine, actor: Actor, *, since: datetime | None = None,
           until: datetime | None = None) -> list[dict[str, Any]]:
    """The cases culled in a period (culled at, from `since` up to `until`), with their decisions."""
    _require_reader(actor)
    if since is not None and until is not None and until <= since:
        raise InvalidInput("Periodens slut ska vara efter dess början.")
    q = sa.select(CullingRecord).order_by(CullingRecord.culled_at, CullingRecord.id)
    if since is not None:
        q = q.where(CullingRecord.culled_at >= since)
    if until is not None:
        q = q.where(CullingRecord.culled_at < until)
    with engine.db.read() as s:
        return [record_json(r) for r in s.execute(q).scalars()]


REPORT_HEADERS = {"culled_at": "Gallrat", "decision_ref": "Gallringsbeslut", "decision_body": "Beslutande organ",
                  "decision_date": "Beslutsdatum", "process_name": "Ärendeslag", "process_key": "Process",
                  "process_version": "Processversion", "business_key": "Ärendenummer", "org_unit": "Enhet",
                  "opened_at": "Öppnat", "closed_at": "Avslutat", "rule": "Regel", "rule_version": "Regelversion",
                  "case_id": "Ärende-id", "culled_by": "Gallrat av"}


def report_csv(rows: list[dict[str, Any]]) -> str:
    """The report as CSV with Swedish headers (semicolon-separated, as Swedish spreadsheets expect)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(REPORT_HEADERS.values())
    for r in rows:
        flat = {**r, "decision_ref": r["decision"]["ref"], "decision_body": r["decision"]["body"],
                "decision_date": r["decision"]["date"]}
        writer.writerow(["" if flat[k] is None else flat[k] for k in REPORT_HEADERS])
    return out.getvalue()


def run_due(engine: Engine, worker: str | None = None) -> dict[str, Any] | None:
    """The scheduled culling, if due: claimed by moving the next due instant on in one conditional
    UPDATE, so exactly one of several polling workers runs it (the cases themselves are culled once
    whoever runs: a culling record per case)."""
    now = engine.clock.now()
    if not claim_round(engine.db, cast(sa.Table, RetentionSchedule.__table__), now,
                       timedelta(seconds=engine.settings.culling_interval_s), worker):
        return None
    return cull_due(engine, JOB_ACTOR)
