"""Hostile probes: malformed parameters, bodies and paths, across the API and the pages.

Each probe sends one malformed request and asserts a 4xx whose Swedish problem detail (or error
page) names what was wrong, and that every table is as before. A 5xx, or a request that quietly
reads `?unit=a&unit=b` as "a", is the hole each probe closes; on PostgreSQL the NUL bytes,
over-long values and out-of-range numbers are what used to reach the database.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import PASSWORD, Person, fixture_bytes, publish, sign_in
from probes import assert_no_effect, db_state

from engine.authority import identity
from engine.core import Engine

# On both databases: query parameters reach SQL (sorting, LIKE patterns) that each dialect writes differently.
pytestmark = pytest.mark.both_databases

PROBLEM = "application/problem+json"


@pytest.fixture
def world(client: Any, people: dict[str, Person], engine: Engine) -> dict[str, str]:
    """A published process with a case (business key BN-1) and its open task."""
    assert publish(client, people, "seq3.bpmn").status_code == 201
    case = client.post("/api/processes/seq3/cases", json={"business_key": "BN-1"},
                       headers=people["admin"].headers).get_json()
    return {"case": case["id"], "task": case["open_tasks"][0]["id"]}


def _problem(r: Any, status: int, *words: str) -> None:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:400])
    assert r.headers["Content-Type"] == PROBLEM
    detail = r.get_json()["detail"]
    assert all(w in detail for w in words), detail
    assert "Traceback" not in r.get_data(as_text=True)


# -- query arguments --------------------------------------------------------------------------------

QUERIES = [
    ("/api/tasks?offset=99999999999999999999", 422, ["offset"]),
    ("/api/tasks?limit=-1", 422, ["limit", "från 1 till 500"]),
    ("/api/cases?offset=-5", 422, ["offset"]),
    ("/api/cases?limit=1000", 422, ["limit"]),
    ("/api/cases?offset=1.5", 422, ["offset", "heltal"]),
    ("/api/tasks?limit=1e3", 422, ["limit", "heltal"]),
    ("/api/notifications?limit=%D9%A1%D9%A0", 422, ["limit", "heltal"]),  # Arabic-Indic "10", which int() reads
    ("/api/tasks?limit=%2B5", 422, ["limit", "heltal"]),
    ("/api/cases?unit=bygglov&unit=miljo", 422, ["unit", "en gång"]),
    ("/api/tasks?process=seq3&process=annan", 422, ["process", "en gång"]),
    ("/api/tasks?overdue=kanske", 422, ["overdue", "true eller false"]),
    ("/api/absences?all=ja", 422, ["all", "true eller false"]),
    ("/api/tasks?due_before=2026-13-45", 422, ["due_before", "ISO 8601"]),
    ("/api/tasks?due_before=9999-12-31T23:59:59%2B14:00", 422, ["due_before", "år 1900"]),
    ("/api/measures?from=2026-03-01", 422, ["from", "tidszon"]),
    ("/api/tasks?sort=name", 422, ["sort", "created, due, priority"]),
    ("/api/tasks?order=sideways", 422, ["order"]),
    ("/api/measures?format=xml", 422, ["format", "json, csv"]),
    ("/api/delegation/decisions?reporting=hemligt", 422, ["reporting"]),
    ("/api/org?format=pdf", 422, ["format"]),
    ("/api/tasks?q=" + "x" * 201, 422, ["q", "200 tecken"]),
    ("/api/tasks?q=BN%00", 400, ["NUL"]),
    ("/api/cases?business_key=%00", 400, ["NUL"]),
    ("/api/cases/abc%00def", 400, ["NUL"]),
    ("/api/tasks/%00", 400, ["NUL"]),
]


@pytest.mark.parametrize(("url", "status", "words"), QUERIES, ids=[q[0][:60] for q in QUERIES])
def test_a_malformed_query_argument_is_refused_by_name(client: Any, people: dict[str, Person], engine: Engine,
                                                       world: dict[str, str], url: str, status: int,
                                                       words: list[str]) -> None:
    before = db_state(engine)
    _problem(client.get(url, headers=people["admin"].headers), status, *words)
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize("url", [
    "/api/processes/seq3/versions/99999999999999999999",
    "/api/processes/seq3/versions/2147483648/bpmn",
    "/api/absences/99999999999999999999",
])
def test_a_number_in_the_path_beyond_any_id_names_nothing(client: Any, people: dict[str, Person], engine: Engine,
                                                          world: dict[str, str], url: str) -> None:
    before = db_state(engine)
    method = client.delete if url.startswith("/api/absences") else client.get
    _problem(method(url, headers=people["admin"].headers), 404, "finns inte")
    assert_no_effect(before, db_state(engine))


def test_marking_a_notification_beyond_any_id_is_404(client: Any, people: dict[str, Person], engine: Engine) -> None:
    before = db_state(engine)
    _problem(client.post("/api/notifications/36893488147419103233/read", headers=people["hanna"].headers), 404)
    assert_no_effect(before, db_state(engine))


# -- JSON bodies --------------------------------------------------------------------------------------


def _nested(depth: int) -> str:
    return '{"data": ' + '{"a": ' * depth + "1" + "}" * depth + "}"


BODIES = [
    (b"[1, 2]", "application/json", 400, ["JSON-objekt"]),
    (b"42", "application/json", 400, ["JSON-objekt"]),
    (b'"BN-1"', "application/json", 400, ["JSON-objekt"]),
    (b"{business_key: 1}", "application/json", 400, ["inte giltig JSON"]),
    (b'{"business_key": "BN-2"}', "text/plain", 400, ["application/json"]),
    (b"business_key=BN-2", "application/x-www-form-urlencoded", 400, ["application/json"]),
    # Depth is the engine's one rule for case data (tests/hostile/test_hostile_data_size.py); here
    # the nested field is not even one the start form has.
    (_nested(40).encode(), "application/json", 422, ["'a'"]),
    (_nested(100_000).encode(), "application/json", 400, ["inte giltig JSON"]),
    (b'{"data": {"namn": "a\\u0000b"}}', "application/json", 400, ["NUL"]),
    (b'{"data": {"belopp": 1e999}}', "application/json", 400, ["NaN eller Infinity"]),
    (b'{"org_unit": ["bygglov", "miljo"]}', "application/json", 422, ["org_unit", "text"]),
    (b'{"business_key": {"nr": 1}}', "application/json", 422, ["business_key", "text"]),
    (b'{"business_key": "' + b"x" * 201 + b'"}', "application/json", 422, ["business_key", "200"]),
    (b'{"data": [1, 2]}', "application/json", 422, ["data", "JSON-objekt"]),
    (b'{"data": "text"}', "application/json", 422, ["data", "JSON-objekt"]),
]


@pytest.mark.parametrize(("body", "content_type", "status", "words"), BODIES,
                         ids=[f"{b[:30]!r} as {t}" for b, t, _, _ in BODIES])
def test_a_malformed_start_body_is_refused_and_no_case_starts(client: Any, people: dict[str, Person],
                                                              engine: Engine, world: dict[str, str], body: bytes,
                                                              content_type: str, status: int,
                                                              words: list[str]) -> None:
    before = db_state(engine)
    r = client.post("/api/processes/seq3/cases", data=body,
                    headers={**people["admin"].headers, "Content-Type": content_type})
    _problem(r, status, *words)
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize(("path", "body", "words"), [
    ("/api/messages/svar", {"business_key": ["BN-1"]}, ["business_key", "text"]),
    ("/api/messages/svar", {"business_key": "BN-1", "data": ["x"]}, ["data", "JSON-objekt"]),
    ("/api/cases/{case}/retry", {"data": 5}, ["data", "JSON-objekt"]),
    ("/api/tasks/{task}/complete", {"data": [{"x": 1}]}, ["data", "JSON-objekt"]),
    ("/api/tasks/{task}/conflict-of-interest", {"reason": {"x": 1}}, ["reason", "text"]),
    ("/api/tasks/{task}/assign", {"user": ["hugo"]}, ["user", "text"]),
    ("/api/tasks/{task}/comments", {"text": 17}, ["text"]),
    ("/api/processes/seq3/policy", {"tasks": ["a"]}, ["tasks"]),
], ids=["message key list", "message data list", "retry data number", "complete data list", "jäv reason object",
        "assign user list", "comment number", "policy tasks list"])
def test_a_field_of_the_wrong_kind_is_refused_by_name(client: Any, people: dict[str, Person], engine: Engine,
                                                      world: dict[str, str], path: str, body: dict[str, Any],
                                                      words: list[str]) -> None:
    before = db_state(engine)
    method = client.put if path.endswith("/policy") else client.post
    r = method(path.format(**world), data=json.dumps(body),
               headers={**people["admin"].headers, "Content-Type": "application/json"})
    _problem(r, 422, *words)
    assert_no_effect(before, db_state(engine))


# -- uploads and organisation files -------------------------------------------------------------------------


def test_an_over_long_file_name_is_refused_and_nothing_stored(client: Any, people: dict[str, Person],
                                                              engine: Engine) -> None:

    before = db_state(engine)
    r = client.post("/api/processes", data=fixture_bytes("seq3.bpmn"),
                    headers={**people["designer"].headers, "Content-Type": "application/xml",
                             "X-Filename": "x" * 300 + ".bpmn"})
    _problem(r, 422, "Filnamnet", "255")
    assert_no_effect(before, db_state(engine))


ORG_BODIES = [
    ("application/yaml", b"a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                         b"units: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n", 400, ["alias"]),
    ("application/yaml", b"- units\n- people\n", 400, ["YAML-objekt"]),
    ("application/yaml", b"units: [" * 2000, 400, ["inte giltig YAML"]),
    ("application/yaml", b"people:\n  - {name: \"a\\0b\"}\n", 400, ["NUL"]),
    ("text/csv", b"name;role\nanna;Handl\x00aggare\n", 400, ["NUL"]),
    ("text/csv", b"name;role\nanna;" + b"x" * 200_000 + b"\n", 422, ["CSV-filen kan inte läsas"]),
    ("application/json", b"[]", 400, ["JSON-objekt"]),
]


@pytest.mark.parametrize(("content_type", "body", "status", "words"), ORG_BODIES,
                         ids=["yaml aliases", "yaml list", "yaml nesting", "yaml nul", "csv nul", "csv huge field",
                              "json list"])
def test_a_hostile_organisation_file_is_refused_and_nothing_changes(client: Any, people: dict[str, Person],
                                                                    engine: Engine, content_type: str, body: bytes,
                                                                    status: int, words: list[str]) -> None:
    before = db_state(engine)
    r = client.put("/api/org", data=body, headers={**people["admin"].headers, "Content-Type": content_type})
    _problem(r, status, *words)
    assert_no_effect(before, db_state(engine))


# -- pages ------------------------------------------------------------------------------------------------------

DOUBLE_FORM = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    id="d" targetNamespace="x"><process id="belopp" isExecutable="true">
  <laneSet id="ls"><lane id="l" name="Handl\xc3\xa4ggare"><flowNodeRef>s</flowNodeRef><flowNodeRef>t</flowNodeRef>
    <flowNodeRef>e</flowNodeRef></lane></laneSet>
  <startEvent id="s"/><userTask id="t" name="Ange belopp"><extensionElements><camunda:formData>
    <camunda:formField id="belopp" label="Belopp" type="double"/></camunda:formData></extensionElements></userTask>
  <endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/><sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
</process></definitions>"""


@pytest.fixture
def page_client(client: Any, engine: Engine, people: dict[str, Person], world: dict[str, str]) -> Any:
    identity.set_password(engine, "admin", PASSWORD)
    client.csrf = sign_in(client, "admin")
    return client


@pytest.mark.parametrize(("url", "words"), [
    ("/?sida=99999999999999999999", ["sida"]),
    ("/cases?sida=-3", ["sida"]),
    ("/delegationsbeslut?till=9999-12-31", ["år 1900"]),
    ("/matetal?fran=0001-01-01", ["år 1900"]),
    ("/matetal?fran=31/12/2026", ["ÅÅÅÅ-MM-DD"]),
    ("/tasks/%00", ["NUL"]),
], ids=["inbox page beyond any", "negative page", "report till year 9999", "measures from year 1",
        "measures date not ISO", "task NUL"])
def test_a_malformed_page_argument_is_a_swedish_error_page(page_client: Any, engine: Engine, url: str,
                                                           words: list[str]) -> None:
    before = db_state(engine)
    r = page_client.get(url, headers={"Accept": "text/html"})
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    page = r.get_data(as_text=True)
    assert all(w in page for w in words), page[:2000]
    assert_no_effect(before, db_state(engine))


def test_a_nul_in_a_page_form_is_refused_before_it_reaches_the_database(page_client: Any, engine: Engine,
                                                                        world: dict[str, str]) -> None:
    before = db_state(engine)
    r = page_client.post(f"/tasks/{world['task']}/comments", data={"csrf": page_client.csrf, "text": "hej\x00då"},
                         headers={"Accept": "text/html"})
    assert r.status_code == 400 and "NUL" in r.get_data(as_text=True)
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize("value", ["nan", "inf", "1e999", "-Infinity"])
def test_a_number_field_that_is_not_a_finite_number_is_refused_on_the_page(
        page_client: Any, client: Any, people: dict[str, Person], engine: Engine, value: str) -> None:
    assert publish(client, people, DOUBLE_FORM).status_code == 201
    case = client.post("/api/processes/belopp/cases", json={}, headers=people["admin"].headers).get_json()
    task = case["open_tasks"][0]["id"]
    before = db_state(engine)
    r = page_client.post(f"/tasks/{task}/complete", data={"csrf": page_client.csrf, "belopp": value},
                         headers={"Accept": "text/html"})
    assert r.status_code == 422, (r.status_code, r.get_data(as_text=True)[:300])
    assert "Belopp" in r.get_data(as_text=True)
    assert_no_effect(before, db_state(engine))


def test_a_multipart_part_without_a_name_is_a_problem_not_a_500(client: Any, people: dict[str, Person],
                                                                engine: Engine) -> None:
    # Werkzeug reads a part with no name as the form key None, which the NUL check once tripped on.
    body = (b"--b\r\nContent-Disposition: form-data\r\n\r\nx\x00y\r\n"
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="p.bpmn"\r\n'
            b"Content-Type: application/xml\r\n\r\n" + fixture_bytes("seq3.bpmn") + b"\r\n--b--\r\n")
    before = db_state(engine)
    r = client.post("/api/processes", data=body,
                    headers={**people["designer"].headers, "Content-Type": "multipart/form-data; boundary=b"})
    assert r.status_code < 500 and r.headers["Content-Type"] == PROBLEM, (r.status_code, r.get_data(as_text=True)[:300])
    assert_no_effect(before, db_state(engine))
