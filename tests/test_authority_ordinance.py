"""The delegation ordinance as the decisions see it: items that name a task make it a decision
whatever their limit says, limits that cannot be judged are errors, and new versions take
effect when they say they do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import FIXTURES, fixture_bytes
from test_authority import ITEMS

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.base.errors import Forbidden, InvalidInput
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import delegation
from engine.service import cases, org_data, tasks

# An item naming a task the diagram does not mark as a decision ("Granska ansökan").
REVIEW_ITEM = {"number": "X.1", "title": "Granskning av små ansökningar", "process_key": "bygglov_test",
               "element_id": "granska", "delegate_role": "Bygglovschef", "limit": "area <= 200",
               "reporting": "anmals", "committee": "Byggnadsnämnden"}


@pytest.fixture
def town(engine: Engine) -> dict[str, identity.Actor]:
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    identity.add_user(engine, "alice", ["admin"])
    identity.add_user(engine, "adam", ["admin"])
    alice, adam = identity.get_actor(engine, "alice"), identity.get_actor(engine, "adam")
    delegation.import_items(engine, alice, adam, ITEMS)
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    return {n: identity.get_actor(engine, n) for n in ["bea", "bo", "bert", "fia", "rut", "alice", "adam"]}


def _add(engine: Engine, town: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    return delegation.approve(engine, town["adam"], delegation.propose(engine, town["alice"], spec)["id"])


def _review_task(engine: Engine, data: dict[str, Any]) -> str:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", data, "BN-X", org_unit="bygglov")
    return str(case["open_tasks"][0]["id"])


def test_an_item_naming_an_unmarked_task_makes_it_a_decision(engine: Engine, town: dict[str, Any]) -> None:
    _add(engine, town, REVIEW_ITEM)
    task = _review_task(engine, {"area": 100})
    # bea holds the lane's role, but the ordinance gives the decision to Bygglovschef
    with pytest.raises(Forbidden) as err:
        tasks.complete(engine, town["bea"], task, {"granskat": True}, no_conflict_of_interest=True)
    assert "X.1" in err.value.detail
    with pytest.raises(InvalidInput):  # the delegate must say there is no jäv
        tasks.complete(engine, town["bert"], task, {"granskat": True})
    tasks.complete(engine, town["bert"], task, {"granskat": True}, no_conflict_of_interest=True)
    [row] = delegation.report(engine, town["rut"])
    assert (row["item"], row["decided_by"], row["decision"]) == ("X.1", "bert", "Granska ansökan")


@pytest.mark.parametrize("area", [500, 201])
def test_outside_every_limit_the_decision_is_the_committees(engine: Engine, town: dict[str, Any], area: int) -> None:
    _add(engine, town, REVIEW_ITEM)
    task = _review_task(engine, {"area": area})
    for who in ("bea", "bert", "alice"):  # the handler, the delegate, even an administrator
        with pytest.raises(Forbidden) as err:
            tasks.complete(engine, town[who], task, {"granskat": True}, no_conflict_of_interest=True)
        assert "Byggnadsnämnden" in err.value.detail and "area <= 200" in err.value.detail
    assert tasks.get_task(engine, SYSTEM, task)["status"] == "open"
    assert delegation.report(engine, town["rut"]) == []


@pytest.mark.parametrize("data", [{}, {"area": "stor"}], ids=["no area", "area not a number"])
def test_a_limit_that_cannot_be_judged_is_an_error_not_a_pass(engine: Engine, town: dict[str, Any],
                                                              data: dict[str, Any]) -> None:
    _add(engine, town, REVIEW_ITEM)
    if data:  # a version whose start form takes the area as text: the limit cannot compare it
        text_area = fixture_bytes("bygglov_test.bpmn").replace(b'id="area" label="Byggnadsarea (m\xc2\xb2)" type="long"',
                                                               b'id="area" label="Byggnadsarea" type="string"')
        assert text_area != fixture_bytes("bygglov_test.bpmn")
        processes.deploy(engine, SYSTEM, text_area)
    task = _review_task(engine, data)
    with pytest.raises(InvalidInput) as err:
        tasks.complete(engine, town["bert"], task, {"granskat": True}, no_conflict_of_interest=True)
    assert "X.1" in err.value.detail and "area <= 200" in err.value.detail
    with pytest.raises(InvalidInput):  # nor may an ordinary handler slip it through
        tasks.complete(engine, town["bea"], task, {"granskat": True}, no_conflict_of_interest=True)
    assert tasks.get_task(engine, SYSTEM, task)["status"] == "open"


def test_a_limit_must_be_a_valid_restricted_expression(engine: Engine, town: dict[str, Any]) -> None:
    for limit in ("area <=", "__import__('os').system('true')", "[x for x in range(9)]"):
        with pytest.raises(InvalidInput) as err:
            delegation.propose(engine, town["alice"], {**REVIEW_ITEM, "limit": limit})
        assert "Begränsningen" in err.value.detail
    assert delegation.propose(engine, town["alice"], {**REVIEW_ITEM, "limit": "area <= 200 and not principiell"})


def test_a_new_version_takes_effect_on_its_valid_from(engine: Engine, town: dict[str, Any],
                                                      clock: ManualClock) -> None:
    start = clock.now() + timedelta(days=10)
    new = _add(engine, town, {**ITEMS[0], "delegate_role": "Bygglovschef", "valid_from": start.isoformat()})
    versions = {i["version"]: i for i in delegation.list_items(engine) if i["number"] == "F.1.5"}
    assert versions[1]["in_force"] is True and versions[2]["in_force"] is False
    assert versions[1]["valid_to"] == new["valid_from"] == start.isoformat()
    # until then the adopted version still governs: the handler decides
    first = _decision(engine, town, 100)
    done = tasks.complete(engine, town["bea"], first, {"beslut": "bifall"}, no_conflict_of_interest=True)
    assert done["task"]["completed_by"] == "bea"
    clock.set(start)
    second = _decision(engine, town, 100)
    with pytest.raises(Forbidden):
        tasks.complete(engine, town["bea"], second, {"beslut": "bifall"}, no_conflict_of_interest=True)
    tasks.complete(engine, town["bert"], second, {"beslut": "bifall"}, no_conflict_of_interest=True)
    assert [i["version"] for i in delegation.list_items(engine) if i["number"] == "F.1.5"] == [2]
    by_person = {(r["decided_by"], r["item"]) for r in delegation.report(engine, town["rut"])}
    assert by_person == {("bea", "F.1.5"), ("bert", "F.1.5")}


def _decision(engine: Engine, town: dict[str, Any], area: int) -> str:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": area}, f"BN-{area}", org_unit="bygglov")
    done = tasks.complete(engine, town["bo"], case["open_tasks"][0]["id"], {"granskat": True})
    return str(done["case"]["open_tasks"][0]["id"])
