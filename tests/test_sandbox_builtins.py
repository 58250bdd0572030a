"""Scripts written for the original engines: date and time that read the engine's clock, and
SpiffArena's built-ins for who works on a case, mapped onto Rutin's organisation; refusals in the
designer's words."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bpmn import sandbox, script_builtins
from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks

NOON = dt.datetime(2026, 6, 1, 10, 0, tzinfo=dt.UTC)  # 12:00 in Stockholm (summer time)
ENV = {script_builtins.ENV_KEY: {"now": NOON, "user": "hanna", "initiator": "hugo",
                                 "groups": {"granskare": ["greta"]}, "last": {}}}


def run(source: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    context = {**(data or {}), **ENV}
    sandbox.execute(source, context)
    context.pop(script_builtins.ENV_KEY)
    return context


@pytest.mark.parametrize(("source", "expected"), [
    ("x = datetime.now()", dt.datetime(2026, 6, 1, 12, 0)),
    ("x = datetime.datetime.now()", dt.datetime(2026, 6, 1, 12, 0)),
    ("x = datetime.utcnow()", dt.datetime(2026, 6, 1, 10, 0)),
    ("x = date.today()", dt.date(2026, 6, 1)),
    ("x = datetime.date.today() + timedelta(days=30)", dt.date(2026, 7, 1)),
    ("x = (datetime.now() - datetime(2026, 5, 1)).days", 31),
    ("x = datetime.strptime('2026-01-02', '%Y-%m-%d').date().isoformat()", "2026-01-02"),
    ("x = date.fromisoformat('2026-01-02') < date.today()", True),
    ("x = datetime.datetime.timedelta(hours=2).total_seconds()", 7200.0),
])
def test_dates_and_times_read_the_injected_clock(source: str, expected: Any) -> None:
    assert run(source)["x"] == expected


def test_a_case_variable_of_the_same_name_wins() -> None:
    assert run("x = date", {"date": "2026-01-01"})["x"] == "2026-01-01"


@pytest.mark.parametrize("source", [
    "x = datetime.now.__self__", "x = datetime.call", "x = datetime.members", "x = date.__class__",
    "x = datetime.fromtimestamp(0)", "x = timedelta.resolution",
])
def test_the_date_names_expose_only_what_they_list(source: str) -> None:
    with pytest.raises(sandbox.SandboxError):
        run(source)


def test_without_a_clock_the_date_refuses_rather_than_read_the_wall_clock() -> None:
    with pytest.raises(sandbox.SandboxError, match="klockan"):
        sandbox.execute("x = datetime.now()", {})


def test_spiff_user_builtins_answer_from_what_the_engine_sent() -> None:
    out = run("u = get_current_user()\ni = get_process_initiator_user()['username']\n"
              "g = get_group_members('granskare')")
    assert (out["u"], out["i"], out["g"]) == ("hanna", "hugo", ["greta"])
    with pytest.raises(sandbox.SandboxError, match="get_group_members"):
        run("r = 'granskare'\ng = get_group_members(r + 'x')")


@pytest.mark.parametrize(("source", "word"), [
    ("del x", "del är inte tillåtet"),
    ("try:\n    x = 1\nexcept KeyError:\n    x = 2", "try/except är inte tillåtet"),
    ("import os", "import är inte tillåtet"),
    ("def f():\n    return 1", "def (funktionsdefinition) är inte tillåtet"),
])
def test_script_refusals_use_the_designers_words(source: str, word: str) -> None:
    with pytest.raises(sandbox.PolicyViolation) as refused:
        sandbox.check_script(source)
    assert word in str(refused.value)
    assert "Delete" not in str(refused.value) and "Try" not in str(refused.value)


def test_an_expression_refuses_a_list_comprehension_by_that_name() -> None:
    with pytest.raises(sandbox.PolicyViolation, match="list comprehension"):
        sandbox.check_expression("[x for x in y]")


NS = 'xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
SCRIPT = ("idag = date.today().isoformat()\nfrist = (datetime.now() + timedelta(days=10)).date().isoformat()\n"
          "vem = get_current_user()\nstartare = get_process_initiator_user()['username']\n"
          "granskare = get_group_members('granskare')\nforst = get_last_user_completing_task('p', 'a')")


def model() -> bytes:
    return f'''<?xml version="1.0"?><definitions {NS} targetNamespace="t"><process id="skript" isExecutable="true">
<startEvent id="s"/><sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
<userTask id="a" name="Registrera" camunda:candidateGroups="handläggare"/>
<sequenceFlow id="f2" sourceRef="a" targetRef="k"/>
<scriptTask id="k" name="Räkna" scriptFormat="python"><script>{SCRIPT}</script></scriptTask>
<sequenceFlow id="f3" sourceRef="k" targetRef="b"/><userTask id="b" name="Granska"/>
<sequenceFlow id="f4" sourceRef="b" targetRef="e"/><endEvent id="e"/></process></definitions>'''.encode()


def test_a_script_task_sees_the_engines_clock_and_organisation(engine: Engine, clock: ManualClock) -> None:
    identity.add_user(engine, "hanna", ["handläggare"])
    identity.add_user(engine, "greta", ["granskare"])
    identity.add_user(engine, "gustav", ["granskare"])
    hanna = identity.get_actor(engine, "hanna")
    (d,) = processes.deploy(engine, SYSTEM, model(), "skript.bpmn")
    case = cases.start_case(engine, hanna, d.key, {})
    clock.advance(dt.timedelta(days=400))  # the script reads this clock, not the wall clock
    done = tasks.complete(engine, hanna, case["open_tasks"][0]["id"], {})
    assert done["case"]["status"] == "active", done
    data = cases.get_case(engine, SYSTEM, case["id"])["data"]
    today = (clock.now() + dt.timedelta(hours=2)).date()  # Stockholm
    assert data["idag"] == today.isoformat()
    assert data["frist"] == (today + dt.timedelta(days=10)).isoformat()
    assert (data["vem"], data["startare"], data["forst"]) == ("hanna", "hanna", "hanna")
    assert data["granskare"] == ["greta", "gustav"]
    assert script_builtins.ENV_KEY not in data


def test_the_builtins_are_not_reported_as_variables_nothing_writes(engine: Engine) -> None:
    (d,) = processes.deploy(engine, SYSTEM, model(), "skript.bpmn")
    flagged = " ".join(x["message"] for x in d.diagnostics)
    for name in ("datetime", "timedelta", "get_current_user", "get_group_members"):
        assert name not in flagged, d.diagnostics
