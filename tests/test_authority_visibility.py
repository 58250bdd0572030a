"""Who sees which tasks and cases, through HTTP: managers their units' (and below), auditors
everything (read-only), outsiders nothing, not even who holds a task; search is literal."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import FIXTURES, fixture_bytes

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, org_data, tasks


@pytest.fixture
def town(engine: Engine) -> dict[str, dict[str, str]]:
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    return {n: {"Authorization": f"Bearer {identity.issue_token(engine, n)}"}
            for n in ["bea", "bo", "bert", "fia", "mia", "kim", "kalle", "rut"]}


def _start(engine: Engine, unit: str, key: str) -> dict[str, Any]:
    return cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, key, org_unit=unit)


def _task_ids(client: Any, headers: dict[str, str], query: str = "") -> set[str]:
    r = client.get(f"/api/tasks{query}", headers=headers)
    assert r.status_code == 200, r.get_json()
    return {t["id"] for t in r.get_json()["items"]}


def _case_ids(client: Any, headers: dict[str, str], query: str = "") -> set[str]:
    r = client.get(f"/api/cases{query}", headers=headers)
    assert r.status_code == 200, r.get_json()
    return {c["id"] for c in r.get_json()["items"]}


def test_managers_see_their_units_and_below_auditors_everything(engine: Engine, client: Any,
                                                                town: dict[str, Any]) -> None:
    bygg = _start(engine, "bygglov", "BN-1")
    norr = _start(engine, "bygglov-norr", "BN-2")
    miljo = _start(engine, "miljo", "MI-1")
    kansli = _start(engine, "kansli", "KS-1")
    task = {c["business_key"]: c["open_tasks"][0]["id"] for c in (bygg, norr, miljo, kansli)}
    # Förvaltningschef of sbf: Bygglovsenheten, Bygglov norr and Miljöenheten, not Kansliet
    fia = {task["BN-1"], task["BN-2"], task["MI-1"]}
    assert _task_ids(client, town["fia"]) == fia
    assert _task_ids(client, town["fia"], "?unit=mine") == fia
    assert client.get("/api/tasks", headers=town["fia"]).get_json()["counts"]["all"] == 3
    assert _case_ids(client, town["fia"]) == {bygg["id"], norr["id"], miljo["id"]}
    assert _case_ids(client, town["fia"], "?unit=mine") == {bygg["id"], norr["id"], miljo["id"]}
    # Bygglovschef: the unit and the one below it
    assert _task_ids(client, town["bert"], "?unit=mine") == {task["BN-1"], task["BN-2"]}
    assert _case_ids(client, town["bert"]) == {bygg["id"], norr["id"]}
    # Kanslichef: only Kansliet
    assert _task_ids(client, town["kim"]) == {task["KS-1"]}
    assert _case_ids(client, town["kim"]) == {kansli["id"]}
    # the auditor reads every task and case, and may not act on any
    assert _task_ids(client, town["rut"]) == set(task.values())
    assert _case_ids(client, town["rut"]) == {bygg["id"], norr["id"], miljo["id"], kansli["id"]}
    assert client.post(f"/api/tasks/{task['BN-1']}/claim", headers=town["rut"]).status_code == 403
    # a manager of a unit sees what happens there, but does not take its work as a handler
    assert client.post(f"/api/tasks/{task['MI-1']}/claim", headers=town["fia"]).status_code == 403


def test_outsiders_learn_nothing_about_who_holds_a_task(engine: Engine, client: Any, town: dict[str, Any]) -> None:
    case = _start(engine, "bygglov", "BN-7")
    task = case["open_tasks"][0]["id"]
    tasks.claim(engine, identity.get_actor(engine, "bo"), task)
    for outsider in ("kim", "kalle", "mia"):  # another unit's manager and handlers, one of the same role
        r = client.post(f"/api/tasks/{task}/complete", json={"data": {}}, headers=town[outsider])
        assert r.status_code == 403, (outsider, r.get_json())
        assert "bo" not in r.get_data(as_text=True)
    # a fellow handler, who sees the task anyway, is told it is taken
    r = client.post(f"/api/tasks/{task}/complete", json={"data": {}}, headers=town["bea"])
    assert r.status_code == 409 and r.get_json()["assignee"] == "bo"
    tasks.complete(engine, identity.get_actor(engine, "bo"), task, {})
    # nor whether a task is done
    r = client.post(f"/api/tasks/{task}/complete", json={"data": {}}, headers=town["kim"])
    assert r.status_code == 403


def test_search_is_literal_and_ignores_case(engine: Engine, client: Any, town: dict[str, Any]) -> None:
    keys = ["BN_2026_1", "BN-2026-1", "bn%100", "BN-100", "Bn-Åby"]
    ids = {k: _start(engine, "bygglov", k)["open_tasks"][0]["id"] for k in keys}
    bea = town["bea"]
    assert _task_ids(client, bea, "?q=_") == {ids["BN_2026_1"]}
    assert _task_ids(client, bea, "?q=%25") == {ids["bn%100"]}
    assert _task_ids(client, bea, "?q=BN%25100") == {ids["bn%100"]}
    assert _task_ids(client, bea, "?q=bn-2026") == {ids["BN-2026-1"]}
    assert _task_ids(client, bea, "?q=bn-") == {ids["BN-2026-1"], ids["BN-100"], ids["Bn-Åby"]}
