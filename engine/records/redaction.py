"""How a culled case's history still verifies: each removed event keeps its hash.

Culling (`engine.retention.culling`) empties the `data` of every event of the case (form answers,
comments, start data, decisions' contents) and marks it `redacted_at`; the event's type, actor,
role, time, `prev_hash` and `hash` stay. Such an event's hash can no longer be recomputed (it
covered the data), so what vouches for it instead is the `case_culled` event appended right after
the last removed one, whose own hash is computed as usual and chained on. That event records:

- ``redacted_through``: how many events had their data removed (always the first N: all of them);
- ``head_hash``: the hash of event N, the chain head when the case was culled, which culling has
  also had sealed in a signed checkpoint beforehand (so the head is anchored outside the database);
- ``residual_sha256``: the SHA-256 of what remains of events 1..N (every column but `data`),
  taken when the whole chain had just been verified in full.

So a history verifies when its events 1..N are linked by their stored hashes, event N's hash is
the recorded head, what remains of them digests to the recorded residual, their data is empty,
and everything from the culling event on recomputes as any event does. Changing what remains of
a removed event (its actor, say) breaks the residual; changing a stored hash breaks the links or
the head; and forging a culling event breaks its own hash and the signed checkpoints after it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import chain

CULLED = "case_culled"
RESIDUAL_FIELDS = ("seq", "type", "actor", "role", "task_id", "element_id", "process_version_id", "prev_hash",
                   "hash")


def residual(e: Any) -> dict[str, Any]:
    """What culling leaves of an event (a row or a dict): everything but its data."""
    row = e if isinstance(e, dict) else {k: getattr(e, k) for k in (*RESIDUAL_FIELDS, "at")}
    out = {k: row[k] for k in RESIDUAL_FIELDS}
    out["at"] = row["at"].isoformat()
    return out


def residual_digest(events: list[Any]) -> str:
    """The SHA-256 of what remains of these events, in order (canonical JSON)."""
    text = json.dumps([residual(e) for e in events], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _redacted(e: Any) -> bool:
    return (e.get("redacted_at") if isinstance(e, dict) else e.redacted_at) is not None


def _vouched(events: list[Any], n: int) -> bool:
    """Whether the event after the first `n` (all redacted) is a culling event vouching for them."""
    if n >= len(events):
        return False
    culled = events[n]
    row = culled if isinstance(culled, dict) else {"type": culled.type, "data": culled.data}
    data = row["data"] or {}
    if row["type"] != CULLED or _redacted(culled) or data.get("redacted_through") != n:
        return False
    last = events[n - 1]
    head = last["hash"] if isinstance(last, dict) else last.hash
    empty = all(not ((e["data"] if isinstance(e, dict) else e.data) or {}) for e in events[:n])
    return bool(empty and data.get("head_hash") == head and data.get("residual_sha256") == residual_digest(events[:n]))


def expected_hashes(events: list[Any]) -> list[str]:
    """For a case's events in order, the hash each must have: recomputed from its content, or, for
    the removed events a culling event vouches for, their stored hash. A removed event nothing
    vouches for gets its recomputed hash, so the verifier reports it as changed."""
    n = 0
    while n < len(events) and _redacted(events[n]):
        n += 1
    vouched = n > 0 and _vouched(events, n)
    out = []
    for i, e in enumerate(events):
        if vouched and i < n:
            out.append(e["hash"] if isinstance(e, dict) else e.hash)
        else:
            prev = e["prev_hash"] if isinstance(e, dict) else e.prev_hash
            out.append(chain.case_event_hash(prev, e))
    return out
