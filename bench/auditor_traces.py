"""Benchmark `traces`: the four ISO 9001 auditor traces, each on its one page, at many cases.

The demo organisation with the traces of `tests/auditor_trail.py` (a case decided late, the
version it ran on, a nonconformity reported from it and worked through corrective action and
effectiveness check, a measure out of target and the deviation it opened, worked the same way);
while March is open the late case is cloned N-2 times straight into the tables (re-chained, as
`bench/audit_verify.py` does), so the measure is computed over N cases of its process and every
page reads a database of N cases. A checkpoint seals every head. Then each page is fetched
`--reps` times through the Flask app (test client) signed in as the demo's auditor (revisor):

- case end to end: the late case's ärendeakt (`/cases/{id}/akt`);
- a version's approval: the version page (`/processes/matt/versions/1`, and the deviation
  process's);
- a measure and its follow-up: Mätetal for the process and month (`/matetal?process=matt&...`),
  and the ärendeakt of the deviation it opened;
- a nonconformity to its corrective action and effectiveness check: its ärendeakt.

    python -m bench.auditor_traces --cases 10000 [--reps 20] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "tests"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from bench.audit_verify import clone_case  # noqa: E402
from engine.authority import identity  # noqa: E402
from engine.base.clock import ManualClock  # noqa: E402
from engine.base.settings import Settings  # noqa: E402
from engine.core import Engine  # noqa: E402
from engine.store.models import Case  # noqa: E402

PASSWORD = "hemligt-lösen-1"  # a throwaway database's


def _pages(client: Any, url: str, reps: int) -> dict[str, Any]:
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        answer = client.get(url)
        runs.append(time.perf_counter() - t0)
        assert answer.status_code == 200, (url, answer.status_code)
    return {"url": url.split("?")[0], "median_s": round(statistics.median(runs), 4),
            "worst_s": round(max(runs), 4), "first_s": round(runs[0], 4), "runs": reps}


def main() -> None:
    """Seed the traces over N cases, seal, and time each trace's page."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--database-url", default="")
    args = ap.parse_args()
    import auditor_trail
    from signin_helpers import login_csrf

    from webapp import create_app

    with tempfile.TemporaryDirectory() as tmp:
        env = {"RUTIN_DATA_DIR": tmp, "RUTIN_TOKEN_DAYS": "3650", "RUTIN_TOKEN_MAX_DAYS": "3650"}
        if args.database_url:
            env["RUTIN_DATABASE_URL"] = args.database_url
        clock = ManualClock()
        engine = Engine(Settings.from_env(env), clock)
        engine.migrate()
        t0 = time.perf_counter()
        ids = auditor_trail.build(engine, clock, grow=lambda case_id: clone_case(engine, case_id, args.cases - 2))
        seeded = time.perf_counter() - t0
        with engine.db.read() as s:
            total = s.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one()
        client = create_app(engine).test_client()
        identity.set_password(engine, "revisor", PASSWORD)
        assert client.post("/login", data={"csrf": login_csrf(client), "name": "revisor",
                                           "password": PASSWORD}).status_code == 302
        since, until = ids["period"]
        pages = {
            "case_end_to_end": _pages(client, f"/cases/{ids['late_case']}/akt", args.reps),
            "version_approval": _pages(client, "/processes/matt/versions/1", args.reps),
            "version_approval_deviation_process": _pages(client, "/processes/avvikelsehantering/versions/1",
                                                         args.reps),
            "measure_matetal": _pages(client, f"/matetal?process=matt&fran={since}&till={until}", args.reps),
            "measure_deviation_record": _pages(client, f"/cases/{ids['measure_deviation']}/akt", args.reps),
            "nonconformity_record": _pages(client, f"/cases/{ids['nonconformity']}/akt", args.reps),
        }
        out = {"database": "sqlite" if engine.db.is_sqlite else "postgresql", "cases": total,
               "seed_s": round(seeded, 1), "pages": pages}
        engine.close()
    print(json.dumps(out, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
