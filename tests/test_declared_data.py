"""What a process declares it takes in (`bpmn.declared`, `engine.service.declared`): the start form in every
dialect, the variables a step's or a message catch's output mapping sets, and the documented case
fields, listed once in code and shown in the README and the OpenAPI description. The refusals of
everything else are the hostile probes in tests/hostile/test_hostile_forms.py."""

from __future__ import annotations

import json
import re
from typing import Any
from xml.sax.saxutils import escape

import pytest
from conftest import PASSWORD, ROOT, Person, fixture_bytes, publish, sign_in

from bpmn.document import read_document
from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.errors import InvalidInput
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import delegation
from engine.service import cases, tasks
from engine.service.declared import CASE_FIELDS

NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"')


def _doc(body: str, extra: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><definitions {NS} id="d" targetNamespace="t">{extra}'
            f'<process id="p" name="P" isExecutable="true">{body}</process></definitions>').encode()


def _flow(*pairs: str) -> str:
    return "".join(f'<sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>'
                   for a, b in (p.split(">") for p in pairs))


TASK = '<userTask id="t" name="T" camunda:candidateGroups="Handläggare"/><endEvent id="e"/>'


def test_the_start_form_is_read_in_every_dialect() -> None:
    camunda = _doc('<startEvent id="s"><extensionElements><camunda:formData>'
                   '<camunda:formField id="sokande" label="Sökande" type="string"/></camunda:formData>'
                   '</extensionElements></startEvent>' + TASK + _flow("s>t", "t>e"))
    form = {"id": "start", "components": [{"type": "textfield", "key": "diarienr", "label": "Diarienummer"}]}
    zeebe = _doc('<extensionElements><zeebe:userTaskForm id="start">' + escape(json.dumps(form))
                 + '</zeebe:userTaskForm></extensionElements><startEvent id="s"><extensionElements>'
                 '<zeebe:formDefinition formKey="camunda-forms:bpmn:start"/></extensionElements></startEvent>'
                 + TASK + _flow("s>t", "t>e"))
    uploaded = _doc('<startEvent id="s" camunda:formRef="task-form"/>' + TASK + _flow("s>t", "t>e"))
    mapped = _doc('<startEvent id="s"><extensionElements><zeebe:ioMapping><zeebe:output source="=a" target="ansokan"/>'
                  '</zeebe:ioMapping></extensionElements></startEvent>' + TASK + _flow("s>t", "t>e"))
    assert [f.id for f in read_document(camunda).processes[0].model.start_form] == ["sokande"]
    assert [f.id for f in read_document(zeebe).processes[0].model.start_form] == ["diarienr"]
    with_form = read_document(uploaded, forms={"task-form.form": (ROOT / "tests" / "fixtures" /
                                                                  "import_task-form.form").read_bytes()})
    assert [f.id for f in with_form.processes[0].model.start_form] == ["amount", "approved", "category"]
    model = read_document(mapped).processes[0].model
    assert (model.start_form, model.start_outputs) == ([], ["ansokan"])


def test_a_subprocess_start_form_is_not_the_process_start_form() -> None:
    body = ('<startEvent id="s"/><subProcess id="sp"><startEvent id="ss"><extensionElements><camunda:formData>'
            '<camunda:formField id="inre" type="string"/></camunda:formData></extensionElements></startEvent>'
            '<endEvent id="se"/>' + _flow("ss>se") + '</subProcess>' + TASK + _flow("s>sp", "sp>t", "t>e"))
    assert read_document(_doc(body)).processes[0].model.start_form == []


def test_what_message_catches_map_is_read() -> None:
    extra = '<message id="m1" name="svar"/><message id="m2" name="kvitto"/>'
    body = ('<startEvent id="s"/><intermediateCatchEvent id="c1"><extensionElements><camunda:inputOutput>'
            '<camunda:outputParameter name="svar">${text}</camunda:outputParameter></camunda:inputOutput>'
            '</extensionElements><messageEventDefinition messageRef="m1"/></intermediateCatchEvent>'
            '<receiveTask id="r1" messageRef="m2"><extensionElements><zeebe:ioMapping>'
            '<zeebe:output source="=k" target="kvitto"/></zeebe:ioMapping></extensionElements></receiveTask>'
            '<intermediateCatchEvent id="c2"><messageEventDefinition messageRef="m1"/></intermediateCatchEvent>'
            + TASK + _flow("s>c1", "c1>r1", "r1>c2", "c2>t", "t>e"))
    model = read_document(_doc(body, extra)).processes[0].model
    # The output's target, and the message field the output reads when the message is caught.
    assert model.message_outputs == {"c1": ["svar", "text"], "r1": ["kvitto", "k"]}


def test_a_steps_output_mapping_is_taken_beside_its_form(client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "manager_review.bpmn")
    hanna = people["hanna"]
    case = client.post("/api/processes/ansokan/cases", json={"data": {"sokande": "S"}}, headers=hanna.headers)
    task = case.get_json()["open_tasks"][0]
    note = {"punkter": ["a", "b"], "klar": True}  # a mapping says nothing of the type: any JSON
    r = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {
        "bedomning": "ok", "handlaggarens_notering": note}}, headers=hanna.headers)
    assert r.status_code == 200, r.get_json()
    data = client.get(f"/api/cases/{case.get_json()['id']}", headers=hanna.headers).get_json()["data"]
    # The output mapping runs when the step ends, as Camunda 7 runs it: the variable is what its
    # expression (${bedomning}) gives, whatever was sent under its name.
    assert data["handlaggarens_notering"] == "ok"


def test_documented_case_fields_are_taken_at_the_start(engine: Engine) -> None:
    processes.deploy(engine, SYSTEM, _doc(
        '<extensionElements><camunda:properties><camunda:property name="rutin:caseDeadline" value="P4W"/>'
        '<camunda:property name="rutin:caseDeadlineFrom" value="inkom"/></camunda:properties></extensionElements>'
        '<startEvent id="s"/><userTask id="t" name="T" camunda:dueDate="${svarsdatum}" camunda:priority="${prio}" '
        'camunda:candidateGroups="Handläggare"/><userTask id="u" name="U" camunda:assignee="${ansvarig}"/>'
        '<endEvent id="e"/>' + _flow("s>t", "t>u", "u>e")))
    identity.add_user(engine, "alice", ["admin"])
    identity.add_user(engine, "adam", ["admin"])
    delegation.import_items(engine, identity.get_actor(engine, "alice"), identity.get_actor(engine, "adam"), [
        {"number": "9.1", "title": "Beslut", "process_key": "p", "element_id": "t", "delegate_role": "Handläggare",
         "limit": "belopp < 1000 and not principiell"}])
    case = cases.start_case(engine, SYSTEM, "p", {"inkom": "2026-02-27", "svarsdatum": "2026-03-20", "prio": 90,
                                                  "belopp": 500, "principiell": False})
    [task] = case["open_tasks"]
    assert task["priority"] == 90 and task["due"].startswith("2026-03-20")
    assert case["deadline"]["deadline"].startswith("2026-03-27")  # four weeks from receipt
    # who does a step is not start data: a start form would have to ask for it
    with pytest.raises(InvalidInput, match="Fältet 'ansvarig' finns inte i startformuläret för 'P'"):
        cases.start_case(engine, SYSTEM, "p", {"ansvarig": "hanna"})


def test_the_documented_case_fields_are_listed_once_and_shown_in_the_readme_and_openapi(client: Any) -> None:
    readme = (ROOT / "README.md").read_text()
    spec = client.get("/api/openapi.json").get_json()
    described = spec["paths"]["/api/processes/{key}/cases"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["properties"]["data"]["description"]
    assert len(CASE_FIELDS) == 4
    for field in CASE_FIELDS:
        assert f"`{field.reader}`" in readme, field
        assert field.description in described and field.reader in described
    assert "`RUTIN_MAX_CASE_DATA_BYTES` | `1048576`" in readme and "`RUTIN_MAX_FIELD_BYTES` | `65536`" in readme


def test_a_version_shows_its_start_form(client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "manager_review.bpmn")
    version = client.get("/api/processes/ansokan/versions/1", headers=people["hanna"].headers).get_json()
    assert [f["id"] for f in version["start_form"]] == ["sokande", "belopp"]


def test_the_process_page_asks_for_the_start_form_and_starts_with_it(client: Any, people: dict[str, Person],
                                                                     engine: Engine) -> None:
    publish(client, people, "manager_review.bpmn")
    identity.set_password(engine, "hanna", PASSWORD)
    csrf = sign_in(client, "hanna")
    page = client.get("/processes/ansokan").get_data(as_text=True)
    assert re.search(r'name="sokande"', page) and re.search(r'name="belopp"[^>]*type="number"', page)
    r = client.post("/processes/ansokan/cases", data={"csrf": csrf, "sokande": "Sara", "belopp": "1200",
                                                      "business_key": ""})
    assert r.status_code == 302, r.get_data(as_text=True)
    case_id = r.headers["Location"].rsplit("/", 1)[-1]
    data = cases.get_case(engine, SYSTEM, case_id)["data"]
    assert (data["sokande"], data["belopp"]) == ("Sara", 1200)


def test_the_engine_function_takes_a_decision_with_its_choice_only(engine: Engine) -> None:
    processes.deploy(engine, SYSTEM, fixture_bytes("review.bpmn"))
    case = cases.start_case(engine, SYSTEM, "granskning", {})
    done = tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"], {})
    decision = done["case"]["open_tasks"][0]
    assert tasks.complete(engine, SYSTEM, decision["id"], {}, "Ja")["case"]["status"] == "completed"


def test_versions_stored_before_start_forms_were_kept_read_their_diagram_again(engine: Engine) -> None:
    from alembic import command

    from engine.store.db import alembic_config
    from engine.store.models import ProcessVersion

    processes.deploy(engine, SYSTEM, fixture_bytes("manager_review.bpmn"), approve_as_admin=True)

    def model() -> dict[str, Any]:
        with engine.db.read() as s:
            import sqlalchemy as sa

            return dict(s.execute(sa.select(ProcessVersion.model).where(ProcessVersion.key == "ansokan")).scalar_one())

    with engine.db.writer.begin() as conn:
        cfg = alembic_config(engine.db.url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0020")
    assert "start_form" not in model() and "message_outputs" not in model()
    with engine.db.writer.begin() as conn:
        cfg = alembic_config(engine.db.url)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    again = model()
    assert [f["id"] for f in again["start_form"]] == ["sokande", "belopp"]
    assert again["message_outputs"] == {"Yttrande": ["yttrande", "text"]} and again["start_outputs"] == []
