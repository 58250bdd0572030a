"""Several `rutin worker` processes against one database: every due timer fires exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import sqlalchemy as sa
from conftest import ROOT, fixture_bytes

from engine import cases, processes
from engine.clock import ManualClock
from engine.core import Engine
from engine.identity import SYSTEM
from engine.models import CaseEvent, HumanTask, Timer

CASES = 1000
WORKERS = 3


def test_three_workers_fire_a_thousand_timers_once_each(engine: Engine, clock: ManualClock) -> None:
    processes.deploy(engine, SYSTEM, fixture_bytes("timer_direct.bpmn"))
    for _ in range(CASES):
        cases.start_case(engine, SYSTEM, "vanta")
    later = clock.now() + timedelta(hours=2)
    env = {**os.environ, "RUTIN_DATABASE_URL": engine.settings.database_url,
           "RUTIN_DATA_DIR": str(engine.settings.data_dir), "RUTIN_FIXED_NOW": later.isoformat()}
    workers = [
        subprocess.Popen([sys.executable, "-m", "webapp.cli", "worker", "--once"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(WORKERS)
    ]
    outputs = [w.communicate(timeout=600) for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    with engine.db.read() as s:
        fired = s.execute(sa.select(Timer.case_id, Timer.fired_by).where(Timer.status == "fired")).all()
        pending = s.execute(sa.select(sa.func.count()).select_from(Timer).where(
            Timer.status == "pending", Timer.kind == "bpmn")).scalar()
        events = s.execute(
            sa.select(CaseEvent.case_id, sa.func.count()).where(CaseEvent.type == "timer_fired")
            .group_by(CaseEvent.case_id)
        ).all()
        open_tasks = s.execute(
            sa.select(sa.func.count()).select_from(HumanTask).where(HumanTask.status == "open")
        ).scalar()
    assert len(fired) == CASES and len({c for c, _ in fired}) == CASES and pending == 0
    assert len(events) == CASES and all(n == 1 for _, n in events)
    assert open_tasks == CASES
    per_worker = {}
    for _, by in fired:
        per_worker[by] = per_worker.get(by, 0) + 1
    assert sum(per_worker.values()) == CASES
    if engine.db.is_sqlite:
        return
    # On PostgreSQL the workers really share the work (SKIP LOCKED), instead of queueing behind one.
    assert len(per_worker) == WORKERS, per_worker
