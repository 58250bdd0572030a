"""What the pages say, over HTTP (Flask's test client): a case's statutory deadline is the same
whichever door its receipt date came in by, and a task page shows the case beside the task."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import FIXTURES, PASSWORD, ROOT, Person, fixture_bytes, sign_in
from test_pages import BIDRAG

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import delegation
from engine.service import cases, conflict_of_interest, org_data, tasks
from engine.store.models import Case

WORKFLOWS = ROOT / "workflows"


class TickingClock(ManualClock):
    """A clock that moves a millisecond each time it is read, as the real one does between two
    reads in one request (a manual clock answers the same instant, and hides what that changes)."""

    def now(self) -> datetime:
        """The clock's instant, one millisecond on from the last."""
        return self.advance(timedelta(milliseconds=1))


@pytest.fixture
def clock() -> ManualClock:
    """Monday 7 December 2026, a clock that ticks."""
    return TickingClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _beside(page: str) -> str:
    start = page.index('class="case-beside"')
    return page[start:page.index("</section>", start)]


# -- 1. the deadline does not depend on the door ------------------------------------------------------


def test_a_bygglov_registered_through_the_pages_has_the_deadline_of_one_started_through_the_api(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    processes.deploy(engine, SYSTEM, (WORKFLOWS / "bygglov.bpmn").read_bytes(), "bygglov.bpmn")
    # through the API: the receipt date with the start data
    api = client.post("/api/processes/bygglov/cases", json={"data": {"inkom": "2026-09-01"}, "business_key": "BN-API"},
                      headers=people["admin"].headers)
    assert api.status_code == 201, api.get_json()
    by_api = api.get_json()["deadline"]
    # through the pages: started bare, the receipt date entered in "Registrera ansökan"
    identity.set_password(engine, "admin", PASSWORD)
    token = sign_in(client, "admin")
    started = client.post("/processes/bygglov/cases", data={"csrf": token, "business_key": "BN-SIDA"})
    assert started.status_code == 302
    case_id = started.headers["Location"].rsplit("/", 1)[1]
    [step] = cases.get_case(engine, SYSTEM, case_id)["open_tasks"]
    page = client.get(f"/tasks/{step['id']}").get_data(as_text=True)
    done = client.post(f"/tasks/{step['id']}/complete",
                       data={"csrf": _csrf(page), "inkom": "2026-09-01", "fastighet": "Exempelby 1:2"})
    assert done.status_code == 302, done.get_data(as_text=True)
    by_pages = cases.get_case(engine, SYSTEM, case_id)["deadline"]

    assert by_api["deadline"] == by_pages["deadline"] == "2026-11-10T22:59:59+00:00"  # ten weeks from 1 Sept
    assert by_pages["late_by_s"] > 0 and by_pages["time_left_s"] == 0
    shown = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "2026-11-10" in shown and "2027-02-15" not in shown
    history = cases.get_case(engine, SYSTEM, case_id)["history"]
    assert "case_clock_recounted" in {e["type"] for e in history}
    assert "case_clock_not_recounted" not in {e["type"] for e in history}


# -- 2. the case beside every task ----------------------------------------------------------------------

DECISION_ITEM = {
    "number": "F.1.5", "title": "Bygglov inom detaljplan, högst 200 m²", "process_key": "bygglov_test",
    "element_id": "beslut", "legal_basis": "PBL 9 kap. 30–32 §§", "delegate_role": "Bygglovshandläggare",
    "substitute_role": "Bygglovschef", "superior_may_decide": True, "limit": "area <= 200",
    "reporting": "anmals", "committee": "Byggnadsnämnden"}


def _town(engine: Engine) -> None:
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    identity.add_user(engine, "alice", ["admin"])
    identity.add_user(engine, "adam", ["admin"])
    delegation.import_items(engine, identity.get_actor(engine, "alice"), identity.get_actor(engine, "adam"),
                            [DECISION_ITEM])
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))


def test_the_decision_page_shows_the_case_its_steps_the_delegation_item_and_the_jav_declaration(
        engine: Engine, client: Any) -> None:
    _town(engine)
    bea = identity.get_actor(engine, "bea")
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 150}, "BN-150", org_unit="bygglov")
    first = case["open_tasks"][0]
    tasks.comment(engine, bea, task_id=first["id"], text="Ritningarna saknar fasad mot öster.")
    [decision] = tasks.complete(engine, bea, first["id"], {"granskat": True})["case"]["open_tasks"]
    conflict_of_interest.declare_conflict(engine, bea, decision["id"], "Sökanden är min granne")

    identity.set_password(engine, "bert", PASSWORD)
    sign_in(client, "bert")
    page = client.get(f"/tasks/{decision['id']}").get_data(as_text=True)
    beside = _beside(page)
    # the case's data, by the labels of the forms that collected it
    assert re.search(r"Byggnadsarea \(m²\)</dt><dd>150</dd>", beside)
    assert re.search(r"Ansökan är granskad</dt><dd>Ja</dd>", beside)
    # the earlier step: who by name, when, on time
    step = re.search(r'<li data-task-id="[^"]+"><strong>Granska ansökan</strong>(.*?)</li>', beside, re.S)
    assert step and "Bea Bygg" in step.group(1) and "i tid" in step.group(1) and "2026-12-07" in step.group(1)
    # the comment made at the earlier step, by name
    assert "Ritningarna saknar fasad mot öster." in page and "Bea Bygg, 2026-12-07" in page
    # the delegation item, and who declared jäv: the reader decides as substitute
    assert "punkt F.1.5: Bygglov inom detaljplan, högst 200 m²" in page
    assert re.search(r"Jäv anmält av Bea Bygg .*Sökanden är min granne.*\s*Du beslutar som ersättare", page)
    # never a login where a person is meant (a picker's option values are the form's, not read)
    assert not re.search(r"\bbea\b", re.sub(r'value="[^"]*"', "", page).replace("bea@", ""))


def test_the_case_beside_a_task_never_shows_the_engines_own_variables(engine: Engine, people: dict[str, Person],
                                                                       client: Any) -> None:
    processes.deploy(engine, SYSTEM, BIDRAG, "bidrag.bpmn")
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    case = cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-7")
    with engine.db.write() as s:  # what the engine keeps beside the forms' data
        row = s.get(Case, case["id"])
        row.data = {**(row.data or {}), "rutin_beslut": {"beslut": "f_ja"}, "sokande": "Föreningen Exempel",
                    "bilagor": ["plan.pdf", "budget.pdf"]}
    identity.set_password(engine, "hanna", PASSWORD)
    sign_in(client)
    page = client.get(f"/tasks/{case['open_tasks'][0]['id']}").get_data(as_text=True)
    beside = _beside(page)
    assert "rutin_beslut" not in beside and "f_ja" not in beside and "{" not in beside
    assert "Föreningen Exempel" in beside and "plan.pdf, budget.pdf" in beside and "[" not in beside


# -- 5. the inbox and the case list: search, filters, sorting, current step and deadline ------------------


def _rows(page: str, attr: str) -> list[str]:
    """The ids a list's rows carry (`attr`), in order."""
    return re.findall(rf'<tr (?:class="[^"]*" )?{attr}="([^"]+)"', page)


def test_the_inbox_opens_on_mine_and_searches_the_key_the_data_and_the_step(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    processes.deploy(engine, SYSTEM, BIDRAG, "bidrag.bpmn")
    processes.deploy(engine, SYSTEM, (WORKFLOWS / "bygglov.bpmn").read_bytes(), "bygglov.bpmn")
    hanna = people["hanna"].actor
    plain = cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-1")["open_tasks"][0]["id"]
    mine = cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-2")["open_tasks"][0]["id"]
    tasks.claim(engine, hanna, mine)
    permit = cases.start_case(engine, SYSTEM, "bygglov", {"inkom": "2026-12-01"}, "BN-9")
    identity.set_password(engine, "hanna", PASSWORD)
    sign_in(client)

    opened = client.get("/").get_data(as_text=True)
    assert re.search(r'aria-current="page" data-view="mine"', opened)
    assert _rows(opened, "data-task-id") == [mine]
    every = client.get("/?visa=all").get_data(as_text=True)
    assert set(_rows(every, "data-task-id")) == {plain, mine}  # the permit's step is not her role's
    assert _rows(client.get("/?visa=all&q=bid-1").get_data(as_text=True), "data-task-id") == [plain]
    assert _rows(client.get("/?visa=all&q=bevilja bidraget").get_data(as_text=True), "data-task-id") == [plain, mine]
    assert _rows(client.get("/?visa=all&q=finns-inte").get_data(as_text=True), "data-task-id") == []
    assert _rows(client.get("/?visa=all&process=bygglov").get_data(as_text=True), "data-task-id") == []
    # as the administrator sees it: the permit's step by its case's data, and by process
    identity.set_password(engine, "admin", PASSWORD)
    admin = client.application.test_client()
    sign_in(admin, "admin")
    [step] = permit["open_tasks"]
    assert _rows(admin.get("/?visa=all&q=2026-12-01").get_data(as_text=True), "data-task-id") == [step["id"]]
    assert _rows(admin.get("/?visa=all&process=bygglov").get_data(as_text=True), "data-task-id") == [step["id"]]
    # sorted by a column's header, a link that says the next order
    due = admin.get("/?visa=all&sortera=due").get_data(as_text=True)
    assert re.search(r'<th scope="col" aria-sort="ascending">\s*<a href="[^"]*ordning=desc[^"]*" class="sort" '
                     r'data-sort="due">Förfaller', due)


def test_the_case_list_searches_filters_and_shows_the_current_step_and_the_deadline(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    processes.deploy(engine, SYSTEM, (WORKFLOWS / "bygglov.bpmn").read_bytes(), "bygglov.bpmn")
    processes.deploy(engine, SYSTEM, BIDRAG, "bidrag.bpmn")
    late = cases.start_case(engine, SYSTEM, "bygglov", {"inkom": "2026-09-01"}, "BN-SEN")
    fresh = cases.start_case(engine, SYSTEM, "bygglov", {"inkom": "2026-12-04"}, "BN-NY")
    grant = cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-5")
    identity.set_password(engine, "admin", PASSWORD)
    sign_in(client, "admin")
    page = client.get("/cases").get_data(as_text=True)
    row = re.search(rf'<tr data-case-id="{late["id"]}" class="overdue">(.*?)</tr>', page, re.S)
    assert row and "Registrera ansökan" in row.group(1) and "2026-11-10" in row.group(1) and "Passerad" in row.group(1)
    row = re.search(rf'<tr data-case-id="{fresh["id"]}" class="">(.*?)</tr>', page, re.S)
    assert row and "2027-02-12" in row.group(1) and "Passerad" not in row.group(1)
    assert _rows(client.get("/cases?forfaller=forsenad").get_data(as_text=True), "data-case-id") == [late["id"]]
    assert _rows(client.get("/cases?q=bevilja").get_data(as_text=True), "data-case-id") == [grant["id"]]
    assert _rows(client.get("/cases?q=2026-12-04").get_data(as_text=True), "data-case-id") == [fresh["id"]]
    assert set(_rows(client.get("/cases?process=bygglov").get_data(as_text=True), "data-case-id")) == {
        late["id"], fresh["id"]}


def test_handing_a_task_to_someone_says_their_name_not_their_login(engine: Engine, client: Any) -> None:
    _town(engine)
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 150}, "BN-151", org_unit="bygglov")
    step = case["open_tasks"][0]["id"]
    identity.set_password(engine, "bert", PASSWORD)  # the unit's manager
    token = sign_in(client, "bert")
    done = client.post(f"/tasks/{step}/assign", data={"csrf": token, "user": "bea"}, follow_redirects=True)
    page = done.get_data(as_text=True)
    assert "Uppgiften är tilldelad Bea Bygg." in page
    assert re.search(r'class="assignee">Bea Bygg</dd>', page)
