"""No raw engine exceptions in diagnostics: SpiffWorkflow's validation errors are said in Swedish
with cause and fix; event definitions referenced by ``eventDefinitionRef`` run as nested ones; a
boundary event without a trigger is a warning, not a refusal."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpmn.diagnostics import DiagramRejected
from bpmn.document import read_document
from bpmn.engine_messages import explain
from engine.core import Engine

NS = 'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"'


def doc(body: str, top: str = "") -> bytes:
    return f'''<?xml version="1.0"?><definitions {NS} targetNamespace="t">{top}<process id="p" isExecutable="true">
<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/><userTask id="t" name="T"/>
<sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/>{body}</process></definitions>'''.encode()


@pytest.mark.parametrize("top, ref", [
    ('<timerEventDefinition id="td"><timeDuration>"PT1H"</timeDuration></timerEventDefinition>', "td"),
    ('<message id="m" name="Svar"/><messageEventDefinition id="md" messageRef="m"/>', "md"),
])
def test_an_event_definition_referenced_by_id_runs_as_a_nested_one(top: str, ref: str) -> None:
    body = (f'<boundaryEvent id="b" attachedToRef="t"><eventDefinitionRef>{ref}</eventDefinitionRef></boundaryEvent>'
            '<sequenceFlow id="f9" sourceRef="b" targetRef="e"/>')
    (proc,) = read_document(doc(body, top)).processes
    assert not [d for d in proc.diagnostics if d.element_id == "b"]


def test_a_boundary_event_without_trigger_is_a_warning_not_a_raw_refusal() -> None:
    body = '<boundaryEvent id="b" attachedToRef="t"/><sequenceFlow id="f9" sourceRef="b" targetRef="e"/>'
    (proc,) = read_document(doc(body)).processes
    (warning,) = [d for d in proc.diagnostics if d.element_id == "b"]
    assert warning.severity == "warning" and "ingen utlösare" in warning.message


def test_an_engine_validation_error_is_swedish_with_cause_and_fix() -> None:
    body = '<boundaryEvent id="b" attachedToRef="t"><cancelEventDefinition/></boundaryEvent>' \
           '<sequenceFlow id="f9" sourceRef="b" targetRef="e"/>'
    with pytest.raises(DiagramRejected) as refused:
        read_document(doc(body))
    (error,) = [d for d in refused.value.diagnostics if d.severity == "error"]
    assert error.element_id and "transaktion" in error.message
    assert "Cancel Events" not in error.message


@pytest.mark.parametrize("raw", [
    "NotImplementedError('Unsupported Catch Event: %r', b'<bpmn:boundaryEvent xmlns:bpmn=\"x\" id=\"b\"/>')",
    "TypeError(\"NodeParser.raise_validation_exception() got an unexpected keyword argument 'node'\")",
    "Multiple outgoing flows are not supported for tasks of type",
    "Something SpiffWorkflow says that no one has seen before",
])
def test_no_engine_message_is_passed_on_raw(raw: str) -> None:
    text = explain(raw)
    assert text.startswith("Diagrammet kan inte köras: ")
    assert "NotImplementedError" not in text and "TypeError" not in text and "<bpmn:" not in text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_library_deploys_bpmn20_xml_files_too(engine: Engine, tmp_path: Path) -> None:
    from engine.service.demo import deploy_library

    (tmp_path / "flowable.bpmn20.xml").write_bytes(doc(""))
    assert [d.key for d in deploy_library(engine, tmp_path)] == ["p"]
