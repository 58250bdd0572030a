"""Statutory case clocks and the process owner's deadline policies."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import Person, fixture_bytes, publish

from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks


def _complete_open(engine: Engine, case: dict[str, Any]) -> dict[str, Any]:
    return tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"], {})["case"]


def test_ten_weeks_from_receipt_paused_while_waiting_and_extended_once(engine: Engine, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    processes.deploy(engine, SYSTEM, fixture_bytes("case_clock.bpmn"))
    case = cases.start_case(engine, SYSTEM, "lov", {"inkom": "2026-02-27"}, "BN-2026-7")
    clock_state = cases.get_case(engine, SYSTEM, case["id"])["deadline"]
    # received Friday 27 February: ten weeks end Friday 8 May 2026 (end of day, Swedish time)
    assert clock_state["deadline"] == "2026-05-08T21:59:59+00:00" and clock_state["paused"] is False
    assert clock_state["time_left_s"] > 0

    case = _complete_open(engine, case)  # now waiting for the applicant
    assert cases.get_case(engine, SYSTEM, case["id"])["deadline"]["paused"] is True
    clock.advance(timedelta(days=14))
    case = _complete_open(engine, case)  # the completion arrived: the clock runs again, 14 days later
    state = cases.get_case(engine, SYSTEM, case["id"])["deadline"]
    assert state["paused"] is False and state["deadline"] == "2026-05-22T21:59:59+00:00"

    case = _complete_open(engine, case)  # extension decided: +10 weeks, once
    state = cases.get_case(engine, SYSTEM, case["id"])["deadline"]
    assert state["extended"] is True and state["deadline"] == "2026-07-31T21:59:59+00:00"

    clock.set(datetime(2026, 8, 10, 8, 0, tzinfo=UTC))  # 10 days late
    result = engine.scheduler.tick()
    assert result.kinds.get("case_deadline") == 1
    late = cases.get_case(engine, SYSTEM, case["id"])
    assert late["deadline"]["late_by_s"] > 9 * 86400 and late["deadline"]["late_weeks_started"] == 2
    types = [e["type"] for e in late["history"]]
    for kind in ("case_clock_started", "case_clock_paused", "case_clock_resumed", "case_clock_extended",
                 "case_deadline_passed"):
        assert kind in types
    assert engine.scheduler.tick().fired == 0


def test_policy_sets_due_dates_the_diagram_does_not(client: Any, people: dict[str, Person], engine: Engine,
                                                   clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    publish(client, people, "seq3.bpmn")
    body = {"tasks": {"a": {"due": "3WD", "escalation": "0:notify_manager"}}}
    assert client.put("/api/processes/seq3/policy", json=body, headers=people["hanna"].headers).status_code == 403
    bad = client.put("/api/processes/seq3/policy", json={"tasks": {"a": {"due": "snart"}}},
                     headers=people["owner"].headers)
    assert bad.status_code == 422
    assert client.put("/api/processes/seq3/policy", json={"tasks": {"zz": {"due": "P1D"}}},
                      headers=people["owner"].headers).status_code == 422
    ok = client.put("/api/processes/seq3/policy", json=body, headers=people["owner"].headers)
    assert ok.status_code == 200 and ok.get_json()["tasks"]["a"]["due"] == "3WD"
    case = client.post("/api/processes/seq3/cases", json={}, headers=people["hanna"].headers).get_json()
    assert case["open_tasks"][0]["due"] == "2026-03-05T22:59:59+00:00"  # Thursday, end of day


def _clock_bpmn(key: str, props: str, tasks_xml: str) -> bytes:
    """A process with a case clock (camunda:properties on the process) and tasks in a sequence."""
    ids = [t.split('id="')[1].split('"')[0] for t in tasks_xml.split("<bpmn:userTask")[1:]]
    chain = ["s", *ids, "e"]
    flows = "".join(f'<bpmn:sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>'
                    for i, (a, b) in enumerate(itertools.pairwise(chain)))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="{key}" name="Frist" isExecutable="true">
    <bpmn:extensionElements><camunda:properties>{props}</camunda:properties></bpmn:extensionElements>
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Bygglovshandläggare">{"".join(f"<bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in chain)}</bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>{tasks_xml}<bpmn:endEvent id="e"/>{flows}
  </bpmn:process>
</bpmn:definitions>""".encode()


def _events(engine: Engine, case_id: str, kind: str) -> list[dict[str, Any]]:
    return [e for e in cases.get_case(engine, SYSTEM, case_id)["history"] if e["type"] == kind]


def test_a_late_cases_notice_is_sent_once_however_often_the_case_changes_afterwards(
        engine: Engine, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))  # Monday 09:00
    processes.deploy(engine, SYSTEM, _clock_bpmn(
        "frist", '<camunda:property name="rutin:caseDeadline" value="2WD"/>',
        '<bpmn:userTask id="a" name="Utreda"/><bpmn:userTask id="b" name="Besluta"/>'
        '<bpmn:userTask id="c" name="Expediera"/>'))
    case = cases.start_case(engine, SYSTEM, "frist")
    assert case["deadline"]["deadline"] == "2026-03-04T22:59:59+00:00"  # Wednesday, end of day
    clock.set(datetime(2026, 3, 5, 7, 0, tzinfo=UTC))  # Thursday: late
    assert engine.scheduler.tick().kinds.get("case_deadline") == 1
    case = _complete_open(engine, case)  # the case goes on, late: every change syncs its clock
    assert engine.scheduler.tick().kinds.get("case_deadline") is None
    clock.advance(timedelta(days=1))
    case = _complete_open(engine, case)
    assert engine.scheduler.tick().kinds.get("case_deadline") is None
    assert len(_events(engine, case["id"], "case_deadline_passed")) == 1


def test_after_a_pause_the_deadline_moves_by_whole_days_to_a_working_day(engine: Engine, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    processes.deploy(engine, SYSTEM, fixture_bytes("case_clock.bpmn"))
    case = cases.start_case(engine, SYSTEM, "lov", {"inkom": "2026-02-27"})
    assert case["deadline"]["deadline"] == "2026-05-08T21:59:59+00:00"
    case = _complete_open(engine, case)  # paused Monday 2 March 09:00
    clock.set(datetime(2026, 3, 8, 14, 30, tzinfo=UTC))  # resumed six days (and some hours) later
    case = _complete_open(engine, case)
    # 8 May + 6 days is Thursday 14 May 2026, Kristi himmelsfärds dag: the next working day, end of day
    state = cases.get_case(engine, SYSTEM, case["id"])["deadline"]
    assert state["deadline"] == "2026-05-15T21:59:59+00:00"


def test_a_pause_and_the_extension_count_from_the_periods_own_end_not_from_the_moved_day(
        engine: Engine, clock: ManualClock) -> None:
    # Lag 1930:173 lets what is due on a non-working day be done on the next working day; the
    # period itself still ends on its own day, and what is added to it counts from there.
    clock.set(datetime(2026, 4, 10, 8, 0, tzinfo=UTC))
    processes.deploy(engine, SYSTEM, fixture_bytes("case_clock.bpmn"))
    case = cases.start_case(engine, SYSTEM, "lov", {"inkom": "2026-04-10"})
    # ten weeks from Friday 10 April end Friday 19 June, midsommarafton: moved to Monday 22 June
    assert case["deadline"]["deadline"] == "2026-06-22T21:59:59+00:00"
    case = _complete_open(engine, case)  # paused Friday 10 April
    clock.set(datetime(2026, 4, 14, 8, 0, tzinfo=UTC))  # four days later
    case = _complete_open(engine, case)
    # 19 June + 4 days = Tuesday 23 June (not 22 June + 4 = Friday 26 June)
    assert cases.get_case(engine, SYSTEM, case["id"])["deadline"]["deadline"] == "2026-06-23T21:59:59+00:00"

    other = cases.start_case(engine, SYSTEM, "lov", {"inkom": "2026-04-10"})
    other = _complete_open(engine, other)
    other = _complete_open(engine, other)  # paused and resumed the same day: no days added
    assert cases.get_case(engine, SYSTEM, other["id"])["deadline"]["deadline"] == "2026-06-22T21:59:59+00:00"
    other = _complete_open(engine, other)  # extended by ten weeks: from 19 June, Friday 28 August
    state = cases.get_case(engine, SYSTEM, other["id"])
    assert state["deadline"]["deadline"] == "2026-08-28T21:59:59+00:00"
    extended = next(e for e in state["history"] if e["type"] == "case_clock_extended")
    assert extended["data"]["from"] == "2026-06-22T21:59:59+00:00"


def test_an_extension_decided_after_the_deadline_is_refused_and_the_case_stays_late(
        engine: Engine, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    processes.deploy(engine, SYSTEM, fixture_bytes("case_clock.bpmn"))
    case = cases.start_case(engine, SYSTEM, "lov", {"inkom": "2026-02-27"})
    case = _complete_open(engine, case)
    case = _complete_open(engine, case)  # paused and resumed the same day: the deadline stays 8 May
    clock.set(datetime(2026, 5, 12, 8, 0, tzinfo=UTC))  # the extension is decided on 12 May, too late
    case = _complete_open(engine, case)
    state = cases.get_case(engine, SYSTEM, case["id"])["deadline"]
    assert state["deadline"] == "2026-05-08T21:59:59+00:00" and state["extended"] is False
    assert state["late_by_s"] > 3 * 86400
    [refused] = _events(engine, case["id"], "case_clock_not_extended")
    assert "före den ursprungliga tidsfristen" in refused["data"]["reason"]
    assert not _events(engine, case["id"], "case_clock_extended")


def test_a_case_deadline_is_warned_of_three_working_days_before(engine: Engine, clock: ManualClock) -> None:
    from conftest import FIXTURES

    from engine.authority.identity import get_actor
    from engine.routing import notifications
    from engine.service import org_data

    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    processes.deploy(engine, SYSTEM, fixture_bytes("case_clock.bpmn"))
    case = cases.start_case(engine, SYSTEM, "lov", {"inkom": "2026-02-27"}, "BN-9", org_unit="bygglov")
    case = _complete_open(engine, case)
    case = _complete_open(engine, case)  # deadline Friday 8 May; warning Tuesday 5 May 08:00
    clock.set(datetime(2026, 5, 5, 5, 59, tzinfo=UTC))
    assert "case_warning" not in engine.scheduler.tick().kinds
    clock.set(datetime(2026, 5, 5, 6, 1, tzinfo=UTC))
    assert engine.scheduler.tick().kinds == {"case_warning": 1}
    [note] = notifications.list_for(engine, get_actor(engine, "bert"))["items"]  # the unit's manager
    assert note["subject"] == "Tidsfristen närmar sig: ärende BN-9 ska avgöras senast 2026-05-08"
    assert "3 arbetsdagar" in note["body"]
    case = _complete_open(engine, case)  # extended to 17 July: warned again before the new deadline
    clock.set(datetime(2026, 7, 14, 6, 1, tzinfo=UTC))
    assert engine.scheduler.tick().kinds == {"case_warning": 1}
    assert len(_events(engine, case["id"], "case_deadline_warning")) == 2


def test_a_policy_for_every_step_fills_in_what_a_steps_own_entry_leaves_out(
        client: Any, people: dict[str, Person], clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    publish(client, people, "seq3.bpmn")
    body = {"tasks": {"*": {"due": "1WD", "follow_up": "P1D"}, "a": {"due": "3WD"}}}
    ok = client.put("/api/processes/seq3/policy", json=body, headers=people["owner"].headers)
    assert ok.status_code == 200 and set(ok.get_json()["tasks"]) == {"*", "a"}
    case = client.post("/api/processes/seq3/cases", json={}, headers=people["hanna"].headers).get_json()
    [a] = case["open_tasks"]
    assert a["due"] == "2026-03-05T22:59:59+00:00" and a["follow_up"] == "2026-03-03T22:59:59+00:00"
    done = client.post(f"/api/tasks/{a['id']}/complete", json={"data": {}}, headers=people["hanna"].headers)
    [b] = done.get_json()["case"]["open_tasks"]
    assert b["due"] == "2026-03-03T22:59:59+00:00"  # '*': one working day


def test_periods_longer_than_a_century_in_a_diagram_are_warned_of_and_never_a_500(engine: Engine) -> None:
    def diagram(process_props: str, task_props: str) -> bytes:
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="lang" isExecutable="true">
    <bpmn:extensionElements><camunda:properties>{process_props}</camunda:properties></bpmn:extensionElements>
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Steg"><bpmn:extensionElements><camunda:properties>{task_props}
    </camunda:properties></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()

    def prop(name: str, value: str) -> str:
        return f'<camunda:property name="{name}" value="{value}"/>'

    for process_props, task_props in (
            ("", prop("rutin:due", "P9999Y")),
            ("", prop("rutin:due", "99999999WD")),
            ("", prop("rutin:due", "P1D") + prop("rutin:escalation", "+P9999Y:remind")),
            (prop("rutin:escalation", "-99999999WD:remind"), prop("rutin:due", "P1D")),
            (prop("rutin:caseDeadline", "P9999Y"), "")):
        [deployed] = processes.deploy(engine, SYSTEM, diagram(process_props, task_props))
        warned = [d["message"] for d in deployed.diagnostics if d["severity"] == "warning"]
        assert any("längre än 100 år" in m for m in warned), warned
        case = cases.start_case(engine, SYSTEM, "lang")
        assert case["status"] == "active" and case["open_tasks"], (process_props, task_props)


def _restart_fixture() -> bytes:
    return fixture_bytes("case_clock.bpmn").replace(
        b'<camunda:property name="rutin:pausesCaseClock" value="true"/>',
        b'<camunda:property name="rutin:restartsCaseClock" value="true"/>'
        b'<camunda:property name="rutin:restartWithin" value="P3W"/>')


def test_an_order_to_complete_within_three_weeks_restarts_the_ten_weeks_from_the_completion(
        engine: Engine, clock: ManualClock) -> None:
    # PBL 9 kap. 27 §: ordered within three weeks of receipt, the ten weeks run from the day the
    # application is complete; ordered later, they run from receipt as if nothing happened.
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    processes.deploy(engine, SYSTEM, _restart_fixture())
    case = cases.start_case(engine, SYSTEM, "lov", {"inkom": "2026-03-02"})
    assert case["deadline"]["deadline"] == "2026-05-11T21:59:59+00:00"
    clock.set(datetime(2026, 3, 12, 8, 0, tzinfo=UTC))  # day 10: the order to complete
    case = _complete_open(engine, case)
    assert cases.get_case(engine, SYSTEM, case["id"])["deadline"]["paused"] is True
    clock.set(datetime(2026, 4, 9, 8, 0, tzinfo=UTC))  # the applicant completes on Thursday 9 April
    case = _complete_open(engine, case)
    state = cases.get_case(engine, SYSTEM, case["id"])
    # ten weeks from 9 April: Thursday 18 June (not 11 May + the four weeks it stood still)
    assert state["deadline"]["deadline"] == "2026-06-18T21:59:59+00:00" and state["deadline"]["paused"] is False
    assert "case_clock_restarted" in [e["type"] for e in state["history"]]

    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    late = cases.start_case(engine, SYSTEM, "lov", {"inkom": "2026-03-02"})
    clock.set(datetime(2026, 3, 25, 8, 0, tzinfo=UTC))  # day 23: too late to restart anything
    late = _complete_open(engine, late)
    state = cases.get_case(engine, SYSTEM, late["id"])
    assert state["deadline"]["paused"] is False and state["deadline"]["deadline"] == "2026-05-11T21:59:59+00:00"
    assert "case_clock_not_restarted" in [e["type"] for e in state["history"]]
    clock.set(datetime(2026, 4, 20, 8, 0, tzinfo=UTC))
    late = _complete_open(engine, late)
    assert cases.get_case(engine, SYSTEM, late["id"])["deadline"]["deadline"] == "2026-05-11T21:59:59+00:00"


def test_a_receipt_date_entered_at_registration_sets_where_the_clock_counts_from(
        engine: Engine, clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    processes.deploy(engine, SYSTEM, fixture_bytes("case_clock.bpmn"))
    case = cases.start_case(engine, SYSTEM, "lov", {})  # started without the day of receipt
    assert case["deadline"]["deadline"] == "2026-05-11T21:59:59+00:00"
    # the registrar enters "inkom": the application arrived on Friday 20 February
    case = tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"], {"inkom": "2026-02-20"})["case"]
    state = cases.get_case(engine, SYSTEM, case["id"])
    assert state["deadline"]["deadline"] == "2026-05-04T21:59:59+00:00"
    recounted = next(e for e in state["history"] if e["type"] == "case_clock_recounted")
    assert recounted["data"]["received"] == "2026-02-20"
    # the clock has stood still since (the next step pauses it): a changed date is said, not applied
    clock.advance(timedelta(days=5))
    case = tasks.complete(engine, SYSTEM, case["open_tasks"][0]["id"], {"inkom": "2026-02-10"})["case"]
    state = cases.get_case(engine, SYSTEM, case["id"])
    # the period's own end, 1 May (a holiday, so 4 May), plus the 5 days it stood still: 6 May
    assert state["deadline"]["deadline"] == "2026-05-06T21:59:59+00:00"
    assert "case_clock_not_recounted" in [e["type"] for e in state["history"]]


WITHIN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="w" targetNamespace="https://rutin.example/test">
  <bpmn:process id="inom" name="Steg inom tidsfristen" isExecutable="true">
    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="rutin:caseDeadline" value="P2W"/>
    </camunda:properties></bpmn:extensionElements>
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="registrera"/>
    <bpmn:userTask id="registrera" name="Registrera"/>
    <bpmn:sequenceFlow id="f2" sourceRef="registrera" targetRef="fork"/>
    <bpmn:parallelGateway id="fork"/>
    <bpmn:sequenceFlow id="f3" sourceRef="fork" targetRef="granska"/>
    <bpmn:sequenceFlow id="f4" sourceRef="fork" targetRef="forlang"/>
    <bpmn:sequenceFlow id="f5" sourceRef="fork" targetRef="besluta"/>
    <bpmn:sequenceFlow id="f6" sourceRef="fork" targetRef="arkivera"/>
    <bpmn:userTask id="granska" name="Granska">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="rutin:due" value="P10D"/>
        <camunda:property name="rutin:escalation" value="0:remind"/>
        <camunda:property name="rutin:withinCaseDeadline" value="true"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="forlang" name="Förläng handläggningstiden">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="rutin:extendsCaseClock" value="P2W"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="besluta" name="Besluta">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="rutin:withinCaseDeadline" value="true"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:userTask id="arkivera" name="Arkivera">
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="rutin:due" value="P10D"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f7" sourceRef="granska" targetRef="e1"/><bpmn:endEvent id="e1"/>
    <bpmn:sequenceFlow id="f8" sourceRef="forlang" targetRef="e2"/><bpmn:endEvent id="e2"/>
    <bpmn:sequenceFlow id="f9" sourceRef="besluta" targetRef="e3"/><bpmn:endEvent id="e3"/>
    <bpmn:sequenceFlow id="f10" sourceRef="arkivera" targetRef="e4"/><bpmn:endEvent id="e4"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()


def test_a_step_within_the_case_deadline_is_due_by_it_and_moves_with_it(engine: Engine, clock: ManualClock,
                                                                        people: dict[str, Person]) -> None:
    import sqlalchemy as sa

    from engine.store.models import Timer

    processes.deploy(engine, SYSTEM, WITHIN)
    case = cases.start_case(engine, SYSTEM, "inom", {}, "INOM-1")  # Monday 2 March: due by Monday 16 March
    deadline = datetime(2026, 3, 16, 22, 59, 59, tzinfo=UTC)
    assert cases.get_case(engine, SYSTEM, case["id"])["deadline"]["deadline"] == deadline.isoformat()
    clock.advance(timedelta(days=8))
    opened = {t["element_id"]: t for t in _complete_open(engine, case)["open_tasks"]}
    # Granska's own ten days would end on 20 March: it is capped at the case deadline; Besluta has
    # no date of its own and takes the deadline; Arkivera is not bound by it and keeps its own.
    assert opened["granska"]["due"] == deadline.isoformat()
    assert opened["besluta"]["due"] == deadline.isoformat()
    assert opened["arkivera"]["due"] == datetime(2026, 3, 20, 22, 59, 59, tzinfo=UTC).isoformat()
    assert opened["forlang"]["due"] is None

    def ladder() -> list[datetime]:
        with engine.db.read() as s:
            return list(s.execute(sa.select(Timer.due_at).where(
                Timer.task_id == opened["granska"]["id"], Timer.kind == "escalation",
                Timer.status == "pending")).scalars())

    assert ladder() == [deadline]
    # a person asking for a later date gets the deadline: the step is bound by it
    asked = tasks.update(engine, people["admin"].actor, opened["besluta"]["id"], {"due": "2026-04-30T12:00:00Z"})
    assert asked["due"] == deadline.isoformat()

    # the extension moves the deadline two weeks on: the capped steps follow, each to its own limit
    tasks.complete(engine, SYSTEM, opened["forlang"]["id"], {})
    extended = datetime(2026, 3, 30, 21, 59, 59, tzinfo=UTC)  # summer time by then
    after = {t["element_id"]: t for t in cases.get_case(engine, SYSTEM, case["id"])["open_tasks"]}
    assert cases.get_case(engine, SYSTEM, case["id"])["deadline"]["deadline"] == extended.isoformat()
    assert after["granska"]["due"] == datetime(2026, 3, 20, 22, 59, 59, tzinfo=UTC).isoformat()  # its own now
    assert after["besluta"]["due"] == extended.isoformat()  # the 30 April asked for, capped at the new deadline
    assert after["arkivera"]["due"] == opened["arkivera"]["due"]
    assert ladder() == [datetime(2026, 3, 20, 22, 59, 59, tzinfo=UTC)]  # its reminder moved with it
    moved = [e for e in cases.get_case(engine, SYSTEM, case["id"])["history"] if e["type"] == "task_due_moved"]
    assert sorted(e["data"]["name"] for e in moved) == ["Besluta", "Granska"]
