"""Who may start a case: starter roles read from every dialect, held in the case's unit or above
(or across the group), every employee where the diagram says so, named people, administrators;
the pages offer "Starta" only to them; scheduled starts are the system's; and an auditor who also
holds another role acts under that role only."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import PASSWORD, Person, fixture_bytes, publish, sign_in

from bpmn.document import read_document
from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.base.errors import Forbidden
from engine.core import Engine
from engine.service import cases, org_data, tasks

NS = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
      'xmlns:flowable="http://flowable.org/bpmn" xmlns:activiti="http://activiti.org/bpmn" '
      'xmlns:rutin="https://rutin.example/bpmn" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
      'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"')


def _doc(attributes: str = "", extension: str = "", lanes: bool = False) -> bytes:
    laneset = ('<laneSet id="ls"><lane id="l1" name="Mottagare"><flowNodeRef>s</flowNodeRef></lane>'
               '<lane id="l2" name="Handläggare"><flowNodeRef>t</flowNodeRef></lane></laneSet>') if lanes else ""
    ext = f"<extensionElements>{extension}</extensionElements>" if extension else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><definitions {NS} id="d" targetNamespace="x">'
            f'<process id="p" isExecutable="true"{attributes}>{ext}{laneset}<startEvent id="s"/>'
            '<sequenceFlow id="f0" sourceRef="s" targetRef="x"/><scriptTask id="x" scriptFormat="python">'
            '<script>a = 1</script></scriptTask><sequenceFlow id="f1" sourceRef="x" targetRef="t"/>'
            '<userTask id="t" name="Pröva" camunda:candidateGroups="Granskare, Jurist"/>'
            '<sequenceFlow id="f2" sourceRef="t" targetRef="e"/><endEvent id="e"/></process></definitions>').encode()


def _prop(dialect: str, name: str, value: str) -> str:
    return f'<{dialect}:properties><{dialect}:property name="{name}" value="{value}"/></{dialect}:properties>'


READS = [
    ("camunda", _doc(' camunda:candidateStarterGroups="Registrator, Kontaktcenter" '
                     'camunda:candidateStarterUsers="anna"'),
     (["Registrator", "Kontaktcenter"], ["anna"], False, "camunda:candidateStarterGroups")),
    ("flowable", _doc(' flowable:candidateStarterGroups="Registrator"'),
     (["Registrator"], [], False, "flowable:candidateStarterGroups")),
    ("activiti", _doc(' activiti:candidateStarterUsers="anna"'), ([], ["anna"], False, "activiti:candidateStarterGroups")),
    ("rutin-attribute", _doc(' rutin:starterRoles="Registrator" rutin:starterUsers="anna"'),
     (["Registrator"], ["anna"], False, "rutin:starterRoles")),
    ("rutin-in-camunda", _doc(extension=_prop("camunda", "rutin:starterRoles", "Registrator")),
     (["Registrator"], [], False, "rutin:starterRoles")),
    ("rutin-in-zeebe", _doc(extension=_prop("zeebe", "rutin:starterRoles", "Registrator")),
     (["Registrator"], [], False, "rutin:starterRoles")),
    ("rutin-in-spiff", _doc(extension=_prop("spiffworkflow", "rutin:starterRoles", "Registrator")),
     (["Registrator"], [], False, "rutin:starterRoles")),
    ("everyone", _doc(' rutin:starterRoles="*"'), ([], [], True, "rutin:starterRoles")),
    ("everyone-in-swedish", _doc(' rutin:starterRoles="Alla"'), ([], [], True, "rutin:starterRoles")),
    ("rutin-over-camunda", _doc(' rutin:starterRoles="Registrator" camunda:candidateStarterGroups="Jurist"'),
     (["Registrator"], [], False, "rutin:starterRoles")),
    ("start-lane", _doc(lanes=True), (["Mottagare"], [], False, "lane")),
    ("first-step", _doc(), (["Granskare", "Jurist"], [], False, "first-step")),
]


@pytest.mark.parametrize(("data", "expected"), [r[1:] for r in READS], ids=[r[0] for r in READS])
def test_starter_roles_are_read_from_every_dialect(data: bytes, expected: tuple[Any, ...]) -> None:
    [proc] = read_document(data).processes
    found = proc.model.starters
    assert found is not None
    assert (found.roles, found.users, found.everyone, found.source) == expected


def test_names_that_are_expressions_name_nobody_and_a_diagram_naming_nobody_says_so() -> None:
    doc = read_document(_doc(' camunda:candidateStarterGroups="${grupp}"'))
    [proc] = doc.processes
    assert proc.model.starters is not None and proc.model.starters.roles == []
    codes = {d.code for d in doc.diagnostics}
    assert {"starter-expression", "no-starter"} <= codes
    no_step = (f'<?xml version="1.0"?><definitions {NS} id="d" targetNamespace="x"><process id="q" '
               'isExecutable="true"><startEvent id="s"/><sequenceFlow id="f" sourceRef="s" targetRef="e"/>'
               '<endEvent id="e"/></process></definitions>').encode()
    doc = read_document(no_step)
    assert [d.message for d in doc.diagnostics if d.code == "no-starter"] == [
        "Diagrammet anger inte vem som får starta ärenden (ingen startroll, ingen bana vid starten och inget "
        "användarsteg att utgå från); bara administratörer kan starta ärenden för hand. Ange rutin:starterRoles "
        "eller camunda:candidateStarterGroups på processen."]


REG = fixture_bytes("seq3.bpmn").replace(b'id="seq3" name="Tre steg" isExecutable="true"',
                                         b'id="reg" name="Registrering" isExecutable="true" '
                                         b'camunda:candidateStarterGroups="Registrator" camunda:candidateStarterUsers="hugo"'
                                         )  # seq3 declares the camunda namespace already (its forms)
ORG = {"units": [{"id": "forv", "name": "Förvaltningen"}, {"id": "enhet", "name": "Enheten", "parent": "forv"},
                 {"id": "under", "name": "Underenheten", "parent": "enhet"}],
       "people": [{"name": "rebecka", "roles": [{"role": "Registrator", "unit": "enhet"}]},
                  {"name": "rolf", "roles": ["Registrator"]}]}


@pytest.fixture
def office(engine: Engine, client: Any, people: dict[str, Person]) -> dict[str, Person]:
    org_data.import_data(engine, ORG)
    publish(client, people, REG)
    for name in ("rebecka", "rolf"):
        people[name] = Person(name, identity.issue_token(engine, name), identity.get_actor(engine, name))
    return people


@pytest.mark.parametrize(("who", "unit"), [("rebecka", "enhet"), ("rebecka", "under"), ("rolf", "forv"),
                                           ("rolf", None), ("hugo", None), ("hugo", "enhet"), ("admin", "under"),
                                           ("admin", None)])
def test_starters_start_where_they_hold_the_role_and_below(client: Any, office: dict[str, Person], who: str,
                                                           unit: str | None) -> None:
    body: dict[str, Any] = {"data": {}, **({"org_unit": unit} if unit else {})}
    r = client.post("/api/processes/reg/cases", json=body, headers=office[who].headers)
    assert r.status_code == 201, r.get_json()
    assert (r.get_json()["org_unit"], r.get_json()["started_by"]) == (unit, who)


def test_the_refusal_says_who_may_start_and_where(client: Any, office: dict[str, Person]) -> None:
    r = client.post("/api/processes/reg/cases", json={"org_unit": "forv"}, headers=office["rebecka"].headers)
    assert r.status_code == 403 and r.get_json()["type"] == "https://rutin.example/problems/forbidden"
    assert r.get_json()["detail"] == ("Du har ingen roll som får starta ärenden i processen Registrering. Det får den "
                                      "som har rollen Registrator och hugo i Förvaltningen eller en enhet ovanför den.")


def test_everyone_means_anyone_holding_a_role_in_the_organisation(engine: Engine, client: Any,
                                                                  people: dict[str, Person]) -> None:
    everyone = fixture_bytes("seq3.bpmn").replace(b'isExecutable="true"', b'isExecutable="true" rutin:starterRoles="*"'
                                                  ).replace(b"<bpmn:definitions ",
                                                            b'<bpmn:definitions xmlns:rutin="https://rutin.example/bpmn" ')
    publish(client, people, everyone)
    for who, status in (("greta", 201), ("owner", 201), ("stina", 403), ("designer", 403)):
        r = client.post("/api/processes/seq3/cases", json={}, headers=people[who].headers)
        assert r.status_code == status, who


def test_the_pages_offer_starting_only_to_whom_may(engine: Engine, client: Any, office: dict[str, Person]) -> None:
    offered: dict[str, tuple[bool, bool, list[str]]] = {}
    for who in ("rebecka", "hanna", "admin", "owner"):
        identity.set_password(engine, who, PASSWORD)
        sign_in(client, who)
        listing = client.get("/processes").get_data(as_text=True)
        page = client.get("/processes/reg").get_data(as_text=True)
        units = re.findall(r'<option value="([^"]*)">', page)
        offered[who] = ('href="/processes/reg#starta"' in listing, "Starta ärende" in page, units)
        assert "Får starta ärenden" in page and "Registrator, hugo" in page
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        client.post("/logout", data={"csrf": token})
    assert offered == {
        "rebecka": (True, True, ["enhet", "under"]),  # her unit and the one below it, not the process's none
        "hanna": (False, False, []),  # the lane's role: the diagram names the registrar instead
        "admin": (True, True, ["", "enhet", "forv", "under"]),  # by name: Enheten, Förvaltningen, …
        "owner": (False, False, []),
    }


def test_scheduled_starts_are_the_systems_and_ask_no_role(engine: Engine, clock: ManualClock,
                                                         people: dict[str, Person]) -> None:
    quarterly = fixture_bytes("timers.bpmn").replace(
        b'<bpmn:process id="trendanalys" name="Trendanalys" isExecutable="true">',
        b'<bpmn:process id="trendanalys" name="Trendanalys" isExecutable="true" rutin:starterRoles="Kvalitetsr\xc3\xa5d">'
    ).replace(b"<bpmn:definitions ", b'<bpmn:definitions xmlns:rutin="https://rutin.example/bpmn" ')
    clock.set(datetime(2026, 3, 30, 12, 0, tzinfo=UTC))
    from engine.catalogue import processes

    processes.deploy(engine, SYSTEM, quarterly)
    with pytest.raises(Forbidden):
        cases.start_case(engine, people["hanna"].actor, "trendanalys")
    clock.set(datetime(2026, 4, 1, 6, 0, 1, tzinfo=UTC))
    assert engine.scheduler.tick().kinds == {"start": 1}
    listed = cases.list_cases(engine, SYSTEM, process="trendanalys")
    assert [c["started_by"] for c in listed["items"]] == ["scheduler"]


def test_an_auditor_who_also_handles_cases_acts_under_that_role_only(engine: Engine, client: Any,
                                                                     people: dict[str, Person]) -> None:
    """Decided and documented: the auditor role grants reading only; another role held beside it
    works as it does for anyone, and what the auditor role lets one see is no standing to act."""
    publish(client, people, "seq3.bpmn")
    publish(client, people, "parallel.bpmn")
    other = cases.start_case(engine, people["hanna"].actor, "parallell", {})
    ruth = identity.add_user(engine, "ruth", ["auditor", "Handläggare"])  # also a case handler
    mine = cases.start_case(engine, ruth, "seq3", {})
    task = mine["open_tasks"][0]["id"]
    tasks.claim(engine, ruth, task)
    tasks.comment(engine, ruth, text="Klar", task_id=task)
    assert tasks.complete(engine, ruth, task, {})["case"]["open_tasks"][0]["name"] == "Steg två"
    # reading every case is no standing to comment on one, nor to approve anything
    only_seen = identity.add_user(engine, "rune", ["auditor", "Jurist"])  # no role in parallell
    assert cases.get_case(engine, only_seen, other["id"])["id"] == other["id"]
    with pytest.raises(Forbidden):
        tasks.comment(engine, only_seen, text="Synpunkt", case_id=other["id"])
    with pytest.raises(Forbidden):
        tasks.comment(engine, only_seen, text="Synpunkt", task_id=other["open_tasks"][0]["id"])
    with pytest.raises(Forbidden):
        cases.start_case(engine, only_seen, "seq3", {})
