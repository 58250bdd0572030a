"""Known sandbox-escape payloads through each of the four places a diagram's code runs.

Script tasks, gateway conditions, timer expressions and message correlation expressions all run
in the restricted evaluator. Every payload must be refused: either the upload is rejected with a
located diagnostic, or the case stops in an incident. None may touch the file system or leak
what it reached into the case data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from conftest import Person, publish

from bpmn import sandbox

SENTINEL = Path("/tmp/rutin-sandbox-escaped")

# Each payload, if it ran unrestricted, would execute a command, read a file, reach interpreter
# internals, or exhaust the machine. Written as expressions so each fits every channel.
PAYLOADS = [
    f"__import__('os').system('touch {SENTINEL}')",
    f"__import__('subprocess').call(['touch', '{SENTINEL}'])",
    "open('/etc/passwd').read()",
    f"exec(\"import os; os.system('touch {SENTINEL}')\")",
    "eval('1+1')",
    "compile('1', 'x', 'eval')",
    "().__class__.__bases__[0].__subclasses__()",
    "''.__class__.__mro__[1].__subclasses__()",
    "[].__class__.__base__.__subclasses__()",
    "(lambda: 0).__globals__",
    "(lambda: 0).__code__.co_consts",
    "globals()['__builtins__']",
    "locals()",
    "vars()",
    "getattr(1, '__class__')",
    "type(1).__subclasses__(object)",
    "__builtins__",
    "__loader__",
    "'{0.__class__}'.format(1)",
    "'%s' % ().__class__",
    "breakpoint()",
    "input()",
    "help()",
    "'a' * 10 ** 9",
    "10 ** 10 ** 10",
    "1 << 10 ** 9",
    "[0] * 10 ** 9",
    "sum(range(10 ** 12))",
    "object.__subclasses__()",
    "(i for i in ()).gi_frame.f_globals",
    # one call allocating far more than its arguments, before any check between lines could run
    "('a' * 100000).replace('a', 'a' * 15000)",
    "('a' * 100000).join(['a' * 100000] * 1000)",
    "'%999999999d' % 1",
    "f'{1:>999999999}'",
    "('a' * 100000).translate({97: 'a' * 100000})",
]
assert len(PAYLOADS) >= 20

PREFIX = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="https://rutin.example/test">"""


def script_channel(payload: str) -> str:
    return f"""{PREFIX}
  <bpmn:process id="esc" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="x"/>
    <bpmn:scriptTask id="x" name="Skript" scriptFormat="python"><bpmn:script>r = {escape(payload)}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="x" targetRef="t"/>
    <bpmn:userTask id="t" name="Efter"/><bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def condition_channel(payload: str) -> str:
    return f"""{PREFIX}
  <bpmn:process id="esc" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
    <bpmn:exclusiveGateway id="g" default="f3"/>
    <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="t1"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(payload)}</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f3" sourceRef="g" targetRef="t2"/>
    <bpmn:userTask id="t1" name="Ett"/><bpmn:userTask id="t2" name="Två"/>
    <bpmn:sequenceFlow id="f4" sourceRef="t1" targetRef="e"/><bpmn:sequenceFlow id="f5" sourceRef="t2" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def timer_channel(payload: str) -> str:
    return f"""{PREFIX}
  <bpmn:process id="esc" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
    <bpmn:intermediateCatchEvent id="w" name="Vänta">
      <bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{escape(payload)}</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="w" targetRef="t"/>
    <bpmn:userTask id="t" name="Efter"/><bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def correlation_channel(payload: str) -> str:
    return f"""{PREFIX}
  <bpmn:collaboration id="c">
    <bpmn:participant id="p" name="Esc" processRef="esc"/>
    <bpmn:correlationKey name="nyckel"><bpmn:correlationPropertyRef>cp</bpmn:correlationPropertyRef></bpmn:correlationKey>
  </bpmn:collaboration>
  <bpmn:message id="m" name="svar"/>
  <bpmn:correlationProperty id="cp" name="arende">
    <bpmn:correlationPropertyRetrievalExpression messageRef="m">
      <bpmn:formalExpression>{escape(payload)}</bpmn:formalExpression>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>
  <bpmn:process id="esc" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
    <bpmn:intermediateCatchEvent id="w" name="Vänta på svar"><bpmn:messageEventDefinition messageRef="m"/></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="w" targetRef="t"/>
    <bpmn:userTask id="t" name="Efter"/><bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


CHANNELS = {
    "script": script_channel,
    "condition": condition_channel,
    "timer": timer_channel,
    "correlation": correlation_channel,
}


@pytest.fixture(autouse=True)
def _no_sentinel() -> Any:
    SENTINEL.unlink(missing_ok=True)
    yield
    assert not SENTINEL.exists(), "a payload escaped the sandbox"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_every_payload_is_refused(channel: str, client: Any, people: dict[str, Person], clock: Any) -> None:
    admin = people["admin"]
    outcomes = {}
    for payload in PAYLOADS:
        r = publish(client, people, CHANNELS[channel](payload).encode())
        if r.status_code == 422:
            diags = r.get_json()["diagnostics"]
            assert any(d["severity"] == "error" and d.get("line") for d in diags), diags
            outcomes[payload] = "refused at upload"
            continue
        assert r.status_code in (200, 201), (payload, r.get_json())
        case = client.post("/api/processes/esc/cases", json={"data": {}}, headers=admin.headers).get_json()
        if channel == "correlation" and case["status"] == "active":
            r = client.post(f"/api/cases/{case['id']}/messages/svar", json={"data": {"arende": 1}},
                            headers=admin.headers)
            assert r.status_code in (200, 409, 422), r.get_json()
            case = client.get(f"/api/cases/{case['id']}", headers=admin.headers).get_json()
        assert case["status"] == "incident", (payload, case["status"], case["open_tasks"])
        assert case["incident"]["message"]
        assert "root:" not in str(case["data"])
        outcomes[payload] = "incident"
    assert set(outcomes) == set(PAYLOADS)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sandbox_refuses_payload_as_script_and_expression(payload: str) -> None:
    for run in (lambda: sandbox.evaluate(payload, {}), lambda: sandbox.execute(f"r = {payload}", {})):
        with pytest.raises(sandbox.SandboxError):
            run()


def test_sandbox_still_runs_ordinary_code() -> None:
    ctx: dict[str, Any] = {"belopp": 1200, "namn": "Anna", "rader": [1, 2, 3]}
    sandbox.execute("avgift = belopp * 2\nsumma = sum(r * 2 for r in rader)\nhalsning = namn.upper()", ctx)
    assert ctx["avgift"] == 2400 and ctx["summa"] == 12 and ctx["halsning"] == "ANNA"
    assert sandbox.evaluate("belopp > 1000 and namn == 'Anna'", ctx) is True
    assert sandbox.evaluate("rutin_beslut.get('g') == 'f1'", {"rutin_beslut": {"g": "f1"}}) is True


def test_script_time_budget_stops_endless_loop() -> None:
    with pytest.raises(sandbox.ScriptTimeout):
        sandbox.execute("x = 0\nwhile True:\n    x = x + 1", {}, timeout=0.2)


def test_what_a_script_leaves_behind_is_data_a_case_can_hold() -> None:
    ctx: dict[str, Any] = {}
    sandbox.execute("dagar = range(1, 4)\nnamn = map(str, [1, 2])\npar = zip([1], [2])", ctx)
    assert ctx == {"dagar": [1, 2, 3], "namn": ["1", "2"], "par": [(1, 2)]}
    for script in ("x = float('nan')", "x = [float('inf')]", "x = chr(0xd800)", "x = {'a': chr(0xdfff)}"):
        with pytest.raises(sandbox.SandboxError, match="variabeln x"):
            sandbox.execute(script, {})
    # ordinary growth within the bounds still works
    ctx = {"t": "ab"}
    sandbox.execute("u = t.replace('a', 'xyz') + '-' + '%5d' % 7 + ', '.join(['p', 'q'])\nl = [1]\nl.extend([2])", ctx)
    assert ctx["u"] == "xyzb-    7p, q" and ctx["l"] == [1, 2]
