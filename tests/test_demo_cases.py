"""The demo: its cases (`rutin demo`, workflows/demo-cases.yaml) in every shipped process open
and finished, some steps late and escalated, all made by the engine's own functions on a clock set
back in time (the engine's clock its own again afterwards); the README's table of the demo people
and its examples of the user commands, run verbatim."""

from __future__ import annotations

import re
import shlex
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
import yaml
from conftest import ROOT
from lxml import etree
from test_cli_and_contract import rutin

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.core import Engine
from engine.service import demo, demo_cases, inbox
from engine.store.models import Case, CaseEvent, HumanTask

WORKFLOWS = ROOT / "workflows"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"


def _shipped_keys() -> set[str]:
    return {p.get("id") for f in WORKFLOWS.glob("*.bpmn")
            for p in etree.parse(str(f)).getroot().iter(f"{BPMN}process") if p.get("isExecutable") == "true"}


def test_the_demo_seeds_open_finished_overdue_and_escalated_work_in_every_process(engine: Engine,
                                                                                  clock: ManualClock) -> None:
    demo.load(engine, WORKFLOWS)
    now = clock.now()
    seeded = demo_cases.seed(engine, WORKFLOWS)
    assert engine.clock is clock and clock.now() == now  # the engine's own clock, where it was

    keys = _shipped_keys()
    assert set(seeded) == keys
    with engine.db.read() as s:
        rows = s.execute(sa.select(Case.process_key, Case.status, Case.created_at)).all()
        for key in keys:
            statuses = {r.status for r in rows if r.process_key == key}
            assert {"active", "completed"} <= statuses, (key, statuses)
        assert min(r.created_at for r in rows) <= now - timedelta(days=100)  # back-dated, not all today
        assert max(r.created_at for r in rows) <= now
        open_ids = set(s.execute(sa.select(HumanTask.id).where(HumanTask.status == "open")).scalars())
        overdue = s.execute(sa.select(sa.func.count()).select_from(HumanTask)
                            .where(HumanTask.status == "open", HumanTask.due_at < now)).scalar_one()
        steps = s.execute(sa.select(CaseEvent.task_id, CaseEvent.data).where(CaseEvent.type == "escalation_step")).all()
    escalated = {task for task, data in steps if task in open_ids and data.get("action") != "remind"}
    assert overdue >= 1 and escalated, (overdue, escalated)
    assert engine.scheduler.tick().fired == 0  # every timer due by now has fired, each at its instant

    # a newcomer's inbox is not empty: those who work the processes have steps waiting
    for name in ("hanna", "bea", "rebecka", "kristina", "kalle"):
        assert inbox.list_tasks(engine, identity.get_actor(engine, name))["total"] >= 1, name


def test_rutin_demo_says_what_it_seeded_and_can_leave_the_cases_out(tmp_path: Path) -> None:
    out = rutin(tmp_path, "demo").stdout
    assert "25 demoärenden i 5 processer: 5 avslutade, 20 pågår" in out
    bare = rutin(tmp_path / "utan", "demo", "--no-cases").stdout
    assert "demoanvändare" in bare and "demoärenden" not in bare


def test_the_readmes_table_of_demo_people_is_the_demo_organisation() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- demo-people:[^\n]*-->\n(.*?)<!-- /demo-people -->", readme, re.S)
    assert block, "the README marks its table of demo people"
    # to write it anew: .venv/bin/python -c 'from pathlib import Path; from engine.service import demo;
    #                   print(demo.people_table(Path("workflows")), end="")'
    assert block.group(1) == demo.people_table(WORKFLOWS)
    people = (yaml.safe_load((WORKFLOWS / "demo-org.yaml").read_text(encoding="utf-8")))["people"]
    assert block.group(1).count("\n| `") == len(people) == 25
    assert "25 logins" in readme and "21 people" in readme


def _readme_commands(*subcommands: str) -> list[list[str]]:
    """The README's `.venv/bin/rutin` examples of these subcommands, as they would be typed: each
    of several on a line, without their comments and optional [parts]."""
    found = []
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith(".venv/bin/rutin "):
            continue
        for command in re.sub(r"\s+#.*$", "", line).split("; "):
            if command.split()[1:2] and command.split()[1] not in subcommands:
                continue  # other commands' examples may continue on the next line (a trailing "\\")
            words = shlex.split(re.sub(r"\s*\[[^]]*\]", "", command))[1:]
            if words:
                found.append(words)
    return found


def test_the_readmes_user_examples_work_verbatim_on_the_demo(tmp_path: Path) -> None:
    rutin(tmp_path, "demo", "--no-cases")
    examples = _readme_commands("users", "user", "token", "tokens", "absences")
    assert len(examples) >= 8
    for words in examples:
        ran = rutin(tmp_path, *words, check=False)
        assert ran.returncode == 0, (words, ran.stdout, ran.stderr)
    listed = rutin(tmp_path, "users", "list").stdout
    assert re.search(r"^hanna\s+.*Registrator", listed, re.M)  # asked for with --add-roles


def test_adding_an_existing_login_is_refused_unless_roles_are_asked_to_be_added(tmp_path: Path) -> None:
    rutin(tmp_path, "demo", "--no-cases")
    before = rutin(tmp_path, "users", "list").stdout
    refused = rutin(tmp_path, "users", "add", "anna", "--role", "designer", "--role", "Handläggare", check=False)
    assert refused.returncode != 0
    assert "Användaren 'anna' finns redan; lägg till roller med --add-roles" in refused.stderr
    assert rutin(tmp_path, "users", "list").stdout == before  # the municipal director keeps her roles
    unknown = rutin(tmp_path, "users", "add", "nisse", "--add-roles", "--role", "designer", check=False)
    assert unknown.returncode != 0 and "finns inte" in unknown.stderr
    assert "nisse" not in rutin(tmp_path, "users", "list").stdout
    added = rutin(tmp_path, "users", "add", "anna", "--add-roles", "--role", "Processägare").stdout
    assert "Processägare" in added and "Kommundirektör" in added
