"""Who may do what: every API operation, called as each kind of user, allows exactly its set.

Kinds: a case handler of the case's unit, a handler of the same role in another unit (the IDOR
probe), the unit's manager, a process designer, the process owner, an auditor, an admin, a
stranger with no roles, and no one at all (no token). "Allowed" means authorization let the call
through (2xx, or 409/422 for the state or content of the request); refused means 401/403 (or 404
for someone else's notification).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import FIXTURES, fixture_bytes
from test_authority import ITEMS

from engine import cases, delegation, identity, notifications, org, processes
from engine.core import Engine
from engine.identity import SYSTEM

KINDS = ["handler", "other_unit", "manager", "designer", "owner", "auditor", "admin", "stranger", "anonymous"]
EVERYONE = set(KINDS) - {"anonymous"}
WORKERS = {"handler", "admin"}
SEERS = {"handler", "manager", "auditor", "admin"}
ACTORS_ON_CASE = {"handler", "manager", "admin"}


@dataclass
class World:
    engine: Engine
    client: Any
    tokens: dict[str, str]

    def fresh_case(self) -> dict[str, Any]:
        return cases.start_case(self.engine, SYSTEM, "bygglov_test", {"area": 100}, None, org_unit="bygglov")

    def call(self, kind: str, method: str, path: str, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if kind != "anonymous":
            headers["Authorization"] = f"Bearer {self.tokens[kind]}"
        return self.client.open(path, method=method, headers=headers, **kw)


@pytest.fixture
def world(engine: Engine, client: Any) -> World:
    org.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    people = {
        "handler": ("bea", None), "other_unit": ("mia", None), "manager": ("bert", None),
        "designer": ("dan", ["designer"]), "owner": ("ola", ["Processägare"]), "auditor": ("rut", None),
        "admin": ("alice", ["admin"]), "stranger": ("sam", []),
    }
    tokens = {}
    for kind, (name, roles) in people.items():
        if roles is not None:
            identity.add_user(engine, name, roles)
        tokens[kind] = identity.issue_token(engine, name)
    identity.add_user(engine, "adam", ["admin"])
    delegation.import_items(engine, identity.get_actor(engine, "alice"), identity.get_actor(engine, "adam"), ITEMS)
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    return World(engine, client, tokens)


def _task(w: World) -> str:
    return str(w.fresh_case()["open_tasks"][0]["id"])


def _draft(w: World) -> str:
    marker = uuid.uuid4().hex.encode()
    changed = fixture_bytes("bygglov_test.bpmn").replace(b"Expediera beslutet", b"Expediera beslutet " + marker)
    [draft] = processes.deploy(w.engine, identity.get_actor(w.engine, "dan"), changed)
    return f"/api/processes/bygglov_test/versions/{draft.version}/approve"


def _notification(w: World) -> str:
    with w.engine.db.write() as s:
        notifications.notify(s.connection(), w.engine.clock.now(), ["bea"], kind="test", subject="Hej", body="x",
                             dedupe=f"matrix:{id(s)}")
    return f"/api/notifications/{notifications.list_for(w.engine, identity.get_actor(w.engine, 'bea'))['items'][0]['id']}/read"


def _item(w: World) -> str:
    draft = delegation.propose(w.engine, identity.get_actor(w.engine, "adam"), {**ITEMS[0], "title": "Ändrad"})
    return f"/api/delegation/items/{draft['id']}/approve"


XML = {"Content-Type": "application/xml"}
# (operation, allowed kinds, how to call it: (world) -> (method, path, kwargs))
Op = tuple[str, set[str], Callable[[World], tuple[str, str, dict[str, Any]]]]
OPERATIONS: list[Op] = [
    ("GET /api/health", set(KINDS), lambda w: ("GET", "/api/health", {})),
    ("GET /api/openapi.json", set(KINDS), lambda w: ("GET", "/api/openapi.json", {})),
    ("GET /api/me", EVERYONE, lambda w: ("GET", "/api/me", {})),
    ("GET /api/processes", EVERYONE, lambda w: ("GET", "/api/processes", {})),
    ("POST /api/processes", {"designer", "admin"},
     lambda w: ("POST", "/api/processes", {"data": fixture_bytes("seq3.bpmn"), "headers": dict(XML)})),
    ("GET /api/processes/{key}", EVERYONE, lambda w: ("GET", "/api/processes/bygglov_test", {})),
    ("GET /api/processes/{key}/versions/{number}/bpmn", EVERYONE,
     lambda w: ("GET", "/api/processes/bygglov_test/versions/1/bpmn", {})),
    ("POST /api/processes/{key}/versions/{number}/approve", {"owner", "admin"},
     lambda w: ("POST", _draft(w), {})),
    ("GET /api/processes/{key}/policy", EVERYONE, lambda w: ("GET", "/api/processes/bygglov_test/policy", {})),
    ("PUT /api/processes/{key}/policy", {"owner", "admin"},
     lambda w: ("PUT", "/api/processes/bygglov_test/policy", {"json": {"tasks": {"granska": {"due": "3WD"}}}})),
    ("POST /api/processes/{key}/cases", EVERYONE,
     lambda w: ("POST", "/api/processes/bygglov_test/cases", {"json": {"data": {"area": 1}, "org_unit": "bygglov"}})),
    ("GET /api/cases", EVERYONE, lambda w: ("GET", "/api/cases", {})),
    ("GET /api/cases/{case_id}", SEERS, lambda w: ("GET", f"/api/cases/{w.fresh_case()['id']}", {})),
    ("POST /api/cases/{case_id}/retry", ACTORS_ON_CASE,
     lambda w: ("POST", f"/api/cases/{w.fresh_case()['id']}/retry", {"json": {}})),
    ("POST /api/cases/{case_id}/comments", ACTORS_ON_CASE,
     lambda w: ("POST", f"/api/cases/{w.fresh_case()['id']}/comments", {"json": {"text": "Hej"}})),
    ("POST /api/cases/{case_id}/messages/{name}", ACTORS_ON_CASE,
     lambda w: ("POST", f"/api/cases/{w.fresh_case()['id']}/messages/svar", {"json": {}})),
    # Someone who may not act on the case is told no such case exists (404), not that it is busy.
    ("POST /api/messages/{name}", ACTORS_ON_CASE, lambda w: (
        "POST", "/api/messages/svar",
        {"json": {"business_key": cases.start_case(w.engine, SYSTEM, "bygglov_test", {"area": 1},
                                                    f"BK-{uuid.uuid4().hex}", org_unit="bygglov")["business_key"]}})),
    ("GET /api/tasks", EVERYONE, lambda w: ("GET", "/api/tasks", {})),
    ("GET /api/tasks/{task_id}", SEERS, lambda w: ("GET", f"/api/tasks/{_task(w)}", {})),
    ("PATCH /api/tasks/{task_id}", {"manager", "admin"},
     lambda w: ("PATCH", f"/api/tasks/{_task(w)}", {"json": {"priority": 70}})),
    ("POST /api/tasks/{task_id}/claim", WORKERS, lambda w: ("POST", f"/api/tasks/{_task(w)}/claim", {})),
    ("POST /api/tasks/{task_id}/unclaim", WORKERS, lambda w: ("POST", f"/api/tasks/{_task(w)}/unclaim", {})),
    ("POST /api/tasks/{task_id}/complete", WORKERS,
     lambda w: ("POST", f"/api/tasks/{_task(w)}/complete", {"json": {"data": {}}})),
    ("POST /api/tasks/{task_id}/assign", {"manager", "admin"},
     lambda w: ("POST", f"/api/tasks/{_task(w)}/assign", {"json": {"user": "bo"}})),
    ("POST /api/tasks/{task_id}/handover", {"admin"},
     lambda w: ("POST", f"/api/tasks/{_task(w)}/handover", {"json": {"user": "bo"}})),
    ("POST /api/tasks/{task_id}/comments", {"handler", "manager", "admin"},
     lambda w: ("POST", f"/api/tasks/{_task(w)}/comments", {"json": {"text": "Hej"}})),
    ("POST /api/tasks/{task_id}/conflict-of-interest", {"handler", "manager", "admin"},
     lambda w: ("POST", f"/api/tasks/{_task(w)}/conflict-of-interest", {"json": {}})),
    ("GET /api/notifications", EVERYONE, lambda w: ("GET", "/api/notifications", {})),
    ("POST /api/notifications/{notification_id}/read", {"handler"}, lambda w: ("POST", _notification(w), {})),
    ("GET /api/org", {"auditor", "admin"}, lambda w: ("GET", "/api/org", {})),
    ("PUT /api/org", {"admin"}, lambda w: ("PUT", "/api/org", {"json": {"aliases": []}})),
    ("GET /api/org/units", EVERYONE, lambda w: ("GET", "/api/org/units", {})),
    ("GET /api/org/units/{unit_id}", EVERYONE, lambda w: ("GET", "/api/org/units/bygglov", {})),
    ("POST /api/absences", {"handler", "manager", "admin"}, lambda w: (
        "POST", "/api/absences", {"json": {"user": "bea", "from": "2026-07-01T00:00:00Z", "to": "2026-07-02T00:00:00Z"}})),
    ("GET /api/delegation/items", EVERYONE, lambda w: ("GET", "/api/delegation/items", {})),
    ("POST /api/delegation/items", {"admin"}, lambda w: ("POST", "/api/delegation/items", {"json": ITEMS[1]})),
    ("POST /api/delegation/items/{item_id}/approve", {"admin"}, lambda w: ("POST", _item(w), {})),
    ("GET /api/delegation/decisions", {"manager", "auditor", "admin"},
     lambda w: ("GET", "/api/delegation/decisions", {})),
]


def test_matrix_covers_every_documented_operation(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    documented = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops}
    assert {name for name, _, _ in OPERATIONS} == documented


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("operation", OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_each_operation_allows_exactly_its_users(world: World, operation: Op) -> None:
    name, allowed, build = operation
    outcome = {}
    for kind in KINDS:
        method, path, kwargs = build(world)
        r = world.call(kind, method, path, **kwargs)
        assert r.status_code != 500, (name, kind, r.get_data(as_text=True))
        outcome[kind] = r.status_code < 400 or r.status_code in (409, 422)
        if not outcome[kind]:
            assert r.status_code in (401, 403, 404), (name, kind, r.status_code, r.get_json())
            assert r.headers["Content-Type"] == "application/problem+json"
    assert {k for k, ok in outcome.items() if ok} == allowed, (name, outcome)
