"""Benchmark `timers`: one scheduler tick with many due timers among a million pending."""

from __future__ import annotations

import sqlite3
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.task_list import _ts  # noqa: E402


def timer_tick(tmp: Path, pending: int, due: int) -> dict[str, Any]:
    """One tick that fires `due` timers among `pending` pending ones, and, to compare, one that fires
    as many with nothing else pending: the time should follow `due`, not `pending`."""
    alone = _timer_tick(tmp / "timers-alone", due, due)
    result = _timer_tick(tmp / "timers", pending, due)
    result["among_due_only"] = alone
    result["ratio_to_due_only"] = round(result["tick_s"] / max(alone["tick_s"], 1e-9), 2)
    return result


def _timer_tick(data_dir: Path, pending: int, due: int) -> dict[str, Any]:
    from engine.authority.identity import SYSTEM
    from engine.base.clock import ManualClock
    from engine.base.settings import Settings
    from engine.catalogue import processes
    from engine.core import Engine
    from engine.service import cases as case_api

    clock = ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(data_dir)}), clock)
    engine.migrate()
    processes.deploy(engine, SYSTEM, (ROOT / "tests" / "fixtures" / "timer_direct.bpmn").read_bytes())
    t0 = time.perf_counter()
    for _ in range(due):
        case_api.start_case(engine, SYSTEM, "vanta", {})
    started = time.perf_counter() - t0
    conn = sqlite3.connect(data_dir / "rutin.db")
    later = _ts(clock.now() + timedelta(days=365))
    batch = []
    for _ in range(pending - due):
        batch.append(("bpmn", str(uuid.uuid4()), str(uuid.uuid4()), later, "pending", "{}"))
        if len(batch) >= 50000:
            conn.executemany("INSERT INTO timers (kind, case_id, task_id, due_at, status, data) VALUES (?,?,?,?,?,?)",
                             batch)
            batch.clear()
    if batch:
        conn.executemany("INSERT INTO timers (kind, case_id, task_id, due_at, status, data) VALUES (?,?,?,?,?,?)",
                         batch)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    clock.advance(timedelta(hours=2))
    t0 = time.perf_counter()
    result = engine.scheduler.tick()
    tick = time.perf_counter() - t0
    t0 = time.perf_counter()
    idle = engine.scheduler.tick()
    idle_s = time.perf_counter() - t0
    engine.close()
    return {"pending": pending, "due": due, "fired": result.fired, "tick_s": round(tick, 2),
            "per_firing_ms": tick / max(result.fired, 1) * 1000, "idle_tick_ms": idle_s * 1000,
            "idle_fired": idle.fired, "starting_the_cases_s": round(started, 1)}
