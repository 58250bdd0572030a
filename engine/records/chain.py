"""The hash chain shared by every history Rutin keeps: a case's events and a process's events.

One digest for both: an event's hash is SHA-256 over the previous event's hash (empty for the
first) followed by the event's body as canonical JSON (sorted keys, no spaces, UTF-8 as is). Each
history keeps its own body shape (`case_body`, `process_body`), because the hashes already stored
were made from exactly those shapes and must still verify; what a body holds is the event's
content, never its own hash. The writers (`engine.records.history.append`,
`engine.catalogue.processes.record`) and the verifier (`engine.service.verification`) all call the
functions here, so the chain cannot drift between who writes it and who checks it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC
from typing import Any

CASE_FIELDS = ("case_id", "seq", "type", "actor", "role", "task_id", "element_id", "process_version_id", "data")
PROCESS_FIELDS = ("process_key", "seq", "type", "actor", "version", "data")


def digest(prev: str | None, body: dict[str, Any]) -> str:
    """The hash of an event whose body is `body`, chained after the hash `prev` (None for the first)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(((prev or "") + text).encode()).hexdigest()


def _row(e: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return e if isinstance(e, dict) else {k: getattr(e, k) for k in (*fields, "at")}


def case_body(e: Any) -> dict[str, Any]:
    """What a case event's hash covers (an event row or a dict): its time as stored, not converted."""
    row = _row(e, CASE_FIELDS)
    body = {k: row[k] for k in CASE_FIELDS}
    body["at"] = row["at"].isoformat()
    return body


def process_body(e: Any) -> dict[str, Any]:
    """What a process event's hash covers (an event row or a dict): its time in UTC."""
    row = _row(e, PROCESS_FIELDS)
    body = {k: row[k] for k in PROCESS_FIELDS}
    body["at"] = row["at"].astimezone(UTC).isoformat()
    return body


def case_event_hash(prev: str | None, e: Any) -> str:
    """What chains a case's history: the hash of an event (a row or a dict) after `prev`."""
    return digest(prev, case_body(e))


def process_event_hash(prev: str | None, e: Any) -> str:
    """What chains a process's history: the hash of an event (a row or a dict) after `prev`."""
    return digest(prev, process_body(e))
