"""Escalation walks the whole manager chain: enhetschef → avdelningschef → förvaltningschef →
kommundirektör in an administration, linjechef → VD in a company, past the assignee and anyone
away, as many levels up as a ladder step says."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.clocks import ladders
from engine.core import Engine
from engine.routing import absence
from engine.service import cases, org_data, tasks

ORG = {
    "units": [
        {"id": "kommun", "name": "Exempelby kommun", "kind": "kommun", "manager_role": "Kommundirektör"},
        {"id": "sbf", "name": "Samhällsbyggnadsförvaltningen", "kind": "forvaltning", "parent": "kommun",
         "manager_role": "Förvaltningschef"},
        {"id": "plan", "name": "Plan- och byggavdelningen", "kind": "avdelning", "parent": "sbf",
         "manager_role": "Avdelningschef"},
        {"id": "bygg", "name": "Byggenheten", "kind": "enhet", "parent": "plan", "manager_role": "Enhetschef"},
        {"id": "bolag", "name": "Exempelby Energi AB", "kind": "bolag", "parent": "kommun", "manager_role": "VD"},
        {"id": "drift", "name": "Drift", "kind": "avdelning", "parent": "bolag", "manager_role": "Linjechef"},
    ],
    "people": [
        {"name": "anna", "roles": [{"role": "Kommundirektör", "unit": "kommun"}]},
        {"name": "fia", "roles": [{"role": "Förvaltningschef", "unit": "sbf"}]},
        {"name": "alf", "roles": [{"role": "Avdelningschef", "unit": "plan"}]},
        {"name": "ebba", "roles": [{"role": "Enhetschef", "unit": "bygg"}, {"role": "Handläggare", "unit": "bygg"}]},
        {"name": "hans", "roles": [{"role": "Handläggare", "unit": "bygg"}]},
        {"name": "vera", "roles": [{"role": "VD", "unit": "bolag"}]},
        {"name": "linus", "roles": [{"role": "Linjechef", "unit": "drift"}]},
        {"name": "dora", "roles": [{"role": "Handläggare", "unit": "drift"}]},
    ],
}

LADDER = "0:notify_manager; PT1H:notify_manager:2; PT2H:notify_manager:3; PT3H:notify_manager:4; PT4H:notify_manager:5"


def _bpmn(ladder: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="kedja" name="Eskaleringskedja" isExecutable="true">
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
def chain(engine: Engine) -> dict[str, identity.Actor]:
    org_data.import_data(engine, ORG)
    processes.deploy(engine, SYSTEM, _bpmn(LADDER))
    return {p["name"]: identity.get_actor(engine, p["name"]) for p in ORG["people"]}


def _claimed_task(engine: Engine, who: identity.Actor, unit: str) -> tuple[str, str]:
    case = cases.start_case(engine, SYSTEM, "kedja", {}, f"K-{who.name}", org_unit=unit)
    task = case["open_tasks"][0]["id"]
    tasks.claim(engine, who, task)
    return case["id"], task


def _escalated_to(engine: Engine, clock: ManualClock, case_id: str) -> list[list[str]]:
    clock.advance(timedelta(hours=6))
    while engine.scheduler.tick().fired:
        pass
    steps = [e for e in cases.get_case(engine, SYSTEM, case_id)["history"] if e["type"] == "escalation_step"]
    return [e["data"]["notified"] for e in sorted(steps, key=lambda e: int(e["data"]["step"]))]


def test_the_ladder_walks_the_whole_chain_of_an_administration(engine: Engine, chain: dict[str, Any],
                                                               clock: ManualClock) -> None:
    case_id, _ = _claimed_task(engine, chain["hans"], "bygg")
    # enhetschef, avdelningschef, förvaltningschef, kommundirektör; a fifth level is the top again
    assert _escalated_to(engine, clock, case_id) == [["ebba"], ["alf"], ["fia"], ["anna"], ["anna"]]


def test_a_manager_holding_the_task_is_not_escalated_to_about_it(engine: Engine, chain: dict[str, Any],
                                                                 clock: ManualClock) -> None:
    case_id, _ = _claimed_task(engine, chain["ebba"], "bygg")
    assert _escalated_to(engine, clock, case_id) == [["alf"], ["fia"], ["anna"], ["anna"], ["anna"]]


def test_absent_managers_are_passed_over(engine: Engine, chain: dict[str, Any], clock: ManualClock) -> None:
    now = clock.now()
    absence.register(engine, SYSTEM, "alf", now, now + timedelta(days=30), "semester")
    case_id, _ = _claimed_task(engine, chain["hans"], "bygg")
    assert _escalated_to(engine, clock, case_id) == [["ebba"], ["fia"], ["anna"], ["anna"], ["anna"]]


def test_in_a_company_the_chain_is_line_manager_then_ceo(engine: Engine, chain: dict[str, Any],
                                                        clock: ManualClock) -> None:
    case_id, _ = _claimed_task(engine, chain["dora"], "drift")
    # the company sits under the municipality in the group's one tree, but its chain ends at its
    # VD (who answers to the board), never at the kommundirektör
    assert _escalated_to(engine, clock, case_id) == [["linus"], ["vera"], ["vera"], ["vera"], ["vera"]]


def test_reassigning_two_levels_up_gives_the_task_to_the_department_head(engine: Engine, chain: dict[str, Any],
                                                                         clock: ManualClock) -> None:
    processes.deploy(engine, SYSTEM, _bpmn("0:reassign_manager:2"), approve_as_admin=False)
    processes.approve(engine, identity.add_user(engine, "olle", ["Processägare"]), "kedja", 2)
    case_id, task = _claimed_task(engine, chain["hans"], "bygg")
    assert _escalated_to(engine, clock, case_id) == [["alf"]]
    moved = tasks.get_task(engine, SYSTEM, task)
    assert moved["assignee"] is None and moved["role"] == "Avdelningschef"
    assert tasks.claim(engine, chain["alf"], task)["assignee"] == "alf"


def test_levelled_ladder_steps_parse_and_are_checked() -> None:
    steps = ladders.parse("0:notify_manager:2; P1D: reassign_manager : 3")
    assert [s.action for s in steps] == ["notify_manager:2", "reassign_manager:3"]
    for bad in ("0:remind:2", "0:notify_manager:0", "0:notify_manager:11"):
        with pytest.raises(ValueError):
            ladders.parse(bad)
    with pytest.raises(ValueError):  # decisions go along the ordinance, never up the manager chain
        ladders.parse("0:notify_manager:2", decision=True)
