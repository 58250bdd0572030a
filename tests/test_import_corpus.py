"""Import from any modeler: every corpus file through the HTTP API.

../shared/corpus holds 455 real exports (the OMG MIWG interchange suite from 16 tools and Camunda
7's executable examples). Every file (``.bpmn`` and Flowable's ``.bpmn20.xml``) either deploys or
is refused with located diagnostics; none raises, hangs or answers 500. Every process it deploys
is approved and a case of it started over HTTP, and the case's first open task completed with what
a form sends (`bench.honest_walk.form_data`, or the first option of a decision): no answer is a 5xx. Camunda examples that refer to sibling `.form` files or DMN tables
are uploaded alone: a missing form is a warning, not an error. The walk from start to end is in
test_import_walkthrough.py; rates per tool folder are what `make corpus` prints.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import CORPUS_DIR, Person

from bench.honest_walk import form_data
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
    run: set[tuple[str, str]] = set()  # (content hash, key): identical bytes are one version
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
            digest = hashlib.sha256(data).hexdigest()
            for proc in body["processes"]:
                if (digest, proc["key"]) not in run:
                    run.add((digest, proc["key"]))
                    outcome.update(start_and_complete_first_task(client, people["admin"], proc, path))
    assert set(refusal_codes) <= PRINCIPLED_REFUSALS, refusal_codes
    # Of the cases started, most had an open task whose completion was accepted.
    assert outcome["started"] >= 0.9 * len(run) and outcome["completed"] >= 0.5 * outcome["started"], outcome
    # Stock SpiffWorkflow parses 59 of the 831 MIWG files; Rutin deploys all but a handful.
    assert outcome["deployed"] >= 0.98 * len(FILES), outcome


def start_and_complete_first_task(client: Any, admin: Person, proc: dict[str, Any], path: Path) -> Counter[str]:
    """Approve a deployed process (a draft), start a case of it and complete its first open task,
    as the administrator, over HTTP: what happened, and never a 5xx."""
    seen: Counter[str] = Counter()
    where = (path, proc["key"])
    base = f"/api/processes/{proc['key']}/versions/{proc['version']}"
    if proc["status"] == "draft":
        r = client.post(f"{base}/approve", json={}, headers=admin.headers)
        assert r.status_code < 500, (*where, "approve", r.get_data(as_text=True)[:300])
    r = client.post(f"/api/processes/{proc['key']}/cases", json={}, headers=admin.headers)
    assert r.status_code < 500, (*where, "start", r.get_data(as_text=True)[:300])
    if r.status_code == 422:  # a start form with required fields: what a person would send
        version = client.get(base, headers=admin.headers)
        assert version.status_code == 200, where
        start = form_data(version.get_json()["start_form"])
        r = client.post(f"/api/processes/{proc['key']}/cases", json={"data": start}, headers=admin.headers)
        assert r.status_code < 500, (*where, "start", r.get_data(as_text=True)[:300])
    if r.status_code != 201:
        return seen
    seen["started"] += 1
    case = r.get_json()
    if not case["open_tasks"]:
        seen["no-task"] += 1
        return seen
    task = case["open_tasks"][0]
    body: dict[str, Any] = {}
    if task["kind"] == "decision":
        if not task.get("options"):
            return seen
        first = task["options"][0]["id"]
        body["choice"] = [first] if task.get("multiple") else first
        if task.get("decision_under_ordinance"):
            body["no_conflict_of_interest"] = True
    else:
        body["data"] = form_data(task.get("form") or [])
    r = client.post(f"/api/tasks/{task['id']}/complete", json=body, headers=admin.headers)
    assert r.status_code < 500, (*where, "complete", task["name"], r.get_data(as_text=True)[:300])
    seen["completed" if r.status_code == 200 else f"complete-{r.status_code}"] += 1
    return seen


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
