"""Benchmark: the inbox's free-text search (``q=``) for a handler at 10,000 open tasks.

`python -m bench.inbox_search [--tasks 10000] [--rounds 15]`. An in-process engine on a temporary
SQLite database; the open tasks, their cases (with data: an applicant, an address, a text of a
few hundred characters) and candidate rows are written straight into the projections, as
`bench/task_list.py` does, each case with its search text as `CaseWork.write` makes it. The
handler holds 2 of 50 roles. Timed: `engine.service.inbox.list_tasks` as the inbox calls it (view
"Alla", first page of 25, counts), without a search (the floor), for a search that matches a few
cases' data, one that matches none, and one by business key.

Paired: each round times the search as it was before (the condition of `engine.service.search`
before the search text, copied below verbatim: LIKE over each case's stored JSON, through the
casefolding function per row) and as it is now, alternately, on the same database and process,
so that the machine's noise falls on both alike. Figures in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import pct  # noqa: E402
from engine.authority import identity  # noqa: E402
from engine.authority.identity import SYSTEM  # noqa: E402
from engine.base.clock import ManualClock  # noqa: E402
from engine.base.search_text import search_text  # noqa: E402
from engine.base.settings import Settings  # noqa: E402
from engine.catalogue import processes  # noqa: E402
from engine.core import Engine  # noqa: E402
from engine.service import inbox, search  # noqa: E402
from engine.store.models import Case, HumanTask  # noqa: E402

ROLES = 50
HANDLER = "handlaggare"
PROCESS = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="sok" name="S\xc3\xb6k" isExecutable="true">
    <bpmn:startEvent id="s"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
    <bpmn:userTask id="a" name="Pr\xc3\xb6va ans\xc3\xb6kan"/><bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""
NAMES = ["Anna", "Örjan", "Åsa", "Björn", "Karin", "Lars", "Märta", "Per", "Sven", "Ulla"]
FILLER = ("Ansökan gäller tillbyggnad av ett fritidshus med ett uterum om cirka tjugo kvadratmeter "
          "mot söder, med fasad i trä och tak i betongpannor som det befintliga huset. ")


def _old_like(engine: Engine, column: Any, text: str) -> Any:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if engine.db.is_sqlite:
        return sa.func.rutin_fold(column).like(f"%{escaped.casefold()}%", escape="\\")
    return column.ilike(f"%{escaped}%", escape="\\")


def _old_task_matches(engine: Engine, text: str) -> Any:
    """engine.service.search.task_matches before the search text (commit d50460d and earlier)."""
    stored = sa.cast(Case.data, sa.Text)
    variants = {text, json.dumps(text)[1:-1]}
    return sa.or_(
        _old_like(engine, HumanTask.business_key, text),
        _old_like(engine, HumanTask.name, text),
        HumanTask.case_id.in_(sa.select(Case.id).where(sa.or_(*(_old_like(engine, stored, v) for v in variants)))),
    )


def seed(engine: Engine, total: int) -> None:
    """`total` open tasks, one case each, straight into the projections."""
    processes.deploy(engine, SYSTEM, PROCESS, "sok.bpmn")
    rng = random.Random(7)
    now = engine.clock.now()
    with engine.db.read() as s:
        version_id = s.execute(sa.text("SELECT id FROM process_versions WHERE key='sok'")).scalar_one()
    conn = sqlite3.connect(engine.db.url.split("///", 1)[-1])
    cur = conn.cursor()
    cases, tasks, cands = [], [], []
    for n in range(total):
        case_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
        created = (now - timedelta(minutes=n)).astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        due = (now + timedelta(days=rng.randint(-5, 20))).astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
        key = f"BN-2026-{n:05d}"
        data = {"sokande": f"{rng.choice(NAMES)} {rng.choice(NAMES)}son", "fastighet": f"Exempelby {n}:{n % 7}",
                "inkom": "2026-11-02", "beskrivning": FILLER * 3, "belopp": rng.randint(100, 99_999),
                "handlingar": [{"namn": f"ritning-{n}.pdf"}, {"namn": "situationsplan.pdf"}]}
        if n % 2500 == 0:
            data["sokande"] = "Zäta Ödmark"  # a few cases to find
        role = f"roll {rng.randrange(ROLES)}"
        cases.append((case_id, version_id, "sok", key, "active", 1, "{}", json.dumps(data), "bench", created, created,
                      1, 0, search_text(key, data)))
        tasks.append((task_id, case_id, "sok", version_id, key, "a", "a", "Pröva ansökan", "task", role, None,
                      "open", 50, created, due, json.dumps([f"role:{role}"])))
        cands.append((task_id, "role", role, created))
    cur.executemany("INSERT INTO cases (id, process_version_id, process_key, business_key, status, revision, "
                    "state_json, data, started_by, created_at, updated_at, event_count, deadline_extended, "
                    "search_text) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", cases)
    cur.executemany("INSERT INTO human_tasks (id, case_id, process_key, process_version_id, business_key, "
                    "spec_name, element_id, name, kind, role, assignee, status, priority, created_at, due_at, "
                    "candidates) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", tasks)
    cur.executemany("INSERT INTO task_candidates (task_id, kind, key, created_at) VALUES (?,?,?,?)", cands)
    conn.commit()
    cur.execute("ANALYZE")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clock = ManualClock(datetime(2026, 12, 7, 9, 0, tzinfo=UTC))
        engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": tmp}), clock)
        engine.migrate()
        identity.add_user(engine, HANDLER, ["Roll 3", "Roll 17"])
        actor = identity.get_actor(engine, HANDLER)
        seed(engine, args.tasks)
        new = search.task_matches
        queries: dict[str, str | None] = {"no search": None, "data (a few hits)": "zäta", "no hit": "finns-inte",
                                          "business key": "bn-2026-01"}
        times: dict[tuple[str, str], list[float]] = {}
        totals: dict[tuple[str, str], int] = {}
        for _ in range(args.rounds):
            for label, q in queries.items():
                for mode, fn in (("before", _old_task_matches), ("after", new)):
                    search.task_matches = fn  # type: ignore[assignment]
                    t = time.perf_counter()
                    found = inbox.list_tasks(engine, actor, search=q, limit=25)
                    times.setdefault((label, mode), []).append(time.perf_counter() - t)
                    totals[(label, mode)] = found["total"]
        search.task_matches = new  # type: ignore[assignment]
        engine.close()
    print(f"inbox search, {args.tasks} open tasks, handler with 2 of {ROLES} roles, {args.rounds} paired rounds (ms)")
    print(f"{'query':<20} {'mode':<7} {'p50':>8} {'p95':>8} {'hits':>5}")
    for (label, mode), values in times.items():
        print(f"{label:<20} {mode:<7} {pct(values, 50):8.1f} {pct(values, 95):8.1f} {totals[(label, mode)]:5d}")


if __name__ == "__main__":
    main()
