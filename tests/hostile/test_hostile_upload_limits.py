"""Hostile probes: an upload cannot make a case flood the database or the scheduler, nor slip an
expression past the sandbox check in a loop.

- A multi-instance step whose number of instances is written as a constant above the limit
  (``RUTIN_MAX_MULTI_INSTANCE``, 1,000 in tests), in every dialect's way of writing it, is refused
  at upload with a located diagnostic; nothing is stored.
- The same number computed from a case's data is an incident, and not one instance row is written.
- A timer cycle repeating more often than ``RUTIN_MIN_TIMER_CYCLE_S`` (60 s), or without pause, in
  every dialect's way of writing it, on a start, an intermediate and a boundary event, is refused
  at upload; one computed from the case's data is an incident.
- Every expression and data name a loop carries is checked as a gateway's condition is: an import,
  a dunder or a lambda anywhere in a loop is refused at upload; nothing is stored.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Person, declared_start, publish
from probes import assert_no_effect, db_state
from workflow_rows import assert_rows_match_workflow

from engine.core import Engine
from engine.store.models import HumanTask, Timer

NAMESPACES = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
    'xmlns:flowable="http://flowable.org/bpmn" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
)


# What the probes start cases with, declared by the start event (start data is a whitelist).
START = declared_start("antal", "handlingar", "cykel", "enheter")


def document(step: str, *, start: str = START, extra: str = "") -> bytes:
    """An executable process: start, a task to trigger the step, the step, an end; `extra` beside them."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NAMESPACES} id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="gransprov" name="Gränsprov" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Handläggare"><bpmn:flowNodeRef>s</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>forbered</bpmn:flowNodeRef><bpmn:flowNodeRef>steg</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    {start}
    <bpmn:userTask id="forbered" name="Förbered"/>
    {step}
    <bpmn:endEvent id="e"/>
    {extra}
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="forbered"/>
    <bpmn:sequenceFlow id="f2" sourceRef="forbered" targetRef="steg"/>
    <bpmn:sequenceFlow id="f3" sourceRef="steg" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def refused(client: Any, people: dict[str, Person], engine: Engine, data: bytes, code: str,
            element: str = "steg") -> dict[str, Any]:
    """Upload `data`; assert a 422 with an error `code` on `element` (with its line), and that
    nothing was stored. Returns the error."""
    before = db_state(engine)
    r = client.post("/api/processes", data=data,
                    headers={**people["designer"].headers, "Content-Type": "application/xml"})
    assert r.status_code == 422, r.get_data(as_text=True)
    body = r.get_json()
    assert body["type"] == "https://rutin.example/problems/invalid-bpmn" and body["detail"]
    errors = [d for d in body["diagnostics"] if d["severity"] == "error"]
    [error] = [d for d in errors if d["code"] == code and d.get("element_id") == element] or [errors]
    assert error["line"] and error["message"], error
    assert_no_effect(before, db_state(engine))
    return error


# -- multi-instance cardinality written as a constant ------------------------------------------------

MANY = ",".join(["1"] * 1001)
CARDINALITY = {
    "bpmn": '<bpmn:userTask id="steg" name="Granska"><bpmn:multiInstanceLoopCharacteristics>'
            '<bpmn:loopCardinality xsi:type="bpmn:tFormalExpression">1001</bpmn:loopCardinality>'
            '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>',
    "camunda7": '<bpmn:userTask id="steg" name="Granska" camunda:candidateGroups="Handläggare">'
                '<bpmn:multiInstanceLoopCharacteristics camunda:elementVariable="x">'
                '<bpmn:loopCardinality xsi:type="bpmn:tFormalExpression">${5000}</bpmn:loopCardinality>'
                '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>',
    "camunda8-feel": '<bpmn:userTask id="steg" name="Granska"><bpmn:multiInstanceLoopCharacteristics>'
                     '<bpmn:loopCardinality>=10000</bpmn:loopCardinality>'
                     '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>',
    "camunda8-collection": '<bpmn:userTask id="steg" name="Granska"><bpmn:multiInstanceLoopCharacteristics>'
                           '<bpmn:extensionElements><zeebe:loopCharacteristics '
                           f'inputCollection="=[{MANY}]" inputElement="x"/></bpmn:extensionElements>'
                           '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>',
    "spiffworkflow": '<bpmn:scriptTask id="steg" name="Räkna" scriptFormat="python"><bpmn:extensionElements>'
                     '<spiffworkflow:instructionsForEndUser>Räkna</spiffworkflow:instructionsForEndUser>'
                     '</bpmn:extensionElements><bpmn:multiInstanceLoopCharacteristics isSequential="true">'
                     '<bpmn:loopCardinality>5 * 1000</bpmn:loopCardinality>'
                     '</bpmn:multiInstanceLoopCharacteristics><bpmn:script>n = 1</bpmn:script></bpmn:scriptTask>',
    "flowable": '<bpmn:subProcess id="steg" name="Delprocess" flowable:async="true">'
                '<bpmn:multiInstanceLoopCharacteristics flowable:elementVariable="x">'
                '<bpmn:loopCardinality>${2000}</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>'
                '<bpmn:startEvent id="ss"/><bpmn:userTask id="inre" name="Inre"/><bpmn:endEvent id="se"/>'
                '<bpmn:sequenceFlow id="sf1" sourceRef="ss" targetRef="inre"/>'
                '<bpmn:sequenceFlow id="sf2" sourceRef="inre" targetRef="se"/></bpmn:subProcess>',
    # 40 instances of a subprocess, each making 40 instances of its step: 1,600 task rows.
    "nested": '<bpmn:subProcess id="steg" name="Per enhet"><bpmn:multiInstanceLoopCharacteristics>'
              '<bpmn:loopCardinality>40</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>'
              '<bpmn:startEvent id="ss"/><bpmn:userTask id="inre" name="Inre"><bpmn:multiInstanceLoopCharacteristics>'
              '<bpmn:loopCardinality>40</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>'
              '</bpmn:userTask><bpmn:endEvent id="se"/><bpmn:sequenceFlow id="sf1" sourceRef="ss" targetRef="inre"/>'
              '<bpmn:sequenceFlow id="sf2" sourceRef="inre" targetRef="se"/></bpmn:subProcess>',
}


@pytest.mark.parametrize("dialect", list(CARDINALITY))
def test_a_constant_cardinality_above_the_limit_is_refused_at_upload(
        dialect: str, client: Any, people: dict[str, Person], engine: Engine) -> None:
    element = "inre" if dialect == "nested" else "steg"
    error = refused(client, people, engine, document(CARDINALITY[dialect]), "too-many-instances", element)
    assert "högst 1000" in error["message"], error


# -- multi-instance cardinality computed by a case ----------------------------------------------------

COMPUTED = {
    "cardinality": ('<bpmn:userTask id="steg" name="Granska"><bpmn:multiInstanceLoopCharacteristics>'
                    '<bpmn:loopCardinality>${antal}</bpmn:loopCardinality>'
                    '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>', {"antal": 5000}, {"antal": 2}, 2),
    "camunda7-collection": ('<bpmn:userTask id="steg" name="Granska"><bpmn:multiInstanceLoopCharacteristics '
                            'camunda:collection="${handlingar}" camunda:elementVariable="handling"/></bpmn:userTask>',
                            {"handlingar": list(range(1001))}, {"handlingar": [1, 2, 3]}, 3),
    "camunda8-collection": ('<bpmn:userTask id="steg" name="Granska"><bpmn:multiInstanceLoopCharacteristics>'
                            '<bpmn:extensionElements><zeebe:loopCharacteristics inputCollection="=handlingar" '
                            'inputElement="handling"/></bpmn:extensionElements>'
                            '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>',
                            {"handlingar": ["x"] * 5000}, {"handlingar": ["a"]}, 1),
}


@pytest.mark.parametrize("form", list(COMPUTED))
def test_a_computed_number_of_instances_above_the_limit_is_an_incident_with_no_instance_rows(
        form: str, client: Any, people: dict[str, Person], engine: Engine) -> None:
    step, data, fix, instances = COMPUTED[form]
    admin = people["admin"]
    assert publish(client, people, document(step)).status_code == 201
    case = client.post("/api/processes/gransprov/cases", json={"data": data}, headers=admin.headers).get_json()
    r = client.post(f"/api/tasks/{case['open_tasks'][0]['id']}/complete", json={"data": {}}, headers=admin.headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    incident = r.get_json()["case"]["incident"]
    assert incident["element_id"] == "steg" and "högst 1000" in incident["message"], incident
    with engine.db.read() as s:
        rows = s.execute(sa.select(sa.func.count()).select_from(HumanTask)
                         .where(HumanTask.case_id == case["id"], HumanTask.element_id == "steg")).scalar()
    assert rows == 0
    assert_rows_match_workflow(engine, case["id"])
    r = client.post(f"/api/cases/{case['id']}/retry", json={"data": fix}, headers=admin.headers)
    assert r.status_code == 200 and r.get_json()["status"] == "active"
    assert [t["name"] for t in r.get_json()["open_tasks"]] == ["Granska"] * instances


# -- timer cycles ------------------------------------------------------------------------------------

CYCLES = {
    "iso-second": "R/PT1S",
    "iso-zero": "R/PT0S",
    "iso-zero-days": "R/P0D",
    "iso-with-start": "R/2026-03-02T09:00:00+01:00/PT30S",
    "camunda7-cron": "0/10 * * * * ?",
    "camunda8-feel-cycle": '=cycle(duration("PT5S"))',
    "camunda8-feel-string": '="R5/PT2S"',
    "spiffworkflow-python": '"R/PT59S"',
}


def _timer(cycle: str) -> str:
    return f'<bpmn:timerEventDefinition><bpmn:timeCycle xsi:type="bpmn:tFormalExpression">{cycle}' \
           '</bpmn:timeCycle></bpmn:timerEventDefinition>'


def _with_cycle(event: str, cycle: str) -> tuple[bytes, str]:
    from xml.sax.saxutils import escape

    timer = _timer(escape(cycle, {'"': "&quot;"}))
    if event == "start":
        return document('<bpmn:userTask id="steg" name="Steg"/>',
                        start=f'<bpmn:startEvent id="s" name="Varje stund">{timer}</bpmn:startEvent>'), "s"
    if event == "intermediate":
        return document(f'<bpmn:intermediateCatchEvent id="steg" name="Vänta">{timer}'
                        '</bpmn:intermediateCatchEvent>'), "steg"
    return document('<bpmn:userTask id="steg" name="Steg"/>',
                    extra=f'<bpmn:boundaryEvent id="paminn" name="Påminn" attachedToRef="steg" '
                          f'cancelActivity="false">{timer}</bpmn:boundaryEvent>'
                          '<bpmn:sequenceFlow id="f9" sourceRef="paminn" targetRef="e"/>'), "paminn"


@pytest.mark.parametrize("event", ["start", "intermediate", "boundary"])
@pytest.mark.parametrize("form", list(CYCLES))
def test_a_timer_cycle_shorter_than_the_minimum_is_refused_at_upload(
        form: str, event: str, client: Any, people: dict[str, Person], engine: Engine) -> None:
    data, element = _with_cycle(event, CYCLES[form])
    error = refused(client, people, engine, data, "timer-cycle-too-short", element)
    assert "1 minut" in error["message"] and "R/P1D" in error["message"], error


@pytest.mark.parametrize("event", ["intermediate", "boundary"])
def test_a_computed_timer_cycle_shorter_than_the_minimum_is_an_incident(
        event: str, client: Any, people: dict[str, Person], engine: Engine) -> None:
    admin = people["admin"]
    data, element = _with_cycle(event, "${cykel}")
    assert publish(client, people, data).status_code == 201
    case = client.post("/api/processes/gransprov/cases", json={"data": {"cykel": "R/PT1S"}},
                       headers=admin.headers).get_json()
    r = client.post(f"/api/tasks/{case['open_tasks'][0]['id']}/complete", json={"data": {}}, headers=admin.headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    incident = r.get_json()["case"]["incident"]
    assert incident["element_id"] == element and "R/PT1S" in incident["message"], incident
    with engine.db.read() as s:
        pending = s.execute(sa.select(sa.func.count()).select_from(Timer).where(
            Timer.case_id == case["id"], Timer.status == "pending", Timer.kind == "bpmn")).scalar()
    assert pending == 0  # nothing for the scheduler to fire every second
    r = client.post(f"/api/cases/{case['id']}/retry", json={"data": {"cykel": "R/P1D"}}, headers=admin.headers)
    assert r.status_code == 200 and r.get_json()["status"] == "active", r.get_json()
    with engine.db.read() as s:
        [timer] = s.execute(sa.select(Timer).where(Timer.case_id == case["id"], Timer.status == "pending",
                                                  Timer.kind == "bpmn")).scalars().all()
    assert timer.due_at == engine.clock.now() + __import__("datetime").timedelta(days=1)


# -- forbidden constructs in every place a loop carries an expression or a name -------------------------

IMPORT, DUNDER, LAMBDA = "__import__('os').system('id')", "handlingar.__class__", "(lambda: 1)()"


def _mi(inner: str = "", attributes: str = "", element: str = "userTask") -> str:
    script = '<bpmn:script>n = 1</bpmn:script>' if element == "scriptTask" else ""
    return (f'<bpmn:{element} id="steg" name="Steg"><bpmn:multiInstanceLoopCharacteristics {attributes}>{inner}'
            f'</bpmn:multiInstanceLoopCharacteristics>{script}</bpmn:{element}>')


def _zeebe(**attributes: str) -> str:
    written = " ".join(f'{k}="{v}"' for k, v in attributes.items())
    return _mi(f'<bpmn:extensionElements><zeebe:loopCharacteristics {written}/></bpmn:extensionElements>')


def _quoted(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


EXPRESSION_PLACES = {
    "loopCardinality": lambda e: _mi(f"<bpmn:loopCardinality>{_quoted(e)}</bpmn:loopCardinality>"),
    "completionCondition": lambda e: _mi("<bpmn:loopCardinality>2</bpmn:loopCardinality>"
                                         f"<bpmn:completionCondition>{_quoted(e)}</bpmn:completionCondition>"),
    "loopCondition": lambda e: '<bpmn:userTask id="steg" name="Steg"><bpmn:standardLoopCharacteristics>' \
                               f'<bpmn:loopCondition>{_quoted(e)}</bpmn:loopCondition>' \
                               '</bpmn:standardLoopCharacteristics></bpmn:userTask>',
    "camunda:collection": lambda e: _mi(attributes=f'camunda:collection="{_quoted("${" + e + "}")}" '
                                                   'camunda:elementVariable="x"'),
    "zeebe:inputCollection": lambda e: _zeebe(inputCollection=_quoted("=" + e), inputElement="x"),
    "zeebe:outputElement": lambda e: _zeebe(inputCollection="=handlingar", inputElement="x",
                                            outputCollection="resultat", outputElement=_quoted("=" + e)),
    "timeCycle": lambda e: f'<bpmn:intermediateCatchEvent id="steg" name="Vänta">{_timer(_quoted(e))}'
                           '</bpmn:intermediateCatchEvent>',
}


@pytest.mark.parametrize("construct", [IMPORT, DUNDER, LAMBDA], ids=["import", "dunder", "lambda"])
@pytest.mark.parametrize("place", list(EXPRESSION_PLACES))
def test_a_forbidden_construct_in_a_loop_or_timer_expression_is_refused_at_upload(
        place: str, construct: str, client: Any, people: dict[str, Person], engine: Engine) -> None:
    error = refused(client, people, engine, document(EXPRESSION_PLACES[place](construct)), "unsupported-expression")
    assert "kan inte utvärderas" in error["message"], error


NAME_PLACES = {
    "loopDataInputRef": _mi("<bpmn:loopDataInputRef>__builtins__</bpmn:loopDataInputRef>"),
    "loopDataOutputRef": _mi("<bpmn:loopDataInputRef>handlingar</bpmn:loopDataInputRef>"
                             "<bpmn:loopDataOutputRef>__class__</bpmn:loopDataOutputRef>"),
    "inputDataItem": _mi('<bpmn:loopDataInputRef>handlingar</bpmn:loopDataInputRef>'
                         '<bpmn:inputDataItem id="__globals__" name="handling"/>'),
    "outputDataItem": _mi('<bpmn:loopDataInputRef>handlingar</bpmn:loopDataInputRef>'
                          '<bpmn:loopDataOutputRef>resultat</bpmn:loopDataOutputRef>'
                          '<bpmn:outputDataItem id="_privat" name="resultat"/>'),
    "camunda:elementVariable": _mi(attributes='camunda:collection="${handlingar}" '
                                              'camunda:elementVariable="__class__"'),
    "zeebe:inputElement": _zeebe(inputCollection="=handlingar", inputElement="__dict__"),
    "zeebe:outputCollection": _zeebe(inputCollection="=handlingar", inputElement="x",
                                     outputCollection="rutin_beslut", outputElement="=x"),
}


@pytest.mark.parametrize("place", list(NAME_PLACES))
def test_an_engine_name_as_a_loop_variable_is_refused_at_upload(
        place: str, client: Any, people: dict[str, Person], engine: Engine) -> None:
    error = refused(client, people, engine, document(NAME_PLACES[place]), "invalid-data-name")
    assert "kan inte användas" in error["message"], error


def test_computed_instances_nested_in_computed_instances_are_held_to_the_limit_per_action(
        client: Any, people: dict[str, Person], engine: Engine) -> None:
    """40 subprocess instances of 40 step instances each: 1,600 task rows, although neither number
    is above the limit alone. No action writes more than the limit; a retry makes what is left."""
    step = ('<bpmn:subProcess id="steg" name="Per enhet"><bpmn:multiInstanceLoopCharacteristics>'
            '<bpmn:loopDataInputRef>enheter</bpmn:loopDataInputRef><bpmn:inputDataItem id="enhet" name="enhet"/>'
            '</bpmn:multiInstanceLoopCharacteristics><bpmn:startEvent id="ss"/><bpmn:userTask id="inre" name="Inre">'
            '<bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>handlingar</bpmn:loopDataInputRef>'
            '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask><bpmn:endEvent id="se"/>'
            '<bpmn:sequenceFlow id="sf1" sourceRef="ss" targetRef="inre"/>'
            '<bpmn:sequenceFlow id="sf2" sourceRef="inre" targetRef="se"/></bpmn:subProcess>')
    admin = people["admin"]
    assert publish(client, people, document(step)).status_code == 201
    data = {"enheter": list(range(40)), "handlingar": list(range(40))}
    case = client.post("/api/processes/gransprov/cases", json={"data": data}, headers=admin.headers).get_json()

    def rows() -> int:
        with engine.db.read() as s:
            return int(s.execute(sa.select(sa.func.count()).select_from(HumanTask).where(
                HumanTask.case_id == case["id"], HumanTask.element_id == "inre")).scalar())

    r = client.post(f"/api/tasks/{case['open_tasks'][0]['id']}/complete", json={"data": {}}, headers=admin.headers)
    assert r.status_code == 200, r.get_data(as_text=True)
    incident = r.get_json()["case"]["incident"]
    assert incident["element_id"] == "inre" and "högst 1000" in incident["message"], incident
    assert 0 < rows() <= 1000
    assert_rows_match_workflow(engine, case["id"])
    r = client.post(f"/api/cases/{case['id']}/retry", json={}, headers=admin.headers)
    assert r.status_code == 200 and r.get_json()["status"] == "active", r.get_json()["incident"]
    assert rows() == 1600
    assert_rows_match_workflow(engine, case["id"])
