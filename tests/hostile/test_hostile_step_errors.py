"""Hostile probes: a step that fails after an action is an incident, never a 500 or a stuck case.

Each model in ``tests/fixtures/step_errors/`` makes one kind of failure right after one trigger: a
completed task, a message, a timer firing. Each probe starts a case with the data that makes the
step fail, triggers it, and asserts the refusal of the step (the case is in incident naming the
element, in Swedish, recorded in its history; the action itself answered normally) and the
absence of a half-written effect (the open task rows are exactly the workflow's ready tasks). A
retry with the corrected data then runs the case on to its end.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from conftest import Person, publish
from workflow_rows import assert_rows_match_workflow

from engine.base.clock import ManualClock
from engine.core import Engine

# On both databases: a failing step must leave no half-written case, which is each database's transaction.
pytestmark = pytest.mark.both_databases

# kind -> (start data that makes the step fail, the step's name, words the Swedish message holds,
#          data a retry corrects it with, the step names then open)
KINDS: dict[str, tuple[dict[str, Any], str, tuple[str, ...], dict[str, Any], list[str]]] = {
    # A text is iterable: SpiffWorkflow would have made one instance per character.
    "parallell_samling": ({"handlingar": "ansokan.pdf"}, "Granska handling", ("handlingar", "ska vara en lista"),
                          {"handlingar": ["a.pdf", "b.pdf"]}, ["Granska handling", "Granska handling"]),
    "sekventiell_samling": ({}, "Granska handling", ("handlingar", "saknas"),
                            {"handlingar": ["a.pdf", "b.pdf"]}, ["Granska handling"]),
    "slutvillkor": ({}, "Räkna poäng", ("poang > grans", "variabeln 'grans' saknas"), {"grans": 5}, ["Avsluta"]),
    "slingvillkor": ({}, "Skicka påminnelse", ("skickade < antal", "variabeln 'antal' saknas"), {"antal": 1},
                     ["Avsluta"]),
    "dataobjekt": ({}, "Pröva ansökan", ("ansokningar", "saknas"), {"ansokningar": ["A-1"]}, ["Pröva ansökan"]),
    "utsamling": ({"handlingar": [1, 2], "bedomningar": "klar"}, "Bedöm", ("bedomningar", "lista eller en post"),
                  {"bedomningar": []}, ["Avsluta"]),
    "utvarde": ({"handlingar": [1, 2], "bedom": False}, "Bedöm", ("inget värde", "bedomning"),
                {"bedom": True, "bedomning": 0}, ["Avsluta"]),
    "skriptfel": ({"kategori": "C"}, "Sätt taxa", ("skriptet stoppade", "'C' saknas"), {"kategori": "A"},
                  ["Avsluta"]),
}
TRIGGERS = ("uppgift", "meddelande", "timer")
# What Python or SpiffWorkflow would have said: none of it may reach a case handler.
ENGLISH = re.compile(r"\b(Error|error|is not defined|object|instances|Expected|Missing|Traceback|exception|"
                     r"iterable|multiinstance)\b")


def _open(case: dict[str, Any]) -> list[str]:
    return sorted(t["name"] for t in case["open_tasks"])


@pytest.mark.parametrize("trigger", TRIGGERS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_failing_step_after_an_action_is_an_incident_that_retry_runs_on(
        kind: str, trigger: str, client: Any, people: dict[str, Person], engine: Engine, clock: ManualClock) -> None:
    bad, step_name, words, fix, after_retry = KINDS[kind]
    admin = people["admin"]
    assert publish(client, people, f"step_errors/{kind}.bpmn").status_code == 201
    key, element = f"{kind}_{trigger}", f"{kind}_{trigger}_steg"
    started = client.post(f"/api/processes/{key}/cases", json={"data": bad}, headers=admin.headers)
    assert started.status_code == 201, started.get_json()
    case_id = started.get_json()["id"]

    if trigger == "uppgift":
        [task] = started.get_json()["open_tasks"]
        r = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {}}, headers=admin.headers)
        assert r.status_code == 200, r.get_data(as_text=True)
        assert r.get_json()["task"]["status"] == "completed"  # the completion itself stands
    elif trigger == "meddelande":
        r = client.post(f"/api/cases/{case_id}/messages/svar", json={"data": {}}, headers=admin.headers)
        assert r.status_code == 200, r.get_data(as_text=True)
    else:
        clock.advance(timedelta(hours=1, minutes=1))
        tick = engine.scheduler.tick()
        assert (tick.fired, tick.failed) == (1, 0)

    case = client.get(f"/api/cases/{case_id}", headers=admin.headers).get_json()
    assert case["status"] == "incident", case
    incident = case["incident"]
    assert (incident["element_id"], incident["element_name"]) == (element, step_name)
    message = incident["message"]
    assert all(w.lower() in message.lower() for w in words), message
    assert not ENGLISH.search(message), message
    raised = [e for e in case["history"] if e["type"] == "incident_raised"]
    assert [e["element_id"] for e in raised] == [element]
    assert raised[0]["data"]["error"] == message and case["history_intact"]
    assert_rows_match_workflow(engine, case_id)
    assert _open(case) == []

    r = client.post(f"/api/cases/{case_id}/retry", json={"data": fix}, headers=admin.headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    case = r.get_json()
    assert case["status"] == "active" and case["incident"] is None, case
    assert _open(case) == sorted(after_retry)
    assert_rows_match_workflow(engine, case_id)
    # And on to the end.
    for _ in range(5):
        if case["status"] == "completed":
            break
        task = case["open_tasks"][0]
        r = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {}}, headers=admin.headers)
        assert r.status_code == 200, r.get_data(as_text=True)
        case = client.get(f"/api/cases/{case_id}", headers=admin.headers).get_json()
    assert case["status"] == "completed", case
