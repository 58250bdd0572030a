"""A person's data request (GDPR art. 15): every case and event that names them, readable as JSON
and CSV, each case marked as an allmän handling to keep or one that may be culled."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import Person, publish
from test_retention import RULE, run_case

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.base.errors import Forbidden, InvalidInput
from engine.core import Engine
from engine.retention import culling, holds, personal_data, rules


@pytest.fixture
def archivist(engine: Engine, people: dict[str, Person]) -> identity.Actor:
    identity.add_user(engine, "arkiv", ["arkivansvarig"])
    return identity.get_actor(engine, "arkiv")


def test_every_case_and_event_naming_a_person_is_found_and_marked(
        engine: Engine, client: Any, people: dict[str, Person], archivist: identity.Actor,
        clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    old = run_case(client, people)
    rules.approve(engine, archivist, rules.propose(engine, people["admin"].actor, RULE)["id"])
    clock.advance(timedelta(days=400))
    recent = run_case(client, people, 500)
    held = run_case(client, people, 700)
    holds.hold(engine, archivist, held, "Begäran om utlämnande")
    clock.advance(timedelta(days=400))  # old: past two years; recent and held: not yet
    result = personal_data.search(engine, people["admin"].actor, "sven svensson")
    by_id = {c["case_id"]: c for c in result["cases"]}
    assert set(by_id) == {old, recent, held}
    case = by_id[recent]
    assert case["in_form_answers"] == [{"task": "Granska", "fields": ["data.kommentar"]}]
    assert {e["type"] for e in case["events"]} >= {"task_completed", "comment"}
    assert case["must_be_kept"] and "först från" in case["why"]
    assert by_id[held]["must_be_kept"] and by_id[held]["held"]
    assert not by_id[old]["must_be_kept"] and "får gallras" in by_id[old]["why"]

    greta = personal_data.search(engine, people["admin"].actor, "greta")
    assert greta["users"] == ["greta"] and all(
        any(e["as_actor"] for e in c["events"]) for c in greta["cases"])
    text = personal_data.to_csv(result)
    assert text.splitlines()[0].startswith("Ärende-id;Process;Ärendenummer;Status;Öppnat;Avslutat;Var personen nämns")
    assert "formulär Granska: data.kommentar" in text and ";ja;" in text and ";nej;" in text

    culling.cull_due(engine)
    after = {c["case_id"]: c for c in personal_data.search(engine, people["admin"].actor, "Sven Svensson")["cases"]}
    assert old not in after  # culled: the data naming them is gone
    assert set(after) == {recent, held}


def test_only_administrators_search_and_a_bad_query_is_refused(engine: Engine, client: Any,
                                                               people: dict[str, Person],
                                                               archivist: identity.Actor) -> None:
    for who in (people["hanna"].actor, archivist):
        with pytest.raises(Forbidden):
            personal_data.search(engine, who, "Sven Svensson")
    for bad in ("", "  ab ", ["Sven"], "x" * 201, None):
        with pytest.raises(InvalidInput):
            personal_data.search(engine, people["admin"].actor, bad)
    r = client.post("/api/personal-data/search", json={"query": "Sven"}, headers=people["hanna"].headers)
    assert r.status_code == 403 and r.mimetype == "application/problem+json"
    r = client.post("/api/personal-data/search", json={"query": 7}, headers=people["admin"].headers)
    assert r.status_code == 422 and "namn" in r.get_json()["detail"]


def test_through_the_api_and_the_command(engine: Engine, client: Any, people: dict[str, Person],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from webapp import cli_engine
    from webapp.cli import main

    publish(client, people, "review.bpmn")
    case_id = run_case(client, people)
    r = client.post("/api/personal-data/search", json={"query": "Sven Svensson"}, headers=people["admin"].headers)
    assert r.status_code == 200 and [c["case_id"] for c in r.get_json()["cases"]] == [case_id]
    r = client.post("/api/personal-data/search?format=csv", json={"query": "Sven Svensson"},
                    headers=people["admin"].headers)
    assert r.mimetype == "text/csv" and case_id in r.get_data(as_text=True)
    monkeypatch.setattr(cli_engine, "engine_from_env", lambda: engine)
    out = CliRunner().invoke(main, ["retention", "personal-data", "Sven Svensson", "--csv"])
    assert out.exit_code == 0 and case_id in out.output and "Ska bevaras" in out.output
