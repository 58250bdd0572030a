"""Two source trees' throughput, interleaved: `python -m bench.paired --other DIR [--bursts N]`.

The 3-step benchmark of `bench/run.py` (`bench/http_api.py`) (seq3 over HTTP, 4 http.client clients, `rutin serve`
with its defaults, SQLite) against this tree and another checkout of Rutin (`--other`, e.g. the
commit before a change, from `git archive`). Both services run side by side, each on its own
database, and are driven in turn, in short bursts (`--cases` cases each), the order within each
pair of bursts alternating: on a machine whose speed drifts by a third within minutes, two
bursts a few seconds apart see the same machine, and the ratio new/old of each pair is the
figure to read (its median over the pairs, and its spread). SpiffWorkflow's round trip (b) is
measured between the pairs as the machine's speed indicator; the share of the machine other
processes used during each burst is printed too. Nothing here asserts on a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_ticks, machine  # noqa: E402
from bench.http_api import Service, http_cases  # noqa: E402
from bench.spiff import spiff_alone  # noqa: E402


def _own_cpu() -> float:
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


def burst(service: Service, clients: int, cases: int) -> dict[str, Any]:
    """One burst of cases, with the share of the machine other processes used meanwhile (this
    process, its clients and the services' own CPU apart)."""
    db = service.db_cpu()
    ticks, own, server, t0 = cpu_ticks(), _own_cpu(), service.cpu(), time.perf_counter()
    figures = http_cases(service, clients, max(1, cases // clients), "raw")
    wall = time.perf_counter() - t0
    figures["db_cpu_ms_per_case"] = (service.db_cpu() - db) * 1000 / figures["cases"]
    busy, _idle, steal = (b - a for a, b in zip(ticks, cpu_ticks(), strict=True))
    others = max(0.0, busy - (_own_cpu() - own) - (service.cpu() - server))
    figures["others_share"] = others / (wall * (os.cpu_count() or 1))
    figures["stolen_s"] = steal
    return figures


def main() -> None:
    """Interleave the two trees and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--other", type=Path, required=True, help="the other source tree (the old code)")
    ap.add_argument("--this", type=Path, default=ROOT,
                    help="the tree measured as new (default this one; the old tree again for an A/A run)")
    ap.add_argument("--bursts", type=int, default=10, help="pairs of bursts")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--cases", type=int, default=200, help="cases per burst")
    ap.add_argument("--threads", type=int, default=None, help="rutin serve --threads for this tree (default: its own)")
    ap.add_argument("--database-url", default=None,
                    help="PostgreSQL instead of SQLite: each tree gets a database of its own, this URL's name "
                         "with _old and _new appended (they must exist; their schema is dropped)")
    ap.add_argument("--other-on-sqlite", action="store_true",
                    help="with --database-url: the other tree on SQLite (PostgreSQL against SQLite, paired)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rutin-paired-"))
    url = args.database_url
    old_url = None if args.other_on_sqlite else url and f"{url}_old"
    services = {"old": Service(tmp / "old", root=args.other.resolve(), database_url=old_url),
                "new": Service(tmp / "new", threads=args.threads, root=args.this.resolve(),
                               database_url=url and f"{url}_new")}
    pairs: list[dict[str, Any]] = []
    try:
        for name in ("old", "new"):  # warm both: first requests, caches, the evaluator's start
            http_cases(services[name], args.clients, 10, "raw")
        for i in range(args.bursts):
            order = ("old", "new") if i % 2 == 0 else ("new", "old")
            spiff = spiff_alone(100, roundtrip=True, warm=5)
            pair = {name: burst(services[name], args.clients, args.cases) for name in order}
            pair["ratio"] = pair["new"]["cases_per_s"] / pair["old"]["cases_per_s"]
            pair["spiff_b"] = spiff
            pairs.append(pair)
            print(f"pair {i + 1} ({order[0]} first): old {pair['old']['cases_per_s']:.1f}, new "
                  f"{pair['new']['cases_per_s']:.1f} cases/s, new/old {pair['ratio']:.3f}; server CPU old "
                  f"{pair['old']['server_cpu_ms_per_case']:.1f}, new {pair['new']['server_cpu_ms_per_case']:.1f} "
                  f"ms/case; complete p95 old {pair['old']['complete_p95_ms']:.1f}, new "
                  f"{pair['new']['complete_p95_ms']:.1f} ms; database CPU old "
                  f"{pair['old']['db_cpu_ms_per_case']:.1f}, new {pair['new']['db_cpu_ms_per_case']:.1f} ms/case; "
                  f"(b) {spiff:.0f}/s; others "
                  f"{pair['old']['others_share'] * 100:.0f}/{pair['new']['others_share'] * 100:.0f} % of the machine, "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        for service in services.values():
            service.stop()
    ratios = [p["ratio"] for p in pairs]
    summary = {
        "new_over_old_median": statistics.median(ratios),
        "new_over_old_quartiles": statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios,
        "new_over_old_range": [min(ratios), max(ratios)],
        "old_cases_per_s_median": statistics.median(p["old"]["cases_per_s"] for p in pairs),
        "new_cases_per_s_median": statistics.median(p["new"]["cases_per_s"] for p in pairs),
        "old_server_cpu_ms_per_case_median": statistics.median(p["old"]["server_cpu_ms_per_case"] for p in pairs),
        "new_server_cpu_ms_per_case_median": statistics.median(p["new"]["server_cpu_ms_per_case"] for p in pairs),
        "old_db_cpu_ms_per_case_median": statistics.median(p["old"]["db_cpu_ms_per_case"] for p in pairs),
        "new_db_cpu_ms_per_case_median": statistics.median(p["new"]["db_cpu_ms_per_case"] for p in pairs),
        "spiff_b_range": [min(p["spiff_b"] for p in pairs), max(p["spiff_b"] for p in pairs)],
        "others_share_median": statistics.median(p[n]["others_share"] for p in pairs for n in ("old", "new")),
    }
    print(json.dumps({"machine": machine(), "threads": args.threads, "cases_per_burst": args.cases,
                      "database": "postgresql" if url else "sqlite", "other_on_sqlite": args.other_on_sqlite,
                      "summary": summary}, indent=1, default=str))


if __name__ == "__main__":
    main()
