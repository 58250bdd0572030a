"""Parallel and inclusive joins fire when every branch has arrived, however the branches are
completed (one per request, in any order, many passes of a loop), and a timer event subprocess
keeps its own clock when its case starts."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from typing import Any

import pytest
from conftest import Person, publish

from engine.authority.identity import SYSTEM
from engine.base import state
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks
from engine.store.models import Case

NS = 'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'


def split_join(n: int, *, join: str = "parallelGateway", loop: bool = False) -> bytes:
    """Start -> split into n user tasks -> join -> (a decision "Igen?" back to the split) -> end."""
    branches = "".join(
        f'<userTask id="t{i}" name="Gren {i}"><extensionElements><camunda:formData>'
        f'<camunda:formField id="v{i}" label="Värde {i}" type="long"/><camunda:formField id="varv" label="Varv" type="long"/>'
        f'</camunda:formData></extensionElements></userTask><sequenceFlow id="a{i}" sourceRef="g" targetRef="t{i}"/>'
        f'<sequenceFlow id="b{i}" sourceRef="t{i}" targetRef="j"/>' for i in range(n))
    tail = ('<sequenceFlow id="f1" sourceRef="j" targetRef="q"/><exclusiveGateway id="q" name="Igen?"/>'
            '<sequenceFlow id="f2" name="Ja" sourceRef="q" targetRef="m"/>'
            '<sequenceFlow id="f3" name="Nej" sourceRef="q" targetRef="e"/>') if loop else (
            '<sequenceFlow id="f1" sourceRef="j" targetRef="after"/><userTask id="after" name="Efter"/>'
            '<sequenceFlow id="f3" sourceRef="after" targetRef="e"/>')
    return (f'<?xml version="1.0" encoding="UTF-8"?><definitions {NS} id="d" targetNamespace="x">'
            f'<process id="delat" name="Delat" isExecutable="true"><startEvent id="s"/>'
            f'<sequenceFlow id="f0" sourceRef="s" targetRef="m"/><exclusiveGateway id="m"/>'
            f'<sequenceFlow id="f00" sourceRef="m" targetRef="g"/><parallelGateway id="g"/>{branches}'
            f'<{join} id="j"/>{tail}<endEvent id="e"/></process></definitions>').encode()


@pytest.mark.parametrize("n", [3, 5])
def test_a_many_way_join_fires_when_branches_are_completed_one_request_at_a_time(
        client: Any, people: dict[str, Person], n: int) -> None:
    """Each completion is its own request (the case saved and loaded in between): the join sees
    every branch arrive and opens the step after it only when the last one has."""
    assert publish(client, people, split_join(n)).status_code == 201
    admin = people["admin"].headers
    case = client.post("/api/processes/delat/cases", json={}, headers=admin).get_json()
    branch = {t["id"]: int(t["name"].split()[-1]) for t in case["open_tasks"]}
    open_ids = list(branch)
    assert len(open_ids) == n
    for done, task_id in enumerate(reversed(open_ids), start=1):
        r = client.post(f"/api/tasks/{task_id}/complete", json={"data": {f"v{branch[task_id]}": done}},
                        headers=admin)
        assert r.status_code == 200, r.get_json()
        now = client.get(f"/api/cases/{case['id']}", headers=admin).get_json()
        names = sorted(t["name"] for t in now["open_tasks"])
        assert names == (["Efter"] if done == n else sorted(f"Gren {i}" for i in range(n - done))), (done, names)
    [after] = now["open_tasks"]
    # the join merged what every branch wrote
    assert sorted(now["data"][f"v{i}"] for i in range(n)) == list(range(1, n + 1))
    r = client.post(f"/api/tasks/{after['id']}/complete", json={}, headers=admin)
    assert r.get_json()["case"]["status"] == "completed"


@pytest.mark.parametrize("join", ["parallelGateway", "inclusiveGateway"])
def test_a_join_in_a_loop_waits_for_every_branch_on_every_pass_and_the_state_stays_small(
        engine: Engine, join: str) -> None:
    """SpiffWorkflow keeps the branches of earlier passes and counts them as arrived on the next
    pass (the join would fire after the first branch); the saved state drops them once spent."""
    processes.deploy(engine, SYSTEM, split_join(3, join=join, loop=True))
    case = cases.start_case(engine, SYSTEM, "delat")
    rnd = random.Random(7)
    sizes = []
    for loop in range(60):
        branches = list(case["open_tasks"])
        assert sorted(t["name"] for t in branches) == ["Gren 0", "Gren 1", "Gren 2"], loop
        rnd.shuffle(branches)
        for k, t in enumerate(branches):
            case = tasks.complete(engine, SYSTEM, t["id"], {"varv": loop})["case"]
            if k < 2:
                assert len(case["open_tasks"]) == 2 - k, (loop, k, [x["name"] for x in case["open_tasks"]])
        [decision] = case["open_tasks"]
        assert decision["name"] == "Igen?"
        case = tasks.complete(engine, SYSTEM, decision["id"], None, "Ja")["case"]
        if loop in (5, 59):
            with engine.db.read() as s:
                sizes.append(len(json.loads(s.get(Case, case["id"]).state_json)["tasks"]))
    assert sizes[1] <= sizes[0] + 2, sizes


def test_compaction_keeps_what_a_waiting_join_needs(engine: Engine) -> None:
    """Two of three branches done: saving drops far-away finished tasks, never a branch's token."""
    processes.deploy(engine, SYSTEM, split_join(3))
    case = cases.start_case(engine, SYSTEM, "delat")
    for t in case["open_tasks"][:2]:
        tasks.complete(engine, SYSTEM, t["id"], {})
    with engine.db.read() as s:
        row = s.get(Case, case["id"])
        spec, subs = engine.spec(row.process_version_id)
        workflow = state.load(row.state_json, spec, subs)
    state.compact(workflow)
    done = {t.task_spec.name for t in workflow.get_tasks() if t.task_spec.name.startswith("t")
            and t.has_state(64)}
    assert len(done) == 2, done


TIMER_EVENT_SUBPROCESS = f'''<?xml version="1.0" encoding="UTF-8"?>
<definitions {NS} id="d" targetNamespace="x"><process id="bevakning" name="Bevakning" isExecutable="true">
  <startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
  <userTask id="t" name="Pröva ansökan"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/>
  <subProcess id="es" triggeredByEvent="true">
    <startEvent id="es_s" isInterrupting="false"><timerEventDefinition><timeDuration>P5D</timeDuration>
      </timerEventDefinition></startEvent>
    <sequenceFlow id="f3" sourceRef="es_s" targetRef="es_t"/><userTask id="es_t" name="Påminn sökanden"/>
    <sequenceFlow id="f4" sourceRef="es_t" targetRef="es_e"/><endEvent id="es_e"/>
  </subProcess>
</process></definitions>'''.encode()


def test_a_timer_event_subprocess_waits_for_its_own_time(engine: Engine, clock: ManualClock) -> None:
    """Starting a case releases the process's own timer start, not an event subprocess's: the
    reminder comes after five days, not at once."""
    processes.deploy(engine, SYSTEM, TIMER_EVENT_SUBPROCESS)
    case = cases.start_case(engine, SYSTEM, "bevakning")
    assert [t["name"] for t in case["open_tasks"]] == ["Pröva ansökan"]
    clock.advance(timedelta(days=5, seconds=1))
    engine.scheduler.tick()
    case = cases.get_case(engine, SYSTEM, case["id"])
    assert {t["name"] for t in case["open_tasks"]} == {"Påminn sökanden", "Pröva ansökan"}
