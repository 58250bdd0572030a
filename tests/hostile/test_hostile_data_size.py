"""Case data has a size limit (`engine.base.data_limits`): per field (`RUTIN_MAX_FIELD_BYTES`), per case
(`RUTIN_MAX_CASE_DATA_BYTES`) and in nesting depth. Data from outside that goes past one is a 422
naming the field and the limit, and nothing is written; a script that grows a case past it puts
the case in incident at its step, and the oversized data is never saved."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from conftest import PASSWORD, Person, fixture_bytes, sign_in
from probes import assert_no_effect, db_state

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base import data_limits
from engine.base.clock import ManualClock
from engine.base.errors import InvalidInput
from engine.base.settings import Settings
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases
from engine.store.models import Case

# On both databases: size limits meet each database's own limits and transactions.
pytestmark = pytest.mark.both_databases

FIELD, CASE = 1024, 8192
APPLICATION = {"sokande": "Sara Sökande", "inkom": "2026-03-02"}
REVIEW = {"bedomning": "Uppfyller kraven", "rekommendation": "tillstyrk"}

# A start form and a step with ten text fields each, and a script whose output grows with a number.
WIDE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="bred" name="Bred" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:extensionElements><camunda:formData>START</camunda:formData>
    </bpmn:extensionElements></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="fyll"/>
    <bpmn:userTask id="fyll" name="Fyll i" camunda:candidateGroups="Handläggare"><bpmn:extensionElements>
      <camunda:formData>STEP<camunda:formField id="storlek" label="Storlek" type="long"/></camunda:formData>
    </bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="fyll" targetRef="vaxa"/>
    <bpmn:scriptTask id="vaxa" name="Sammanställ bilagor" scriptFormat="python"><bpmn:script>SCRIPT</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="vaxa" targetRef="nasta"/>
    <bpmn:userTask id="nasta" name="Nästa" camunda:candidateGroups="Handläggare"/>
    <bpmn:sequenceFlow id="f4" sourceRef="nasta" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def _wide(script: str = "sammanstallning = 'x' * storlek") -> bytes:
    start = "".join(f'<camunda:formField id="f{i}" label="F{i}" type="string"/>' for i in range(10))
    step = "".join(f'<camunda:formField id="g{i}" label="G{i}" type="string"/>' for i in range(10))
    return WIDE.replace("START", start).replace("STEP", step).replace("SCRIPT", script).encode()


@pytest.fixture
def small(engine: Engine, clock: ManualClock) -> Iterator[Engine]:
    """The test database with small limits: 1 KiB a field, 8 KiB a case."""
    limited = Engine(replace(engine.settings, max_field_bytes=FIELD, max_case_data_bytes=CASE), clock)
    yield limited
    limited.close()


@pytest.fixture
def api(small: Engine, people: dict[str, Person]) -> Any:
    from webapp import create_app

    return create_app(small).test_client()


def _refused(r: Any, *sentences: str) -> dict[str, Any]:
    assert r.status_code == 422, r.get_data(as_text=True)[:500]
    problem = r.get_json()
    for sentence in sentences:
        assert sentence in problem["detail"], problem["detail"]
    return problem  # type: ignore[no-any-return]


@pytest.fixture
def review(small: Engine, api: Any, people: dict[str, Person]) -> dict[str, Any]:
    processes.deploy(small, SYSTEM, fixture_bytes("manager_review.bpmn"), approve_as_admin=True)
    case = api.post("/api/processes/ansokan/cases", json={"data": APPLICATION}, headers=people["hanna"].headers)
    assert case.status_code == 201, case.get_json()
    return case.get_json()  # type: ignore[no-any-return]


def _nested(depth: int, leaf: Any = 1, kind: str = "list") -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if kind == "list" else {"n": value}
    return value


# -- one field -----------------------------------------------------------------------------------


def test_a_field_over_the_limit_in_a_completion_is_refused(small: Engine, api: Any, people: dict[str, Person],
                                                           review: dict[str, Any]) -> None:
    before = db_state(small)
    r = api.post(f"/api/tasks/{review['open_tasks'][0]['id']}/complete",
                 json={"data": {**REVIEW, "bedomning": "x" * 2000}}, headers=people["hanna"].headers)
    problem = _refused(r, "Fältet 'bedomning' är 2002 byte; ett fält får vara högst 1 KiB.")
    assert problem["limits"] == {"field_bytes": FIELD, "case_bytes": CASE, "depth": data_limits.MAX_DEPTH}
    assert_no_effect(before, db_state(small))


def test_a_field_at_the_limit_is_taken(small: Engine, api: Any, people: dict[str, Person],
                                       review: dict[str, Any]) -> None:
    text = "x" * (FIELD - 2)  # with its quotes, exactly the limit
    r = api.post(f"/api/tasks/{review['open_tasks'][0]['id']}/complete",
                 json={"data": {**REVIEW, "bedomning": text}}, headers=people["hanna"].headers)
    assert r.status_code == 200, r.get_json()


def test_a_field_over_the_limit_in_start_data_is_refused(small: Engine, api: Any, people: dict[str, Person]) -> None:
    processes.deploy(small, SYSTEM, fixture_bytes("manager_review.bpmn"), approve_as_admin=True)
    before = db_state(small)
    r = api.post("/api/processes/ansokan/cases", json={"data": {**APPLICATION, "sokande": "å" * 600}},
                 headers=people["hanna"].headers)
    _refused(r, "Fältet 'sokande' är 1202 byte")  # UTF-8: two bytes a letter
    assert_no_effect(before, db_state(small))


def _to_messages(api: Any, people: dict[str, Person], review: dict[str, Any]) -> str:
    hanna, greta, admin = people["hanna"], people["greta"], people["admin"]
    r = api.post(f"/api/tasks/{review['open_tasks'][0]['id']}/complete", json={"data": REVIEW}, headers=hanna.headers)
    manager = r.get_json()["case"]["open_tasks"][0]
    api.post(f"/api/tasks/{manager['id']}/complete", json={"data": {"godkand": True}}, headers=greta.headers)
    r = api.post(f"/api/cases/{review['id']}/messages/yttrande", json={"data": {"yttrande": "ok"}},
                 headers=admin.headers)
    assert r.status_code == 200, r.get_json()
    return str(review["id"])


def test_a_field_over_the_limit_in_a_message_is_refused(small: Engine, api: Any, people: dict[str, Person],
                                                        review: dict[str, Any]) -> None:
    case_id = _to_messages(api, people, review)
    before = db_state(small)
    r = api.post(f"/api/cases/{case_id}/messages/komplettering", json={"data": {"bilaga": "x" * 5000}},
                 headers=people["admin"].headers)
    _refused(r, "Fältet 'bilaga' är 5002 byte")
    assert_no_effect(before, db_state(small))


def test_a_field_over_the_limit_in_a_retry_is_refused(small: Engine, api: Any, people: dict[str, Person]) -> None:
    processes.deploy(small, SYSTEM, fixture_bytes("incident.bpmn"), approve_as_admin=True)
    admin = people["admin"]
    case = api.post("/api/processes/incident/cases", json={}, headers=admin.headers).get_json()
    r = api.post(f"/api/tasks/{case['open_tasks'][0]['id']}/complete", json={"data": {}}, headers=admin.headers)
    assert r.get_json()["case"]["status"] == "incident"
    before = db_state(small)
    r = api.post(f"/api/cases/{case['id']}/retry", json={"data": {"belopp": "9" * 3000}}, headers=admin.headers)
    _refused(r, "Fältet 'belopp' är 3002 byte")
    assert_no_effect(before, db_state(small))


def test_a_field_over_the_limit_in_the_pages_form_is_refused(small: Engine, api: Any, people: dict[str, Person],
                                                             review: dict[str, Any]) -> None:
    identity.set_password(small, "hanna", PASSWORD)
    csrf = sign_in(api, "hanna")
    before = db_state(small)
    r = api.post(f"/tasks/{review['open_tasks'][0]['id']}/complete",
                 data={"csrf": csrf, **REVIEW, "bedomning": "x" * 3000}, headers={"Accept": "text/html"})
    assert r.status_code == 422
    assert "Fältet &#39;bedomning&#39; är 3002 byte; ett fält får vara högst 1 KiB." in r.get_data(as_text=True)
    assert_no_effect(before, db_state(small))


# -- the whole case ------------------------------------------------------------------------------


def test_start_data_over_the_case_limit_is_refused(small: Engine, api: Any, people: dict[str, Person]) -> None:
    processes.deploy(small, SYSTEM, _wide(), approve_as_admin=True)
    before = db_state(small)
    r = api.post("/api/processes/bred/cases", json={"data": {f"f{i}": "x" * 900 for i in range(10)}},
                 headers=people["hanna"].headers)
    _refused(r, "blir ärendets uppgifter", "ett ärende får ha högst 8 KiB.")
    assert_no_effect(before, db_state(small))


def test_a_completion_that_takes_the_case_over_its_limit_is_refused(small: Engine, api: Any,
                                                                     people: dict[str, Person]) -> None:
    processes.deploy(small, SYSTEM, _wide(), approve_as_admin=True)
    case = api.post("/api/processes/bred/cases", json={"data": {f"f{i}": "x" * 900 for i in range(6)}},
                    headers=people["hanna"].headers).get_json()
    before = db_state(small)
    r = api.post(f"/api/tasks/{case['open_tasks'][0]['id']}/complete",
                 json={"data": {f"g{i}": "y" * (900 + i) for i in range(4)}}, headers=people["hanna"].headers)
    problem = _refused(r, "Med fältet 'g3' blir ärendets uppgifter", "ett ärende får ha högst 8 KiB.")
    assert problem["errors"][0]["field"] == "g3"
    assert_no_effect(before, db_state(small))


def test_messages_that_add_up_past_the_case_limit_are_refused(small: Engine, api: Any, people: dict[str, Person],
                                                              review: dict[str, Any]) -> None:
    case_id = _to_messages(api, people, review)
    before = db_state(small)
    r = api.post(f"/api/cases/{case_id}/messages/komplettering",
                 json={"data": {f"bilaga{i}": "x" * 1000 for i in range(9)}}, headers=people["admin"].headers)
    _refused(r, "blir ärendets uppgifter", "högst 8 KiB")
    assert_no_effect(before, db_state(small))


# -- nesting -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["list", "dict"])
def test_a_field_nested_past_the_depth_limit_is_refused(small: Engine, api: Any, people: dict[str, Person],
                                                        review: dict[str, Any], kind: str) -> None:
    before = db_state(small)
    r = api.post(f"/api/tasks/{review['open_tasks'][0]['id']}/complete",
                 json={"data": {**REVIEW, "handlaggarens_notering": _nested(data_limits.MAX_DEPTH, kind=kind)}},
                 headers=people["hanna"].headers)
    _refused(r, f"Fältet 'handlaggarens_notering' är nästlat i fler än {data_limits.MAX_DEPTH} nivåer.")
    assert_no_effect(before, db_state(small))
    # one level less fits: the case's data as a whole is then nested exactly MAX_DEPTH deep
    r = api.post(f"/api/tasks/{review['open_tasks'][0]['id']}/complete",
                 json={"data": {**REVIEW, "handlaggarens_notering": _nested(data_limits.MAX_DEPTH - 1, kind=kind)}},
                 headers=people["hanna"].headers)
    assert r.status_code == 200, r.get_json()


def test_a_body_nested_too_deeply_to_parse_is_a_400(small: Engine, api: Any, people: dict[str, Person]) -> None:
    processes.deploy(small, SYSTEM, fixture_bytes("manager_review.bpmn"), approve_as_admin=True)
    body = '{"data": {"sokande": "S", "x": ' + "[" * 100_000 + "]" * 100_000 + "}}"
    before = db_state(small)
    r = api.post("/api/processes/ansokan/cases", data=body,
                 headers={**people["hanna"].headers, "Content-Type": "application/json"})
    assert r.status_code == 400 and "Traceback" not in r.get_data(as_text=True)
    assert "nästlat" in r.get_json()["detail"]
    assert_no_effect(before, db_state(small))


def test_a_body_that_parses_but_nests_hundreds_deep_is_a_422_not_a_500(small: Engine, api: Any,
                                                                       people: dict[str, Person]) -> None:
    processes.deploy(small, SYSTEM, fixture_bytes("manager_review.bpmn"), approve_as_admin=True)
    assert json.loads("[" * 800 + "]" * 800)  # the JSON parser takes it
    body = '{"data": {"sokande": "S", "x": ' + "[" * 800 + "]" * 800 + "}}"
    before = db_state(small)
    r = api.post("/api/processes/ansokan/cases", data=body,
                 headers={**people["hanna"].headers, "Content-Type": "application/json"})
    _refused(r, "Fältet 'x' är nästlat")
    assert_no_effect(before, db_state(small))


def test_data_nested_thousands_deep_given_to_the_engine_is_refused_without_recursing(small: Engine) -> None:
    processes.deploy(small, SYSTEM, fixture_bytes("manager_review.bpmn"), approve_as_admin=True)
    before = db_state(small)
    with pytest.raises(InvalidInput, match="Fältet 'x' är nästlat"):
        cases.start_case(small, SYSTEM, "ansokan", {**APPLICATION, "x": _nested(50_000, kind="dict")})
    assert_no_effect(before, db_state(small))


# -- scripts -------------------------------------------------------------------------------------


def test_a_script_that_grows_the_case_past_its_limit_is_an_incident_and_nothing_oversized_is_saved(
        small: Engine, api: Any, people: dict[str, Person]) -> None:
    processes.deploy(small, SYSTEM, _wide(), approve_as_admin=True)
    admin = people["admin"]
    case = api.post("/api/processes/bred/cases", json={"data": {"f0": "start"}}, headers=admin.headers).get_json()
    r = api.post(f"/api/tasks/{case['open_tasks'][0]['id']}/complete", json={"data": {"storlek": 20_000}},
                 headers=admin.headers)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()["case"]
    assert body["status"] == "incident" and body["incident"]["element_id"] == "vaxa"
    assert "ett ärende får ha högst 8 KiB" in body["incident"]["message"]
    with small.db.read() as s:
        row = s.get(Case, case["id"])
        assert "x" * 1000 not in row.state_json and len(row.state_json) < CASE
        assert "sammanstallning" not in row.data and row.data["storlek"] == 20_000
    # retry is there once the cause is fixed: the step runs again on the corrected data
    r = api.post(f"/api/cases/{case['id']}/retry", json={"data": {"storlek": 100}}, headers=admin.headers)
    assert r.status_code == 200, r.get_json()
    fixed = r.get_json()
    assert fixed["status"] == "active" and [t["name"] for t in fixed["open_tasks"]] == ["Nästa"]
    assert fixed["data"]["sammanstallning"] == "x" * 100


def test_a_script_that_nests_data_past_the_depth_limit_is_an_incident(small: Engine, api: Any,
                                                                      people: dict[str, Person]) -> None:
    processes.deploy(small, SYSTEM, _wide("d = []\nfor i in range(storlek):\n    d = [d]"), approve_as_admin=True)
    admin = people["admin"]
    case = api.post("/api/processes/bred/cases", json={}, headers=admin.headers).get_json()
    r = api.post(f"/api/tasks/{case['open_tasks'][0]['id']}/complete", json={"data": {"storlek": 200}},
                 headers=admin.headers)
    body = r.get_json()["case"]
    assert body["status"] == "incident" and body["incident"]["element_id"] == "vaxa"
    assert re.search(r"nästlade i fler än \d+ nivåer", body["incident"]["message"])
    with small.db.read() as s:
        assert "[[[[[[[[" not in s.get(Case, case["id"]).state_json


# -- configuration -------------------------------------------------------------------------------


def test_the_limits_are_configurable_with_defaults_of_a_mebibyte_and_64_kibibytes() -> None:
    default = Settings.from_env({})
    assert (default.max_case_data_bytes, default.max_field_bytes) == (1024 * 1024, 64 * 1024)
    set_ = Settings.from_env({"RUTIN_MAX_CASE_DATA_BYTES": "2048", "RUTIN_MAX_FIELD_BYTES": "512"})
    assert (set_.max_case_data_bytes, set_.max_field_bytes) == (2048, 512)
