"""Statements and round trips per start and per completion: `python -m bench.round_trips
[--database-url URL] [--cases N]`.

The seq3 workload through the engine functions (`bench/inproc.py`), in this process, on a fixed
workload: N cases started, then their first, second and third tasks completed, each phase counted
on its own. These counts do not depend on how busy the machine is, where throughput does.

- **statements**: on PostgreSQL what SQLAlchemy executes (its ``before_cursor_execute`` event;
  an ``executemany`` counts once); on SQLite every statement SQLite runs
  (``sqlite3.Connection.set_trace_callback``, which also sees the hot statements that
  ``engine/store/prepared.py`` runs on the DB-API cursor, ``BEGIN`` and ``COMMIT``; an
  optimistic attempt runs its reads twice, on the snapshot and again under the lock).
- **round trips** (PostgreSQL): libpq's own protocol trace of every connection (psycopg's
  ``PGconn.trace``), counted as the times the client, having sent something, waits for the
  server's answer, that is the switches from frontend to backend messages. ``BEGIN``, ``COMMIT``
  and the pool's liveness ping are counted with the rest, pipelined statements once per wait.
- **server CPU** of the PostgreSQL backends (``/proc/<pid>/stat`` of each connection's backend,
  when the server runs on this machine) and this process's own CPU, per phase.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import DATA, LANE, SEQ3  # noqa: E402
from bench.http_api import cpu_seconds  # noqa: E402


class Counts:
    """What the engine's connections sent, by phase."""

    def __init__(self) -> None:
        self.statements = 0
        self.kinds: Counter[str] = Counter()
        self.traces: list[Path] = []
        self.backends: list[int] = []
        self.handles: list[Any] = []
        self.sqlite_trace = False  # counting SQLite's statements (not while warming up)
        self.tmp = Path(tempfile.mkdtemp(prefix="rutin-trace-"))

    def statement(self, sql: str) -> None:
        self.statements += 1
        self.kinds[" ".join(sql.split()[:3])[:60]] += 1

    def round_trips(self) -> int:
        """Waits for the server so far, over every traced connection."""
        total = 0
        for path in self.traces:
            last = "B"
            for line in path.read_text(errors="replace").splitlines():
                parts = line.split("\t")
                if len(parts) < 2:
                    continue
                direction = parts[0] if parts[0] in ("F", "B") else parts[1]
                if direction == "F":
                    last = "F"
                elif direction == "B" and last == "F":
                    total += 1
                    last = "B"
        return total

    def backend_cpu(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.backends)


def instrument(engine: Any, counts: Counts) -> None:
    """Count every statement and, on PostgreSQL, every round trip of the engine's connections."""
    import sqlalchemy as sa

    # One listener per pool: on PostgreSQL the reader is the writer with other execution options,
    # sharing its pool and hearing its listeners.
    for eng in {id(e.pool): e for e in (engine.db.reader, engine.db.writer)}.values():
        if eng.dialect.name == "sqlite":  # SQLite's own trace sees every statement, SQLAlchemy's too
            def on_connect(dbapi: Any, _record: Any) -> None:
                dbapi.set_trace_callback(lambda sql: counts.statement(sql) if counts.sqlite_trace else None)

            sa.event.listen(eng, "connect", on_connect)
        else:
            def on_pg_connect(dbapi: Any, _record: Any) -> None:
                from psycopg.pq import Trace

                path = counts.tmp / f"conn-{len(counts.traces)}.trace"
                handle = path.open("w")
                dbapi.pgconn.trace(handle.fileno())
                dbapi.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
                counts.traces.append(path)
                counts.backends.append(dbapi.info.backend_pid)
                counts.handles.append(handle)

            sa.event.listen(eng, "connect", on_pg_connect)
            sa.event.listen(eng, "before_cursor_execute", lambda _c, _cur, sql, *_a: counts.statement(sql))
        eng.dispose()  # connections made from here on are traced


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url", default=None, help="PostgreSQL URL (default: SQLite in a temporary directory)")
    ap.add_argument("--cases", type=int, default=100)
    ap.add_argument("--warm", type=int, default=10)
    args = ap.parse_args()
    from engine.authority import identity
    from engine.base.settings import Settings
    from engine.catalogue import processes
    from engine.core import Engine
    from engine.service import cases, tasks

    tmp = Path(tempfile.mkdtemp(prefix="rutin-rt-"))
    env = {"RUTIN_DATA_DIR": str(tmp)}
    if args.database_url:
        env["RUTIN_DATABASE_URL"] = args.database_url
    engine = Engine(Settings.from_env(env))
    if args.database_url:
        import sqlalchemy as sa

        with engine.db.writer.begin() as conn:  # a fresh schema each run
            conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.migrate()
    identity.add_user(engine, "designer", ["designer"])
    hanna = identity.add_user(engine, "hanna", [LANE])
    processes.deploy(engine, identity.get_actor(engine, "designer"), SEQ3.read_bytes(), "seq3.bpmn")
    processes.approve(engine, identity.add_user(engine, "admin", ["admin"]), "seq3", 1)
    hanna = identity.get_actor(engine, "hanna")

    def run_case() -> None:
        open_tasks = cases.start_case(engine, hanna, "seq3", {})["open_tasks"]
        while open_tasks:
            open_tasks = tasks.complete(engine, hanna, open_tasks[0]["id"], DATA)["case"]["open_tasks"]

    for _ in range(args.warm):
        run_case()
    counts = Counts()
    instrument(engine, counts)
    for _ in range(2):
        run_case()  # warm the new (traced) connections
    counts.sqlite_trace = True

    phases: dict[str, Any] = {}

    def phase(name: str, calls: list[Any]) -> list[Any]:
        for h in counts.handles:
            h.flush()
        before = (counts.statements, counts.round_trips(), counts.backend_cpu(), time.process_time(),
                  Counter(counts.kinds))
        t0 = time.perf_counter()
        out = [call() for call in calls]
        wall = time.perf_counter() - t0
        time.sleep(0.2)  # the trace is written by libpq as it goes
        n = len(calls)
        kinds = counts.kinds - before[4]
        phases[name] = {
            "calls": n,
            "statements_per_call": (counts.statements - before[0]) / n,
            "round_trips_per_call": (counts.round_trips() - before[1]) / n if counts.traces else None,
            "db_server_cpu_ms_per_call": (counts.backend_cpu() - before[2]) * 1000 / n if counts.backends else None,
            "client_cpu_ms_per_call": (time.process_time() - before[3]) * 1000 / n,
            "wall_ms_per_call": wall * 1000 / n,
            "statements": {k: round(v / n, 2) for k, v in kinds.most_common()},
        }
        return out

    started = phase("start", [lambda: cases.start_case(engine, hanna, "seq3", {})["open_tasks"]] * args.cases)
    current = [t[0]["id"] for t in started]
    for step in (1, 2, 3):
        results = phase(f"complete {step}", [
            (lambda tid=tid: tasks.complete(engine, hanna, tid, DATA)["case"]["open_tasks"]) for tid in current])
        current = [r[0]["id"] for r in results if r]
    print(json.dumps({"database": "postgresql" if args.database_url else "sqlite", "cases": args.cases,
                      "optimistic": os.environ.get("RUTIN_OPTIMISTIC_WRITES", "default"),
                      "phases": phases}, indent=1))
    engine.close()


if __name__ == "__main__":
    main()
