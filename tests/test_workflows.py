"""The shipped library: every process in workflows/ runs from start to end with the demo
organisation, each step done by a demo person who holds the role (and, for decisions, the
delegation) for it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import ROOT
from lxml import etree

from engine import cases, demo, identity, tasks
from engine.core import Engine
from engine.errors import Forbidden
from engine.identity import SYSTEM
from engine.models import HumanTask

WORKFLOWS = ROOT / "workflows"
FILLERS = {"string": "Enligt rutinen", "long": 120, "boolean": True, "date": "2026-03-02"}

# (process, unit the case belongs to, choices by decision name in the order they are met)
RUNS = [
    ("avvikelsehantering", "aldreomsorg", {"Särskild anmälningsplikt?": ["Lex Sarah"],
                                           "Var åtgärderna effektiva?": ["Nej, utred igen", "Ja"]}),
    ("begaran_allman_handling", "kansli", {"Kan handlingarna lämnas ut?": ["Nej, helt eller delvis"],
                                           "Begär sökanden myndighetens beslut?": ["Ja"]}),
    ("synpunkter_klagomal", "kansli", {"Är synpunkten en avvikelse?": ["Ja"]}),
    ("gdpr_registerutdrag", "kansli", {"Behövs förlängning?": ["Ja"]}),
    ("bygglov", "bygglov", {"Är ansökan komplett?": ["Nej", "Ja"], "Behövs grannehörande?": ["Ja"],
                            "Behövs förlängd handläggningstid?": ["Nej"]}),
]


@pytest.fixture
def town(engine: Engine) -> dict[str, identity.Actor]:
    demo.load(engine, WORKFLOWS)
    return {a.name: a for a in identity.list_users(engine) if a.name not in {"admin", "admin2"}}


def _fill(task: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in task.get("form", []):
        if field["type"] == "enum":
            data[field["id"]] = field["options"][0]["id"]
        else:
            data[field["id"]] = FILLERS.get(field["type"], "x")
    if task["name"] == "Bedöm behov av korrigerande åtgärd":
        data["korrigerande_atgard"] = True
    return data


def _do(engine: Engine, people: dict[str, identity.Actor], task: dict[str, Any], choice: str | None) -> tuple[str, Any]:
    """Complete the task as the first demo person allowed to; return who did it and the result."""
    for name, person in people.items():
        try:
            result = tasks.complete(engine, person, task["id"], None if choice else _fill(task), choice,
                                    no_conflict_of_interest=True if task.get("decision_authority") else None)
        except Forbidden:
            continue
        return name, result
    raise AssertionError(f"no demo person may do {task['name']!r} ({task['role']})")


def test_every_shipped_file_is_a_real_diagram() -> None:
    files = sorted(WORKFLOWS.glob("*.bpmn"))
    assert len(files) >= 3
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
    for f in files:
        tree = etree.parse(str(f))
        nodes = {e.get("id") for e in tree.xpath("//bpmn:process/*[@id and not(self::bpmn:laneSet) and "
                                                 "not(self::bpmn:sequenceFlow) and not(self::bpmn:documentation)]",
                                                 namespaces=ns)}
        shapes = {e.get("bpmnElement") for e in tree.xpath("//bpmndi:BPMNShape", namespaces=ns)}
        edges = {e.get("bpmnElement") for e in tree.xpath("//bpmndi:BPMNEdge", namespaces=ns)}
        flows = {e.get("id") for e in tree.xpath("//bpmn:sequenceFlow", namespaces=ns)}
        laned = {e.text for e in tree.xpath("//bpmn:flowNodeRef", namespaces=ns)}
        assert nodes <= shapes and flows <= edges and nodes <= laned, f.name


@pytest.mark.parametrize(("key", "unit", "plan"), RUNS, ids=[r[0] for r in RUNS])
def test_each_shipped_process_runs_from_start_to_end(engine: Engine, town: dict[str, Any], key: str, unit: str,
                                                    plan: dict[str, list[str]]) -> None:
    choices = {k: list(v) for k, v in plan.items()}
    case = cases.start_case(engine, town["maja"], key, {"inkom": "2026-03-02"}, f"DEMO-{key}", org_unit=unit)
    doers = []
    for _ in range(60):
        if not case["open_tasks"]:
            waiting = engine.scheduler  # a timer (e.g. the neighbours' three weeks) is all that is left
            engine.clock.advance(timedelta(weeks=3, days=1))  # type: ignore[attr-defined]
            waiting.tick()
            case = cases.get_case(engine, SYSTEM, case["id"])
            if case["status"] == "completed":
                break
            continue
        task = case["open_tasks"][0]
        choice = None
        if task["kind"] == "decision":
            queue = choices.get(task["name"])
            choice = queue.pop(0) if queue else task["options"][0]["name"]
        who, result = _do(engine, town, task, choice)
        doers.append((task["name"], who))
        case = result["case"]
        assert case["status"] != "incident", case["incident"]
        if case["status"] == "completed":
            break
    full = cases.get_case(engine, SYSTEM, case["id"])
    assert full["status"] == "completed", [t["name"] for t in full["open_tasks"]]
    assert full["history_intact"]
    assert all(not queue for queue in choices.values()), choices  # every planned path was taken
    assert len(doers) >= 5


def test_demo_processes_own_the_units_roles_yaml_gives_them(engine: Engine, town: dict[str, Any]) -> None:
    from engine import org

    assert org.get_process_unit(engine, "bygglov")["unit"] == "bygglov"
    assert org.get_process_unit(engine, "begaran_allman_handling")["source"] == "owner"
    assert org.get_process_unit(engine, "avvikelsehantering")["unit"] is None  # the reporter's unit, at start
    case = cases.start_case(engine, town["bea"], "bygglov", {"inkom": "2026-03-02"}, "BN-2026-1")
    assert case["org_unit"] == "bygglov"
    # Routed in the unit: the first step goes to the unit's administrator, not to the role group-wide only.
    [task] = case["open_tasks"]
    with engine.db.read() as s:
        row = s.get(HumanTask, task["id"])
        assert row is not None and row.org_unit_id == "bygglov"
        assert any(c.endswith("@bygglov") for c in row.candidates), row.candidates
