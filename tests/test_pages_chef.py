"""The manager's workbench on a task page (over HTTP, Flask's test client): "Tilldela" offers the
people holding the step's role in its unit by name, with who is away, and an escalated task can be
handed back to a handläggare from the same picker."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, sign_in

from engine.authority import identity, org
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import absence
from engine.service import cases, tasks

ORG = {
    "units": [
        {"id": "kommun", "name": "Exempelby kommun", "kind": "kommun", "manager_role": "Kommundirektör"},
        {"id": "bygg", "name": "Byggenheten", "kind": "enhet", "parent": "kommun", "manager_role": "Enhetschef"},
        {"id": "drift", "name": "Drift", "kind": "enhet", "parent": "kommun", "manager_role": "Driftchef"},
    ],
    "people": [
        {"name": "anna", "display_name": "Anna Direktör", "roles": [{"role": "Kommundirektör", "unit": "kommun"}]},
        {"name": "ebba", "display_name": "Ebba Chef", "roles": [{"role": "Enhetschef", "unit": "bygg"}]},
        {"name": "hans", "display_name": "Hans Handläggare", "roles": [{"role": "Handläggare", "unit": "bygg"}]},
        {"name": "hilda", "display_name": "Hilda Handläggare", "roles": [{"role": "Handläggare", "unit": "bygg"}]},
        {"name": "dora", "display_name": "Dora Drift", "roles": [{"role": "Handläggare", "unit": "drift"}]},
        {"name": "dan", "display_name": "Dan Driftchef", "roles": [{"role": "Driftchef", "unit": "drift"}]},
    ],
}


def _bpmn(ladder: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="utred" name="Utredning" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Handläggare">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>t</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Utred">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="rutin:due" value="PT1H"/>
        <camunda:property name="rutin:escalation" value="{ladder}"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


@pytest.fixture
def town(engine: Engine) -> None:
    org.import_data(engine, ORG)
    processes.deploy(engine, SYSTEM, _bpmn("0:reassign_manager"))
    for name in ("ebba", "dan", "hans"):
        identity.set_password(engine, name, PASSWORD)


def _picker(page: str) -> list[tuple[str, str, bool]]:
    """(value, text, disabled) of each person offered in the "Tilldela" select."""
    select = re.search(r'<select id="assign-user" name="user">(.*?)</select>', page, re.S)
    assert select, "no people picker on the page"
    return [(v, t.strip(), bool(d)) for v, d, t in
            re.findall(r'<option value="([^"]*)"( disabled)?>([^<]*)</option>', select.group(1)) if v]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_the_manager_picks_from_the_role_holders_of_the_unit_by_name_and_sees_who_is_away(
        engine: Engine, town: None, client: Any, clock: ManualClock) -> None:
    now = clock.now()
    absence.register(engine, SYSTEM, "hilda", now - timedelta(days=1), now + timedelta(days=9), "semester")
    case = cases.start_case(engine, SYSTEM, "utred", {}, "U-1", org_unit="bygg")
    task = case["open_tasks"][0]["id"]
    sign_in(client, "ebba")
    page = client.get(f"/tasks/{task}").get_data(as_text=True)
    until = (now + timedelta(days=9)).astimezone(ZoneInfo("Europe/Stockholm"))
    assert _picker(page) == [
        ("hans", "Hans Handläggare", False),
        ("hilda", f"Hilda Handläggare (frånvarande till {until:%Y-%m-%d %H:%M})", True),
    ]
    # no free-text login box any more, and no one from another unit offered
    assert 'name="user" type="text"' not in page and "Dora" not in page
    token = _csrf(page)
    done = client.post(f"/tasks/{task}/assign", data={"csrf": token, "user": "hans"}, follow_redirects=True)
    assert "Uppgiften är tilldelad Hans Handläggare." in done.get_data(as_text=True)
    assert tasks.get_task(engine, SYSTEM, task)["assignee"] == "hans"


@pytest.mark.parametrize(("who", "said"), [
    ("dora", "Dora Drift har inte rollen som uppgiften kräver."),  # the role, but in another unit
    ("hilda", "Hilda Handläggare är frånvarande och kan inte få nya uppgifter; välj någon annan."),
    ("ingen-sadan", "Användaren 'ingen-sadan' finns inte."),
    ("", "Välj vem som ska få uppgiften."),
])
def test_a_person_not_offered_is_refused_and_the_task_stays_unassigned(
        engine: Engine, town: None, client: Any, clock: ManualClock, who: str, said: str) -> None:
    now = clock.now()
    absence.register(engine, SYSTEM, "hilda", now, now + timedelta(days=9))
    task = cases.start_case(engine, SYSTEM, "utred", {}, "U-2", org_unit="bygg")["open_tasks"][0]["id"]
    token = sign_in(client, "ebba")
    answer = client.post(f"/tasks/{task}/assign", data={"csrf": token, "user": who})
    assert answer.status_code in (400, 404, 422)
    assert said in html.unescape(answer.get_data(as_text=True))
    assert tasks.get_task(engine, SYSTEM, task)["assignee"] is None
    case_id = tasks.get_task(engine, SYSTEM, task)["case_id"]
    assert not [e for e in cases.get_case(engine, SYSTEM, case_id)["history"] if e["type"] == "task_assigned"]


def test_a_manager_of_another_unit_gets_no_picker_and_cannot_assign(
        engine: Engine, town: None, client: Any) -> None:
    task = cases.start_case(engine, SYSTEM, "utred", {}, "U-3", org_unit="bygg")["open_tasks"][0]["id"]
    identity.set_password(engine, "dan", PASSWORD)
    token = sign_in(client, "dan")
    page = client.get(f"/tasks/{task}")
    assert 'id="assign-user"' not in page.get_data(as_text=True)
    answer = client.post(f"/tasks/{task}/assign", data={"csrf": token, "user": "hans"})
    assert answer.status_code in (403, 404)
    assert tasks.get_task(engine, SYSTEM, task)["assignee"] is None


def test_an_escalated_task_is_handed_back_to_a_handlaggare_from_the_picker(
        engine: Engine, town: None, client: Any, clock: ManualClock) -> None:
    case = cases.start_case(engine, SYSTEM, "utred", {}, "U-4", org_unit="bygg")
    task = case["open_tasks"][0]["id"]
    tasks.claim(engine, identity.get_actor(engine, "hans"), task)
    clock.advance(timedelta(hours=2))
    while engine.scheduler.tick().fired:
        pass
    moved = tasks.get_task(engine, SYSTEM, task)
    assert moved["assignee"] is None and moved["role"] == "Enhetschef"  # escalated to the manager
    token = sign_in(client, "ebba")
    page = client.get(f"/tasks/{task}").get_data(as_text=True)
    offered = [v for v, _, _ in _picker(page)]
    assert "hans" in offered and "hilda" in offered and "dora" not in offered
    done = client.post(f"/tasks/{task}/assign", data={"csrf": token, "user": "hilda"}, follow_redirects=True)
    assert "Uppgiften är tilldelad Hilda Handläggare." in done.get_data(as_text=True)
    assert tasks.get_task(engine, SYSTEM, task)["assignee"] == "hilda"
    # and she can do it
    tasks.complete(engine, identity.get_actor(engine, "hilda"), task)
    assert cases.get_case(engine, SYSTEM, case["id"])["status"] == "completed"
