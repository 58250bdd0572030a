"""Authority: roles resolved in the org tree, the delegation ordinance, jäv, absences, separation
of duties and the decision report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import FIXTURES, fixture_bytes

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.errors import Forbidden, InvalidInput
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import absence, decision_report, delegation
from engine.service import cases, conflict_of_interest, inbox, org_data, tasks

ITEMS = [
    {"number": "F.1.5", "title": "Bygglov inom detaljplan, högst 200 m²", "process_key": "bygglov_test",
     "element_id": "beslut", "legal_basis": "PBL 9 kap. 30–32 §§", "delegate_role": "Bygglovshandläggare",
     "substitute_role": "Bygglovschef", "superior_may_decide": True, "limit": "area <= 200",
     "reporting": "anmals", "committee": "Byggnadsnämnden", "adopted_ref": "BN § 12/2026"},
    {"number": "F.1.6", "title": "Bygglov över 200 m²", "process_key": "bygglov_test", "element_id": "beslut",
     "delegate_role": "Bygglovschef", "superior_may_decide": False, "limit": "area > 200",
     "reporting": "anmals", "committee": "Byggnadsnämnden"},
]


@pytest.fixture
def town(engine: Engine) -> dict[str, identity.Actor]:
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    identity.add_user(engine, "alice", ["admin"])
    identity.add_user(engine, "adam", ["admin"])
    alice, adam = identity.get_actor(engine, "alice"), identity.get_actor(engine, "adam")
    delegation.import_items(engine, alice, adam, ITEMS)
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    names = ["bea", "bo", "bert", "fia", "mia", "kim", "kalle", "rut", "alice", "adam"]
    return {n: identity.get_actor(engine, n) for n in names}


def _ids(listing: dict[str, Any]) -> list[str]:
    return [t["id"] for t in listing["items"]]


def _to_decision(engine: Engine, who: identity.Actor, area: int, unit: str = "bygglov") -> dict[str, Any]:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": area}, f"BN-{area}", org_unit=unit)
    done = tasks.complete(engine, who, case["open_tasks"][0]["id"], {"granskat": True})
    [decision] = done["case"]["open_tasks"]
    assert decision["name"] == "Beslut om lov"
    return decision


def test_roles_resolve_in_the_case_unit_then_up_the_tree(engine: Engine, town: dict[str, Any]) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, org_unit="bygglov")
    [task] = case["open_tasks"]
    assert task["role"] == "Handläggare bygglov"  # the lane, an alias of Bygglovshandläggare
    assert _ids(inbox.list_tasks(engine, town["bea"])) == [task["id"]]
    assert _ids(inbox.list_tasks(engine, town["mia"])) == []  # same role, another unit
    assert _ids(inbox.list_tasks(engine, town["kalle"])) == []
    # a sub-unit without handläggare of its own: the role resolves up to Bygglovsenheten
    north = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, org_unit="bygglov-norr")
    assert north["open_tasks"][0]["id"] in _ids(inbox.list_tasks(engine, town["bo"]))
    # managers see their units' tasks; the auditor reads everything but may not act
    assert tasks.get_task(engine, town["fia"], task["id"])["id"] == task["id"]
    assert tasks.get_task(engine, town["rut"], task["id"])["id"] == task["id"]
    with pytest.raises(Forbidden):
        tasks.claim(engine, town["rut"], task["id"])
    with pytest.raises(Forbidden):
        tasks.get_task(engine, town["kim"], task["id"])


def test_only_the_delegate_decides_and_says_no_jav(engine: Engine, town: dict[str, Any]) -> None:
    decision = _to_decision(engine, town["bea"], 120)
    assert decision["decision_authority"] is True
    with pytest.raises(Forbidden):
        tasks.complete(engine, town["kalle"], decision["id"], {"beslut": "bifall"}, no_conflict_of_interest=True)
    with pytest.raises(InvalidInput):
        tasks.complete(engine, town["bea"], decision["id"], {"beslut": "bifall"})
    # the decision's output mapping records `beslut` from the decider's `utfall`
    done = tasks.complete(engine, town["bea"], decision["id"], {"utfall": "bifall"}, no_conflict_of_interest=True)
    assert done["task"]["completed_by"] == "bea"
    full = cases.get_case(engine, SYSTEM, done["case"]["id"])
    event = next(e for e in full["history"] if e["type"] == "task_completed" and e["task_id"] == decision["id"])
    assert event["role"] == "Bygglovshandläggare"
    assert event["data"]["delegation"]["item"] == "F.1.5" and event["data"]["delegation"]["grounds"] == "delegat"
    assert event["data"]["no_conflict_of_interest"] is True
    [row] = delegation.report(engine, town["rut"], committee="Byggnadsnämnden")
    assert (row["item"], row["decided_by"], row["business_key"]) == ("F.1.5", "bea", "BN-120")
    csv = decision_report.report_csv(engine, [row])
    lines = csv.splitlines()
    assert lines[0] == "Beslutsdatum;Delegationspunkt;Beslut;Ärende;Utfall;Beslutsfattare;Roll;Grund;Nämnd;Anmälan;Ärende-id"
    assert lines[1].split(";")[1:10] == ["F.1.5", "Beslut om lov", "BN-120", "utfall: bifall", "Bea Bygg",
                                         "Bygglovshandläggare", "delegat", "Byggnadsnämnden", "Anmäls till nämnden"]
    assert "{" not in csv and "anmals" not in csv


def test_limits_pick_the_item_and_superiors_decide_where_allowed(engine: Engine, town: dict[str, Any]) -> None:
    big = _to_decision(engine, town["bea"], 350)
    with pytest.raises(Forbidden) as err:
        tasks.complete(engine, town["bea"], big["id"], {"beslut": "bifall"}, no_conflict_of_interest=True)
    assert "F.1.6" in err.value.detail
    with pytest.raises(Forbidden):  # F.1.6 does not let a superior decide
        tasks.complete(engine, town["fia"], big["id"], {"beslut": "bifall"}, no_conflict_of_interest=True)
    tasks.complete(engine, town["bert"], big["id"], {"beslut": "bifall"}, no_conflict_of_interest=True)
    small = _to_decision(engine, town["bo"], 90)
    done = tasks.complete(engine, town["fia"], small["id"], {"beslut": "avslag"}, no_conflict_of_interest=True)
    assert done["task"]["completed_by"] == "fia"
    grounds = {r["decided_by"]: r["grounds"] for r in delegation.report(engine, town["rut"])}
    assert grounds == {"bert": "delegat", "fia": "överordnad"}


def test_declaring_jav_routes_the_decision_to_the_substitute(engine: Engine, town: dict[str, Any]) -> None:
    decision = _to_decision(engine, town["bea"], 150)
    routed = conflict_of_interest.declare_conflict(engine, town["bea"], decision["id"], "Sökanden är min granne")
    assert routed["assignee"] == "bert"
    with pytest.raises(Forbidden):
        tasks.complete(engine, town["bea"], decision["id"], {}, no_conflict_of_interest=True)
    done = tasks.complete(engine, town["bert"], decision["id"], {"beslut": "bifall"}, no_conflict_of_interest=True)
    [row] = delegation.report(engine, town["rut"])
    assert (row["decided_by"], row["grounds"], row["role"]) == ("bert", "ersättare", "Bygglovschef")
    types = [e["type"] for e in cases.get_case(engine, SYSTEM, done["case"]["id"])["history"]]
    assert "conflict_of_interest_declared" in types


def test_separation_of_duties(engine: Engine, town: dict[str, Any]) -> None:
    decision = _to_decision(engine, town["bea"], 100)
    # the decision's output mapping records `beslut` from the decider's `utfall`
    done = tasks.complete(engine, town["bea"], decision["id"], {"utfall": "bifall"}, no_conflict_of_interest=True)
    [send] = done["case"]["open_tasks"]
    with pytest.raises(Forbidden):
        tasks.claim(engine, town["bea"], send["id"])
    with pytest.raises(Forbidden):
        tasks.complete(engine, town["bea"], send["id"], {})
    assert tasks.complete(engine, town["bo"], send["id"], {})["case"]["status"] == "completed"


def test_absence_hands_work_back_to_the_role_and_decisions_to_the_substitute(engine: Engine, town: dict[str, Any]) -> None:
    work_case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, org_unit="bygglov")
    work_task = work_case["open_tasks"][0]
    tasks.claim(engine, town["bea"], work_task["id"])
    decision = _to_decision(engine, town["bo"], 100)
    tasks.claim(engine, town["bea"], decision["id"])
    now = engine.clock.now()
    result = absence.register(engine, town["bea"], "bea", now, now + timedelta(days=7), "semester")
    assert sorted(result["handed_on"]) == sorted([work_task["id"], decision["id"]])
    assert tasks.get_task(engine, SYSTEM, work_task["id"])["assignee"] is None
    assert tasks.get_task(engine, SYSTEM, decision["id"])["assignee"] == "bert"
    assert work_task["id"] in _ids(inbox.list_tasks(engine, town["bo"], candidate="me"))
    # an absence registered ahead of time takes effect when it begins, through the scheduler
    tasks.claim(engine, town["bo"], work_task["id"])
    absence.register(engine, town["bo"], "bo", now + timedelta(days=1), now + timedelta(days=2))
    assert tasks.get_task(engine, SYSTEM, work_task["id"])["assignee"] == "bo"
    engine.clock.advance(timedelta(days=1, minutes=1))  # type: ignore[attr-defined]
    engine.scheduler.tick()
    assert tasks.get_task(engine, SYSTEM, work_task["id"])["assignee"] is None
    with pytest.raises(Forbidden):
        absence.register(engine, town["kalle"], "bo", now, now + timedelta(days=1))


def test_ordinance_changes_need_a_second_person(engine: Engine, town: dict[str, Any]) -> None:
    draft = delegation.propose(engine, town["alice"], {**ITEMS[0], "delegate_role": "Bygglovschef"})
    assert draft["status"] == "draft" and draft["version"] == 2
    with pytest.raises(Forbidden):
        delegation.approve(engine, town["alice"], draft["id"])
    with pytest.raises(Forbidden):
        delegation.propose(engine, town["bea"], ITEMS[0])
    approved = delegation.approve(engine, town["adam"], draft["id"])
    assert approved["status"] == "approved" and approved["approved_by"] == "adam"
    current = [i for i in delegation.list_items(engine) if i["number"] == "F.1.5"]
    assert [i["version"] for i in current] == [2]
    decision = _to_decision(engine, town["bea"], 100)
    with pytest.raises(Forbidden):  # the ordinance changed: now only Bygglovschef decides
        tasks.complete(engine, town["bea"], decision["id"], {}, no_conflict_of_interest=True)


def test_org_round_trips_through_yaml(engine: Engine, town: dict[str, Any]) -> None:
    text = org_data.export_yaml(engine)
    data = org_data.export_data(engine)
    assert {u["id"] for u in data["units"]} >= {"kommun", "sbf", "bygglov", "kansli"}
    bea = next(p for p in data["people"] if p["name"] == "bea")
    assert bea["roles"] == [{"role": "Bygglovshandläggare", "unit": "bygglov"}]
    assert org_data.import_yaml(engine, text)["people"] == len(data["people"])
    assert org_data.export_data(engine) == data
    with pytest.raises(InvalidInput):
        org_data.import_data(engine, {"units": [{"id": "x", "name": "X", "parent": "finns-inte"}]})


def test_the_inbox_search_folds_swedish_letters(engine: Engine, town: dict[str, Any]) -> None:
    # SQLite's own LIKE folds only ASCII letters; the search must not depend on the backend
    appeal = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "ÖVERKLAGANDE-Å1", org_unit="bygglov")
    cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-2026-1", org_unit="bygglov")
    for text in ("överklagande-å", "ÖVERKLAGANDE", "Överklagande-Å1", "klagande"):
        assert _ids(inbox.list_tasks(engine, town["bea"], search=text)) == [appeal["open_tasks"][0]["id"]], text
    assert inbox.list_tasks(engine, town["bea"], search="ä")["total"] == 0


def test_inbox_filters_counts_sorting_and_stable_paging(engine: Engine, town: dict[str, Any]) -> None:
    bea = town["bea"]
    ids = []
    for n in range(7):
        case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, f"BN-2026-{n:02}", org_unit="bygglov")
        ids.append(case["open_tasks"][0]["id"])
        engine.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    other = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "MI-1", org_unit="miljo")
    tasks.claim(engine, bea, ids[0])
    tasks.update(engine, bea, ids[0], {"priority": 90})
    tasks.claim(engine, town["bo"], ids[1])
    listing = inbox.list_tasks(engine, bea)
    assert listing["counts"] == {"all": 7, "mine": 1, "unclaimed": 5, "overdue": 0, "unit": 7}
    assert listing["total"] == 7 and other["open_tasks"][0]["id"] not in _ids(listing)
    assert _ids(inbox.list_tasks(engine, bea, assignee="me")) == [ids[0]]
    assert _ids(inbox.list_tasks(engine, bea, candidate="me")) == ids[2:]
    assert _ids(inbox.list_tasks(engine, bea, sort="priority", order="desc"))[0] == ids[0]
    assert _ids(inbox.list_tasks(engine, bea, search="2026-03")) == [ids[3]]
    assert _ids(inbox.list_tasks(engine, bea, unit="mine")) == ids
    assert _ids(inbox.list_tasks(engine, town["mia"], unit="mine")) == [other["open_tasks"][0]["id"]]
    pages = [_ids(inbox.list_tasks(engine, bea, limit=3, offset=o)) for o in (0, 3, 6)]
    assert [i for page in pages for i in page] == ids  # stable order, no gaps or repeats
    engine.clock.advance(timedelta(days=10))  # type: ignore[attr-defined]
    assert inbox.list_tasks(engine, bea, overdue=True)["total"] == 7
    due_soon = inbox.list_tasks(engine, bea, due_before=engine.clock.now())
    assert due_soon["total"] == 7 and due_soon["counts"]["overdue"] == 7


def test_people_and_roles_round_trip_through_csv(engine: Engine, town: dict[str, Any]) -> None:
    text = org_data.people_csv(engine)
    assert text.splitlines()[0] == "name;display_name;email;role;unit;from;to"
    assert "bea;Bea Bygg;bea@exempelby.se;Bygglovshandläggare;bygglov;;" in text
    changed = text.replace("bea;Bea Bygg;bea@exempelby.se;Bygglovshandläggare;bygglov",
                           "bea;Bea Bygg;bea@exempelby.se;Bygglovschef;bygglov")
    assert org_data.import_people_csv(engine, changed)["people"] >= 8
    bea = identity.get_actor(engine, "bea")
    assert bea.roles == frozenset({"bygglovschef@bygglov"}) and "bygglov" in bea.manages
    with pytest.raises(InvalidInput):
        org_data.import_people_csv(engine, "namn;roll\nx;y\n")


def test_an_absent_person_gets_no_new_tasks(engine: Engine, town: dict[str, Any]) -> None:
    xml = fixture_bytes("bygglov_test.bpmn").replace(b'<bpmn:userTask id="granska" ',
                                                     b'<bpmn:userTask id="granska" camunda:assignee="bea" ')
    processes.deploy(engine, SYSTEM, xml, approve_as_admin=False)
    processes.approve(engine, town["alice"], "bygglov_test", 2)
    present = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 1}, org_unit="bygglov")
    assert present["open_tasks"][0]["assignee"] == "bea"
    now = engine.clock.now()
    absence.register(engine, town["bea"], "bea", now, now + timedelta(days=3))
    away = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 1}, org_unit="bygglov")
    assert away["open_tasks"][0]["assignee"] is None
    assert away["open_tasks"][0]["id"] in _ids(inbox.list_tasks(engine, town["bo"], candidate="me"))
    created = next(e for e in cases.get_case(engine, SYSTEM, away["id"])["history"] if e["type"] == "task_created")
    assert created["data"]["assignee_absent"] == "bea"
