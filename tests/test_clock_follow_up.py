"""Follow-up dates: a reminder to whoever has the task, once, kept in step with the task."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import FIXTURES, Person, publish

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import notifications
from engine.service import cases, org_data, tasks
from engine.store.models import Timer


def _process(attributes: str, lane: str = "Bygglovshandläggare") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="fu" targetNamespace="https://rutin.example/test">
  <bpmn:process id="uppfoljning" name="Uppföljning" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="{lane}"><bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>t</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Bevaka svar" {attributes}/>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


@pytest.fixture
def town(engine: Engine, clock: ManualClock) -> dict[str, identity.Actor]:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))  # Monday 09:00 in Stockholm
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    return {n: identity.get_actor(engine, n) for n in ("bea", "bo", "bert")}


def _reminders(engine: Engine, who: identity.Actor) -> list[dict[str, Any]]:
    return [n for n in notifications.list_for(engine, who)["items"] if n["subject"].startswith("Följ upp")]


def test_the_holder_is_reminded_once_on_the_follow_up_day(engine: Engine, town: dict[str, Any],
                                                          clock: ManualClock) -> None:
    processes.deploy(engine, SYSTEM, _process('camunda:followUpDate="P2D"'))
    case = cases.start_case(engine, SYSTEM, "uppfoljning", {}, "BN-7", org_unit="bygglov")
    [task] = case["open_tasks"]
    assert task["follow_up"] == "2026-03-04T22:59:59+00:00" and task["due"] is None
    tasks.claim(engine, town["bea"], task["id"])
    wednesday = datetime(2026, 3, 4, 7, 0, tzinfo=UTC)  # 08:00 on the follow-up day
    clock.set(wednesday - timedelta(minutes=1))
    assert engine.scheduler.tick().fired == 0
    clock.set(wednesday + timedelta(minutes=1))
    assert engine.scheduler.tick().kinds == {"follow_up": 1}
    [reminder] = _reminders(engine, town["bea"])
    assert reminder["subject"] == "Följ upp: Bevaka svar (ärende BN-7)"
    assert engine.scheduler.tick().fired == 0
    tasks.assign(engine, town["bert"], task["id"], "bo")  # reassigned: the reminder is not sent again
    assert engine.scheduler.tick().fired == 0 and _reminders(engine, town["bo"]) == []
    # re-dated: a new reminder at the new date, to whoever has the task then
    tasks.update(engine, town["bo"], task["id"], {"follow_up": "2026-03-06T10:00:00+01:00"})
    clock.set(datetime(2026, 3, 6, 9, 0, 1, tzinfo=UTC))
    assert engine.scheduler.tick().kinds == {"follow_up": 1}
    assert len(_reminders(engine, town["bo"])) == 1 and len(_reminders(engine, town["bea"])) == 1


def test_completing_or_redating_before_the_follow_up_sends_nothing_for_it(engine: Engine, town: dict[str, Any],
                                                                        clock: ManualClock) -> None:
    processes.deploy(engine, SYSTEM, _process('camunda:followUpDate="P2D" camunda:dueDate="P5D"'))
    first = cases.start_case(engine, SYSTEM, "uppfoljning", {}, "BN-8", org_unit="bygglov")["open_tasks"][0]
    second = cases.start_case(engine, SYSTEM, "uppfoljning", {}, "BN-9", org_unit="bygglov")["open_tasks"][0]
    tasks.claim(engine, town["bea"], first["id"])
    tasks.claim(engine, town["bea"], second["id"])
    tasks.complete(engine, town["bea"], first["id"], {})
    tasks.update(engine, town["bea"], second["id"], {"follow_up": None})
    clock.set(datetime(2026, 3, 4, 7, 1, tzinfo=UTC))
    assert "follow_up" not in engine.scheduler.tick().kinds
    assert _reminders(engine, town["bea"]) == []
    with engine.db.read() as s:
        left = s.execute(sa.select(Timer).where(Timer.kind == "follow_up", Timer.status == "pending")).all()
    assert left == []


def test_tasks_to_follow_up_are_listed_by_their_follow_up_date(client: Any, people: dict[str, Person],
                                                               clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    assert publish(client, people, _process('camunda:followUpDate="P2D"', lane="Handläggare")).status_code \
        == 201
    started = client.post("/api/processes/uppfoljning/cases", json={}, headers=people["hanna"].headers).get_json()
    task_id = started["open_tasks"][0]["id"]
    mine = client.get("/api/tasks?follow_up_before=2026-03-05T00:00:00%2B01:00", headers=people["hanna"].headers)
    assert [t["id"] for t in mine.get_json()["items"]] == [task_id]
    none = client.get("/api/tasks?follow_up_before=2026-03-04T00:00:00%2B01:00", headers=people["hanna"].headers)
    assert none.get_json()["items"] == []
    assert client.get("/api/tasks?follow_up_before=snart", headers=people["hanna"].headers).status_code == 422
