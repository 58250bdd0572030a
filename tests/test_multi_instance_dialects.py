"""Multi-instance user tasks in each dialect, parallel and sequential: Camunda 7
(``camunda:collection``/``elementVariable``, ``loopCardinality``), Camunda 8
(``zeebe:loopCharacteristics``) and SpiffWorkflow/BPMN (``loopDataInputRef``, ``inputDataItem``,
``outputDataItem``, ``completionCondition``). Each runs as its engine runs it, results gathered as
the dialect defines; a data problem is an incident at the step, never an exception."""

from __future__ import annotations

from typing import Any

import pytest

from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks

NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"')
START = ('<startEvent id="s"><extensionElements><camunda:inputOutput><camunda:outputParameter name="items">'
         '${items}</camunda:outputParameter></camunda:inputOutput></extensionElements></startEvent>')
SVAR = ('<extensionElements><camunda:formData><camunda:formField id="svar" label="Svar" type="string"/>'
        '</camunda:formData></extensionElements>')


def model(pid: str, loop: str, form: str = "") -> bytes:
    return f'''<?xml version="1.0"?><definitions {NS} targetNamespace="t"><process id="{pid}" isExecutable="true">
{START}<sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
<userTask id="t" name="Granska">{form}{loop}</userTask>
<sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/></process></definitions>'''.encode()


def run(engine: Engine, xml: bytes, items: Any, answers: list[dict[str, Any]] | None = None, *,
        reverse: bool = False) -> tuple[dict[str, Any], int]:
    (d,) = processes.deploy(engine, SYSTEM, xml, "mi.bpmn")
    case = cases.start_case(engine, SYSTEM, d.key, {"items": items})
    done = 0
    for answer in answers or [{}] * 10:
        case = cases.get_case(engine, SYSTEM, case["id"])
        if case["status"] != "active" or not case["open_tasks"]:
            break
        task = case["open_tasks"][-1 if reverse else 0]
        tasks.complete(engine, SYSTEM, task["id"], answer)
        done += 1
    return cases.get_case(engine, SYSTEM, case["id"]), done


@pytest.mark.parametrize("sequential", ["false", "true"])
def test_camunda7_collection_runs_one_instance_per_element(engine: Engine, sequential: str) -> None:
    loop = (f'<multiInstanceLoopCharacteristics isSequential="{sequential}" camunda:collection="${{items}}" '
            'camunda:elementVariable="item"/>')
    case, done = run(engine, model("c7", loop, SVAR), ["a", "b", "c"], [{"svar": f"s{i}"} for i in range(5)])
    assert case["status"] == "completed" and done == 3, case


@pytest.mark.parametrize("sequential", ["false", "true"])
def test_camunda7_cardinality_and_instance_counters_end_the_step(engine: Engine, sequential: str) -> None:
    loop = (f'<multiInstanceLoopCharacteristics isSequential="{sequential}"><loopCardinality>${{3}}</loopCardinality>'
            '<completionCondition>${nrOfCompletedInstances/nrOfInstances &gt;= 0.6}</completionCondition>'
            '</multiInstanceLoopCharacteristics>')
    case, done = run(engine, model("c7n", loop), ["a"])
    assert case["status"] == "completed" and done == 2, case


@pytest.mark.parametrize("sequential", ["false", "true"])
def test_camunda8_output_collection_is_gathered_in_input_order(engine: Engine, sequential: str) -> None:
    loop = (f'<multiInstanceLoopCharacteristics isSequential="{sequential}"><extensionElements>'
            '<zeebe:loopCharacteristics inputCollection="=items" inputElement="item" outputCollection="results" '
            'outputElement="=item"/></extensionElements></multiInstanceLoopCharacteristics>')
    (d,) = processes.deploy(engine, SYSTEM, model("c8", loop), "c8.bpmn")
    assert "loop-output-not-collected" not in {x["code"] for x in d.diagnostics}
    case, done = run(engine, model("c8", loop), ["a", "b", "c"], reverse=True)
    assert case["status"] == "completed" and done == 3, case
    assert case["data"]["results"] == ["a", "b", "c"]
    assert "item" not in case["data"]  # the instance's own variable


@pytest.mark.parametrize("sequential", ["false", "true"])
def test_spiff_output_items_and_python_completion_condition_on_the_instance(engine: Engine, sequential: str) -> None:
    loop = (f'<multiInstanceLoopCharacteristics isSequential="{sequential}"><loopDataInputRef>items</loopDataInputRef>'
            '<loopDataOutputRef>results</loopDataOutputRef><inputDataItem id="item" name="item"/>'
            '<outputDataItem id="result" name="result"/><completionCondition>result == "r1"'
            '</completionCondition></multiInstanceLoopCharacteristics>')
    form = ('<extensionElements><camunda:formData><camunda:formField id="result" label="R" type="string"/>'
            '</camunda:formData></extensionElements>')
    case, done = run(engine, model("sp", loop, form), ["a", "b", "c"], [{"result": f"r{i}"} for i in range(5)])
    assert case["status"] == "completed" and done == 2, case
    assert sorted(case["data"]["results"]) == ["r0", "r1"]


@pytest.mark.parametrize("loop", [
    '<multiInstanceLoopCharacteristics camunda:collection="saknas" camunda:elementVariable="item"/>',
    '<multiInstanceLoopCharacteristics><extensionElements><zeebe:loopCharacteristics inputCollection="=saknas" '
    'inputElement="item"/></extensionElements></multiInstanceLoopCharacteristics>',
    '<multiInstanceLoopCharacteristics isSequential="true"><loopDataInputRef>items</loopDataInputRef>'
    '<loopDataOutputRef>results</loopDataOutputRef><inputDataItem id="item" name="item"/>'
    '<outputDataItem id="result" name="result"/></multiInstanceLoopCharacteristics>',
], ids=["c7-missing-collection", "c8-missing-collection", "spiff-no-output-item"])
def test_a_data_problem_is_an_incident_at_the_step_in_swedish(engine: Engine, loop: str) -> None:
    case, _ = run(engine, model("bad", loop), ["a", "b"])
    assert case["status"] == "incident", case
    assert case["incident"]["element_id"] == "t" and case["incident"]["element_name"] == "Granska"
    assert "saknas" in case["incident"]["message"] or "lämnade inget värde" in case["incident"]["message"]
