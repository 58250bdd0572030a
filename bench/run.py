"""Rutin's benchmarks: `python bench/run.py` (add --quick for a short smoke run).

What is measured, on the embedded default (SQLite in a temporary directory, WAL):

spiff    the seq3 workload (three sequential user tasks) on SpiffWorkflow alone: (a) in memory,
         (b) with serialize_json/deserialize_json after every step, the ceiling any service built
         on SpiffWorkflow works under;
engine   the same workload through the engine functions (engine.service.cases.start_case,
         engine.service.tasks.complete) on SQLite, in this process, without HTTP;
wsgi     the same through the Flask app called as a WSGI callable (no socket, no server);
http     the same through the HTTP API of a real `rutin serve` process on 127.0.0.1, with 1 and
         4 concurrent client processes (requests.Session keep-alive, and a thin http.client
         client for comparison); cases/s, task completions/s, p50/p95 per call type;
tasks    GET /api/tasks (first page of 50 with counts) for a handler holding 2 of 50 roles, with
         10,000 and 100,000 open tasks seeded straight into the projection tables;
timers   one scheduler tick with 1,000 due timers among 1,000,000 pending;
profile  cProfile over the in-process engine path and the WSGI path: where the time goes.

Figures are printed as a table and written to bench/results/ (not committed); bench/README.md
keeps the method and the latest figures. Nothing here asserts on a figure.
"""


from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# (after the path: run as a script, `python bench/run.py`, this file's folder is first on it)
from bench.common import PARTS, TARGET_RATIO, cpu_ticks, machine, others_cpu, spread  # noqa: E402
from bench.http_api import Service, http_cases, http_ceiling  # noqa: E402
from bench.inproc import WsgiClient, engine_calls, in_process, make_engine, wsgi_calls  # noqa: E402
from bench.report import contention_table, profile_table, table, web_processes  # noqa: E402
from bench.spiff import repeated, spiff_alone  # noqa: E402
from bench.stages import breakdown, cprofile_text, lock_waits  # noqa: E402
from bench.task_list import task_list_latency  # noqa: E402
from bench.timer_tick import timer_tick  # noqa: E402


def main() -> None:
    """Run the benchmarks, print the figures as a table and store them as JSON."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a short smoke run (fewer cases, one repetition)")
    ap.add_argument("--only", default="", help=f"comma-separated parts to run, of: {', '.join(PARTS)}")
    ap.add_argument("--reps", type=int, default=None, help="repetitions of each throughput run (default 3, quick 1)")
    ap.add_argument("--cases", type=int, default=None, help="cases per HTTP client configuration (default 300)")
    ap.add_argument("--client", choices=["requests", "raw", "both"], default=None,
                    help="HTTP client: requests.Session, http.client (raw), or both (default both, quick requests)")
    args = ap.parse_args()
    q = args.quick
    parts = [p.strip() for p in args.only.split(",") if p.strip()] or list(PARTS)
    unknown = set(parts) - set(PARTS)
    if unknown:
        ap.error(f"unknown parts: {', '.join(sorted(unknown))}")
    reps = args.reps or (1 if q else 3)
    cases = args.cases or (40 if q else 300)
    libs = {"both": ["requests", "raw"], None: ["requests"] if q else ["requests", "raw"]}.get(args.client) \
        or [args.client]
    tmp = Path(tempfile.mkdtemp(prefix="rutin-bench-"))
    results: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "quick": q, "reps": reps,
                               "machine": machine(), "parts": parts}
    profile_text = ""
    ticks0 = cpu_ticks()
    t_all = time.perf_counter()
    try:
        if "spiff" in parts:
            n = 100 if q else 600
            mem, rt = [], []
            for _ in range(reps):  # interleaved, so drift in the machine's load hits both alike
                mem.append(spiff_alone(n, roundtrip=False))
                rt.append(spiff_alone(n, roundtrip=True))
            results["spiff"] = {"cases": n, "memory_cases_per_s": spread(mem), "roundtrip_cases_per_s": spread(rt)}
            print(f"spiff: in memory {statistics.median(mem):.0f}/s, round trip {statistics.median(rt):.0f}/s",
                  flush=True)
        if {"engine", "wsgi", "profile", "contention"} & set(parts):
            engine, actor, _designer, handler_token = make_engine(tmp / "inproc")
            from webapp import create_app

            app = create_app(engine)
            n = 40 if q else 300
            if "engine" in parts:
                results["engine"] = repeated("engine", reps, in_process, *engine_calls(engine, actor), n, 20)
            if "wsgi" in parts:
                client = WsgiClient(app, handler_token)
                results["wsgi"] = repeated("wsgi", reps, in_process, *wsgi_calls(client), n, 20)
            if "profile" in parts:
                pn = 30 if q else 300
                results["profile"] = [
                    breakdown("engine functions (start_case + 3 x complete)", engine,
                              lambda: engine_calls(engine, actor), pn),
                    breakdown("Flask app as WSGI callable (POST start + 3 x POST complete)", engine,
                              lambda: wsgi_calls(WsgiClient(app, handler_token)), pn),
                ]
                profile_text = cprofile_text(*engine_calls(engine, actor), 20 if q else 100)
            if "contention" in parts:
                results["contention"] = [lock_waits(app, engine, handler_token, t, 40 if q else 200) for t in (1, 4)]
            engine.close()
        if {"http", "tasks"} & set(parts):
            service = Service(tmp)
            try:
                if "http" in parts:
                    runs_out = [repeated(f"http {clients} client(s) {lib}", reps, http_cases, service, clients,
                                         max(1, cases // clients), lib) for clients in (1, 4) for lib in libs]
                    results["http"] = runs_out
                    lib = libs[-1]
                    # Beside the default: one web process (or two, where the default is one).
                    other = 1 if service.workers > 1 else 2
                    multi = Service(tmp, workers=other)
                    try:
                        runs_out.append(repeated(f"http 4 clients {lib}, {other} web process(es)", reps, http_cases,
                                                 multi, 4, max(1, cases // 4), lib))
                    finally:
                        multi.stop()
                    apart = [Service(tmp / f"apart-{i}") for i in range(2)]
                    try:
                        results["http_ceiling"] = repeated(f"http 4 clients {lib}, 2 separate services", reps,
                                                           http_ceiling, apart, max(1, cases // 4), lib)
                    finally:
                        for one in apart:
                            one.stop()
                if "tasks" in parts:
                    results["task_list"] = task_list_latency(service, [2000, 10000] if q else [10000, 100000],
                                                             50 if q else 200, libs[0])
            finally:
                service.stop()
        if "timers" in parts:
            results["timers"] = timer_tick(tmp, 100_000 if q else 1_000_000, 100 if q else 1000)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results["total_s"] = round(time.perf_counter() - t_all, 1)
    results["load_avg_at_end"] = os.getloadavg()
    results["noise"] = others_cpu(ticks0, results["total_s"])
    m = results["machine"]
    print(f"\nRutin benchmark {results['date']} ({'quick' if q else 'full'}, {reps} run(s) each); "
          f"{m['cpus']} CPUs ({m['cpu_model']}), load {m['load_avg_at_start'][0]:.2f} at start, "
          f"Python {m['python']}, SpiffWorkflow {m['spiffworkflow']}, SQLite {m['sqlite']}")
    noise = results["noise"]
    print(f"Other processes used {noise['others_cpu_s']} CPU-s during the run "
          f"({noise['others_share_of_machine'] * 100:.0f} % of the machine; stolen {noise['stolen_cpu_s']} s)"
          + ("  <- a busy machine: figures are low, run again when it is idle"
             if noise["others_share_of_machine"] > 0.1 else "") + "\n")
    print(table(results))
    if "spiff" in results and (results.get("http") or results.get("engine")):
        target = results["spiff"]["roundtrip_cases_per_s"]["median"] * TARGET_RATIO
        best = max([h["cases_per_s"] for h in results.get("http", [])] or [0.0])
        best_ratio = max([h.get("paired_ratio", 0.0) for h in results.get("http", [])] or [0.0])
        if results.get("http"):
            verdict = "met" if best_ratio >= TARGET_RATIO else "NOT met"
            print(f"\nTarget (HTTP ≥ half of (b), measured beside each run; issue: ≥ 130 cases/s): {verdict}; "
                  f"best HTTP run {best:.1f} cases/s, best ratio to (b) beside it {best_ratio:.2f} "
                  f"(half of (b) at the start: {target:.0f} cases/s).")
        for h in [*results.get("http", []), *([results["http_ceiling"]] if results.get("http_ceiling") else [])]:
            where = (f", {web_processes(h['workers'])}" if h.get("workers") else
                     f", {h['services']} separate services" if h.get("services") else "")
            print(f"  {h['clients']} client(s), {h['client']}{where}: server CPU {h['server_cpu_ms_per_case']:.1f} "
                  f"ms/case, client CPU {h['client_cpu_ms_per_case']:.1f} ms/case")
    for summary in results.get("profile", []):
        print("\n" + profile_table(summary))
    if results.get("contention"):
        print("\n" + contention_table(results["contention"]))
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out_dir / f"bench-{stamp}{'-quick' if q else ''}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str))
    if profile_text:
        (out_dir / f"profile-{stamp}.txt").write_text(profile_text)
    print(f"\nresults: {path.relative_to(ROOT)}  (total {results['total_s']} s)")


if __name__ == "__main__":
    main()
