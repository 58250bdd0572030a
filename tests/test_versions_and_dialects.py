"""Versions and their approval (four eyes, one published version at a time, rejection, the
process history), the yearly review, embedded Camunda 8 forms, message flows kept as metadata."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import CORPUS_DIR, Person, deploy, fixture_bytes, publish

from bpmn.document import read_document
from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.base.errors import Forbidden
from engine.catalogue import processes
from engine.core import Engine
from engine.service import audit, cases, inbox, tasks


def test_review_date_passing_gives_the_owner_role_a_review_task(client: Any, people: dict[str, Person],
                                                                engine: Engine, clock: ManualClock) -> None:
    publish(client, people, "seq3.bpmn")
    detail = client.get("/api/processes/seq3", headers=people["owner"].headers).get_json()
    assert detail["versions"][0]["review_due"] == (clock.now() + timedelta(days=365)).isoformat()
    clock.advance(timedelta(days=364))
    assert engine.scheduler.tick().kinds.get("review", 0) == 0
    clock.advance(timedelta(days=2))
    assert engine.scheduler.tick().kinds == {"review": 1}
    owner = identity.get_actor(engine, "owner")
    [task] = inbox.list_tasks(engine, owner)["items"]
    assert task["name"] == "Granska processen" and task["role"] == "Processägare"
    case = cases.get_case(engine, owner, task["case_id"])
    assert case["data"]["process"] == "seq3" and case["business_key"].startswith("Granskning seq3")
    done = tasks.complete(engine, owner, task["id"], {"slutsats": "oforandrad"})
    assert done["case"]["status"] == "completed"
    nxt = client.get("/api/processes/seq3", headers=people["owner"].headers).get_json()["versions"][0]
    assert nxt["review_due"] == (clock.now() - timedelta(days=1) + timedelta(days=365)).isoformat()


def test_camunda8_embedded_form_becomes_the_task_form() -> None:
    path = CORPUS_DIR / "miwg" / "SAP-Signavio-Process-Manager-19.9.0" / "C.8.0-roundtrip.bpmn"
    if not path.exists():
        return
    doc = read_document(path.read_bytes())
    fields = {f.id: f for p in doc.processes for s in p.model.steps.values() for f in s.form}
    assert fields["Vacation Approval"].type == "enum" and fields["Vacation Approval"].required


def test_message_flows_between_pools_are_kept(engine: Engine) -> None:
    path = CORPUS_DIR / "miwg" / "Reference" / "C.2.0.bpmn"
    if not path.exists():
        return
    deployed = processes.deploy(engine, SYSTEM, path.read_bytes())
    first = processes.get_process(engine, deployed[0].key)
    version = first["versions"][0]
    assert version["status"] == "published"
    model = engine.model(version["id"])
    assert model.message_flows and all(mf["source"] and mf["target"] for mf in model.message_flows)


def test_camunda7_forms_uploaded_alongside_become_the_task_form(client: Any, people: dict[str, Person]) -> None:
    import io

    path = CORPUS_DIR / "camunda7" / "usertask--task-camunda-forms" / "invoiceApproval.bpmn"
    if not path.exists():
        return
    from conftest import FIXTURES

    headers = people["designer"].headers
    alone = client.post("/api/processes", data={"file": (io.BytesIO(path.read_bytes()), "invoice.bpmn")},
                        headers=headers, content_type="multipart/form-data").get_json()
    assert any(d["code"] == "form-missing" for d in alone["diagnostics"])
    form = (FIXTURES / "import_task-form.form").read_bytes()
    changed = path.read_bytes() + b"\n"  # a new version, now with its form
    r = client.post("/api/processes", data={"file": (io.BytesIO(changed), "invoice.bpmn"),
                                            "forms": (io.BytesIO(form), "task-form.form")},
                    headers=headers, content_type="multipart/form-data")
    assert r.status_code == 201 and not any(d["code"] == "form-missing" for d in r.get_json()["diagnostics"])
    key = r.get_json()["key"]
    # a new process: nothing published names its owner, so an administrator approves it
    approve = client.post(f"/api/processes/{key}/versions/2/approve", headers=people["admin"].headers)
    assert approve.status_code == 200
    case = client.post(f"/api/processes/{key}/cases", json={}, headers=people["admin"].headers).get_json()
    [task] = case["open_tasks"]
    assert [(f["id"], f["type"], f["required"]) for f in task["form"]] == [
        ("amount", "long", True), ("approved", "boolean", False), ("category", "enum", False)]
    bad = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"amount": "mycket"}},
                      headers=people["admin"].headers)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "amount"


def test_io_mappings_are_read_into_the_model() -> None:
    xml = b"""<?xml version="1.0"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="x">
  <bpmn:process id="io" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
    <bpmn:userTask id="a" name="A"><bpmn:extensionElements><camunda:inputOutput>
      <camunda:inputParameter name="belopp">${summa}</camunda:inputParameter>
      <camunda:outputParameter name="godkand">${ok}</camunda:outputParameter>
    </camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="b"/>
    <bpmn:userTask id="b" name="B"><bpmn:extensionElements><zeebe:ioMapping>
      <zeebe:input source="=order.total" target="total"/>
    </zeebe:ioMapping></bpmn:extensionElements></bpmn:userTask>
    <bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="e"/><bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""
    [proc] = read_document(xml).processes
    assert proc.model.steps["a"].io == [{"direction": "in", "name": "belopp", "source": "${summa}"},
                                        {"direction": "out", "name": "godkand", "source": "${ok}"}]
    assert proc.model.steps["b"].io == [{"direction": "in", "name": "total", "source": "=order.total"}]


def _v(client: Any, person: Person, n: int, key: str = "seq3") -> dict[str, Any]:
    r = client.get(f"/api/processes/{key}/versions/{n}", headers=person.headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def test_the_first_version_is_a_draft_used_for_nothing_until_an_administrator_approves_it(
        client: Any, people: dict[str, Person]) -> None:
    r = deploy(client, people["designer"], "seq3.bpmn")
    assert r.status_code == 201 and r.get_json()["processes"][0]["status"] == "draft"
    refused = client.post("/api/processes/seq3/cases", json={}, headers=people["admin"].headers)
    assert refused.status_code == 409 and "väntar på att godkännas" in refused.get_json()["detail"]
    listed = client.get("/api/processes", headers=people["hanna"].headers).get_json()["items"]
    assert "seq3" not in {p["key"] for p in listed}
    # four eyes: not the uploader; and with nothing published to name an owner, only an
    # administrator (a holder of the owner role the draft names is not yet anyone's owner)
    assert client.post("/api/processes/seq3/versions/1/approve", headers=people["designer"].headers).status_code == 403
    assert client.post("/api/processes/seq3/versions/1/approve", headers=people["hanna"].headers).status_code == 403
    assert client.post("/api/processes/seq3/versions/1/approve", headers=people["owner"].headers).status_code == 403
    approved = client.post("/api/processes/seq3/versions/1/approve", headers=people["admin"].headers).get_json()
    assert approved["status"] == "published" and (approved["approved_by"], approved["approved_via"]) == (
        "admin", "admin")
    assert approved["owner_role"] == "Processägare"
    assert client.post("/api/processes/seq3/cases", json={}, headers=people["admin"].headers).status_code == 201


def test_a_version_reads_with_its_metadata_diagnostics_changes_and_history(
        client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "review.bpmn")
    changed = fixture_bytes("review.bpmn").replace(b'name="Komplettera"', 'name="Komplettera ansökan"'.encode())
    deploy(client, people["designer"], changed)
    v2 = _v(client, people["hanna"], 2, "granskning")
    assert (v2["status"], v2["uploaded_by"], v2["approved_by"]) == ("draft", "designer", None)
    assert v2["changes"]["renamed"] == [{"id": "t2", "from": "Komplettera", "to": "Komplettera ansökan"}]
    assert any(d["code"] == "human-decision" and d["element_id"] == "g1" for d in v2["diagnostics"])
    assert {st["element_id"] for st in v2["steps"]} >= {"t1", "t2", "g1"} and v2["message_flows"] == []
    assert [e["type"] for e in v2["history"]] == ["version_uploaded"]
    assert client.get("/api/processes/granskning/versions/3", headers=people["hanna"].headers).status_code == 404
    history = client.get("/api/processes/granskning", headers=people["hanna"].headers).get_json()["history"]
    assert [(e["type"], e["version"], e["actor"]) for e in history] == [
        ("version_uploaded", 1, "designer"), ("version_approved", 1, "admin"), ("version_uploaded", 2, "designer")]


def test_a_draft_is_rejected_with_a_reason_and_can_never_be_published(client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "seq3.bpmn")
    deploy(client, people["designer"], fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg 1"))
    url = "/api/processes/seq3/versions/2/reject"
    assert client.post(url, json={}, headers=people["owner"].headers).status_code == 422
    assert client.post(url, json={"reason": "Nej"}, headers=people["hanna"].headers).status_code == 403
    r = client.post(url, json={"reason": "Steget heter Steg ett i rutinen."}, headers=people["owner"].headers)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["status"], body["rejected_by"], body["rejection_reason"]) == (
        "rejected", "owner", "Steget heter Steg ett i rutinen.")
    assert client.post("/api/processes/seq3/versions/2/approve", headers=people["owner"].headers).status_code == 409
    assert client.post(url, json={"reason": "igen"}, headers=people["owner"].headers).status_code == 409
    v2 = _v(client, people["hanna"], 2)
    assert v2["history"][-1]["type"] == "version_rejected"
    assert v2["history"][-1]["data"] == {"reason": "Steget heter Steg ett i rutinen."}
    assert client.post("/api/processes/seq3/cases", json={}, headers=people["admin"].headers).get_json()["version"] == 1


def test_one_published_version_at_a_time_and_an_older_draft_cannot_undo_a_newer_one(
        client: Any, people: dict[str, Person]) -> None:
    publish(client, people, "seq3.bpmn")
    deploy(client, people["designer"], fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg 1"))
    deploy(client, people["designer"], fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg I"))
    assert client.post("/api/processes/seq3/versions/3/approve", headers=people["owner"].headers).status_code == 200
    stale = client.post("/api/processes/seq3/versions/2/approve", headers=people["owner"].headers)
    assert stale.status_code == 409 and "Version 3 publicerades efter" in stale.get_json()["detail"]
    detail = client.get("/api/processes/seq3", headers=people["owner"].headers).get_json()
    assert [(v["version"], v["status"]) for v in detail["versions"]] == [
        (3, "published"), (2, "draft"), (1, "superseded")]
    assert detail["published_version"] == 3
    assert [e["type"] for e in detail["history"]][-2:] == ["version_superseded", "version_approved"]


def test_an_administrators_approval_is_recorded_as_such(client: Any, people: dict[str, Person],
                                                         engine: Engine) -> None:
    """An administrator without the owner role may approve (and set-up, as the system, publish at
    upload with the approve flag): the version and the history say it was an administrator, not a
    process owner. A person, an administrator too, never publishes their own upload."""
    deploy(client, people["designer"], "seq3.bpmn")
    r = client.post("/api/processes/seq3/versions/1/approve", headers=people["admin"].headers).get_json()
    assert (r["approved_by"], r["approved_via"]) == ("admin", "admin")
    assert _v(client, people["hanna"], 1)["history"][-1]["data"] == {"via": "admin"}

    for person in ("designer", "admin"):
        with pytest.raises(Forbidden):
            processes.deploy(engine, people[person].actor, fixture_bytes("review.bpmn"), approve_as_admin=True)
    [d] = processes.deploy(engine, SYSTEM, fixture_bytes("review.bpmn"), approve_as_admin=True)
    v = _v(client, people["hanna"], 1, "granskning")
    assert d.status == "published" and (v["approved_by"], v["approved_via"]) == ("system", "admin")
    # without the flag, an administrator's upload is a draft like anyone's
    [d2] = processes.deploy(engine, people["admin"].actor, fixture_bytes("two_processes.bpmn"))[:1]
    assert d2.status == "draft"


def test_the_process_history_is_append_only_and_hash_chained(client: Any, people: dict[str, Person],
                                                             engine: Engine) -> None:
    from engine.store.models import ProcessEvent

    publish(client, people, "seq3.bpmn")
    assert audit.verify_process_history(engine, "seq3")
    with pytest.raises(sa.exc.DBAPIError), engine.db.write() as s:
        s.execute(sa.update(ProcessEvent).where(ProcessEvent.process_key == "seq3").values(actor="någon annan"))
    with pytest.raises(sa.exc.DBAPIError), engine.db.write() as s:
        s.execute(sa.delete(ProcessEvent).where(ProcessEvent.process_key == "seq3"))
    assert audit.verify_process_history(engine, "seq3")


# -- dialects: Camunda 8 call activities and assignees, resource assignments, lanes, forms ------------

NS8 = ('xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" '
       'xmlns:camunda="http://camunda.org/schema/1.0/bpmn"')


def _doc(body: str, pid: str = "p", extra: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><definitions {NS8} id="d" targetNamespace="x">'
            f'<process id="{pid}" isExecutable="true">{body}</process>{extra}</definitions>').encode()


def _flows(*pairs: str) -> str:
    return "".join(f'<sequenceFlow id="f_{a}_{b}" sourceRef="{a}" targetRef="{b}"/>'
                   for a, b in (p.split(">") for p in pairs))


def _one(task: str, extra_body: str = "", start: str = '<startEvent id="s"/>') -> bytes:
    return _doc(f'{extra_body}{start}{task}<endEvent id="e"/>' + _flows("s>t", "t>e"))


def _steps(data: bytes) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    doc = read_document(data)
    found: dict[str, list[Any]] = {}
    for d in doc.diagnostics:
        found.setdefault(d.code, []).append(d)
    return {k: v for p in doc.processes for k, v in p.model.steps.items()}, found


def test_a_camunda8_call_activity_calls_the_process_zeebe_names(engine: Engine) -> None:
    body = ('<startEvent id="s"/><callActivity id="c" name="Anropa"><extensionElements><zeebe:calledElement '
            'processId="barn" propagateAllChildVariables="true"/></extensionElements></callActivity><endEvent id="e"/>'
            + _flows("s>c", "c>e"))
    child = ('<process id="barn" isExecutable="true"><startEvent id="cs"/><userTask id="ct" name="Barnsteg"/>'
             '<endEvent id="ce"/>' + _flows("cs>ct", "ct>ce") + '</process>')
    processes.deploy(engine, SYSTEM, _doc(body, "foralder", child))
    case = cases.start_case(engine, SYSTEM, "foralder")
    assert [t["name"] for t in case["open_tasks"]] == ["Barnsteg"]
    selfcall = ('<startEvent id="s"/><callActivity id="c"><extensionElements><zeebe:calledElement processId="sjalv"/>'
                '</extensionElements></callActivity><endEvent id="e"/>' + _flows("s>c", "c>e"))
    with pytest.raises(Exception) as info:
        read_document(_doc(selfcall, "sjalv"))
    assert [d.code for d in info.value.diagnostics if d.severity == "error"] == ["call-cycle"]  # type: ignore[attr-defined]


def test_a_feel_assignee_reads_a_path_into_the_case_data(engine: Engine) -> None:
    processes.deploy(engine, SYSTEM, _one(
        '<userTask id="t" name="T"><extensionElements><zeebe:assignmentDefinition assignee="=ansokan.handlaggare" '
        'candidateGroups="Handläggare"/></extensionElements></userTask>',
        # the application arrives with the start: the start event maps it into the case
        start='<startEvent id="s"><extensionElements><zeebe:ioMapping><zeebe:output source="=ansokan" '
              'target="ansokan"/></zeebe:ioMapping></extensionElements></startEvent>'))
    given = cases.start_case(engine, SYSTEM, "p", {"ansokan": {"handlaggare": "hanna"}})
    assert given["open_tasks"][0]["assignee"] == "hanna"
    missing = cases.start_case(engine, SYSTEM, "p", {})
    assert missing["open_tasks"][0]["assignee"] is None
    assert missing["open_tasks"][0]["candidates"] == ["role:handläggare"]


def test_resource_assignment_expressions_name_roles_and_people() -> None:
    steps, _ = _steps(_one(
        '<userTask id="t" name="T"><potentialOwner><resourceAssignmentExpression><formalExpression>'
        'group(Registrator), user(kermit)</formalExpression></resourceAssignmentExpression></potentialOwner>'
        '<humanPerformer><resourceAssignmentExpression><formalExpression>user(bo)</formalExpression>'
        '</resourceAssignmentExpression></humanPerformer></userTask>'))
    step = steps["t"]
    assert (step.candidate_groups, step.candidate_users, step.assignee) == (["Registrator"], ["kermit"], "bo")
    assert step.role == "Registrator" and step.role_source == "humanPerformer"


def test_an_unnamed_lane_is_warned_and_a_subprocess_passes_its_lane_on() -> None:
    body = ('<laneSet><lane id="Lane_1"><flowNodeRef>s</flowNodeRef><flowNodeRef>t</flowNodeRef></lane>'
            '<lane id="L2" name="Registrator"><flowNodeRef>sp</flowNodeRef></lane></laneSet>'
            '<startEvent id="s"/><userTask id="t" name="T"/><subProcess id="sp"><startEvent id="ss"/>'
            '<userTask id="inner" name="Inne"/><endEvent id="se"/>' + _flows("ss>inner", "inner>se") +
            '</subProcess><endEvent id="e"/>' + _flows("s>t", "t>sp", "sp>e"))
    steps, found = _steps(_doc(body))
    assert [d.element_id for d in found["lane-unnamed"]] == ["Lane_1"]
    assert (steps["inner"].role, steps["inner"].role_source) == ("Registrator", "lane")


@pytest.mark.parametrize(("task", "code"), [
    ('<userTask id="t" name="T" camunda:formKey="embedded:app:forms/ansokan.html" camunda:candidateGroups="H"/>',
     "form-not-shown"),
    ('<userTask id="t" name="T"><extensionElements><zeebe:formDefinition formId="ansokan-form"/>'
     '</extensionElements></userTask>', "form-missing"),
    ('<userTask id="t" name="T"><extensionElements><zeebe:formDefinition externalReference="https://x/form"/>'
     '</extensionElements></userTask>', "form-not-shown"),
])
def test_a_form_rutin_cannot_show_is_a_warning(task: str, code: str) -> None:
    _, found = _steps(_one(task))
    [warning] = found[code]
    assert warning.severity == "warning" and warning.element_id == "t"


def test_an_unreadable_priority_is_a_warning() -> None:
    steps, found = _steps(_one('<userTask id="t" name="T" camunda:priority="${prio * 2}" camunda:candidateGroups="H"/>'))
    assert steps["t"].priority is None and "${prio * 2}" in found["unreadable-priority"][0].message


def test_a_priority_from_a_variable_is_read_when_the_task_is_made(engine: Engine) -> None:
    steps, found = _steps(_one('<userTask id="t" name="T" camunda:priority="${prio}" camunda:candidateGroups="H"/>'))
    assert steps["t"].priority is None and steps["t"].priority_variable == "prio"
    [note] = found["priority-from-data"]
    assert note.severity == "info" and "'prio'" in note.message and "unreadable-priority" not in found
    xml = _one('<userTask id="t" name="T" camunda:priority="${prio}" camunda:candidateGroups="H"/>')
    [version] = processes.deploy(engine, SYSTEM, xml)
    key = version.key
    got = [cases.start_case(engine, SYSTEM, key, data)["open_tasks"][0]["priority"]
           for data in ({"prio": 80}, {"prio": "7"}, {}, {"prio": "hög"}, {"prio": 500})]
    assert got == [80, 7, 50, 50, 100]


def test_the_role_source_says_who_is_assigned_and_who_may_take_it(engine: Engine) -> None:
    """assignee > candidate users > candidate groups > potential owner > lane: the assignee gets the
    task; candidate users and groups may both take it (Camunda); a lower source is then unused."""
    lane = '<laneSet><lane id="L" name="Registrator"><flowNodeRef>t</flowNodeRef></lane></laneSet>'
    steps, found = _steps(_one('<userTask id="t" name="T" camunda:assignee="bo" camunda:candidateUsers="kim" '
                               'camunda:candidateGroups="Handläggare"/>', lane))
    step = steps["t"]
    assert (step.role_source, step.assignee, step.candidate_users, step.candidate_groups) == (
        "camunda:assignee", "bo", ["kim"], ["Handläggare"])
    [message] = [d.message for d in found["role-source"]]
    assert "tilldelas 'bo'" in message and "rollen 'Handläggare', 'kim' kan ta det" in message
    assert "både kandidatanvändare och kandidatgrupper" in message and "bana används inte" in message

    users_only = _one('<userTask id="t" name="T" camunda:candidateUsers="kim,bo"/>', lane)
    steps, found = _steps(users_only)
    assert (steps["t"].role_source, steps["t"].candidate_groups, steps["t"].role) == (
        "camunda:candidateUsers", [], None)
    assert "bana används inte" in found["role-source"][0].message
    processes.deploy(engine, SYSTEM, users_only)
    [task] = cases.start_case(engine, SYSTEM, "p")["open_tasks"]
    assert sorted(task["candidates"]) == ["user:bo", "user:kim"]


def test_message_flows_to_a_pool_border_are_kept_and_read_with_the_version(
        client: Any, people: dict[str, Person]) -> None:
    body = ('<startEvent id="sa"/><userTask id="ta" name="Handlägg"/><endEvent id="ea"/>' + _flows("sa>ta", "ta>ea"))
    extra = ('<process id="pb" isExecutable="false"><startEvent id="sb"/><task id="tb" name="Skicka ansökan"/>'
             '<endEvent id="eb"/>' + _flows("sb>tb", "tb>eb") + '</process>'
             '<collaboration id="col"><participant id="P1" name="Kommunen" processRef="pa"/>'
             '<participant id="P2" name="Medborgare" processRef="pb"/><participant id="P3" name="Extern"/>'
             '<messageFlow id="mf1" name="Ansökan" sourceRef="tb" targetRef="P1"/>'
             '<messageFlow id="mf2" sourceRef="P3" targetRef="P2"/></collaboration>')
    publish(client, people, _doc(body, "pa", extra))
    pa = _v(client, people["hanna"], 1, "pa")["message_flows"]
    assert [(m["id"], m["name"], m["source"], m["target"]) for m in pa] == [("mf1", "Ansökan", "tb", "P1")]
    pb = _v(client, people["hanna"], 1, "pb")["message_flows"]
    assert [m["id"] for m in pb] == ["mf1", "mf2"]
