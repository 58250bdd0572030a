"""The clock review's findings: reassignment and the escalation ladder, decisions named after their
ladder was made, mail a server refuses, calendar BPMN durations, and out-of-range dates refused."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Mailbox, Person, publish
from test_escalation import (
    _tick,
    town_fixture,  # noqa: F401  (the fixture `town`: the same organisation)
)

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.clocks import policies
from engine.core import Engine
from engine.routing import delegation, notifications
from engine.service import cases, tasks
from engine.store.models import Notification, Timer

# -- escalation: reassigning, and decisions ---------------------------------------------------------


def _pending(engine: Engine, task_id: str) -> list[Timer]:
    with engine.db.read() as s:
        return list(s.execute(sa.select(Timer).where(Timer.task_id == task_id, Timer.kind == "escalation",
                                                     Timer.status == "pending").order_by(Timer.due_at)).scalars())


def _steps(engine: Engine, case_id: str) -> list[dict[str, Any]]:
    return [e for e in cases.get_case(engine, SYSTEM, case_id)["history"] if e["type"] == "escalation_step"]


def test_a_managers_assignment_cancels_the_old_ladder(engine: Engine, town: dict[str, Any],
                                                      clock: ManualClock, smtp: Mailbox) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-1", org_unit="bygglov")
    [task] = case["open_tasks"]
    tasks.claim(engine, town["bea"], task["id"])
    clock.set(datetime(2026, 3, 9, 23, 0, tzinfo=UTC))  # just past due: reminded, manager told
    assert _tick(engine).kinds == {"escalation": 2}
    clock.set(datetime(2026, 3, 10, 8, 0, tzinfo=UTC))
    tasks.assign(engine, town["bert"], task["id"], "bo")  # the manager, told, gives it to bo
    assert _pending(engine, task["id"]) == []
    clock.set(datetime(2026, 3, 12, 7, 1, tzinfo=UTC))  # +3 WD: the old ladder's reassign step
    assert _tick(engine).fired == 0
    now = tasks.get_task(engine, SYSTEM, task["id"])
    assert (now["assignee"], now["role"], now["priority"]) == ("bo", "Handläggare bygglov", 50)
    assert [e["data"]["action"] for e in _steps(engine, case["id"])] == ["remind", "notify_manager"]
    # bo moves the due date: a fresh ladder for it, from the steps still ahead
    tasks.update(engine, town["bo"], task["id"], {"due": "2026-03-20T16:00:00+00:00"})
    assert [t.data["action"] for t in _pending(engine, task["id"])] == ["remind", "notify_manager",
                                                                        "reassign_manager"]


def test_a_hand_over_cancels_the_ladder_and_an_assignment_to_the_holder_does_not(
        engine: Engine, town: dict[str, Any], clock: ManualClock, smtp: Mailbox) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-2", org_unit="bygglov")
    [task] = case["open_tasks"]
    tasks.claim(engine, town["bea"], task["id"])
    tasks.assign(engine, town["bert"], task["id"], "bea")  # already hers: nothing changes hands
    assert len(_pending(engine, task["id"])) == 3
    tasks.hand_over(engine, town["bea"], task["id"], "bo")
    assert _pending(engine, task["id"]) == []
    tasks.update(engine, town["bo"], task["id"], {"follow_up": "2026-03-05T08:00:00+00:00"})
    assert _pending(engine, task["id"]) == []  # a new follow-up date is no new ladder
    clock.set(datetime(2026, 3, 12, 7, 1, tzinfo=UTC))
    _tick(engine)
    assert _steps(engine, case["id"]) == []
    assert tasks.get_task(engine, SYSTEM, task["id"])["assignee"] == "bo"
    assert [m["Subject"].split(":")[0] for m in smtp.to("bo@exempelby.se")] == ["Följ upp"]


def test_the_ladders_own_reassign_step_keeps_its_later_steps(engine: Engine, town: dict[str, Any],
                                                             clock: ManualClock, smtp: Mailbox) -> None:
    policies.put(engine, town["alice"], "bygglov_test",
                 {"granska": {"escalation": "0:reassign_manager; +1WD:notify_manager:2"}})
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-3", org_unit="bygglov")
    [task] = case["open_tasks"]
    tasks.claim(engine, town["bea"], task["id"])
    clock.set(datetime(2026, 3, 9, 23, 0, tzinfo=UTC))
    assert _tick(engine).kinds == {"escalation": 1}
    moved = tasks.get_task(engine, SYSTEM, task["id"])
    assert moved["assignee"] is None and moved["role"] == "Bygglovschef"
    assert [t.data["action"] for t in _pending(engine, task["id"])] == ["notify_manager:2"]
    tasks.claim(engine, town["bert"], task["id"])  # taking it up is not a reassignment
    tasks.update(engine, town["bert"], task["id"], {"priority": 90})
    assert [t.data["action"] for t in _pending(engine, task["id"])] == ["notify_manager:2"]
    clock.set(datetime(2026, 3, 10, 7, 1, tzinfo=UTC))  # 08:01 the working day after
    assert _tick(engine).kinds == {"escalation": 1}
    assert any("Försenad uppgift" in m["Subject"] for m in smtp.to("fia@exempelby.se"))


def _name_the_review_a_decision(engine: Engine, town: dict[str, Any], **item: Any) -> None:
    delegation.import_items(engine, town["alice"], town["adam"], [{
        "number": "F.9.1", "title": "Granskning som beslut", "process_key": "bygglov_test", "element_id": "granska",
        "delegate_role": "Bygglovshandläggare", "superior_may_decide": False, "reporting": "anmals",
        "committee": "Byggnadsnämnden", **item}])


def test_a_task_named_a_decision_after_its_ladder_never_goes_up_the_manager_chain(
        engine: Engine, town: dict[str, Any], clock: ManualClock, smtp: Mailbox) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-4", org_unit="bygglov")
    [task] = case["open_tasks"]
    tasks.claim(engine, town["bea"], task["id"])
    assert [t.data["action"] for t in _pending(engine, task["id"])] == ["remind", "notify_manager",
                                                                        "reassign_manager"]
    _name_the_review_a_decision(engine, town)  # no substitute, and no superior may decide
    clock.set(datetime(2026, 3, 12, 7, 1, tzinfo=UTC))
    _tick(engine)
    now = tasks.get_task(engine, SYSTEM, task["id"])
    assert (now["assignee"], now["role"], now["priority"]) == ("bea", "Handläggare bygglov", 50)
    step = _steps(engine, case["id"])[-1]["data"]
    assert step["action"] == "reassign_manager" and step["as_decision"] is True
    assert step["skipped"] == "ingen ersättare enligt delegationsordningen är tillgänglig"
    assert any("Försenat beslut utan ersättare" in m["Subject"] for m in smtp.to("bert@exempelby.se"))
    tasks.complete(engine, town["bea"], task["id"], {}, no_conflict_of_interest=True)  # still hers to decide


def test_a_task_named_a_decision_later_goes_to_its_substitute(engine: Engine, town: dict[str, Any],
                                                              clock: ManualClock, smtp: Mailbox) -> None:
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN-5", org_unit="bygglov")
    [task] = case["open_tasks"]
    tasks.claim(engine, town["bea"], task["id"])
    _name_the_review_a_decision(engine, town, substitute_role="Bygglovshandläggare")
    clock.set(datetime(2026, 3, 12, 7, 1, tzinfo=UTC))
    _tick(engine)
    now = tasks.get_task(engine, SYSTEM, task["id"])
    assert (now["assignee"], now["role"]) == ("bo", "Handläggare bygglov")  # a delegate, not the manager role
    assert any("som ersättare" in m["Subject"] for m in smtp.to("bo@exempelby.se"))


# -- e-mail the server refuses ----------------------------------------------------------------------


@pytest.fixture
def picky() -> Iterator[Mailbox]:
    """A real SMTP server on loopback that refuses gone@ for good (550) and full@ for now (452)."""
    from aiosmtpd.controller import Controller

    box: list[Any] = []

    class Handler:
        async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                              rcpt_options: Any) -> str:
            if address.startswith("gone@"):
                return "550 5.1.1 mailbox unavailable"
            if address.startswith("full@"):
                return "452 4.2.2 mailbox full"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            box.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield Mailbox("127.0.0.1", port, box)
    controller.stop()


def _mail(engine: Engine, picky: Mailbox, *names: str) -> None:
    engine.settings = dataclasses.replace(engine.settings, smtp_host=picky.host, smtp_port=picky.port)
    for i, name in enumerate(names):
        identity.add_user(engine, name, [], email=f"{name}@exempelby.se")
        with engine.db.write() as s:
            notifications.notify(s.connection(), engine.clock.now(), [name], kind="test",
                                 subject=f"Till {name}", body="Hej.", dedupe=f"t{i}")


def _outbox(engine: Engine) -> dict[str, Notification]:
    with engine.db.read() as s:
        return {n.recipient: n for n in s.execute(sa.select(Notification)).scalars()}


def test_a_refused_recipient_fails_its_message_only(engine: Engine, clock: ManualClock, picky: Mailbox) -> None:
    _mail(engine, picky, "gone", "ok1")
    assert notifications.deliver(engine) == {"sent": 1, "retry": 0, "failed": 1}
    out = _outbox(engine)
    assert (out["gone"].email_status, out["gone"].email_attempts) == ("failed", 1)
    assert "550" in (out["gone"].last_error or "")
    assert out["ok1"].email_status == "sent" and [m["To"] for m in picky.messages] == ["ok1@exempelby.se"]
    # the server answered, so it is not rested: the next message goes at once
    with engine.db.write() as s:
        notifications.notify(s.connection(), clock.now(), ["ok1"], kind="test", subject="Igen", body="b", dedupe="u")
    assert notifications.deliver(engine) == {"sent": 1, "retry": 0, "failed": 0}


def test_a_temporary_refusal_spends_attempts_then_fails(engine: Engine, clock: ManualClock, picky: Mailbox) -> None:
    _mail(engine, picky, "full", "ok1")
    assert notifications.deliver(engine) == {"sent": 1, "retry": 1, "failed": 0}
    full = _outbox(engine)["full"]
    assert (full.email_status, full.email_attempts) == ("pending", 1)
    assert full.next_attempt_at == clock.now() + timedelta(minutes=2)
    for attempt in range(2, notifications.MAX_ATTEMPTS + 1):
        clock.advance(timedelta(minutes=2 ** (attempt - 1)))
        outcome = notifications.deliver(engine)
        assert outcome == ({"sent": 0, "retry": 0, "failed": 1} if attempt == notifications.MAX_ATTEMPTS
                           else {"sent": 0, "retry": 1, "failed": 0})
        assert _outbox(engine)["full"].email_attempts == attempt
    assert _outbox(engine)["full"].email_status == "failed"


# -- BPMN duration timers on the calendar ---------------------------------------------------------


def _waiting(duration: str, *, boundary: bool) -> bytes:
    if boundary:
        body = f"""<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Gör"/><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
    <bpmn:boundaryEvent id="w" attachedToRef="t"><bpmn:timerEventDefinition><bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="w" targetRef="late"/><bpmn:userTask id="late" name="Sent"/>
    <bpmn:sequenceFlow id="f4" sourceRef="late" targetRef="e2"/><bpmn:endEvent id="e2"/><bpmn:endEvent id="e"/>"""
    else:
        body = f"""<bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="w"/>
    <bpmn:intermediateCatchEvent id="w"><bpmn:timerEventDefinition><bpmn:timeDuration>{duration}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f2" sourceRef="w" targetRef="t"/><bpmn:userTask id="t" name="Gör"/>
    <bpmn:sequenceFlow id="f3" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="vantan" name="Väntan" isExecutable="true">
    {body}
  </bpmn:process></bpmn:definitions>""".encode()


@pytest.mark.parametrize(("duration", "start", "due"), [
    # a calendar month: 31 January + 1 month is the last day of February, at the same time of day
    ("P1M", datetime(2026, 1, 31, 8, 0, tzinfo=UTC), datetime(2026, 2, 28, 8, 0, tzinfo=UTC)),
    ("P1M", datetime(2026, 3, 31, 8, 0, tzinfo=UTC), datetime(2026, 4, 30, 8, 0, tzinfo=UTC)),
    ("P1Y", datetime(2024, 2, 29, 8, 0, tzinfo=UTC), datetime(2025, 2, 28, 8, 0, tzinfo=UTC)),
    # a day is a calendar day over the change to summer time (09:00 to 09:00, 23 hours)...
    ("P1D", datetime(2026, 3, 28, 8, 0, tzinfo=UTC), datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
    ("P1W", datetime(2026, 10, 20, 7, 0, tzinfo=UTC), datetime(2026, 10, 27, 8, 0, tzinfo=UTC)),
    # ...and hours are hours
    ("PT24H", datetime(2026, 3, 28, 8, 0, tzinfo=UTC), datetime(2026, 3, 29, 8, 0, tzinfo=UTC)),
    ("P1DT2H", datetime(2026, 3, 28, 8, 0, tzinfo=UTC), datetime(2026, 3, 29, 9, 0, tzinfo=UTC)),
])
@pytest.mark.parametrize("boundary", [False, True], ids=["intermediate", "boundary"])
def test_bpmn_durations_are_calendar_periods(engine: Engine, clock: ManualClock, duration: str, start: datetime,
                                             due: datetime, boundary: bool) -> None:
    clock.set(start)
    processes.deploy(engine, SYSTEM, _waiting(duration, boundary=boundary))
    case = cases.start_case(engine, SYSTEM, "vantan")
    with engine.db.read() as s:
        [timer] = s.execute(sa.select(Timer).where(Timer.kind == "bpmn", Timer.status == "pending")).scalars().all()
    assert timer.due_at == due
    clock.set(due - timedelta(seconds=1))
    assert "bpmn" not in engine.scheduler.tick().kinds
    clock.set(due + timedelta(seconds=1))
    assert engine.scheduler.tick().kinds.get("bpmn") == 1
    opened = [t["name"] for t in cases.get_case(engine, SYSTEM, case["id"])["open_tasks"]]
    assert opened == (["Sent"] if boundary else ["Gör"])


# -- out-of-range input is a 422, never a 500 -----------------------------------------------------


@pytest.mark.parametrize("body", [
    {"tasks": {"a": {"due": 5}}},
    {"tasks": {"a": {"escalation": 7}}},
    {"tasks": {"a": {"due": ["P1D"]}}},
    {"tasks": {"a": {"follow_up": {"P": 1}}}},
    {"tasks": {"a": {"due": "P9999Y"}}},
    {"tasks": {"a": {"due": "P999Y"}}},
    {"tasks": {"a": {"due": "PT99999999999999H"}}},
    {"tasks": {"a": {"due": "9999999999WD"}}},
    {"tasks": {"*": {"escalation": "+P9999Y:remind"}}},
    {"tasks": {"a": {"escalation": "-99999999WD:remind"}}},
])
def test_policies_refuse_what_cannot_be_computed(client: Any, people: dict[str, Person], body: dict[str, Any]) -> None:
    publish(client, people, "seq3.bpmn")
    r = client.put("/api/processes/seq3/policy", json=body, headers=people["owner"].headers)
    assert r.status_code == 422, r.get_json()
    assert client.get("/api/processes/seq3/policy", headers=people["owner"].headers).get_json()["tasks"] == {}
    started = client.post("/api/processes/seq3/cases", json={}, headers=people["hanna"].headers)
    assert started.status_code == 201, started.get_json()


def test_a_long_but_computable_policy_is_accepted(client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "seq3.bpmn")
    r = client.put("/api/processes/seq3/policy", json={"tasks": {"a": {"due": "P50Y", "escalation": None}}},
                   headers=people["owner"].headers)
    assert r.status_code == 200, r.get_json()
    started = client.post("/api/processes/seq3/cases", json={}, headers=people["hanna"].headers)
    assert started.status_code == 201 and started.get_json()["open_tasks"][0]["due"].startswith("2076-03-02")


@pytest.mark.parametrize("due", ["9999-12-31T23:00:00+00:00", "0001-01-01T00:00:00+00:00",
                                 "0001-01-01T00:00:00+01:00", "3000-01-01T00:00:00Z"])
def test_a_due_date_out_of_range_is_refused(client: Any, people: dict[str, Person], due: str) -> None:
    publish(client, people, "seq3.bpmn")
    case = client.post("/api/processes/seq3/cases", json={}, headers=people["hanna"].headers).get_json()
    tid = case["open_tasks"][0]["id"]
    r = client.patch(f"/api/tasks/{tid}", json={"due": due}, headers=people["admin"].headers)
    assert r.status_code == 422 and "mellan år 1900 och 2999" in r.get_json()["detail"]
    ok = client.patch(f"/api/tasks/{tid}", json={"due": "2999-06-30T10:00:00Z"}, headers=people["admin"].headers)
    assert ok.status_code == 200 and ok.get_json()["due"] == "2999-06-30T10:00:00+00:00"
