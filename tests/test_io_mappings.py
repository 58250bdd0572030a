"""Input and output mappings, listener scripts and pre- and post-scripts run as each dialect's
engine runs them (`bpmn.io_mappings`, `engine.execution.io_mappings`): Camunda 7
``camunda:inputOutput`` and listeners, Camunda 8 ``zeebe:ioMapping``, SpiffArena's pre- and
post-scripts. Inputs are local to the element; outputs are written when it ends; a failing
mapping is an incident naming the element; what cannot run is still warned about at upload."""

from __future__ import annotations

from typing import Any

from bpmn.document import read_document
from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks
from tests.conftest import fixture_bytes


def _codes(xml: bytes) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for d in read_document(xml).diagnostics:
        found.setdefault(d.code, []).append(d)
    return found


def _start(engine: Engine, name: str, data: dict[str, Any]) -> dict[str, Any]:
    (d,) = processes.deploy(engine, SYSTEM, fixture_bytes(name), name)
    return cases.start_case(engine, SYSTEM, d.key, data)


def _task_data(engine: Engine, case: dict[str, Any]) -> dict[str, Any]:
    [task] = case["open_tasks"]
    return dict(tasks.get_task(engine, SYSTEM, task["id"])["data"])


def _complete(engine: Engine, case: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    [task] = case["open_tasks"]
    tasks.complete(engine, SYSTEM, task["id"], data)
    return cases.get_case(engine, SYSTEM, case["id"])


def test_camunda7_input_output_and_listener_scripts_run(engine: Engine) -> None:
    case = _start(engine, "io_camunda7.bpmn", {"belopp": 8000, "sokande": {"namn": "Ada"}, "kanal": "e-post"})
    assert case["status"] == "active", case.get("incident")
    case = _complete(engine, case, {"beslut": "ja"})
    assert case["status"] == "completed", case.get("incident")
    data = case["data"]
    # The start listener saw the inputs (a local text, a JUEL path, a list with an expression in it).
    assert data["startad"] == "Ansökan Ada 2"
    # The outputs were evaluated in the task's local scope and written to the case...
    assert data["godkant"] is True and data["sammanfattning"] == "Ada" and data["avslutad"] == "ja"
    # ...and the inputs, local to the task, are gone.
    assert not {"gransbelopp", "handlingstyp", "namn", "kanaler", "adress", "dubbelt"} & set(data), data
