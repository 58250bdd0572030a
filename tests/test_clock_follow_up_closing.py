"""A task with a follow-up date and no due date leaves no pending timer behind when it is completed."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from conftest import FIXTURES
from test_clock_follow_up import _process

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, org_data, tasks
from engine.store.models import Timer


def test_completing_a_task_with_only_a_follow_up_date_cancels_its_reminder(engine: Engine,
                                                                          clock: ManualClock) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    bea = identity.get_actor(engine, "bea")
    processes.deploy(engine, SYSTEM, _process('camunda:followUpDate="P2D"'))
    [task] = cases.start_case(engine, SYSTEM, "uppfoljning", {}, "BN-10", org_unit="bygglov")["open_tasks"]
    assert task["due"] is None and task["follow_up"] is not None
    tasks.claim(engine, bea, task["id"])
    tasks.complete(engine, bea, task["id"], {})
    with engine.db.read() as s:
        pending = s.execute(sa.select(Timer.kind).where(Timer.task_id == task["id"], Timer.status == "pending")).all()
    assert pending == []
