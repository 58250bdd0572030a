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
    """A UTC instant as SQLAlchemy stores DateTime on SQLite."""
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def seed_people(db_path: Path) -> None:
    """2,000 people each holding one or two of 50 roles (the handler is made with the CLI)."""
    rng = random.Random(11)
    conn = sqlite3.connect(db_path)
    now = _ts(datetime.now(UTC))
    for n in range(PEOPLE):
        name = f"person{n}"
        if name == HANDLER:
            continue
        user_id = conn.execute("INSERT INTO users (name, display_name, active, created_at) VALUES (?,?,1,?)",
                               (name, f"Person {n}", now)).lastrowid
        for r in {rng.randrange(ROLES) for _ in range(rng.choice((1, 2)))}:
            conn.execute("INSERT INTO user_roles (user_id, role, role_key) VALUES (?,?,?)",
                         (user_id, f"Roll {r}", f"roll {r}"))
    conn.commit()
    conn.close()


def seed_tasks(db_path: Path, total: int) -> None:
    """Top the open tasks up to `total`, written straight into the projections the way
    `CaseWork._create_task` writes them: a case row per task (state never loaded by a list),
    the task row, its candidate rows (the role, and the assignee if any) with created_at."""
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    version_id = conn.execute("SELECT id FROM process_versions WHERE key='seq3' ORDER BY version DESC").fetchone()[0]
    have = conn.execute("SELECT count(*) FROM human_tasks WHERE status='open' AND business_key LIKE 'BK-%'"
                        ).fetchone()[0]
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
                      1, 0))
        tasks.append((task_id, case_id, "seq3", version_id, f"BK-{n}", "a", "a", "Steg ett", "task", role, assignee,
                      "open", 50, created, due, json.dumps([f"{k}:{v}" for k, v in cands])))
        candidates.extend((task_id, k, v, created) for k, v in cands)
        if len(tasks) >= 20000:
            _flush(conn, cases, tasks, candidates)
    _flush(conn, cases, tasks, candidates)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def _flush(conn: Any, cases: list[Any], tasks: list[Any], candidates: list[Any]) -> None:
    conn.executemany("INSERT INTO cases (id, process_version_id, process_key, business_key, status, revision, "
                     "state_json, data, started_by, created_at, updated_at, event_count, deadline_extended) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", cases)
    conn.executemany("INSERT INTO human_tasks (id, case_id, process_key, process_version_id, business_key, spec_name, "
                     "element_id, name, kind, role, assignee, status, priority, created_at, due_at, candidates) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", tasks)
    conn.executemany("INSERT INTO task_candidates (task_id, kind, key, created_at) VALUES (?,?,?,?)", candidates)
    conn.commit()
    cases.clear()
    tasks.clear()
    candidates.clear()


def task_list_latency(service: Service, totals: list[int], calls: int, lib: str, warm: int = 10
                      ) -> list[dict[str, Any]]:
    """p50/p95 of GET /api/tasks (first page of 50, with counts) for a handler holding two roles."""
    db = service.data_dir / "rutin.db"
    service.cli("users", "add", HANDLER, *[a for r in HANDLER_ROLES for a in ("--role", r)])
    seed_people(db)
    call, close = http_client(service.base, service.token(HANDLER), lib)
    out = []
    for total in totals:
        t = time.perf_counter()
        seed_tasks(db, total)
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
