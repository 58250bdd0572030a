"""Import from any modeler: every corpus file through the HTTP API.

../shared/corpus holds 455 real exports (the OMG MIWG interchange suite from 16 tools and Camunda
7's executable examples). Every file (``.bpmn`` and Flowable's ``.bpmn20.xml``) either deploys or
is refused with located diagnostics; none raises, hangs or answers 500. Camunda examples that
refer to sibling `.form` files or DMN tables are uploaded alone: a missing form is a warning, not an
error. Every deployed process walked to its end through the HTTP API is test_corpus_http_walk.py;
rates per tool folder are what `make corpus` prints.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS_DIR, Person

from engine.service import walkthrough

CORPUS = CORPUS_DIR
FILES = sorted([*CORPUS.rglob("*.bpmn"), *CORPUS.rglob("*.bpmn20.xml")])
REFERENCE = CORPUS / "miwg" / "Reference"

# Why a corpus file may be refused: each is a located error a designer can act on.
PRINCIPLED_REFUSALS = {
    "unsupported-script-language",  # Groovy and JavaScript scripts: tasks, listeners, mappings (Camunda examples)
    "script-resource",  # a script in a file of the Camunda project, not in the diagram
    "unsupported-timer",  # Quartz cron at calendar times; the message says what to write instead
    "timer-cycle-too-short",  # cron every 5 seconds (Camunda examples): more often than RUTIN_MIN_TIMER_CYCLE_S
    "unsupported-expression",  # a condition outside every expression language ("Condition\ntrue")
    "nothing-to-run",  # an empty diagram (Camunda Eclipse plugin's A.4.1 export)
}

pytestmark = pytest.mark.skipif(not FILES, reason="the shared corpus is not on this machine")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_corpus_file_deploys_or_is_refused_with_located_diagnostics(client: Any,
                                                                         people: dict[str, Person]) -> None:
    headers = {**people["designer"].headers, "Content-Type": "application/xml"}
    outcome: Counter[str] = Counter()
    refusal_codes: Counter[str] = Counter()
    for path in FILES:
        data = path.read_bytes()
        r = client.post("/api/processes", data=data, headers=headers)
        assert r.status_code in (200, 201, 422), (path, r.status_code, r.get_data(as_text=True)[:300])
        body = r.get_json()
        for d in body["diagnostics"]:
            assert d["code"] and d["message"] and d["severity"] in ("error", "warning", "info"), (path, d)
            if d.get("element_id") and d["code"] != "not-xml":
                assert d.get("line"), (path, d)
        if r.status_code == 422:
            outcome["refused"] += 1
            errors = [d for d in body["diagnostics"] if d["severity"] == "error"]
            assert errors and body["detail"], path
            refusal_codes.update({d["code"] for d in errors})
            assert path.parent != REFERENCE, (path.name, errors)
        else:
            outcome["deployed"] += 1
            assert all(d["severity"] in ("warning", "info") for d in body["diagnostics"]), path
    assert set(refusal_codes) <= PRINCIPLED_REFUSALS, refusal_codes
    # Stock SpiffWorkflow parses 59 of the 831 MIWG files; Rutin deploys all but a handful.
    assert outcome["deployed"] >= 0.98 * len(FILES), outcome


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_camunda_form_not_uploaded_is_a_warning(client: Any, people: dict[str, Person]) -> None:
    path = CORPUS / "camunda7" / "usertask--task-camunda-forms" / "invoiceApproval.bpmn"
    if not path.exists():
        pytest.skip("example not in this corpus")
    r = client.post("/api/processes", data=path.read_bytes(),
                    headers={**people["designer"].headers, "Content-Type": "application/xml"})
    assert r.status_code == 201
    missing = [d for d in r.get_json()["diagnostics"] if d["code"] == "form-missing"]
    assert missing and all(d["severity"] == "warning" and d["element_id"] and d["line"] for d in missing)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_cron_every_five_seconds_is_refused_with_its_interval(client: Any, people: dict[str, Person]) -> None:
    path = CORPUS / "camunda7" / "clients--java--order-handling" / "order-handling.bpmn"
    if not path.exists():
        pytest.skip("example not in this corpus")
    r = client.post("/api/processes", data=path.read_bytes(),
                    headers={**people["designer"].headers, "Content-Type": "application/xml"})
    assert r.status_code == 422, r.get_json()
    [error] = [d for d in r.get_json()["diagnostics"] if d["severity"] == "error"]
    assert (error["code"], error["element_id"]) == ("timer-cycle-too-short", "StartEvent_1") and error["line"]
    assert "R/PT5S" in error["message"] and "1 minut" in error["message"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_refusals_say_where_and_what_to_write_instead(client: Any, people: dict[str, Person]) -> None:
    path = CORPUS / "camunda7" / "scripttask--xslt-scripttask" / "xslt-example.bpmn"
    if not path.exists():
        pytest.skip("example not in this corpus")
    r = client.post("/api/processes", data=path.read_bytes(),
                    headers={**people["designer"].headers, "Content-Type": "application/xml"})
    assert r.status_code == 422 and r.get_json()["type"]
    errors = {(d["code"], d["element_id"]) for d in r.get_json()["diagnostics"] if d["severity"] == "error"}
    assert ("script-resource", "ScriptTask_1") in errors, errors
    assert all(d["line"] for d in r.get_json()["diagnostics"] if d["severity"] == "error")


def test_walkthrough_supplies_data_a_condition_asks_for() -> None:
    fix = walkthrough.missing_variables("Error evaluating expression 'not approved and n in items'", {"n": 1})
    assert fix == {"approved": True, "items": []}


def test_corpus_table_runs(tmp_path: Path) -> None:
    from bench.corpus import run

    sample = tmp_path / "sample"
    sample.mkdir()
    (sample / "A.1.0.bpmn").write_bytes((REFERENCE / "A.1.0.bpmn").read_bytes())
    (sample / "A.1.0-copy.bpmn").write_bytes((REFERENCE / "A.1.0.bpmn").read_bytes())
    # Flowable's and Activiti's file name is read too.
    (sample / "A.2.0.bpmn20.xml").write_bytes((REFERENCE / "A.2.0.bpmn").read_bytes())
    result = run(sample)
    row = result["table"]["."]
    assert row["files"] == 3 and row["deployed"] == 3 and row["walked"] == row["processes"] > 0
    assert row["kinds"]["info:descriptive-model"] >= 3 and not result["refusals"]
    assert row["krasch"] == 0 and not result["crashes"]


def test_corpus_table_prints_deploy_and_walk_rates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import bench.corpus

    sample = tmp_path / "sample"
    sample.mkdir()
    (sample / "A.1.0.bpmn").write_bytes((REFERENCE / "A.1.0.bpmn").read_bytes())
    (sample / "broken.bpmn").write_bytes(b"<not-bpmn/>")
    monkeypatch.setattr("sys.argv", ["corpus", str(sample)])
    bench.corpus.main()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["folder", "files", "deploy", "refuse", "procs", "walked", "stop+warn", "stop-warn",
                                "krasch", "walk%"]
    row = next(line for line in lines if line.startswith("ALL")).split()
    assert row[1:4] == ["2", "1", "1"] and row[-1] == "100.0", row
