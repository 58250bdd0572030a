"""The designer's and the owner's workbench, over HTTP (Flask's test client): drafts waiting for
approval are listed and their owners told; a draft's page shows what it changes and asks for a
confirmation before publishing; a rejection takes a reason, is shown, and tells the uploader."""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

import sqlalchemy as sa
from conftest import FIXTURES, PASSWORD, Person, fixture_bytes, sign_in

from bpmn.diagnostics import grouped
from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.catalogue import processes, version_diff
from engine.core import Engine
from engine.routing import notifications
from engine.store.models import Notification, ProcessEvent

CHANGED = fixture_bytes("seq3.bpmn").replace(b"Steg tre", b"Steg tre (ny)")


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found
    return found.group(1)


def _draft(engine: Engine, client: Any, people: dict[str, Person]) -> str:
    """seq3 published by the system, a changed version uploaded through the page by the designer;
    the designer's CSRF token."""
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    for name in ("designer", "owner", "admin", "hanna"):
        identity.set_password(engine, name, PASSWORD)
    token = sign_in(client, "designer")
    r = client.post("/processes", data={"csrf": token, "file": (BytesIO(CHANGED), "seq3.bpmn")},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_data(as_text=True)
    return token


def _sign_in_as(client: Any, name: str) -> str:
    client.post("/logout", data={"csrf": _csrf(client.get("/").get_data(as_text=True))})
    return sign_in(client, name)


def test_a_new_draft_is_listed_and_its_owners_are_told(engine: Engine, client: Any,
                                                        people: dict[str, Person]) -> None:
    _draft(engine, client, people)
    owner = notifications.list_for(engine, people["owner"].actor)["items"]
    assert [n["subject"] for n in owner] == ["Ny version av Tre steg väntar på godkännande"]
    assert notifications.list_for(engine, people["designer"].actor)["items"] == []  # not the uploader
    assert notifications.list_for(engine, people["hanna"].actor)["items"] == []  # not who holds no owner role
    page = client.get("/processes/drafts").get_data(as_text=True)
    assert "Väntar på godkännande" in page and "Tre steg" in page and 'data-version="2"' in page
    assert "Visa ändringarna" in page and "Granska och godkänn" not in page  # the uploader may not approve
    _sign_in_as(client, "owner")
    page = client.get("/processes/drafts").get_data(as_text=True)
    assert 'data-version="2"' in page and "Granska och godkänn" in page
    _sign_in_as(client, "hanna")
    assert 'data-version="2"' not in client.get("/processes/drafts").get_data(as_text=True)


def test_the_draft_page_shows_the_changes_and_publishing_asks_for_a_confirmation(
        engine: Engine, client: Any, people: dict[str, Person]) -> None:
    _draft(engine, client, people)
    page = client.get("/processes/seq3/versions/2").get_data(as_text=True)
    assert "Steget Steg tre heter nu Steg tre (ny)" in page
    assert "Godkänn och publicera" not in page  # never offered to the uploader
    token = _sign_in_as(client, "owner")
    page = client.get("/processes/seq3/versions/2").get_data(as_text=True)
    assert "Jag har granskat ändringarna" in page and "Godkänn och publicera" in page
    refused = client.post("/processes/seq3/versions/2/approve", data={"csrf": token})
    assert refused.status_code == 400 and "Kryssa i att du har granskat" in refused.get_data(as_text=True)
    assert processes.get_version(engine, "seq3", 2)["status"] == "draft"
    forged = client.post("/processes/seq3/versions/2/approve", data={"csrf": "x", "reviewed": "ja"})
    assert forged.status_code in (400, 403)
    assert processes.get_version(engine, "seq3", 2)["status"] == "draft"
    done = client.post("/processes/seq3/versions/2/approve", data={"csrf": token, "reviewed": "ja"})
    assert done.status_code == 302
    assert processes.get_version(engine, "seq3", 2)["status"] == "published"


def test_a_rejection_takes_a_reason_is_shown_and_tells_the_uploader(
        engine: Engine, client: Any, people: dict[str, Person]) -> None:
    _draft(engine, client, people)
    token = _sign_in_as(client, "owner")

    def events() -> int:
        with engine.db.read() as s:
            return int(s.execute(sa.select(sa.func.count()).select_from(ProcessEvent)).scalar_one())

    before = events()
    for reason, message in (("  ", "Skriv varför versionen avvisas."),
                            ("x" * (processes.MAX_REASON + 1), f"högst {processes.MAX_REASON} tecken")):
        r = client.post("/processes/seq3/versions/2/reject", data={"csrf": token, "reason": reason})
        assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert client.post("/processes/seq3/versions/2/reject",
                       data={"csrf": "forged", "reason": "Fel"}).status_code in (400, 403)
    assert processes.get_version(engine, "seq3", 2)["status"] == "draft" and events() == before
    with engine.db.read() as s:
        assert s.execute(sa.select(Notification).where(Notification.kind == "draft_rejected")).first() is None

    r = client.post("/processes/seq3/versions/2/reject", data={"csrf": token, "reason": "Steg tre saknar roll."},
                    follow_redirects=True)
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "Avvisad" in page and "Steg tre saknar roll." in page
    assert processes.get_version(engine, "seq3", 2)["history"][-1]["data"] == {"reason": "Steg tre saknar roll."}
    told = notifications.list_for(engine, people["designer"].actor)["items"]
    assert told[0]["subject"] == "Version 2 av Tre steg avvisades" and "Steg tre saknar roll." in told[0]["body"]
    assert 'data-version="2"' not in client.get("/processes/drafts").get_data(as_text=True)


def test_an_upload_warns_first_of_roles_nobody_holds_assignees_who_are_no_one_and_unused_forms(
        engine: Engine, client: Any, people: dict[str, Person]) -> None:
    data = (fixture_bytes("seq3.bpmn").replace(b'name="Handl\xc3\xa4ggare"', b'name="Bygglovsarkitekt"')
            .replace(b'<bpmn:userTask id="b" name="Steg tv\xc3\xa5">', b'<bpmn:userTask id="b" name="Steg tv\xc3\xa5" '
                     b'camunda:assignee="nisse">')
            .replace(b'<bpmn:userTask id="c" name="Steg tre">', b'<bpmn:userTask id="c" name="Steg tre" '
                     b'camunda:candidateUsers="hanna">'))
    assert b"Bygglovsarkitekt" in data and b'"nisse"' in data and b'candidateUsers="hanna"' in data
    identity.set_password(engine, "designer", PASSWORD)
    token = sign_in(client, "designer")
    form = (FIXTURES / "import_task-form.form").read_bytes()
    r = client.post("/processes", data={"csrf": token, "file": (BytesIO(data), "seq3.bpmn"),
                                        "forms": (BytesIO(form), "ansokan.form")}, content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 201, page
    start = page.index('class="upload-warnings')
    warnings = re.sub(r"\s+", " ", page[start:page.index("</div>", start)])
    assert "Ingen i organisationen har rollen Bygglovsarkitekt; steget Steg ett kan inte tas av någon." in warnings
    assert "Steget Steg två tilldelas nisse, som inte finns som användare." in warnings
    assert "hanna" not in warnings  # a user who exists
    assert "Formuläret ansokan.form laddades upp men används inte av något steg." in warnings
    assert page.index("upload-warnings") < page.index("Vad Rutin hittade")  # first, above the diagnostics
    # the unchanged diagram, by a designer in an organisation where all is in place: no warnings
    r = client.post("/processes", data={"csrf": token, "file": (BytesIO(fixture_bytes("seq3.bpmn")), "seq3.bpmn")},
                    content_type="multipart/form-data")
    assert r.status_code == 201 and "upload-warnings" not in r.get_data(as_text=True)


def test_diagnostics_are_grouped_per_process_and_element() -> None:
    found = [
        {"severity": "warning", "code": "a", "message": "Ett", "element_id": "x", "element_name": "X", "process_id": "p"},
        {"severity": "error", "code": "b", "message": "Två", "element_id": "x", "line": 7, "process_id": "p"},
        {"severity": "warning", "code": "a", "message": "Ett", "element_id": "x", "process_id": "p"},
        {"severity": "info", "code": "c", "message": "Tre", "element_id": "y", "process_id": "q"},
        {"severity": "warning", "code": "d", "message": "Dokumentet", "process_id": "p"},
    ]
    assert grouped(found) == [
        {"process_id": "p", "elements": [
            {"element_id": "x", "element_name": "X", "line": 7, "severity": "error",
             "messages": [{"severity": "warning", "code": "a", "message": "Ett"},
                          {"severity": "error", "code": "b", "message": "Två"}]},
            {"element_id": None, "element_name": None, "line": None, "severity": "warning",
             "messages": [{"severity": "warning", "code": "d", "message": "Dokumentet"}]}]},
        {"process_id": "q", "elements": [
            {"element_id": "y", "element_name": None, "line": None, "severity": "info",
             "messages": [{"severity": "info", "code": "c", "message": "Tre"}]}]},
    ]


def test_the_diff_comes_from_the_models_and_names_changed_conditions_roles_and_forms(
        engine: Engine, client: Any, people: dict[str, Person]) -> None:
    processes.deploy(engine, SYSTEM, fixture_bytes("manager_review.bpmn"))
    changed = fixture_bytes("manager_review.bpmn").replace(b"${godkand == true}", b"${godkand == false}")
    [d] = processes.deploy(engine, people["designer"].actor, changed)
    [key] = {d.key}
    before = engine.model(processes.get_version(engine, key, 1)["id"]).to_json()
    after = engine.model(d.id).to_json()
    changes = version_diff.diff(before, after)
    assert [(c.kind, c.step) for c in changes] == [("condition", "Ja")]
    assert "false" in str(changes[0].after) and "true" in str(changes[0].before)
    assert version_diff.diff(before, before) == []
    # a version stored before conditions were kept is compared on its steps only
    assert version_diff.diff({**before, "conditions": None}, after) == []
    identity.set_password(engine, "admin", PASSWORD)
    sign_in(client, "admin")
    page = re.sub(r"\s+", " ", client.get(f"/processes/{key}/versions/2").get_data(as_text=True))
    assert "Villkoret på flödet Ja: <code>${godkand == true}</code> blir <code>${godkand == false}</code>" in page
    # renamed step, role and form
    seq = processes.get_version(engine, key, 1)
    assert seq["status"] == "published"
    seq3 = fixture_bytes("seq3.bpmn")
    processes.deploy(engine, SYSTEM, seq3)
    other = (seq3.replace(b'name="Handl\xc3\xa4ggare"', b'name="Granskare"').replace(b"Steg tre", b"Steg 3")
             .replace(b'<camunda:formField id="klar" label="Klar" type="boolean"/>\n    </camunda:formData>'
                      b'</bpmn:extensionElements>\n    </bpmn:userTask>\n    <bpmn:sequenceFlow id="f4"',
                      b'</camunda:formData></bpmn:extensionElements>\n    </bpmn:userTask>\n'
                      b'    <bpmn:sequenceFlow id="f4"'))
    [d3] = processes.deploy(engine, people["designer"].actor, other)
    kinds = {(c.kind, c.step) for c in version_diff.diff(
        engine.model(processes.get_version(engine, "seq3", 1)["id"]).to_json(), engine.model(d3.id).to_json())}
    assert {("role", "Steg ett"), ("renamed", "Steg 3"), ("form", "Steg 3")} <= kinds
