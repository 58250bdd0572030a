"""A deviation from anywhere (ISO 9001 10.2): "Rapportera avvikelse" on a case or task page starts
a deviation case linked to that case and step, whose first step is the reporter's alone; both
pages show the link; hostile reports are refused and leave nothing behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import PASSWORD, Person, sign_in
from test_measures import MATT

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.errors import InvalidInput, NotFound
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, deviations, inbox, tasks
from engine.store.deviation_models import DeviationLink
from engine.store.models import Case

SHIPPED = Path(__file__).parent.parent / "workflows" / "avvikelsehantering.bpmn"


@pytest.fixture
def source(engine: Engine, people: dict[str, Person]) -> dict[str, Any]:
    """A case of `matt` waiting at its first step (for Handläggare), and the deviation process published."""
    processes.deploy(engine, SYSTEM, MATT)
    processes.deploy(engine, SYSTEM, SHIPPED.read_bytes(), "avvikelsehantering.bpmn")
    identity.add_user(engine, "maja", ["Medarbetare"])
    started = cases.start_case(engine, SYSTEM, "matt", {}, "A-17")
    return {"case_id": started["id"], "task_id": started["open_tasks"][0]["id"]}


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.db.read() as s:
        return (s.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one(),
                s.execute(sa.select(sa.func.count()).select_from(DeviationLink)).scalar_one())


def test_a_deviation_from_a_step_is_the_reporters_and_both_cases_show_the_link(
        engine: Engine, source: dict[str, Any], people: dict[str, Person]) -> None:
    hanna = people["hanna"].actor
    started = deviations.report(engine, hanna, source["case_id"], source["task_id"])
    task = tasks.get_task(engine, hanna, started["task_id"])
    assert (task["name"], task["assignee"], task["case_id"]) == ("Rapportera avvikelse", "hanna", started["case_id"])
    # not a task every employee sees: no one else's inbox offers it
    for other in ("maja", "hugo"):
        offered = inbox.list_tasks(engine, identity.get_actor(engine, other))["items"]
        assert started["task_id"] not in [t["id"] for t in offered]
    about = deviations.links(engine, hanna, started["case_id"])["about"]
    assert about == {"case_id": source["case_id"], "case": "A-17", "step": "Registrera ansökan",
                     "task_id": source["task_id"]}
    [reported] = deviations.links(engine, hanna, source["case_id"])["reported"]
    assert (reported["case_id"], reported["step"], reported["status"]) == (started["case_id"], "Registrera ansökan",
                                                                          "active")
    data = cases.get_case(engine, hanna, started["case_id"])["data"]
    assert (data["rapportor"], data["galler_arende"], data["galler_steg"]) == ("hanna", "A-17", "Registrera ansökan")
    done = tasks.complete(engine, hanna, started["task_id"], {"beskrivning": "Fel mottagare", "upptackt_datum":
                                                              "2026-03-02", "allvarlighetsgrad": "lag"})
    assert done["case"]["status"] == "active"  # on to the quality coordinator


def test_hostile_reports_are_refused_and_leave_nothing(engine: Engine, source: dict[str, Any],
                                                       people: dict[str, Person]) -> None:
    other = cases.start_case(engine, SYSTEM, "matt", {}, "B-17")
    before = _counts(engine)
    refusals = [
        (people["stina"].actor, source["case_id"], None, NotFound),  # may not see the case
        (people["hanna"].actor, "finns-inte", None, NotFound),
        (people["hanna"].actor, source["case_id"], other["open_tasks"][0]["id"], InvalidInput),  # another case's step
        (people["hanna"].actor, source["case_id"], "x" * 5000, InvalidInput),
        (people["hanna"].actor, ["lista"], None, InvalidInput),
    ]
    for actor, case_id, task_id, error in refusals:
        with pytest.raises(error):
            deviations.report(engine, actor, case_id, task_id)
    assert _counts(engine) == before
    # start data cannot name another reporter: `rapportor` is no start field
    with pytest.raises(InvalidInput):
        cases.start_case(engine, people["hanna"].actor, "avvikelsehantering", {"rapportor": "maja"})
    assert _counts(engine) == before


def test_the_case_and_task_pages_report_a_deviation_and_show_the_links(
        client: Any, engine: Engine, source: dict[str, Any], people: dict[str, Person]) -> None:
    identity.set_password(engine, "hanna", PASSWORD)
    csrf = sign_in(client, "hanna")
    task_page = client.get(f"/tasks/{source['task_id']}").get_data(as_text=True)
    assert "Rapportera avvikelse" in task_page and f'name="task_id" value="{source["task_id"]}"' in task_page
    assert "Rapportera avvikelse" in client.get(f"/cases/{source['case_id']}").get_data(as_text=True)
    answer = client.post(f"/cases/{source['case_id']}/avvikelse", data={"csrf": csrf, "task_id": source["task_id"]})
    assert answer.status_code == 302 and "/tasks/" in answer.headers["Location"]
    [link] = deviations.links(engine, people["hanna"].actor, source["case_id"])["reported"]
    deviation_page = client.get(f"/cases/{link['case_id']}").get_data(as_text=True)
    assert "Gäller ärende" in deviation_page and "A-17</a>, steg Registrera ansökan" in deviation_page
    source_page = client.get(f"/cases/{source['case_id']}").get_data(as_text=True)
    assert "Avvikelser i ärendet" in source_page and link["case_id"] in source_page
    refused = client.post(f"/cases/{source['case_id']}/avvikelse", data={"csrf": csrf, "task_id": "nej"})
    assert refused.status_code == 422 and "Steget hör inte till ärendet" in refused.get_data(as_text=True)
    api = client.post(f"/api/cases/{source['case_id']}/deviations", json={}, headers=people["greta"].headers)
    assert api.status_code == 404 and api.content_type == "application/problem+json"
    assert len(deviations.links(engine, people["hanna"].actor, source["case_id"])["reported"]) == 1


def test_a_deviation_started_by_hand_from_the_process_page_is_the_reporters_alone(
        client: Any, engine: Engine, source: dict[str, Any], people: dict[str, Person]) -> None:
    identity.set_password(engine, "hanna", PASSWORD)
    csrf = sign_in(client, "hanna")
    answer = client.post("/processes/avvikelsehantering/cases", data={"csrf": csrf, "business_key": "AVV-HAND"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    case_id = answer.headers["Location"].rsplit("/", 1)[1]
    [task] = cases.get_case(engine, people["hanna"].actor, case_id)["open_tasks"]
    assert (task["name"], task["assignee"]) == ("Rapportera avvikelse", "hanna")
    assert cases.get_case(engine, people["hanna"].actor, case_id)["data"]["rapportor"] == "hanna"
    assert task["id"] in [t["id"] for t in inbox.list_tasks(engine, people["hanna"].actor)["items"]]
    # maja is a Medarbetare, the diagram's lane: she is not offered it, in her inbox nor the API
    maja = identity.get_actor(engine, "maja")
    assert task["id"] not in [t["id"] for t in inbox.list_tasks(engine, maja)["items"]]
    for other in ("hugo", "greta"):
        listed = client.get("/api/tasks?limit=500", headers=people[other].headers).get_json()["items"]
        assert task["id"] not in [t["id"] for t in listed]
        assert client.get(f"/api/tasks/{task['id']}", headers=people[other].headers).status_code in (403, 404)
    maja_token = identity.issue_token(engine, "maja")
    listed = client.get("/api/tasks?limit=500", headers={"Authorization": f"Bearer {maja_token}"}).get_json()["items"]
    assert task["id"] not in [t["id"] for t in listed]
    # the API's start by hand is the same
    api = client.post("/api/processes/avvikelsehantering/cases", json={}, headers=people["hugo"].headers)
    assert api.status_code == 201, api.get_json()
    [api_task] = api.get_json()["open_tasks"]
    assert api_task["assignee"] == "hugo"
    for other in (people["hanna"].actor, maja):
        assert api_task["id"] not in [t["id"] for t in inbox.list_tasks(engine, other)["items"]]
    # a start by the system (an intake) still goes to the lane's pool
    pooled = cases.start_case(engine, SYSTEM, "avvikelsehantering", {}, "AVV-INTAG")
    [open_task] = pooled["open_tasks"]
    assert open_task["id"] in [t["id"] for t in inbox.list_tasks(engine, maja)["items"]]
