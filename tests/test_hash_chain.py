"""The one hash chain behind case and process histories (`engine.records.chain`).

The pinned hashes were computed with the code that wrote them before the chain was shared: if a
change here makes any of them differ, every stored history in every existing database would stop
verifying, so the test fails first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from engine.records import chain
from engine.store.models import CaseEvent, ProcessEvent

_CASE = {
    "case_id": "c-1", "seq": 2, "type": "task_completed", "actor": "anna", "role": "handläggare",
    "task_id": "t-9", "element_id": "Granska", "process_version_id": 7,
    "data": {"beslut": "bifall", "belopp": 1200, "ö": [1, None]},
    "at": datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC),
}
_PROCESS = {
    "process_key": "ansokan", "seq": 3, "type": "approved", "actor": "admin", "version": 2,
    "data": {"kommentar": "Godkänd på nytt"}, "at": datetime(2026, 3, 1, 10, 0, tzinfo=timezone(timedelta(hours=1))),
}


def test_a_case_event_keeps_its_hash() -> None:
    assert chain.case_event_hash("a" * 64, _CASE) == "af9495b5566142d6223c1e2e954e75ad8d9bab52c2e82c350ae3b3cabcacb5bf"
    assert chain.case_event_hash(None, _CASE) == "880f477b9c53da9db8cc8819ba9e30de19947f054d5592ef861a8d0ebb36f3dd"
    # A stored row hashes as the dict it was written from.
    assert chain.case_event_hash(None, CaseEvent(**_CASE)) == chain.case_event_hash(None, _CASE)


def test_a_process_event_keeps_its_hash() -> None:
    event = ProcessEvent(**_PROCESS)
    assert chain.process_event_hash("b" * 64, event) == "310526c10219b94f6e13e74447f61d868fdf0e74cbcc1aa53dbc522d5dad3887"
    assert chain.process_event_hash(None, event) == "d1bdb90e56277fc2a3ece99faedd8cddd5ea41ed7d2b09b2c0b81540e290215e"
    # Its time is hashed in UTC: the same instant in another zone gives the same hash.
    same = ProcessEvent(**{**_PROCESS, "at": _PROCESS["at"].astimezone(UTC)})
    assert chain.process_event_hash(None, same) == chain.process_event_hash(None, event)


def test_both_histories_share_one_digest() -> None:
    assert chain.case_event_hash("p", _CASE) == chain.digest("p", chain.case_body(_CASE))
    assert chain.process_event_hash("p", _PROCESS) == chain.digest("p", chain.process_body(_PROCESS))
    # The chain: the previous hash is part of what is hashed, the event's own hash is not.
    assert chain.digest("x", {"a": 1}) != chain.digest("y", {"a": 1})
    assert "hash" not in chain.case_body({**_CASE, "hash": "h"}) and "prev_hash" not in chain.process_body(_PROCESS)
