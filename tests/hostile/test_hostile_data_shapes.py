"""No data shape is a key into the engine's object registry: whatever JSON a form, a start, a
message or a script puts in a case comes back exactly as it went in, through save and load, on
both databases and after a restart (`engine.base.plain_data`). Before, ``{"typename": "nope"}`` in a
case's data made every later load fail: a 500 on every action on the case, for good."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Person, publish

from engine.authority.identity import SYSTEM
from engine.base import state
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, messages, tasks
from engine.store.models import Case

# On both databases: what a database stores of odd data (NUL characters, deep JSON) differs between them.
pytestmark = pytest.mark.both_databases

# Every shape SpiffWorkflow's serializer treats specially (a `typename` it knows, one it does not,
# Rutin's own escape), look-alikes of what it writes for datetimes, timedeltas and UUIDs, and the
# older serializer's markers for bytes and UUIDs.
SHAPES: dict[str, Any] = {
    "unknown typename": {"typename": "nope"},
    "registered workflow class": {"typename": "BpmnWorkflow", "spec": "x", "tasks": {}},
    "registered task class": {"typename": "Task", "id": "00000000-0000-0000-0000-000000000000"},
    "event": {"typename": "BpmnEvent", "payload": {"typename": "nope"}, "event_definition": None},
    "message definition": {"typename": "MessageEventDefinition", "name": "x"},
    "serialized datetime": {"typename": "datetime", "value": "2026-03-02T09:00:00+01:00"},
    "serialized timedelta": {"typename": "timedelta", "days": 1, "seconds": 5},
    "serialized UUID": {"typename": "UUID", "value": "12345678-1234-5678-1234-567812345678"},
    "broken datetime": {"typename": "datetime", "value": "igår"},
    "the escape itself": {"typename": "RutinPlainData", "entries": {"typename": "nope"}},
    "the escape, empty": {"typename": "RutinPlainData"},
    "typename not text": {"typename": ["a", "b"]},
    "typename null": {"typename": None},
    "bytes marker": {"__bytes__": "aGVq"},
    "uuid marker": {"__uuid__": "12345678123456781234567812345678"},
    "attrib marker": {"__attrib__": "name"},
    "value alone": {"value": "2026-03-02T09:00:00"},
    "nested in lists": [[{"typename": "nope"}], {"a": [{"typename": "UUID", "value": "x"}]}],
    "nested in objects": {"outer": {"typename": "timedelta", "inner": {"typename": "datetime", "value": "x"}}},
}

SCRIPTED = {"typename": "BpmnWorkflow", "lista": [{"typename": "datetime", "value": "2026-03-02T09:00:00"}],
            "djup": {"typename": "nope", "inner": {"typename": "UUID", "value": "x"}}}

# Start outputs and a step's output mapping take any JSON; a form field called `typename` puts the
# word at the top of the case's data; a script builds such objects itself; a parallel multi-instance
# step keeps each item in its task's internal data; a message's payload is kept there too.
PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:message id="m" name="komplettering"/>
  <bpmn:process id="former" name="Former" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:extensionElements><camunda:inputOutput>
      <camunda:outputParameter name="hostile">${hostile}</camunda:outputParameter>
      <camunda:outputParameter name="bilagor">${bilagor}</camunda:outputParameter>
    </camunda:inputOutput></bpmn:extensionElements></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="skript"/>
    <bpmn:scriptTask id="skript" name="Bygg data" scriptFormat="python"><bpmn:script>skriptat = SCRIPTED</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="skript" targetRef="granska"/>
    <bpmn:userTask id="granska" name="Granska" camunda:candidateGroups="Handläggare">
      <bpmn:extensionElements>
        <camunda:formData><camunda:formField id="typename" label="Typnamn" type="string"/></camunda:formData>
        <camunda:inputOutput><camunda:outputParameter name="svar">${svar}</camunda:outputParameter></camunda:inputOutput>
      </bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="granska" targetRef="per_bilaga"/>
    <bpmn:userTask id="per_bilaga" name="Per bilaga" camunda:candidateGroups="Handläggare">
      <bpmn:multiInstanceLoopCharacteristics camunda:collection="${bilagor}" camunda:elementVariable="bilaga"/>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f4" sourceRef="per_bilaga" targetRef="vanta"/>
    <bpmn:intermediateCatchEvent id="vanta" name="Komplettering"><bpmn:messageEventDefinition messageRef="m"/>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f5" sourceRef="vanta" targetRef="avsluta"/>
    <bpmn:userTask id="avsluta" name="Avsluta" camunda:candidateGroups="Handläggare"/>
    <bpmn:sequenceFlow id="f6" sourceRef="avsluta" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".replace("SCRIPTED", repr(SCRIPTED))


# The same without the script, the items and the message: one shape at a time, nothing else in the way.
SINGLE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="en" name="En form" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:extensionElements><camunda:inputOutput>
      <camunda:outputParameter name="hostile">${hostile}</camunda:outputParameter>
    </camunda:inputOutput></bpmn:extensionElements></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="granska"/>
    <bpmn:userTask id="granska" name="Granska" camunda:candidateGroups="Handläggare"><bpmn:extensionElements>
      <camunda:formData><camunda:formField id="anteckning" label="Anteckning" type="string"/></camunda:formData>
      <camunda:inputOutput><camunda:outputParameter name="svar">${svar}</camunda:outputParameter></camunda:inputOutput>
    </bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="granska" targetRef="sist"/>
    <bpmn:userTask id="sist" name="Sist" camunda:candidateGroups="Handläggare"/>
    <bpmn:sequenceFlow id="f3" sourceRef="sist" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def _restarted(engine: Engine, clock: ManualClock) -> Engine:
    """A fresh engine on the same database: nothing cached, every case loaded from its stored state."""
    return Engine(engine.settings, clock)


def _data(engine: Engine, case_id: str) -> dict[str, Any]:
    return cases.get_case(engine, SYSTEM, case_id)["data"]  # type: ignore[no-any-return]


def _only(engine: Engine, case_id: str) -> dict[str, Any]:
    [task] = cases.get_case(engine, SYSTEM, case_id)["open_tasks"]
    return task  # type: ignore[no-any-return]


def test_hostile_shapes_round_trip_exactly_through_start_save_load_complete_and_restart(
        engine: Engine, clock: ManualClock) -> None:
    processes.deploy(engine, SYSTEM, PROCESS.encode(), approve_as_admin=True)
    items = [SHAPES["unknown typename"], SHAPES["serialized datetime"], {"typename": "Task", "n": [1]}]
    sent = {"hostile": copy.deepcopy(SHAPES), "bilagor": copy.deepcopy(items)}
    started = cases.start_case(engine, SYSTEM, "former", copy.deepcopy(sent))
    expected = {**sent, "skriptat": SCRIPTED}
    assert started["status"] == "active" and {k: started["data"][k] for k in expected} == expected

    again = _restarted(engine, clock)
    try:
        assert {k: _data(again, started["id"])[k] for k in expected} == expected
        answer = {"typename": "RutinPlainData", "svar": copy.deepcopy(SHAPES)}
        done = tasks.complete(again, SYSTEM, _only(again, started["id"])["id"], copy.deepcopy(answer))
        assert done["case"]["status"] == "active", done["case"]["incident"]
        expected.update(answer)
    finally:
        again.close()

    again = _restarted(engine, clock)
    try:
        assert {k: _data(again, started["id"])[k] for k in expected} == expected
        open_items = cases.get_case(again, SYSTEM, started["id"])["open_tasks"]
        assert len(open_items) == len(items)
        for task in open_items:  # each one loaded anew, its item in its internal data
            restarted = _restarted(engine, clock)
            try:
                assert tasks.complete(restarted, SYSTEM, task["id"], {})["case"]["status"] == "active"
            finally:
                restarted.close()
    finally:
        again.close()

    again = _restarted(engine, clock)
    try:
        payload = {"meddelat": copy.deepcopy(SHAPES), "typename_lista": [{"typename": "nope"}]}
        assert messages.send_message(again, SYSTEM, started["id"], "komplettering", copy.deepcopy(payload))[
            "status"] == "active"
        expected.update(payload)
    finally:
        again.close()

    again = _restarted(engine, clock)
    try:
        assert {k: _data(again, started["id"])[k] for k in expected} == expected
        done = tasks.complete(again, SYSTEM, _only(again, started["id"])["id"], {})
        assert done["case"]["status"] == "completed"
        final = _data(again, started["id"])
        assert {k: final[k] for k in expected} == expected
        with again.db.read() as s:
            row = s.get(Case, started["id"])
            spec, subs = again.spec(row.process_version_id)
            assert state.load(row.state_json, spec, subs).completed
            assert row.data == final
    finally:
        again.close()


@pytest.mark.parametrize("shape", list(SHAPES.values()), ids=list(SHAPES))
def test_a_shape_in_start_data_stays_plain_data_and_the_case_goes_on_after_a_restart(
        client: Any, people: dict[str, Person], engine: Engine, clock: ManualClock, shape: Any) -> None:
    publish(client, people, SINGLE.encode())
    admin = people["admin"]
    r = client.post("/api/processes/en/cases", json={"data": {"hostile": shape}}, headers=admin.headers)
    assert r.status_code == 201, r.get_json()
    case_id = r.get_json()["id"]
    again = _restarted(engine, clock)
    try:
        from webapp import create_app

        fresh = create_app(again).test_client()
        task = fresh.get(f"/api/cases/{case_id}", headers=admin.headers).get_json()["open_tasks"][0]
        # the step after it, completed by an administrator after the restart: never a 500
        r = fresh.post(f"/api/tasks/{task['id']}/complete", json={"data": {"svar": shape}}, headers=admin.headers)
        assert r.status_code == 200, r.get_data(as_text=True)
        data = fresh.get(f"/api/cases/{case_id}", headers=admin.headers).get_json()["data"]
        assert (data["hostile"], data["svar"]) == (shape, shape)
    finally:
        again.close()


def test_a_state_stored_before_escaping_with_an_unknown_typename_loads_as_plain_data(engine: Engine) -> None:
    """A case saved by a Rutin without `engine.base.plain_data` (its data written raw) loads again."""
    processes.deploy(engine, SYSTEM, PROCESS.encode(), approve_as_admin=True)
    case = cases.start_case(engine, SYSTEM, "former", {"hostile": {"ok": 1}, "bilagor": []})
    with engine.db.write() as s:
        row = s.get(Case, case["id"])
        raw = row.state_json.replace('{"ok":1}', '{"typename":"nope","inner":{"typename":"okänd"}}')
        assert raw != row.state_json
        s.execute(sa.update(Case).where(Case.id == case["id"]).values(state_json=raw, revision=row.revision + 1))
    with engine.db.read() as s:
        row = s.get(Case, case["id"])
        spec, subs = engine.spec(row.process_version_id)
        workflow = state.load(row.state_json, spec, subs)
    hostile = [t.data["hostile"] for t in workflow.get_tasks() if "hostile" in t.data]
    assert hostile and all(h == {"typename": "nope", "inner": {"typename": "okänd"}} for h in hostile)


def test_escaped_data_is_stored_as_rutins_own_marker_and_unescaped_on_load(engine: Engine) -> None:
    processes.deploy(engine, SYSTEM, PROCESS.encode(), approve_as_admin=True)
    case = cases.start_case(engine, SYSTEM, "former", {"hostile": {"typename": "nope"}, "bilagor": []})
    with engine.db.read() as s:
        stored = s.get(Case, case["id"]).state_json
    assert '"hostile":{"typename":"RutinPlainData","entries":{"typename":"nope"}}' in stored
    assert '"hostile":{"typename":"nope"}' not in stored
    assert json.loads(stored)  # plain JSON
    again = state.load(stored, *engine.spec(_version(engine)))
    assert any(t.data.get("hostile") == {"typename": "nope"} for t in again.get_tasks())


def _version(engine: Engine) -> int:
    with engine.db.read() as s:
        return int(s.execute(sa.select(Case.process_version_id)).scalars().first())
