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




def calling(call_ext: str, sub_writer: str) -> bytes:
    """Process `p` calls `sub` (whose step `sub_writer` may write `approved`), then a gateway reads `approved`."""
    return f'''<?xml version="1.0"?><definitions {NS} targetNamespace="t">
<process id="p" isExecutable="true">
<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="c"/>
<callActivity id="c" name="Utred" calledElement="sub">{call_ext}</callActivity>
<sequenceFlow id="f2" sourceRef="c" targetRef="g"/><exclusiveGateway id="g" name="Godkänd?" default="f4"/>
<sequenceFlow id="f3" sourceRef="g" targetRef="e"><conditionExpression>${{approved}}</conditionExpression></sequenceFlow>
<sequenceFlow id="f4" sourceRef="g" targetRef="e"/><endEvent id="e"/></process>
<process id="sub" isExecutable="true">
<startEvent id="s2"/><sequenceFlow id="g1" sourceRef="s2" targetRef="w"/>{sub_writer}
<sequenceFlow id="g2" sourceRef="w" targetRef="e2"/><endEvent id="e2"/></process></definitions>'''.encode()


def unwritten_in(xml: bytes, key: str) -> list[str]:
    [proc] = [p for p in read_document(xml).processes if p.key == key]
    return [str(d.to_json()["message"]) for d in proc.diagnostics if d.code == "unwritten-variable"]


SCRIPT = '<scriptTask id="w" scriptFormat="python"><script>approved = True</script></scriptTask>'
FORM = ('<userTask id="w" name="Utred"><extensionElements><camunda:formData><camunda:formField id="approved" '
        'label="OK" type="boolean"/></camunda:formData></extensionElements></userTask>')
NESTED_SUB = '<callActivity id="w" calledElement="deep"/>'
OUT_ALL = '<extensionElements><camunda:in variables="all"/><camunda:out variables="all"/></extensionElements>'


@pytest.mark.parametrize(("call_ext", "writer"), [
    ("", SCRIPT),  # SpiffWorkflow: a call activity with no mappings takes all the called process's data back
    ("", FORM),  # what a form of the called process writes
    (OUT_ALL, SCRIPT),  # Camunda 7: <camunda:out variables="all"/>
    ('<extensionElements><flowable:out variables="all"/></extensionElements>', FORM),
    ('<extensionElements><zeebe:calledElement processId="sub"/></extensionElements>', SCRIPT),  # Camunda 8's default
    ('<extensionElements><camunda:in source="x" target="x"/><camunda:out source="ok" target="approved"/>'
     '</extensionElements>', '<userTask id="w"/>'),  # an out mapping names what it brings back
], ids=["spiff-script", "spiff-form", "camunda-all", "flowable-all", "zeebe-default", "camunda-out-target"])
def test_what_a_called_process_writes_counts_as_written_by_the_call(call_ext: str, writer: str) -> None:
    assert unwritten_in(calling(call_ext, writer), "p") == []


def test_what_a_process_called_through_another_writes_counts_too() -> None:
    deep_writer = SCRIPT.replace('id="w"', 'id="w3"')
    xml = calling("", NESTED_SUB).replace(b"</definitions>", (
        '<process id="deep" isExecutable="true"><startEvent id="s3"/><sequenceFlow id="h1" sourceRef="s3" '
        f'targetRef="w3"/>{deep_writer}<sequenceFlow id="h2" sourceRef="w3" '
        'targetRef="e3"/><endEvent id="e3"/></process></definitions>').encode())
    assert unwritten_in(xml, "p") == []


@pytest.mark.parametrize("call_ext", [
    '<extensionElements><camunda:in variables="all"/></extensionElements>',  # Camunda 7 brings back only outs
    '<extensionElements><camunda:out source="annat" target="annat"/></extensionElements>',
    '<extensionElements><zeebe:calledElement processId="sub" propagateAllChildVariables="false"/>'
    '</extensionElements>',
], ids=["camunda-in-only", "camunda-other-out", "zeebe-no-propagation"])
def test_a_call_that_brings_back_only_named_variables_does_not_write_the_rest(call_ext: str) -> None:
    (message,) = unwritten_in(calling(call_ext, SCRIPT), "p")
    assert "'approved'" in message


def test_a_call_brings_back_only_what_the_called_process_writes() -> None:
    (message,) = unwritten_in(calling("", '<userTask id="w" name="Utred"/>'), "p")
    assert "'approved'" in message
