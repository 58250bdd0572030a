"""What Rutin does to the diagrams modelers export so that they run, element by element.

Each test uploads a small diagram of the kind found in the corpus and checks both halves of the
promise: the case runs (or the upload is refused with a located error), and a diagnostic on the
element says what Rutin assumed.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import Person, publish

from bpmn.diagnostics import DiagramRejected
from bpmn.document import Document, read_document

NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
      'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
      'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def diagram(body: str, *, executable: bool = False, pid: str = "p", extra: str = "") -> bytes:
    """A definitions document with one process (`body` is its content) and `extra` beside it."""
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions {NS} id="d" targetNamespace="t">\n'
            f'{extra}<process id="{pid}" isExecutable="{str(executable).lower()}">\n{body}\n</process>\n'
            '</definitions>\n').encode()


def flows(*pairs: str) -> str:
    """Sequence flows from "a>b" pairs."""
    return "\n".join(f'<sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>'
                     for a, b in (p.split(">") for p in pairs))


def codes(doc: Document) -> dict[str, set[str]]:
    """Diagnostic codes by element id over the whole document."""
    out: dict[str, set[str]] = {}
    for d in doc.diagnostics:
        out.setdefault(d.element_id or "", set()).add(d.code)
    return out


def refused(data: bytes) -> list[Any]:
    with pytest.raises(DiagramRejected) as info:
        read_document(data)
    return [d for d in info.value.diagnostics if d.severity == "error"]


def walk(client: Any, admin: Person, key: str, choices: dict[str, str] | None = None,
         data: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Start a case and complete its open tasks in order; return the case and the task names done."""
    case = client.post(f"/api/processes/{key}/cases", json={}, headers=admin.headers).get_json()
    done: list[str] = []
    for _ in range(30):
        case = client.get(f"/api/cases/{case['id']}", headers=admin.headers).get_json()
        if case["status"] != "active" or not case["open_tasks"]:
            break
        task = case["open_tasks"][0]
        # as a person fills in each form: only the fields the step declares
        declared = {f["id"] for f in task.get("form") or []}
        body: dict[str, Any] = {"data": {k: v for k, v in (data or {}).items() if k in declared}}
        if task["kind"] == "decision":
            wanted = (choices or {}).get(task["name"])
            option = next((o for o in task["options"] if o["name"] == wanted), task["options"][0])
            body = {"choice": [option["id"]] if task["multiple"] else option["id"], "no_conflict_of_interest": True}
        r = client.post(f"/api/tasks/{task['id']}/complete", json=body, headers=admin.headers)
        assert r.status_code == 200, r.get_json()
        done.append(task["name"])
    return case, done


# -- paths that stop, paths that cannot be reached, joins that would wait for ever ---------------


def test_a_path_without_an_end_event_ends_where_it_stops(client: Any, people: dict[str, Person]) -> None:
    data = diagram('<startEvent id="s"/><task id="a" name="Ta emot"/><task id="b" name="Arkivera"/>'
                   + flows("s>a", "a>b"))
    doc = read_document(data)
    assert "implicit-end" in codes(doc)["b"]
    assert publish(client, people, data).status_code == 201
    case, done = walk(client, people["admin"], "p")
    assert case["status"] == "completed" and done == ["Ta emot", "Arkivera"]


def test_a_step_only_a_removed_boundary_event_led_to_is_left_out_and_the_join_does_not_wait_for_it(
        client: Any, people: dict[str, Person]) -> None:
    # An empty conditional boundary event cannot fire; the step after it can never run, and the
    # parallel join after a decision must not wait for either.
    body = ('<startEvent id="s"/><task id="a" name="Granska"/><exclusiveGateway id="x" name="Komplett?"/>'
            '<task id="b" name="Komplettera"/><task id="c" name="Besluta"/>'
            '<boundaryEvent id="be" attachedToRef="a" cancelActivity="false"><conditionalEventDefinition>'
            '<condition/></conditionalEventDefinition></boundaryEvent><task id="late" name="Påminn"/>'
            '<parallelGateway id="j"/><endEvent id="e"/>'
            + flows("s>a", "a>x", "x>b", "x>c", "b>j", "c>j", "be>late", "late>j", "j>e"))
    doc = read_document(diagram(body))
    found = codes(doc)
    assert "boundary-ignored" in found["be"] and "unreachable" in found["late"]
    assert "join-as-inclusive" in found["j"]
    assert publish(client, people, diagram(body)).status_code == 201
    case, done = walk(client, people["admin"], "p", choices={"Komplett?": "Besluta"})
    assert case["status"] == "completed" and done == ["Granska", "Komplett?", "Besluta"]


def test_an_executable_model_keeps_its_join_and_is_warned() -> None:
    body = ('<startEvent id="s"/><exclusiveGateway id="x"/><task id="b"/><task id="c"/>'
            '<parallelGateway id="j"/><endEvent id="e"/><task id="orphan" name="Ensam"/>'
            + flows("s>x", "x>b", "x>c", "b>j", "c>j", "j>e", "orphan>e"))
    found = codes(read_document(diagram(body, executable=True)))
    assert "join-after-choice" in found["j"]
    assert "unreachable" in found["orphan"]  # pointed out, not removed: the designer decides


def test_a_parallel_join_after_a_parallel_split_stays_parallel() -> None:
    body = ('<startEvent id="s"/><parallelGateway id="split"/><task id="b"/><task id="c"/>'
            '<parallelGateway id="j"/><endEvent id="e"/>' + flows("s>split", "split>b", "split>c", "b>j", "c>j", "j>e"))
    assert "join-as-inclusive" not in codes(read_document(diagram(body))).get("j", set())


def test_a_boundary_event_written_inside_its_activity_is_moved_to_its_edge() -> None:
    body = ('<startEvent id="s"/><subProcess id="sp" name="Utreda"><startEvent id="s2"/><task id="t"/>'
            '<endEvent id="e2"/>' + flows("s2>t", "t>e2")
            + '<boundaryEvent id="be" attachedToRef="sp"><timerEventDefinition><timeDuration>P5D</timeDuration>'
            '</timerEventDefinition></boundaryEvent></subProcess><task id="late" name="Påminn"/><endEvent id="e"/>'
            + flows("s>sp", "sp>e", "be>late", "late>e"))
    doc = read_document(diagram(body))
    assert "boundary-moved" in codes(doc)["be"]
    assert "late" in doc.processes[0].model.steps


def test_a_call_activity_to_an_empty_pool_is_done_by_a_person() -> None:
    extra = '<process id="empty" isExecutable="false"/>'
    body = ('<startEvent id="s"/><callActivity id="c" name="Handläggning" calledElement="empty"/><endEvent id="e"/>'
            + flows("s>c", "c>e"))
    doc = read_document(diagram(body, extra=extra))
    assert "converted-to-human-task" in codes(doc)["c"]
    assert doc.processes[0].model.steps["c"].name == "Utför: Handläggning"


def test_decisions_in_a_called_process_are_steps_of_the_callers_cases(client: Any, people: dict[str, Person]) -> None:
    extra = ('<process id="sub" isExecutable="false"><startEvent id="ss"/><exclusiveGateway id="g" name="Finns koncern?"/>'
             '<task id="doc" name="Dokumentera"/><endEvent id="se"/>'
             '<sequenceFlow id="yes" name="Ja" sourceRef="g" targetRef="doc"/>'
             '<sequenceFlow id="no" name="Nej" sourceRef="g" targetRef="se"/>' + flows("ss>g", "doc>se") + '</process>')
    body = ('<startEvent id="s"/><callActivity id="c" name="Kontrollera" calledElement="sub"/><endEvent id="e"/>'
            + flows("s>c", "c>e"))
    data = diagram(body, extra=extra)
    caller = next(p for p in read_document(data).processes if p.key == "p")
    assert caller.model.steps["g_beslut"].kind == "decision"
    assert publish(client, people, data).status_code == 201
    case, done = walk(client, people["admin"], "p", choices={"Finns koncern?": "Ja"})
    assert case["status"] == "completed" and done == ["Finns koncern?", "Dokumentera"]


# -- loops, conditions, expressions ----------------------------------------------------------------


def test_empty_loop_conditions_are_no_loop_and_dialect_collections_are_multi_instance() -> None:
    body = ('<startEvent id="s"/>'
            '<userTask id="a"><standardLoopCharacteristics><loopCondition xsi:type="tFormalExpression"/>'
            '</standardLoopCharacteristics></userTask>'
            '<userTask id="b"><multiInstanceLoopCharacteristics camunda:collection="${items}" '
            'camunda:elementVariable="item"/></userTask>'
            '<userTask id="c"><multiInstanceLoopCharacteristics><extensionElements>'
            '<zeebe:loopCharacteristics inputCollection="=documents" inputElement="document"/></extensionElements>'
            '</multiInstanceLoopCharacteristics></userTask>'
            '<userTask id="d"><multiInstanceLoopCharacteristics camunda:collection="${order.items()}"/></userTask>'
            '<endEvent id="e"/>' + flows("s>a", "a>b", "b>c", "c>d", "d>e"))
    found = codes(read_document(diagram(body)))
    assert "loop-ignored" in found["a"]
    assert "loop-collection" in found["b"] and "loop-collection" in found["c"]
    assert "loop-ignored" in found["d"]
    # An executable process's collection is held to what a gateway's condition is held to.
    [error] = refused(diagram(body, executable=True))
    assert (error.code, error.element_id) == ("unsupported-expression", "d") and "metodanrop" in error.message


def test_one_condition_less_flow_beside_conditioned_ones_is_the_otherwise(client: Any,
                                                                          people: dict[str, Person]) -> None:
    body = ('<startEvent id="s"/><userTask id="a" name="Ange belopp"><extensionElements><camunda:formData>'
            '<camunda:formField id="belopp" label="Belopp" type="long"/></camunda:formData></extensionElements>'
            '</userTask><exclusiveGateway id="x"/>'
            '<userTask id="big" name="Attestera"/><userTask id="small" name="Betala"/><endEvent id="e"/>'
            '<sequenceFlow id="f1" sourceRef="x" targetRef="big">'
            '<conditionExpression xsi:type="tFormalExpression">${belopp &gt; 1000}</conditionExpression></sequenceFlow>'
            '<sequenceFlow id="f2" sourceRef="x" targetRef="small"/>' + flows("s>a", "a>x", "big>e", "small>e"))
    data = diagram(body, executable=True)
    assert "implicit-default" in codes(read_document(data))["f2"]
    assert publish(client, people, data).status_code == 201
    case, done = walk(client, people["admin"], "p", data={"belopp": 10})
    assert case["status"] == "completed" and done == ["Ange belopp", "Betala"]


def test_feel_names_with_spaces_and_prose_comparisons(client: Any, people: dict[str, Person]) -> None:
    feel = "https://www.omg.org/spec/DMN/20191111/FEEL/"
    body = ('<startEvent id="s"/><userTask id="a" name="Pröva"><extensionElements><camunda:formData>'
            '<camunda:formField id="Vacation Approval" label="Vacation Approval" type="string"/>'
            '<camunda:formField id="Service Level" label="Service Level" type="string"/>'
            '</camunda:formData></extensionElements></userTask><exclusiveGateway id="x" default="f3"/>'
            '<userTask id="yes" name="Bevilja"/><userTask id="no" name="Avslå"/><endEvent id="e"/>'
            f'<sequenceFlow id="f1" sourceRef="x" targetRef="yes"><conditionExpression language="{feel}">'
            'Vacation Approval = "Approved"</conditionExpression></sequenceFlow>'
            '<sequenceFlow id="f2" sourceRef="x" targetRef="no"><conditionExpression>'
            "Service Level == 'Basic'</conditionExpression></sequenceFlow>"
            '<sequenceFlow id="f3" sourceRef="x" targetRef="no"/>' + flows("s>a", "a>x", "yes>e", "no>e"))
    data = diagram(body, executable=True)
    assert "condition-read-as-feel" in codes(read_document(data))["f2"]
    assert publish(client, people, data).status_code == 201
    case, done = walk(client, people["admin"], "p", data={"Vacation Approval": "Approved", "Service Level": "x"})
    assert case["status"] == "completed" and done == ["Pröva", "Bevilja"]


def test_expressions_outside_the_subset_are_located_errors() -> None:
    body = ('<startEvent id="s"/><exclusiveGateway id="x"/><task id="a"/><task id="b"/><endEvent id="e"/>'
            '<sequenceFlow id="bad" sourceRef="x" targetRef="a"><conditionExpression>'
            '${order.lines().size() &gt; 3}</conditionExpression></sequenceFlow>'
            '<sequenceFlow id="ok" sourceRef="x" targetRef="b"><conditionExpression>'
            '${customer.prop("age").numberValue() &gt;= 21 &amp;&amp; execution.getVariable("ok")}'
            '</conditionExpression></sequenceFlow>' + flows("s>x", "a>e", "b>e"))
    [error] = refused(diagram(body, executable=True))
    assert error.code == "unsupported-expression" and error.element_id == "bad" and error.line


def test_a_fixed_rate_cron_timer_runs_as_its_iso_interval_with_a_warning() -> None:
    """Camunda 7 accepts Quartz cron in a timer cycle; "every 5 minutes" is R/PT5M."""
    body = ('<startEvent id="s"><timerEventDefinition><timeCycle>0 0/5 * 1/1 * ?</timeCycle>'
            '</timerEventDefinition></startEvent><task id="a"/><endEvent id="e"/>' + flows("s>a", "a>e"))
    doc = read_document(diagram(body, executable=True))
    [warning] = [d for d in doc.diagnostics if d.code == "cron-as-interval"]
    assert warning.severity == "warning" and warning.element_id == "s" and "'R/PT5M'" in warning.message


def test_a_cron_timer_firing_every_few_seconds_is_refused() -> None:
    """"Every 5 seconds" (R/PT5S) is more often than the shortest cycle allowed."""
    body = ('<startEvent id="s"><timerEventDefinition><timeCycle>0/5 0/1 * 1/1 * ?</timeCycle>'
            '</timerEventDefinition></startEvent><task id="a"/><endEvent id="e"/>' + flows("s>a", "a>e"))
    [error] = refused(diagram(body, executable=True))
    assert (error.code, error.element_id) == ("timer-cycle-too-short", "s") and error.line
    assert "'R/PT5S'" in error.message and "1 minut" in error.message


def test_a_calendar_cron_timer_is_refused_with_an_interval_to_write_instead() -> None:
    body = ('<startEvent id="s"><timerEventDefinition><timeCycle>0 0 7 ? * MON-FRI</timeCycle>'
            '</timerEventDefinition></startEvent><task id="a"/><endEvent id="e"/>' + flows("s>a", "a>e"))
    [error] = refused(diagram(body, executable=True))
    assert error.code == "unsupported-timer" and error.element_id == "s" and "R/2026-01-05T07:00:00+01:00/P1D" in \
        error.message


def test_data_objects_are_resolved_whatever_the_exporter_wrote_in_get_data_object() -> None:
    extra = '<itemDefinition id="boolItem" structureRef="xsd:boolean"/>'
    body = ('<dataObject id="do1" name="approved" itemSubjectRef="boolItem"/>'
            '<dataObjectReference id="ref1" dataObjectRef="do1"/>'
            '<startEvent id="s"/><userTask id="a" name="Godkänn"><ioSpecification><dataOutput id="out"/>'
            '<inputSet/><outputSet><dataOutputRefs>out</dataOutputRefs></outputSet></ioSpecification>'
            '<dataOutputAssociation><sourceRef>out</sourceRef><targetRef>ref1</targetRef></dataOutputAssociation>'
            '</userTask><exclusiveGateway id="x"/><task id="pay"/><task id="no"/><endEvent id="e"/>'
            '<sequenceFlow id="f1" sourceRef="x" targetRef="pay"><conditionExpression language="http://www.w3.org/1999/XPath">'
            "getDataObject('boolItem')</conditionExpression></sequenceFlow>"
            '<sequenceFlow id="f2" sourceRef="x" targetRef="no"><conditionExpression>'
            "not(bpmn:getDataObject('do1'))</conditionExpression></sequenceFlow>"
            + flows("s>a", "a>x", "pay>e", "no>e"))
    doc = read_document(diagram(body, executable=True, extra=extra))
    [field] = doc.processes[0].model.steps["a"].form
    assert (field.id, field.type, field.required) == ("approved", "boolean", True)
    assert "form-from-outputs" in codes(doc)["a"]


def test_a_converted_business_rule_task_asks_for_the_decision_its_outputs_carry(client: Any,
                                                                                 people: dict[str, Person]) -> None:
    body = ('<startEvent id="s"/><businessRuleTask id="r" name="Pröva ansökan"><extensionElements><zeebe:ioMapping>'
            '<zeebe:output source="= result.approval" target="Vacation Approval"/></zeebe:ioMapping>'
            '</extensionElements></businessRuleTask><exclusiveGateway id="x" default="f2"/>'
            '<userTask id="yes" name="Meddela beviljat"/><userTask id="no" name="Meddela avslag"/><endEvent id="e"/>'
            '<sequenceFlow id="f1" sourceRef="x" targetRef="yes"><conditionExpression>'
            '=Vacation Approval = "Approved"</conditionExpression></sequenceFlow>'
            '<sequenceFlow id="f2" sourceRef="x" targetRef="no"/>' + flows("s>r", "r>x", "yes>e", "no>e"))
    data = diagram(body, executable=True)
    step = read_document(data).processes[0].model.steps["r"]
    [field] = step.form
    assert field.type == "enum" and field.required and [o["id"] for o in field.options] == ["Approved"]
    assert publish(client, people, data).status_code == 201
    case, done = walk(client, people["admin"], "p", data={"Vacation Approval": "Approved"})
    assert case["status"] == "completed" and done == ["Utför: Pröva ansökan", "Meddela beviljat"]


# -- dialects ------------------------------------------------------------------------------------


def test_camunda_forms_validation_and_spiff_instructions_are_read() -> None:
    form = ('{"id": "f", "components": [{"type": "group", "components": ['
            '{"key": "namn", "label": "Namn", "type": "textfield", "validate": {"required": true, "maxLength": 40}},'
            '{"key": "belopp", "label": "Belopp", "type": "number", "decimalDigits": 2, "validate": {"min": 0}},'
            '{"key": "id", "label": "Id", "type": "textfield", "disabled": true}]}]}')
    extra = f'<extensionElements><zeebe:userTaskForm id="form1">{form}</zeebe:userTaskForm></extensionElements>'
    body = (extra + '<startEvent id="s"/><userTask id="a"><extensionElements>'
            '<zeebe:formDefinition formKey="camunda-forms:bpmn:form1"/>'
            '<spiffworkflow:instructionsForEndUser>Läs ansökan först.</spiffworkflow:instructionsForEndUser>'
            '</extensionElements></userTask><userTask id="b" camunda:candidateGroups="Handläggare">'
            '<extensionElements><camunda:formData><camunda:formField id="n" type="long"><camunda:validation>'
            '<camunda:constraint name="min" config="1"/><camunda:constraint name="readonly"/>'
            '</camunda:validation></camunda:formField></camunda:formData></extensionElements></userTask>'
            '<endEvent id="e"/>' + flows("s>a", "a>b", "b>e"))
    steps = read_document(diagram(body, executable=True)).processes[0].model.steps
    fields = {f.id: f for f in steps["a"].form}
    assert fields["namn"].required and fields["namn"].constraints == {"maxlength": 40}
    assert fields["belopp"].type == "double" and fields["belopp"].constraints == {"min": 0}
    assert fields["id"].constraints == {"readonly": True} and not fields["id"].required
    assert steps["a"].documentation == "Läs ansökan först."
    assert steps["b"].form[0].constraints == {"min": 1, "readonly": True}


def test_role_sources_in_precedence_and_the_diagnostic_names_the_one_used() -> None:
    extra = '<resource id="res" name="Nämndsekreterare"/>'
    body = ('<laneSet><lane id="l" name="Registrator"><flowNodeRef>a</flowNodeRef><flowNodeRef>b</flowNodeRef>'
            '</lane></laneSet><startEvent id="s"/>'
            '<userTask id="a" camunda:candidateGroups="Handläggare"><potentialOwner resourceRef="res"/></userTask>'
            '<userTask id="b"><potentialOwner resourceRef="res"/></userTask><endEvent id="e"/>'
            + flows("s>a", "a>b", "b>e"))
    doc = read_document(diagram(body, extra=extra))
    steps = doc.processes[0].model.steps
    assert (steps["a"].role, steps["a"].role_source) == ("Handläggare", "camunda:candidateGroups")
    assert (steps["b"].role, steps["b"].role_source) == ("Nämndsekreterare", "potentialOwner")
    by = {d.element_id: d.message for d in doc.diagnostics if d.code == "role-source"}
    assert "kandidatgrupper" in by["a"] and "potentialOwner" in by["b"]


def test_invalid_utf8_is_read_as_windows_1252_with_a_warning() -> None:
    data = diagram('<startEvent id="s"/><task id="a" name="Ans\xf6kan"/><endEvent id="e"/>' + flows("s>a", "a>e"))
    broken = data.replace("Ansökan".encode(), b"Ans\xf6kan")
    doc = read_document(broken)
    assert any(d.code == "invalid-encoding" and d.severity == "warning" for d in doc.diagnostics)
    assert doc.processes[0].model.steps["a"].name == "Ansökan"


def test_call_activities_calling_round_in_a_circle_are_refused() -> None:
    extra = ('<process id="q" isExecutable="false"><startEvent id="qs"/><callActivity id="qc" calledElement="p"/>'
             '<endEvent id="qe"/>' + flows("qs>qc", "qc>qe") + '</process>')
    body = '<startEvent id="s"/><callActivity id="c" calledElement="q"/><endEvent id="e"/>' + flows("s>c", "c>e")
    [error] = refused(diagram(body, extra=extra))
    assert error.code == "call-cycle" and error.element_id in {"c", "qc"} and error.line
    assert "p" in error.message and "q" in error.message


def test_a_catch_event_with_no_trigger_waits_for_a_handler_and_a_link_does_not() -> None:
    body = ('<startEvent id="s"/><intermediateCatchEvent id="c" name="Svar inkommit"/>'
            '<intermediateThrowEvent id="lt" name="Till arkiv"><linkEventDefinition name="A"/></intermediateThrowEvent>'
            '<intermediateCatchEvent id="lc" name="Från handläggning"><linkEventDefinition name="A"/>'
            '</intermediateCatchEvent><task id="t" name="Arkivera"/><endEvent id="e"/>'
            + flows("s>c", "c>lt", "lc>t", "t>e"))
    doc = read_document(diagram(body))
    steps = doc.processes[0].model.steps
    assert steps["c"].name == "Registrera: Svar inkommit" and "converted-to-human-task" in codes(doc)["c"]
    assert "lc" not in steps and "link-joined" in codes(doc)["lt"]
