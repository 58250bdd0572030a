"""Targets for process measures (ISO 9001 9.1 → 10.2): who sets them, hostile input refused with
no effect, the process history records them, Mätetal shows target against actual, a target missed
in a closed month opens one deviation for the owner (once across racing workers), and the yearly
review reads the measures."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, Person, sign_in
from test_measures import MATT

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.base.errors import Forbidden, InvalidInput, NotFound
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, inbox, measure_follow_up, measure_targets, measures, tasks, verification
from engine.store.measure_models import MeasureFollowUp, MeasureTarget
from engine.store.models import Case, ProcessEvent

DEVIATION_BPMN = Path(__file__).parent.parent / "workflows" / "avvikelsehantering.bpmn"


def _finish(engine: Engine, case_id: str) -> None:
    [task] = cases.get_case(engine, SYSTEM, case_id)["open_tasks"]
    tasks.complete(engine, SYSTEM, task["id"])


@pytest.fixture
def march(engine: Engine, clock: ManualClock) -> dict[str, Any]:
    """Two cases finished in March 2026: one within its two weeks (3 days), one past them (20 days)."""
    processes.deploy(engine, SYSTEM, MATT)
    t0 = clock.now()  # Monday 2 March 2026, 09:00 in Stockholm
    a = cases.start_case(engine, SYSTEM, "matt", {}, "A")["id"]
    b = cases.start_case(engine, SYSTEM, "matt", {}, "B")["id"]
    for case_id in (a, b):
        _finish(engine, case_id)
    clock.set(t0 + timedelta(days=3))
    _finish(engine, a)
    clock.set(t0 + timedelta(days=20))
    _finish(engine, b)
    return {"t0": t0}


def _events(engine: Engine) -> list[str]:
    with engine.db.read() as s:
        return list(s.execute(sa.select(ProcessEvent.type).where(ProcessEvent.process_key == "matt")
                              .order_by(ProcessEvent.seq)).scalars())


def test_the_owner_sets_a_target_it_is_in_the_history_and_matetal_shows_it_against_the_actual(
        engine: Engine, march: dict[str, Any], people: dict[str, Person]) -> None:
    owner = people["owner"].actor
    assert measure_targets.may_set(engine, owner, "matt") and not measure_targets.may_set(engine, people["hanna"].actor,
                                                                                         "matt")
    set_ = measure_targets.set_target(engine, owner, "matt", "within_deadline_share", "95")
    assert set_["targets"] == {"within_deadline_share": 95.0}
    measure_targets.set_target(engine, people["admin"].actor, "matt", "lead_time_days_p90", "56")
    assert _events(engine)[-2:] == ["measure_target_set", "measure_target_set"]
    assert verification.verify_process_history(engine, "matt")
    [p] = measures.measures(engine, owner, process="matt")["processes"]
    share, p90 = p["targets"]
    assert (share["target_text"], share["actual"], share["within"], share["verdict"]) == (
        "minst 95 %", 50.0, False, "Utanför målet")
    assert (p90["target_text"], p90["actual"], p90["within"], p90["verdict"]) == ("högst 56 dagar", 18.3, True,
                                                                                   "Inom målet")
    measure_targets.set_target(engine, owner, "matt", "lead_time_days_p90", "")
    assert _events(engine)[-1] == "measure_target_removed"
    assert measure_targets.targets(engine, ["matt"]) == {"matt": {"within_deadline_share": 95.0}}
    assert verification.verify_process_history(engine, "matt")


@pytest.mark.parametrize(("who", "key", "measure", "value", "error"), [
    ("hanna", "matt", "within_deadline_share", "95", Forbidden),
    ("owner", "matt", "incidents", "1", InvalidInput),
    ("owner", "matt", "within_deadline_share", "mycket", InvalidInput),
    ("owner", "matt", "within_deadline_share", "101", InvalidInput),
    ("owner", "matt", "lead_time_days_p90", -1, InvalidInput),
    ("owner", "matt", "lead_time_days_p90", float("nan"), InvalidInput),
    ("owner", "matt", "lead_time_days_p90", True, InvalidInput),
    ("owner", "matt", "lead_time_days_p90", [8], InvalidInput),
    ("owner", "matt", "lead_time_days_p90", "9" * 400, InvalidInput),
    ("owner", "okand", "lead_time_days_p90", "8", NotFound),
    ("owner", ["matt"], "lead_time_days_p90", "8", InvalidInput),
])
def test_hostile_targets_are_refused_in_swedish_and_leave_nothing(
        engine: Engine, march: dict[str, Any], people: dict[str, Person], who: str, key: Any, measure: str,
        value: Any, error: type[Exception]) -> None:
    before = _events(engine)
    with pytest.raises(error) as refused:
        measure_targets.set_target(engine, people[who].actor, key, measure, value)
    assert any(word in str(refused.value) for word in ("Ange", "Bara", "finns inte", "kan inte ha", "ska vara"))
    assert _events(engine) == before
    with engine.db.read() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(MeasureTarget)).scalar() == 0


def test_the_api_and_the_page_set_targets_and_refuse_strangers(
        client: Any, engine: Engine, march: dict[str, Any], people: dict[str, Person]) -> None:
    url = "/api/processes/matt/measure-targets/within_deadline_share"
    refused = client.put(url, json={"target": 95}, headers=people["hanna"].headers)
    assert refused.status_code == 403 and refused.content_type == "application/problem+json"
    bad = client.put(url, json={"target": "nittiofem"}, headers=people["owner"].headers)
    assert bad.status_code == 422 and "Ange målet som ett tal" in bad.get_json()["detail"]
    assert client.put(url, json={}, headers=people["owner"].headers).status_code == 422
    assert measure_targets.targets(engine) == {}
    ok = client.put(url, json={"target": 95}, headers=people["owner"].headers)
    assert ok.status_code == 200 and ok.get_json()["targets"] == {"within_deadline_share": 95.0}
    assert client.get("/api/processes/matt/measure-targets",
                      headers=people["owner"].headers).get_json()["targets"] == {"within_deadline_share": 95.0}

    identity.set_password(engine, "owner", PASSWORD)
    csrf = sign_in(client, "owner")
    page = client.get("/matetal?process=matt").get_data(as_text=True)
    assert "Mål för Ansökan med tidsfrist" in page and "Spara målet" in page
    assert "Mål minst 95 %, Utfall 50,0 %" in page and "Utanför målet" in page
    saved = client.post("/matetal/mal", data={"csrf": csrf, "process": "matt", "measure": "lead_time_days_p90",
                                              "target": "8,5"})
    assert saved.status_code == 302
    assert measure_targets.targets(engine)["matt"]["lead_time_days_p90"] == 8.5
    hostile = client.post("/matetal/mal", data={"csrf": csrf, "process": "matt", "measure": "lead_time_days_p90",
                                                "target": "<script>"})
    assert hostile.status_code == 422 and "Ange målet som ett tal" in hostile.get_data(as_text=True)
    assert measure_targets.targets(engine)["matt"]["lead_time_days_p90"] == 8.5


def _follow_up_cases(engine: Engine) -> list[Case]:
    with engine.db.read() as s:
        return list(s.execute(sa.select(Case).join(MeasureFollowUp, MeasureFollowUp.case_id == Case.id)).scalars())


@pytest.fixture
def deviations_published(engine: Engine) -> None:
    """The shipped deviation process is published (as `rutin demo` and a real installation do)."""
    processes.deploy(engine, SYSTEM, DEVIATION_BPMN.read_bytes(), "avvikelsehantering.bpmn")
    identity.add_user(engine, "maja", ["Medarbetare"])


def test_a_target_missed_in_a_closed_month_opens_one_deviation_for_the_owner(
        client: Any, engine: Engine, clock: ManualClock, march: dict[str, Any], people: dict[str, Person],
        deviations_published: None) -> None:
    measure_targets.set_target(engine, people["owner"].actor, "matt", "within_deadline_share", 95)
    measure_targets.set_target(engine, people["owner"].actor, "matt", "lead_time_days_p90", 56)  # kept
    assert measure_follow_up.run_due(engine) == []  # March has not ended; February had no cases
    clock.set(datetime(2026, 3, 31, 21, 59, tzinfo=UTC))  # 23:59 on 31 March in Stockholm
    assert measure_follow_up.run_due(engine) == []
    clock.set(datetime(2026, 3, 31, 22, 0, tzinfo=UTC))  # April has begun in Stockholm
    [opened] = measure_follow_up.run_due(engine)
    assert (opened["measure"], opened["period"]) == ("within_deadline_share", "2026-03-01 – 2026-03-31")
    assert opened["process"] == "avvikelsehantering"  # a nonconformity (ISO 9001 10.2), not a plain case
    for _ in range(3):  # the scheduler's later rounds
        assert measure_follow_up.run_due(engine) == []
    [case] = _follow_up_cases(engine)
    assert case.process_key == "avvikelsehantering"
    assert case.data["mal"] == "minst 95 %" and case.data["utfall"] == "50 %" and case.data["process"] == "matt"
    assert "låg utanför målet under 2026-03-01 – 2026-03-31" in case.data["beskrivning"]
    owner = people["owner"].actor
    [task] = inbox.list_tasks(engine, owner)["items"]
    assert task["name"] == "Rapportera avvikelse" and task["case_id"] == case.id
    # the owner's alone: not pooled for Medarbetare, nor anyone else's
    for other in ("maja", "hanna", "hugo"):
        assert inbox.list_tasks(engine, identity.get_actor(engine, other))["items"] == []
    shown = measure_follow_up.follow_ups(engine, ["matt"])["matt"]
    assert shown == [{"measure": "within_deadline_share", "label": "Andel klara inom tidsfristen",
                      "period": "2026-03-01 – 2026-03-31", "case_id": case.id, "deviation": True, "status": "active"}]
    identity.set_password(engine, "owner", PASSWORD)
    sign_in(client, "owner")
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "Gäller mätetal" in page and "Andel klara inom tidsfristen</a> i processen" in page
    assert "2026-03-01 – 2026-03-31: mål 95 %, utfall 50 %" in page
    matetal = client.get("/matetal?fran=2026-03-01&till=2026-03-31").get_data(as_text=True)
    assert f"/cases/{case.id}" in matetal and "Avvikelse: Andel klara inom tidsfristen" in matetal
    # on as any deviation: to the quality coordinator's classification
    done = tasks.complete(engine, owner, task["id"], {"beskrivning": case.data["beskrivning"],
                                                      "upptackt_datum": "2026-04-01", "allvarlighetsgrad": "medel"})
    assert [t["name"] for t in done["case"]["open_tasks"]] == ["Registrera och klassificera"]


def test_without_the_deviation_process_the_owner_gets_a_follow_up(
        engine: Engine, clock: ManualClock, march: dict[str, Any], people: dict[str, Person]) -> None:
    measure_targets.set_target(engine, people["owner"].actor, "matt", "within_deadline_share", 95)
    clock.set(datetime(2026, 4, 2, 8, 0, tzinfo=UTC))
    [opened] = measure_follow_up.run_due(engine)
    assert opened["process"] == measure_follow_up.FOLLOW_UP_PROCESS
    [task] = inbox.list_tasks(engine, people["owner"].actor)["items"]
    assert task["name"] == "Följ upp mätetalet" and task["case_id"] == opened["case_id"]
    assert inbox.list_tasks(engine, people["hanna"].actor)["items"] == []


def test_workers_racing_open_the_deviation_once(engine: Engine, clock: ManualClock, march: dict[str, Any],
                                               people: dict[str, Person], deviations_published: None) -> None:
    measure_targets.set_target(engine, people["owner"].actor, "matt", "within_deadline_share", 95)
    clock.set(datetime(2026, 4, 2, 8, 0, tzinfo=UTC))
    start = threading.Barrier(4)
    results: list[Any] = []

    def worker() -> None:
        start.wait()
        try:
            results.append(measure_follow_up.run_due(engine))
        except Exception as exc:  # a worker's failure is a finding too
            results.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(len(r) for r in results) == 1
    assert [c.process_key for c in _follow_up_cases(engine)] == ["avvikelsehantering"]
    with engine.db.read() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Case)
                         .where(Case.process_key == "avvikelsehantering")).scalar() == 1
        assert s.execute(sa.select(sa.func.count()).select_from(MeasureFollowUp)).scalar() == 1


def test_the_yearly_review_reads_the_measures_of_the_year_it_reviews(
        client: Any, engine: Engine, clock: ManualClock, march: dict[str, Any], people: dict[str, Person]) -> None:
    measure_targets.set_target(engine, people["owner"].actor, "matt", "within_deadline_share", 95)
    clock.set(march["t0"] + timedelta(days=366))
    assert engine.scheduler.tick().kinds.get("review") == 1
    [task] = [t for t in inbox.list_tasks(engine, people["owner"].actor)["items"] if t["name"] == "Granska processen"]
    data = cases.get_case(engine, people["owner"].actor, task["case_id"])["data"]
    assert data["process"] == "matt" and data["granskad_period"] == "2026-03-02 – 2027-03-02"
    assert (data["matetal"]["avslutade"], data["matetal"]["andel_inom_tidsfristen"]) == (2, 50.0)
    assert data["mal"] == [{"matetal": "Andel klara inom tidsfristen", "mal": "minst 95 %", "utfall": 50.0,
                            "bedomning": "Utanför målet"}]
    assert data["Mål och utfall"] == "Andel klara inom tidsfristen: mål minst 95 %, utfall 50 % – Utanför målet"
    identity.set_password(engine, "owner", PASSWORD)
    sign_in(client, "owner")
    page = client.get(f"/cases/{task['case_id']}").get_data(as_text=True)
    assert "2 avslutade; ledtid median 11,5 dagar" in page and "utfall 50 % – Utanför målet" in page
