"""Verification: every history against its chain, its stored head and every point ever sealed.

`verify_all` checks every case and process history, the checkpoint log against its published keys,
and the projections an auditor relies on against the chain events that say the same
(`engine.service.audit_projections`); each finding names the case and event (or the process and
event), in Swedish, and every run is recorded with its result.
"""


import base64
import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from ..base.settings import Settings
from ..core import Engine
from ..records import history, redaction
from ..records.chain import CASE_FIELDS, process_event_hash
from ..store.models import (
    AuditRun,
    Case,
    CaseEvent,
    ProcessEvent,
    ProcessHead,
)
from .audit_projections import check_approvals, check_projections
from .checkpoints import GRACE, LOG_FILE, PUBLIC_FILE, audit_dir, canonical, public_keys, read_log, sealed_points

# -- verification -----------------------------------------------------------------------------


@dataclass
class Report:
    """What one verification found."""

    started_at: datetime
    cases: int = 0
    processes: int = 0
    checkpoint: int | None = None
    checkpoint_at: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)

    def add(self, kind: str, ref: str | None, seq: int | None, message: str) -> None:
        """One finding: what it concerns (a case id, a process key, the checkpoint log), the event."""
        item: dict[str, Any] = {"kind": kind, "seq": seq, "message": message}
        if kind == "case":
            item["case_id"] = ref
        elif kind == "process":
            item["process_key"] = ref
        self.findings.append(item)


def _check_log(settings: Settings, records: list[dict[str, Any]], report: Report) -> None:
    """Every line chained to the one before and signed by a published key (a rotation's new key
    endorsed by the old one, when it says so)."""
    keys: dict[str, Ed25519PublicKey] = {}
    for k in public_keys(settings):
        with contextlib.suppress(ValueError, KeyError):
            keys[k["key_id"]] = Ed25519PublicKey.from_public_bytes(base64.b64decode(k["public_key"]))
    prev = None
    for i, r in enumerate(records, start=1):
        where = f"Kontrollpunktsloggen, rad {i}"
        if "unreadable" in r:
            report.add("checkpoint", None, None, f"{where}: raden går inte att läsa.")
            prev = r["_line_hash"]
            continue
        if r.get("n") != i or r.get("prev") != prev:
            report.add("checkpoint", None, None, f"{where}: raden följer inte på raden före (en rad saknas, "
                                                 "är ändrad eller har flyttats).")
        prev = r["_line_hash"]
        body = {k: v for k, v in r.items() if k not in ("signature", "endorsement", "_line_hash")}
        key = keys.get(str(r.get("key_id")))
        if r.get("type") == "key_rotation" and key is None and r.get("new_public_key"):
            with contextlib.suppress(ValueError):
                key = Ed25519PublicKey.from_public_bytes(base64.b64decode(r["new_public_key"]))
        if key is None:
            report.add("checkpoint", None, None, f"{where}: signerad med en okänd nyckel ({r.get('key_id')}).")
            continue
        try:
            key.verify(base64.b64decode(r.get("signature") or ""), canonical(body))
            if r.get("type") == "key_rotation" and r.get("endorsed"):
                old = keys.get(str(r.get("old_key_id")))
                if old is None:
                    raise InvalidSignature
                old.verify(base64.b64decode(r.get("endorsement") or ""), canonical(body))
        except (InvalidSignature, ValueError):
            report.add("checkpoint", None, None, f"{where}: signaturen stämmer inte; raden är ändrad eller "
                                                 "förfalskad.")


def _check_chain(report: Report, kind: str, ref: str, label: str, rows: list[tuple[int, str | None, str, str, datetime,
                 str, str]], head: tuple[int, str | None], sealed: list[tuple[int, str, int, str]],
                 latest: tuple[int, datetime] | None) -> None:
    """One history: rows are (seq, prev_hash, hash, recomputed hash, at, type, actor) in order."""
    prev: str | None = None
    broken = False
    for n, (seq, prev_hash, h, digest, *_rest) in enumerate(rows, start=1):
        if broken:
            break
        if seq != n:
            report.add(kind, ref, n, f"{label}, händelse {n}: händelsen saknas (nästa lagrade är {seq}).")
            broken = True
        elif prev_hash != prev:
            report.add(kind, ref, seq, f"{label}, händelse {seq}: kedjan bryts, föregående hash stämmer inte.")
            broken = True
        elif digest != h:
            report.add(kind, ref, seq, f"{label}, händelse {seq}: innehållet är ändrat, hashen stämmer inte.")
            broken = True
        prev = h
    count, head_hash = head
    if not broken and (count != len(rows) or head_hash != prev):
        report.add(kind, ref, count, f"{label}: det lagrade kedjehuvudet (händelse {count}) stämmer inte med "
                                     f"historikens sista händelse ({len(rows)}); händelser har tagits bort eller lagts "
                                     "till förbi huvudet.")
    by_seq = {r[0]: r[2] for r in rows}
    good = 0
    for seq, h, n, sealed_at in sealed:
        if seq not in by_seq:
            report.add(kind, ref, seq, f"{label}, händelse {seq}: händelsen saknas men förseglades i kontrollpunkt "
                                       f"{n} ({sealed_at}).")
            break
        if by_seq[seq] != h:
            first = good + 1
            span = f"händelse {seq}" if first == seq else f"händelserna {first}–{seq}"
            report.add(kind, ref, seq, f"{label}, {span}: skrivna om efter att de förseglades i kontrollpunkt {n} "
                                       f"({sealed_at}); händelse {seq} har inte den förseglade hashen.")
            break
        good = max(good, seq)
    if latest is not None:
        sealed_to = max((p[0] for p in sealed), default=0)
        last_n, last_at = latest
        for seq, _p, _h, _d, when, type_, actor in rows:
            if seq > sealed_to and when < last_at - GRACE:
                report.add(kind, ref, seq, f"{label}, händelse {seq} ({type_}, {actor}): daterad {when.isoformat()} "
                                           f"men saknas i kontrollpunkt {last_n} ({last_at.isoformat()}); den har "
                                           "lagts till i "
                                           "efterhand.")
                break


def case_rows(events: list[Any]) -> list[tuple[int, str | None, str, str, datetime, str, str]]:
    """A case's events (rows or plain dicts) as `_check_chain` reads them; a culled case's removed
    events are expected to keep their stored hash where its culling event vouches for them
    (`engine.records.redaction`)."""
    return [(e["seq"], e["prev_hash"], e["hash"], expected, e["at"], e["type"], e["actor"]) if isinstance(e, dict)
            else (e.seq, e.prev_hash, e.hash, expected, e.at, e.type, e.actor)
            for e, expected in zip(events, redaction.expected_hashes(events), strict=True)]


def case_findings(s: Session, case: Case) -> list[dict[str, Any]]:
    """A single case's chain findings, without checkpoints (the case page's quick check)."""
    report = Report(started_at=case.created_at)
    rows = case_rows(history.events(s, case.id))
    _check_chain(report, "case", case.id, f"Ärende {case.id}", rows, (case.event_count, case.last_event_hash), [],
                 None)
    return report.findings


# The checkpoint log as last read and checked, by the files' identity: a case record reads it on
# every view, and it changes only when a checkpoint is written (hourly). Parsing and checking the
# signature of a line sealing 10,000 heads took most of a case record's time.
# `verify_all` (the scheduled run, `rutin audit verify`) never uses it: it always reads the files.
_LOG_CACHE: dict[tuple[Any, ...], tuple[list[dict[str, Any]], dict[str, list[tuple[int, str, int, str]]],
                                        tuple[int, datetime] | None]] = {}


def _checked_log(settings: Settings) -> tuple[list[dict[str, Any]], dict[str, list[tuple[int, str, int, str]]],
                                               tuple[int, datetime] | None]:
    """The log's own findings, every sealed point per chain, and the latest checkpoint."""
    key: tuple[Any, ...] = (str(settings.data_dir.resolve()),)
    for name in (LOG_FILE, PUBLIC_FILE):
        try:
            st = (audit_dir(settings) / name).stat()
            key += (st.st_size, st.st_mtime_ns, st.st_ino)
        except FileNotFoundError:
            key += (None,)
    cached = _LOG_CACHE.get(key)
    if cached is not None:
        return cached
    report = Report(started_at=datetime.min)
    records = read_log(settings)
    _check_log(settings, records, report)
    checkpoints = [r for r in records if r.get("type") == "checkpoint"]
    latest = (int(checkpoints[-1]["n"]), datetime.fromisoformat(checkpoints[-1]["at"])) if checkpoints else None
    result = (report.findings, sealed_points(records), latest)
    _LOG_CACHE.clear()  # one log per process is the usual case; never grows
    _LOG_CACHE[key] = result
    return result


def verify_case(engine: Engine, case_id: str) -> dict[str, Any]:
    """One case, as `verify_all` checks it: its chain and stored head, every point sealed for it in
    the checkpoint log (and the log's own chain and signatures), and its projections. For the
    case record an auditor prints; nothing is recorded."""
    report = Report(started_at=engine.clock.now())
    log_findings, points, latest = _checked_log(engine.settings)
    report.findings.extend(log_findings)
    sealed = points.get(f"case:{case_id}", [])
    with engine.db.read() as s:
        head = s.execute(sa.select(Case.event_count, Case.last_event_hash).where(Case.id == case_id)).one()
        rows = case_rows(history.events(s, case_id))
        _check_chain(report, "case", case_id, f"Ärende {case_id}", rows, (head[0], head[1]), sealed, latest)
        check_projections(s, report.add, case_id)
    return {"clean": not report.findings, "at": report.started_at.isoformat(), "events": len(rows),
            "sealed_to": max((p[0] for p in sealed), default=0),
            "checkpoint": None if latest is None else {"n": latest[0], "at": latest[1].isoformat()},
            "findings": report.findings}


def verify_process_history(engine: Engine, key: str) -> bool:
    """Whether a process's stored history is an unbroken hash chain ending at its stored head."""
    with engine.db.read() as s:
        return not process_findings(s, key)


def process_findings(s: Session, key: str) -> list[dict[str, Any]]:
    """A single process history's chain findings against its stored head, without checkpoints."""
    report = Report(started_at=datetime.min)
    _check_process(s, report, key, [], None)
    return report.findings


def _check_process(s: Session, report: Report, key: str, sealed: list[tuple[int, str, int, str]],
                   latest: tuple[int, datetime] | None) -> None:
    events = list(s.execute(sa.select(ProcessEvent).where(ProcessEvent.process_key == key)
                            .order_by(ProcessEvent.seq)).scalars())
    head = s.execute(sa.select(ProcessHead.event_count, ProcessHead.last_event_hash)
                     .where(ProcessHead.process_key == key)).first()
    rows = [(e.seq, e.prev_hash, e.hash, process_event_hash(e.prev_hash, e), e.at, e.type, e.actor)
            for e in events]
    _check_chain(report, "process", key, f"Process {key}", rows, (head[0], head[1]) if head else (0, None),
                 sealed, latest)


def verify_process(engine: Engine, key: str) -> dict[str, Any]:
    """One process history, as `verify_all` checks it: its chain and stored head, every point sealed
    for it in the checkpoint log (and the log's own chain and signatures), and who approved each
    version and how against its events. For a version's page; nothing is recorded."""
    report = Report(started_at=engine.clock.now())
    log_findings, points, latest = _checked_log(engine.settings)
    report.findings.extend(log_findings)
    sealed = points.get(f"process:{key}", [])
    with engine.db.read() as s:
        _check_process(s, report, key, sealed, latest)
        check_approvals(s, report.add, key)
        events = s.execute(sa.select(sa.func.count()).select_from(ProcessEvent)
                           .where(ProcessEvent.process_key == key)).scalar_one()
    return {"clean": not report.findings, "at": report.started_at.isoformat(), "events": events,
            "sealed_to": max((p[0] for p in sealed), default=0),
            "checkpoint": None if latest is None else {"n": latest[0], "at": latest[1].isoformat()},
            "findings": report.findings}


def verify_all(engine: Engine, *, trigger: str = "cli", actor: str = "system", record: bool = True) -> dict[str, Any]:
    """Check every case and process history against its chain, stored head and every sealed point,
    the checkpoint log against its keys, and the projections against the chains; record the run
    (unless `record` is false: an auditor's live check leaves no trace)."""

    settings = engine.settings
    report = Report(started_at=engine.clock.now())
    records = read_log(settings)
    _check_log(settings, records, report)
    sealed = sealed_points(records)
    checkpoints = [r for r in records if r.get("type") == "checkpoint"]
    latest: tuple[int, datetime] | None = None
    if checkpoints:
        report.checkpoint, report.checkpoint_at = int(checkpoints[-1]["n"]), str(checkpoints[-1]["at"])
        latest = (report.checkpoint, datetime.fromisoformat(report.checkpoint_at))
    seen: set[str] = set()
    with engine.db.snapshot() as s:
        heads = {cid: (count, h) for cid, count, h in
                 s.execute(sa.select(Case.id, Case.event_count, Case.last_event_hash))}

        def check_case(cid: str, events: list[Any]) -> None:
            chain = f"case:{cid}"
            seen.add(chain)
            if cid not in heads:
                report.add("case", cid, None, f"Ärende {cid}: historiken finns men ärendet saknas.")
                return
            _check_chain(report, "case", cid, f"Ärende {cid}", case_rows(events), heads[cid],
                         sealed.get(chain, []), latest)

        current: str | None = None
        rows: list[Any] = []
        # Plain rows, not ORM objects: building 90,000 of them was half of a verification's time.
        table = cast(sa.Table, CaseEvent.__table__)
        query = (sa.select(*[table.c[k] for k in (*CASE_FIELDS, "at", "prev_hash", "hash", "redacted_at")])
                 .order_by(table.c.case_id, table.c.seq).execution_options(yield_per=2000))
        for m in s.execute(query).mappings():
            e = dict(m)
            if e["case_id"] != current:
                if current is not None:
                    check_case(current, rows)
                current, rows = e["case_id"], []
            rows.append(e)
        if current is not None:
            check_case(current, rows)
        for cid, head in heads.items():
            if f"case:{cid}" not in seen:
                seen.add(f"case:{cid}")
                _check_chain(report, "case", cid, f"Ärende {cid}", [], head, sealed.get(f"case:{cid}", []), latest)
        report.cases = len(heads)

        pheads = {k: (c, h) for k, c, h in s.execute(sa.select(ProcessHead.process_key, ProcessHead.event_count,
                                                              ProcessHead.last_event_hash))}
        by_key: dict[str, list[Any]] = {}
        for pe in s.execute(sa.select(ProcessEvent).order_by(ProcessEvent.process_key, ProcessEvent.seq)).scalars():
            by_key.setdefault(pe.process_key, []).append(
                (pe.seq, pe.prev_hash, pe.hash, process_event_hash(pe.prev_hash, pe), pe.at, pe.type, pe.actor))
        for key in sorted(set(by_key) | set(pheads)):
            seen.add(f"process:{key}")
            _check_chain(report, "process", key, f"Process {key}", by_key.get(key, []), pheads.get(key, (0, None)),
                         sealed.get(f"process:{key}", []), latest)
        report.processes = len(set(by_key) | set(pheads))
        for chain in sorted(set(sealed) - seen):
            kind, _, ref = chain.partition(":")
            seq, _h, n, at = sealed[chain][-1]
            what = f"Ärende {ref}" if kind == "case" else f"Process {ref}"
            report.add(kind, ref, seq, f"{what}: historiken saknas helt men förseglades i kontrollpunkt {n} ({at}) "
                                       f"med {seq} händelser.")
        check_projections(s, report.add)
    finished = engine.clock.now()
    run_id = None
    if record:
        run_id = _record(engine, report, finished, trigger, actor)
    result = {"id": run_id, "clean": not report.findings, "started_at": report.started_at.isoformat(),
              "finished_at": finished.isoformat(), "trigger": trigger, "actor": actor, "cases": report.cases,
              "processes": report.processes, "checkpoint": report.checkpoint,
              "checkpoint_at": report.checkpoint_at, "findings": report.findings}
    result["last_clean_at"] = last_clean_at(engine)
    return result


def _record(engine: Engine, report: Report, finished: datetime, trigger: str, actor: str) -> int:
    with engine.db.write() as s:
        run = AuditRun(started_at=report.started_at, finished_at=finished, trigger=trigger, actor=actor,
                       clean=not report.findings, cases=report.cases, processes=report.processes,
                       checkpoint=report.checkpoint, findings=report.findings[:1000])
        s.add(run)
        s.flush()
        return int(run.id)


def last_clean_at(engine: Engine) -> str | None:
    """When a verification last found nothing."""
    with engine.db.read() as s:
        at = s.execute(sa.select(sa.func.max(AuditRun.finished_at)).where(AuditRun.clean.is_(True))).scalar()
    if isinstance(at, str):  # SQLite's max() hands back the stored text, not the typed column
        at = datetime.fromisoformat(at)
    return at.isoformat() if at is not None else None


