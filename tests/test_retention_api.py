"""Records management through its public surfaces: the API (problem details in Swedish, nothing
written on a refusal), the `rutin retention` commands, and the process and case pages showing the
rule that applies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import PASSWORD, Person, publish
from test_retention import RULE, run_case

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.core import Engine
from engine.store.models import Case
from engine.store.retention_models import CullingRecord, RetentionHold, RetentionRule


@pytest.fixture
def archivist(engine: Engine, people: dict[str, Person]) -> Person:
    """An archive officer with a token."""
    identity.add_user(engine, "arkiv", ["arkivansvarig"])
    return Person("arkiv", identity.issue_token(engine, "arkiv"), identity.get_actor(engine, "arkiv"))


def _rows(engine: Engine, model: Any) -> int:
    with engine.db.read() as s:
        return int(s.execute(sa.select(sa.func.count()).select_from(model)).scalar_one())


def _signed_in(app: Any, engine: Engine, name: str) -> Any:
    from signin_helpers import login_csrf

    identity.set_password(engine, name, PASSWORD)
    browser = app.test_client()
    r = browser.post("/login", data={"csrf": login_csrf(browser), "name": name, "password": PASSWORD})
    assert r.status_code == 302
    return browser


def test_rules_through_the_api_need_two_people(client: Any, people: dict[str, Person], archivist: Person,
                                               engine: Engine) -> None:
    publish(client, people, "review.bpmn")
    admin = people["admin"].headers
    r = client.post("/api/retention/rules", json=RULE, headers=admin)
    assert r.status_code == 201, r.get_json()
    rule_id = r.get_json()["id"]
    r = client.post(f"/api/retention/rules/{rule_id}/approve", headers=admin)
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    assert "annan person" in r.get_json()["detail"]
    assert client.get("/api/retention/rules", headers=admin).get_json()["items"] == []
    r = client.post(f"/api/retention/rules/{rule_id}/approve", headers=archivist.headers)
    assert r.status_code == 200 and r.get_json()["status"] == "approved"
    r = client.get("/api/retention/rules?process=granskning&all=true", headers=admin)
    assert [v["status"] for v in r.get_json()["items"]] == ["approved"]
    assert client.post("/api/retention/rules/99999999999999999999/approve", headers=admin).status_code == 404


@pytest.mark.parametrize(("body", "status"), [
    ({**RULE, "years": "tio"}, 422), ({**RULE, "action": None}, 422), ({**RULE, "extra": 1}, 422),
    ({**RULE, "process_key": ["granskning"]}, 422), ({}, 422),
])
def test_a_bad_rule_through_the_api_is_a_problem_and_stores_nothing(body: dict[str, Any], status: int,
                                                                    client: Any, people: dict[str, Person],
                                                                    engine: Engine) -> None:
    publish(client, people, "review.bpmn")
    r = client.post("/api/retention/rules", json=body, headers=people["admin"].headers)
    assert r.status_code == status and r.mimetype == "application/problem+json", r.get_json()
    assert r.get_json()["detail"]
    r = client.post("/api/retention/rules", data="inte json", headers={**people["admin"].headers,
                                                                       "Content-Type": "application/json"})
    assert r.status_code == 400
    r = client.post("/api/retention/rules", json=RULE, headers=people["hanna"].headers)
    assert r.status_code == 403
    assert _rows(engine, RetentionRule) == 0


def test_hold_dry_run_cull_and_report_through_the_api(client: Any, people: dict[str, Person], archivist: Person,
                                                      engine: Engine, clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    held, culled = run_case(client, people), run_case(client, people, 300)
    rule_id = client.post("/api/retention/rules", json=RULE, headers=people["admin"].headers).get_json()["id"]
    client.post(f"/api/retention/rules/{rule_id}/approve", headers=archivist.headers)
    r = client.post(f"/api/cases/{held}/hold", json={"reason": ""}, headers=archivist.headers)
    assert r.status_code == 422 and _rows(engine, RetentionHold) == 0
    r = client.post(f"/api/cases/{held}/hold", json={"reason": "Begäran om utlämnande"},
                    headers=people["hanna"].headers)
    assert r.status_code == 403 and _rows(engine, RetentionHold) == 0
    r = client.post(f"/api/cases/{held}/hold", json={"reason": "Begäran om utlämnande"}, headers=archivist.headers)
    assert r.status_code == 201
    r = client.get(f"/api/cases/{held}/retention", headers=people["admin"].headers).get_json()
    assert r["rule"]["decision"]["ref"] == "KS 2025/117" and r["hold"]["reason"] == "Begäran om utlämnande"
    assert r["culled"] is None
    assert client.get(f"/api/cases/{held}/retention", headers=people["stina"].headers).status_code == 403

    clock.advance(timedelta(days=800))
    dry = client.get("/api/retention/cull", headers=people["admin"].headers).get_json()
    assert [c["case_id"] for c in dry["culled"]] == [culled] and [c["case_id"] for c in dry["held"]] == [held]
    assert _rows(engine, CullingRecord) == 0
    assert client.post("/api/retention/cull", headers=people["hanna"].headers).status_code == 403
    assert _rows(engine, CullingRecord) == 0
    done = client.post("/api/retention/cull", headers=archivist.headers).get_json()
    assert [c["case_id"] for c in done["culled"]] == [culled]
    r = client.get(f"/api/cases/{culled}/retention", headers=people["admin"].headers).get_json()
    assert r["culled"]["decision"]["body"] == "Kommunstyrelsen"
    csv = client.get("/api/retention/culled?format=csv", headers=people["admin"].headers)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data(as_text=True)
    assert text.startswith("Gallrat;Gallringsbeslut;Beslutande organ") and culled in text and held not in text
    assert client.get("/api/retention/culled?from=igår", headers=people["admin"].headers).status_code in (400, 422)


def test_the_commands(client: Any, people: dict[str, Person], archivist: Person, engine: Engine,
                      clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    from webapp import cli_engine
    from webapp.cli import main

    publish(client, people, "review.bpmn")
    case_id = run_case(client, people)
    monkeypatch.setattr(cli_engine, "engine_from_env", lambda: engine)
    runner = CliRunner()
    args = ["retention", "propose", "--by", "admin", "--process", "granskning", "--action", "gallras",
            "--years", "1", "--decision-ref", "KS 2025/117", "--decision-body", "Kommunstyrelsen",
            "--decision-date", "2025-06-10"]
    bad = runner.invoke(main, [*args[:-1], "igår"])
    assert bad.exit_code == 1 and "decision_date" in bad.output and _rows(engine, RetentionRule) == 0
    made = runner.invoke(main, args)
    assert made.exit_code == 0, made.output
    with engine.db.read() as s:
        rule_id = s.execute(sa.select(RetentionRule.id)).scalar_one()
    own = runner.invoke(main, ["retention", "approve", str(rule_id), "--by", "admin"])
    assert own.exit_code == 1 and "annan person" in own.output
    assert runner.invoke(main, ["retention", "approve", str(rule_id), "--by", "arkiv"]).exit_code == 0
    clock.advance(timedelta(days=400))
    dry = runner.invoke(main, ["retention", "cull", "--dry-run"])
    assert dry.exit_code == 0 and f"skulle gallras: {case_id}" in dry.output, dry.output
    with engine.db.read() as s:
        assert s.get(Case, case_id).status == "completed"  # type: ignore[union-attr]
    done = runner.invoke(main, ["retention", "cull"])
    assert done.exit_code == 0 and f"gallrat: {case_id}" in done.output, done.output
    report = runner.invoke(main, ["retention", "report", "--csv"])
    assert report.output.startswith("Gallrat;Gallringsbeslut") and case_id in report.output
    from webapp import cli_engine

    monkeypatch.setattr(cli_engine, "engine_from_env", lambda: engine)
    verified = runner.invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0 and "inga avvikelser" in verified.output, verified.output


def test_the_pages_show_the_rule_that_applies(app: Any, client: Any, people: dict[str, Person],
                                              archivist: Person, engine: Engine, clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    case_id = run_case(client, people)
    browser = _signed_in(app, engine, "admin")
    assert "Ingen gallringsregel" in browser.get("/processes/granskning").get_data(as_text=True)
    rule_id = client.post("/api/retention/rules", json=RULE, headers=people["admin"].headers).get_json()["id"]
    client.post(f"/api/retention/rules/{rule_id}/approve", headers=archivist.headers)
    page = browser.get("/processes/granskning").get_data(as_text=True)
    assert "Gallras 2 år efter avslut enligt KS 2025/117 (Kommunstyrelsen, 2025-06-10)" in page
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Gallras 2 år efter avslut enligt KS 2025/117" in page and "får gallras från" in page
    clock.advance(timedelta(days=800))
    client.post("/api/retention/cull", headers=archivist.headers)
    browser = _signed_in(app, engine, "admin")  # the earlier sign-in ended long ago
    page = browser.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Gallrat" in page and "enligt KS 2025/117 (Kommunstyrelsen, 2025-06-10)" in page
