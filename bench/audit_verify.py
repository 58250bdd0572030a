"""Benchmark `audit`: `rutin audit verify` and the auditor's pages over many cases.

One real case of the review process (started, reviewed, handed over, decided: nine chained events,
two steps) is run through the engine; it is then cloned N-1 times straight into the tables, each
clone's history re-chained with the engine's own hash (`engine.records.chain`) under a new case
id, so every clone verifies exactly as a real case does. A checkpoint seals all heads, then:

- `verify_all` (what `rutin audit verify` runs, the run recorded) is timed `--reps` times;
- the case record (`engine.service.case_record.case_record`, the Ärendeakt page's work, with this
  case's chain checked against the checkpoint log) for one case, and the same page over HTTP
  (Flask's test client, signed in), `--reps` times each;
- one `/metrics` scrape.

    python -m bench.audit_verify --cases 10000 [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.authority import identity  # noqa: E402
from engine.authority.identity import SYSTEM  # noqa: E402
from engine.base.clock import ManualClock  # noqa: E402
from engine.base.settings import Settings  # noqa: E402
from engine.catalogue import processes  # noqa: E402
from engine.core import Engine  # noqa: E402
from engine.records import chain  # noqa: E402
from engine.service import audit, case_record, cases, tasks  # noqa: E402
from engine.store.models import Case, CaseEvent, HumanTask  # noqa: E402

REVIEW = ROOT / "tests" / "fixtures" / "review.bpmn"


def _template(engine: Engine) -> str:
    for name, roles in (("greta", ["granskare"]), ("hanna", ["Handläggare"]), ("hugo", ["handläggare"]),
                        ("admin", ["admin"])):
        identity.add_user(engine, name, roles, display_name=name.capitalize())
    processes.deploy(engine, SYSTEM, REVIEW.read_bytes())
    actor = identity.get_actor
    case = cases.start_case(engine, actor(engine, "hanna"), "granskning", {"belopp": 100})
    review = case["open_tasks"][0]["id"]
    tasks.claim(engine, actor(engine, "greta"), review)
    done = tasks.complete(engine, actor(engine, "greta"), review, {"kommentar": "ok"})
    decision = done["case"]["open_tasks"][0]["id"]
    tasks.claim(engine, actor(engine, "hanna"), decision)
    tasks.hand_over(engine, actor(engine, "hanna"), decision, "hugo")
    tasks.complete(engine, actor(engine, "hugo"), decision, None, "Ja")
    return str(case["id"])


def clone_case(engine: Engine, template: str, n: int, batch: int = 500) -> None:
    """n copies of the template case, tasks and re-chained history, in batches."""
    cases_t, tasks_t, events_t = (m.__table__ for m in (Case, HumanTask, CaseEvent))
    with engine.db.read() as s:
        case_row = dict(s.execute(sa.select(cases_t).where(cases_t.c.id == template)).mappings().one())
        task_rows = [dict(r) for r in s.execute(sa.select(tasks_t).where(tasks_t.c.case_id == template)).mappings()]
        event_rows = [dict(r) for r in s.execute(sa.select(events_t).where(events_t.c.case_id == template)
                                                 .order_by(events_t.c.seq)).mappings()]
    for e in event_rows:
        e.pop("id", None)
    done = 0
    while done < n:
        size = min(batch, n - done)
        c_out, t_out, e_out = [], [], []
        for _ in range(size):
            cid = str(uuid.uuid4())
            ids = {t["id"]: str(uuid.uuid4()) for t in task_rows}
            prev = None
            for e in event_rows:
                row = {**e, "case_id": cid, "task_id": ids.get(e["task_id"], e["task_id"]), "prev_hash": prev}
                row["hash"] = chain.case_event_hash(prev, row)
                prev = row["hash"]
                e_out.append(row)
            c_out.append({**case_row, "id": cid, "last_event_hash": prev})
            t_out.extend({**t, "id": ids[t["id"]], "case_id": cid} for t in task_rows)
        with engine.db.write() as s:
            s.execute(sa.insert(cases_t), c_out)
            s.execute(sa.insert(tasks_t), t_out)
            s.execute(sa.insert(events_t), e_out)
        done += size


def timed(fn: Any, reps: int) -> dict[str, Any]:
    runs = []
    result = None
    for _ in range(reps):
        t0 = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - t0)
    return {"median_s": round(statistics.median(runs), 4), "min_s": round(min(runs), 4),
            "max_s": round(max(runs), 4), "runs": len(runs), "result": result}


def main() -> None:
    """Seed, seal, and time verification and the case record."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"RUTIN_DATA_DIR": tmp}
        if args.database_url:
            env["RUTIN_DATABASE_URL"] = args.database_url
        engine = Engine(Settings.from_env(env), ManualClock())
        engine.migrate()
        t0 = time.perf_counter()
        template = _template(engine)
        clone_case(engine, template, args.cases - 1)
        seeded = time.perf_counter() - t0
        with engine.db.read() as s:
            events = s.execute(sa.select(sa.func.count()).select_from(CaseEvent)).scalar_one()
        t0 = time.perf_counter()
        sealed = audit.seal(engine, "bench")
        seal_s = time.perf_counter() - t0
        verify = timed(lambda: audit.verify_all(engine, trigger="cli", actor="bench"), args.reps)
        res = verify.pop("result")
        verify.update(clean=res["clean"], cases=res["cases"], findings=len(res["findings"]))
        admin = identity.get_actor(engine, "admin")
        record = timed(lambda: case_record.case_record(engine, admin, template), args.reps)
        record["clean"] = record.pop("result")["verification"]["clean"]

        from webapp import create_app

        app = create_app(engine)
        client = app.test_client()
        identity.set_password(engine, "admin", "hemligt-lösen-1")
        sys.path.insert(0, str(ROOT / "tests"))
        from signin_helpers import login_csrf

        assert client.post("/login", data={"csrf": login_csrf(client), "name": "admin",
                                           "password": "hemligt-lösen-1"}).status_code == 302
        page = timed(lambda: client.get(f"/cases/{template}/akt").status_code, args.reps)
        scrape = timed(lambda: client.get("/metrics").status_code, args.reps)
        out = {"database": "sqlite" if engine.db.is_sqlite else "postgresql", "cases": args.cases,
               "events": events, "seed_s": round(seeded, 1), "seal_s": round(seal_s, 3),
               "sealed_heads": (sealed or {}).get("sealed"),
               "checkpoint_log_bytes": (Path(tmp) / "audit" / audit.LOG_FILE).stat().st_size,
               "verify_all": verify, "case_record": record, "case_record_page_http": page,
               "metrics_scrape": scrape}
        engine.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
