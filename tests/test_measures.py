"""Process measures (ISO 9001 9.1): lead times, deadlines kept, steps on time, escalations, and
what stands open now; who reads them; the API and the page."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, Person, sign_in

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.base.errors import Forbidden, InvalidInput
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, measures, saved_views, tasks

MATT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="m" targetNamespace="https://rutin.example/test">
  <bpmn:process id="matt" name="Ansökan med tidsfrist" isExecutable="true">
    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="rutin:caseDeadline" value="P2W"/>
    </camunda:properties></bpmn:extensionElements>
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Handläggare">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>registrera</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>besluta</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="registrera"/>
    <bpmn:userTask id="registrera" name="Registrera ansökan">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="rutin:due" value="P1D"/>
        <camunda:property name="rutin:escalation" value="0:remind"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="registrera" targetRef="besluta"/>
    <bpmn:userTask id="besluta" name="Besluta"/>
    <bpmn:sequenceFlow id="f3" sourceRef="besluta" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()


def _finish(engine: Engine, case_id: str) -> None:
    [task] = cases.get_case(engine, SYSTEM, case_id)["open_tasks"]
    tasks.complete(engine, SYSTEM, task["id"])


@pytest.fixture
def history(engine: Engine, clock: ManualClock, people: dict[str, Person]) -> dict[str, Any]:
    """Three cases over five weeks: one done in three days, one done late, one still open."""
    processes.deploy(engine, SYSTEM, MATT)
    t0 = clock.now()  # Monday 2 March 2026, 09:00 in Stockholm
    a = cases.start_case(engine, SYSTEM, "matt", {}, "A")["id"]
    b = cases.start_case(engine, SYSTEM, "matt", {}, "B")["id"]
    clock.set(t0 + timedelta(hours=2))
    _finish(engine, a)  # registered in 2 hours: on time
    clock.set(t0 + timedelta(days=1, hours=15))  # past its due date, the end of the next day
    assert engine.scheduler.tick().fired == 1  # B's registration is due: its reminder goes out
    clock.set(t0 + timedelta(days=2))
    _finish(engine, b)  # registered after 48 hours: late
    clock.set(t0 + timedelta(days=3))
    _finish(engine, a)  # A decided after 3 days: within its two weeks
    clock.set(t0 + timedelta(days=20))
    _finish(engine, b)  # B decided after 20 days: past its two weeks
    c = cases.start_case(engine, SYSTEM, "matt", {}, "C")["id"]
    clock.set(t0 + timedelta(days=22, hours=15))
    engine.scheduler.tick()  # C's registration is due: reminded
    # C's two weeks end on Sunday 5 April, which moves past Easter Monday to Tuesday the 7th
    clock.set(t0 + timedelta(days=38))
    engine.scheduler.tick()
    return {"t0": t0, "ids": {"A": a, "B": b, "C": c}}


def test_lead_times_deadlines_kept_and_what_stands_open(engine: Engine, history: dict[str, Any],
                                                       people: dict[str, Person]) -> None:
    found = measures.measures(engine, people["owner"].actor, process="matt")
    [p] = found["processes"]
    assert p["process_name"] == "Ansökan med tidsfrist"
    assert (p["started"], p["completed"], p["active"], p["incidents"]) == (3, 2, 1, 0)
    assert (p["lead_time_days_median"], p["lead_time_days_p90"]) == (11.5, 18.3)  # of 3 and 20 days
    assert (p["with_deadline"], p["within_deadline"], p["within_deadline_share"]) == (2, 1, 0.5)
    assert p["past_deadline"] == 1  # C, open 18 days
    steps = {st["element_id"]: st for st in found["steps"]}
    reg, dec = steps["registrera"], steps["besluta"]
    assert (reg["name"], reg["completed"], reg["duration_hours_median"]) == ("Registrera ansökan", 2, 25.0)
    assert (reg["with_due"], reg["on_time"], reg["on_time_share"]) == (2, 1, 0.5)
    assert (reg["escalations"], reg["open"], reg["overdue"]) == (2, 1, 1)
    assert (dec["completed"], dec["duration_hours_median"], dec["with_due"], dec["on_time_share"]) == (2, 251.0, 0, None)
    assert (dec["open"], dec["escalations"]) == (0, 0)


def test_a_period_counts_the_cases_finished_and_started_in_it(engine: Engine, history: dict[str, Any],
                                                               people: dict[str, Person]) -> None:
    t0 = history["t0"]
    found = measures.measures(engine, people["admin"].actor, process="matt",
                              since=t0 + timedelta(days=10), until=t0 + timedelta(days=30))
    [p] = found["processes"]
    assert (p["started"], p["completed"], p["lead_time_days_median"], p["within_deadline_share"]) == (1, 1, 20.0, 0.0)
    steps = {st["element_id"]: st for st in found["steps"]}
    assert steps["besluta"]["completed"] == 1 and steps["registrera"]["completed"] == 0
    assert steps["registrera"]["escalations"] == 1  # C's, on day 22; B's was on day 1
    assert (p["active"], steps["registrera"]["open"]) == (1, 1)  # what stands now, whatever the period
    with pytest.raises(InvalidInput):
        measures.measures(engine, people["admin"].actor, since=t0, until=t0)


def test_a_period_s_measures_read_no_table_whole(engine: Engine, history: dict[str, Any],
                                                people: dict[str, Person]) -> None:
    """Each of a process's measures is found through an index (migration 0032): the period's
    escalations among all the events, its started cases, its finished steps. SQLite's plans, which
    do not depend on the table's statistics."""
    if not engine.db.is_sqlite:
        pytest.skip("the plans asserted are SQLite's")
    t0 = history["t0"]
    statements: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(engine.db.reader, "before_cursor_execute", seen)
    try:
        measures.measures(engine, people["admin"].actor, process="matt",
                          since=t0 + timedelta(days=10), until=t0 + timedelta(days=30))
    finally:
        sa.event.remove(engine.db.reader, "before_cursor_execute", seen)
    scans = []
    with engine.db.reader.connect() as conn:
        for statement, parameters in statements:
            for *_ids, detail in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters):
                if re.match(r"SCAN (cases|human_tasks|case_events)\b", detail):
                    scans.append((detail, " ".join(statement.split())[:120]))
    assert len(statements) >= 5 and scans == []


def test_lead_time_counts_from_the_day_of_receipt_when_the_case_holds_one(
        engine: Engine, clock: ManualClock, people: dict[str, Person]) -> None:
    # Handling time runs from when the application came in: one received the Wednesday before
    # it was registered on Monday 2 March, and decided on Thursday, took 8 days, not 3.
    inkom = MATT.decode().replace('id="matt" name="Ansökan med tidsfrist"', 'id="inkom" name="Med inkomstdag"')
    inkom = inkom.replace('<camunda:property name="rutin:caseDeadline" value="P2W"/>',
                          '<camunda:property name="rutin:caseDeadline" value="P2W"/>'
                          '<camunda:property name="rutin:caseDeadlineFrom" value="inkom"/>')
    processes.deploy(engine, SYSTEM, inkom.encode())
    t0 = clock.now()  # Monday 2 March 2026, 09:00 in Stockholm
    received = cases.start_case(engine, SYSTEM, "inkom", {"inkom": "2026-02-25"}, "R")["id"]
    without = cases.start_case(engine, SYSTEM, "inkom", {}, "U")["id"]
    for case_id in (received, without):
        _finish(engine, case_id)
    clock.set(t0 + timedelta(days=3))
    for case_id in (received, without):
        _finish(engine, case_id)
    [p] = measures.measures(engine, people["admin"].actor, process="inkom")["processes"]
    # From 25 February 00:00 Swedish time to 5 March 09:00 is 8.375 days; the other case took 3.
    # Counted from the start in Rutin both would be 3 days (median 3.0).
    assert (p["completed"], p["lead_time_days_median"], p["lead_time_days_p90"]) == (2, 5.7, 7.8)
    assert measures.lead_time_origin(t0, None) == t0


def test_owners_auditors_and_admins_read_the_measures_no_one_else(engine: Engine, history: dict[str, Any],
                                                                   people: dict[str, Person]) -> None:
    identity.add_user(engine, "revisor", ["auditor"])
    auditor = identity.get_actor(engine, "revisor")
    for reader in (people["owner"].actor, people["admin"].actor, auditor):
        assert "matt" in [p["process_key"] for p in measures.measures(engine, reader)["processes"]]
    for other in ("hanna", "stina", "designer"):
        with pytest.raises(Forbidden):
            measures.measures(engine, people[other].actor)
    # an owner of another process reads only their own
    other = MATT.decode().replace('id="matt" name="Ansökan med tidsfrist"', 'id="annan" name="Annan process"')
    other = other.replace('<camunda:property name="rutin:caseDeadline" value="P2W"/>',
                          '<camunda:property name="rutin:caseDeadline" value="P2W"/>'
                          '<camunda:property name="rutin:owner" value="Kvalitetsstrateg"/>')
    processes.deploy(engine, SYSTEM, other.encode())
    identity.add_user(engine, "kerstin", ["Kvalitetsstrateg"])
    kerstin = identity.get_actor(engine, "kerstin")
    assert [p["process_key"] for p in measures.measures(engine, kerstin)["processes"]] == ["annan"]
    with pytest.raises(Forbidden):
        measures.measures(engine, kerstin, process="matt")
    assert {"annan", "matt"} <= {p["process_key"] for p in measures.measures(engine, auditor)["processes"]}


def test_the_api_and_the_page(engine: Engine, history: dict[str, Any], people: dict[str, Person], client: Any) -> None:
    owner = people["owner"]
    found = client.get("/api/measures?process=matt&from=2026-03-12T00:00:00Z", headers=owner.headers)
    assert found.status_code == 200
    assert found.get_json()["processes"][0]["completed"] == 1  # B, on day 20
    assert client.get("/api/measures?from=igår", headers=owner.headers).status_code == 422
    assert client.get("/api/measures", headers=people["hanna"].headers).status_code == 403

    identity.set_password(engine, "owner", PASSWORD)
    sign_in(client, "owner")
    assert "Mätetal" in client.get("/").get_data(as_text=True)  # in the owner's menu
    listing = client.get("/matetal").get_data(as_text=True)
    assert "Ansökan med tidsfrist" in listing and "11,5" in listing and "50 %" in listing
    assert "Registrera ansökan" not in listing  # the steps show for a chosen process
    chosen = client.get("/matetal?process=matt&fran=2026-03-12").get_data(as_text=True)
    assert "Stegen i Ansökan med tidsfrist" in chosen and "Registrera ansökan" in chosen
    assert "432,0" in chosen  # B's decision, 18 days: the only one finished after 12 March
    assert client.get("/matetal?fran=12/3").status_code == 422
    # either table as CSV for the review's papers, the period kept: semicolons, decimal commas
    assert 'href="/matetal?format=csv&amp;process=matt&amp;fran=2026-03-12"' in chosen
    steps_csv = client.get("/matetal?format=csv&process=matt&fran=2026-03-12")
    assert steps_csv.mimetype == "text/csv" and "matetal.csv" in steps_csv.headers["Content-Disposition"]
    lines = steps_csv.get_data(as_text=True).splitlines()
    assert lines[0].startswith("element_id;name;completed;duration_hours_median")
    assert "besluta;Besluta;1;432,0;432,0;0;0;;0;0;0" in lines
    processes_csv = client.get("/api/measures?format=csv", headers=owner.headers).get_data(as_text=True)
    assert processes_csv.splitlines()[0].startswith("process_key;process_name;started;completed")
    assert any(line.startswith("matt;Ansökan med tidsfrist;3;2;11,5;18,3;2;1;0,5;1;1;0")
               for line in processes_csv.splitlines())


def test_each_number_links_to_the_cases_behind_it(engine: Engine, history: dict[str, Any],
                                                   people: dict[str, Person], client: Any) -> None:
    ids = history["ids"]
    identity.set_password(engine, "admin", PASSWORD)
    sign_in(client, "admin")
    page = client.get("/matetal?fran=2026-03-01&till=2026-03-31").get_data(as_text=True)
    links = {html.unescape(m.group(1)): m.group(2) for m in re.finditer(r'<a href="(/cases\?[^"]+)"[^>]*>([^<]+)</a>', page)}

    def behind(href: str) -> set[str]:
        listed = client.get(href).get_data(as_text=True)
        return set(re.findall(r'<tr data-case-id="([^"]+)"', listed))

    by_text = {text.strip(): href for href, text in links.items()}
    assert behind(by_text["3"]) == {ids["A"], ids["B"], ids["C"]}  # started in March
    assert behind(by_text["2"]) == {ids["A"], ids["B"]}  # finished in March
    assert behind(by_text["utanför tidsfristen 1"]) == {ids["B"]}  # finished after its two weeks
    inom = next(h for h in links if "matetal=inom" in h)
    assert behind(inom) == {ids["A"]}
    active = next(h for h in links if "matetal=pagaende" in h)
    assert behind(active) == {ids["C"]}
    late = next(h for h in links if "matetal=sena" in h)
    assert behind(late) == {ids["C"]}
    # the list says which number it stands behind; a period that is not one is no filter
    listed = client.get(by_text["utanför tidsfristen 1"]).get_data(as_text=True)
    assert "Ärendena bakom mätetalet: Ansökan med tidsfrist, avslutade efter tidsfristen 2026-03-01–2026-03-31" in listed
    assert client.get("/cases?matetal=utanfor&fran=igår").status_code == 200
    # following a measure's link does not change the view the person keeps
    assert saved_views.get(engine, people["admin"].actor, "cases") == {}
