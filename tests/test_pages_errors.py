"""The GOV.UK error pattern on every form (Flask's test client): a refused form comes back with
the one error summary (`_error_summary.html`) at the top, linking to each field in error, and
the field marked aria-invalid and described by its message."""

from __future__ import annotations

import io
import re
from typing import Any

from conftest import PASSWORD, ROOT, Person, sign_in
from test_pages import BIDRAG

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine
from engine.service import measure_targets

TEMPLATES = ROOT / "webapp" / "templates"

ANSOKAN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="https://rutin.example/test">
  <bpmn:process id="ansokan" name="Ansökan" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:extensionElements><camunda:formData>
      <camunda:formField id="sokande" label="Sökande" type="string">
        <camunda:validation><camunda:constraint name="required"/></camunda:validation></camunda:formField>
      <camunda:formField id="belopp" label="Belopp" type="long">
        <camunda:validation><camunda:constraint name="max" config="1000"/></camunda:validation></camunda:formField>
    </camunda:formData></bpmn:extensionElements></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()


def _summary(page: str) -> list[tuple[str | None, str]]:
    """The error summary's entries: (the field it links to, the message)."""
    found = re.search(r'<div class="error-summary"[^>]*data-error-summary>(.*?)</div>', page, re.S)
    assert found, "no error summary"
    return [(m.group(2), re.sub(r"<[^>]+>", "", m.group(3)).strip())
            for m in re.finditer(r'<li>(<a href="#([^"]+)">)?(.*?)(</a>)?</li>', found.group(1), re.S)]


def _marked(page: str, field: str) -> bool:
    """Whether the field is aria-invalid and described by its message, which the page holds."""
    tag = re.search(rf'<(?:input|textarea|select)[^>]*id="{field}"[^>]*>', page, re.S)
    return bool(tag and 'aria-invalid="true"' in tag.group(0) and f"{field}-error" in tag.group(0)
                and f'id="{field}-error"' in page)


def _admin(engine: Engine, client: Any) -> str:
    identity.set_password(engine, "admin", PASSWORD)
    return sign_in(client, "admin")


def test_the_start_form_comes_back_with_its_errors_and_what_was_entered(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    processes.deploy(engine, SYSTEM, ANSOKAN, "ansokan.bpmn")
    token = _admin(engine, client)
    refused = client.post("/processes/ansokan/cases", data={"csrf": token, "business_key": "AN-1", "belopp": "5000"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    entries = dict(_summary(page))
    assert set(entries) == {"f-sokande", "f-belopp"} and "Sökande" in entries["f-sokande"]
    assert _marked(page, "f-sokande") and _marked(page, "f-belopp")
    assert 'value="AN-1"' in page and 'value="5000"' in page  # what was entered is kept


def test_upload_tokens_and_login_use_the_summary(engine: Engine, people: dict[str, Person], client: Any) -> None:
    token = _admin(engine, client)
    upload = client.post("/processes", data={"csrf": token, "file": (io.BytesIO(b""), "")},
                         content_type="multipart/form-data").get_data(as_text=True)
    assert _summary(upload) == [("upload-file", "Välj en BPMN-fil.")] and _marked(upload, "upload-file")
    broken = client.post("/processes", data={"csrf": token, "file": (io.BytesIO(b"inte xml"), "x.bpmn")},
                         content_type="multipart/form-data").get_data(as_text=True)
    assert _summary(broken)[0][0] == "upload-file"
    days = client.post("/tokens", data={"csrf": token, "name": "Skript", "days": "tio"}).get_data(as_text=True)
    assert _summary(days) == [("token-days", "Ange antal dagar som ett heltal.")] and _marked(days, "token-days")
    named = client.post("/tokens", data={"csrf": token, "name": "", "days": "5"}).get_data(as_text=True)
    assert _summary(named)[0][0] == "token-name" and _marked(named, "token-name")

    other = client.application.test_client()
    form = other.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    wrong = other.post("/login", data={"csrf": csrf, "name": "admin", "password": "fel"}).get_data(as_text=True)
    [(target, message)] = _summary(wrong)
    assert target == "login-name" and message and _marked(wrong, "login-name")


def test_the_measures_period_and_targets_are_refused_inline(
        engine: Engine, people: dict[str, Person], client: Any) -> None:
    processes.deploy(engine, SYSTEM, BIDRAG, "bidrag.bpmn")
    token = _admin(engine, client)
    bad = client.get("/matetal?fran=12/3&till=2026-13-40")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "Mätetal" in page and "Föreningsbidrag" in page  # the page, not an error page
    assert [t for t, _ in _summary(page)] == ["period-fran", "period-till"]
    assert _marked(page, "period-fran") and _marked(page, "period-till")
    backwards = client.get("/matetal?fran=2026-03-31&till=2026-03-01").get_data(as_text=True)
    assert _summary(backwards) == [("period-till", "Till och med ska vara samma dag som eller efter från och med.")]
    assert 'value="2026-03-31"' in backwards  # what was entered stays, to be corrected
    # the CSV of a bad period is the page with its errors, not a file of every period
    assert client.get("/matetal?format=csv&fran=x").mimetype == "text/html"

    refused = client.post("/matetal/mal", data={"csrf": token, "process": "bidrag",
                                                "measure": "lead_time_days_p90", "target": "många"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    [(target, message)] = _summary(page)
    assert target == "mal-lead_time_days_p90" and "Ange målet som ett tal" in message
    assert _marked(page, "mal-lead_time_days_p90") and 'value="många"' in page
    assert measure_targets.targets(engine).get("bidrag", {}) == {}


def test_every_form_uses_the_one_summary() -> None:
    own = [p.name for p in TEMPLATES.glob("*.html")
           if p.name != "_error_summary.html" and 'class="error-summary"' in p.read_text(encoding="utf-8")]
    assert own == []
    users = {p.name for p in TEMPLATES.glob("*.html") if "error_summary(" in p.read_text(encoding="utf-8")}
    assert {"task.html", "process.html", "processes.html", "version.html", "measures.html", "tokens.html",
            "login.html", "case.html"} <= users
