"""Task pages' forms (Flask's test client): long answers get a text area, by the form's schema
first and by the field's name only when the schema says nothing; "Slutför" comes before
"Lämna tillbaka"."""

from __future__ import annotations

import json
import re
from typing import Any

from conftest import PASSWORD, Person, sign_in

from bpmn import forms
from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks

YTTRANDE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="yttrande" name="Yttrande" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="skriv"/>
    <bpmn:userTask id="skriv" name="Skriv yttrande" camunda:candidateGroups="Handläggare">
      <bpmn:extensionElements><camunda:formData>
        <camunda:formField id="motivering" label="Motivering" type="string"/>
        <camunda:formField id="kort_beskrivning" label="Kort beskrivning" type="string">
          <camunda:validation><camunda:constraint name="maxlength" config="60"/></camunda:validation>
        </camunda:formField>
        <camunda:formField id="redovisning" label="Redovisning" type="string">
          <camunda:validation><camunda:constraint name="maxlength" config="4000"/></camunda:validation>
        </camunda:formField>
        <camunda:formField id="villkor" label="Villkor" type="string">
          <camunda:properties><camunda:property id="ui:widget" value="textarea"/></camunda:properties>
        </camunda:formField>
        <camunda:formField id="kommentar_kod" label="Kommentarskod" type="string">
          <camunda:properties><camunda:property id="multiline" value="false"/></camunda:properties>
        </camunda:formField>
        <camunda:formField id="namn" label="Sökandens namn" type="string"/>
        <camunda:formField id="antal" label="Antal beskrivningar" type="long"/>
      </camunda:formData></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="skriv" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()


def _controls(page: str) -> dict[str, str]:
    """Each field's control: ``textarea`` or ``input``, by the field's id."""
    return {m.group(2): m.group(1) for m in re.finditer(r'<(textarea|input|select) id="f-([^"]+)"', page)}


def _task(engine: Engine, people: dict[str, Person], claim: bool = True) -> str:
    processes.deploy(engine, SYSTEM, YTTRANDE, "yttrande.bpmn")
    step = cases.start_case(engine, SYSTEM, "yttrande", {}, "YT-1")["open_tasks"][0]["id"]
    if claim:
        tasks.claim(engine, people["hanna"].actor, step)
    identity.set_password(engine, "hanna", PASSWORD)
    return str(step)


def test_long_answers_get_a_text_area_by_the_schema_first_and_the_name_last(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    step = _task(engine, people)
    sign_in(client)
    controls = _controls(client.get(f"/tasks/{step}").get_data(as_text=True))
    assert controls == {
        "motivering": "textarea",       # no hint in the schema: a motivering is a long answer
        "kort_beskrivning": "input",    # the schema limits it to 60 characters: a line
        "redovisning": "textarea",      # room for 4000 characters
        "villkor": "textarea",          # the field's property asks for one
        "kommentar_kod": "input",       # ... or says it is not one, whatever its name
        "namn": "input",
        "antal": "input",               # a number is never a text area
    }


def test_a_camunda_forms_textarea_is_a_long_answer() -> None:
    schema = {"components": [{"type": "textarea", "key": "skal", "label": "Skäl"},
                             {"type": "textfield", "key": "ort", "label": "Ort"}]}
    found = {f["id"]: f["constraints"] for f in forms.fields(json.dumps(schema)) or []}
    assert found == {"skal": {"multiline": True}, "ort": {}}


def test_slutfor_comes_before_lamna_tillbaka(engine: Engine, people: dict[str, Person], client: Any) -> None:
    step = _task(engine, people)
    sign_in(client)
    page = client.get(f"/tasks/{step}").get_data(as_text=True)
    buttons = [re.sub(r"<[^>]+>", "", b).strip() for b in re.findall(r"<button[^>]*>(.*?)</button>", page, re.S)]
    assert buttons.index("Slutför") < buttons.index("Lämna tillbaka")
    # the first button in the main content is the step's own
    main = page[page.index("<main"):]
    assert re.search(r"<button[^>]*>([^<]*)</button>", main).group(1).strip() == "Slutför"
