"""What handlers and managers do with tasks besides completing them, through HTTP: assign,
hand over, comment on a task and a case, change priority and dates. Each is an audit event
saying who did it, under which role, and when."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import FIXTURES, fixture_bytes

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, inbox, org_data, tasks


@pytest.fixture
def town(engine: Engine) -> dict[str, dict[str, str]]:
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    identity.add_user(engine, "alice", ["admin"])
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    return {n: {"Authorization": f"Bearer {identity.issue_token(engine, n)}"}
            for n in ["bea", "bo", "bert", "fia", "kim", "mia", "rut", "alice"]}


def _case(engine: Engine) -> dict[str, Any]:
    return cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-OP", org_unit="bygglov")


def _last(engine: Engine, case_id: str, kind: str) -> dict[str, Any]:
    events = [e for e in cases.get_case(engine, SYSTEM, case_id)["history"] if e["type"] == kind]
    assert events, kind
    return events[-1]


def _who(event: dict[str, Any]) -> tuple[str, str | None, str]:
    return event["actor"], event["role"], event["at"]


def test_a_manager_assigns_and_the_assignee_hands_over(engine: Engine, client: Any, town: dict[str, Any],
                                                       clock: ManualClock) -> None:
    case = _case(engine)
    task = case["open_tasks"][0]["id"]
    # a handler of the unit may not assign, a manager of another unit may not; an unknown person is no one
    assert client.post(f"/api/tasks/{task}/assign", json={"user": "bo"}, headers=town["bea"]).status_code == 403
    assert client.post(f"/api/tasks/{task}/assign", json={"user": "bo"}, headers=town["kim"]).status_code == 403
    assert client.post(f"/api/tasks/{task}/assign", json={"user": "kim"}, headers=town["bert"]).status_code == 422
    assert client.post(f"/api/tasks/{task}/assign", json={"user": "nobody"}, headers=town["bert"]).status_code == 404
    clock.advance(timedelta(minutes=5))
    r = client.post(f"/api/tasks/{task}/assign", json={"user": "bo"}, headers=town["bert"])
    assert r.status_code == 200 and r.get_json()["assignee"] == "bo"
    assigned = _last(engine, case["id"], "task_assigned")
    assert _who(assigned) == ("bert", "Bygglovschef", clock.now().isoformat())
    assert (assigned["data"]["from"], assigned["data"]["to"]) == (None, "bo")
    # the förvaltningschef, manager of the unit above, may too: under that role
    r = client.post(f"/api/tasks/{task}/assign", json={"user": "bea"}, headers=town["fia"])
    assert r.status_code == 200
    assert _who(_last(engine, case["id"], "task_assigned"))[:2] == ("fia", "Förvaltningschef")

    # only the one who has it hands it over, and only to another holder of its role
    assert client.post(f"/api/tasks/{task}/handover", json={"user": "bea"}, headers=town["bo"]).status_code == 403
    assert client.post(f"/api/tasks/{task}/handover", json={"user": "mia"}, headers=town["bea"]).status_code == 422
    clock.advance(timedelta(minutes=5))
    r = client.post(f"/api/tasks/{task}/handover", json={"user": "bo"}, headers=town["bea"])
    assert r.status_code == 200 and r.get_json()["assignee"] == "bo"
    handed = _last(engine, case["id"], "task_handed_over")
    assert _who(handed) == ("bea", "Bygglovshandläggare", clock.now().isoformat())
    assert (handed["data"]["from"], handed["data"]["to"]) == ("bea", "bo")


def test_comments_on_a_task_and_a_case(engine: Engine, client: Any, town: dict[str, Any],
                                       clock: ManualClock) -> None:
    case = _case(engine)
    task = case["open_tasks"][0]["id"]
    r = client.post(f"/api/tasks/{task}/comments", json={"text": "  Ritningen saknas  "}, headers=town["bea"])
    assert r.status_code == 201 and r.get_json()["text"] == "Ritningen saknas"
    comment = _last(engine, case["id"], "comment")
    assert _who(comment) == ("bea", "Bygglovshandläggare", clock.now().isoformat())
    assert comment["task_id"] == task and comment["data"]["text"] == "Ritningen saknas"
    clock.advance(timedelta(hours=1))
    r = client.post(f"/api/tasks/{task}/comments", json={"text": "Begär komplettering"}, headers=town["bert"])
    assert r.status_code == 201
    assert _who(_last(engine, case["id"], "comment")) == ("bert", "Bygglovschef", clock.now().isoformat())
    for bad in ({"text": ""}, {"text": "x" * 10_001}, {"text": 5}):
        assert client.post(f"/api/tasks/{task}/comments", json=bad, headers=town["bea"]).status_code == 422
    for outsider in ("kim", "mia", "rut"):  # another unit's manager and handler; the auditor only reads
        assert client.post(f"/api/tasks/{task}/comments", json={"text": "Hej"},
                           headers=town[outsider]).status_code == 403

    # on the case as a whole: the role one has in it
    clock.advance(timedelta(hours=1))
    r = client.post(f"/api/cases/{case['id']}/comments", json={"text": "Sökanden har ringt"}, headers=town["bo"])
    assert r.status_code == 201 and r.get_json()["task_id"] is None
    on_case = _last(engine, case["id"], "comment")
    assert _who(on_case) == ("bo", "Bygglovshandläggare", clock.now().isoformat()) and on_case["task_id"] is None
    client.post(f"/api/cases/{case['id']}/comments", json={"text": "Noterat"}, headers=town["fia"])
    assert _who(_last(engine, case["id"], "comment"))[:2] == ("fia", "Förvaltningschef")
    client.post(f"/api/cases/{case['id']}/comments", json={"text": "Rättat"}, headers=town["alice"])
    assert _who(_last(engine, case["id"], "comment"))[:2] == ("alice", "admin")
    assert client.post(f"/api/cases/{case['id']}/comments", json={"text": "Hej"},
                       headers=town["kim"]).status_code == 403
    assert cases.get_case(engine, SYSTEM, case["id"])["history_intact"] is True


def test_priority_and_dates_are_changed_by_the_holder_or_the_manager(engine: Engine, client: Any,
                                                                    town: dict[str, Any], clock: ManualClock) -> None:
    case = _case(engine)
    task = case["open_tasks"][0]["id"]
    before = tasks.get_task(engine, SYSTEM, task)
    # a candidate who has not taken it may not; nor another unit's manager
    assert client.patch(f"/api/tasks/{task}", json={"priority": 90}, headers=town["bea"]).status_code == 403
    assert client.patch(f"/api/tasks/{task}", json={"priority": 90}, headers=town["kim"]).status_code == 403
    client.post(f"/api/tasks/{task}/claim", headers=town["bea"])
    follow_up = (clock.now() + timedelta(days=2)).isoformat()
    r = client.patch(f"/api/tasks/{task}", json={"priority": 90, "follow_up": follow_up}, headers=town["bea"])
    assert r.status_code == 200 and (r.get_json()["priority"], r.get_json()["follow_up"]) == (90, follow_up)
    updated = _last(engine, case["id"], "task_updated")
    assert _who(updated) == ("bea", "Bygglovshandläggare", clock.now().isoformat())
    assert updated["data"]["before"] == {"priority": 50, "due": before["due"], "follow_up": None}
    assert updated["data"]["after"] == {"priority": 90, "due": before["due"], "follow_up": follow_up}
    clock.advance(timedelta(minutes=1))
    r = client.patch(f"/api/tasks/{task}", json={"priority": 10, "follow_up": None}, headers=town["bert"])
    assert r.status_code == 200 and r.get_json()["follow_up"] is None
    assert _who(_last(engine, case["id"], "task_updated")) == ("bert", "Bygglovschef", clock.now().isoformat())
    for bad in ({"priority": 101}, {"priority": True}, {"follow_up": "i morgon"}, {"owner": "bo"}):
        assert client.patch(f"/api/tasks/{task}", json=bad, headers=town["bea"]).status_code == 422


def test_separation_of_duties_holds_when_both_steps_are_open_at_once(engine: Engine, town: dict[str, Any]) -> None:
    from engine.base.errors import Forbidden

    processes.deploy(engine, SYSTEM, fixture_bytes("sod_parallel.bpmn"))
    case = cases.start_case(engine, SYSTEM, "sod_par", {}, "UT-1", org_unit="bygglov")
    ids = {t["element_id"]: t["id"] for t in case["open_tasks"]}
    bea, bo = identity.get_actor(engine, "bea"), identity.get_actor(engine, "bo")
    # the attesting step first, then the one it must be kept apart from: refused the other way round too
    tasks.complete(engine, bea, ids["attest"], {})
    with pytest.raises(Forbidden, match="Attestera utbetalning"):
        tasks.claim(engine, bea, ids["bered"])
    with pytest.raises(Forbidden, match="åtskillnad"):
        tasks.complete(engine, bea, ids["bered"], {})
    assert tasks.complete(engine, bo, ids["bered"], {})["case"]["status"] == "completed"


def test_the_inbox_counts_match_the_filters_and_a_role_filters_by_the_name_a_task_shows(
        engine: Engine, town: dict[str, Any]) -> None:
    for i in range(3):
        cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, f"BN-C{i}", org_unit="bygglov")
    for name in ("bert", "fia", "bea"):  # managers of the unit (no candidates of its tasks), and a handler
        actor = identity.get_actor(engine, name)
        counts = inbox.list_tasks(engine, actor)["counts"]
        assert counts["unclaimed"] == inbox.list_tasks(engine, actor, candidate="me")["total"], name
        assert counts["mine"] == inbox.list_tasks(engine, actor, assignee="me")["total"], name
    bea = identity.get_actor(engine, "bea")
    shown = inbox.list_tasks(engine, bea)["items"][0]["role"]
    assert shown == "Handläggare bygglov"  # the lane's name, an alias of the role
    for name in (shown, "handläggare bygglov", "Bygglovshandläggare"):
        assert inbox.list_tasks(engine, bea, role=name)["total"] == 3, name


def test_a_user_or_text_that_is_not_text_is_a_422(engine: Engine, client: Any, town: dict[str, Any]) -> None:
    task = _case(engine)["open_tasks"][0]["id"]
    for path, body in ((f"/api/tasks/{task}/assign", {"user": ["bea"]}),
                       (f"/api/tasks/{task}/handover", {"user": {"name": "bo"}}),
                       (f"/api/tasks/{task}/comments", {"text": 5})):
        r = client.post(path, json=body, headers=town["bert"])
        assert r.status_code == 422 and "ska vara text" in r.get_json()["detail"], (path, r.get_json())


def test_a_task_says_what_each_viewer_may_do_and_the_pages_offer_only_that(
        engine: Engine, client: Any, town: dict[str, Any]) -> None:
    import re

    from webapp import create_app

    task = _case(engine)["open_tasks"][0]["id"]

    def actions(name: str) -> dict[str, bool]:
        return client.get(f"/api/tasks/{task}", headers=town[name]).get_json()["actions"]

    assert actions("bea") == {"claim": True, "unclaim": False, "complete": True, "assign": False, "comment": True}
    assert actions("bert") == {"claim": False, "unclaim": False, "complete": False, "assign": True, "comment": True}
    assert actions("rut") == {"claim": False, "unclaim": False, "complete": False, "assign": False, "comment": False}

    password = "ett-långt-lösenord-1"
    for name in ("rut", "bert"):
        identity.set_password(engine, name, password)
    pages = create_app(engine).test_client()

    def sign_in(name: str) -> None:
        pages.get("/logout")
        token = re.search(r'name="csrf" value="([^"]+)"', pages.get("/login").get_data(as_text=True)).group(1)
        assert pages.post("/login", data={"csrf": token, "name": name, "password": password}).status_code == 302

    sign_in("rut")  # the auditor reads: no buttons that would only fail
    page = pages.get(f"/tasks/{task}").get_data(as_text=True)
    assert "Ta uppgiften" not in page and "Slutför" not in page and "Kommentera" not in page and "Tilldela" not in page
    sign_in("bert")  # the unit's manager: may assign it, from the page
    page = pages.get(f"/tasks/{task}").get_data(as_text=True)
    assert "Ta uppgiften" not in page and "Tilldela" in page
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    assigned = pages.post(f"/tasks/{task}/assign", data={"csrf": csrf, "user": "bo"})
    assert assigned.status_code == 302 and tasks.get_task(engine, SYSTEM, task)["assignee"] == "bo"
    refused = pages.post(f"/tasks/{task}/assign", data={"csrf": csrf, "user": "kim"})
    assert refused.status_code == 422 and "har inte rollen" in refused.get_data(as_text=True)
    inbox = pages.get("/?visa=unit").get_data(as_text=True)
    assert 'data-view="unit"' in inbox and "BN-OP" in inbox
