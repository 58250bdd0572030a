"""Who may do what: every API operation, called as each kind of user, allows exactly its set.

Kinds: a case handler of the case's unit, a handler of the same role in another unit (the IDOR
probe), the unit's manager, a manager of another unit, a committee secretary (nämndsekreterare)
of another committee, a process designer, the process owner, the owner of another process, an
auditor, an admin, a stranger with no roles (who may learn only that), a handler whose account was
deactivated (their token revoked with it), an integration account whose token may only start cases
of one process (the e-service platform), and no one at all (no token). Tasks are probed
unclaimed, claimed by another handler, and as decisions under the ordinance. Each operation says
who gets through (2xx), and for whom the answer is about state or content (409/422), where that
is expected and only there; everyone else is refused with 401/403 (or 404 where even the
thing's existence is not theirs to know).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import FIXTURES, fixture_bytes
from test_authority import ITEMS

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import absence, accounts, delegation, notifications
from engine.service import cases, org_data, tasks

KINDS = ["handler", "other_unit", "manager", "other_manager", "secretary", "designer", "owner", "other_owner",
         "auditor", "admin", "stranger", "deactivated", "integration", "anonymous"]
# Everyone who holds a role and acts with their full standing; who holds none reads only /api/me,
# an integration's token only starts cases (and reads /api/me), a deactivated account nothing.
EVERYONE = set(KINDS) - {"anonymous", "stranger", "deactivated", "integration"}
WORKERS = {"handler", "admin"}
SEERS = {"handler", "manager", "auditor", "admin"}
ACTORS_ON_CASE = {"handler", "manager", "admin"}
DECIDERS = {"handler", "manager"}  # the delegate, and the unit's manager as superior (F.1.5 allows it)
OWNERS = {"owner", "other_owner"}


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


# Another process, owned by another role: its owner is the "owner of another process".
OTHER_PROCESS = fixture_bytes("bygglov_test.bpmn").replace(
    b'id="bygglov_test" name="Bygglov (test)" isExecutable="true">',
    b'id="kvalitet_test" name="Kvalitet (test)" isExecutable="true"><bpmn:extensionElements><camunda:properties>'
    b'<camunda:property name="rutin:owner" value="Kvalitetschef"/></camunda:properties></bpmn:extensionElements>')


@pytest.fixture
def world(engine: Engine, client: Any) -> World:
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    people = {
        "handler": ("bea", None), "other_unit": ("mia", None), "manager": ("bert", None),
        "other_manager": ("emil", None), "secretary": ("ada", None),
        "designer": ("dan", ["designer"]), "owner": ("ola", ["Processägare"]), "other_owner": ("olle", ["Kvalitetschef"]),
        "auditor": ("rut", None), "admin": ("alice", ["admin"]), "stranger": ("sam", []),
    }
    identity.add_user(engine, "emil", ["Enhetschef"], unit="miljo")  # manages Miljöenheten, not Bygglovsenheten
    identity.add_user(engine, "ada", ["Nämndsekreterare"], unit="kansli")  # Kommunstyrelsen's secretary
    tokens = {}
    for kind, (name, roles) in people.items():
        if roles is not None:
            identity.add_user(engine, name, roles)
        tokens[kind] = identity.issue_token(engine, name)
    # a handler of the unit who has left: her token was issued, then her account ended
    identity.add_user(engine, "doris", ["Bygglovshandläggare"], unit="bygglov")
    tokens["deactivated"] = identity.issue_token(engine, "doris")
    accounts.deactivate(engine, SYSTEM, "doris")
    # the e-service platform: a starter role in the unit, a token that starts bygglov_test cases only
    identity.add_user(engine, "etjanst", ["Bygglovshandläggare"], unit="bygglov")
    tokens["integration"] = identity.issue_token(engine, "etjanst", start_only=["bygglov_test"])
    identity.add_user(engine, "adam", ["admin"])
    delegation.import_items(engine, identity.get_actor(engine, "alice"), identity.get_actor(engine, "adam"), ITEMS)
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    processes.deploy(engine, SYSTEM, OTHER_PROCESS)
    # the shipped deviation process, which "Rapportera avvikelse" starts
    processes.deploy(engine, SYSTEM, (FIXTURES.parent.parent / "workflows" / "avvikelsehantering.bpmn").read_bytes())
    return World(engine, client, tokens)


RULE = {"process_key": "bygglov_test", "action": "gallras", "years": 10, "decision_ref": "BN 2025/117",
        "decision_body": "Byggnadsnämnden", "decision_date": "2025-06-10"}


def _rule(w: World) -> str:
    """A retention rule adam (an administrator) proposed: alice may approve or reject it."""
    from engine.retention import rules

    return str(rules.propose(w.engine, identity.get_actor(w.engine, "adam"), RULE)["id"])


def _held(w: World) -> str:
    """A fresh case adam held from culling."""
    from engine.retention import holds

    case_id = str(w.fresh_case()["id"])
    holds.hold(w.engine, identity.get_actor(w.engine, "adam"), case_id, "Överklagat")
    return case_id


def _delivery(w: World) -> str:
    """A package of a case recorded as delivered to the e-archive and not yet confirmed (as an
    export leaves it; what the archive answers is what is probed)."""
    from engine.store.retention_models import ArchiveDelivery

    case_id = str(w.fresh_case()["id"])
    with w.engine.db.write() as s:
        row = ArchiveDelivery(case_id=case_id, package_id=f"rutin-{case_id}", sha256="0" * 64,
                              exported_at=w.engine.clock.now(), exported_by="adam")
        s.add(row)
        s.flush()
        return str(row.id)


def _task(w: World) -> str:
    return str(w.fresh_case()["open_tasks"][0]["id"])


def _claimed(w: World) -> str:
    """A work task another handler of the unit (bo) has taken."""
    task = _task(w)
    tasks.claim(w.engine, identity.get_actor(w.engine, "bo"), task)
    return task


def _decision(w: World, *, claimed: bool = False) -> str:
    """The decision (Beslut om lov, item F.1.5) of a fresh case, prepared by bo; taken by him if `claimed`."""
    bo = identity.get_actor(w.engine, "bo")
    done = tasks.complete(w.engine, bo, _task(w), {})
    task = str(done["case"]["open_tasks"][0]["id"])
    if claimed:
        tasks.claim(w.engine, bo, task)
    return task


def _absence(w: World) -> str:
    """An absence of bea's that has not begun."""
    created = absence.register(w.engine, SYSTEM, "bea", datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 7, 2, tzinfo=UTC))
    return f"/api/absences/{created['id']}"


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


def _account(w: World, *, ended: bool = False) -> str:
    """A fresh account (deactivated if `ended`) for an operation to end or reopen."""
    name = f"p{uuid.uuid4().hex[:10]}"
    identity.add_user(w.engine, name, ["Bygglovshandläggare"], unit="bygglov")
    if ended:
        accounts.deactivate(w.engine, SYSTEM, name)
    return name


def _bea_token(w: World) -> str:
    """A live token of bea's (the handler), other than the one she calls with."""
    identity.issue_token(w.engine, "bea", label=uuid.uuid4().hex)
    newest = accounts.list_tokens(w.engine, SYSTEM, user="bea")["items"][0]
    return f"/api/tokens/{newest['id']}"


XML = {"Content-Type": "application/xml"}
# (operation[#variant], kinds let through, how to call it: (world) -> (method, path, kwargs), and the
# kinds among them for whom the answer is about the task's or case's state or the request's
# content (409/422), not success; everyone else must be refused with 401, 403 or 404)
Op = tuple[str, set[str], Callable[[World], tuple[str, str, dict[str, Any]]], set[str]]
NONE: set[str] = set()
OPERATIONS: list[Op] = [
    ("GET /api/health", set(KINDS), lambda w: ("GET", "/api/health", {}), NONE),
    ("GET /api/openapi.json", set(KINDS), lambda w: ("GET", "/api/openapi.json", {}), NONE),
    ("GET /api/me", EVERYONE | {"stranger", "integration"}, lambda w: ("GET", "/api/me", {}), NONE),
    ("GET /api/processes", EVERYONE, lambda w: ("GET", "/api/processes", {}), NONE),
    ("POST /api/processes", {"designer", "admin"},
     lambda w: ("POST", "/api/processes", {"data": fixture_bytes("seq3.bpmn"), "headers": dict(XML)}), NONE),
    ("GET /api/processes/{key}", EVERYONE, lambda w: ("GET", "/api/processes/bygglov_test", {}), NONE),
    ("GET /api/processes/{key}/versions/{number}/bpmn", EVERYONE,
     lambda w: ("GET", "/api/processes/bygglov_test/versions/1/bpmn", {}), NONE),
    ("POST /api/processes/{key}/versions/{number}/approve", {"owner", "admin"},
     lambda w: ("POST", _draft(w), {}), NONE),
    ("GET /api/processes/{key}/versions/{number}", EVERYONE,
     lambda w: ("GET", "/api/processes/bygglov_test/versions/1", {}), NONE),
    ("POST /api/processes/{key}/versions/{number}/reject", {"owner", "admin"},
     lambda w: ("POST", _draft(w).replace("/approve", "/reject"), {"json": {"reason": "Fel roll"}}), NONE),
    ("GET /api/processes/{key}/policy", EVERYONE, lambda w: ("GET", "/api/processes/bygglov_test/policy", {}), NONE),
    ("PUT /api/processes/{key}/policy", {"owner", "admin"},
     lambda w: ("PUT", "/api/processes/bygglov_test/policy", {"json": {"tasks": {"granska": {"due": "3WD"}}}}), NONE),
    ("GET /api/processes/{key}/unit", EVERYONE, lambda w: ("GET", "/api/processes/bygglov_test/unit", {}), NONE),
    ("PUT /api/processes/{key}/unit", {"owner", "admin"},
     lambda w: ("PUT", "/api/processes/bygglov_test/unit", {"json": {"unit": "bygglov"}}), NONE),
    # in a unit: who holds a starter role (the start's lane) there or above it, or across the
    # group, and admins; a manager, an owner, an auditor do not start cases of the unit's handlers
    ("POST /api/processes/{key}/cases", {"handler", "admin", "integration"},
     lambda w: ("POST", "/api/processes/bygglov_test/cases", {"json": {"data": {"area": 1}, "org_unit": "bygglov"}}),
     NONE),
    # without a unit (the process has none of its own): the starter role across the group, which
    # the handlers here hold only in their units
    ("POST /api/processes/{key}/cases#no-unit", {"admin"},
     lambda w: ("POST", "/api/processes/bygglov_test/cases", {"json": {"data": {"area": 1}}}), NONE),
    ("GET /api/cases", EVERYONE, lambda w: ("GET", "/api/cases", {}), NONE),
    ("GET /api/cases/{case_id}", SEERS, lambda w: ("GET", f"/api/cases/{w.fresh_case()['id']}", {}), NONE),
    ("POST /api/cases/{case_id}/retry", ACTORS_ON_CASE,
     lambda w: ("POST", f"/api/cases/{w.fresh_case()['id']}/retry", {"json": {}}), ACTORS_ON_CASE),
    # The unit's manager answers for where its cases lie; a handler of it does not.
    ("POST /api/cases/{case_id}/transfer", {"manager", "admin"},
     lambda w: ("POST", f"/api/cases/{w.fresh_case()['id']}/transfer",
                {"json": {"unit": "miljo", "reason": "Gäller strandskydd"}}), NONE),
    ("POST /api/cases/{case_id}/comments", ACTORS_ON_CASE,
     lambda w: ("POST", f"/api/cases/{w.fresh_case()['id']}/comments", {"json": {"text": "Hej"}}), NONE),
    ("POST /api/cases/{case_id}/messages/{name}", ACTORS_ON_CASE,
     lambda w: ("POST", f"/api/cases/{w.fresh_case()['id']}/messages/svar", {"json": {}}), ACTORS_ON_CASE),
    # Someone who may not act on the case is told no such case exists (404), not that it is busy.
    ("POST /api/messages/{name}", ACTORS_ON_CASE, lambda w: (
        "POST", "/api/messages/svar",
        {"json": {"business_key": cases.start_case(w.engine, SYSTEM, "bygglov_test", {"area": 1},
                                                    f"BK-{uuid.uuid4().hex}", org_unit="bygglov")["business_key"]}}),
     ACTORS_ON_CASE),
    ("GET /api/tasks", EVERYONE, lambda w: ("GET", "/api/tasks", {}), NONE),
    ("GET /api/tasks/{task_id}", SEERS, lambda w: ("GET", f"/api/tasks/{_task(w)}", {}), NONE),
    ("GET /api/tasks/{task_id}#claimed", SEERS, lambda w: ("GET", f"/api/tasks/{_claimed(w)}", {}), NONE),
    ("PATCH /api/tasks/{task_id}", {"manager", "admin"},
     lambda w: ("PATCH", f"/api/tasks/{_task(w)}", {"json": {"priority": 70}}), NONE),
    ("POST /api/tasks/{task_id}/claim", WORKERS, lambda w: ("POST", f"/api/tasks/{_task(w)}/claim", {}), NONE),
    # taken by someone else: those who may see it are told so; nobody else learns it
    ("POST /api/tasks/{task_id}/claim#claimed", {"handler", "manager", "admin"},
     lambda w: ("POST", f"/api/tasks/{_claimed(w)}/claim", {}), {"handler", "manager", "admin"}),
    ("POST /api/tasks/{task_id}/unclaim", WORKERS, lambda w: ("POST", f"/api/tasks/{_task(w)}/unclaim", {}), NONE),
    ("POST /api/tasks/{task_id}/unclaim#claimed", {"admin"},
     lambda w: ("POST", f"/api/tasks/{_claimed(w)}/unclaim", {}), NONE),
    ("POST /api/tasks/{task_id}/complete", WORKERS,
     lambda w: ("POST", f"/api/tasks/{_task(w)}/complete", {"json": {"data": {}}}), NONE),
    ("POST /api/tasks/{task_id}/complete#claimed", {"handler", "manager", "admin"},
     lambda w: ("POST", f"/api/tasks/{_claimed(w)}/complete", {"json": {"data": {}}}), {"handler", "manager"}),
    # a decision: only who holds the delegation, administrators included (HFD 2012 not 76)
    ("POST /api/tasks/{task_id}/complete#decision", DECIDERS, lambda w: (
        "POST", f"/api/tasks/{_decision(w)}/complete", {"json": {"data": {}, "no_conflict_of_interest": True}}), NONE),
    ("POST /api/tasks/{task_id}/complete#claimed-decision", DECIDERS, lambda w: (
        "POST", f"/api/tasks/{_decision(w, claimed=True)}/complete",
        {"json": {"data": {}, "no_conflict_of_interest": True}}), DECIDERS),
    ("POST /api/tasks/{task_id}/assign", {"manager", "admin"},
     lambda w: ("POST", f"/api/tasks/{_task(w)}/assign", {"json": {"user": "bo"}}), NONE),
    ("POST /api/tasks/{task_id}/assign#claimed", {"manager", "admin"},
     lambda w: ("POST", f"/api/tasks/{_claimed(w)}/assign", {"json": {"user": "bea"}}), NONE),
    ("POST /api/tasks/{task_id}/handover", {"admin"},
     lambda w: ("POST", f"/api/tasks/{_task(w)}/handover", {"json": {"user": "bo"}}), NONE),
    ("POST /api/tasks/{task_id}/handover#claimed", {"admin"},
     lambda w: ("POST", f"/api/tasks/{_claimed(w)}/handover", {"json": {"user": "bea"}}), NONE),
    ("POST /api/tasks/{task_id}/comments", {"handler", "manager", "admin"},
     lambda w: ("POST", f"/api/tasks/{_task(w)}/comments", {"json": {"text": "Hej"}}), NONE),
    ("POST /api/tasks/{task_id}/conflict-of-interest", {"handler", "manager", "admin"},
     lambda w: ("POST", f"/api/tasks/{_task(w)}/conflict-of-interest", {"json": {}}), {"handler", "manager", "admin"}),
    ("POST /api/tasks/{task_id}/conflict-of-interest#decision", DECIDERS,
     lambda w: ("POST", f"/api/tasks/{_decision(w)}/conflict-of-interest", {"json": {}}), NONE),
    ("GET /api/notifications", EVERYONE, lambda w: ("GET", "/api/notifications", {}), NONE),
    ("POST /api/notifications/{notification_id}/read", {"handler"}, lambda w: ("POST", _notification(w), {}), NONE),
    ("GET /api/org", {"auditor", "admin"}, lambda w: ("GET", "/api/org", {}), NONE),
    ("PUT /api/org", {"admin"}, lambda w: ("PUT", "/api/org", {"json": {"aliases": []}}), NONE),
    ("GET /api/org/units", EVERYONE, lambda w: ("GET", "/api/org/units", {}), NONE),
    ("GET /api/org/units/{unit_id}", EVERYONE, lambda w: ("GET", "/api/org/units/bygglov", {}), NONE),
    ("GET /api/absences", EVERYONE, lambda w: ("GET", "/api/absences", {}), NONE),
    ("POST /api/absences", {"handler", "manager", "admin"}, lambda w: (
        "POST", "/api/absences", {"json": {"user": "bea", "from": "2026-07-01T00:00:00Z", "to": "2026-07-02T00:00:00Z"}}),
     NONE),
    ("DELETE /api/absences/{absence_id}", {"handler", "manager", "admin"}, lambda w: ("DELETE", _absence(w), {}), NONE),
    ("GET /api/delegation/items", EVERYONE, lambda w: ("GET", "/api/delegation/items", {}), NONE),
    ("GET /api/delegation/items#all", {*OWNERS, "auditor", "admin"},
     lambda w: ("GET", "/api/delegation/items?all=true", {}), NONE),
    ("POST /api/delegation/items", {"admin"}, lambda w: ("POST", "/api/delegation/items", {"json": ITEMS[1]}), NONE),
    ("POST /api/delegation/items/{item_id}/approve", {"admin"}, lambda w: ("POST", _item(w), {}), NONE),
    # managers of units under Byggnadsnämnden read its report; its secretary sits in Kansliet
    ("GET /api/delegation/decisions", {"manager", "other_manager", "secretary", "auditor", "admin"},
     lambda w: ("GET", "/api/delegation/decisions", {}), NONE),
    ("GET /api/delegation/decisions#bygg", {"manager", "other_manager", "auditor", "admin"},
     lambda w: ("GET", "/api/delegation/decisions?committee=Byggnadsnämnden", {}), NONE),
    ("GET /api/delegation/decisions#ks", {"secretary", "auditor", "admin"},
     lambda w: ("GET", "/api/delegation/decisions?committee=Kommunstyrelsen", {}), NONE),
    # a process's measures are for its owners (each of their own), auditors and admins
    ("GET /api/measures", {*OWNERS, "auditor", "admin"}, lambda w: ("GET", "/api/measures", {}), NONE),
    # accounts, tokens and the security log
    ("GET /api/users", {"auditor", "admin"}, lambda w: ("GET", "/api/users", {}), NONE),
    ("POST /api/users/{name}/deactivate", {"admin"},
     lambda w: ("POST", f"/api/users/{_account(w)}/deactivate", {"json": {"reason": "Slutat"}}), NONE),
    ("POST /api/users/{name}/reactivate", {"admin"},
     lambda w: ("POST", f"/api/users/{_account(w, ended=True)}/reactivate", {"json": {}}), NONE),
    ("GET /api/tokens", EVERYONE, lambda w: ("GET", "/api/tokens", {}), NONE),
    ("GET /api/tokens#all", {"auditor", "admin"}, lambda w: ("GET", "/api/tokens?all=true", {}), NONE),
    ("POST /api/tokens", EVERYONE, lambda w: ("POST", "/api/tokens", {"json": {"name": "Skript", "days": 30}}), NONE),
    ("POST /api/tokens#other", {"admin"},
     lambda w: ("POST", "/api/tokens", {"json": {"name": "E-tjänst", "user": "bo", "processes": ["bygglov_test"]}}),
     NONE),
    ("DELETE /api/tokens/{token_id}", {"handler", "admin"}, lambda w: ("DELETE", _bea_token(w), {}), NONE),
    ("GET /api/security-log", {"auditor", "admin"}, lambda w: ("GET", "/api/security-log", {}), NONE),
    ("GET /api/security-log#csv", {"auditor", "admin"}, lambda w: ("GET", "/api/security-log?format=csv", {}), NONE),
    ("GET /api/oidc/group-roles", {"auditor", "admin"}, lambda w: ("GET", "/api/oidc/group-roles", {}), NONE),
    ("PUT /api/oidc/group-roles", {"admin"},
     lambda w: ("PUT", "/api/oidc/group-roles", {"json": {"mappings": [{"group": "g", "role": "Handläggare"}]}}),
     NONE),
    ("GET /api/measures#own", {"owner", "auditor", "admin"},
     lambda w: ("GET", "/api/measures?process=bygglov_test", {}), NONE),
    # the evidence: public keys for anyone; its state and a live check for auditors and admins;
    # recording a check or sealing writes, so administrators only (an auditor changes nothing)
    ("GET /api/audit/public-key", set(KINDS), lambda w: ("GET", "/api/audit/public-key", {}), NONE),
    ("GET /api/audit", {"auditor", "admin"}, lambda w: ("GET", "/api/audit", {}), NONE),
    ("GET /api/audit/verify", {"auditor", "admin"}, lambda w: ("GET", "/api/audit/verify", {}), NONE),
    ("POST /api/audit/verify", {"admin"}, lambda w: ("POST", "/api/audit/verify", {}), NONE),
    ("POST /api/audit/checkpoints", {"admin"}, lambda w: ("POST", "/api/audit/checkpoints", {}), NONE),
    # records management: rules in force for everyone, their drafts and history, holds and culling
    # for administrators (and archive officers) with auditors reading; a personal data search is
    # an administrator's. An open case cannot be delivered (409) nor a delivery that is not there.
    ("GET /api/retention/rules", EVERYONE, lambda w: ("GET", "/api/retention/rules", {}), NONE),
    ("GET /api/retention/rules#all", {"auditor", "admin"}, lambda w: ("GET", "/api/retention/rules?all=true", {}),
     NONE),
    ("POST /api/retention/rules", {"admin"}, lambda w: ("POST", "/api/retention/rules", {"json": RULE}), NONE),
    ("POST /api/retention/rules/{rule_id}/approve", {"admin"},
     lambda w: ("POST", f"/api/retention/rules/{_rule(w)}/approve", {}), NONE),
    ("POST /api/retention/rules/{rule_id}/reject", {"admin"},
     lambda w: ("POST", f"/api/retention/rules/{_rule(w)}/reject", {}), NONE),
    ("GET /api/cases/{case_id}/retention", SEERS,
     lambda w: ("GET", f"/api/cases/{w.fresh_case()['id']}/retention", {}), NONE),
    ("POST /api/cases/{case_id}/hold", {"admin"},
     lambda w: ("POST", f"/api/cases/{w.fresh_case()['id']}/hold", {"json": {"reason": "Överklagat"}}), NONE),
    ("POST /api/cases/{case_id}/hold/release", {"admin"},
     lambda w: ("POST", f"/api/cases/{_held(w)}/hold/release", {"json": {"reason": "Avgjort"}}), NONE),
    ("GET /api/retention/holds", {"auditor", "admin"}, lambda w: ("GET", "/api/retention/holds", {}), NONE),
    ("GET /api/retention/cull", {"auditor", "admin"}, lambda w: ("GET", "/api/retention/cull", {}), NONE),
    ("POST /api/retention/cull", {"admin"}, lambda w: ("POST", "/api/retention/cull", {}), NONE),
    ("GET /api/retention/culled", {"auditor", "admin"}, lambda w: ("GET", "/api/retention/culled", {}), NONE),
    ("POST /api/cases/{case_id}/archive-package", {"admin"},
     lambda w: ("POST", f"/api/cases/{w.fresh_case()['id']}/archive-package", {}), {"admin"}),
    ("POST /api/retention/deliveries/{delivery_id}/receipt", {"admin"},
     lambda w: ("POST", f"/api/retention/deliveries/{_delivery(w)}/receipt", {"json": {"receipt_ref": "RA-1"}}),
     NONE),
    ("GET /api/processes/{key}/measure-targets", EVERYONE,
     lambda w: ("GET", "/api/processes/bygglov_test/measure-targets", {}), NONE),
    ("PUT /api/processes/{key}/measure-targets/{measure}", {"owner", "admin"},
     lambda w: ("PUT", "/api/processes/bygglov_test/measure-targets/within_deadline_share", {"json": {"target": 95}}),
     NONE),
    ("GET /api/cases/{case_id}/deviations", SEERS,
     lambda w: ("GET", f"/api/cases/{w.fresh_case()['id']}/deviations", {}), NONE),
    ("POST /api/cases/{case_id}/deviations", ACTORS_ON_CASE,
     lambda w: ("POST", f"/api/cases/{w.fresh_case()['id']}/deviations", {"json": {}}), NONE),
    ("POST /api/personal-data/search", {"admin"},
     lambda w: ("POST", "/api/personal-data/search", {"json": {"query": "Bea"}}), NONE),
]


def test_matrix_covers_every_documented_operation(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    documented = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops}
    assert {name.split("#")[0] for name, _, _, _ in OPERATIONS} == documented


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize("operation", OPERATIONS, ids=[o[0] for o in OPERATIONS])
def test_each_operation_allows_exactly_its_users(world: World, operation: Op) -> None:
    name, allowed, build, state = operation
    assert state <= allowed, name
    for kind in KINDS:
        method, path, kwargs = build(world)
        r = world.call(kind, method, path, **kwargs)
        code = r.status_code
        assert code != 500, (name, kind, r.get_data(as_text=True))
        if kind in state:
            assert code in (409, 422), (name, kind, code, r.get_json())
        elif kind in allowed:
            assert code < 400, (name, kind, code, r.get_json())
        else:
            assert code in (401, 403, 404), (name, kind, code, r.get_json())
            assert r.headers["Content-Type"] == "application/problem+json"
