"""Statutory case clocks and the process owner's deadline policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import Person, deploy, fixture_bytes

from engine import cases, processes, tasks
from engine.clock import ManualClock
from engine.core import Engine
from engine.identity import SYSTEM


def _complete_open(engine: Engine, case: dict[str, Any]) -> dict[str, Any]:
    return tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"], {})["case"]


def test_ten_weeks_from_receipt_paused_while_waiting_and_extended_once(engine: Engine, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    processes.deploy(engine, SYSTEM, fixture_bytes("case_clock.bpmn"))
    case = cases.start_case(engine, SYSTEM, "lov", {"inkom": "2026-02-27"}, "BN-2026-7")
    clock_state = cases.get_case(engine, SYSTEM, case["id"])["deadline"]
    # received Friday 27 February: ten weeks end Friday 8 May 2026 (end of day, Swedish time)
    assert clock_state["deadline"] == "2026-05-08T21:59:59+00:00" and clock_state["paused"] is False
    assert clock_state["time_left_s"] > 0

    case = _complete_open(engine, case)  # now waiting for the applicant
    assert cases.get_case(engine, SYSTEM, case["id"])["deadline"]["paused"] is True
    clock.advance(timedelta(days=14))
    case = _complete_open(engine, case)  # the completion arrived: the clock runs again, 14 days later
    state = cases.get_case(engine, SYSTEM, case["id"])["deadline"]
    assert state["paused"] is False and state["deadline"] == "2026-05-22T21:59:59+00:00"

    case = _complete_open(engine, case)  # extension decided: +10 weeks, once
    state = cases.get_case(engine, SYSTEM, case["id"])["deadline"]
    assert state["extended"] is True and state["deadline"] == "2026-07-31T21:59:59+00:00"

    clock.set(datetime(2026, 8, 10, 8, 0, tzinfo=UTC))  # 10 days late
    result = engine.scheduler.tick()
    assert result.kinds.get("case_deadline") == 1
    late = cases.get_case(engine, SYSTEM, case["id"])
    assert late["deadline"]["late_by_s"] > 9 * 86400 and late["deadline"]["late_weeks_started"] == 2
    types = [e["type"] for e in late["history"]]
    for kind in ("case_clock_started", "case_clock_paused", "case_clock_resumed", "case_clock_extended",
                 "case_deadline_passed"):
        assert kind in types
    assert engine.scheduler.tick().fired == 0


def test_policy_sets_due_dates_the_diagram_does_not(client: Any, people: dict[str, Person], engine: Engine,
                                                   clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    deploy(client, people["designer"], "seq3.bpmn")
    body = {"tasks": {"a": {"due": "3WD", "escalation": "0:notify_manager"}}}
    assert client.put("/api/processes/seq3/policy", json=body, headers=people["hanna"].headers).status_code == 403
    bad = client.put("/api/processes/seq3/policy", json={"tasks": {"a": {"due": "snart"}}},
                     headers=people["owner"].headers)
    assert bad.status_code == 422
    assert client.put("/api/processes/seq3/policy", json={"tasks": {"zz": {"due": "P1D"}}},
                      headers=people["owner"].headers).status_code == 422
    ok = client.put("/api/processes/seq3/policy", json=body, headers=people["owner"].headers)
    assert ok.status_code == 200 and ok.get_json()["tasks"]["a"]["due"] == "3WD"
    case = client.post("/api/processes/seq3/cases", json={}, headers=people["hanna"].headers).get_json()
    assert case["open_tasks"][0]["due"] == "2026-03-05T22:59:59+00:00"  # Thursday, end of day
