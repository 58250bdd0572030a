"""The data-flow check at upload (`bpmn.dataflow`): a condition, timer, loop or script that reads a
variable nothing in the diagram writes gets a Swedish warning naming the variable and the element;
what a form field, start mapping, script, output mapping, data object or a dialect convention
(Flowable's ``form_<formKey>_outcome``) writes is not warned about."""

from __future__ import annotations

import pytest

from bpmn.document import read_document
from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases

NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'xmlns:flowable="http://flowable.org/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def doc(task: str, condition: str, extra: str = "") -> bytes:
    return f'''<?xml version="1.0"?><definitions {NS} targetNamespace="t"><process id="p" isExecutable="true">
<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>{task}{extra}
<sequenceFlow id="f2" sourceRef="t" targetRef="g"/><exclusiveGateway id="g" name="Godkänd?" default="f4"/>
<sequenceFlow id="f3" sourceRef="g" targetRef="e"><conditionExpression>{condition}</conditionExpression></sequenceFlow>
<sequenceFlow id="f4" sourceRef="g" targetRef="e"/><endEvent id="e"/></process></definitions>'''.encode()


def unwritten(xml: bytes) -> list[dict[str, object]]:
    (proc,) = read_document(xml).processes
    return [d.to_json() for d in proc.diagnostics if d.code == "unwritten-variable"]


PLAIN = '<userTask id="t" name="Granska"/>'


@pytest.mark.parametrize("condition", ["${approved}", "= approved = true", "approved == True"])
def test_a_condition_reading_what_nothing_writes_is_warned_in_every_dialect(condition: str) -> None:
    (warning,) = unwritten(doc(PLAIN, condition))
    assert warning["severity"] == "warning" and warning["element_id"] == "g"
    assert "'approved'" in str(warning["message"]) and "formulärfält" in str(warning["message"])
    assert warning["assumption"]


@pytest.mark.parametrize("task", [
    '<userTask id="t"><extensionElements><camunda:formData><camunda:formField id="approved" label="OK" '
    'type="boolean"/></camunda:formData></extensionElements></userTask>',
    '<scriptTask id="t" scriptFormat="python"><script>approved = True</script></scriptTask>',
    '<userTask id="t"><extensionElements><camunda:inputOutput><camunda:outputParameter name="approved">${true}'
    '</camunda:outputParameter></camunda:inputOutput></extensionElements></userTask>',
    '<userTask id="t" flowable:formKey="granskning"/>',
    # The output of a step that is no human's (a Camunda 8 service task's, at a path) and a post-script.
    '<serviceTask id="t"><extensionElements><zeebe:taskDefinition type="x"/><zeebe:ioMapping>'
    '<zeebe:output source="=true" target="approved.value"/></zeebe:ioMapping></extensionElements></serviceTask>',
    '<manualTask id="t"><extensionElements><spiffworkflow:postScript>approved = True</spiffworkflow:postScript>'
    '</extensionElements></manualTask>',
    # An input mapping's local variable, read by the element's own script.
    '<scriptTask id="t" scriptFormat="python"><extensionElements><camunda:inputOutput><camunda:inputParameter '
    'name="grans">${5}</camunda:inputParameter></camunda:inputOutput></extensionElements>'
    '<script>approved = grans &gt; 1</script></scriptTask>',
])
def test_what_the_diagram_writes_is_not_warned_about(task: str) -> None:
    condition = "${form_granskning_outcome == 'ok'}" if "formKey" in task else "${approved}"
    assert unwritten(doc(task, condition)) == []


def test_a_data_object_a_step_writes_is_written_and_one_nothing_writes_is_not() -> None:
    writer = ('<userTask id="t" name="Granska"><dataOutputAssociation id="a"><targetRef>r</targetRef>'
              '</dataOutputAssociation></userTask>')
    objects = '<dataObject id="d" name="approved"/><dataObjectReference id="r" dataObjectRef="d"/>'
    assert unwritten(doc(writer, "${approved}", objects)) == []
    (warning,) = unwritten(doc(PLAIN, "${approved}", objects))
    assert "'approved'" in str(warning["message"])


def test_a_script_reading_what_nothing_writes_is_warned() -> None:
    xml = doc('<scriptTask id="t" scriptFormat="python"><script>total = amount * 2</script></scriptTask>',
              "total &gt; 1")
    (warning,) = unwritten(xml)
    assert warning["element_id"] == "t" and "'amount'" in str(warning["message"])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_gateway_with_no_condition_true_and_no_default_says_so_in_swedish(engine: Engine) -> None:
    # FEEL reads the missing variable as null, so neither condition holds (JUEL would stop at it).
    xml = doc(PLAIN, "= clarified = &quot;yes&quot;").replace(b' default="f4"', b"").replace(
        b'<sequenceFlow id="f4" sourceRef="g" targetRef="e"/>',
        b"<sequenceFlow id=\"f4\" sourceRef=\"g\" targetRef=\"e\"><conditionExpression>= clarified = &quot;no&quot;"
        b"</conditionExpression></sequenceFlow>")
    (d,) = processes.deploy(engine, SYSTEM, xml, "g.bpmn")
    case = cases.start_case(engine, SYSTEM, d.key)
    task = case["open_tasks"][0]
    from engine.service import tasks

    tasks.complete(engine, SYSTEM, task["id"], {})
    case = cases.get_case(engine, SYSTEM, case["id"])
    assert case["status"] == "incident" and case["incident"]["element_id"] == "g"
    assert "Inget av villkoren" in case["incident"]["message"] and "standardflöde" in case["incident"]["message"]
    assert "«clarified == 'yes'»; «clarified == 'no'»" in case["incident"]["message"]
    # the designer's smoke walk (not the corpus measure) supplies what the first condition asks
    from engine.service import walkthrough

    assert walkthrough.missing_variables(case["incident"]["message"], {}) == {"clarified": "yes"}
