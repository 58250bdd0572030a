"""Due and follow-up dates in every dialect's expression language; what cannot be read is a located
diagnostic at upload, never silently dropped."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from bpmn import dates
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.clocks import ladders
from engine.core import Engine
from engine.service import cases
from engine.store.models import Timer

NAMESPACES = ('xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
              'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
              'xmlns:flowable="http://flowable.org/bpmn" xmlns:rutin="https://rutin.example/bpmn"')


def _doc(attributes: str = "", children: str = "", process_props: str = "", key: str = "datum") -> bytes:
    extension = f"<bpmn:extensionElements>{children}</bpmn:extensionElements>" if children else ""
    props = (f"<bpmn:extensionElements><camunda:properties>{process_props}</camunda:properties>"
             "</bpmn:extensionElements>") if process_props else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NAMESPACES} id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="{key}" name="Datum" isExecutable="true">{props}
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Handläggare"><bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>t</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Handlägga" {attributes}>{extension}</bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


@pytest.fixture(autouse=True)
def monday(clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))  # Monday 2 March 2026, 09:00 in Stockholm


def _task(engine: Engine, xml: bytes, data: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[Any]]:
    [deployed] = processes.deploy(engine, SYSTEM, xml)
    assert deployed.status == "published"
    case = cases.start_case(engine, SYSTEM, deployed.key, data or {})
    return case["open_tasks"][0], deployed.diagnostics


def _codes(diagnostics: list[dict[str, Any]]) -> list[str]:
    return [d["code"] for d in diagnostics if d["code"].startswith("unreadable")]


def test_camunda_juel_date_arithmetic(engine: Engine) -> None:
    task, diags = _task(engine, _doc('camunda:dueDate="${dateTime().plusDays(3).toDate()}" '
                                     'camunda:followUpDate="${now().plusHours(2)}"'))
    assert task["due"] == "2026-03-05T22:59:59+00:00"  # three days: Thursday, end of day
    assert task["follow_up"] == "2026-03-02T10:00:00+00:00"  # two hours, exactly
    assert _codes(diags) == []


def test_camunda_expression_that_cannot_be_read_is_a_located_diagnostic(engine: Engine) -> None:
    task, diags = _task(engine, _doc('camunda:dueDate="${dueDateService.compute(execution)}"'))
    [diag] = [d for d in diags if d["code"] == "unreadable-due-date"]
    assert diag["element_id"] == "t" and diag["line"] == 6 and diag["severity"] == "warning"
    assert "dueDateService.compute" in diag["message"]
    assert task["due"] is None


def test_zeebe_feel_task_schedule(engine: Engine) -> None:
    task, diags = _task(engine, _doc(children='<zeebe:taskSchedule dueDate="=now() + duration(&quot;PT4H&quot;)" '
                                              'followUpDate="=date and time(&quot;2026-03-04T10:00:00&quot;)"/>'))
    assert task["due"] == "2026-03-02T12:00:00+00:00"
    assert task["follow_up"] == "2026-03-04T09:00:00+00:00"  # a time without a zone is Swedish time
    assert _codes(diags) == []
    _, bad = _task(engine, _doc(children='<zeebe:taskSchedule dueDate="=add days(now(), 3)"/>', key="datum2"))
    assert _codes(bad) == ["unreadable-due-date"]


def test_flowable_due_date_from_a_variable_plus_a_period(engine: Engine) -> None:
    task, diags = _task(engine, _doc('flowable:dueDate="${svar_senast}"'), {"svar_senast": "2026-03-20"})
    assert task["due"] == "2026-03-20T22:59:59+00:00" and _codes(diags) == []
    task, _ = _task(engine, _doc('flowable:dueDate="P1W"', key="datum2"))
    assert task["due"] == "2026-03-09T22:59:59+00:00"


def test_rutin_attributes_and_an_unreadable_one_leaving_the_policy_in_force(engine: Engine) -> None:
    task, diags = _task(engine, _doc('rutin:due="10WD" rutin:followUp="P1W"'))
    assert task["due"] == "2026-03-16T22:59:59+00:00" and task["follow_up"] == "2026-03-09T22:59:59+00:00"
    assert _codes(diags) == []
    from engine.clocks import policies

    processes.deploy(engine, SYSTEM, _doc('rutin:due="nästa vecka"', key="datum2"))
    policies.put(engine, SYSTEM, "datum2", {"t": {"due": "2WD"}})
    task, diags = _task(engine, _doc('rutin:due="nästa vecka"', key="datum2"))
    assert _codes(diags) == ["unreadable-due-date"]
    assert task["due"] == "2026-03-04T22:59:59+00:00"  # the owner's policy, not nothing


def test_an_unreadable_escalation_ladder_is_a_diagnostic_and_the_default_applies(engine: Engine) -> None:
    xml = _doc(children='<camunda:properties><camunda:property name="rutin:due" value="5WD"/>'
                        '<camunda:property name="rutin:escalation" value="-1WD:remind; snart:ring_chefen"/>'
                        "</camunda:properties>")
    task, diags = _task(engine, xml)
    [diag] = [d for d in diags if d["code"] == "unreadable-escalation"]
    assert diag["element_id"] == "t" and "snart:ring_chefen" in diag["message"]
    with engine.db.read() as s:
        actions = [t.data["action"] for t in s.execute(
            sa.select(Timer).where(Timer.task_id == task["id"]).order_by(Timer.due_at)).scalars()]
    assert actions == ["remind", "notify_manager", "reassign_manager"]
    _, process_level = _task(engine, _doc('rutin:due="5WD"', key="datum2", process_props=(
        '<camunda:property name="rutin:caseEscalation" value="-3WD:reassign_manager"/>')))
    assert [d["element_id"] for d in process_level if d["code"] == "unreadable-escalation"] == ["datum2"]


LADDERS = ["-1WD:remind; 0:notify_manager; +3WD:reassign_manager", "0:notify_manager:2; P1D: reassign_manager : 3",
           "-PT1H:remind, +PT2H:raise_priority", "", " ; , ", "soon:remind", "+PTX:remind", "+P1.2.3D:remind",
           "+P200Y:remind", "0:remind:2", "0:notify_manager:11", "0:substitute", "-1wd:REMIND"]


@pytest.mark.parametrize("decision", [False, True])
def test_the_upload_and_the_engine_read_a_ladder_alike(decision: bool) -> None:
    """One reading of a ladder: what the upload accepts the engine carries out, step for step, and
    what it warns about (an empty ladder, a period that is none) the engine refuses too, so the
    next source applies rather than a ladder that fails when it fires."""
    actions = dates.DECISION_ACTIONS if decision else dates.WORK_ACTIONS
    for text in LADDERS:
        why = dates.check_ladder(text, actions)
        try:
            steps = ladders.parse(text, decision=decision)
        except ValueError:
            assert why is not None, text
            continue
        assert why is None, (text, why)
        assert steps and [(s.sign, s.offset, ladders.action_level(s.action)) for s in steps] == [
            (e.sign, e.offset, (e.action, e.level or 1)) for e in dates.parse_ladder(text, actions)], text
        due = datetime(2026, 3, 10, 16, tzinfo=UTC)
        assert all(s.due(due) for s in steps)  # every step the engine accepts can be placed in time


def test_an_empty_ladder_is_refused_so_the_default_applies() -> None:
    assert dates.check_ladder(" ; ", dates.WORK_ACTIONS) == "trappan är tom"
    with pytest.raises(ValueError, match="trappan är tom"):
        ladders.parse(" ; ")


def test_an_empty_case_warning_ladder_gives_the_default_warning_the_upload_promises() -> None:
    """The upload says of ``rutin:caseEscalation=";"`` that the default warning applies; so it does
    (before one reading of ladders, the engine read it as no warnings at all)."""
    from types import SimpleNamespace

    from engine.clocks import case_clock

    default = case_clock.warning_ladder(SimpleNamespace(properties={}))
    assert default and case_clock.warning_ladder(SimpleNamespace(properties={"rutin:caseEscalation": ";"})) == default
