"""Form defaults apply when a completion omits a field; a default written as an expression is
evaluated through the restricted evaluator over the case's data; one that cannot be computed is
refused naming the field, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import publish

from engine.authority.identity import SYSTEM
from engine.base.errors import InvalidInput
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks

NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'xmlns:flowable="http://flowable.org/bpmn"')
START = ('<startEvent id="s"><extensionElements><camunda:formData>'
         '<camunda:formField id="belopp" label="Belopp" type="long"/></camunda:formData></extensionElements>'
         '</startEvent>')


def camunda(fields: str) -> str:
    return f"<extensionElements><camunda:formData>{fields}</camunda:formData></extensionElements>"


def flowable(props: str) -> str:
    return f"<extensionElements>{props}</extensionElements>"


def model(pid: str, form: str) -> bytes:
    return f'''<?xml version="1.0"?><definitions {NS} targetNamespace="t"><process id="{pid}" isExecutable="true">
{START}<sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
<userTask id="t" name="Granska">{form}</userTask>
<sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/></process></definitions>'''.encode()


def started(engine: Engine, xml: bytes, data: dict[str, Any]) -> dict[str, Any]:
    (d,) = processes.deploy(engine, SYSTEM, xml, "d.bpmn")
    return cases.start_case(engine, SYSTEM, d.key, data)


CASES = [
    ("literal", camunda('<camunda:formField id="kanal" label="Kanal" type="string" defaultValue="post"/>'),
     {"kanal": "post"}),
    ("juel", camunda('<camunda:formField id="dubbelt" label="Dubbelt" type="long" defaultValue="${belopp * 2}"/>'),
     {"dubbelt": 20}),
    ("feel", camunda('<camunda:formField id="stort" label="Stort" type="boolean" defaultValue="=belopp &gt; 5"/>'),
     {"stort": True}),
    ("flowable", flowable('<flowable:formProperty id="nästa" name="Nästa" type="long" default="${belopp + 1}"/>'),
     {"nästa": 11}),
    ("flowable_literal", flowable('<flowable:formProperty id="antal" name="Antal" type="long" default="3"/>'),
     {"antal": 3}),
]


@pytest.mark.parametrize(("pid", "form", "expected"), CASES, ids=[c[0] for c in CASES])
def test_an_omitted_field_takes_its_default(engine: Engine, pid: str, form: str, expected: Any) -> None:
    case = started(engine, model(pid, form), {"belopp": 10})
    [task] = case["open_tasks"]
    done = tasks.complete(engine, SYSTEM, task["id"], {})
    assert done["case"]["status"] == "completed", done
    data = cases.get_case(engine, SYSTEM, case["id"])["data"]
    assert {k: data.get(k) for k in expected} == expected


def test_a_field_sent_is_not_replaced_by_its_default(engine: Engine) -> None:
    form = camunda('<camunda:formField id="dubbelt" label="Dubbelt" type="long" defaultValue="${belopp * 2}"/>')
    case = started(engine, model("sent", form), {"belopp": 10})
    tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"], {"dubbelt": 7})
    assert cases.get_case(engine, SYSTEM, case["id"])["data"]["dubbelt"] == 7


def test_a_feel_default_reading_a_missing_variable_leaves_the_field_empty(engine: Engine) -> None:
    form = camunda('<camunda:formField id="x" label="X" type="string" defaultValue="=saknas"/>')
    case = started(engine, model("feelnull", form), {"belopp": 1})
    done = tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"], {})
    assert done["case"]["status"] == "completed"
    assert "x" not in cases.get_case(engine, SYSTEM, case["id"])["data"]


def _refused_naming_dubbelt(engine: Engine, case: dict[str, Any]) -> None:
    """Completing the case's task with nothing is refused, naming the field Dubbelt whose default
    cannot be computed; the task stays open and nothing is stored under the field."""
    task_id = case["open_tasks"][0]["id"]
    with pytest.raises(InvalidInput) as refused:
        tasks.complete(engine, SYSTEM, task_id, {})
    assert "Standardvärdet för fältet Dubbelt" in str(refused.value)
    assert refused.value.extra["errors"][0]["field"] == "dubbelt"
    after = cases.get_case(engine, SYSTEM, case["id"])
    assert after["status"] == "active" and [t["id"] for t in after["open_tasks"]] == [task_id]
    assert "dubbelt" not in after["data"]


@pytest.mark.parametrize("default", ["${saknas * 2}", "${belopp / 0}"])
def test_a_default_that_cannot_be_computed_is_refused_naming_the_field(engine: Engine, default: str) -> None:
    form = camunda(f'<camunda:formField id="dubbelt" label="Dubbelt" type="long" defaultValue="{default}"/>')
    case = started(engine, model("bad", form), {"belopp": 10})
    _refused_naming_dubbelt(engine, case)


def test_an_omitted_start_form_field_takes_its_default(engine: Engine) -> None:
    xml = model("startdef", "").replace(b'type="long"/>', b'type="long" defaultValue="4"/>', 1)
    case = started(engine, xml, {})
    assert case["data"]["belopp"] == 4


def test_through_the_api_a_failing_default_is_a_422_naming_the_field(client: Any, people: dict[str, Any]) -> None:
    form = camunda('<camunda:formField id="dubbelt" label="Dubbelt" type="long" defaultValue="${saknas * 2}"/>')
    assert publish(client, people, model("api", form)).status_code == 201
    admin = people["admin"]
    started = client.post("/api/processes/api/cases", json={"data": {"belopp": 1}}, headers=admin.headers)
    assert started.status_code == 201, started.get_json()
    case = started.get_json()
    r = client.post(f"/api/tasks/{case['open_tasks'][0]['id']}/complete", json={"data": {}}, headers=admin.headers)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"][0]["field"] == "dubbelt" and "Dubbelt" in r.get_json()["detail"]
    after = client.get(f"/api/cases/{case['id']}", headers=admin.headers).get_json()
    assert after["status"] == "active" and "dubbelt" not in after["data"]


SPIFF_NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def spiff_model(pid: str) -> bytes:
    """A SpiffArena process: a script sets `belopp`, the user task's form is a JSON Schema file."""
    return f'''<?xml version="1.0"?><definitions {SPIFF_NS} targetNamespace="t"><process id="{pid}" isExecutable="true">
<startEvent id="s"/><sequenceFlow id="f0" sourceRef="s" targetRef="sc"/>
<scriptTask id="sc" name="Sätt belopp"><script>belopp = 10</script></scriptTask>
<sequenceFlow id="f1" sourceRef="sc" targetRef="t"/>
<userTask id="t" name="Granska"><extensionElements><spiffworkflow:properties>
<spiffworkflow:property name="formJsonSchemaFilename" value="granska-schema.json"/>
</spiffworkflow:properties></extensionElements></userTask>
<sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/></process></definitions>'''.encode()


def spiff_schema(**properties: Any) -> bytes:
    import json

    return json.dumps({"title": "Granska", "type": "object", "properties": properties}).encode()


def spiff_started(engine: Engine, pid: str, schema: bytes) -> dict[str, Any]:
    (d,) = processes.deploy(engine, SYSTEM, spiff_model(pid), "d.bpmn", {"granska-schema.json": schema})
    return cases.start_case(engine, SYSTEM, d.key, {})


SPIFF_CASES = [
    ("spiff_literal", {"type": "string", "title": "Kanal", "default": "post"}, "post"),
    ("spiff_python", {"type": "integer", "title": "Dubbelt", "default": "{{ belopp * 2 }}"}, 20),
    ("spiff_text", {"type": "string", "title": "Rubrik", "default": "Belopp: {{ belopp }} kr"}, "Belopp: 10 kr"),
    ("spiff_ifexp", {"type": "string", "title": "Nivå", "default": "{{ 'hög' if belopp > 5 else 'låg' }}"}, "hög"),
    # the engine's clock (Monday 2 March 2026), never the wall clock
    ("spiff_date", {"type": "string", "format": "date", "title": "Datum",
                    "default": "{{ (date.today() + timedelta(days=1)).isoformat() }}"}, "2026-03-03"),
]


@pytest.mark.parametrize(("pid", "prop", "expected"), SPIFF_CASES, ids=[c[0] for c in SPIFF_CASES])
def test_a_spiffarena_schema_default_written_as_python_is_evaluated(engine: Engine, pid: str, prop: dict[str, Any],
                                                                    expected: Any) -> None:
    case = spiff_started(engine, pid, spiff_schema(falt=prop))
    [task] = case["open_tasks"]
    assert [f["id"] for f in task["form"]] == ["falt"]
    done = tasks.complete(engine, SYSTEM, task["id"], {})
    assert done["case"]["status"] == "completed", done
    assert cases.get_case(engine, SYSTEM, case["id"])["data"]["falt"] == expected


def test_a_spiffarena_default_reading_a_missing_variable_renders_empty(engine: Engine) -> None:
    case = spiff_started(engine, "spiff_missing", spiff_schema(x={"type": "string", "default": "{{ saknas }}"}))
    done = tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"], {})
    assert done["case"]["status"] == "completed"
    assert "x" not in cases.get_case(engine, SYSTEM, case["id"])["data"]


@pytest.mark.parametrize("default", ["{{ belopp / 0 }}", "{{ __import__('os') }}", "{{ belopp + }}"])
def test_a_spiffarena_default_that_cannot_be_computed_is_refused_naming_the_field(engine: Engine,
                                                                                  default: str) -> None:
    schema = spiff_schema(dubbelt={"type": "integer", "title": "Dubbelt", "default": default})
    case = spiff_started(engine, "spiff_bad", schema)
    _refused_naming_dubbelt(engine, case)


def test_a_spiffarena_form_not_uploaded_is_named(engine: Engine) -> None:
    (d,) = processes.deploy(engine, SYSTEM, spiff_model("spiff_alone"), "d.bpmn")
    assert any(x["code"] == "form-missing" and "granska-schema.json" in x["message"] for x in d.diagnostics)


def test_through_the_api_a_spiffarena_python_default_is_evaluated(client: Any, people: dict[str, Any]) -> None:
    import io

    schema = spiff_schema(dubbelt={"type": "integer", "title": "Dubbelt", "default": "{{ belopp * 2 }}"},
                          noll={"type": "integer", "title": "Noll", "default": "{{ 1 // (belopp - 10) }}"})
    designer, admin = people["designer"], people["admin"]
    r = client.post("/api/processes", data={"file": (io.BytesIO(spiff_model("spiff_api")), "s.bpmn"),
                                            "forms": (io.BytesIO(schema), "granska-schema.json")},
                    headers=designer.headers, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    assert client.post("/api/processes/spiff_api/versions/1/approve", headers=admin.headers).status_code == 200
    case = client.post("/api/processes/spiff_api/cases", json={}, headers=admin.headers).get_json()
    task_id = case["open_tasks"][0]["id"]
    refused = client.post(f"/api/tasks/{task_id}/complete", json={"data": {}}, headers=admin.headers)
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "noll"
    done = client.post(f"/api/tasks/{task_id}/complete", json={"data": {"noll": 0}}, headers=admin.headers)
    assert done.status_code == 200, done.get_json()
    assert client.get(f"/api/cases/{case['id']}", headers=admin.headers).get_json()["data"]["dubbelt"] == 20
