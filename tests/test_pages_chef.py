"""The manager's workbench (over HTTP, Flask's test client; one test in Chromium): "Tilldela" offers
the people holding the step's role in its unit by name, with who is away, and an escalated task can
be handed back to a handläggare from the same picker; priority, due and follow-up dates changed on
the task page; the unit overview; and on the case page the deadline changes, the history filter and
retrying an incident."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import PASSWORD, Person, sign_in
from playwright.sync_api import expect
from test_pages_leaks import FEL

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import absence
from engine.service import cases, org_data, tasks

ORG = {
    "units": [
        {"id": "kommun", "name": "Exempelby kommun", "kind": "kommun", "manager_role": "Kommundirektör"},
        {"id": "bygg", "name": "Byggenheten", "kind": "enhet", "parent": "kommun", "manager_role": "Enhetschef"},
        {"id": "drift", "name": "Drift", "kind": "enhet", "parent": "kommun", "manager_role": "Driftchef"},
    ],
    "people": [
        {"name": "anna", "display_name": "Anna Direktör", "roles": [{"role": "Kommundirektör", "unit": "kommun"}]},
        {"name": "ebba", "display_name": "Ebba Chef", "roles": [{"role": "Enhetschef", "unit": "bygg"}]},
        {"name": "hans", "display_name": "Hans Handläggare", "roles": [{"role": "Handläggare", "unit": "bygg"}]},
        {"name": "hilda", "display_name": "Hilda Handläggare", "roles": [{"role": "Handläggare", "unit": "bygg"}]},
        {"name": "dora", "display_name": "Dora Drift", "roles": [{"role": "Handläggare", "unit": "drift"}]},
        {"name": "dan", "display_name": "Dan Driftchef", "roles": [{"role": "Driftchef", "unit": "drift"}]},
    ],
}


def _bpmn(ladder: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="utred" name="Utredning" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Handläggare">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>t</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Utred">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="rutin:due" value="PT1H"/>
        <camunda:property name="rutin:escalation" value="{ladder}"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


@pytest.fixture
def town(engine: Engine) -> None:
    org_data.import_data(engine, ORG)
    processes.deploy(engine, SYSTEM, _bpmn("0:reassign_manager"))
    for name in ("ebba", "dan", "hans"):
        identity.set_password(engine, name, PASSWORD)


def _picker(page: str) -> list[tuple[str, str, bool]]:
    """(value, text, disabled) of each person offered in the "Tilldela" select."""
    select = re.search(r'<select id="assign-user" name="user">(.*?)</select>', page, re.S)
    assert select, "no people picker on the page"
    return [(v, t.strip(), bool(d)) for v, d, t in
            re.findall(r'<option value="([^"]*)"( disabled)?>([^<]*)</option>', select.group(1)) if v]


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def test_the_manager_picks_from_the_role_holders_of_the_unit_by_name_and_sees_who_is_away(
        engine: Engine, town: None, client: Any, clock: ManualClock) -> None:
    now = clock.now()
    absence.register(engine, SYSTEM, "hilda", now - timedelta(days=1), now + timedelta(days=9), "semester")
    case = cases.start_case(engine, SYSTEM, "utred", {}, "U-1", org_unit="bygg")
    task = case["open_tasks"][0]["id"]
    sign_in(client, "ebba")
    page = client.get(f"/tasks/{task}").get_data(as_text=True)
    until = (now + timedelta(days=9)).astimezone(ZoneInfo("Europe/Stockholm"))
    assert _picker(page) == [
        ("hans", "Hans Handläggare", False),
        ("hilda", f"Hilda Handläggare (frånvarande till {until:%Y-%m-%d %H:%M})", True),
    ]
    # no free-text login box any more, and no one from another unit offered
    assert 'name="user" type="text"' not in page and "Dora" not in page
    token = _csrf(page)
    done = client.post(f"/tasks/{task}/assign", data={"csrf": token, "user": "hans"}, follow_redirects=True)
    assert "Uppgiften är tilldelad Hans Handläggare." in done.get_data(as_text=True)
    assert tasks.get_task(engine, SYSTEM, task)["assignee"] == "hans"


@pytest.mark.parametrize(("who", "said"), [
    ("dora", "Dora Drift har inte rollen som uppgiften kräver."),  # the role, but in another unit
    ("hilda", "Hilda Handläggare är frånvarande och kan inte få nya uppgifter; välj någon annan."),
    ("ingen-sadan", "Användaren 'ingen-sadan' finns inte."),
    ("", "Välj vem som ska få uppgiften."),
])
def test_a_person_not_offered_is_refused_and_the_task_stays_unassigned(
        engine: Engine, town: None, client: Any, clock: ManualClock, who: str, said: str) -> None:
    now = clock.now()
    absence.register(engine, SYSTEM, "hilda", now, now + timedelta(days=9))
    task = cases.start_case(engine, SYSTEM, "utred", {}, "U-2", org_unit="bygg")["open_tasks"][0]["id"]
    token = sign_in(client, "ebba")
    answer = client.post(f"/tasks/{task}/assign", data={"csrf": token, "user": who})
    assert answer.status_code in (400, 404, 422)
    assert said in html.unescape(answer.get_data(as_text=True))
    assert tasks.get_task(engine, SYSTEM, task)["assignee"] is None
    case_id = tasks.get_task(engine, SYSTEM, task)["case_id"]
    assert not [e for e in cases.get_case(engine, SYSTEM, case_id)["history"] if e["type"] == "task_assigned"]


def test_a_manager_of_another_unit_gets_no_picker_and_cannot_assign(
        engine: Engine, town: None, client: Any) -> None:
    task = cases.start_case(engine, SYSTEM, "utred", {}, "U-3", org_unit="bygg")["open_tasks"][0]["id"]
    identity.set_password(engine, "dan", PASSWORD)
    token = sign_in(client, "dan")
    page = client.get(f"/tasks/{task}")
    assert 'id="assign-user"' not in page.get_data(as_text=True)
    answer = client.post(f"/tasks/{task}/assign", data={"csrf": token, "user": "hans"})
    assert answer.status_code in (403, 404)
    assert tasks.get_task(engine, SYSTEM, task)["assignee"] is None


def test_an_escalated_task_is_handed_back_to_a_handlaggare_from_the_picker(
        engine: Engine, town: None, client: Any, clock: ManualClock) -> None:
    case = cases.start_case(engine, SYSTEM, "utred", {}, "U-4", org_unit="bygg")
    task = case["open_tasks"][0]["id"]
    tasks.claim(engine, identity.get_actor(engine, "hans"), task)
    clock.advance(timedelta(hours=2))
    while engine.scheduler.tick().fired:
        pass
    moved = tasks.get_task(engine, SYSTEM, task)
    assert moved["assignee"] is None and moved["role"] == "Enhetschef"  # escalated to the manager
    token = sign_in(client, "ebba")
    page = client.get(f"/tasks/{task}").get_data(as_text=True)
    offered = [v for v, _, _ in _picker(page)]
    assert "hans" in offered and "hilda" in offered and "dora" not in offered
    done = client.post(f"/tasks/{task}/assign", data={"csrf": token, "user": "hilda"}, follow_redirects=True)
    assert "Uppgiften är tilldelad Hilda Handläggare." in done.get_data(as_text=True)
    assert tasks.get_task(engine, SYSTEM, task)["assignee"] == "hilda"
    # and she can do it
    tasks.complete(engine, identity.get_actor(engine, "hilda"), task)
    assert cases.get_case(engine, SYSTEM, case["id"])["status"] == "completed"


# -- priority, due date and follow-up date on the page -----------------------------------------------


def _updates(engine: Engine, task: str) -> list[dict[str, Any]]:
    case_id = tasks.get_task(engine, SYSTEM, task)["case_id"]
    return [e for e in cases.get_case(engine, SYSTEM, case_id)["history"] if e["type"] == "task_updated"]


def _claimed(engine: Engine, key: str) -> str:
    task = cases.start_case(engine, SYSTEM, "utred", {}, key, org_unit="bygg")["open_tasks"][0]["id"]
    tasks.claim(engine, identity.get_actor(engine, "hans"), task)
    return task


def test_the_assignee_changes_priority_and_due_date_with_a_reason_on_the_page(
        engine: Engine, town: None, client: Any) -> None:
    task = _claimed(engine, "U-5")
    sign_in(client, "hans")
    page = client.get(f"/tasks/{task}").get_data(as_text=True)
    assert "Ändra prioritet och datum" in page
    done = client.post(f"/tasks/{task}/change", data={
        "csrf": _csrf(page), "prioritet": "70", "forfaller": "2026-12-18", "bevakas": "2026-12-14",
        "skal": "Väntar på komplettering"}, follow_redirects=True)
    assert "Ändringen är sparad." in done.get_data(as_text=True)
    now = tasks.get_task(engine, SYSTEM, task)
    assert now["priority"] == 70
    assert now["due"] == "2026-12-18T22:59:59+00:00"  # the end of the local day
    assert now["follow_up"] == "2026-12-14T22:59:59+00:00"
    [update] = _updates(engine, task)
    assert update["data"]["reason"] == "Väntar på komplettering"


def test_the_unit_manager_may_change_the_dates_too(engine: Engine, town: None, client: Any) -> None:
    task = _claimed(engine, "U-6")
    token = sign_in(client, "ebba")
    answer = client.post(f"/tasks/{task}/change", data={"csrf": token, "prioritet": "90", "forfaller": "2026-03-02",
                                                         "bevakas": "2026-12-20", "skal": ""})
    assert answer.status_code == 302, re.findall(r'(?:error|alert)[^>]*>([^<]+)<', answer.get_data(as_text=True))
    assert tasks.get_task(engine, SYSTEM, task)["priority"] == 90


@pytest.mark.parametrize(("form", "field", "said"), [
    ({"forfaller": "2026-12-20"}, "skal", "Skriv varför förfallodatumet ändras."),
    ({"forfaller": "2026-03-01", "skal": "x"}, "forfaller", "Datumet har redan passerat; välj i dag eller senare."),
    ({"forfaller": "imorgon", "skal": "x"}, "forfaller", "Ange datumet som ÅÅÅÅ-MM-DD, till exempel 2027-01-31."),
    ({"bevakas": "2026-02-30"}, "bevakas", "Ange datumet som ÅÅÅÅ-MM-DD, till exempel 2027-01-31."),
    ({"prioritet": "101"}, "prioritet", "Ange prioriteten som ett heltal från 0 till 100."),
    ({"prioritet": "-1"}, "prioritet", "Ange prioriteten som ett heltal från 0 till 100."),
    ({"prioritet": "50", "skal": "bara ett skäl"}, "prioritet", "Inget är ändrat."),
    ({"forfaller": "2026-12-20", "skal": "x" * 501}, "skal", "Skriv skälet med högst 500 tecken."),
])
def test_a_bad_change_is_refused_inline_in_swedish_and_nothing_changes(
        engine: Engine, town: None, client: Any, form: dict[str, str], field: str, said: str) -> None:
    task = _claimed(engine, "U-7")
    before = tasks.get_task(engine, SYSTEM, task)
    token = sign_in(client, "hans")
    answer = client.post(f"/tasks/{task}/change", data={"csrf": token, "prioritet": "50", "forfaller": "2026-03-02",
                                                         **form})
    page = html.unescape(answer.get_data(as_text=True))
    assert answer.status_code == 400
    assert f'<p class="field-error" id="andra-{field}-error">{said}</p>' in page
    assert f'<a href="#andra-{field}">{said}</a>' in page  # the error summary links to the field
    assert re.search(r'<details class="task-change" id="andra" open>', page)
    after = tasks.get_task(engine, SYSTEM, task)
    assert (after["priority"], after["due"], after["follow_up"]) == (before["priority"], before["due"],
                                                                     before["follow_up"])
    assert not _updates(engine, task)


@pytest.mark.parametrize("who", ["hilda", "dan"])
def test_someone_else_or_a_foreign_manager_cannot_change_the_dates(
        engine: Engine, town: None, client: Any, who: str) -> None:
    task = _claimed(engine, "U-8")
    identity.set_password(engine, who, PASSWORD)
    token = sign_in(client, who)
    page = client.get(f"/tasks/{task}")
    assert "Ändra prioritet och datum" not in page.get_data(as_text=True)
    answer = client.post(f"/tasks/{task}/change", data={"csrf": token, "prioritet": "99"})
    assert answer.status_code in (403, 404)
    assert tasks.get_task(engine, SYSTEM, task)["priority"] == 50 and not _updates(engine, task)


def test_a_change_without_the_forms_csrf_token_is_refused(engine: Engine, town: None, client: Any) -> None:
    task = _claimed(engine, "U-9")
    sign_in(client, "hans")
    answer = client.post(f"/tasks/{task}/change", data={"csrf": "förfalskad", "prioritet": "99"})
    assert answer.status_code == 400
    assert tasks.get_task(engine, SYSTEM, task)["priority"] == 50 and not _updates(engine, task)


# -- the unit overview ---------------------------------------------------------------------------------


def _cell(page: str, unit: str, person: str, column: str) -> str:
    section = re.search(rf'<section class="unit-overview" data-unit="{unit}">(.*?)</section>', page, re.S)
    assert section, f"no section for {unit}"
    row = re.search(rf'<tr data-person="{person}">(.*?)</tr>', section.group(1), re.S)
    assert row, f"no row for {person!r} in {unit}"
    cell = re.search(rf'<td class="{column}">(.*?)</td>', row.group(1), re.S)
    assert cell
    return cell.group(1)


def test_the_unit_overview_counts_open_overdue_and_due_soon_steps_per_person_with_links(
        engine: Engine, town: None, client: Any, clock: ManualClock) -> None:
    hans, hilda = identity.get_actor(engine, "hans"), identity.get_actor(engine, "hilda")
    late = _claimed(engine, "U-10")
    clock.advance(timedelta(minutes=30))  # each step is due an hour after it opens
    _claimed(engine, "U-11")
    tasks.update(engine, hans, _claimed(engine, "U-12"), {"due": "2026-03-20T12:00:00+01:00", "reason": "väntar"})
    mine = cases.start_case(engine, SYSTEM, "utred", {}, "U-13", org_unit="bygg")["open_tasks"][0]["id"]
    tasks.claim(engine, hilda, mine)
    cases.start_case(engine, SYSTEM, "utred", {}, "U-14", org_unit="bygg")  # not taken
    cases.start_case(engine, SYSTEM, "utred", {}, "D-1", org_unit="drift")  # another manager's unit
    clock.advance(timedelta(minutes=45))  # U-10 is now overdue, U-11 and the others due within the hour
    token = sign_in(client, "ebba")
    del token
    page = client.get("/enhet").get_data(as_text=True)
    assert "Enhetens ärenden" in page and "Drift" not in page
    assert ">Hans Handläggare</th>" in page and ">Hilda Handläggare</th>" in page
    assert ">3</a>" in _cell(page, "bygg", "hans", "open")
    assert ">1</a>" in _cell(page, "bygg", "hans", "overdue")
    assert ">2</a>" in _cell(page, "bygg", "hans", "due-soon")  # the late one and U-11; not U-12
    assert _cell(page, "bygg", "", "open").strip() == "1"  # the step nobody has taken
    link = re.search(r'href="([^"]+)"', _cell(page, "bygg", "hans", "overdue"))
    assert link
    inbox = client.get(html.unescape(link.group(1))).get_data(as_text=True)
    assert re.findall(r'href="/tasks/([^"#]+)"', inbox) == [late]
    assert ">5</a>" in _cell(page, "bygg", "totalt", "open")


def test_the_unit_overview_is_for_managers_only(engine: Engine, town: None, client: Any) -> None:
    cases.start_case(engine, SYSTEM, "utred", {}, "U-15", org_unit="bygg")
    sign_in(client, "hans")
    assert "Enhetens ärenden" not in client.get("/").get_data(as_text=True)
    answer = client.get("/enhet")
    assert answer.status_code == 403 and "Bygg" not in answer.get_data(as_text=True).replace("Byggenheten", "")
    sign_in(client, "dan")  # a manager of another unit sees only his own
    page = client.get("/enhet").get_data(as_text=True)
    assert 'data-unit="bygg"' not in page


def test_an_administrator_sees_every_unit(engine: Engine, town: None, client: Any) -> None:
    cases.start_case(engine, SYSTEM, "utred", {}, "U-16", org_unit="bygg")
    cases.start_case(engine, SYSTEM, "utred", {}, "D-2", org_unit="drift")
    identity.add_user(engine, "ada", ["admin"])
    identity.set_password(engine, "ada", PASSWORD)
    sign_in(client, "ada")
    page = client.get("/enhet").get_data(as_text=True)
    assert 'data-unit="bygg"' in page and 'data-unit="drift"' in page


# -- the case page: deadline changes and the history filter -----------------------------------------------


def _timeline(page: str) -> list[str]:
    return re.findall(r'<li class="event event-([a-z_]+)">', page)


def test_the_case_history_lists_deadline_changes_with_old_and_new_date_and_the_reason(
        engine: Engine, town: None, client: Any) -> None:
    task = _claimed(engine, "U-20")
    tasks.update(engine, identity.get_actor(engine, "hans"), task,
                 {"due": "2026-03-20T12:00:00+01:00", "reason": "Väntar på yttrande"})
    case_id = tasks.get_task(engine, SYSTEM, task)["case_id"]
    sign_in(client, "ebba")
    page = html.unescape(client.get(f"/cases/{case_id}").get_data(as_text=True))
    change = re.search(r'<div class="change change-due">(.*?)</div>', page, re.S)
    assert change and change.group(1) == "Förfaller: 2026-03-02 10:00 → 2026-03-20 12:00"
    assert "Skäl: Väntar på yttrande" in page


@pytest.mark.parametrize(("kind", "wanted"), [
    ("kommentarer", {"comment"}),
    ("tidsfrister", {"task_updated"}),
    ("overlamningar", {"task_assigned"}),
    ("steg", {"task_created", "task_claimed"}),
])
def test_the_case_history_is_filtered_by_kind_through_plain_links(
        engine: Engine, town: None, client: Any, kind: str, wanted: set[str]) -> None:
    case = cases.start_case(engine, SYSTEM, "utred", {}, "U-21", org_unit="bygg")
    task = case["open_tasks"][0]["id"]
    ebba, hans = identity.get_actor(engine, "ebba"), identity.get_actor(engine, "hans")
    tasks.assign(engine, ebba, task, "hilda")
    tasks.unclaim(engine, identity.get_actor(engine, "hilda"), task)
    tasks.claim(engine, hans, task)
    tasks.comment(engine, hans, task_id=task, text="Ringt sökanden.")
    tasks.update(engine, hans, task, {"priority": 80})
    sign_in(client, "ebba")
    whole = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert f'href="/cases/{case["id"]}?visa={kind}#historik"' in whole  # a link, no script needed
    page = client.get(f"/cases/{case['id']}?visa={kind}").get_data(as_text=True)
    shown = set(_timeline(page))
    assert shown and shown <= wanted | {"task_unclaimed"}
    assert wanted <= shown
    assert len(_timeline(page)) < len(_timeline(whole))


def test_an_unknown_history_kind_shows_everything(engine: Engine, town: None, client: Any) -> None:
    case = cases.start_case(engine, SYSTEM, "utred", {}, "U-22", org_unit="bygg")
    sign_in(client, "ebba")
    whole = _timeline(client.get(f"/cases/{case['id']}").get_data(as_text=True))
    assert _timeline(client.get(f"/cases/{case['id']}?visa=<script>").get_data(as_text=True)) == whole


# -- the case page: retrying an incident ---------------------------------------------------------------


def _incident(engine: Engine, bpmn: bytes = FEL) -> str:
    processes.deploy(engine, SYSTEM, bpmn, "fel.bpmn")
    fel = cases.start_case(engine, SYSTEM, "fel", {}, "FEL-1")
    tasks.complete(engine, SYSTEM, fel["open_tasks"][0]["id"], {}, None)
    assert cases.get_case(engine, SYSTEM, fel["id"])["status"] == "incident"
    return str(fel["id"])


def _retries(engine: Engine, case_id: str) -> int:
    return len([e for e in cases.get_case(engine, SYSTEM, case_id)["history"] if e["type"] == "incident_retried"])


def test_an_administrator_retries_an_incident_from_the_case_page_marked_in_the_diagram(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    case_id = _incident(engine)
    identity.set_password(engine, "admin", PASSWORD)
    sign_in(client, "admin")
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-incident="Gateway_anonym"' in page and "stannat här" in page
    done = client.post(f"/cases/{case_id}/retry", data={"csrf": _csrf(page)}, follow_redirects=True)
    assert "Ärendet stannade igen på samma sak" in done.get_data(as_text=True)  # nothing was corrected
    assert _retries(engine, case_id) == 1


def test_no_retry_for_a_handler_or_a_case_without_an_incident(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    case_id = _incident(engine)
    identity.set_password(engine, "hanna", PASSWORD)
    token = sign_in(client, "hanna")
    assert "Försök igen" not in client.get(f"/cases/{case_id}").get_data(as_text=True)
    answer = client.post(f"/cases/{case_id}/retry", data={"csrf": token})
    assert answer.status_code in (403, 404) and _retries(engine, case_id) == 0
    fine = cases.start_case(engine, SYSTEM, "fel", {}, "FEL-2")["id"]
    identity.set_password(engine, "admin", PASSWORD)
    token = sign_in(client, "admin")
    answer = client.post(f"/cases/{fine}/retry", data={"csrf": token})
    assert answer.status_code == 409
    assert "Ärendet har ingen incident att försöka igen." in html.unescape(answer.get_data(as_text=True))


# The incident process with a drawing (bpmn-js draws only what has diagram interchange).
FEL_DRAWN = FEL.replace(b"</bpmn:definitions>", b"""
  <bpmndi:BPMNDiagram id="dia" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
      xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI">
    <bpmndi:BPMNPlane id="plane" bpmnElement="fel">
      <bpmndi:BPMNShape id="s_di" bpmnElement="s"><dc:Bounds x="100" y="100" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="t_di" bpmnElement="t"><dc:Bounds x="180" y="78" width="100" height="80"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="g_di" bpmnElement="Gateway_anonym" isMarkerVisible="true">
        <dc:Bounds x="330" y="93" width="50" height="50"/></bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="e_di" bpmnElement="e"><dc:Bounds x="430" y="100" width="36" height="36"/></bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="136" y="118"/><di:waypoint x="180" y="118"/></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="280" y="118"/><di:waypoint x="330" y="118"/></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="fj_di" bpmnElement="Flow_ja"><di:waypoint x="380" y="118"/><di:waypoint x="430" y="118"/></bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="fn_di" bpmnElement="Flow_nej"><di:waypoint x="355" y="143"/><di:waypoint x="448" y="136"/></bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>""")


def test_the_stopped_element_is_marked_in_the_drawn_diagram_and_retried_in_the_browser(web: Any) -> None:
    case_id = _incident(web.engine, FEL_DRAWN)
    identity.set_password(web.engine, "admin", PASSWORD)
    page = web.sign_in("admin", start=f"/cases/{case_id}")
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-state", "ready")
    expect(diagram.locator('.djs-element.rutin-incident[data-element-id="Gateway_anonym"]')).to_have_count(1)
    page.get_by_role("button", name="Försök igen").click()
    expect(page.get_by_text("Ärendet stannade igen på samma sak")).to_be_visible()
    assert _retries(web.engine, case_id) == 1


def test_the_case_page_shows_each_steps_planned_and_actual_date_and_whether_on_time(
        engine: Engine, town: None, client: Any, clock: ManualClock) -> None:
    processes.deploy(engine, SYSTEM, _bpmn("0:remind").replace(b'<bpmn:flowNodeRef>t</bpmn:flowNodeRef>',
                                                                b'<bpmn:flowNodeRef>t</bpmn:flowNodeRef>'
                                                                b'<bpmn:flowNodeRef>t2</bpmn:flowNodeRef>')
                     .replace(b'<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>',
                              b'<bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="t2"/>'
                              b'<bpmn:userTask id="t2" name="Besluta"><bpmn:extensionElements><camunda:properties>'
                              b'<camunda:property name="rutin:due" value="PT1H"/></camunda:properties>'
                              b'</bpmn:extensionElements></bpmn:userTask>'
                              b'<bpmn:sequenceFlow id="f3" sourceRef="t2" targetRef="e"/>'))
    case = cases.start_case(engine, SYSTEM, "utred", {}, "U-30", org_unit="bygg")
    hans = identity.get_actor(engine, "hans")
    first = case["open_tasks"][0]["id"]
    clock.advance(timedelta(minutes=30))
    [second] = tasks.complete(engine, hans, first)["case"]["open_tasks"]
    clock.advance(timedelta(hours=2))
    tasks.complete(engine, hans, second["id"])
    sign_in(client, "ebba")
    page = client.get(f"/cases/{case['id']}").get_data(as_text=True)
    rows = re.findall(r'<tr data-task-id="[^"]+">\s*<td>([^<]+)</td>\s*<td class="planned">([^<]+)</td>\s*'
                      r'<td class="actual">([^<]+)</td>\s*<td class="verdict">(?:<span[^>]*>)?([^<]+)', page)
    assert rows == [("Utred", "2026-03-02 10:00", "2026-03-02 09:30", "i tid"),
                    ("Besluta", "2026-03-02 10:30", "2026-03-02 11:30", "sent")]
