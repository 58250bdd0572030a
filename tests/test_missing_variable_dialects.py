"""A condition that reads a variable the case does not hold, in each dialect's own semantics:
FEEL (Camunda 8) reads it as null, a comparison with null is not true and the default flow is
taken; JUEL (Camunda 7, Flowable, Activiti) refuses it ("Unknown property used in expression ...
Cannot resolve identifier"), and so does a Python condition (SpiffWorkflow): the case stops with
an incident at the gateway naming the variable, which a retry may supply."""

from __future__ import annotations

import pytest

from bpmn.expressions import null_safe, to_python
from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases

NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
      'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"')


def gateway(pid: str, first: str, second: str | None = None) -> bytes:
    """A gateway with a conditioned flow to end `hog` and a default (or second conditioned) flow to `lag`."""
    default = "" if second else ' default="f3"'
    other = f"<conditionExpression>{second}</conditionExpression>" if second else ""
    return f'''<?xml version="1.0"?><definitions {NS} targetNamespace="t"><process id="{pid}" isExecutable="true">
<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
<exclusiveGateway id="g"{default}/>
<sequenceFlow id="f2" sourceRef="g" targetRef="hog"><conditionExpression>{first}</conditionExpression></sequenceFlow>
<sequenceFlow id="f3" sourceRef="g" targetRef="lag">{other}</sequenceFlow>
<endEvent id="hog"/><endEvent id="lag"/></process></definitions>'''.encode()


@pytest.mark.parametrize("condition", ["= amount &gt; 1000", "= customer.age &gt;= 21", '= status = "klar"',
                                       "= some x in items satisfies x &gt; 1"])
def test_feel_reads_a_missing_variable_as_null_and_takes_the_default_flow(engine: Engine, condition: str) -> None:
    (d,) = processes.deploy(engine, SYSTEM, gateway("feel", condition), "feel.bpmn")
    case = cases.start_case(engine, SYSTEM, d.key)
    assert case["status"] == "completed", case.get("incident")


def test_juel_stops_at_a_missing_variable_as_camunda_7_does(engine: Engine) -> None:
    (d,) = processes.deploy(engine, SYSTEM, gateway("juel", "${approved}", "${!approved}"), "juel.bpmn")
    case = cases.start_case(engine, SYSTEM, d.key)
    assert case["status"] == "incident"
    assert case["incident"]["element_id"] == "g" and "approved" in case["incident"]["message"]
    (d,) = processes.deploy(engine, SYSTEM, gateway("juel2", "${amount &gt; 5 &amp;&amp; kanal == 'post'}"), "j.bpmn")
    case = cases.start_case(engine, SYSTEM, d.key)
    assert case["status"] == "incident" and "amount" in case["incident"]["message"]


def test_a_python_condition_keeps_spiffworkflows_reading_an_incident(engine: Engine) -> None:
    (d,) = processes.deploy(engine, SYSTEM, gateway("py", "amount &gt; 1000"), "py.bpmn")
    case = cases.start_case(engine, SYSTEM, d.key)
    assert case["status"] == "incident"
    assert case["incident"]["element_id"] == "g" and "amount" in case["incident"]["message"]


def test_a_present_variable_is_read_as_it_is() -> None:
    python = null_safe(to_python("= amount > 1000"))
    assert python == "rutin_truth(rutin_value('amount') > 1000)"
    from bpmn import sandbox

    assert sandbox.evaluate(python, {"amount": 2000}) is True
    assert sandbox.evaluate(python, {"amount": 10}) is False
    assert sandbox.evaluate(python, {}) is False
    assert sandbox.evaluate(null_safe(to_python("${customer == null}")), {}) is True


def test_a_retry_may_supply_what_a_juel_gateway_reads(engine: Engine) -> None:
    # The conditions read a variable the case does not hold: an incident, which the handler ends by
    # supplying it (the retry accepts it as read by the gateway).
    (d,) = processes.deploy(engine, SYSTEM, gateway("retry", "${clarified == 'yes'}", "${clarified == 'no'}"),
                            "r.bpmn")
    case = cases.start_case(engine, SYSTEM, d.key)
    assert case["status"] == "incident" and case["incident"]["element_id"] == "g"
    assert cases.retry_case(engine, SYSTEM, case["id"], {"clarified": "yes"})["status"] == "completed"
