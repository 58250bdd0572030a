"""Yearly process review, embedded Camunda 8 forms, message flows kept as metadata."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import CORPUS_DIR, Person, deploy

from bpmn.document import read_document
from engine import cases, identity, processes, tasks
from engine.clock import ManualClock
from engine.core import Engine
from engine.identity import SYSTEM


def test_review_date_passing_gives_the_owner_role_a_review_task(client: Any, people: dict[str, Person],
                                                                engine: Engine, clock: ManualClock) -> None:
    deploy(client, people["designer"], "seq3.bpmn")
    detail = client.get("/api/processes/seq3", headers=people["owner"].headers).get_json()
    assert detail["versions"][0]["review_due"] == (clock.now() + timedelta(days=365)).isoformat()
    clock.advance(timedelta(days=364))
    assert engine.scheduler.tick().kinds.get("review", 0) == 0
    clock.advance(timedelta(days=2))
    assert engine.scheduler.tick().kinds == {"review": 1}
    owner = identity.get_actor(engine, "owner")
    [task] = tasks.list_tasks(engine, owner)["items"]
    assert task["name"] == "Granska processen" and task["role"] == "Processägare"
    case = cases.get_case(engine, owner, task["case_id"])
    assert case["data"]["process"] == "seq3" and case["business_key"].startswith("Granskning seq3")
    done = tasks.complete(engine, owner, task["id"], {"slutsats": "oforandrad"})
    assert done["case"]["status"] == "completed"
    nxt = client.get("/api/processes/seq3", headers=people["owner"].headers).get_json()["versions"][0]
    assert nxt["review_due"] == (clock.now() - timedelta(days=1) + timedelta(days=365)).isoformat()


def test_camunda8_embedded_form_becomes_the_task_form() -> None:
    path = CORPUS_DIR / "miwg" / "SAP-Signavio-Process-Manager-19.9.0" / "C.8.0-roundtrip.bpmn"
    if not path.exists():
        return
    doc = read_document(path.read_bytes())
    fields = {f.id: f for p in doc.processes for s in p.model.steps.values() for f in s.form}
    assert fields["Vacation Approval"].type == "enum" and fields["Vacation Approval"].required


def test_message_flows_between_pools_are_kept(engine: Engine) -> None:
    path = CORPUS_DIR / "miwg" / "Reference" / "C.2.0.bpmn"
    if not path.exists():
        return
    deployed = processes.deploy(engine, SYSTEM, path.read_bytes())
    first = processes.get_process(engine, deployed[0].key)
    version = first["versions"][0]
    assert version["status"] == "published"
    model = engine.model(version["id"])
    assert model.message_flows and all(mf["source"] and mf["target"] for mf in model.message_flows)


def test_camunda7_forms_uploaded_alongside_become_the_task_form(client: Any, people: dict[str, Person]) -> None:
    import io

    path = CORPUS_DIR / "camunda7" / "usertask--task-camunda-forms" / "invoiceApproval.bpmn"
    if not path.exists():
        return
    from conftest import FIXTURES

    headers = people["designer"].headers
    alone = client.post("/api/processes", data={"file": (io.BytesIO(path.read_bytes()), "invoice.bpmn")},
                        headers=headers, content_type="multipart/form-data").get_json()
    assert any(d["code"] == "form-missing" for d in alone["diagnostics"])
    form = (FIXTURES / "import_task-form.form").read_bytes()
    changed = path.read_bytes() + b"\n"  # a new version, now with its form
    r = client.post("/api/processes", data={"file": (io.BytesIO(changed), "invoice.bpmn"),
                                            "forms": (io.BytesIO(form), "task-form.form")},
                    headers=headers, content_type="multipart/form-data")
    assert r.status_code == 201 and not any(d["code"] == "form-missing" for d in r.get_json()["diagnostics"])
    key = r.get_json()["key"]
    approve = client.post(f"/api/processes/{key}/versions/2/approve", headers=people["owner"].headers)
    assert approve.status_code == 200
    case = client.post(f"/api/processes/{key}/cases", json={}, headers=people["admin"].headers).get_json()
    [task] = case["open_tasks"]
    assert [(f["id"], f["type"], f["required"]) for f in task["form"]] == [
        ("amount", "long", True), ("approved", "boolean", False), ("category", "enum", False)]
    bad = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"amount": "mycket"}},
                      headers=people["admin"].headers)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "amount"


def test_io_mappings_are_read_into_the_model() -> None:
    xml = b"""<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="x">
  <bpmn:process id="io" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
    <bpmn:userTask id="a" name="A"><bpmn:extensionElements><camunda:inputOutput>
      <camunda:inputParameter name="belopp">${summa}</camunda:inputParameter>
      <camunda:outputParameter name="godkand">${ok}</camunda:outputParameter>
    </camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="b"/>
    <bpmn:userTask id="b" name="B"><bpmn:extensionElements><zeebe:ioMapping>
      <zeebe:input source="=order.total" target="total"/>
    </zeebe:ioMapping></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""
    [proc] = read_document(xml).processes
    assert proc.model.steps["a"].io == [{"direction": "in", "name": "belopp", "source": "${summa}"},
                                        {"direction": "out", "name": "godkand", "source": "${ok}"}]
    assert proc.model.steps["b"].io == [{"direction": "in", "name": "total", "source": "=order.total"}]
