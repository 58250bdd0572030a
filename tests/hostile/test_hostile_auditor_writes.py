"""Auditors never write anything: every route that changes something, through the API and the
pages, called by an auditor holding no other role, is refused (403, in Swedish) and leaves every
table as it was. Each route is called with a body that would succeed for someone allowed, on
things that exist (a case, an open task, a draft, the auditor's own absence and notification), so
that the refusal is about the auditor and nothing else. A last probe checks that the list of
routes probed is every writing route the app serves (signing in and out aside)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from conftest import PASSWORD, Person, deploy, fixture_bytes, publish, sign_in
from probes import assert_no_effect, db_state
from test_authority import ITEMS

from engine.authority import identity
from engine.authority.identity import READ_ONLY, SYSTEM
from engine.core import Engine
from engine.routing import absence, delegation, notifications
from engine.service import cases, org_data


@dataclass
class Scene:
    engine: Engine
    client: Any
    auditor: Person
    ids: dict[str, str]


@pytest.fixture
def scene(engine: Engine, client: Any, people: dict[str, Person]) -> Scene:
    org_data.import_data(engine, {"units": [{"id": "syd", "name": "Syd"}, {"id": "norr", "name": "Norr"}]})
    publish(client, people, "seq3.bpmn")
    deploy(client, people["designer"], fixture_bytes("seq3.bpmn").replace(b"Steg tre", b"Steg 3"))  # draft v2
    identity.add_user(engine, "rut", ["auditor"])
    identity.set_password(engine, "rut", PASSWORD)
    rut = Person("rut", identity.issue_token(engine, "rut"), identity.get_actor(engine, "rut"))
    case = cases.start_case(engine, people["hanna"].actor, "seq3", {}, "BK-1", org_unit="syd")
    task = case["open_tasks"][0]["id"]
    now = engine.clock.now()
    with engine.db.write() as s:
        notifications.notify(s.connection(), now, ["rut"], kind="test", subject="Hej", body="x", dedupe="rut:1")
    note = notifications.list_for(engine, rut.actor)["items"][0]["id"]
    away = absence.register(engine, SYSTEM, "rut", now + timedelta(days=30), now + timedelta(days=31))["id"]
    item = delegation.propose(engine, people["admin"].actor, ITEMS[0])["id"]
    ids = {"key": "seq3", "number": "2", "case_id": case["id"], "task_id": task, "name": "svar",
           "notification_id": str(note), "absence_id": str(away), "item_id": str(item),
           # a proposed rule and a delivery need not exist: the auditor is refused before anything is looked up
           "rule_id": "1", "delivery_id": "1", "measure": "within_deadline_share"}
    return Scene(engine, client, rut, ids)


XML = {"Content-Type": "application/xml"}
# Every writing API route, with a request that someone allowed could make.
API: list[tuple[str, dict[str, Any]]] = [
    ("POST /api/processes", {"data": fixture_bytes("parallel.bpmn"), "headers": XML}),
    ("POST /api/processes/<key>/versions/<int:number>/approve", {"json": {}}),
    ("POST /api/processes/<key>/versions/<int:number>/reject", {"json": {"reason": "Fel"}}),
    ("PUT /api/processes/<key>/policy", {"json": {"tasks": {"a": {"due": "P3D"}}}}),
    ("PUT /api/processes/<key>/unit", {"json": {"unit": "norr"}}),
    ("POST /api/processes/<key>/cases", {"json": {"data": {}, "org_unit": "syd"}}),
    ("POST /api/cases/<case_id>/retry", {"json": {}}),
    ("POST /api/cases/<case_id>/transfer", {"json": {"unit": "norr", "reason": "Fel enhet"}}),
    ("POST /api/cases/<case_id>/comments", {"json": {"text": "Revisorns anteckning"}}),
    ("POST /api/cases/<case_id>/messages/<name>", {"json": {}}),
    ("POST /api/messages/<name>", {"json": {"business_key": "BK-1"}}),
    ("PATCH /api/tasks/<task_id>", {"json": {"priority": 90}}),
    ("POST /api/tasks/<task_id>/claim", {}),
    ("POST /api/tasks/<task_id>/unclaim", {}),
    ("POST /api/tasks/<task_id>/complete", {"json": {"data": {}}}),
    ("POST /api/tasks/<task_id>/assign", {"json": {"user": "hanna"}}),
    ("POST /api/tasks/<task_id>/handover", {"json": {"user": "hugo"}}),
    ("POST /api/tasks/<task_id>/comments", {"json": {"text": "Revisorns anteckning"}}),
    ("POST /api/tasks/<task_id>/conflict-of-interest", {"json": {"reason": "Jäv"}}),
    ("POST /api/notifications/<int:notification_id>/read", {}),
    ("PUT /api/org", {"json": {"units": [{"id": "ny", "name": "Ny enhet"}]}}),
    ("POST /api/absences", {"json": {"from": "2026-07-01T00:00:00Z", "to": "2026-07-02T00:00:00Z"}}),
    ("DELETE /api/absences/<int:absence_id>", {}),
    ("POST /api/delegation/items", {"json": ITEMS[1]}),
    ("POST /api/delegation/items/<int:item_id>/approve", {}),
    # a check that is recorded, or a seal, writes: an auditor checks live instead (GET /api/audit/verify)
    ("POST /api/audit/verify", {}),
    ("POST /api/audit/checkpoints", {}),
    ("POST /api/users/<name>/deactivate", {"json": {}}),
    ("POST /api/users/<name>/reactivate", {"json": {}}),
    ("PUT /api/oidc/group-roles", {"json": {"mappings": [{"group": "it-admin", "role": "admin"}]}}),
    ("POST /api/retention/rules", {"json": {"process_key": "seq3", "action": "gallras", "years": 1,
                                            "decision_ref": "KS 1", "decision_body": "Kommunstyrelsen",
                                            "decision_date": "2026-01-01"}}),
    ("POST /api/retention/rules/<int:rule_id>/approve", {}),
    ("POST /api/retention/rules/<int:rule_id>/reject", {}),
    ("POST /api/cases/<case_id>/hold", {"json": {"reason": "Överklagat"}}),
    ("POST /api/cases/<case_id>/hold/release", {"json": {"reason": "Klart"}}),
    ("POST /api/retention/cull", {}),
    ("POST /api/cases/<case_id>/archive-package", {}),
    ("POST /api/retention/deliveries/<int:delivery_id>/receipt", {"json": {"receipt_ref": "RA-1"}}),
    ("POST /api/cases/<case_id>/deviations", {"json": {"task_id": None}}),
    ("PUT /api/processes/<key>/measure-targets/<measure>", {"json": {"target": 95}}),
]
# Every writing page route, with the form someone allowed would send (the CSRF token is added).
PAGES: list[tuple[str, dict[str, Any]]] = [
    ("POST /processes", {"file": (fixture_bytes("parallel.bpmn"), "parallel.bpmn")}),
    ("POST /processes/<key>/versions/<int:number>/approve", {"reviewed": "ja"}),
    ("POST /processes/<key>/versions/<int:number>/reject", {"reason": "Fel roll i steg 2"}),
    ("POST /processes/<key>/cases", {"business_key": "REV-1", "org_unit": "syd"}),
    ("POST /tasks/<task_id>/claim", {}),
    ("POST /tasks/<task_id>/unclaim", {}),
    ("POST /tasks/<task_id>/complete", {}),
    ("POST /tasks/<task_id>/assign", {"user": "hanna"}),
    ("POST /tasks/<task_id>/jav", {"reason": "Jäv"}),
    ("POST /tasks/<task_id>/comments", {"text": "Revisorns anteckning"}),
    ("POST /cases/<case_id>/lamna-over", {"unit": "norr", "reason": "Fel enhet"}),
    ("POST /notifications/<int:notification_id>/read", {}),
    ("POST /tasks/<task_id>/change", {"priority": "90"}),
    ("POST /cases/<case_id>/avvikelse", {}),
    ("POST /cases/<case_id>/retry", {}),
    ("POST /matetal/mal", {"process": "seq3", "measure": "within_deadline_share", "target": "95"}),
]
# Routes the web layer refuses before the engine is asked (only administrators import the organisation).
REFUSED_BEFORE_THE_ENGINE = {"PUT /api/org"}
# Signing in and out is one's own session, not the record; a token of one's own, made or revoked,
# is one's own credential likewise (an auditor reads through the API with one).
# A personal data search is sent by POST so that the person's name stays out of addresses and
# logs; it writes nothing (and is an administrator's only).
NOT_WRITES = {"POST /login", "POST /logout", "POST /api/tokens", "DELETE /api/tokens/<int:token_id>", "POST /tokens",
              "POST /tokens/<int:token_id>/revoke", "POST /api/personal-data/search"}


def _path(rule: str, ids: dict[str, str]) -> str:
    return re.sub(r"<(?:int:)?(\w+)>", lambda m: ids[m.group(1)], rule)


@pytest.mark.parametrize(("route", "request_kw"), API, ids=[r for r, _ in API])
def test_an_auditor_writes_nothing_through_the_api(scene: Scene, route: str, request_kw: dict[str, Any]) -> None:
    method, rule = route.split(" ", 1)
    kw = dict(request_kw)
    headers = {**kw.pop("headers", {}), **scene.auditor.headers}
    before = db_state(scene.engine)
    r = scene.client.open(_path(rule, scene.ids), method=method, headers=headers, **kw)
    after = db_state(scene.engine)
    assert r.status_code == 403, (route, r.status_code, r.get_data(as_text=True))
    assert r.headers["Content-Type"] == "application/problem+json"
    if route not in REFUSED_BEFORE_THE_ENGINE:
        assert r.get_json()["detail"] == READ_ONLY, route
    assert_no_effect(before, after)


@pytest.mark.parametrize(("route", "form"), PAGES, ids=[r for r, _ in PAGES])
def test_an_auditor_writes_nothing_through_the_pages(scene: Scene, route: str, form: dict[str, Any]) -> None:
    import io

    method, rule = route.split(" ", 1)
    csrf = sign_in(scene.client, "rut")
    data = {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in form.items()}
    before = db_state(scene.engine)
    r = scene.client.open(_path(rule, scene.ids), method=method, data={**data, "csrf": csrf},
                          content_type="multipart/form-data" if "file" in form else None)
    after = db_state(scene.engine)
    assert r.status_code == 403, (route, r.status_code)
    assert READ_ONLY in r.get_data(as_text=True), route
    assert_no_effect(before, after)


def test_the_probes_cover_every_writing_route(app: Any) -> None:
    served = {f"{m} {rule.rule}" for rule in app.url_map.iter_rules()
              for m in rule.methods & {"POST", "PUT", "PATCH", "DELETE"}}
    assert {r for r, _ in API} | {r for r, _ in PAGES} == served - NOT_WRITES


def test_the_engine_refuses_the_auditor_whoever_calls_it(scene: Scene, people: dict[str, Person]) -> None:
    """The same refusal without HTTP: a CLI or a future route cannot go round it."""
    from engine.base.errors import Forbidden
    from engine.catalogue import processes
    from engine.clocks import policies
    from engine.service import tasks

    rut, ids = scene.auditor.actor, scene.ids
    calls = [
        lambda: tasks.comment(scene.engine, rut, text="x", case_id=ids["case_id"]),
        lambda: tasks.comment(scene.engine, rut, text="x", task_id=ids["task_id"]),
        lambda: tasks.claim(scene.engine, rut, ids["task_id"]),
        lambda: cases.start_case(scene.engine, rut, "seq3", {}, org_unit="syd"),
        lambda: processes.approve(scene.engine, rut, "seq3", 2),
        lambda: policies.put(scene.engine, rut, "seq3", {}),
        lambda: absence.register(scene.engine, rut, "rut", scene.engine.clock.now(),
                                 scene.engine.clock.now() + timedelta(days=1)),
        lambda: notifications.mark_read(scene.engine, rut, int(ids["notification_id"])),
    ]
    before = db_state(scene.engine)
    for call in calls:
        with pytest.raises(Forbidden) as refused:
            call()
        assert refused.value.detail == READ_ONLY
    assert_no_effect(before, db_state(scene.engine))
