"""Who reads the decision report, filters on it, the CLI's report and import, a process's own
unit, where one may start cases, and conflict of interest with no substitute present."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import FIXTURES, PASSWORD, ROOT, Web, fixture_bytes, sign_in
from test_authority import ITEMS
from test_cli_and_contract import rutin

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.base.errors import Forbidden, InvalidInput
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import absence, delegation, notifications
from engine.service import cases, conflict_of_interest, inbox, org_data, tasks
from engine.store.models import Case

KS_ITEM = {"number": "1.2.4", "title": "Beslut att inte lämna ut allmän handling", "process_key": "ks_test",
           "element_id": "beslut", "delegate_role": "Kanslichef", "reporting": "protokollfors",
           "committee": "Kommunstyrelsen"}


@pytest.fixture
def town(engine: Engine) -> dict[str, Any]:
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    org_data.import_data(engine, {"people": [
        {"name": "ada", "roles": [{"role": "Nämndsekreterare", "unit": "bygglov"}]},
        {"name": "nils", "roles": [{"role": "Nämndsekreterare", "unit": "kansli"}]},
        {"name": "ola", "roles": ["Processägare"]},
    ]})
    identity.add_user(engine, "alice", ["admin"])
    identity.add_user(engine, "adam", ["admin"])
    delegation.import_items(engine, identity.get_actor(engine, "alice"), identity.get_actor(engine, "adam"),
                            [*ITEMS, KS_ITEM])
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    ks = fixture_bytes("bygglov_test.bpmn").replace(b'id="bygglov_test" name="Bygglov (test)"',
                                                    b'id="ks_test" name="Utl\xc3\xa4mnande (test)"')
    processes.deploy(engine, SYSTEM, ks.replace(b'name="Handl\xc3\xa4ggare bygglov"', b'name="Kanslichef"'))
    names = ["bea", "bo", "bert", "fia", "kim", "kalle", "mia", "rut", "ada", "nils", "ola", "alice"]
    return {"actors": {n: identity.get_actor(engine, n) for n in names},
            "http": {n: {"Authorization": f"Bearer {identity.issue_token(engine, n)}"} for n in names}}


def _decide(engine: Engine, key: str, unit: str, who: str, preparer: str) -> None:
    case = cases.start_case(engine, SYSTEM, key, {"area": 100}, f"{key}-{who}", org_unit=unit)
    done = tasks.complete(engine, identity.get_actor(engine, preparer), case["open_tasks"][0]["id"], {})
    tasks.complete(engine, identity.get_actor(engine, who), done["case"]["open_tasks"][0]["id"], {},
                   no_conflict_of_interest=True)


def test_the_report_is_read_by_its_committees_people(engine: Engine, client: Any, town: dict[str, Any]) -> None:
    _decide(engine, "bygglov_test", "bygglov", "bea", "bo")
    _decide(engine, "ks_test", "kansli", "kim", "kim")
    http = town["http"]

    def committees(who: str, query: str = "") -> Any:
        r = client.get(f"/api/delegation/decisions{query}", headers=http[who])
        return sorted(d["committee"] for d in r.get_json()["items"]) if r.status_code == 200 else r.status_code

    assert committees("rut") == ["Byggnadsnämnden", "Kommunstyrelsen"]  # the auditor
    assert committees("alice") == ["Byggnadsnämnden", "Kommunstyrelsen"]  # an admin
    assert committees("ada") == ["Byggnadsnämnden"]  # the building committee's secretary
    assert committees("nils") == ["Kommunstyrelsen"]  # the executive board's secretary
    assert committees("bert") == ["Byggnadsnämnden"]  # a manager of a unit under the committee
    assert committees("fia") == ["Byggnadsnämnden"]
    assert committees("kim") == ["Kommunstyrelsen"]
    assert committees("bert", "?committee=Kommunstyrelsen") == 403  # not another committee's
    assert committees("ada", "?committee=Kommunstyrelsen") == 403
    for outsider in ("bea", "kalle", "ola"):  # handlers and a process owner
        assert committees(outsider) == 403
    assert committees("rut", "?reporting=protokollfors") == ["Kommunstyrelsen"]
    assert committees("rut", "?reporting=anmals&committee=Byggnadsnämnden") == ["Byggnadsnämnden"]
    assert committees("rut", "?reporting=ibland") == 422
    csv = client.get("/api/delegation/decisions?format=csv", headers=http["ada"]).get_data(as_text=True)
    assert "F.1.5" in csv and "1.2.4" not in csv


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_cli_imports_an_ordinance_as_drafts_or_as_set_up_and_prints_the_report(tmp_path: Path, backend: str) -> None:
    rutin(tmp_path, "users", "add", "anna", "--role", "admin")
    ordinance = str(ROOT / "workflows" / "demo-delegation.yaml")
    # one operator cannot name both the proposer and the approver
    old = rutin(tmp_path, "delegation", "import", ordinance, "--proposed-by", "anna", "--approved-by", "anna",
                check=False)
    assert old.returncode != 0
    assert "föreslagna av anna" in rutin(tmp_path, "delegation", "import", ordinance, "--proposed-by", "anna").stdout
    assert "godkända av systemet" in rutin(tmp_path, "delegation", "import", ordinance, "--approve").stdout

    from engine.base.settings import Settings
    from engine.core import Engine as RealEngine

    engine = RealEngine(Settings.from_env({"RUTIN_DATA_DIR": str(tmp_path / "var")}))
    try:
        items = delegation.list_items(engine, SYSTEM, include_all=True)
        drafts = [i for i in items if i["status"] == "draft"]
        approved = [i for i in items if i["status"] == "approved"]
        assert drafts and all(i["created_by"] == "anna" and i["approved_by"] is None for i in drafts)
        assert approved and all(i["approved_by"] == "system" and "inte granskad av en andra person"
                                in i["approval_note"] for i in approved)
    finally:
        engine.close()
    report = rutin(tmp_path, "delegation", "report", "--committee", "Byggnadsnämnden", "--from",
                   "2026-01-01T00:00:00Z", "--csv").stdout
    assert report.splitlines() == ["Beslutsdatum;Delegationspunkt;Beslut;Ärende;Utfall;Beslutsfattare;Roll;Grund;"
                                   "Nämnd;Anmälan;Ärende-id"]
    assert "0 beslut" in rutin(tmp_path, "delegation", "report").stdout


def test_a_process_has_a_unit_of_its_own(engine: Engine, client: Any, town: dict[str, Any]) -> None:
    http = town["http"]
    assert client.get("/api/processes/bygglov_test/unit", headers=http["bea"]).get_json()["unit"] is None
    # the diagram may name it ...
    xml = fixture_bytes("bygglov_test.bpmn").replace(
        b'<bpmn:laneSet id="ls">', b'<bpmn:extensionElements><camunda:properties><camunda:property name="rutin:unit" '
        b'value="bygglov"/></camunda:properties></bpmn:extensionElements><bpmn:laneSet id="ls">')
    processes.deploy(engine, SYSTEM, xml, approve_as_admin=False)
    processes.approve(engine, town["actors"]["ola"], "bygglov_test", 2)
    got = client.get("/api/processes/bygglov_test/unit", headers=http["bea"]).get_json()
    assert (got["unit"], got["source"]) == ("bygglov", "diagram")
    # ... and a holder of its starter role (bea, in that unit) starts one there without naming it
    case = cases.start_case(engine, town["actors"]["bea"], "bygglov_test", {"area": 10})
    assert case["org_unit"] == "bygglov"
    assert case["open_tasks"][0]["id"] in {t["id"] for t in inbox.list_tasks(engine, town["actors"]["bea"])["items"]}
    # ... and the process owner chooses it
    assert client.put("/api/processes/bygglov_test/unit", json={"unit": "bygglov-norr"},
                      headers=http["bert"]).status_code == 403
    assert client.put("/api/processes/bygglov_test/unit", json={"unit": "finns-inte"},
                      headers=http["ola"]).status_code == 422
    r = client.put("/api/processes/bygglov_test/unit", json={"unit": "bygglov-norr"}, headers=http["ola"])
    assert r.status_code == 200 and (r.get_json()["unit"], r.get_json()["source"]) == ("bygglov-norr", "owner")
    r = client.post("/api/processes/bygglov_test/cases", json={"data": {"area": 1}}, headers=http["bea"])
    assert r.status_code == 201 and r.get_json()["org_unit"] == "bygglov-norr"
    assert client.put("/api/processes/bygglov_test/unit", json={"unit": None},
                      headers=http["ola"]).get_json()["source"] == "diagram"


def test_one_starts_cases_only_with_a_starter_role_in_units_one_holds_it_in(
        engine: Engine, client: Any, town: dict[str, Any]) -> None:
    """bygglov_test's start lies in the lane Handläggare bygglov (an alias of Bygglovshandläggare):
    its holders start cases where they hold it and below; nobody else but administrators."""
    http = town["http"]

    def start(who: str, unit: str | None) -> Any:
        body: dict[str, Any] = {"data": {"area": 1}, **({"org_unit": unit} if unit else {})}
        return client.post("/api/processes/bygglov_test/cases", json=body, headers=http[who])

    assert start("bea", "bygglov").status_code == 201
    assert start("bea", "bygglov-norr").status_code == 201  # a unit below the one she holds the role in
    assert start("alice", "kansli").status_code == 201  # an administrator
    with engine.db.read() as s:
        before = s.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one()
    for who, unit in (("fia", "bygglov"),  # the administration's manager holds no starter role
                      ("ola", "kansli"),  # a role held across the whole group, but not a starter role
                      ("mia", "bygglov"),  # a handler of the role in another unit
                      ("bea", "sbf"),  # the role is hers in a unit below, not in the administration
                      ("bea", None),  # a case without a unit needs the role across the group
                      ("kalle", "bygglov"), ("rut", "bygglov")):  # another role; the auditor
        r = start(who, unit)
        assert r.status_code == 403, (who, unit)
        assert r.get_json()["detail"].startswith("Du har") and "starta ärenden" in r.get_json()["detail"], who
    # a person with no role in the unit is told so; one with no role at all, only that (issue 16)
    stranger = {"Authorization": f"Bearer {identity.issue_token(engine, identity.add_user(engine, 'sam', ['Miljöinspektör'], unit='miljo').name)}"}
    r = client.post("/api/processes/bygglov_test/cases", json={"org_unit": "bygglov"}, headers=stranger)
    assert r.status_code == 403 and "Bygglovsenheten" in r.get_json()["detail"]
    assert client.post("/api/processes/bygglov_test/cases", json={}, headers=stranger).status_code == 403
    nobody = {"Authorization": f"Bearer {identity.issue_token(engine, identity.add_user(engine, 'sixten', []).name)}"}
    r = client.post("/api/processes/bygglov_test/cases", json={"org_unit": "bygglov"}, headers=nobody)
    assert r.status_code == 403 and r.get_json()["detail"] == identity.NO_ROLE
    with engine.db.read() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one() == before


def test_drafts_of_the_ordinance_are_not_for_everyone(engine: Engine, client: Any, town: dict[str, Any]) -> None:
    delegation.propose(engine, town["actors"]["alice"], {**ITEMS[0], "title": "Förslag"})
    for who, allowed in (("bea", False), ("bert", False), ("ola", True), ("rut", True), ("alice", True)):
        r = client.get("/api/delegation/items?all=true", headers=town["http"][who])
        assert (r.status_code == 200) is allowed, who
        if allowed:
            assert "Förslag" in {i["title"] for i in r.get_json()["items"]}
    listing = client.get("/api/delegation/items", headers=town["http"]["bea"]).get_json()["items"]
    assert {i["status"] for i in listing} == {"approved"}


def test_jav_without_a_present_substitute_tells_the_manager_and_locks_the_declarer_out(
        engine: Engine, town: dict[str, Any], clock: ManualClock) -> None:
    actors = town["actors"]
    now = clock.now()
    absence.register(engine, SYSTEM, "bert", now, now + timedelta(days=10))  # the substitute is away
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-J", org_unit="bygglov")
    decision = tasks.complete(engine, actors["bo"], case["open_tasks"][0]["id"], {})["case"]["open_tasks"][0]["id"]
    tasks.claim(engine, actors["bea"], decision)
    routed = conflict_of_interest.declare_conflict(engine, actors["bea"], decision, "Sökanden är min syster")
    assert routed["assignee"] is None
    # Bygglovschef is away, so the manager above (the förvaltningschef) is told
    [note] = notifications.list_for(engine, actors["fia"])["items"]
    assert "Jäv" in note["subject"] and "Beslut om lov" in note["subject"]
    event = next(e for e in cases.get_case(engine, SYSTEM, case["id"])["history"]
                 if e["type"] == "conflict_of_interest_declared")
    assert (event["actor"], event["role"], event["data"]["notified"]) == ("bea", "Bygglovshandläggare", ["fia"])
    with pytest.raises(Forbidden):  # the declarer cannot take it back
        tasks.claim(engine, actors["bea"], decision)
    with pytest.raises(InvalidInput):  # nor be given it
        tasks.assign(engine, actors["fia"], decision, "bea")
    tasks.claim(engine, actors["bo"], decision)
    with pytest.raises(InvalidInput):
        tasks.hand_over(engine, actors["bo"], decision, "bea")
    tasks.complete(engine, actors["bo"], decision, {}, no_conflict_of_interest=True)


def test_the_report_page_lists_a_committees_decisions_by_period_and_downloads_them(
        engine: Engine, client: Any, town: dict[str, Any], clock: ManualClock) -> None:
    _decide(engine, "bygglov_test", "bygglov", "bea", "bo")
    clock.advance(timedelta(days=40))
    _decide(engine, "bygglov_test", "bygglov", "fia", "bo")
    _decide(engine, "ks_test", "kansli", "kim", "kim")
    for name in ("ada", "bea"):
        identity.set_password(engine, name, PASSWORD)

    def signed_in(name: str) -> Any:
        browser = client.application.test_client()
        sign_in(browser, name)
        return browser

    ada = signed_in("ada")  # the building committee's secretary
    assert "Delegationsbeslut" in ada.get("/").get_data(as_text=True)  # offered in the menu
    page = ada.get("/delegationsbeslut").get_data(as_text=True)
    assert page.count("bygglov_test-") == 2 and "ks_test-kim" not in page  # only her committee's
    assert "Byggnadsnämnden" in page and "Kommunstyrelsen" not in page
    # the period is of Swedish dates, "till" included: the first decision was on 2 March 2026
    first = ada.get("/delegationsbeslut?fran=2026-03-01&till=2026-03-02").get_data(as_text=True)
    assert "bygglov_test-bea" in first and "bygglov_test-fia" not in first
    later = ada.get("/delegationsbeslut?fran=2026-03-03").get_data(as_text=True)
    assert "bygglov_test-fia" in later and "bygglov_test-bea" not in later
    assert "fran=2026-03-03" in later  # the download link keeps the selection
    csv = ada.get("/delegationsbeslut?format=csv&fran=2026-03-03")
    assert csv.mimetype == "text/csv" and "attachment" in csv.headers["Content-Disposition"]
    body = csv.get_data(as_text=True)
    assert body.count("\n") == 2 and "fia" in body and "bea" not in body  # header and one decision
    assert ada.get("/delegationsbeslut?namnd=Kommunstyrelsen").status_code == 403  # not hers
    bad = ada.get("/delegationsbeslut?fran=2-3-2026")
    assert bad.status_code == 422 and "ÅÅÅÅ-MM-DD" in bad.get_data(as_text=True)

    bea = signed_in("bea")  # a handler: no report for her
    assert "Delegationsbeslut" not in bea.get("/").get_data(as_text=True)
    assert bea.get("/delegationsbeslut").status_code == 403


def test_a_secretary_picks_the_period_in_the_browser_and_downloads_the_list(
        web: Web, town: dict[str, Any], engine: Engine) -> None:
    from playwright.sync_api import expect

    _decide(engine, "bygglov_test", "bygglov", "bea", "bo")
    web.clock.advance(timedelta(days=40))
    _decide(engine, "bygglov_test", "bygglov", "fia", "bo")
    web.user("ada", [])
    page = web.sign_in("ada")
    page.get_by_role("link", name="Delegationsbeslut").click()
    expect(page.get_by_role("heading", name="Delegationsbeslut")).to_be_visible()
    rows = page.locator("table.decisions tbody tr")
    expect(rows).to_have_count(2)
    page.get_by_label("Från och med").fill("2026-03-03")
    page.get_by_role("button", name="Visa").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("bygglov_test-fia")
    expect(rows.first).to_contain_text("Anmäls till nämnden")
    expect(rows.first).to_contain_text("Fia Förvaltningschef (överordnad)")  # by name; the grounds not said twice
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Ladda ner listan")).click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == "delegationsbeslut.csv"
    assert text.count("\n") == 2 and "bygglov_test-fia" in text
    page.screenshot(path="/tmp/delegation-page.png", full_page=True)
    assert web.errors == []
