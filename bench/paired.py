"""Two source trees' throughput, alternated: `python -m bench.paired --other DIR [--rounds N]`.

The 3-step benchmark of `bench/run.py` (seq3 over HTTP, `rutin serve` with its defaults, SQLite,
http.client clients) run on this tree and on another checkout of Rutin (`--other`, e.g. the
commit before a change, from `git archive`), one after the other, `--rounds` times; which of the
two goes first alternates between rounds. Each run is paired with SpiffWorkflow's round trip (b)
measured just before and after it (`bench.run.paired`), so both its cases/s and its ratio to
(b) are printed; the medians over the rounds and the median of the per-round ratios new/old are
the figures to read. The machine's load (other tenants) is printed with each run. Nothing here
asserts on a figure.
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

from bench.run import Service, cpu_ticks, http_cases, machine, paired  # noqa: E402


def _own_cpu() -> float:
    return sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))


def one_run(root: Path, tmp: Path, clients: int, cases: int) -> dict[str, Any]:
    """One paired run of `clients` clients against `rutin serve` from `root`, with the share of
    the machine that other processes used meanwhile (this one's and its children's CPU apart)."""
    ticks, own, t0 = cpu_ticks(), _own_cpu(), time.perf_counter()
    service = Service(tmp, root=root)
    try:
        figures = paired(http_cases, service, clients, max(1, cases // clients), "raw")
    finally:
        service.stop()
    wall = time.perf_counter() - t0
    busy, _idle, steal = (b - a for a, b in zip(ticks, cpu_ticks(), strict=True))
    others = max(0.0, busy - (_own_cpu() - own))
    figures["others_share"] = others / (wall * (os.cpu_count() or 1))
    figures["stolen_s"] = steal
    figures["load"] = os.getloadavg()[0]
    return figures


def main() -> None:
    """Alternate the two trees and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--other", type=Path, required=True, help="the other source tree (the old code)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--cases", type=int, default=300)
    args = ap.parse_args()
    trees = {"new": ROOT, "old": args.other.resolve()}
    runs: dict[str, list[dict[str, Any]]] = {"new": [], "old": []}
    for r in range(args.rounds):
        order = ("old", "new") if r % 2 == 0 else ("new", "old")
        for name in order:
            tmp = Path(tempfile.mkdtemp(prefix=f"rutin-paired-{name}-"))
            f = one_run(trees[name], tmp, args.clients, args.cases)
            runs[name].append(f)
            print(f"round {r + 1} {name}: {f['cases_per_s']:.1f} cases/s, ratio to (b) {f['paired_ratio']:.3f} "
                  f"((b) {f['baseline_cases_per_s']:.0f}), start p95 {f['start_p95_ms']:.1f} ms, complete p95 "
                  f"{f['complete_p95_ms']:.1f} ms, server CPU {f['server_cpu_ms_per_case']:.1f} ms/case; "
                  f"others {f['others_share'] * 100:.0f} % of the machine, stolen {f['stolen_s']:.1f} s, "
                  f"load {f['load']:.1f}", flush=True)
    summary: dict[str, Any] = {}
    for name in ("old", "new"):
        summary[name] = {k: statistics.median(f[k] for f in runs[name])
                         for k in ("cases_per_s", "paired_ratio", "server_cpu_ms_per_case", "complete_p95_ms",
                                   "others_share")}
    per_round = [n["paired_ratio"] / o["paired_ratio"] for n, o in zip(runs["new"], runs["old"], strict=True)]
    summary["new_over_old_paired_ratio_per_round"] = [round(x, 3) for x in per_round]
    summary["new_over_old_median"] = statistics.median(per_round)
    print(json.dumps({"machine": machine(), "clients": args.clients, "summary": summary}, indent=1, default=str))


if __name__ == "__main__":
    main()
