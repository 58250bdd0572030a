"""One catalogue of Swedish words (engine.base.labels): every status a person is shown, every event
the engine writes into a case's or a process's history and every problem type has its word there,
and what shows a status says it in Swedish (a rejected version once showed "rejected")."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from conftest import Person, deploy, fixture_bytes, publish

from engine.authority import identity
from engine.base import errors, labels
from engine.core import Engine
from engine.service import cases

ROOT = Path(__file__).resolve().parent.parent


def _source(package: str) -> str:
    return "\n".join(p.read_text() for p in sorted((ROOT / package).rglob("*.py")))


def _swedish(label: str | None, code: str) -> bool:
    return bool(label) and label != code and label != code.replace("_", " ")


def test_every_status_shown_has_a_swedish_label(client: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    statuses = set(cases.CASE_STATUSES) | set(schemas["Version"]["properties"]["status"]["enum"]) \
        | set(schemas["Task"]["properties"]["status"]["enum"])
    for ops in spec["paths"].values():
        for op in ops.values():
            statuses |= {v for p in op.get("parameters", []) if p["name"] == "status"
                         for v in p["schema"].get("enum", [])}
    assert {"rejected", "superseded", "draft", "open", "cancelled", "incident"} <= statuses
    missing = sorted(s for s in statuses if not _swedish(labels.STATUS_LABELS.get(s), s))
    assert not missing, missing
    assert labels.status_word("rejected") == "avvisad"


def test_every_event_the_engine_writes_has_a_swedish_label() -> None:
    source = _source("engine")
    written = set(re.findall(r'\.event\(\s*"([a-z_]+)"', source))
    written |= set(re.findall(r'"(case_clock_[a-z_]+)"', source))
    assert len(written) > 20
    missing = sorted(e for e in written if not _swedish(labels.EVENT_LABELS.get(e), e))
    assert not missing, missing
    process_events = set(re.findall(r'record\(\s*s,\s*[\w.]+,\s*"([a-z_]+)"', source))
    assert {"version_uploaded", "version_rejected"} <= process_events
    missing = sorted(e for e in process_events if not _swedish(labels.PROCESS_EVENT_LABELS.get(e), e))
    assert not missing, missing


def test_every_problem_type_has_its_title_from_the_catalogue() -> None:
    kinds = set(re.findall(r'rutin\.example/problems/([a-z-]+)', _source("engine") + _source("webapp")))
    kinds |= {re.sub(r".*/", "", cls.type) for cls in vars(errors).values()
              if isinstance(cls, type) and issubclass(cls, errors.RutinError) and cls.type != "about:blank"}
    assert not kinds - set(labels.PROBLEM_TITLES), sorted(kinds - set(labels.PROBLEM_TITLES))
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.RutinError):
            kind = "bad-request" if cls.type == "about:blank" else cls.type.rsplit("/", 1)[1]
            assert cls.title == labels.PROBLEM_TITLES[kind], cls
    assert set(labels.HTTP_PROBLEMS.values()) <= set(labels.PROBLEM_TITLES)


def test_a_rejected_version_reads_avvisad_on_the_process_page(client: Any, people: dict[str, Person],
                                                              engine: Engine) -> None:
    publish(client, people, "seq3.bpmn")
    deploy(client, people["designer"], fixture_bytes("seq3.bpmn").replace(b"Steg ett", b"Steg 1"))
    r = client.post("/api/processes/seq3/versions/2/reject", json={"reason": "Fel namn på steget."},
                    headers=people["owner"].headers)
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    with client.session_transaction() as session:  # signed in to the pages as the owner
        session["user"] = "owner"
        session["generation"] = identity.session_generation(engine, "owner")
        session["since"] = engine.clock.now().isoformat()
    page = client.get("/processes/seq3").get_data(as_text=True)
    assert 'status-rejected">Avvisad<' in page and ">rejected<" not in page
    again = client.post("/api/processes/seq3/versions/2/approve", headers=people["owner"].headers)
    assert again.status_code == 409 and "redan avvisad" in again.get_json()["detail"]
