"""Instructions per case, counted by valgrind: the benchmark's ratios without the machine's noise.

``python -m bench.instructions [--cases N]`` runs, under ``valgrind --tool=callgrind``, the
workloads of ``bench/run.py`` that fit in one process: (b) SpiffWorkflow alone with a
serialize/deserialize round trip per step, the engine functions, and the Flask app as a WSGI
callable. Each runs twice, with 0 and with N measured cases after the same set-up and warm-up; the
difference divided by N is what one case costs, set-up excluded. valgrind counts instructions,
not seconds: the same code gives the same count whatever else the shared machine is doing, where
wall-clock figures move by a quarter between runs. An instruction is not a unit of time (a cache
miss costs more than an add), so these ratios are a cross-check on the timed ones, not the target.

Why this is our own script: callgrind has no Python API to start and stop counting around a
piece of code, and counting a whole process includes start-up, hence the two runs per workload.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ("spiff", "engine", "wsgi")

# Run inside valgrind: one workload, `cases` measured cases after the warm-up.
_CHILD = """
import sys, tempfile
from pathlib import Path
sys.path.insert(0, {root!r})
from bench import common, inproc, spiff
mode, n = {mode!r}, {cases}
if mode == "spiff":
    spiff.spiff_alone(n, roundtrip=True, warm=20)
else:
    engine, actor, _designer, token = inproc.make_engine(Path(tempfile.mkdtemp()))
    if mode == "engine":
        calls = inproc.engine_calls(engine, actor)
    else:
        from webapp import create_app
        calls = inproc.wsgi_calls(inproc.WsgiClient(create_app(engine), token))
    common.run_cases(*calls, 20)
    common.run_cases(*calls, n)
    engine.close()
"""


def count(mode: str, cases: int, out_dir: Path) -> int:
    """Instructions valgrind counted for one run of a workload."""
    script = _CHILD.format(root=str(ROOT), mode=mode, cases=cases)
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir / f'{mode}-{cases}.out'}",
         sys.executable, "-c", script],
        cwd=ROOT, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"valgrind printed no count for {mode}: {done.stderr[-500:]}")
    return int(found.group(1))


def main() -> None:
    """Count each workload with 0 and N cases and print instructions per case and the ratios."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=50, help="measured cases per workload (default 50)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    out_dir = Path(tempfile.mkdtemp(prefix="rutin-callgrind-"))
    jobs = [(mode, n) for mode in WORKLOADS for n in (0, args.cases)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        counted = dict(zip(jobs, pool.map(lambda job: count(job[0], job[1], out_dir), jobs)))
    per_case = {mode: (counted[(mode, args.cases)] - counted[(mode, 0)]) / args.cases for mode in WORKLOADS}
    base = per_case["spiff"]
    labels = {"spiff": "(b) SpiffWorkflow alone, serialize + deserialize per step",
              "engine": "Rutin engine functions, in process (no HTTP)",
              "wsgi": "Rutin Flask app as WSGI callable (no socket)"}
    print(f"Instructions per case (valgrind callgrind, {args.cases} cases after 20 warm-up cases)\n")
    print("| workload | million instructions per case | ratio to (b) |")
    print("| --- | ---: | ---: |")
    for mode in WORKLOADS:
        print(f"| {labels[mode]} | {per_case[mode] / 1e6:.1f} | {base / per_case[mode]:.2f} |")
    shutil.rmtree(out_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
