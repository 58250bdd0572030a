"""Authority-layer faults found in review: jäv on others' decisions and routing to the jävig,
yes/no written as text in the ordinance, the committee of items that name none, managers whose
role has ended, malformed input answered with a 500, and CSV files with a byte-order mark."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import FIXTURES, fixture_bytes
from test_authority import ITEMS, _to_decision

from engine.authority import identity, org
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.base.errors import Forbidden, InvalidInput, NotFound
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import absence, delegation
from engine.service import cases, conflict_of_interest, org_data, tasks


def _town(engine: Engine, items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    identity.add_user(engine, "alice", ["admin"])
    identity.add_user(engine, "adam", ["admin"])
    alice, adam = identity.get_actor(engine, "alice"), identity.get_actor(engine, "adam")
    if items:
        delegation.import_items(engine, alice, adam, items)
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    names = ["bea", "bo", "bert", "fia", "kim", "rut", "alice", "adam"]
    return {"actors": {n: identity.get_actor(engine, n) for n in names},
            "http": {n: {"Authorization": f"Bearer {identity.issue_token(engine, n)}"} for n in names}}


@pytest.fixture
def town(engine: Engine) -> dict[str, Any]:
    return _town(engine, ITEMS)


def _assignee(engine: Engine, task: str) -> str | None:
    return tasks.get_task(engine, SYSTEM, task)["assignee"]


def _event(engine: Engine, case_id: str, kind: str) -> dict[str, Any]:
    return next(e for e in reversed(cases.get_case(engine, SYSTEM, case_id)["history"]) if e["type"] == kind)


# -- jäv -------------------------------------------------------------------------------------


def test_jav_by_a_bystander_leaves_a_claimed_decision_with_its_holder(engine: Engine, town: dict[str, Any]) -> None:
    a = town["actors"]
    decision = _to_decision(engine, a["bea"], 100)
    tasks.claim(engine, a["bea"], decision["id"])
    out = conflict_of_interest.declare_conflict(engine, a["bo"], decision["id"], "Sökanden är min bror")
    assert out["assignee"] == "bea"
    event = _event(engine, decision["case_id"], "conflict_of_interest_declared")
    assert (event["actor"], event["data"]["routed_to"]) == ("bo", None)
    with pytest.raises(Forbidden):  # the declaration still shuts the declarer out
        tasks.complete(engine, a["bo"], decision["id"], {}, no_conflict_of_interest=True)
    done = tasks.complete(engine, a["bea"], decision["id"], {"beslut": "bifall"}, no_conflict_of_interest=True)
    assert done["task"]["completed_by"] == "bea"


def test_jav_routing_skips_a_substitute_who_has_declared_jav(engine: Engine, town: dict[str, Any]) -> None:
    a = town["actors"]
    decision = _to_decision(engine, a["bea"], 100)
    assert conflict_of_interest.declare_conflict(engine, a["bert"], decision["id"], "Släkt med sökanden")["assignee"] is None
    # bea steps aside too: the only substitute is jävig, so the decision stays with the role
    assert conflict_of_interest.declare_conflict(engine, a["bea"], decision["id"], "Granne")["assignee"] is None
    done = tasks.complete(engine, a["bo"], decision["id"], {"beslut": "bifall"}, no_conflict_of_interest=True)
    assert done["task"]["completed_by"] == "bo"


def test_absence_does_not_hand_a_decision_to_a_substitute_who_has_declared_jav(
        engine: Engine, town: dict[str, Any], clock: ManualClock) -> None:
    a = town["actors"]
    decision = _to_decision(engine, a["bo"], 100)
    conflict_of_interest.declare_conflict(engine, a["bert"], decision["id"], "Släkt med sökanden")
    tasks.claim(engine, a["bea"], decision["id"])
    now = clock.now()
    absence.register(engine, SYSTEM, "bea", now, now + timedelta(days=3), "sjuk")
    assert _assignee(engine, decision["id"]) is None


# -- the ordinance ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "stored"), [
    ("nej", False), ("false", False), ("no", False), ("NEJ", False), ("0", False), (0, False), (False, False),
    (None, False), ("ja", True), ("True", True), ("yes", True), ("1", True), (1, True), (True, True),
])
def test_superior_may_decide_written_as_text_means_what_it_says(engine: Engine, town: dict[str, Any],
                                                               value: Any, stored: bool) -> None:
    item = delegation.propose(engine, town["actors"]["alice"], {
        "number": "X.1", "title": "Prov", "delegate_role": "Bygglovshandläggare", "superior_may_decide": value})
    assert item["superior_may_decide"] is stored


@pytest.mark.parametrize("value", ["kanske", 2, [], {"ja": True}])
def test_superior_may_decide_that_is_neither_yes_nor_no_is_refused(engine: Engine, town: dict[str, Any],
                                                                   value: Any) -> None:
    with pytest.raises(InvalidInput) as err:
        delegation.propose(engine, town["actors"]["alice"], {
            "number": "X.1", "title": "Prov", "delegate_role": "Bygglovshandläggare", "superior_may_decide": value})
    assert "superior_may_decide" in err.value.detail


def test_an_ordinance_saying_nej_in_yaml_lets_no_superior_decide(engine: Engine) -> None:
    a = _town(engine)["actors"]
    delegation.import_yaml(engine, a["alice"], a["adam"], """
items:
  - {number: "F.1.5", title: Bygglov, process_key: bygglov_test, element_id: beslut,
     delegate_role: Bygglovshandläggare, superior_may_decide: "nej", committee: Byggnadsnämnden}
""")
    decision = _to_decision(engine, a["bea"], 100)
    with pytest.raises(Forbidden):
        tasks.complete(engine, a["fia"], decision["id"], {}, no_conflict_of_interest=True)


def test_an_ordinance_with_a_faulty_item_is_not_half_loaded(engine: Engine) -> None:
    a = _town(engine)["actors"]
    with pytest.raises(InvalidInput) as err:
        delegation.import_yaml(engine, a["alice"], a["adam"], """
items:
  - {number: "A.1", title: Första, delegate_role: Bygglovshandläggare}
  - {number: "A.2", title: Andra, delegate_role: Bygglovshandläggare, superior_may_decide: kanske}
""")
    assert "Punkt nr 2" in err.value.detail and "superior_may_decide" in err.value.detail
    assert delegation.list_items(engine, a["alice"], include_all=True) == []


def test_a_decision_under_an_item_without_committee_reaches_the_units_committee(engine: Engine) -> None:
    a = _town(engine, [dict(ITEMS[0], committee=None), ITEMS[1]])["actors"]
    org_data.import_yaml(engine, "people:\n  - {name: sara, roles: [{role: Nämndsekreterare, unit: sbf}]}\n")
    decision = _to_decision(engine, a["bea"], 100)
    tasks.complete(engine, a["bea"], decision["id"], {"beslut": "bifall"}, no_conflict_of_interest=True)
    [row] = delegation.report(engine, a["rut"])
    assert (row["item"], row["committee"]) == ("F.1.5", "Byggnadsnämnden")
    for reader in (a["bert"], a["fia"], identity.get_actor(engine, "sara")):
        assert len(delegation.report(engine, reader, committee="Byggnadsnämnden")) == 1, reader.name


# -- absences --------------------------------------------------------------------------------


def test_a_manager_has_no_absence_powers_over_someone_whose_role_in_the_unit_has_ended(
        engine: Engine, town: dict[str, Any], clock: ManualClock) -> None:
    org_data.import_yaml(engine, """
people:
  - name: ola
    roles:
      - {role: Bygglovshandläggare, unit: bygglov, from: "2024-01-01T00:00:00+01:00", to: "2025-01-01T00:00:00+01:00"}
      - {role: Handläggare, unit: kansli}
  - name: nils
    roles:
      - {role: Bygglovshandläggare, unit: bygglov, from: "2027-01-01T00:00:00+01:00"}
      - {role: Handläggare, unit: kansli}
""")
    a = town["actors"]
    ola, kim = identity.get_actor(engine, "ola"), identity.get_actor(engine, "kim")
    now = clock.now()
    own = absence.register(engine, ola, "ola", now + timedelta(days=3), now + timedelta(days=10), "operation")
    assert absence.list_absences(engine, a["bert"]) == []
    assert [x["user"] for x in absence.list_absences(engine, kim)] == ["ola"]  # the current manager
    for who in ("ola", "nils"):  # a role that has ended, and one not yet begun
        with pytest.raises(Forbidden):
            absence.register(engine, a["bert"], who, now, now + timedelta(days=1), "påhittad")
    with pytest.raises(NotFound):
        absence.cancel(engine, a["bert"], own["id"])
    assert absence.register(engine, kim, "ola", now, now + timedelta(days=1))["user"] == "ola"


# -- malformed input -------------------------------------------------------------------------

FROM, TO = "2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z"


@pytest.mark.parametrize(("method", "url", "body", "says"), [
    ("PUT", "/api/org", {"units": ["bygglov"]}, "Enhet nr 1"),
    ("PUT", "/api/org", {"units": {"id": "x"}}, "units ska vara en lista"),
    ("PUT", "/api/org", {"units": [{"id": "x", "name": ["X"]}]}, "Enhet nr 1: name"),
    ("PUT", "/api/org", {"aliases": [{"alias": "Foo"}]}, "Alias nr 1 saknar role"),
    ("PUT", "/api/org", {"people": [{"name": "a"}, {"name": "b"}, {"display_name": "No Name"}]},
     "Person nr 3 saknar name"),
    ("PUT", "/api/org", {"people": [{"name": "zed", "roles": [{"unit": "bygglov"}]}]}, "roll nr 1 saknar role"),
    ("PUT", "/api/org", {"people": [{"name": "zed", "roles": "X"}]}, "roles ska vara en lista"),
    ("PUT", "/api/org", {"people": "bea"}, "people ska vara en lista"),
    ("PUT", "/api/org", {"absences": [{"name": "bea", "from": FROM, "to": TO, "reason": ["sjuk"]}]},
     "Frånvaro nr 1: reason"),
    ("POST", "/api/delegation/items", {"number": "A.1", "title": "t", "delegate_role": "X", "limit": 5}, "limit"),
    ("POST", "/api/delegation/items", {"number": "A.1", "title": "t", "delegate_role": ["X"]}, "delegate_role"),
    ("POST", "/api/delegation/items", {"number": "A.1", "title": "t" * 500, "delegate_role": "X"}, "title"),
    ("POST", "/api/absences", {"from": FROM, "to": TO, "user": ["bea"]}, "user"),
    ("POST", "/api/absences", {"from": FROM, "to": TO, "reason": {"x": 1}}, "reason"),
])
def test_malformed_authority_input_is_a_422_naming_the_entry(client: Any, town: dict[str, Any], method: str,
                                                             url: str, body: dict[str, Any], says: str) -> None:
    r = client.open(url, method=method, json=body, headers=town["http"]["alice"])
    assert r.status_code == 422, r.get_json()
    assert says in r.get_json()["detail"]


def test_malformed_org_yaml_is_refused_as_the_cli_reads_it(engine: Engine, town: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as err:
        org_data.import_yaml(engine, "people:\n  - {name: zed}\n  - {display_name: Utan namn}\n")
    assert "Person nr 2 saknar name" in err.value.detail


def test_ids_beyond_the_integer_range_are_not_found(client: Any, town: dict[str, Any]) -> None:
    huge = "999999999999999999999"
    r = client.post(f"/api/delegation/items/{huge}/approve", json={}, headers=town["http"]["adam"])
    assert r.status_code == 404
    assert client.delete(f"/api/absences/{huge}", headers=town["http"]["alice"]).status_code == 404


# -- CSV from a spreadsheet ------------------------------------------------------------------


def test_a_people_csv_saved_by_excel_with_a_byte_order_mark_is_read(engine: Engine, client: Any,
                                                                  town: dict[str, Any]) -> None:
    exported = org_data.people_csv(engine).replace("Bea Bygg", "Bea Byggare")
    r = client.put("/api/org", data=("\ufeff" + exported).encode("utf-8"),
                   headers={**town["http"]["alice"], "Content-Type": "text/csv"})
    assert r.status_code == 200, r.get_json()
    assert identity.get_actor(engine, "bea").display_name == "Bea Byggare"
    # the CLI reads the file as text, the mark included
    org_data.import_people_csv(engine, "\ufeff" + exported.replace("Bea Byggare", "Bea B."))
    assert identity.get_actor(engine, "bea").display_name == "Bea B."


def test_a_people_csv_not_in_utf8_is_refused_with_advice(client: Any, town: dict[str, Any]) -> None:
    body = "name;display_name;role;unit\nasa;Åsa Öberg;Bygglovshandläggare;bygglov\n".encode("cp1252")
    r = client.put("/api/org", data=body, headers={**town["http"]["alice"], "Content-Type": "text/csv"})
    assert r.status_code == 422 and "UTF-8" in r.get_json()["detail"]


def test_units_that_are_their_own_ancestors_are_refused_and_nothing_is_stored(engine: Engine) -> None:
    org_data.import_data(engine, {"units": [{"id": "kommun", "name": "Kommunen"}]})
    for units in ([{"id": "x", "name": "X", "parent": "x"}],
                  [{"id": "a", "name": "A", "parent": "b"}, {"id": "b", "name": "B", "parent": "a"}],
                  [{"id": "kommun", "name": "Kommunen", "parent": "c"}, {"id": "c", "name": "C", "parent": "kommun"}]):
        with pytest.raises(InvalidInput, match="slinga"):
            org_data.import_data(engine, {"units": units})
    org.invalidate(engine)
    assert sorted(org.tree(engine).units) == ["kommun"]


def test_units_may_be_listed_before_their_parents(engine: Engine) -> None:
    org_data.import_data(engine, {"units": [{"id": "enhet", "name": "Enheten", "parent": "forv"},
                                       {"id": "forv", "name": "Förvaltningen", "parent": "kommun"},
                                       {"id": "kommun", "name": "Kommunen"}]})
    org.invalidate(engine)
    assert org.tree(engine).chain("enhet") == ["enhet", "forv", "kommun"]
