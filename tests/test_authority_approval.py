"""Who approves a new version is decided by the process as published: a change of owner, said in
Swedish on the version and its page, takes an administrator and then takes effect; drafts still
waiting are judged by the owner published since; the owner's other powers move with the approved
owner; existing drafts are migrated to that meaning; versions stored before starter roles were
read are read again."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, Person, fixture_bytes, publish, sign_in
from conftest import deploy as upload

from engine.authority import identity
from engine.catalogue import processes, starting
from engine.core import Engine
from engine.store.models import ProcessVersion

CHANGE = "Versionen byter processägare från Processägare till Kvalitetschef; en administratör måste godkänna bytet."


def deploy(client: Any, person: Person, data: bytes) -> Any:
    """Upload, and fail here if the diagram is refused: every draft these tests judge must exist."""
    r = upload(client, person, data)
    assert r.status_code in (200, 201), r.get_json()
    return r


def _owned_by(role: str, text: str = "Steg tre") -> bytes:
    """seq3 whose diagram names `role` as its owner (and a step renamed, to make it a new version)."""
    data = fixture_bytes("seq3.bpmn")
    if b"xmlns:camunda=" not in data:  # the fixture declares the namespace already, for its forms
        data = data.replace(b'xmlns:bpmn=', b'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" xmlns:bpmn=', 1)
    owned = data.replace(
        b'isExecutable="true">', b'isExecutable="true"><bpmn:extensionElements><camunda:properties>'
        b'<camunda:property name="rutin:owner" value="' + role.encode() + b'"/></camunda:properties>'
        b'</bpmn:extensionElements>', 1).replace(b"Steg tre", text.encode())
    assert b'name="rutin:owner"' in owned and text.encode() in owned
    return owned


@pytest.fixture
def office(engine: Engine, client: Any, people: dict[str, Person]) -> dict[str, Person]:
    publish(client, people, "seq3.bpmn")  # a new process: an administrator approved it; owner Processägare
    identity.add_user(engine, "kerstin", ["Kvalitetschef"])
    people["kerstin"] = Person("kerstin", identity.issue_token(engine, "kerstin"), identity.get_actor(engine, "kerstin"))
    return people


def _version(client: Any, person: Person, n: int) -> dict[str, Any]:
    return client.get(f"/api/processes/seq3/versions/{n}", headers=person.headers).get_json()  # type: ignore[no-any-return]


def test_a_change_of_owner_is_said_and_takes_effect_once_an_administrator_approves_it(
        engine: Engine, client: Any, office: dict[str, Person]) -> None:
    assert _version(client, office["hanna"], 1)["owner_role"] == "Processägare"
    deploy(client, office["designer"], _owned_by("Kvalitetschef"))
    v2 = _version(client, office["hanna"], 2)
    assert (v2["owner_role"], v2["proposed_owner_role"]) == ("Processägare", "Kvalitetschef")
    assert v2["approval"] == {"owner_role": "Processägare", "proposed_owner_role": "Kvalitetschef",
                              "admin_only": True, "notice": CHANGE}
    # neither the old owner nor the new one alone
    for who in ("owner", "kerstin"):
        r = client.post("/api/processes/seq3/versions/2/approve", headers=office[who].headers)
        assert r.status_code == 403 and r.get_json()["detail"] == CHANGE
    r = client.post("/api/processes/seq3/versions/2/approve", headers=office["admin"].headers).get_json()
    assert (r["status"], r["approved_via"], r["owner_role"], r["approval"]) == ("published", "admin", "Kvalitetschef",
                                                                                None)
    history = client.get("/api/processes/seq3", headers=office["hanna"].headers).get_json()
    assert history["owner_role"] == "Kvalitetschef"
    assert history["history"][-1]["data"] == {"via": "admin", "owner_role": {"from": "Processägare",
                                                                             "to": "Kvalitetschef"}}
    # the new owner now approves the next version (one that names no owner keeps the one in force)
    deploy(client, office["designer"], fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg 1"))
    v3 = _version(client, office["hanna"], 3)
    assert v3["approval"]["owner_role"] == "Kvalitetschef" and not v3["approval"]["admin_only"]
    assert client.post("/api/processes/seq3/versions/3/approve", headers=office["owner"].headers).status_code == 403
    r = client.post("/api/processes/seq3/versions/3/approve", headers=office["kerstin"].headers).get_json()
    assert (r["approved_by"], r["approved_via"], r["owner_role"]) == ("kerstin", "owner", "Kvalitetschef")


def test_naming_the_owner_in_force_is_no_change(client: Any, office: dict[str, Person]) -> None:
    """Spelled otherwise (case, spaces), the owner role in force is the same role: its holder approves."""
    deploy(client, office["designer"], _owned_by("  processÄGARE "))
    assert _version(client, office["hanna"], 2)["approval"]["admin_only"] is False
    assert client.post("/api/processes/seq3/versions/2/approve", headers=office["owner"].headers).status_code == 200


def test_a_waiting_draft_is_judged_by_the_owner_published_since(client: Any, office: dict[str, Person]) -> None:
    deploy(client, office["designer"], _owned_by("Kvalitetschef"))  # v2: a change of owner
    deploy(client, office["designer"], fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg 1"))  # v3: none named
    assert _version(client, office["hanna"], 3)["approval"]["owner_role"] == "Processägare"
    assert client.post("/api/processes/seq3/versions/2/approve", headers=office["admin"].headers).status_code == 200
    v3 = _version(client, office["hanna"], 3)
    assert (v3["owner_role"], v3["approval"]["owner_role"], v3["approval"]["admin_only"]) == (
        "Kvalitetschef", "Kvalitetschef", False)
    assert client.post("/api/processes/seq3/versions/3/approve", headers=office["owner"].headers).status_code == 403
    assert client.post("/api/processes/seq3/versions/3/approve", headers=office["kerstin"].headers).status_code == 200


def test_the_owners_other_powers_move_with_the_approved_owner(engine: Engine, client: Any,
                                                             office: dict[str, Person]) -> None:
    from engine.service import org_data

    org_data.import_data(engine, {"units": [{"id": "kvalitet", "name": "Kvalitet"}]})
    policy = ("PUT", "/api/processes/seq3/policy", {"json": {"tasks": {"a": {"due": "P5D"}}}})
    unit = ("PUT", "/api/processes/seq3/unit", {"json": {"unit": "kvalitet"}})
    measures = ("GET", "/api/measures?process=seq3", {})

    def may(who: str, call: tuple[str, str, dict[str, Any]]) -> bool:
        method, path, kw = call
        return client.open(path, method=method, headers=office[who].headers, **kw).status_code == 200

    deploy(client, office["designer"], _owned_by("Kvalitetschef"))
    assert [may("kerstin", c) for c in (policy, unit, measures)] == [False, False, False]
    assert [may("owner", c) for c in (policy, unit, measures)] == [True, True, True]
    client.post("/api/processes/seq3/versions/2/approve", headers=office["admin"].headers)
    assert [may("kerstin", c) for c in (policy, unit, measures)] == [True, True, True]
    assert [may("owner", c) for c in (policy, unit, measures)] == [False, False, False]


def test_the_process_page_says_who_approves_and_offers_the_button_only_to_them(
        engine: Engine, client: Any, office: dict[str, Person]) -> None:
    deploy(client, office["designer"], fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg 1"))  # v2
    deploy(client, office["designer"], _owned_by("Kvalitetschef"))  # v3
    button = re.compile(r'action="/processes/seq3/versions/(\d+)/approve"')
    review = re.compile(r'href="/processes/seq3/versions/(\d+)">Granska och godkänn')
    offered = {}
    for who in ("owner", "kerstin", "admin", "designer", "hanna"):
        identity.set_password(engine, who, PASSWORD)
        sign_in(client, who)
        page = client.get("/processes/seq3").get_data(as_text=True)
        # the process page links to the drafts' pages; each offers the button only to whom may use it
        offered[who] = sorted(n for n in (2, 3) if button.search(
            client.get(f"/processes/seq3/versions/{n}").get_data(as_text=True)))
        assert sorted(int(n) for n in review.findall(page)) == offered[who]
        assert CHANGE in page
        assert "En innehavare av processägarrollen Processägare eller en administratör" in page
        client.post("/logout", data={"csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1)})  # type: ignore[union-attr]
    assert offered == {"owner": [2], "kerstin": [], "admin": [2, 3], "designer": [], "hanna": []}


def test_existing_drafts_are_migrated_to_the_published_owner(engine: Engine, client: Any,
                                                            office: dict[str, Person]) -> None:
    """Before migration 0019 a draft's owner_role was what its own diagram declared."""
    from alembic import command

    from engine.store.db import alembic_config

    deploy(client, office["designer"], _owned_by("Kvalitetschef"))  # seq3 v2: a change of owner
    deploy(client, office["designer"], fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg 1"))  # v3: none
    deploy(client, office["designer"], fixture_bytes("parallel.bpmn"))  # a new process
    with engine.db.writer.begin() as conn:
        cfg = alembic_config(engine.db.url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0018")
        # as the code before it stored them
        conn.execute(sa.text("UPDATE process_versions SET owner_role = 'Kvalitetschef' WHERE key = 'seq3' "
                             "AND version = 2"))
        conn.execute(sa.text("UPDATE process_versions SET owner_role = 'Processägare' WHERE key = 'parallell'"))
        command.upgrade(cfg, "head")
    with engine.db.read() as s:
        rows = {(v.key, v.version): (v.owner_role, v.proposed_owner_role)
                for v in s.execute(sa.select(ProcessVersion)).scalars() if v.key != processes.REVIEW_PROCESS}
    assert rows == {("seq3", 1): ("Processägare", None), ("seq3", 2): ("Processägare", "Kvalitetschef"),
                    ("seq3", 3): ("Processägare", None), ("parallell", 1): (None, "Processägare")}


def test_a_version_stored_before_starters_were_read_has_its_diagram_read_again(
        engine: Engine, client: Any, office: dict[str, Person]) -> None:
    with engine.db.write() as s:
        v = s.execute(sa.select(ProcessVersion).where(ProcessVersion.key == "seq3")).scalar_one()
        v.model = {k: val for k, val in v.model.items() if k not in {"starters", "owner"}}
        version_id = v.id
    engine._models.clear()  # a process that starts after the upgrade has no model cached
    assert engine.model(version_id).starters is None
    assert starting.may_start(engine, office["hanna"].actor, version_id, None)  # the start's lane, Handläggare
    assert not starting.may_start(engine, office["greta"].actor, version_id, None)
    assert starting.starters(engine, version_id).source == "lane"


def test_a_draft_that_changes_who_starts_or_where_cases_go_says_so_to_its_approver(
        client: Any, office: dict[str, Person]) -> None:
    changed = fixture_bytes("seq3.bpmn").replace(
        b'isExecutable="true">', b'isExecutable="true" rutin:starterRoles="Registrator" rutin:unit="kvalitet">', 1
    ).replace(b"<bpmn:definitions ", b'<bpmn:definitions xmlns:rutin="https://rutin.example/bpmn" ', 1)
    deploy(client, office["designer"], changed)
    changes = _version(client, office["hanna"], 2)["changes"]
    assert changes["unit_changed"] == {"from": None, "to": "kvalitet"}
    assert (changes["starters_changed"]["from"]["roles"], changes["starters_changed"]["to"]["roles"]) == (
        ["Handläggare"], ["Registrator"])
    assert "owner_changed" not in changes and _version(client, office["hanna"], 2)["approval"]["admin_only"] is False
