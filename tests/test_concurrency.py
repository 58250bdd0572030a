"""Two actors on one case at once: never both win a conflicting action, never lose state.

Real concurrent HTTP requests against a live server, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from conftest import Person, fixture_bytes


def _upload(base: str, person: Person, name: str, approver: Person) -> None:
    """Upload as `person`; `approver`, an administrator (the process is new), publishes the draft."""
    r = requests.post(f"{base}/api/processes", data=fixture_bytes(name),
                      headers={**person.headers, "Content-Type": "application/xml"}, timeout=30)
    assert r.status_code == 201, r.text
    for proc in r.json()["processes"]:
        a = requests.post(f"{base}/api/processes/{proc['key']}/versions/{proc['version']}/approve", json={},
                          headers=approver.headers, timeout=30)
        assert a.status_code == 200, a.text


def _start(base: str, person: Person, key: str) -> dict[str, Any]:
    r = requests.post(f"{base}/api/processes/{key}/cases", json={}, headers=person.headers, timeout=30)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _together(calls: list[Any]) -> list[requests.Response]:
    """Run the calls at the same instant (a barrier releases all threads together)."""
    barrier = threading.Barrier(len(calls))

    def go(call: Any) -> requests.Response:
        barrier.wait()
        return call()  # type: ignore[no-any-return]

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


def test_two_completions_of_one_task_one_wins(live_server: str, people: dict[str, Person]) -> None:
    base, hanna, hugo = live_server, people["hanna"], people["hugo"]
    _upload(base, people["designer"], "seq3.bpmn", people["admin"])
    for _ in range(5):
        case = _start(base, hanna, "seq3")
        tid = case["open_tasks"][0]["id"]
        results = _together([
            lambda p=p, n=n, tid=tid: requests.post(f"{base}/api/tasks/{tid}/complete",
                                                    json={"data": {"beskrivning": n}}, headers=p.headers, timeout=30)
            for p, n in ((hanna, "hanna"), (hugo, "hugo"))
        ])
        codes = sorted(r.status_code for r in results)
        assert codes == [200, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409)
        assert loser.headers["Content-Type"] == "application/problem+json"
        winner = next(r for r in results if r.status_code == 200).json()
        full = requests.get(f"{base}/api/cases/{case['id']}", headers=hanna.headers, timeout=30).json()
        assert full["data"]["beskrivning"] == winner["task"]["completed_by"]
        assert [t["name"] for t in full["open_tasks"]] == ["Steg två"]
        assert [e["type"] for e in full["history"]].count("task_completed") == 1
        assert full["history_intact"]


def test_two_claims_one_wins(live_server: str, people: dict[str, Person]) -> None:
    base, hanna, hugo = live_server, people["hanna"], people["hugo"]
    _upload(base, people["designer"], "seq3.bpmn", people["admin"])
    case = _start(base, hanna, "seq3")
    tid = case["open_tasks"][0]["id"]
    results = _together([
        lambda p=p: requests.post(f"{base}/api/tasks/{tid}/claim", headers=p.headers, timeout=30)
        for p in (hanna, hugo)
    ])
    assert sorted(r.status_code for r in results) == [200, 409]
    winner = next(r for r in results if r.status_code == 200).json()["assignee"]
    task = requests.get(f"{base}/api/tasks/{tid}", headers=hanna.headers, timeout=30).json()
    assert task["assignee"] == winner


def test_parallel_branches_completed_at_once_lose_nothing(live_server: str, people: dict[str, Person]) -> None:
    """Two different tasks of one case completed at the same instant are applied one after the other."""
    base, hanna, greta = live_server, people["hanna"], people["greta"]
    _upload(base, people["designer"], "parallel.bpmn", people["admin"])
    for _ in range(5):
        case = _start(base, hanna, "parallell")
        by_name = {t["name"]: t["id"] for t in case["open_tasks"]}
        assert set(by_name) == {"Utred", "Yttra"}
        results = _together([
            lambda ids=by_name: requests.post(f"{base}/api/tasks/{ids['Utred']}/complete",
                                              json={"data": {"utredning": "klar"}}, headers=hanna.headers, timeout=30),
            lambda ids=by_name: requests.post(f"{base}/api/tasks/{ids['Yttra']}/complete",
                                              json={"data": {"yttrande": "positivt"}}, headers=greta.headers,
                                              timeout=30),
        ])
        assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
        full = requests.get(f"{base}/api/cases/{case['id']}", headers=hanna.headers, timeout=30).json()
        assert [t["name"] for t in full["open_tasks"]] == ["Besluta"]
        assert full["data"]["utredning"] == "klar" and full["data"]["yttrande"] == "positivt"
        assert full["history_intact"]


def test_many_clients_many_cases(live_server: str, people: dict[str, Person]) -> None:
    """Eight clients driving their own cases at once: every case ends, every step is recorded."""
    base, hanna = live_server, people["hanna"]
    _upload(base, people["designer"], "seq3.bpmn", people["admin"])

    def drive(_: int) -> str:
        session = requests.Session()
        case = session.post(f"{base}/api/processes/seq3/cases", json={}, headers=hanna.headers, timeout=30).json()
        open_tasks = case["open_tasks"]
        while open_tasks:
            r = session.post(f"{base}/api/tasks/{open_tasks[0]['id']}/complete", json={"data": {"antal": 1}},
                             headers=hanna.headers, timeout=30)
            assert r.status_code == 200, r.text
            open_tasks = r.json()["case"]["open_tasks"]
        return str(case["id"])

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(drive, range(24)))
    for cid in ids:
        full = requests.get(f"{base}/api/cases/{cid}", headers=hanna.headers, timeout=30).json()
        assert full["status"] == "completed"
        assert [e["type"] for e in full["history"]].count("task_completed") == 3
