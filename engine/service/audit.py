"""Evidence that holds: chain heads sealed outside the database, and one verification of it all.

Every case and every process keeps a hash-chained history with its head stored beside it. That
alone proves nothing to someone who can write to the database: with the append-only trigger
disabled, an edited event, a deleted one or a forged one can be re-chained and the head moved with
it. So the heads are *sealed*: periodically (`run_due`, once across workers) and on demand
(`seal`), the heads that changed since the last checkpoint are written into a checkpoint signed
with an Ed25519 key the database does not hold (a PEM in ``RUTIN_AUDIT_SIGNING_KEY``, or a key file
in ``$RUTIN_DATA_DIR/audit``), appended as one JSON line to a log outside the database. Each line
names the hash of the line before it, so lines cannot be dropped from the middle unnoticed. The
public keys are published (``public_keys.json`` and ``GET /api/audit/public-key``), so an auditor
verifies without being able to sign. A new key (`rotate_key`) is recorded in the log, endorsed by
the old key when it is at hand.

`verify_all` checks every history against its own chain, its stored head and every point ever
sealed for it, and the projections an auditor relies on (who completed a step, who approved a
version and how) against the chain events that say the same; each finding names the case and
event (or the process and event), in Swedish, and every run is recorded with its result.

What a checkpoint cannot see: events appended after the latest checkpoint and dated after it
(minus a grace for transactions in flight) look like any new event until the next checkpoint
seals them; the window is the sealing interval (``RUTIN_AUDIT_INTERVAL_S``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.exc import IntegrityError

from ..authority.identity import Actor, require_writer
from ..base.errors import Conflict, Forbidden
from ..base.settings import Settings
from ..core import Engine
from ..records import history, redaction
from ..records.chain import process_event_hash
from ..store.models import (
    AuditRun,
    AuditSchedule,
    Case,
    CaseEvent,
    HumanTask,
    ProcessEvent,
    ProcessHead,
    ProcessVersion,
)

log = logging.getLogger(__name__)

KEY_FILE = "signing_key.pem"
PUBLIC_FILE = "public_keys.json"
LOG_FILE = "checkpoints.jsonl"
# Transactions take their instant when they begin and commit a moment later: an event dated this
# little before a checkpoint may rightly be missing from it.
GRACE = timedelta(minutes=5)


def audit_dir(settings: Settings) -> Path:
    """Where the signing key (unless in the environment), public keys and checkpoint log live."""
    return settings.data_dir / "audit"


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A short name for a public key: the start of its SHA-256, what checkpoints cite."""
    return hashlib.sha256(_raw_public(key)).hexdigest()[:16]


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_pem(data: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the audit signing key is not an Ed25519 key")
    return key


def _write_new(path: Path, data: bytes) -> bool:
    """Write a file that appears whole, only if it is not there yet (several processes may start
    at once: one wins, the others use its file). Readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            os.link(staging, path)
            return True
        except FileExistsError:
            return False
    finally:
        staging.unlink(missing_ok=True)


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The key that signs checkpoints: from the environment, else the data directory's key file
    (made on first use). Held outside the database, so writing to the database is not enough to
    re-seal a rewritten history."""
    if settings.audit_signing_key:
        return _load_pem(settings.audit_signing_key.encode())
    path = audit_dir(settings) / KEY_FILE
    if not path.exists():
        _write_new(path, _pem(Ed25519PrivateKey.generate()))
    return _load_pem(path.read_bytes())


def public_keys(settings: Settings) -> list[dict[str, Any]]:
    """Every key that has signed checkpoints here, oldest first (the published file)."""
    try:
        return list(json.loads((audit_dir(settings) / PUBLIC_FILE).read_text(encoding="utf-8")))
    except FileNotFoundError:
        return []


def _save_public_keys(settings: Settings, keys: list[dict[str, Any]]) -> None:
    path = audit_dir(settings) / PUBLIC_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    staging.write_text(json.dumps(keys, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(staging, path)


# -- the checkpoint log ----------------------------------------------------------------------


@contextlib.contextmanager
def _locked_log(settings: Settings) -> Iterator[Any]:
    """The log file opened for appending under an exclusive lock: one writer at a time across
    processes, each line written whole."""
    path = audit_dir(settings) / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield f
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def _lines(data: bytes) -> list[bytes]:
    return [line for line in data.split(b"\n") if line.strip()]


def read_log(settings: Settings) -> list[dict[str, Any]]:
    """The checkpoint log's records in order (unparseable lines as ``{"unreadable": text}``)."""
    try:
        data = (audit_dir(settings) / LOG_FILE).read_bytes()
    except FileNotFoundError:
        return []
    out: list[dict[str, Any]] = []
    for line in _lines(data):
        try:
            record = json.loads(line)
            record["_line_hash"] = hashlib.sha256(line).hexdigest()
        except ValueError:
            record = {"unreadable": line.decode("utf-8", "replace")[:200],
                      "_line_hash": hashlib.sha256(line).hexdigest()}
        out.append(record)
    return out


def _append(settings: Settings, f: Any, record: dict[str, Any], *keys: Ed25519PrivateKey) -> dict[str, Any]:
    """Number, chain and sign a record and append it to the (locked) log."""
    f.seek(0)
    lines = _lines(f.read())
    record["n"] = len(lines) + 1
    record["prev"] = hashlib.sha256(lines[-1]).hexdigest() if lines else None
    body = _canonical(record)
    record["signature"] = _b64(keys[0].sign(body))
    if len(keys) > 1:
        record["endorsement"] = _b64(keys[1].sign(body))
    f.seek(0, os.SEEK_END)
    f.write(_canonical(record) + b"\n")
    f.flush()
    os.fsync(f.fileno())
    return record


def _ensure_published(settings: Settings, f: Any, key: Ed25519PrivateKey, at: datetime) -> str:
    """Publish the signing key if it is new here; a key that replaces another (a new key in the
    environment, or the key file lost or restored without it) is recorded as a rotation."""
    public = key.public_key()
    kid = key_id(public)
    keys = public_keys(settings)
    if any(k["key_id"] == kid for k in keys):
        return kid
    previous = keys[-1]["key_id"] if keys else None
    if keys:
        keys[-1].setdefault("until", at.isoformat())
    keys.append({"key_id": kid, "algorithm": "Ed25519", "public_key": _b64(_raw_public(public)),
                 "since": at.isoformat()})
    _save_public_keys(settings, keys)
    if previous is not None:
        _append(settings, f, {"type": "key_rotation", "at": at.isoformat(), "key_id": kid, "old_key_id": previous,
                              "new_public_key": keys[-1]["public_key"], "endorsed": False}, key)
    return kid


def rotate_key(engine: Engine, actor: str) -> dict[str, Any]:
    """Replace the key file's key with a new one; the log records the change, signed by the new
    key and endorsed by the old, so the chain of keys is itself verifiable."""
    settings = engine.settings
    if settings.audit_signing_key:
        raise Conflict("Signeringsnyckeln kommer från RUTIN_AUDIT_SIGNING_KEY; byt den där. Bytet "
                       "registreras vid nästa kontrollpunkt.")
    now = engine.clock.now()
    with _locked_log(settings) as f:
        old = signing_key(settings)
        old_id = _ensure_published(settings, f, old, now)
        new = Ed25519PrivateKey.generate()
        new_id = key_id(new.public_key())
        keys = public_keys(settings)
        keys[-1]["until"] = now.isoformat()
        keys.append({"key_id": new_id, "algorithm": "Ed25519", "public_key": _b64(_raw_public(new.public_key())),
                     "since": now.isoformat()})
        record = _append(settings, f, {"type": "key_rotation", "at": now.isoformat(), "key_id": new_id,
                                       "old_key_id": old_id, "new_public_key": keys[-1]["public_key"],
                                       "endorsed": True, "actor": actor}, new, old)
        _save_public_keys(settings, keys)
        path = audit_dir(settings) / KEY_FILE
        staging = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(_pem(new))
        os.replace(staging, path)
    log.info("audit signing key rotated from %s to %s by %s", old_id, new_id, actor)
    return {"n": record["n"], "old_key_id": old_id, "key_id": new_id, "at": now.isoformat()}


def _sealed(records: list[dict[str, Any]]) -> dict[str, list[tuple[int, str, int, str]]]:
    """Every point sealed per chain ("case:<id>" or "process:<key>"): (seq, hash, checkpoint, at)."""
    points: dict[str, list[tuple[int, str, int, str]]] = {}
    for r in records:
        if r.get("type") == "checkpoint":
            for chain, (seq, h) in (r.get("heads") or {}).items():
                points.setdefault(chain, []).append((int(seq), str(h), int(r["n"]), str(r["at"])))
    return points


def _heads(s: Any) -> dict[str, tuple[int, str | None]]:
    """Every chain's stored head, read in one snapshot."""
    out: dict[str, tuple[int, str | None]] = {}
    for cid, count, h in s.execute(sa.select(Case.id, Case.event_count, Case.last_event_hash)):
        out[f"case:{cid}"] = (count, h)
    for key, count, h in s.execute(sa.select(ProcessHead.process_key, ProcessHead.event_count,
                                             ProcessHead.last_event_hash)):
        out[f"process:{key}"] = (count, h)
    return out


def _hash_at(s: Any, chain: str, seq: int) -> str | None:
    kind, _, ref = chain.partition(":")
    if kind == "case":
        q = sa.select(CaseEvent.hash).where(CaseEvent.case_id == ref, CaseEvent.seq == seq)
    else:
        q = sa.select(ProcessEvent.hash).where(ProcessEvent.process_key == ref, ProcessEvent.seq == seq)
    return s.execute(q).scalar()


def _earliest_after(s: Any, chain: str, seq: int) -> datetime | None:
    kind, _, ref = chain.partition(":")
    if kind == "case":
        q = sa.select(sa.func.min(CaseEvent.at)).where(CaseEvent.case_id == ref, CaseEvent.seq > seq)
    else:
        q = sa.select(sa.func.min(ProcessEvent.at)).where(ProcessEvent.process_key == ref, ProcessEvent.seq > seq)
    at = s.execute(q).scalar()
    if isinstance(at, str):  # SQLite's min() hands back the stored text, not the typed column
        at = datetime.fromisoformat(at)
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return cast(datetime | None, at)


def seal(engine: Engine, actor: str = "system", *, force: bool = False) -> dict[str, Any] | None:
    """Write a checkpoint of the chain heads that moved since the last one (None when nothing
    moved, unless `force`). A head that no longer extends what was sealed for its chain (its
    sealed event is gone or different), or extends it with events dated before the last
    checkpoint (which would have sealed them), is not sealed: the rewrite stays visible to
    `verify_all` instead of being endorsed."""
    settings = engine.settings
    now = engine.clock.now()
    key = signing_key(settings)
    with _locked_log(settings) as f:
        kid = _ensure_published(settings, f, key, now)
        records = read_log(settings)
        last: dict[str, tuple[int, str, int, str]] = {c: pts[-1] for c, pts in _sealed(records).items()}
        previous = [r for r in records if r.get("type") == "checkpoint"]
        previous_at = datetime.fromisoformat(previous[-1]["at"]) if previous else None
        changed: dict[str, list[Any]] = {}
        refused: list[str] = []
        with engine.db.read() as s:
            for chain, (count, h) in _heads(s).items():
                if count == 0 or h is None:
                    continue
                before = last.get(chain)
                if before is not None and before[0] == count and before[1] == h:
                    continue
                if before is not None and (count < before[0] or _hash_at(s, chain, before[0]) != before[1]):
                    refused.append(chain)
                    continue
                if previous_at is not None:
                    earliest = _earliest_after(s, chain, before[0] if before is not None else 0)
                    if earliest is not None and earliest < previous_at - GRACE:
                        refused.append(chain)
                        continue
                changed[chain] = [count, h]
        if not changed and not force:
            return None
        record = _append(settings, f, {"type": "checkpoint", "at": now.isoformat(), "key_id": kid,
                                       "actor": actor, "heads": changed}, key)
    if refused:
        log.warning("checkpoint %s left out %s chain(s) that no longer extend their seal", record["n"], len(refused))
    return {"n": record["n"], "at": record["at"], "key_id": kid, "sealed": len(changed), "refused": refused}


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
            key.verify(base64.b64decode(r.get("signature") or ""), _canonical(body))
            if r.get("type") == "key_rotation" and r.get("endorsed"):
                old = keys.get(str(r.get("old_key_id")))
                if old is None:
                    raise InvalidSignature
                old.verify(base64.b64decode(r.get("endorsement") or ""), _canonical(body))
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


def _case_rows(events: list[CaseEvent]) -> list[tuple[int, str | None, str, str, datetime, str, str]]:
    """A case's events as `_check_chain` reads them; a culled case's removed events are expected
    to keep their stored hash where its culling event vouches for them (`redaction`)."""
    return [(e.seq, e.prev_hash, e.hash, expected, e.at, e.type, e.actor)
            for e, expected in zip(events, redaction.expected_hashes(events), strict=True)]


def case_findings(s: Any, case: Case) -> list[dict[str, Any]]:
    """A single case's chain findings, without checkpoints (the case page's quick check)."""
    report = Report(started_at=case.created_at)
    rows = _case_rows(history.events(s, case.id))
    _check_chain(report, "case", case.id, f"Ärende {case.id}", rows, (case.event_count, case.last_event_hash), [],
                 None)
    return report.findings


def verify_process_history(engine: Engine, key: str) -> bool:
    """Whether a process's stored history is an unbroken hash chain ending at its stored head."""
    with engine.db.read() as s:
        return not process_findings(s, key)


def process_findings(s: Any, key: str) -> list[dict[str, Any]]:
    """A single process history's chain findings against its stored head, without checkpoints."""

    report = Report(started_at=datetime.min)
    events = list(s.execute(sa.select(ProcessEvent).where(ProcessEvent.process_key == key)
                            .order_by(ProcessEvent.seq)).scalars())
    head = s.execute(sa.select(ProcessHead.event_count, ProcessHead.last_event_hash)
                     .where(ProcessHead.process_key == key)).first()
    rows = [(e.seq, e.prev_hash, e.hash, process_event_hash(e.prev_hash, e), e.at, e.type, e.actor)
            for e in events]
    _check_chain(report, "process", key, f"Process {key}", rows, (head[0], head[1]) if head else (0, None), [], None)
    return report.findings


def _check_projections(s: Any, report: Report) -> None:
    """Who completed a step and who approved a version, as the rows say, against the chain events
    that say the same: a row changed without its event (or an event without its row) is a finding."""
    done: dict[str, tuple[str, str, str | None, int]] = {}
    for case_id, task_id, actor, role, seq in s.execute(
            sa.select(CaseEvent.case_id, CaseEvent.task_id, CaseEvent.actor, CaseEvent.role, CaseEvent.seq)
            .where(CaseEvent.type == "task_completed")):
        done[task_id] = (case_id, actor, role, seq)
    for task_id, case_id, by, role, name in s.execute(
            sa.select(HumanTask.id, HumanTask.case_id, HumanTask.completed_by, HumanTask.completed_role, HumanTask.name)
            .where(HumanTask.completed_by.is_not(None))):
        event = done.get(task_id)
        if event is None:
            report.add("case", case_id, None, f"Ärende {case_id}, steget ”{name}”: slutfört av {by} enligt "
                                              "uppgiften, men ingen händelse i historiken säger att det slutfördes.")
        elif event[1] != by or (event[2] or None) != (role or None):
            report.add("case", case_id, event[3], f"Ärende {case_id}, händelse {event[3]}: steget ”{name}” slutfördes "
                                                  f"av {event[1]} ({event[2] or 'utan roll'}) enligt historiken, "
                                                  f"men uppgiften anger {by} ({role or 'utan roll'}).")
    approved: dict[tuple[str, int], tuple[str, str | None, int]] = {}
    version_event: tuple[str, str | None, int] | None
    uploaded: set[tuple[str, int]] = set()
    for key, version, type_, actor, data, seq in s.execute(
            sa.select(ProcessEvent.process_key, ProcessEvent.version, ProcessEvent.type, ProcessEvent.actor,
                      ProcessEvent.data, ProcessEvent.seq)
            .where(ProcessEvent.type.in_(("version_approved", "version_uploaded")))):
        if type_ == "version_uploaded":
            uploaded.add((key, version))
        else:
            approved[(key, version)] = (actor, (data or {}).get("via"), seq)
    for key, version, by, via in s.execute(
            sa.select(ProcessVersion.key, ProcessVersion.version, ProcessVersion.approved_by,
                      ProcessVersion.approved_via).where(ProcessVersion.approved_by.is_not(None))):
        version_event = approved.get((key, version))
        if version_event is None:
            if (key, version) in uploaded:  # versions from before the process history have no events
                report.add("process", key, None, f"Process {key}, version {version}: godkänd av {by} enligt "
                                                 "versionen, men ingen händelse i historiken säger det.")
        elif version_event[0] != by or version_event[1] != via:
            report.add("process", key, version_event[2], f"Process {key}, händelse {version_event[2]}: version "
                                                         f"{version} godkändes av {version_event[0]} "
                                                         f"({version_event[1]}) enligt historiken, men versionen anger "
                                                 f"{by} ({via}).")


def require_reader(actor: Actor) -> None:
    """Verification results and the live check are for auditors and administrators."""
    if not actor.is_auditor:
        raise Forbidden("Bara revisorer och administratörer ser granskningen av historiken.")


def require_admin(actor: Actor) -> None:
    """Recording a verification, or sealing on demand, writes: administrators only (an auditor
    reads everything and changes nothing, not even a record of their own check)."""

    require_writer(actor)
    if not actor.is_admin:
        raise Forbidden("Bara en administratör kan försegla eller registrera en kontroll; en revisor kan "
                        "kontrollera utan att registrera.")


def verify_all(engine: Engine, *, trigger: str = "cli", actor: str = "system", record: bool = True) -> dict[str, Any]:
    """Check every case and process history against its chain, stored head and every sealed point,
    the checkpoint log against its keys, and the projections against the chains; record the run
    (unless `record` is false: an auditor's live check leaves no trace)."""

    settings = engine.settings
    report = Report(started_at=engine.clock.now())
    records = read_log(settings)
    _check_log(settings, records, report)
    sealed = _sealed(records)
    checkpoints = [r for r in records if r.get("type") == "checkpoint"]
    latest: tuple[int, datetime] | None = None
    if checkpoints:
        report.checkpoint, report.checkpoint_at = int(checkpoints[-1]["n"]), str(checkpoints[-1]["at"])
        latest = (report.checkpoint, datetime.fromisoformat(report.checkpoint_at))
    seen: set[str] = set()
    with engine.db.read() as s:
        heads = {cid: (count, h) for cid, count, h in
                 s.execute(sa.select(Case.id, Case.event_count, Case.last_event_hash))}

        def check_case(cid: str, events: list[Any]) -> None:
            chain = f"case:{cid}"
            seen.add(chain)
            if cid not in heads:
                report.add("case", cid, None, f"Ärende {cid}: historiken finns men ärendet saknas.")
                return
            _check_chain(report, "case", cid, f"Ärende {cid}", _case_rows(events), heads[cid],
                         sealed.get(chain, []), latest)

        current: str | None = None
        rows: list[Any] = []
        query = sa.select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq).execution_options(yield_per=2000)
        for e in s.execute(query).scalars():
            if e.case_id != current:
                if current is not None:
                    check_case(current, rows)
                current, rows = e.case_id, []
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
        _check_projections(s, report)
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


def status(engine: Engine) -> dict[str, Any]:
    """The latest verification, when one last ran clean, the latest checkpoint and the keys."""
    with engine.db.read() as s:
        run = s.execute(sa.select(AuditRun).order_by(AuditRun.id.desc()).limit(1)).scalar_one_or_none()
        due = s.execute(sa.select(AuditSchedule.next_due_at).where(AuditSchedule.id == 1)).scalar()
    checkpoints = [r for r in read_log(engine.settings) if r.get("type") == "checkpoint"]
    return {
        "latest": None if run is None else {
            "id": run.id, "clean": run.clean, "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat(), "trigger": run.trigger, "actor": run.actor,
            "cases": run.cases, "processes": run.processes, "checkpoint": run.checkpoint, "findings": run.findings},
        "last_clean_at": last_clean_at(engine),
        "next_due_at": due.isoformat() if due is not None else None,
        "checkpoint": None if not checkpoints else {
            "n": checkpoints[-1]["n"], "at": checkpoints[-1]["at"], "key_id": checkpoints[-1]["key_id"]},
        "public_keys": public_keys(engine.settings),
    }


def run_due(engine: Engine, worker: str | None = None) -> dict[str, Any] | None:
    """The scheduled seal and verification, if due: claimed by moving the next due instant on in
    one conditional UPDATE, so exactly one of several polling workers runs it. A worker that dies
    after claiming leaves it to the next round (an interval later)."""
    now = engine.clock.now()
    interval = timedelta(seconds=engine.settings.audit_interval_s)
    table = cast(sa.Table, AuditSchedule.__table__)
    values = {"next_due_at": now + interval, "claimed_by": worker or f"{socket.gethostname()}:{os.getpid()}"}
    try:
        with engine.db.write() as s:
            claimed = cast(sa.CursorResult[Any], s.execute(
                sa.update(table).where(table.c.id == 1,
                                       sa.or_(table.c.next_due_at.is_(None), table.c.next_due_at <= now))
                .values(**values))).rowcount
            if not claimed and s.execute(sa.select(table.c.id).where(table.c.id == 1)).first() is None:
                # the row the migration made is gone (a database emptied by hand): the first to put it back runs
                s.execute(sa.insert(table).values(id=1, **values))
                claimed = 1
    except IntegrityError:
        return None
    if not claimed:
        return None
    sealed = seal(engine, "scheduler")
    result = verify_all(engine, trigger="schedule", actor="scheduler")
    if not result["clean"]:
        log.error("audit verification found %s problem(s); first: %s", len(result["findings"]),
                  result["findings"][0]["message"])
    return {"seal": sealed, "verify": result}
