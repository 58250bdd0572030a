"""Checkpoints: chain heads sealed outside the database with a key the database does not hold.

Every case and every process keeps a hash-chained history with its head stored beside it. That
alone proves nothing to someone who can write to the database: with the append-only trigger
disabled, an edited event, a deleted one or a forged one can be re-chained and the head moved with
it. So the heads are *sealed*: periodically and on demand (`seal`), the heads that changed since
the last checkpoint are written into a checkpoint signed with an Ed25519 key the database does not
hold (a PEM in ``RUTIN_AUDIT_SIGNING_KEY``, or a key file in ``$RUTIN_DATA_DIR/audit``), appended
as one JSON line to a log outside the database. Each line names the hash of the line before it, so
lines cannot be dropped from the middle unnoticed. The public keys are published
(``public_keys.json`` and ``GET /api/audit/public-key``), so an auditor verifies without being able
to sign. A new key (`rotate_key`) is recorded in the log, endorsed by the old key when it is at hand.

What a checkpoint cannot see: events appended after the latest checkpoint and dated after it
(minus a grace for transactions in flight) look like any new event until the next checkpoint
seals them; the window is the sealing interval (``RUTIN_AUDIT_INTERVAL_S``).
"""


import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.orm import Session

from ..base.errors import Conflict
from ..base.settings import Settings
from ..core import Engine
from ..store.models import (
    Case,
    CaseEvent,
    ProcessEvent,
    ProcessHead,
)
from . import checkpoint_copies

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


def canonical(obj: Any) -> bytes:
    """The bytes a log record's signature covers: JSON with sorted keys and no spaces."""
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
    body = canonical(record)
    record["signature"] = _b64(keys[0].sign(body))
    if len(keys) > 1:
        record["endorsement"] = _b64(keys[1].sign(body))
    f.seek(0, os.SEEK_END)
    f.write(canonical(record) + b"\n")
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
    _copy(engine, record)
    return {"n": record["n"], "old_key_id": old_id, "key_id": new_id, "at": now.isoformat()}


def sealed_points(records: list[dict[str, Any]]) -> dict[str, list[tuple[int, str, int, str]]]:
    """Every point sealed per chain ("case:<id>" or "process:<key>"): (seq, hash, checkpoint, at)."""
    points: dict[str, list[tuple[int, str, int, str]]] = {}
    for r in records:
        if r.get("type") == "checkpoint":
            for chain, (seq, h) in (r.get("heads") or {}).items():
                points.setdefault(chain, []).append((int(seq), str(h), int(r["n"]), str(r["at"])))
    return points


def _heads(s: Session) -> dict[str, tuple[int, str | None]]:
    """Every chain's stored head, read in one snapshot."""
    out: dict[str, tuple[int, str | None]] = {}
    for cid, count, h in s.execute(sa.select(Case.id, Case.event_count, Case.last_event_hash)):
        out[f"case:{cid}"] = (count, h)
    for key, count, h in s.execute(sa.select(ProcessHead.process_key, ProcessHead.event_count,
                                             ProcessHead.last_event_hash)):
        out[f"process:{key}"] = (count, h)
    return out


def _hash_at(s: Session, chain: str, seq: int) -> str | None:
    kind, _, ref = chain.partition(":")
    if kind == "case":
        q = sa.select(CaseEvent.hash).where(CaseEvent.case_id == ref, CaseEvent.seq == seq)
    else:
        q = sa.select(ProcessEvent.hash).where(ProcessEvent.process_key == ref, ProcessEvent.seq == seq)
    return s.execute(q).scalar()


def _earliest_after(s: Session, chain: str, seq: int) -> datetime | None:
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


def _copy(engine: Engine, record: dict[str, Any]) -> None:
    """Send the copies of a record just written (the line is what `_append` wrote, re-made)."""
    line = canonical(record)
    checkpoint_copies.send(engine, record, line, hashlib.sha256(line).hexdigest())


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
        last: dict[str, tuple[int, str, int, str]] = {c: pts[-1] for c, pts in sealed_points(records).items()}
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
    _copy(engine, record)
    if refused:
        log.warning("checkpoint %s left out %s chain(s) that no longer extend their seal", record["n"], len(refused))
    return {"n": record["n"], "at": record["at"], "key_id": kid, "sealed": len(changed), "refused": refused}

