"""Expressions in JUEL and FEEL: the common subset runs, anything outside it is a located error at
upload (never an incident when the case runs), and no expression can make an upload hang."""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import Person, deploy
from test_import_repairs import diagram, flows, refused

from bpmn.expressions import MAX_EXPRESSION_LENGTH, to_python


def gateway(condition: str) -> bytes:
    """An exclusive gateway whose flow `fy` carries `condition` (the other flow is the default)."""
    body = ('<startEvent id="s"/><exclusiveGateway id="g" default="fno"/><userTask id="y" name="Ja"/>'
            '<userTask id="n" name="Nej"/><endEvent id="e"/>'
            '<sequenceFlow id="fy" sourceRef="g" targetRef="y"><conditionExpression xsi:type="tFormalExpression">'
            f'<![CDATA[{condition}]]></conditionExpression></sequenceFlow>'
            '<sequenceFlow id="fno" sourceRef="g" targetRef="n"/>' + flows("s>g", "y>e", "n>e"))
    return diagram(body, executable=True)


@pytest.mark.parametrize(("condition", "function"), [
    ("=count(items) > 2", "count"),
    ('=contains(name, "x")', "contains"),
    ('=date("2020-01-01") < today()', "date"),
    ("${foo(1)}", "foo"),
    ("#{bar(x) == 1}", "bar"),
    ("=list contains(l, 1)", "list contains"),
    ("=string length(name) > 3", "string length"),
    ("=every x in items satisfies count(x) > 2", "count"),
])
def test_a_function_call_in_juel_or_feel_is_a_located_error_at_upload(condition: str, function: str) -> None:
    [error] = refused(gateway(condition))
    assert error.code == "unsupported-expression" and error.element_id == "fy" and error.line
    assert f"funktionen {function!r} stöds inte" in error.message, error.message


def test_a_feel_range_is_named_as_such() -> None:
    [error] = refused(gateway("=x in [1..5]"))
    assert "intervall" in error.message and "x >= 1 and x <= 5" in error.message, error.message


@pytest.mark.parametrize(("source", "python"), [
    ("${amount > 1000 && approved}", "amount > 1000 and approved"),
    ("${empty list}", "not list"),
    ('=Vacation Approval = "ok"', "rutin_variable('Vacation Approval') == \"ok\""),
    ("=some x in items satisfies x > 2", "any((x > 2) for x in items)"),
    ('${execution.getVariable("x") == 1}', "x == 1"),
    ("=not(approved)", "not(approved)"),
    ("len(items) > 2", "len(items) > 2"),  # Python keeps the sandbox's functions
])
def test_the_subset_still_translates(source: str, python: str) -> None:
    assert to_python(source) == python


def test_a_function_refused_at_upload_never_reaches_a_case(client: Any, people: dict[str, Person]) -> None:
    r = deploy(client, people["designer"], gateway("=count(items) > 2"))
    assert r.status_code == 422
    assert any(d["code"] == "unsupported-expression" and d["element_id"] == "fy" for d in r.get_json()["diagnostics"])


def test_a_long_expression_is_refused_quickly_and_quoted_shortly() -> None:
    """150 KB in a FEEL quantifier used to take 44 s (the pattern backtracked quadratically)."""
    started = time.perf_counter()
    [error] = refused(gateway("=some x in a" + " " * 150_000 + "b"))
    assert time.perf_counter() - started < 5
    assert f"högst {MAX_EXPRESSION_LENGTH}" in error.message and len(error.message) < 400


def test_the_quantifier_is_read_in_linear_time() -> None:
    """The quantifier's reading itself, past the cap: the old pattern took 9 s on 40,000 spaces."""
    from bpmn.expressions import _feel

    for text in ("some x in a" + " " * 40_000 + "b", "some x in " + " " * 40_000 + "satisfie"):
        started = time.perf_counter()
        _feel(text)  # not a quantifier: read as a plain expression, which the sandbox then refuses
        assert time.perf_counter() - started < 1


# -- scripts and mappings beside the flow: listeners, inputOutput, ioMapping, pre/post-scripts ------

def one_task(task: str) -> bytes:
    """A process start -> `task` (id t) -> end."""
    return diagram('<startEvent id="s"/>' + task + '<endEvent id="e"/>' + flows("s>t", "t>e"), executable=True)


def diagnostics(data: bytes) -> dict[str, list[Any]]:
    from bpmn.document import read_document

    out: dict[str, list[Any]] = {}
    for d in read_document(data).diagnostics:
        out.setdefault(d.code, []).append(d)
    return out


@pytest.mark.parametrize("task", [
    '<userTask id="t" name="T"><extensionElements><camunda:taskListener event="create"><camunda:script '
    'scriptFormat="groovy">task.setVariable("x", 1)</camunda:script></camunda:taskListener></extensionElements>'
    '</userTask>',
    '<userTask id="t" name="T"><extensionElements><camunda:executionListener event="start"><camunda:script '
    'scriptFormat="javascript">execution.setVariable("y", 2)</camunda:script></camunda:executionListener>'
    '</extensionElements></userTask>',
    '<userTask id="t" name="T"><extensionElements><camunda:inputOutput><camunda:inputParameter name="a">'
    '<camunda:script scriptFormat="groovy">1 + 1</camunda:script></camunda:inputParameter></camunda:inputOutput>'
    '</extensionElements></userTask>',
])
def test_groovy_or_javascript_beside_the_flow_is_an_error_at_upload(task: str) -> None:
    [error] = refused(one_task(task))
    assert error.code == "unsupported-script-language" and error.element_id == "t" and error.line


def test_a_script_task_in_an_external_file_cannot_run() -> None:
    [error] = refused(one_task('<scriptTask id="t" name="Beräkna" scriptFormat="javascript" '
                               'camunda:resource="deployment://calc.js"/>'))
    assert error.code == "script-resource" and "deployment://calc.js" in error.message


def test_java_listeners_and_delegates_are_warned_that_they_do_not_run() -> None:
    found = diagnostics(one_task(
        '<userTask id="t" name="T"><extensionElements><camunda:taskListener event="create" class="org.x.Notify"/>'
        '<camunda:executionListener event="end" delegateExpression="${mailer}"/></extensionElements></userTask>'))
    messages = [d.message for d in found["listener-not-run"]]
    assert len(messages) == 2 and all("körs inte" in m for m in messages)
    assert any("org.x.Notify" in m for m in messages) and any("${mailer}" in m for m in messages)
    converted = diagnostics(one_task('<serviceTask id="t" name="Skicka brev" camunda:class="org.x.Send"/>'))
    [warning] = converted["converted-to-human-task"]
    assert "Java-klassen 'org.x.Send'" in warning.message and "inte körs här" in warning.message


def test_mappings_run_and_only_those_that_cannot_be_evaluated_are_warned_about() -> None:
    found = diagnostics(one_task(
        '<userTask id="t" name="T"><extensionElements><camunda:inputOutput>'
        '<camunda:inputParameter name="belopp">${ansokan.belopp}</camunda:inputParameter>'
        '<camunda:outputParameter name="klar">${foo.bar()}</camunda:outputParameter>'
        '</camunda:inputOutput></extensionElements></userTask>'))
    assert "mapping-not-applied" not in found
    [unreadable] = found["mapping-unreadable"]
    assert "'klar'" in unreadable.message and "körs inte" in unreadable.message and unreadable.severity == "warning"
    assert unreadable.element_id == "t"
    zeebe = diagnostics(one_task(
        '<userTask id="t" name="T"><extensionElements><zeebe:ioMapping><zeebe:input source="=count(x)" target="n"/>'
        '<zeebe:output source="=ansokan.status" target="status"/></zeebe:ioMapping></extensionElements></userTask>'))
    assert "mapping-not-applied" not in zeebe
    assert [d.message for d in zeebe["mapping-unreadable"]] == [
        "Inmappningen till 'n': '=count(x)' kan inte utvärderas här (funktionen 'count' stöds inte; uttryck i JUEL och "
        "FEEL får använda variabler, jämförelser, and/or/not, aritmetik, empty och strängjämförelser, men inga "
        "funktioner); mappningen körs inte."]


def test_a_call_activitys_in_and_out_are_still_said_not_to_be_applied() -> None:
    found = diagnostics(one_task(
        '<callActivity id="t" name="Anropa" calledElement="annan"><extensionElements>'
        '<camunda:in source="belopp" target="summa"/><camunda:out variables="all"/></extensionElements>'
        '</callActivity>'))
    [not_applied] = found["mapping-not-applied"]
    assert "summa" in not_applied.message and not_applied.element_id == "t"


def test_spiff_pre_and_post_scripts_are_checked_by_the_sandbox() -> None:
    task = ('<userTask id="t" name="T"><extensionElements><spiffworkflow:preScript>{pre}</spiffworkflow:preScript>'
            '</extensionElements></userTask>')
    [error] = refused(one_task(task.format(pre="import os")))
    assert error.code == "script-refused" and error.element_id == "t"
    assert "script-not-run" not in diagnostics(one_task(task.format(pre="x = 1")))  # it runs
