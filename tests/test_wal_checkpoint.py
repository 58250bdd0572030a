"""SQLite's WAL is checkpointed in the background, not inside the commits of requests."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from engine.base.clock import ManualClock
from engine.base.settings import Settings
from engine.core import Engine
from engine.store.checkpoint import SAFETY_NET_PAGES, WalCheckpointer


def _engine(tmp_path: Path) -> Engine:
    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(tmp_path / "var")}), ManualClock())
    engine.migrate()
    return engine


def test_commits_leave_checkpoints_to_the_background(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    try:
        with engine.db.write() as s:
            assert s.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == SAFETY_NET_PAGES
        busy, frames, done = engine.db.checkpoint() or (1, 0, -1)
        assert busy == 0 and frames == done  # the whole log went back into the database file
    finally:
        engine.close()


def test_the_thread_checkpoints_after_writes_and_stops(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("create table t(x)")
    writes = [0]
    checkpointer = WalCheckpointer(str(path), lambda: writes[0], interval_s=0.01)
    try:
        conn.execute("insert into t values (1)")
        writes[0] += 1
        deadline = time.monotonic() + 10  # a real thread on real time: poll for its result
        while checkpointer.rounds == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert checkpointer.rounds >= 1
    finally:
        checkpointer.stop()
    assert not checkpointer._thread.is_alive()
    conn.close()
