"""The demo's cases (`rutin demo`, workflows/demo-cases.yaml): every shipped process has cases
open and finished, some steps are late and have escalated, all made by the engine's own functions
on a clock set back in time, and the engine's clock is its own again afterwards."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from conftest import ROOT
from lxml import etree
from test_cli_and_contract import rutin

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.core import Engine
from engine.service import demo, demo_cases, tasks
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
        assert tasks.list_tasks(engine, identity.get_actor(engine, name))["total"] >= 1, name


def test_rutin_demo_says_what_it_seeded_and_can_leave_the_cases_out(tmp_path: Path) -> None:
    out = rutin(tmp_path, "demo").stdout
    assert "25 demoärenden i 5 processer: 5 avslutade, 20 pågår" in out
    bare = rutin(tmp_path / "utan", "demo", "--utan-arenden").stdout
    assert "demoanvändare" in bare and "demoärenden" not in bare
