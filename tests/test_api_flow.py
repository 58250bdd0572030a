"""The spine through HTTP: upload, start, route, claim, complete, decide, finish."""

from __future__ import annotations

from typing import Any

from conftest import Person, deploy, publish

from engine.authority import identity
from engine.core import Engine
from engine.service import org_data


def start(client: Any, person: Person, key: str, data: dict[str, Any] | None = None,
          business_key: str | None = None, org_unit: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"data": data or {}}
    if business_key:
        body["business_key"] = business_key
    if org_unit:
        body["org_unit"] = org_unit
    r = client.post(f"/api/processes/{key}/cases", json=body, headers=person.headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def test_upload_start_route_complete_until_end(client: Any, people: dict[str, Person]) -> None:
    r = publish(client, people, "review.bpmn")
    assert r.status_code == 201
    body = r.get_json()
    assert body["key"] == "granskning" and body["version"] == 1
    assert any(d["code"] == "human-decision" and d["element_id"] == "g1" for d in body["diagnostics"])

    case = start(client, people["hanna"], "granskning", {"belopp": 100}, "AVV-2026-1")
    assert case["status"] == "active" and case["version"] == 1
    [task] = case["open_tasks"]
    assert task["name"] == "Granska" and task["role"] == "granskare"

    # hanna holds Handläggare, not granskare: she may not act on it
    assert client.post(f"/api/tasks/{task['id']}/complete", json={}, headers=people["hanna"].headers).status_code == 403
    listed = client.get("/api/tasks", headers=people["greta"].headers).get_json()
    assert [t["id"] for t in listed["items"]] == [task["id"]]
    assert client.get("/api/tasks", headers=people["hanna"].headers).get_json()["items"] == []

    r = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"kommentar": "ser bra ut"}},
                    headers=people["greta"].headers)
    assert r.status_code == 200, r.get_json()
    [decision] = r.get_json()["case"]["open_tasks"]
    assert decision["kind"] == "decision" and decision["name"] == "Godkänd?"
    assert decision["role"] == "Handläggare"
    assert [o["name"] for o in decision["options"]] == ["Ja", "Nej"]

    # hugo holds "handläggare" (other case): role names match case-insensitively
    r = client.post(f"/api/tasks/{decision['id']}/complete", json={"choice": "Ja"}, headers=people["hugo"].headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["case"]["status"] == "completed"

    full = client.get(f"/api/cases/{case['id']}", headers=people["hanna"].headers).get_json()
    assert full["status"] == "completed"
    assert full["data"]["kommentar"] == "ser bra ut" and full["data"]["belopp"] == 100
    types = [e["type"] for e in full["history"]]
    assert types == ["case_started", "task_created", "task_completed", "task_created", "task_completed",
                     "case_completed"]
    completed = [e for e in full["history"] if e["type"] == "task_completed"]
    assert completed[0]["actor"] == "greta" and completed[0]["role"] == "granskare"
    assert completed[0]["data"]["data"] == {"kommentar": "ser bra ut"}
    assert completed[1]["actor"] == "hugo" and completed[1]["data"]["choice_name"] == "Ja"
    assert full["history_intact"] is True


def test_decision_loops_back_and_choice_by_id(client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "review.bpmn")
    case = start(client, people["hanna"], "granskning")
    greta, hanna = people["greta"], people["hanna"]
    task = case["open_tasks"][0]
    r = client.post(f"/api/tasks/{task['id']}/complete", json={}, headers=greta.headers).get_json()
    decision = r["case"]["open_tasks"][0]
    bad = client.post(f"/api/tasks/{decision['id']}/complete", json={"choice": "Kanske"}, headers=hanna.headers)
    assert bad.status_code == 422
    assert {o["name"] for o in bad.get_json()["options"]} == {"Ja", "Nej"}
    missing = client.post(f"/api/tasks/{decision['id']}/complete", json={}, headers=hanna.headers)
    assert missing.status_code == 422
    r = client.post(f"/api/tasks/{decision['id']}/complete", json={"choice": "f4"}, headers=hanna.headers).get_json()
    assert [t["name"] for t in r["case"]["open_tasks"]] == ["Komplettera"]
    r = client.post(f"/api/tasks/{r['case']['open_tasks'][0]['id']}/complete", json={}, headers=hanna.headers)
    assert [t["name"] for t in r.get_json()["case"]["open_tasks"]] == ["Granska"]


def test_claim_unclaim_and_conflicts(client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "seq3.bpmn")
    case = start(client, people["hanna"], "seq3")
    tid = case["open_tasks"][0]["id"]
    hanna, hugo, stina = people["hanna"], people["hugo"], people["stina"]

    r = client.post(f"/api/tasks/{tid}/claim", headers=hanna.headers)
    assert r.status_code == 200 and r.get_json()["assignee"] == "hanna"
    assert client.post(f"/api/tasks/{tid}/claim", headers=hanna.headers).status_code == 200  # idempotent
    r = client.post(f"/api/tasks/{tid}/claim", headers=hugo.headers)
    assert r.status_code == 409 and r.get_json()["assignee"] == "hanna"
    assert r.headers["Content-Type"] == "application/problem+json"
    assert client.post(f"/api/tasks/{tid}/complete", json={}, headers=hugo.headers).status_code == 409
    assert client.post(f"/api/tasks/{tid}/unclaim", headers=hugo.headers).status_code == 403
    assert client.post(f"/api/tasks/{tid}/claim", headers=stina.headers).status_code == 403

    mine = client.get("/api/tasks?assignee=me", headers=hanna.headers).get_json()
    assert [t["id"] for t in mine["items"]] == [tid] and mine["counts"]["mine"] == 1
    assert client.get("/api/tasks?candidate=me", headers=hugo.headers).get_json()["items"] == []

    assert client.post(f"/api/tasks/{tid}/unclaim", headers=hanna.headers).get_json()["assignee"] is None
    assert [t["id"] for t in client.get("/api/tasks?candidate=me", headers=hugo.headers).get_json()["items"]] == [tid]

    r = client.post(f"/api/tasks/{tid}/complete", json={"data": {"antal": 1}}, headers=hugo.headers)
    assert r.status_code == 200
    again = client.post(f"/api/tasks/{tid}/complete", json={"data": {"antal": 2}}, headers=hugo.headers)
    assert again.status_code == 409
    assert client.post(f"/api/tasks/{tid}/claim", headers=hugo.headers).status_code == 409

    full = client.get(f"/api/cases/{case['id']}", headers=hugo.headers).get_json()
    types = [e["type"] for e in full["history"]]
    assert types[:6] == ["case_started", "task_created", "task_claimed", "task_unclaimed", "task_completed",
                         "task_created"]
    assert full["data"]["antal"] == 1


def test_errors_are_problem_details(client: Any, people: dict[str, Person]) -> None:
    hanna = people["hanna"]
    assert client.get("/api/tasks").status_code == 401
    r = client.get("/api/tasks", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.get_json()["type"].endswith("unauthorized")
    assert client.get("/api/cases/does-not-exist", headers=hanna.headers).status_code == 404
    assert client.get("/api/tasks/does-not-exist", headers=hanna.headers).status_code == 404
    assert client.post("/api/processes/nope/cases", json={}, headers=hanna.headers).status_code == 404
    publish(client, people, "seq3.bpmn")
    r = client.post("/api/processes/seq3/cases", data="{not json", headers={**hanna.headers,
                                                                            "Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/problem+json"
    assert "Traceback" not in r.get_data(as_text=True)
    r = client.post("/api/processes/seq3/cases", json=[1, 2], headers=hanna.headers)
    assert r.status_code == 400
    r = client.post("/api/processes/seq3/cases", json={"data": "text"}, headers=hanna.headers)
    assert r.status_code == 422
    case = start(client, hanna, "seq3")
    tid = case["open_tasks"][0]["id"]
    r = client.post(f"/api/tasks/{tid}/complete", data="nope", headers={**hanna.headers,
                                                                        "Content-Type": "application/json"})
    assert r.status_code == 400
    assert client.get("/api/tasks?sort=bogus", headers=hanna.headers).status_code == 422
    assert client.get("/api/tasks?limit=abc", headers=hanna.headers).status_code == 422
    assert client.delete("/api/tasks", headers=hanna.headers).status_code == 405
    assert client.get("/api/nothing-here", headers=hanna.headers).status_code == 404


def test_only_designers_upload(client: Any, people: dict[str, Person], engine: Engine) -> None:
    assert deploy(client, people["hanna"], "seq3.bpmn").status_code == 403
    # an administrator uploads too; another administrator approves the new process (four eyes)
    identity.add_user(engine, "admin2", ["admin"])
    people["admin2"] = Person("admin2", identity.issue_token(engine, "admin2"), identity.get_actor(engine, "admin2"))
    assert publish(client, people, "seq3.bpmn", uploader="admin", approver="admin2").status_code == 201
    assert client.get("/api/processes", headers=people["hanna"].headers).get_json()["items"][0]["key"] == "seq3"


def test_case_visibility(client: Any, people: dict[str, Person], engine: Engine) -> None:
    publish(client, people, "seq3.bpmn")
    case = start(client, people["hanna"], "seq3")
    assert client.get(f"/api/cases/{case['id']}", headers=people["stina"].headers).status_code == 403
    assert client.get(f"/api/cases/{case['id']}", headers=people["hugo"].headers).status_code == 200
    assert client.get(f"/api/cases/{case['id']}", headers=people["admin"].headers).status_code == 200
    # stina holds no role at all: she is told so, and shown nothing (issue 16)
    refused = client.get("/api/cases", headers=people["stina"].headers)
    assert refused.status_code == 403 and refused.get_json()["detail"] == identity.NO_ROLE
    assert client.get("/api/cases", headers=people["hugo"].headers).get_json()["total"] == 1
    # stina handles cases in another unit: she starts her own there, and sees it, not hanna's
    org_data.import_data(engine, {"units": [{"id": "norr", "name": "Norr"}],
                             "people": [{"name": "stina", "roles": [{"role": "Handläggare", "unit": "norr"}]}]})
    own = start(client, people["stina"], "seq3", org_unit="norr")
    listed = client.get("/api/cases", headers=people["stina"].headers).get_json()
    assert [c["id"] for c in listed["items"]] == [own["id"]]


def test_health_and_me(client: Any, people: dict[str, Person]) -> None:
    assert client.get("/api/health").get_json()["status"] == "ok"
    me = client.get("/api/me", headers=people["hanna"].headers).get_json()
    assert me["name"] == "hanna" and me["roles"] == ["Handläggare"] and me["designer"] is False
