"""An absence registered ahead of time hands its holder's work on through timer rows, durably."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from conftest import FIXTURES, fixture_bytes

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import absence
from engine.service import cases, org_data, tasks
from engine.store.models import Timer


def test_an_absence_that_begins_hands_work_on_even_if_the_process_dies_at_once(
        engine: Engine, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    org_data.import_yaml(engine, (FIXTURES / "org.yaml").read_text())
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    bo = identity.get_actor(engine, "bo")
    opened = [cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 1}, f"BN-{i}", org_unit="bygglov")
              for i in range(2)]
    for case in opened:
        tasks.claim(engine, bo, case["open_tasks"][0]["id"])
    absence.register(engine, bo, "bo", clock.now() + timedelta(days=1), clock.now() + timedelta(days=3))
    clock.advance(timedelta(days=1, minutes=1))

    def dies(*_: object, **__: object) -> list[str]:
        raise SystemExit("the process died right after the absence's timer was committed")

    # Nothing of the hand-over is left to be done after the firing commits, in memory.
    monkeypatch.setattr(absence, "hand_on", dies)
    engine.scheduler.tick()
    monkeypatch.undo()
    engine.scheduler.tick()
    for case in opened:
        assert tasks.get_task(engine, SYSTEM, case["open_tasks"][0]["id"])["assignee"] is None
    with engine.db.read() as s:
        kinds = s.execute(sa.select(Timer.kind, Timer.status).where(Timer.kind.like("absence%"))).all()
    assert sorted(kinds) == [("absence", "fired"), ("absence_task", "fired"), ("absence_task", "fired")]
