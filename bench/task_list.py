"""Benchmark `tasks`: GET /api/tasks for a handler holding 2 of 50 roles, with many open tasks
seeded straight into the projection tables."""

from __future__ import annotations

import json
import random
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

from bench.common import pct  # noqa: E402
from bench.http_api import Service, http_client  # noqa: E402

ROLES = 50
PEOPLE = 2000
HANDLER = "person7"
HANDLER_ROLES = ("Roll 3", "Roll 17")


def _ts(value: datetime) -> str:
    """A UTC instant as SQLAlchemy stores DateTime on SQLite (and PostgreSQL reads as text)."""
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


class _Seeder:
    """The service's database, written to straight: SQLite by its file, PostgreSQL (`database_url`)
    through psycopg, its rows sent with COPY."""

    def __init__(self, db_path: Path, database_url: str | None = None):
        self.pg = bool(database_url)
        if database_url:
            import psycopg

            self.conn: Any = psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"))
            self.conn.execute("SET TIME ZONE 'UTC'")
        else:
            self.conn = sqlite3.connect(db_path)
            self.conn.execute("PRAGMA journal_mode=WAL")

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        if not self.pg:
            return self.conn.execute(sql, params).fetchone()
        return self.conn.execute(sql.replace("?", "%s"), params or None).fetchone()

    def insert(self, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.pg:
            with self.conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ",".join("?" * len(rows[0]))
            self.conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)

    def close(self) -> None:
        self.conn.execute("ANALYZE")
        self.conn.commit()
        self.conn.close()


def seed_people(db_path: Path, database_url: str | None = None) -> None:
    """2,000 people each holding one or two of 50 roles (the handler is made with the CLI)."""
    rng = random.Random(11)
    db = _Seeder(db_path, database_url)
    now = _ts(datetime.now(UTC))
    start = db.one("SELECT coalesce(max(id), 0) FROM users")[0] + 1
    users, roles = [], []
    for n in range(PEOPLE):
        name = f"person{n}"
        if name == HANDLER:
            continue
        user_id = start + len(users)
        users.append((user_id, name, f"Person {n}", True, now))
        roles.extend((user_id, f"Roll {r}", f"roll {r}") for r in {rng.randrange(ROLES)
                                                                     for _ in range(rng.choice((1, 2)))})
    db.insert("users", "id, name, display_name, active, created_at", users)
    db.insert("user_roles", "user_id, role, role_key", roles)
    if db.pg:  # ids given here, so the sequence is moved past them
        db.one("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))")
    db.close()


def seed_tasks(db_path: Path, total: int, database_url: str | None = None) -> None:
    """Top the open tasks up to `total`, written straight into the projections the way
    `CaseWork._create_task` writes them: a case row per task (state never loaded by a list),
    the task row, its candidate rows (the role, and the assignee if any) with created_at."""
    db = _Seeder(db_path, database_url)
    version_id = db.one("SELECT id FROM process_versions WHERE key='seq3' ORDER BY version DESC")[0]
    have = db.one("SELECT count(*) FROM human_tasks WHERE status='open' AND business_key LIKE 'BK-%'")[0]
    rng = random.Random(7 + have)
    now = datetime.now(UTC)
    cases: list[tuple[Any, ...]] = []
    tasks: list[tuple[Any, ...]] = []
    candidates: list[tuple[Any, ...]] = []
    for n in range(have, total):
        case_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
        created = _ts(now - timedelta(minutes=n, seconds=rng.random()))
        due = _ts(now + timedelta(days=rng.randint(-5, 20)))
        r = rng.randrange(ROLES)
        role, key = f"Roll {r}", f"roll {r}"
        assignee = f"person{rng.randrange(PEOPLE)}" if rng.random() < 0.3 else None
        cands = [("role", key)] + ([("user", assignee)] if assignee else [])
        cases.append((case_id, version_id, "seq3", f"BK-{n}", "active", 1, "{}", "{}", "bench", created, created,
                      1, False))
        tasks.append((task_id, case_id, "seq3", version_id, f"BK-{n}", "a", "a", "Steg ett", "task", role, assignee,
                      "open", 50, created, due, json.dumps([f"{k}:{v}" for k, v in cands])))
        candidates.extend((task_id, k, v, created) for k, v in cands)
        if len(tasks) >= 20000:
            _flush(db, cases, tasks, candidates)
    _flush(db, cases, tasks, candidates)
    db.close()


def _flush(db: _Seeder, cases: list[Any], tasks: list[Any], candidates: list[Any]) -> None:
    db.insert("cases", "id, process_version_id, process_key, business_key, status, revision, state_json, data, "
              "started_by, created_at, updated_at, event_count, deadline_extended", cases)
    db.insert("human_tasks", "id, case_id, process_key, process_version_id, business_key, spec_name, element_id, "
              "name, kind, role, assignee, status, priority, created_at, due_at, candidates", tasks)
    db.insert("task_candidates", "task_id, kind, key, created_at", candidates)
    db.conn.commit()
    cases.clear()
    tasks.clear()
    candidates.clear()


def task_list_latency(service: Service, totals: list[int], calls: int, lib: str, warm: int = 10
                      ) -> list[dict[str, Any]]:
    """p50/p95 of GET /api/tasks (first page of 50, with counts) for a handler holding two roles."""
    db = service.data_dir / "rutin.db"
    service.cli("users", "add", HANDLER, *[a for r in HANDLER_ROLES for a in ("--role", r)])
    seed_people(db, service.database_url)
    call, close = http_client(service.base, service.token(HANDLER), lib)
    out = []
    for total in totals:
        t = time.perf_counter()
        seed_tasks(db, total, service.database_url)
        seeded_s = time.perf_counter() - t
        for _ in range(warm):
            call("GET", "/api/tasks?limit=50", None)
        times = []
        body: dict[str, Any] = {}
        for _ in range(calls):
            t = time.perf_counter()
            body = call("GET", "/api/tasks?limit=50", None)
            times.append(time.perf_counter() - t)
        out.append({"open_tasks": total, "visible": body["total"], "page": len(body["items"]), "calls": calls,
                    "p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "max_ms": max(times) * 1000,
                    "counts": body["counts"], "seeding_s": round(seeded_s, 1)})
    close()
    return out


def main() -> None:
    """The inbox at many open tasks, two source trees paired (as `bench.paired` does for the
    3-step benchmark): both services seeded alike, their calls alternated round by round."""
    import argparse
    import os
    import statistics
    import tempfile

    ap = argparse.ArgumentParser(description="GET /api/tasks at many open tasks, this tree against another, "
                                 "interleaved: python -m bench.task_list --other DIR [--database-url URL]")
    ap.add_argument("--other", type=Path, required=True, help="the other source tree (the old code)")
    ap.add_argument("--tasks", type=int, default=100000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--calls", type=int, default=20, help="calls per service per round")
    ap.add_argument("--database-url", default=None,
                    help="PostgreSQL: each tree gets a database of its own, this URL's name with _old and _new "
                         "appended (they must exist; their schema is dropped)")
    ap.add_argument("--other-on-sqlite", action="store_true", help="with --database-url: the other tree on SQLite")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rutin-inbox-"))
    url = args.database_url
    old_url = None if args.other_on_sqlite else url and f"{url}_old"
    services = {"old": Service(tmp / "old", root=args.other.resolve(), database_url=old_url),
                "new": Service(tmp / "new", database_url=url and f"{url}_new")}
    times: dict[str, list[float]] = {"old": [], "new": []}
    ratios: list[float] = []
    try:
        calls = {}
        for name, service in services.items():
            t = time.perf_counter()
            service.cli("users", "add", HANDLER, *[a for r in HANDLER_ROLES for a in ("--role", r)])
            seed_people(service.data_dir / "rutin.db", service.database_url)
            seed_tasks(service.data_dir / "rutin.db", args.tasks, service.database_url)
            print(f"{name}: seeded {args.tasks} open tasks in {time.perf_counter() - t:.0f} s", flush=True)
        for name, service in services.items():  # connected after both are seeded: none idles out meanwhile
            calls[name] = http_client(service.base, service.token(HANDLER), "raw")[0]
            for _ in range(10):
                calls[name]("GET", "/api/tasks?limit=50", None)
        for i in range(args.rounds):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            p50 = {}
            for name in order:
                got = []
                for _ in range(args.calls):
                    t = time.perf_counter()
                    body = calls[name]("GET", "/api/tasks?limit=50", None)
                    got.append(time.perf_counter() - t)
                times[name] += got
                p50[name] = pct(got, 50)
            ratios.append(p50["new"] / p50["old"])
            print(f"round {i + 1}: p50 old {p50['old']:.1f} ms, new {p50['new']:.1f} ms, new/old "
                  f"{ratios[-1]:.3f}; visible {body['total']}; load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        for service in services.values():
            service.stop()
    print(json.dumps({"tasks": args.tasks, "database": "postgresql" if url else "sqlite",
                      "other_on_sqlite": args.other_on_sqlite,
                      **{f"{n}_{q}_ms": pct(times[n], p) for n in ("old", "new")
                         for q, p in (("p50", 50), ("p95", 95))},
                      "new_over_old_p50_median": statistics.median(ratios),
                      "new_over_old_range": [min(ratios), max(ratios)]}, indent=1))


if __name__ == "__main__":
    main()
