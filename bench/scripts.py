"""Cost of one evaluation: `python bench/scripts.py [--root DIR] [--calls N] [--rounds N]`.

`bpmn.sandbox.evaluate` and `execute` as the engine calls them, on a small case's data: a plain
gateway condition (names, constants, comparisons: evaluated in the web process), an expression
with arithmetic and a call (sent to an evaluator process), and a three-line script. Microseconds
per call, the median of `--rounds` rounds of `--calls` calls each, after a warm-up. `--root`
measures another checkout (e.g. the code before a change) with the same workload; run both
alternately on a shared machine. Nothing here asserts on a figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

CASE = {"belopp": 12_500, "namn": "Anna", "godkand": True, "rader": [100, 250, 75], "kategori": "bygglov"}
WORKLOAD = {
    "condition (in process)": ("eval", "belopp > 10000 and kategori == 'bygglov' and not godkand"),
    "expression (evaluator)": ("eval", "sum(rader) * 2 > belopp"),
    "script (evaluator)": ("exec", "avgift = belopp * 2\nsumma = sum(r * 2 for r in rader)\nhalsning = namn.upper()"),
}


def main() -> None:
    """Measure and print µs per call for each kind."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, str(args.root.resolve()))
    from bpmn import sandbox

    out: dict[str, Any] = {"root": str(args.root)}
    for label, (mode, source) in WORKLOAD.items():
        def call(mode: str = mode, source: str = source) -> None:
            if mode == "eval":
                sandbox.evaluate(source, dict(CASE))
            else:
                sandbox.execute(source, dict(CASE))

        for _ in range(200):
            call()
        times = []
        for _ in range(args.rounds * args.calls):
            t0 = time.perf_counter()
            call()
            times.append((time.perf_counter() - t0) * 1e6)
        times.sort()
        figures = {"median": times[len(times) // 2], "p90": times[int(len(times) * 0.9)],
                   "mean": statistics.fmean(times)}
        out[label] = {f"us_{k}": round(v, 1) for k, v in figures.items()}
        print(f"{label}: median {figures['median']:.1f} µs, p90 {figures['p90']:.1f} µs, mean "
              f"{figures['mean']:.1f} µs per call", flush=True)
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
