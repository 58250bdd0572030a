"""Input and output mappings, listener scripts and pre- and post-scripts run as each dialect's
engine runs them (`bpmn.io_mappings`, `engine.execution.io_mappings`): Camunda 7
``camunda:inputOutput`` and listeners, Camunda 8 ``zeebe:ioMapping``, SpiffArena's pre- and
post-scripts. Inputs are local to the element; outputs are written when it ends; a failing
mapping is an incident naming the element; what cannot run is still warned about at upload."""

from __future__ import annotations

from typing import Any

import pytest

from bpmn.diagnostics import DiagramRejected
from bpmn.document import read_document
from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks
from tests.conftest import fixture_bytes


def _codes(xml: bytes) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for d in read_document(xml).diagnostics:
        found.setdefault(d.code, []).append(d)
    return found


def _start(engine: Engine, name: str, data: dict[str, Any]) -> dict[str, Any]:
    (d,) = processes.deploy(engine, SYSTEM, fixture_bytes(name), name)
    return cases.start_case(engine, SYSTEM, d.key, data)


def _task_data(engine: Engine, case: dict[str, Any]) -> dict[str, Any]:
    [task] = case["open_tasks"]
    return dict(tasks.get_task(engine, SYSTEM, task["id"])["data"])


def _complete(engine: Engine, case: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    [task] = case["open_tasks"]
    tasks.complete(engine, SYSTEM, task["id"], data)
    return cases.get_case(engine, SYSTEM, case["id"])


def test_camunda7_input_output_and_listener_scripts_run(engine: Engine) -> None:
    case = _start(engine, "io_camunda7.bpmn", {"belopp": 8000, "sokande": {"namn": "Ada"}, "kanal": "e-post"})
    assert case["status"] == "active", case.get("incident")
    case = _complete(engine, case, {"beslut": "ja"})
    assert case["status"] == "completed", case.get("incident")
    data = case["data"]
    # The start listener saw the inputs (a local text, a JUEL path, a list with an expression in it).
    assert data["startad"] == "Ansökan Ada 2"
    # The outputs were evaluated in the task's local scope and written to the case...
    assert data["godkant"] is True and data["sammanfattning"] == "Ada" and data["avslutad"] == "ja"
    # ...and the inputs, local to the task, are gone.
    assert not {"gransbelopp", "handlingstyp", "namn", "kanaler", "adress", "dubbelt"} & set(data), data


def test_camunda8_io_mapping_reads_feel_with_its_nulls_and_paths(engine: Engine) -> None:
    case = _start(engine, "io_zeebe.bpmn", {"order": {"id": "B-17"}})
    assert case["status"] == "active", case.get("incident")
    case = _complete(engine, case, {"kommentar": "Levereras tisdag"})
    assert case["status"] == "completed", case.get("incident")
    data = case["data"]
    # A target path builds the record; a path to a field the record lacks is null, as FEEL reads it.
    assert data["kontrollerad"] == {"id": "B-17"} and data["utanRabatt"] is True
    assert data["ort"] == "Sundsvall" and data["anteckning"] == "Levereras tisdag"
    # The inputs were the task's local variables.
    assert not {"orderId", "leverans", "rabatt"} & set(data), data


def test_spiff_pre_and_post_scripts_run_around_the_task(engine: Engine) -> None:
    case = _start(engine, "io_spiff.bpmn", {})
    assert case["status"] == "active", case.get("incident")
    assert case["data"]["avgift"] == 750 and case["data"]["avgift_text"] == "750 kr"
    # A post-script that fails is an incident at its element, in Swedish, which a retry ends.
    case = _complete(engine, case, {})
    incident = case["incident"]
    assert case["status"] == "incident" and incident["element_id"] == "Activity_granska"
    assert incident["message"].startswith("Skriptet efter steget i 'Granska avgiften' kunde inte köras"), incident
    assert "divisor" in incident["message"]
    case = cases.retry_case(engine, SYSTEM, case["id"], {"divisor": 2})
    assert case["status"] == "completed", case.get("incident")
    assert case["data"]["granskad"] is True


def test_a_failing_camunda7_input_is_an_incident_naming_the_mapping_and_the_element(engine: Engine) -> None:
    case = _start(engine, "io_camunda7.bpmn", {"belopp": 8000, "sokande": {"personnummer": "x"}, "kanal": "post"})
    incident = case["incident"]
    assert case["status"] == "incident" and incident["element_id"] == "Activity_granska", case
    assert incident["message"] == ("Inmappningen 'namn' i 'Granska ansökan' ('${sokande.namn}') kunde inte "
                                   "utvärderas: värdet 'namn' saknas."), incident
    # A retry may correct what the mapping reads; the step then starts with its inputs.
    case = cases.retry_case(engine, SYSTEM, case["id"], {"sokande": {"namn": "Bo"}})
    assert case["status"] == "active" and case["data"]["startad"] == "Ansökan Bo 2", case
    case = _complete(engine, case, {"beslut": "nej"})
    assert case["status"] == "completed" and case["data"]["godkant"] is False
    assert case["data"]["sokande"] == {"namn": "Bo"} and "namn" not in case["data"]


def test_upload_warns_only_about_what_does_not_run() -> None:
    camunda = _codes(fixture_bytes("io_camunda7.bpmn"))
    assert not {"mapping-not-applied", "mapping-unreadable", "script-not-run"} & set(camunda), camunda
    [java] = camunda["listener-not-run"]  # the Java class listener; the Python scripts run
    assert "se.kommun.NotifieraHandlaggare" in java.message and java.element_id == "Activity_granska"
    zeebe = _codes(fixture_bytes("io_zeebe.bpmn"))
    assert not {"mapping-not-applied", "mapping-unreadable"} & set(zeebe), zeebe
    [job] = zeebe["listener-not-run"]  # a job worker's listener
    assert "'notifiera'" in job.message and "jobbarbetare" in job.message
    assert "script-not-run" not in _codes(fixture_bytes("io_spiff.bpmn"))


def test_each_instance_of_a_multi_instance_step_gets_its_own_inputs(engine: Engine) -> None:
    xml = b'''<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t"><bpmn:process id="mi_io" isExecutable="true">
<bpmn:startEvent id="s"><bpmn:extensionElements><camunda:inputOutput><camunda:outputParameter name="items">${items}
</camunda:outputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:startEvent>
<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
<bpmn:scriptTask id="t" name="Bedom" scriptFormat="python"><bpmn:extensionElements><camunda:inputOutput>
<camunda:inputParameter name="dubbel">${item * 2}</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements>
<bpmn:multiInstanceLoopCharacteristics isSequential="true" camunda:collection="${items}" camunda:elementVariable="item"/>
<bpmn:script>senast = dubbel</bpmn:script></bpmn:scriptTask>
<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/></bpmn:process></bpmn:definitions>'''
    (d,) = processes.deploy(engine, SYSTEM, xml, "mi_io.bpmn")
    case = cases.start_case(engine, SYSTEM, d.key, {"items": [1, 2, 3]})
    assert case["status"] == "completed", case.get("incident")
    assert "dubbel" not in case["data"] and case["data"]["senast"] in {2, 4, 6}


def _flowable(ns: str, prefix: str, body: str, *, process_id: str = "fl_lyssnare", beside: str = "") -> bytes:
    """A Flowable or Activiti process: start, `body` (elements and flows to and from `t`), end;
    `beside` more processes in the document."""
    return f'''<?xml version="1.0"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"
xmlns:{prefix}="{ns}" targetNamespace="t"><process id="{process_id}" isExecutable="true">
<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>{body}
<sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/></process>{beside}</definitions>'''.encode()


def _script_listener(prefix: str, kind: str, event: str, script: str, language: str = "python",
                     result: str | None = None) -> str:
    cls = {"flowable": "org.flowable.engine.impl.bpmn.listener", "activiti": "org.activiti.engine.impl.bpmn.listener"}
    name = "ScriptTaskListener" if kind == "taskListener" else "ScriptExecutionListener"
    fields = (f'<{prefix}:field name="script"><{prefix}:string><![CDATA[{script}]]></{prefix}:string></{prefix}:field>'
              f'<{prefix}:field name="language" stringValue="{language}"/>')
    if result:
        fields += f'<{prefix}:field name="resultVariable" stringValue="{result}"/>'
    return f'<{prefix}:{kind} event="{event}" class="{cls[prefix]}.{name}">{fields}</{prefix}:{kind}>'


def test_flowable_and_activiti_script_listeners_run_like_camundas(engine: Engine) -> None:
    for prefix, ns in (("flowable", "http://flowable.org/bpmn"), ("activiti", "http://activiti.org/bpmn")):
        listeners = (_script_listener(prefix, "taskListener", "create", "skapad = 2 * 4")
                     + _script_listener(prefix, "executionListener", "end", "beslut == 'ja'", result="godkand"))
        form = f'<{prefix}:formProperty id="beslut" name="Beslut" type="string"/>'
        xml = _flowable(ns, prefix, f'<userTask id="t" name="Pröva"><extensionElements>{form}{listeners}'
                                    '</extensionElements></userTask>', process_id=f"{prefix}_lyssnare")
        assert not {"listener-not-run", "mapping-not-applied"} & set(_codes(xml)), (prefix, _codes(xml))
        (d,) = processes.deploy(engine, SYSTEM, xml, f"{prefix}.bpmn20.xml")
        case = cases.start_case(engine, SYSTEM, d.key, {})
        assert case["status"] == "active" and case["data"]["skapad"] == 8, (prefix, case.get("incident"))
        case = _complete(engine, case, {"beslut": "ja"})
        assert case["status"] == "completed" and case["data"]["godkand"] is True, (prefix, case.get("incident"))


def test_flowable_script_listeners_that_cannot_run_are_told_at_upload() -> None:
    ns, p = "http://flowable.org/bpmn", "flowable"
    with pytest.raises(DiagramRejected) as refused:
        read_document(_flowable(ns, p, '<userTask id="t" name="T"><extensionElements>'
                                + _script_listener(p, "taskListener", "create", 'task.setVariable("x", 1)', "groovy")
                                + '</extensionElements></userTask>'))
    [error] = [d for d in refused.value.diagnostics if d.code == "unsupported-script-language"]
    assert error.element_id == "t" and error.line and "'groovy'" in error.message
    found = _codes(_flowable(ns, p, '<userTask id="t" name="T"><extensionElements>'
                             + _script_listener(p, "taskListener", "assignment", "x = 1")
                             + _script_listener(p, "executionListener", "start", "a = 1\nb = 2", result="svar")
                             + '</extensionElements></userTask>'))
    messages = sorted(d.message for d in found["listener-not-run"])
    assert all(d.element_id == "t" and d.line and d.severity == "warning" for d in found["listener-not-run"])
    assert len(messages) == 2 and any("'assignment'" in m for m in messages), messages
    assert any("'svar'" in m and "resultVariable" in m for m in messages), messages
    # Not the old wording, which took the script listener for a Java object.
    assert not any("Java" in m for m in messages)


def test_flowable_and_activiti_call_activity_mappings_are_warned_as_not_applied() -> None:
    called = ('<process id="under" isExecutable="true"><startEvent id="s2"/>'
              '<sequenceFlow id="f3" sourceRef="s2" targetRef="e2"/><endEvent id="e2"/></process>')
    for prefix, ns in (("flowable", "http://flowable.org/bpmn"), ("activiti", "http://activiti.org/bpmn")):
        found = _codes(_flowable(ns, prefix, f'<callActivity id="t" name="Anropa" calledElement="under">'
                                             f'<extensionElements><{prefix}:in source="belopp" target="summa"/>'
                                             f'<{prefix}:out source="svar" target="beslut"/></extensionElements>'
                                             '</callActivity>', beside=called))
        [warning] = found["mapping-not-applied"]
        assert warning.element_id == "t" and warning.line and warning.severity == "warning", prefix
        assert "(summa, beslut)" in warning.message and "anropet" in warning.message, warning.message
