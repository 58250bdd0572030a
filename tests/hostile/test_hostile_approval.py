"""The four-eyes rule cannot be steered by the person it binds.

A designer may write any owner role into a new version (``rutin:owner``, in whichever dialect
Rutin reads it: an attribute, a Camunda, Zeebe or SpiffWorkflow property, a Zeebe task header,
a property nested in a task) to choose who approves it: a friend who holds that role. Who
approves is decided by the process as published (its owner role, or an administrator), and a
draft that changes the owner only an administrator approves; the uploader never approves their
own draft, administrators included. Each probe asserts the refusal and that nothing changed;
the owner role the draft declares is first checked to have reached the model, so that each probe
tries a route that is really there. The last probes try the other powers an owner role carries
(deadline policies, the process's unit, measures, ordinance drafts, the yearly review).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import PASSWORD, Person, deploy, fixture_bytes, publish, sign_in
from probes import assert_no_effect, db_state

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.base.errors import Forbidden
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases

FRIEND_ROLE = "Vänroll"
NOTICE = "Versionen byter processägare från Processägare till Vänroll; en administratör måste godkänna bytet."
RUTIN = 'xmlns:rutin="https://rutin.example/bpmn"'
CAMUNDA = 'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
ZEEBE = 'xmlns:zeebe="http://camunda.org/schema/zeebe/1.0"'
SPIFF = 'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"'
PROCESS = '<bpmn:process id="seq3" name="Tre steg" isExecutable="true">'
TASK = '<bpmn:userTask id="a" name="Steg ett">\n    <bpmn:extensionElements>'


def _seq3(ns: str, old: str, new: str, key: str = "seq3") -> bytes:
    text = fixture_bytes("seq3.bpmn").decode()
    if ns.split("=")[0] + "=" not in text:  # the fixture may declare the dialect's namespace already
        text = text.replace('<bpmn:definitions ', f"<bpmn:definitions {ns} ", 1)
    text = text.replace(old, new, 1)
    assert new in text
    return text.replace('id="seq3"', f'id="{key}"').encode()


def _on_process(ext: str) -> tuple[str, str]:
    return PROCESS, PROCESS + f"<bpmn:extensionElements>{ext}</bpmn:extensionElements>"


def _on_task(ext: str) -> tuple[str, str]:
    return TASK, TASK + ext  # inside the step's own extensionElements, beside its form


# Every way a diagram can declare the process owner role that Rutin reads into the model.
DIALECTS: dict[str, tuple[str, tuple[str, str]]] = {
    "rutin-attribute": (RUTIN, (PROCESS, PROCESS.replace('isExecutable="true"',
                                                         f'isExecutable="true" rutin:owner="{FRIEND_ROLE}"'))),
    "camunda-property": (CAMUNDA, _on_process(
        f'<camunda:properties><camunda:property name="rutin:owner" value="{FRIEND_ROLE}"/></camunda:properties>')),
    "zeebe-property": (ZEEBE, _on_process(
        f'<zeebe:properties><zeebe:property name="rutin:owner" value="{FRIEND_ROLE}"/></zeebe:properties>')),
    "zeebe-task-header": (ZEEBE, _on_task(
        f'<zeebe:taskHeaders><zeebe:header key="rutin:owner" value="{FRIEND_ROLE}"/></zeebe:taskHeaders>')),
    "spiffworkflow-property": (SPIFF, _on_process(
        '<spiffworkflow:properties><spiffworkflow:property name="rutin:owner" '
        f'value="{FRIEND_ROLE}"/></spiffworkflow:properties>')),
    "spiffworkflow-task-property": (SPIFF, _on_task(
        '<spiffworkflow:properties><spiffworkflow:property name="rutin:owner" '
        f'value="{FRIEND_ROLE}"/></spiffworkflow:properties>')),
}


def _declaring(dialect: str, key: str = "seq3") -> bytes:
    ns, (old, new) = DIALECTS[dialect]
    return _seq3(ns, old, new, key)


@pytest.fixture
def office(engine: Engine, client: Any, people: dict[str, Person]) -> dict[str, Person]:
    """seq3 published (owned by Processägare); vera, the designer's friend, holds the role the
    designer will write into a new version."""
    publish(client, people, "seq3.bpmn")
    identity.add_user(engine, "vera", [FRIEND_ROLE])
    people["vera"] = Person("vera", identity.issue_token(engine, "vera"), identity.get_actor(engine, "vera"))
    for name in ("vera", "owner", "admin"):
        identity.set_password(engine, name, PASSWORD)
    return people


def _signed_in(client: Any, person: Person, endpoint: str) -> str:
    """For the pages, sign in (before the probe's snapshot: signing in is not what is probed)."""
    return sign_in(client, person.name) if endpoint == "page" else ""


def _approve(client: Any, person: Person, endpoint: str, key: str, number: int, csrf: str) -> tuple[int, str]:
    if endpoint == "api":
        r = client.post(f"/api/processes/{key}/versions/{number}/approve", json={}, headers=person.headers)
        return r.status_code, (r.get_json() or {}).get("detail", "")
    r = client.post(f"/processes/{key}/versions/{number}/approve", data={"csrf": csrf, "reviewed": "ja"})
    return r.status_code, r.get_data(as_text=True)


def _upload_draft(client: Any, person: Person, data: bytes) -> int:
    r = deploy(client, person, data)
    assert r.status_code == 201, r.get_json()
    return int(r.get_json()["version"])


@pytest.mark.parametrize("endpoint", ["api", "page"])
@pytest.mark.parametrize("dialect", list(DIALECTS))
def test_a_friend_named_as_owner_in_the_draft_cannot_approve_it(
        engine: Engine, client: Any, office: dict[str, Person], dialect: str, endpoint: str) -> None:
    number = _upload_draft(client, office["designer"], _declaring(dialect))
    version = client.get(f"/api/processes/seq3/versions/{number}", headers=office["vera"].headers).get_json()
    assert version["proposed_owner_role"] == FRIEND_ROLE  # the declaration reached the model: a real route
    csrf = _signed_in(client, office["vera"], endpoint)
    before = db_state(engine)
    status, text = _approve(client, office["vera"], endpoint, "seq3", number, csrf)
    assert status == 403 and NOTICE in text
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize("endpoint", ["api", "page"])
def test_the_old_owner_alone_cannot_approve_a_change_of_owner(
        engine: Engine, client: Any, office: dict[str, Person], endpoint: str) -> None:
    number = _upload_draft(client, office["designer"], _declaring("camunda-property"))
    csrf = _signed_in(client, office["owner"], endpoint)
    before = db_state(engine)
    status, text = _approve(client, office["owner"], endpoint, "seq3", number, csrf)
    assert status == 403 and NOTICE in text
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize("endpoint", ["api", "page"])
@pytest.mark.parametrize("who", ["vera", "owner"])
def test_nobody_but_an_administrator_approves_a_new_process_whatever_owner_it_names(
        engine: Engine, client: Any, office: dict[str, Person], who: str, endpoint: str) -> None:
    """A new key has nothing published to name its owner: the role the draft names (vera's) and
    the default owner role (the owner's) are nobody's authority over it yet."""
    number = _upload_draft(client, office["designer"], _declaring("rutin-attribute", key="nyprocess"))
    csrf = _signed_in(client, office[who], endpoint)
    before = db_state(engine)
    status, text = _approve(client, office[who], endpoint, "nyprocess", number, csrf)
    assert status == 403 and "en administratör som inte laddat upp versionen måste godkänna den" in text
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize("endpoint", ["api", "page"])
def test_an_administrator_never_approves_their_own_upload(
        engine: Engine, client: Any, office: dict[str, Person], endpoint: str) -> None:
    number = _upload_draft(client, office["admin"], _declaring("zeebe-property"))
    csrf = _signed_in(client, office["admin"], endpoint)
    before = db_state(engine)
    status, text = _approve(client, office["admin"], endpoint, "seq3", number, csrf)
    assert status == 403 and "En annan person än den som laddade upp versionen måste godkänna den" in text
    assert_no_effect(before, db_state(engine))


def test_a_person_cannot_publish_at_upload_not_even_an_administrator(
        engine: Engine, office: dict[str, Person]) -> None:
    before = db_state(engine)
    with pytest.raises(Forbidden):
        processes.deploy(engine, office["admin"].actor, _declaring("camunda-property"), approve_as_admin=True)
    assert_no_effect(before, db_state(engine))


def test_a_person_named_system_is_not_the_system(engine: Engine, client: Any, office: dict[str, Person]) -> None:
    """The set-up account publishes at upload; a person who happens to be called "system" does
    not: their upload is a draft like anyone's, and nothing is published or approved."""
    identity.add_user(engine, "system", ["admin", "designer"])
    system = Person("system", identity.issue_token(engine, "system"), identity.get_actor(engine, "system"))
    r = deploy(client, system, _declaring("camunda-property"))
    assert r.status_code == 201 and r.get_json()["processes"][0]["status"] == "draft"
    detail = client.get("/api/processes/seq3", headers=system.headers).get_json()
    assert detail["published_version"] == 1 and detail["owner_role"] == "Processägare"
    assert [e["type"] for e in detail["history"]][-1] == "version_uploaded"


@pytest.mark.parametrize("new_process", [False, True], ids=["change-of-owner", "new-process"])
def test_the_owner_a_draft_names_cannot_reject_it_either(
        engine: Engine, client: Any, office: dict[str, Person], new_process: bool) -> None:
    key = "nyprocess" if new_process else "seq3"
    number = _upload_draft(client, office["designer"], _declaring("spiffworkflow-property", key=key))
    before = db_state(engine)
    r = client.post(f"/api/processes/{key}/versions/{number}/reject", json={"reason": "Nej"},
                    headers=office["vera"].headers)
    assert r.status_code == 403
    assert_no_effect(before, db_state(engine))


# The powers an owner role carries, tried by the friend a draft names (before anyone approves it).
POWERS = {
    "policy": ("PUT", "/api/processes/seq3/policy", {"json": {"tasks": {"a": {"due": "P30D"}}}}),
    "unit": ("PUT", "/api/processes/seq3/unit", {"json": {"unit": None}}),
    "measures": ("GET", "/api/measures?process=seq3", {}),
    "ordinance-drafts": ("GET", "/api/delegation/items?all=true", {}),
}


@pytest.mark.parametrize("power", list(POWERS))
def test_a_drafts_owner_gets_none_of_the_owners_powers(
        engine: Engine, client: Any, office: dict[str, Person], power: str) -> None:
    _upload_draft(client, office["designer"], _declaring("camunda-property"))
    method, path, kw = POWERS[power]
    before = db_state(engine)
    r = client.open(path, method=method, headers=office["vera"].headers, **kw)
    assert r.status_code == 403, (power, r.get_json())
    assert_no_effect(before, db_state(engine))


def test_a_drafts_unit_places_no_case_until_it_is_approved(
        engine: Engine, client: Any, office: dict[str, Person]) -> None:
    """A designer who manages a unit cannot pull a process's cases into it (and so see them) by
    writing rutin:unit into a draft: until approved, the unit is the published one's."""
    from engine.service import org_data

    org_data.import_data(engine, {"units": [{"id": "egen", "name": "Designerns enhet"}]})
    _upload_draft(client, office["designer"], _seq3(CAMUNDA, *_on_process(
        '<camunda:properties><camunda:property name="rutin:unit" value="egen"/></camunda:properties>')))
    before = client.get("/api/processes/seq3/unit", headers=office["hanna"].headers).get_json()
    assert before["unit"] is None
    case = cases.start_case(engine, office["hanna"].actor, "seq3", {})
    assert case["org_unit"] is None and case["version"] == 1


def test_the_yearly_review_goes_to_the_published_owner_not_the_drafts(
        engine: Engine, client: Any, office: dict[str, Person], clock: ManualClock) -> None:
    import sqlalchemy as sa

    from engine.store.models import Case

    _upload_draft(client, office["designer"], _declaring("rutin-attribute"))
    clock.advance(timedelta(days=366))
    engine.scheduler.tick()
    with engine.db.read() as s:
        [review] = s.execute(sa.select(Case).where(Case.process_key == processes.REVIEW_PROCESS)).scalars().all()
        assert review.data["agare"] == "Processägare"
    tasks = client.get("/api/tasks", headers=office["vera"].headers).get_json()["items"]
    assert not [t for t in tasks if t["process_key"] == processes.REVIEW_PROCESS]
