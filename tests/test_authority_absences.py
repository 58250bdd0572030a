"""Absences: no new work for the absent, absences from an org import count like registered ones,
and they can be listed and withdrawn through the API and the CLI."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, fixture_bytes
from test_authority import ITEMS
from test_cli_and_contract import rutin

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import absence, delegation
from engine.service import cases, org_data, tasks


@pytest.fixture
def town(engine: Engine) -> dict[str, Any]:
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    identity.add_user(engine, "alice", ["admin"])
    identity.add_user(engine, "adam", ["admin"])
    delegation.import_items(engine, identity.get_actor(engine, "alice"), identity.get_actor(engine, "adam"), ITEMS)
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    names = ["bea", "bo", "bert", "fia", "kalle", "rut", "alice"]
    return {"actors": {n: identity.get_actor(engine, n) for n in names},
            "http": {n: {"Authorization": f"Bearer {identity.issue_token(engine, n)}"} for n in names}}


def _task(engine: Engine) -> str:
    return str(cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, None, org_unit="bygglov")
               ["open_tasks"][0]["id"])


def _assignee(engine: Engine, task: str) -> str | None:
    return tasks.get_task(engine, SYSTEM, task)["assignee"]  # type: ignore[no-any-return]


def test_no_one_assigns_or_hands_over_to_someone_away(engine: Engine, client: Any, town: dict[str, Any],
                                                      clock: ManualClock) -> None:
    now = clock.now()
    absence.register(engine, SYSTEM, "bo", now, now + timedelta(days=5), "semester")
    task = _task(engine)
    r = client.post(f"/api/tasks/{task}/assign", json={"user": "bo"}, headers=town["http"]["bert"])
    assert r.status_code == 422 and "frånvarande" in r.get_json()["detail"]
    tasks.claim(engine, town["actors"]["bea"], task)
    r = client.post(f"/api/tasks/{task}/handover", json={"user": "bo"}, headers=town["http"]["bea"])
    assert r.status_code == 422 and "frånvarande" in r.get_json()["detail"]
    assert _assignee(engine, task) == "bea"
    clock.advance(timedelta(days=6))  # back again
    r = client.post(f"/api/tasks/{task}/handover", json={"user": "bo"}, headers=town["http"]["bea"])
    assert r.status_code == 200 and _assignee(engine, task) == "bo"


def test_absences_from_an_org_import_hand_work_on_and_are_not_duplicated(engine: Engine, town: dict[str, Any],
                                                                        clock: ManualClock) -> None:
    bea, bo = town["actors"]["bea"], town["actors"]["bo"]
    now_task, later_task = _task(engine), _task(engine)
    tasks.claim(engine, bea, now_task)
    tasks.claim(engine, bo, later_task)
    now = clock.now()
    counts = org_data.import_data(engine, {"absences": [
        {"name": "bea", "from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(days=3)).isoformat(),
         "reason": "sjuk"},
        {"name": "bo", "from": (now + timedelta(days=1)).isoformat(), "to": (now + timedelta(days=2)).isoformat()},
    ]}, town["actors"]["alice"])
    assert counts["absences"] == 2
    assert _assignee(engine, now_task) is None  # begun: handed back to the role at once
    assert _assignee(engine, later_task) == "bo"
    history = cases.get_case(engine, SYSTEM, tasks.get_task(engine, SYSTEM, now_task)["case_id"])["history"]
    moved = next(e for e in history if e["type"] == "task_reassigned")
    assert (moved["actor"], moved["role"], moved["data"]["reason"]) == ("alice", "admin", "frånvaro")
    clock.advance(timedelta(days=1, minutes=1))
    engine.scheduler.tick()
    assert _assignee(engine, later_task) is None  # the import scheduled its start like the API does
    # an export imported again is the same organisation, not twice the absences
    exported = org_data.export_data(engine)
    org_data.import_data(engine, exported)
    org_data.import_yaml(engine, org_data.export_yaml(engine))
    assert org_data.export_data(engine)["absences"] == exported["absences"]
    assert len(absence.list_absences(engine, SYSTEM, include_past=True)) == 2


def test_absences_are_listed_and_withdrawn_through_the_api(engine: Engine, client: Any, town: dict[str, Any],
                                                           clock: ManualClock) -> None:
    http = town["http"]
    now = clock.now()
    ongoing = client.post("/api/absences", json={"from": now.isoformat(), "to": (now + timedelta(days=2)).isoformat()},
                          headers=http["bea"]).get_json()
    task = _task(engine)
    tasks.claim(engine, town["actors"]["bo"], task)
    coming = client.post("/api/absences", json={"user": "bo", "from": (now + timedelta(days=1)).isoformat(),
                                                "to": (now + timedelta(days=4)).isoformat()},
                         headers=http["bert"]).get_json()

    def listed(who: str, query: str = "") -> set[int]:
        r = client.get(f"/api/absences{query}", headers=http[who])
        assert r.status_code == 200
        return {a["id"] for a in r.get_json()["items"]}

    assert listed("bea") == {ongoing["id"]}  # one's own
    assert listed("bert") == {ongoing["id"], coming["id"]}  # one's staff
    assert listed("rut") == {ongoing["id"], coming["id"]}  # the auditor: everyone's
    assert listed("kalle") == set()
    assert listed("bert", "?user=bo") == {coming["id"]}
    # someone else's absence: no such absence, as far as they can tell
    assert client.delete(f"/api/absences/{coming['id']}", headers=http["kalle"]).status_code == 404
    # withdrawn before it begins: gone, and its timer with it
    r = client.delete(f"/api/absences/{coming['id']}", headers=http["bo"])
    assert r.status_code == 200 and r.get_json()["outcome"] == "cancelled"
    clock.advance(timedelta(days=1, hours=1))
    engine.scheduler.tick()
    assert _assignee(engine, task) == "bo"
    # withdrawn while under way: it ends now, and stays on record
    r = client.delete(f"/api/absences/{ongoing['id']}", headers=http["bea"])
    assert r.status_code == 200 and r.get_json()["outcome"] == "ended"
    assert listed("bea") == set() and listed("bea", "?all=true") == {ongoing["id"]}
    assert client.delete(f"/api/absences/{ongoing['id']}", headers=http["bea"]).status_code == 409


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_absences_from_the_cli(tmp_path: Path, backend: str) -> None:
    rutin(tmp_path, "users", "add", "bea", "--role", "Handläggare")
    added = rutin(tmp_path, "absences", "add", "bea", "--from", "2099-07-01T00:00:00+02:00",
                  "--to", "2099-07-20T00:00:00+02:00", "--reason", "semester").stdout
    assert "frånvaro 1 för bea" in added
    listing = rutin(tmp_path, "absences", "list").stdout
    assert "bea" in listing and "semester" in listing
    assert "borttagen" in rutin(tmp_path, "absences", "cancel", "1").stdout
    assert "bea" not in rutin(tmp_path, "absences", "list", "--all").stdout
    failed = rutin(tmp_path, "absences", "cancel", "1", check=False)
    assert failed.returncode != 0 and "finns inte" in failed.stderr
