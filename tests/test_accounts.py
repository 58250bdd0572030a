"""Accounts that end, tokens with a life, and the security log (issue 16).

Each refusal (a deactivated person's session cookie and token, an expired token, a revoked one, a
token used beyond its scope) is asserted together with the absence of its effect, on SQLite and
PostgreSQL. "Every web process" is a second engine and app on the same database: what one ends,
the other refuses at its next request (nothing is cached).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import PASSWORD, Person, publish, sign_in
from probes import assert_no_effect, db_state

from engine.authority import identity, security_log
from engine.authority.identity import NO_ROLE
from engine.base.clock import ManualClock
from engine.core import Engine
from engine.store.models import ApiToken, SecurityEvent


@pytest.fixture
def other_client(engine: Engine, clock: ManualClock) -> Iterator[Any]:
    """A second web process: its own engine and app on the same database."""
    from webapp import create_app

    second = Engine(engine.settings, clock)
    yield create_app(second).test_client()
    second.close()


def _start(client: Any, person: Person) -> Any:
    return client.post("/api/processes/granskning/cases", json={"data": {"belopp": 100}}, headers=person.headers)


def _claimed_by_greta(client: Any, people: dict[str, Person]) -> tuple[str, str]:
    """A case whose first task (Granska, role granskare) greta has taken: (case id, task id)."""
    case = _start(client, people["hanna"]).get_json()
    task = case["open_tasks"][0]["id"]
    assert client.post(f"/api/tasks/{task}/claim", headers=people["greta"].headers).status_code == 200
    return case["id"], task


def _log(engine: Engine) -> list[tuple[str, str, str | None]]:
    with engine.db.read() as s:
        return [(e.type, e.actor, e.subject) for e in s.execute(sa.select(SecurityEvent).order_by(SecurityEvent.id))
                .scalars()]


@pytest.fixture
def granskning(client: Any, people: dict[str, Person]) -> None:
    assert publish(client, people, "review.bpmn").status_code == 201


# -- deactivation ---------------------------------------------------------------------------------


def test_deactivation_ends_token_and_session_at_once_and_hands_claimed_work_back(
        engine: Engine, client: Any, other_client: Any, people: dict[str, Person], granskning: None) -> None:
    case_id, task_id = _claimed_by_greta(client, people)
    greta = people["greta"]
    identity.set_password(engine, "greta", PASSWORD)
    pages = other_client.application.test_client()
    csrf = sign_in(pages, "greta")
    assert other_client.get("/api/me", headers=greta.headers).status_code == 200  # the other process knows her
    assert client.post(f"/api/tasks/{task_id}/comments", json={"text": "Påbörjad"}, headers=greta.headers).status_code < 300

    r = client.post("/api/users/greta/deactivate", json={"reason": "Slutat"}, headers=people["admin"].headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["returned_tasks"] == [task_id]

    # the claimed task is back with its role, with an event; her past actions keep her name
    task = client.get(f"/api/tasks/{task_id}", headers=people["admin"].headers).get_json()
    assert task["assignee"] is None
    history = client.get(f"/api/cases/{case_id}", headers=people["admin"].headers).get_json()["history"]
    back = [e for e in history if e["type"] == "task_reassigned"]
    assert back and back[-1]["data"]["from"] == "greta" and back[-1]["data"]["reason"] == "kontot avaktiverat"
    assert back[-1]["actor"] == "admin"
    assert any(e["type"] == "task_claimed" and e["actor"] == "greta" for e in history)
    assert any(e["type"] == "comment" and e["actor"] == "greta" for e in history)

    before = db_state(engine)
    # her token, in the other web process, at its next request: refused, and nothing done
    assert other_client.get("/api/me", headers=greta.headers).status_code == 401
    r = other_client.post(f"/api/tasks/{task_id}/claim", headers=greta.headers)
    assert r.status_code == 401 and r.headers["Content-Type"] == "application/problem+json"
    r = other_client.post(f"/api/tasks/{task_id}/comments", json={"text": "Efter"}, headers=greta.headers)
    assert r.status_code == 401
    # her page session, copied cookie and all: signed out, and the claim did not happen
    r = pages.post(f"/tasks/{task_id}/claim", data={"csrf": csrf})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert_no_effect(before, db_state(engine))
    # nor can she sign in again (the same answer as a wrong password)
    r = pages.post("/login", data={"csrf": re.search(r'name="csrf" value="([^"]+)"', pages.get("/login")
                                                     .get_data(as_text=True)).group(1),  # type: ignore[union-attr]
                                   "name": "greta", "password": PASSWORD})
    assert r.status_code == 401 and "Fel användarnamn eller lösenord" in r.get_data(as_text=True)

    # she is gone from pickers: no one assigns work to her, no unit lists her
    r = client.post(f"/api/tasks/{task_id}/assign", json={"user": "greta"}, headers=people["admin"].headers)
    assert r.status_code in (404, 422), r.get_json()
    assert "greta" not in [u.name for u in identity.list_users(engine)]
    accounts = client.get("/api/users", headers=people["admin"].headers).get_json()["items"]
    assert {"name": "greta", "active": False} .items() <= next(a for a in accounts if a["name"] == "greta").items()

    logged = _log(engine)
    assert ("deactivated", "admin", "greta") in logged
    assert ("token_revoked", "admin", "greta") in logged


def test_reactivation_is_recorded_and_old_tokens_stay_revoked(
        engine: Engine, client: Any, people: dict[str, Person]) -> None:
    admin = people["admin"].headers
    assert client.post("/api/users/hugo/deactivate", json={}, headers=admin).status_code == 200
    assert client.post("/api/users/hugo/deactivate", json={}, headers=admin).status_code == 409
    r = client.post("/api/users/hugo/reactivate", json={"reason": "Tillbaka"}, headers=admin)
    assert r.status_code == 200 and r.get_json()["active"] is True
    assert client.get("/api/me", headers=people["hugo"].headers).status_code == 401  # the old token stays revoked
    fresh = identity.issue_token(engine, "hugo")
    assert client.get("/api/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    assert ("reactivated", "admin", "hugo") in _log(engine)
    # an administrator cannot end their own account (nor may anyone else end one)
    assert client.post("/api/users/admin/deactivate", json={}, headers=admin).status_code == 409
    before = db_state(engine)
    r = client.post("/api/users/hanna/deactivate", json={}, headers={"Authorization": f"Bearer {fresh}"})
    assert r.status_code == 403
    assert_no_effect(before, db_state(engine))


def test_deactivation_from_the_cli(engine: Engine, client: Any, people: dict[str, Person], granskning: None) -> None:
    from webapp.cli import main

    _, task_id = _claimed_by_greta(client, people)
    env = {"RUTIN_DATABASE_URL": engine.settings.database_url, "RUTIN_DATA_DIR": str(engine.settings.data_dir)}
    result = CliRunner(env=env).invoke(main, ["user", "deactivate", "greta", "--reason", "Slutat"])
    assert result.exit_code == 0, result.output
    assert "1 tagna uppgifter" in result.output
    assert client.get("/api/me", headers=people["greta"].headers).status_code == 401
    assert client.get(f"/api/tasks/{task_id}", headers=people["admin"].headers).get_json()["assignee"] is None
    result = CliRunner(env=env).invoke(main, ["users", "reactivate", "greta"])
    assert result.exit_code == 0, result.output
    assert ("reactivated", "system", "greta") in _log(engine)


def test_the_organisation_import_deactivates_and_reactivates(
        engine: Engine, client: Any, people: dict[str, Person], granskning: None) -> None:
    admin = people["admin"].headers
    _, task_id = _claimed_by_greta(client, people)
    r = client.put("/api/org", json={"people": [{"name": "greta", "roles": ["granskare"], "active": False}]},
                   headers=admin)
    assert r.status_code == 200 and r.get_json()["deactivated"] == 1, r.get_json()
    assert client.get("/api/me", headers=people["greta"].headers).status_code == 401
    assert client.get(f"/api/tasks/{task_id}", headers=admin).get_json()["assignee"] is None
    exported = client.get("/api/org", headers=admin).get_json()["people"]
    assert next(p for p in exported if p["name"] == "greta")["active"] is False
    assert "active" not in next(p for p in exported if p["name"] == "hanna")
    # importing the export again changes nothing; active: true opens the account again
    assert client.put("/api/org", json={"people": exported}, headers=admin).get_json()["deactivated"] == 0
    r = client.put("/api/org", json={"people": [{"name": "greta", "roles": ["granskare"], "active": True}]},
                   headers=admin)
    assert r.get_json()["reactivated"] == 1
    before = db_state(engine)
    r = client.put("/api/org", json={"people": [{"name": "greta", "active": "nej"}]}, headers=admin)
    assert r.status_code == 422
    assert_no_effect(before, db_state(engine))


def test_a_person_without_roles_learns_that_and_nothing_else(
        engine: Engine, client: Any, people: dict[str, Person], granskning: None) -> None:
    stina = people["stina"]
    me = client.get("/api/me", headers=stina.headers)
    assert me.status_code == 200 and me.get_json()["roles"] == [] and me.get_json()["message"] == NO_ROLE
    before = db_state(engine)
    for method, path, kw in (("GET", "/api/cases", {}), ("GET", "/api/tasks", {}), ("GET", "/api/processes", {}),
                             ("POST", "/api/processes/granskning/cases", {"json": {"data": {"belopp": 1}}})):
        r = client.open(path, method=method, headers=stina.headers, **kw)
        assert r.status_code == 403 and r.get_json()["detail"] == NO_ROLE, (path, r.get_json())
    assert_no_effect(before, db_state(engine))
    # hugo's roles are all removed: he is where stina is, at once
    identity.add_user(engine, "hugo", [], replace_roles=True, by="admin")
    assert client.get("/api/cases", headers=people["hugo"].headers).status_code == 403
    assert ("roles_changed", "admin", "hugo") in _log(engine)
    identity.set_password(engine, "stina", PASSWORD)
    pages = client.application.test_client()
    token = re.search(r'name="csrf" value="([^"]+)"', pages.get("/login").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert pages.post("/login", data={"csrf": token, "name": "stina", "password": PASSWORD}).status_code == 302
    home = pages.get("/")
    assert home.status_code == 403 and "Du har ingen roll i Rutin" in home.get_data(as_text=True)


# -- tokens -----------------------------------------------------------------------------------------


def test_a_token_is_named_has_an_expiry_a_last_use_and_only_its_hash_is_stored(
        engine: Engine, client: Any, clock: ManualClock, people: dict[str, Person]) -> None:
    hanna = people["hanna"].headers
    r = client.post("/api/tokens", json={"name": "Rapportskript", "days": 2}, headers=hanna)
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    value = created["token"]
    assert created["name"] == "Rapportskript" and created["state"] == "active" and created["last_used_at"] is None
    assert created["expires_at"] == (clock.now() + timedelta(days=2)).isoformat()
    stored = repr(db_state(engine))
    assert value not in stored and identity.token_hash(value) in stored
    assert client.get("/api/me", headers={"Authorization": f"Bearer {value}"}).status_code == 200
    mine = client.get("/api/tokens", headers=hanna).get_json()["items"]
    assert next(t for t in mine if t["id"] == created["id"])["last_used_at"] == clock.now().isoformat()
    assert "token" not in mine[0]
    # longer than the maximum, or no name: refused, nothing made
    before = db_state(engine)
    for body in ({"name": "x", "days": engine.settings.token_max_days + 1}, {"name": " ", "days": 1},
                 {"name": "x", "days": 0}, {"name": "x", "days": "7"}):
        assert client.post("/api/tokens", json=body, headers=hanna).status_code == 422, body
    # someone else's token: neither listed nor revocable by hanna (as if it did not exist)
    assert client.get("/api/tokens?user=hugo", headers=hanna).status_code == 403
    hugos = client.get("/api/tokens", headers=people["hugo"].headers).get_json()["items"][0]["id"]
    assert client.delete(f"/api/tokens/{hugos}", headers=hanna).status_code == 404
    assert client.post("/api/tokens", json={"name": "x", "user": "hugo"}, headers=hanna).status_code == 403
    assert_no_effect(before, db_state(engine))
    everyone = client.get("/api/tokens?all=true", headers=people["admin"].headers).get_json()["items"]
    assert {t["user"] for t in everyone} >= {"hanna", "hugo"}


def test_an_expired_token_is_refused_with_no_effect(
        engine: Engine, client: Any, clock: ManualClock, people: dict[str, Person], granskning: None) -> None:
    short = identity.issue_token(engine, "hanna", label="kort", days=1)
    headers = {"Authorization": f"Bearer {short}"}
    assert client.get("/api/me", headers=headers).status_code == 200
    clock.advance(timedelta(days=1))
    before = db_state(engine)
    r = client.post("/api/processes/granskning/cases", json={"data": {"belopp": 1}}, headers=headers)
    assert r.status_code == 401 and "gått ut" in r.get_json()["detail"]
    assert client.get("/api/me", headers=headers).status_code == 401
    assert_no_effect(before, db_state(engine))
    listed = client.get("/api/tokens", headers=people["hanna"].headers).get_json()["items"]
    assert next(t for t in listed if t["name"] == "kort")["state"] == "expired"


def test_a_revoked_token_is_refused_at_the_next_request_in_every_web_process(
        engine: Engine, client: Any, other_client: Any, people: dict[str, Person], granskning: None) -> None:
    created = client.post("/api/tokens", json={"name": "Skript"}, headers=people["hanna"].headers).get_json()
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert other_client.get("/api/me", headers=headers).status_code == 200
    r = client.delete(f"/api/tokens/{created['id']}", headers=people["hanna"].headers)
    assert r.status_code == 200 and r.get_json()["state"] == "revoked" and r.get_json()["revoked_by"] == "hanna"
    before = db_state(engine)
    r = other_client.post("/api/processes/granskning/cases", json={"data": {"belopp": 1}}, headers=headers)
    assert r.status_code == 401
    assert_no_effect(before, db_state(engine))
    # an administrator revokes anyone's
    hugos = client.get("/api/tokens", headers=people["hugo"].headers).get_json()["items"][0]["id"]
    assert client.delete(f"/api/tokens/{hugos}", headers=people["admin"].headers).status_code == 200
    assert other_client.get("/api/me", headers=people["hugo"].headers).status_code == 401
    logged = _log(engine)
    assert ("token_created", "hanna", "hanna") in logged
    assert ("token_revoked", "hanna", "hanna") in logged and ("token_revoked", "admin", "hugo") in logged


def test_an_integration_token_only_starts_cases_of_its_processes(
        engine: Engine, client: Any, people: dict[str, Person], granskning: None) -> None:
    assert publish(client, people, "seq3.bpmn").status_code == 201
    identity.add_user(engine, "e-tjanst", ["Handläggare"], display_name="E-tjänsteplattformen")
    r = client.post("/api/tokens", json={"name": "E-tjänst", "user": "e-tjanst", "processes": ["granskning"]},
                    headers=people["admin"].headers)
    assert r.status_code == 201, r.get_json()
    headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
    assert client.get("/api/me", headers=headers).get_json()["start_only"] == ["granskning"]
    started = client.post("/api/processes/granskning/cases", json={"data": {"belopp": 5}}, headers=headers)
    assert started.status_code == 201, started.get_json()
    before = db_state(engine)
    for method, path, kw in (
            ("POST", "/api/processes/seq3/cases", {"json": {"data": {}}}),
            ("GET", "/api/cases", {}),
            ("GET", f"/api/cases/{started.get_json()['id']}", {}),
            ("POST", f"/api/tasks/{started.get_json()['open_tasks'][0]['id']}/claim", {}),
            ("POST", "/api/tokens", {"json": {"name": "mer"}}),
            ("GET", "/api/tokens", {})):
        r = client.open(path, method=method, headers=headers, **kw)
        assert r.status_code == 403, (path, r.status_code, r.get_json())
    assert_no_effect(before, db_state(engine))


# -- the security log -----------------------------------------------------------------------------


def test_the_security_log_records_and_is_read_by_administrators_and_auditors_only(
        engine: Engine, client: Any, people: dict[str, Person]) -> None:
    identity.set_password(engine, "hanna", PASSWORD)
    pages = client.application.test_client()
    csrf = re.search(r'name="csrf" value="([^"]+)"', pages.get("/login").get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert pages.post("/login", data={"csrf": csrf, "name": "hanna", "password": "fel-lösen"}).status_code == 401
    sign_in(pages, "hanna")
    identity.add_user(engine, "rut", ["auditor"])
    rut = {"Authorization": f"Bearer {identity.issue_token(engine, 'rut')}"}
    types = [e["type"] for e in client.get("/api/security-log?limit=1000", headers=rut).get_json()["items"]]
    assert {"sign_in", "sign_in_failed", "token_created", "roles_changed"} <= set(types)
    assert client.get("/api/security-log", headers=people["hanna"].headers).status_code == 403
    text = client.get("/api/security-log?format=csv", headers=rut).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["Tidpunkt", "Händelse", "Utförd av", "Gäller", "Adress", "Uppgifter"]
    assert any(r[1] == "Misslyckad inloggning" and r[2] == "hanna" for r in rows[1:])
    # the page, for the auditor, and its CSV
    identity.set_password(engine, "rut", PASSWORD)
    auditor = client.application.test_client()
    sign_in(auditor, "rut")
    page = auditor.get("/sakerhetslogg").get_data(as_text=True)
    assert "Misslyckad inloggning" in page and "Ladda ner loggen (CSV)" in page
    assert auditor.get("/sakerhetslogg?format=csv").get_data(as_text=True).startswith("Tidpunkt;Händelse")
    assert pages.get("/sakerhetslogg").status_code == 403


def test_the_security_log_is_append_only(engine: Engine, people: dict[str, Person]) -> None:
    assert _log(engine)
    for statement in (sa.update(SecurityEvent).values(actor="någon"), sa.delete(SecurityEvent)):
        with pytest.raises(sa.exc.DatabaseError), engine.db.write() as s:
            s.execute(statement)
    assert all(actor != "någon" for _, actor, _ in _log(engine))


def test_a_formula_typed_as_a_name_is_not_a_formula_in_the_csv(engine: Engine) -> None:
    security_log.record_now(engine, security_log.SIGN_IN_FAILED, "=HYPERLINK(\"x\")", address="192.0.2.1")
    text = security_log.as_csv(engine, identity.SYSTEM)
    assert "'=HYPERLINK" in text


def test_the_tokens_page_creates_shows_once_and_revokes(engine: Engine, client: Any, people: dict[str, Person]) -> None:
    identity.set_password(engine, "hanna", PASSWORD)
    pages = client.application.test_client()
    csrf = sign_in(pages, "hanna")
    r = pages.post("/tokens", data={"csrf": csrf, "name": "Mitt skript", "days": "30"})
    assert r.status_code == 201
    value = re.search(r"<code class=\"token\">([^<]+)</code>", r.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert client.get("/api/me", headers={"Authorization": f"Bearer {value}"}).get_json()["name"] == "hanna"
    listed = pages.get("/tokens").get_data(as_text=True)
    assert "Mitt skript" in listed and value not in listed
    with engine.db.read() as s:
        token_id = s.execute(sa.select(ApiToken.id).where(ApiToken.name == "Mitt skript")).scalar_one()
    assert pages.post(f"/tokens/{token_id}/revoke", data={"csrf": csrf}).status_code == 302
    assert client.get("/api/me", headers={"Authorization": f"Bearer {value}"}).status_code == 401
    assert "Återkallad av hanna" in pages.get("/tokens").get_data(as_text=True)


def test_a_role_change_by_import_is_logged_under_the_importer(engine: Engine, client: Any,
                                                               people: dict[str, Person]) -> None:
    body = "name;role\ngreta;Handläggare\n".encode()
    r = client.put("/api/org", data=body, headers={**people["admin"].headers, "Content-Type": "text/csv"})
    assert r.status_code == 200, r.get_json()
    with engine.db.read() as s:
        entry = s.execute(sa.select(SecurityEvent).where(SecurityEvent.type == "roles_changed",
                                                         SecurityEvent.subject == "greta")).scalars().all()[-1]
    assert entry.actor == "admin" and entry.data == {"added": ["Handläggare"], "removed": ["granskare"]}
    # importing the same again changes no role, and logs nothing
    count = len(_log(engine))
    client.put("/api/org", data=body, headers={**people["admin"].headers, "Content-Type": "text/csv"})
    assert len(_log(engine)) == count
