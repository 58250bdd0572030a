"""The `rutin` CLI (in this process through click's runner, and once as a process of its own, on a real
database) and the OpenAPI contract."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from conftest import FIXTURES, ROOT

from webapp import cli

RUTIN = [sys.executable, "-m", "webapp.cli"]


@dataclass
class Ran:
    """What a `rutin` command did: its exit code and what it wrote to stdout and stderr."""

    returncode: int
    stdout: str
    stderr: str


def _env(tmp_path: Path) -> dict[str, str]:
    return {"RUTIN_DATA_DIR": str(tmp_path / "var"), "RUTIN_WORKFLOWS_DIR": str(ROOT / "workflows")}


def rutin(tmp_path: Path, *args: str, check: bool = True) -> Ran:
    """Run a `rutin` command in this process (click's runner, on a real database in `tmp_path`):
    the same code as the installed command, measured by coverage and without a second of imports
    per call. `rutin_process` runs the installed command itself."""
    env: dict[str, str | None] = {**_env(tmp_path), "RUTIN_DATABASE_URL": None}
    result = CliRunner(env=env).invoke(cli.main, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    ran = Ran(result.exit_code, result.stdout, result.stderr)
    if check:
        assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran


def rutin_process(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the `rutin` command as a process of its own, as an operator does."""
    env = {**os.environ, **_env(tmp_path)}
    env.pop("RUTIN_DATABASE_URL", None)
    return subprocess.run([*RUTIN, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_command_runs_as_a_process_of_its_own(tmp_path: Path) -> None:
    assert "Rutin" in rutin_process(tmp_path, "--help").stdout
    added = rutin_process(tmp_path, "users", "add", "anna", "--role", "designer")
    assert added.returncode == 0 and "anna" in added.stdout, added.stderr
    missing = rutin_process(tmp_path, "deploy", str(tmp_path / "finns-inte.bpmn"))
    assert missing.returncode != 0 and "Traceback" not in missing.stderr


def test_users_tokens_deploy_and_lint(tmp_path: Path) -> None:
    out = rutin(tmp_path, "users", "add", "anna", "--role", "designer", "--role", "Handläggare").stdout
    assert "anna" in out and "Handläggare" in out
    token = rutin(tmp_path, "token", "anna").stdout.strip().splitlines()[-1]
    assert token.startswith("rtn_") and len(token) > 30
    assert "anna" in rutin(tmp_path, "users", "list").stdout

    deployed = rutin(tmp_path, "deploy", str(FIXTURES / "seq3.bpmn")).stdout
    assert "seq3 version 1 (ny version, utkast)" in deployed
    # --approve publishes the draft of the same bytes, as an administrator's approval
    assert "(oförändrad, publicerad)" in rutin(tmp_path, "deploy", "--approve", str(FIXTURES / "seq3.bpmn")).stdout
    approved = rutin(tmp_path, "deploy", "--approve", str(FIXTURES / "review.bpmn")).stdout
    assert "granskning version 1 (ny version, publicerad)" in approved

    bad = tmp_path / "bad.bpmn"
    bad.write_text("<not-bpmn/>")
    result = rutin(tmp_path, "deploy", str(bad), check=False)
    assert result.returncode == 1 and "inte BPMN" in result.stderr

    lint_ok = rutin(tmp_path, "lint", str(FIXTURES / "review.bpmn"))
    assert "kan driftsättas" in lint_ok.stdout and "human-decision" in lint_ok.stdout
    lint_bad = rutin(tmp_path, "lint", str(bad), check=False)
    assert lint_bad.returncode == 1 and "not-bpmn" in lint_bad.stdout

    # The token works against the app on the same database.
    from engine.base.settings import Settings
    from engine.core import Engine
    from webapp import create_app

    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(tmp_path / "var")}))
    client = create_app(engine).test_client()
    me = client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["name"] == "anna" and me["designer"] is True
    # what --approve recorded: an administrator's approval, in the version and the history
    version = client.get("/api/processes/granskning/versions/1", headers={"Authorization": f"Bearer {token}"})
    body = version.get_json()
    assert body["status"] == "published" and body["approved_via"] == "admin" and body["approved_by"] == "system"
    assert [e["type"] for e in body["history"]] == ["version_uploaded", "version_approved"]
    assert body["history"][1]["data"] == {"via": "admin"}
    engine.close()


def test_deploy_and_lint_take_the_forms_a_diagram_refers_to(tmp_path: Path) -> None:
    """A Camunda 7 diagram whose task form is a Camunda Form (.form) uploaded alongside."""
    from conftest import CORPUS_DIR

    diagram = CORPUS_DIR / "camunda7" / "usertask--task-camunda-forms" / "invoiceApproval.bpmn"
    if not diagram.exists():
        return
    form = tmp_path / "task-form.form"
    form.write_bytes((FIXTURES / "import_task-form.form").read_bytes())
    alone = rutin(tmp_path, "lint", str(diagram))
    assert "form-missing" in alone.stdout
    for args in (("--form", str(form), str(diagram)), (str(diagram), str(form))):
        linted = rutin(tmp_path, "lint", *args)
        assert "kan driftsättas" in linted.stdout and "form-missing" not in linted.stdout, linted.stdout
    assert "ny version" in rutin(tmp_path, "deploy", str(diagram), str(form)).stdout
    assert rutin(tmp_path, "deploy", str(form), check=False).returncode == 2  # no diagram at all

    from engine.base.settings import Settings
    from engine.catalogue import processes
    from engine.core import Engine

    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(tmp_path / "var")}))
    [version] = processes.get_process(engine, "camundaFormsQuickstart")["versions"]
    steps = engine.model(version["id"]).steps.values()
    assert [f.id for s in steps for f in s.form] == ["amount", "approved", "category"]
    engine.close()


def test_token_for_unknown_user_fails_cleanly(tmp_path: Path) -> None:
    result = rutin(tmp_path, "token", "nobody", check=False)
    assert result.returncode != 0 and "finns inte" in result.stderr and "Traceback" not in result.stderr


def test_demo_loads_library_and_users_once(tmp_path: Path) -> None:
    out = rutin(tmp_path, "demo", "--if-empty").stdout
    assert "process avvikelsehantering version 1" in out
    tokens = json.loads((tmp_path / "var" / "demo-tokens.json").read_text())
    assert len(tokens) >= 20 and all(t.startswith("rtn_") for t in tokens.values())
    again = rutin(tmp_path, "demo", "--if-empty").stdout
    assert "redan" in again


# A rule's variable, as werkzeug writes it: <name>, <int:name>, <path:name>, <int(signed=True):name>.
_RULE_VARIABLE = re.compile(r"<(?:(?P<converter>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")


def _as_openapi(rule: str) -> str:
    """A werkzeug rule written as an OpenAPI path (/api/cases/<case_id> -> /api/cases/{case_id})."""
    return _RULE_VARIABLE.sub(lambda m: "{" + m["name"] + "}", rule)


def test_openapi_documents_every_api_route(client: Any) -> None:
    """The document the app serves against the routes the app really has (its url_map), both
    ways: every route under /api is described with each method it answers, every described
    operation is answered by that route, and each path parameter is the route's own, an integer
    exactly where the route converts one."""
    app = client.application
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routes: dict[tuple[str, str], Any] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue  # (/api itself only redirects to this document)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes[(_as_openapi(rule.rule), method)] = rule
    served = set(routes)
    assert not served - documented, f"routes the document leaves out: {sorted(served - documented)}"
    assert not documented - served, f"described, but no route answers: {sorted(documented - served)}"

    adapter = app.url_map.bind("localhost")
    for (path, method), rule in routes.items():
        operation = spec["paths"][path][method.lower()]
        params = {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "path"}
        assert set(params) == set(rule.arguments), (method, path, sorted(params), sorted(rule.arguments))
        converters = {m["name"]: m["converter"] or "default" for m in _RULE_VARIABLE.finditer(rule.rule)}
        sample: dict[str, str] = {}
        for name, param in params.items():
            integer = param["schema"]["type"] == "integer"
            assert integer == (converters[name] == "int"), (method, path, name, converters[name], param["schema"])
            sample[name] = "7" if integer else "x1"
        # the described operation, filled in, reaches this very route (not a page or another call)
        concrete = path
        for name, value in sample.items():
            concrete = concrete.replace("{" + name + "}", value)
        endpoint, _ = adapter.match(concrete, method=method)
        assert endpoint == rule.endpoint, (method, path, endpoint, rule.endpoint)
