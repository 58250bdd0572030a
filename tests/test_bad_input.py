"""Bad uploads get a clear 4xx and leave nothing behind; never a stack trace."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Person, deploy, fixture_bytes, publish

from engine.core import Engine
from engine.store.models import BpmnDocument, ProcessVersion

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&xxe;"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""

XXE_NETWORK = b"""<?xml version="1.0"?>
<!DOCTYPE d SYSTEM "http://127.0.0.1:1/evil.dtd">
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d"/>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d">
  <bpmn:process id="p" name="&lol9;"><bpmn:startEvent id="s"/></bpmn:process>
</bpmn:definitions>"""

NO_START = b"""<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:userTask id="t" name="Ensam"/><bpmn:sequenceFlow id="f" sourceRef="t" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""

MISSING_TARGET = b"""<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Steg"/>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="finns_inte"/>
  </bpmn:process>
</bpmn:definitions>"""

NOT_BPMN = b"""<?xml version="1.0"?><html><body>hej</body></html>"""

GROOVY = b"""<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="x"/>
    <bpmn:scriptTask id="x" name="Groovy" scriptFormat="groovy"><bpmn:script>println 'hej'</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="x" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def nothing_stored(engine: Engine) -> bool:
    """Nothing but Rutin's own built-in process (the yearly review) is stored."""
    with engine.db.read() as s:
        docs = s.execute(sa.select(sa.func.count()).select_from(BpmnDocument)
                         .where(BpmnDocument.filename != "processgranskning.bpmn")).scalar_one()
        versions = s.execute(sa.select(sa.func.count()).select_from(ProcessVersion)
                             .where(ProcessVersion.key != "rutin_processgranskning")).scalar_one()
    return docs == 0 and versions == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"this is not xml at all", 422, "not-xml"),
        (b"<bpmn:definitions xmlns:bpmn='http://www.omg.org/spec/BPMN/20100524/MODEL'><unclosed>", 422, "not-xml"),
        (NOT_BPMN, 422, "not-bpmn"),
        (XXE, 422, "doctype"),
        (XXE_NETWORK, 422, "doctype"),
        (BILLION_LAUGHS, 422, "doctype"),
        (NO_START, 422, "no-start-event"),
        (MISSING_TARGET, 422, "missing-element"),
        (GROOVY, 422, "unsupported-script-language"),
        (b"", 422, "empty"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    client: Any, people: dict[str, Person], engine: Engine, body: bytes, status: int, code: str
) -> None:
    r = deploy(client, people["designer"], body)
    assert r.status_code == status, r.get_data(as_text=True)
    problem = r.get_json()
    assert r.headers["Content-Type"] == "application/problem+json"
    assert problem["type"].endswith("invalid-bpmn") and problem["detail"]
    assert code in {d["code"] for d in problem["diagnostics"]}, problem
    assert "Traceback" not in r.get_data(as_text=True) and "root:x:0:0" not in r.get_data(as_text=True)
    assert nothing_stored(engine)


def test_located_diagnostic_for_missing_target(client: Any, people: dict[str, Person]) -> None:
    problem = deploy(client, people["designer"], MISSING_TARGET).get_json()
    [diag] = [d for d in problem["diagnostics"] if d["code"] == "missing-element"]
    assert diag["element_id"] == "f2" and diag["line"] == 7 and "finns_inte" in diag["message"]


def test_fifty_megabyte_body_is_refused(client: Any, people: dict[str, Person], engine: Engine) -> None:
    big = b"<bpmn:definitions>" + b" " * (50 * 1024 * 1024) + b"</bpmn:definitions>"
    r = deploy(client, people["designer"], big)
    assert r.status_code == 413
    assert r.headers["Content-Type"] == "application/problem+json"
    assert nothing_stored(engine)


def test_multipart_upload_and_wrong_content_type(client: Any, people: dict[str, Person]) -> None:
    import io

    headers = people["designer"].headers
    r = client.post("/api/processes", data={"file": (io.BytesIO(fixture_bytes("seq3.bpmn")), "seq3.bpmn")},
                    headers=headers, content_type="multipart/form-data")
    assert r.status_code == 201 and r.get_json()["key"] == "seq3"
    r = client.post("/api/processes", data={"other": "x"}, headers=headers, content_type="multipart/form-data")
    assert r.status_code == 400
    r = client.post("/api/processes", json={"a": 1}, headers=headers)
    assert r.status_code == 400


def test_reupload_identical_is_a_noop_and_change_is_a_new_version(client: Any, people: dict[str, Person]) -> None:
    designer = people["designer"]
    first = deploy(client, designer, "seq3.bpmn")
    assert first.status_code == 201 and first.get_json()["version"] == 1
    again = deploy(client, designer, "seq3.bpmn")
    assert again.status_code == 200 and again.get_json()["version"] == 1
    assert again.get_json()["processes"][0]["created"] is False
    changed = fixture_bytes("seq3.bpmn").replace(b"Steg tre", b"Steg tre (nytt namn)")
    second = deploy(client, designer, changed)
    assert second.status_code == 201 and second.get_json()["version"] == 2
    assert second.get_json()["processes"][0]["status"] == "draft"
    detail = client.get("/api/processes/seq3", headers=designer.headers).get_json()
    assert [v["version"] for v in detail["versions"]] == [2, 1]
    assert detail["versions"][0]["changes"]["renamed"] == [{"id": "c", "from": "Steg tre", "to": "Steg tre (nytt namn)"}]
    assert client.get("/api/processes/seq3/versions/1/bpmn", headers=designer.headers).data == \
        fixture_bytes("seq3.bpmn")
    assert client.get("/api/processes/seq3/versions/2/bpmn", headers=designer.headers).data == changed
    assert client.get("/api/processes/seq3/versions/3/bpmn", headers=designer.headers).status_code == 404


def test_file_with_several_processes_deploys_each(client: Any, people: dict[str, Person]) -> None:
    r = publish(client, people, "two_processes.bpmn")
    assert r.status_code == 201
    assert sorted((p["key"], p["name"]) for p in r.get_json()["processes"]) == [
        ("andra", "Bolaget"), ("forsta", "Kommunen")]
    for key in ("forsta", "andra"):
        case = client.post(f"/api/processes/{key}/cases", json={}, headers=people["admin"].headers)
        assert case.status_code == 201


def test_running_cases_keep_their_version(client: Any, people: dict[str, Person]) -> None:
    designer, admin = people["designer"], people["admin"]
    publish(client, people, "seq3.bpmn")
    old = client.post("/api/processes/seq3/cases", json={}, headers=admin.headers).get_json()
    deploy(client, designer, fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg 1"))
    # a draft is used for nothing until a process owner who did not upload it approves it
    still_old = client.post("/api/processes/seq3/cases", json={}, headers=admin.headers).get_json()
    assert still_old["version"] == 1
    assert client.post("/api/processes/seq3/versions/2/approve", headers=people["hanna"].headers).status_code == 403
    assert client.post("/api/processes/seq3/versions/2/approve", headers=designer.headers).status_code == 403
    approved = client.post("/api/processes/seq3/versions/2/approve", headers=people["owner"].headers)
    assert approved.status_code == 200 and approved.get_json()["approved_by"] == "owner"
    assert client.post("/api/processes/seq3/versions/2/approve", headers=people["owner"].headers).status_code == 409
    new = client.post("/api/processes/seq3/cases", json={}, headers=admin.headers).get_json()
    assert old["version"] == 1 and new["version"] == 2
    assert old["open_tasks"][0]["name"] == "Steg ett" and new["open_tasks"][0]["name"] == "Steg 1"
    r = client.post(f"/api/tasks/{old['open_tasks'][0]['id']}/complete", json={}, headers=admin.headers)
    assert r.get_json()["case"]["open_tasks"][0]["name"] == "Steg två"
    assert client.get(f"/api/cases/{old['id']}", headers=admin.headers).get_json()["version"] == 1


def test_uploading_a_superseded_versions_bytes_again_goes_back_to_it_as_a_new_version(
        client: Any, people: dict[str, Person]) -> None:
    admin = people["admin"]
    publish(client, people, "seq3.bpmn")
    publish(client, people, fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg 1"))
    # version 2 turned out wrong: the designer uploads version 1's file again
    back = publish(client, people, "seq3.bpmn")
    assert back.status_code == 201 and back.get_json()["version"] == 3
    assert back.get_json()["processes"][0]["created"] is True
    case = client.post("/api/processes/seq3/cases", json={}, headers=admin.headers).get_json()
    assert case["version"] == 3 and case["open_tasks"][0]["name"] == "Steg ett"
    versions = client.get("/api/processes/seq3", headers=admin.headers).get_json()["versions"]
    assert {v["version"]: v["status"] for v in versions} == {1: "superseded", 2: "superseded", 3: "published"}
    assert versions[0]["changes"]["renamed"] == [{"id": "a", "from": "Steg 1", "to": "Steg ett"}]
    # while it is the live version, the same bytes are still the same version
    again = deploy(client, people["designer"], "seq3.bpmn")
    assert again.status_code == 200 and again.get_json()["version"] == 3


def _doc(body: str, pid: str = "p", extra: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"'
            f' id="d" targetNamespace="x">\n<process id="{pid}" isExecutable="true">\n{body}\n</process>{extra}\n'
            '</definitions>').encode()


SIMPLE = ('<startEvent id="s"/>\n<userTask id="a" name="A"/>\n<endEvent id="e"/>\n'
          '<sequenceFlow id="f1" sourceRef="s" targetRef="a"/>\n<sequenceFlow id="f2" sourceRef="a" targetRef="e"/>')


@pytest.mark.parametrize(("body", "lines"), [
    # two tasks with one id: only one of them would ever run
    (SIMPLE.replace('<userTask id="a" name="A"/>', '<userTask id="a" name="A"/>\n<userTask id="a" name="B"/>'),
     (5, 6)),
    # a task and a flow sharing an id
    (SIMPLE.replace('sequenceFlow id="f1"', 'sequenceFlow id="a"'), (5, 7)),
])
def test_duplicate_ids_are_refused_naming_the_id_and_both_lines(
        client: Any, people: dict[str, Person], engine: Engine, body: str, lines: tuple[int, int]) -> None:
    r = deploy(client, people["designer"], _doc(body))
    assert r.status_code == 422, r.get_json()
    [diag] = [d for d in r.get_json()["diagnostics"] if d["code"] == "duplicate-id"]
    assert diag["severity"] == "error" and diag["element_id"] == "a"
    assert all(f"rad {n}" in diag["message"] for n in lines) and diag["line"] == lines[1], diag
    assert nothing_stored(engine)


def test_duplicate_ids_across_processes_are_refused(client: Any, people: dict[str, Person], engine: Engine) -> None:
    body = _doc(SIMPLE, "forsta", f'\n<process id="andra" isExecutable="true">\n{SIMPLE}\n</process>')
    r = deploy(client, people["designer"], body)
    assert r.status_code == 422
    dups = {d["element_id"]: d for d in r.get_json()["diagnostics"] if d["code"] == "duplicate-id"}
    assert set(dups) == {"s", "a", "e", "f1", "f2"}
    assert "rad 5" in dups["a"]["message"] and "rad 12" in dups["a"]["message"], dups["a"]
    assert nothing_stored(engine)


def test_an_id_repeated_in_a_modelers_bookkeeping_is_only_a_warning(client: Any, people: dict[str, Person]) -> None:
    """A global task exported beside the process of the same id (SAP Signavio) is not read."""
    body = _doc(SIMPLE, "p").replace(b'<process id="p"', b'<globalTask id="p" name="Global"/>\n<process id="p"')
    r = deploy(client, people["designer"], body)
    assert r.status_code == 201, r.get_json()
    [diag] = [d for d in r.get_json()["diagnostics"] if d["code"] == "duplicate-id"]
    assert diag["severity"] == "warning" and "process på rad 4" in diag["message"]


@pytest.mark.parametrize("key", ["Start", "End", "Root"])
def test_a_process_may_be_called_start_or_end(client: Any, people: dict[str, Person], key: str) -> None:
    """Only flow nodes are renamed away from the engine's own task names; a process keeps its key."""
    r = publish(client, people, _doc(SIMPLE, key))
    assert r.status_code == 201 and r.get_json()["key"] == key, r.get_json()
    case = client.post(f"/api/processes/{key}/cases", json={}, headers=people["admin"].headers)
    assert case.status_code == 201, case.get_json()
    assert [t["name"] for t in case.get_json()["open_tasks"]] == ["A"]


def test_document_level_diagnostics_reach_the_response_and_the_stored_version(
        client: Any, people: dict[str, Person]) -> None:
    """A file that declares UTF-8 but holds Windows-1252 bytes, with an empty second process."""
    body = _doc(SIMPLE.replace('name="A"', 'name="Kl\xe4r"'), "p", '\n<process id="tom"/>')
    body = body.replace("Klär".encode(), b"Kl\xe4r")
    r = deploy(client, people["designer"], body)
    assert r.status_code == 201, r.get_json()
    codes = [d["code"] for d in r.get_json()["diagnostics"]]
    assert codes.count("invalid-encoding") == 1 and codes.count("empty-process") == 1, codes
    stored = client.get("/api/processes/p", headers=people["designer"].headers).get_json()["versions"][0]
    assert {"invalid-encoding", "empty-process"} <= {d["code"] for d in stored["diagnostics"]}


def chain(n: int, pid: str = "kedja") -> bytes:
    """A plain chain of `n` tasks: 2n + 3 flow elements."""
    tasks = "".join(f'<task id="t{i}" name="Steg {i}"/>' for i in range(n))
    ids = ["s", *(f"t{i}" for i in range(n)), "e"]
    flows = "".join(f'<sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>' for i, (a, b) in
                    enumerate(itertools.pairwise(ids)))
    return _doc(f'<startEvent id="s"/>{tasks}<endEvent id="e"/>{flows}', pid)


def test_a_two_thousand_element_chain_deploys_and_runs(client: Any, people: dict[str, Person]) -> None:
    """SpiffWorkflow's parser recurses along the flow; a chain of 500 tasks used to be refused
    with a RecursionError."""
    import sys

    limit = sys.getrecursionlimit()
    r = publish(client, people, chain(1000))
    assert r.status_code == 201, r.get_json()["detail"]
    assert sys.getrecursionlimit() == limit  # raised only while the diagram was read
    case = client.post("/api/processes/kedja/cases", json={}, headers=people["admin"].headers).get_json()
    for i in range(3):
        [task] = case["open_tasks"]
        assert task["name"] == f"Steg {i}"
        case = client.post(f"/api/tasks/{task['id']}/complete", json={},
                           headers=people["admin"].headers).get_json()["case"]


def test_a_twenty_thousand_element_model_is_refused_and_nothing_stored(
        client: Any, people: dict[str, Person], engine: Engine) -> None:
    r = deploy(client, people["designer"], chain(10_000))
    assert r.status_code == 422
    [diag] = r.get_json()["diagnostics"]
    assert diag["code"] == "too-many-flow-elements" and "20003" in diag["message"] and "5000" in diag["message"]
    assert nothing_stored(engine)


def test_the_flow_element_limit_is_configurable(tmp_path: Any) -> None:
    from engine.authority.identity import SYSTEM
    from engine.base.errors import DiagramInvalid
    from engine.base.settings import Settings
    from engine.catalogue import processes
    from engine.core import Engine as RutinEngine

    engine = RutinEngine(Settings.from_env({"RUTIN_DATA_DIR": str(tmp_path), "RUTIN_MAX_FLOW_ELEMENTS": "50"}))
    engine.migrate()
    try:
        assert processes.deploy(engine, SYSTEM, chain(20))  # 43 flow elements
        with pytest.raises(DiagramInvalid) as info:
            processes.deploy(engine, SYSTEM, chain(30, "lang"))  # 63
        assert info.value.extra["diagnostics"][0]["code"] == "too-many-flow-elements"
    finally:
        engine.close()


def test_a_wrong_namespace_is_named_and_deep_nesting_is_said_plainly(client: Any, people: dict[str, Person]) -> None:
    beta = _doc(SIMPLE).replace(b"http://www.omg.org/spec/BPMN/20100524/MODEL", b"http://www.omg.org/bpmn20")
    [diag] = deploy(client, people["designer"], beta).get_json()["diagnostics"]
    assert diag["code"] == "not-bpmn" and "'http://www.omg.org/bpmn20'" in diag["message"]
    deep = _doc(SIMPLE.replace('<userTask id="a" name="A"/>', '<userTask id="a" name="A"><extensionElements>'
                               + "<x:a xmlns:x='urn:x'>" * 300 + "</x:a>" * 300 + "</extensionElements></userTask>"))
    r = deploy(client, people["designer"], deep)
    assert r.status_code == 422
    text = r.get_data(as_text=True)
    assert "XML_PARSE_HUGE" not in text and "för djupt nästlad" in r.get_json()["detail"]


def test_diagnostics_name_elements_as_designed_and_say_what_was_assumed(client: Any,
                                                                        people: dict[str, Person]) -> None:
    body = SIMPLE.replace('<userTask id="a" name="A"/>', '<serviceTask id="a" name="Skicka brev"/>')
    diags = deploy(client, people["designer"], _doc(body)).get_json()["diagnostics"]
    [converted] = [d for d in diags if d["code"] == "converted-to-human-task"]
    assert converted["element_name"] == "Skicka brev"  # not "Utför: Skicka brev"
    assert converted["assumption"] == "En handläggare utför steget för hand och markerar det klart."
    [no_role] = [d for d in diags if d["code"] == "no-role"]
    assert no_role["element_name"] == "Skicka brev" and no_role["assumption"]
    refused = deploy(client, people["designer"], MISSING_TARGET).get_json()["diagnostics"]
    assert all("assumption" not in d for d in refused if d["severity"] == "error")


def test_assumptions_are_warnings() -> None:
    """A join read as inclusive, a start whose trigger cannot happen here, a handler's decision:
    each runs on an assumption, so each is a warning, also when every flow is named."""
    from bpmn.document import read_document

    body = ('<startEvent id="s"><messageEventDefinition/></startEvent><exclusiveGateway id="g"/>'
            '<userTask id="a" name="A"/><userTask id="b" name="B"/><parallelGateway id="j"/><endEvent id="e"/>'
            '<sequenceFlow id="f1" sourceRef="s" targetRef="g"/>'
            '<sequenceFlow id="f2" name="Ja" sourceRef="g" targetRef="a"/>'
            '<sequenceFlow id="f3" name="Nej" sourceRef="g" targetRef="b"/>'
            '<sequenceFlow id="f4" sourceRef="a" targetRef="j"/><sequenceFlow id="f5" sourceRef="b" targetRef="j"/>'
            '<sequenceFlow id="f6" sourceRef="j" targetRef="e"/>')
    doc = read_document(_doc(body).replace(b'isExecutable="true"', b'isExecutable="false"'))
    severities = {d.code: d.severity for d in doc.diagnostics}
    for code in ("start-simplified", "human-decision", "join-as-inclusive"):
        assert severities.get(code) == "warning", (code, severities)


def test_nan_infinity_and_lone_surrogates_in_a_body_are_400_and_nothing_is_stored(
        client: Any, people: dict[str, Person], engine: Engine) -> None:
    from engine.store.models import Case

    publish(client, people, "seq3.bpmn")
    headers = {**people["hanna"].headers, "Content-Type": "application/json"}
    for body in (b'{"data": {"belopp": NaN}}', b'{"data": {"belopp": -Infinity}}',
                 b'{"data": {"namn": "\\ud800"}}', b'{"business_key": "BN-\\udfff"}', b'{"data": {"\\ud800": 1}}'):
        r = client.post("/api/processes/seq3/cases", data=body, headers=headers)
        assert r.status_code == 400, body
        assert r.get_json()["title"] and "Traceback" not in r.get_data(as_text=True)
    with engine.db.read() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one() == 0
    # a proper pair of surrogates is one character, and welcome
    ok = client.post("/api/processes/seq3/cases", data=b'{"data": {"namn": "\\ud83d\\ude00"}}', headers=headers)
    assert ok.status_code == 201 and ok.get_json()["id"]
