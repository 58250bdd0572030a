"""The honest corpus walk (`bench.honest_walk`, `bench.corpus`): as the people the tasks name,
with only what a form sends, never injecting a variable, and counting a crash instead of dying."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import corpus
from bench.honest_walk import People, form_data, walk
from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine

HEAD = ('<?xml version="1.0"?><definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" targetNamespace="t">')

LANE_TASK = HEAD + '''<process id="p" isExecutable="true">
<laneSet><lane id="l" name="Granskare"><flowNodeRef>t</flowNodeRef></lane></laneSet>
<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
<userTask id="t" name="Granska"><extensionElements><camunda:formData>
<camunda:formField id="belopp" label="Belopp" type="long"><camunda:validation>
<camunda:constraint name="required"/></camunda:validation></camunda:formField>
<camunda:formField id="kanal" label="Kanal" type="string" defaultValue="post"/>
</camunda:formData></extensionElements></userTask>
<sequenceFlow id="f2" sourceRef="t" targetRef="g"/>
<exclusiveGateway id="g" default="f4"/>
<sequenceFlow id="f3" sourceRef="g" targetRef="e"><conditionExpression>${belopp &gt; 0 &amp;&amp; kanal == 'post'}</conditionExpression></sequenceFlow>
<sequenceFlow id="f4" sourceRef="g" targetRef="x"/>
<userTask id="x" name="Aldrig"/><sequenceFlow id="f5" sourceRef="x" targetRef="e"/>
<endEvent id="e"/></process></definitions>'''

MISSING = HEAD + '''<process id="q" isExecutable="true">
<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
<exclusiveGateway id="g"/>
<sequenceFlow id="f3" sourceRef="g" targetRef="e"><conditionExpression>okänd == 1</conditionExpression></sequenceFlow>
<sequenceFlow id="f4" sourceRef="g" targetRef="e"><conditionExpression>okänd == 2</conditionExpression></sequenceFlow>
<endEvent id="e"/></process></definitions>'''


def test_form_data_sends_defaults_choices_and_typed_required_samples() -> None:
    form: list[dict[str, Any]] = [{"id": "a", "type": "long", "required": True}, {"id": "b", "type": "string", "default": "x"},
            {"id": "c", "type": "enum", "options": [{"id": "ja", "name": "Ja"}]},
            {"id": "d", "type": "string"}, {"id": "r", "type": "string", "required": True,
                                            "constraints": {"readonly": True}}]
    assert form_data(form) == {"a": 1, "b": "x", "c": "ja"}


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_tasks_are_completed_by_a_holder_of_the_tasks_role_with_form_data(engine: Engine) -> None:
    processes.deploy(engine, SYSTEM, LANE_TASK.encode(), "lane.bpmn")
    people = People(engine)
    stop = walk(engine, people, "p", [], [])
    assert stop.status == "completed" and stop.path == ["Granska"], stop
    (actor,) = people.made.values()
    assert actor.roles == {"granskare"} and not actor.is_admin


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_missing_variable_is_never_supplied(engine: Engine) -> None:
    processes.deploy(engine, SYSTEM, MISSING.encode(), "missing.bpmn")
    stop = walk(engine, People(engine), "q", [], [])
    assert stop.status == "incident" and stop.element_id == "g", stop


def test_a_file_that_raises_is_counted_as_krasch_and_the_run_goes_on(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    sample = tmp_path / "sample"
    sample.mkdir()
    (sample / "a.bpmn").write_text(LANE_TASK)
    (sample / "b.bpmn20.xml").write_text(LANE_TASK.replace('id="p"', 'id="p2"'))
    real = processes.deploy

    def deploy(engine: Any, actor: Any, data: bytes, filename: str | None = None, **kw: Any) -> Any:
        if filename == "a.bpmn":
            raise KeyError("boom")
        return real(engine, actor, data, filename, **kw)

    monkeypatch.setattr(processes, "deploy", deploy)
    result = corpus.run(sample)
    row = result["table"]["."]
    assert row["files"] == 2 and row["krasch"] == 1 and row["deployed"] == 1 and row["walked"] == 1
    assert result["crashes"][0][0] == "a.bpmn" and "KeyError" in result["crashes"][0][2]


def test_a_stop_is_predicted_only_by_a_warning_on_its_element_or_naming_its_variable() -> None:
    warn = [{"severity": "warning", "code": "unwritten-variable", "element_id": "g",
             "message": "Villkoret läser variabeln 'approved', som inget i diagrammet skriver."}]
    assert corpus.predicted(warn, "g", "x")
    assert corpus.predicted(warn, "h", "variabeln 'approved' saknas")
    assert not corpus.predicted(warn, "h", "variabeln 'other' saknas")
    assert not corpus.predicted([{**warn[0], "severity": "info"}], "g", "x")
