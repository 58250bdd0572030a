"""Read latency while hostile scripts run: `python -m bench.hostile [--rounds N] [--reads N]`.

A real `rutin serve` (the default: one web process per core, SQLite) gets two processes: `seq3`
(bench/run.py) and `bomb`, whose first step is a script that never ends by itself, inside one C
call the sandbox's tracer cannot interrupt (``sum(map(sum, [list(range(10**5))] * 10**5))``:
10**10 additions in C, 800 KB of memory), or one that allocates without bound inside one C call
(``str`` of the same list). A reader (one keep-alive `http.client` connection, a handler's token)
alternates ``GET /api/cases/{id}`` of a seq3 case and ``GET /api/tasks?limit=50``.

Each round measures the reader twice, `--seconds` of back-to-back reads each: once with nothing else running
("quiet"), once while two client processes start `bomb` cases back to back ("hostile"; each
start answers when the case is in incident, after the evaluator process running the script was
stopped); the order of the two phases alternates between rounds, so drift in the machine's speed
hits both alike. Printed per phase: p50/p95/max of the reads (median over rounds, and each
round), the hostile starts done and their p50 duration, and the resident memory of the web
processes before and after. Nothing here asserts on a figure; bench/README.md keeps the method
and the latest figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, pct  # noqa: E402
from bench.http_api import Service, _children, http_client  # noqa: E402

SHARED = "[list(range(10 ** 5))] * 10 ** 5"
BOMBS = {
    "cpu": f"x = sum(map(sum, {SHARED}))",
    "memory": f"x = str({SHARED})",
}


def bomb_bpmn(key: str, script: str) -> bytes:
    """A process whose first step is `script`, then a user task for the handlers' lane."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="{key}-defs"
  targetNamespace="https://rutin.example/bench">
  <bpmn:process id="{key}" name="Fientligt skript" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="lane_h" name="Handläggare">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>x</bpmn:flowNodeRef><bpmn:flowNodeRef>a</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="x"/>
    <bpmn:scriptTask id="x" name="Beräkna" scriptFormat="python"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="x" targetRef="a"/>
    <bpmn:userTask id="a" name="Efter"/>
    <bpmn:sequenceFlow id="f3" sourceRef="a" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()


def deploy(service: Service, key: str, xml: bytes) -> None:
    """Upload a process as the designer and approve it as the process owner."""
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=60)
    conn.request("POST", "/api/processes", body=xml,
                 headers={"Authorization": f"Bearer {service.designer}", "Content-Type": "application/xml"})
    r = conn.getresponse()
    body = r.read()
    if r.status not in (200, 201):
        raise RuntimeError(f"deploy {key}: {r.status} {body[:300]!r}")
    conn.request("POST", f"/api/processes/{key}/versions/1/approve", body=b"{}",
                 headers={"Authorization": f"Bearer {service.owner}", "Content-Type": "application/json"})
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"approve {key}: {r.status} {body[:300]!r}")
    conn.close()


def _hostile_client(base: str, token: str, key: str, stop: Any, results: Any) -> None:
    """Start `key` cases back to back until told to stop; report each start's duration and outcome."""
    try:
        call, close = http_client(base, token, "raw")
        times, statuses = [], []
        while not stop.is_set():
            t = time.perf_counter()
            case = call("POST", f"/api/processes/{key}/cases", {"data": {}})
            times.append(time.perf_counter() - t)
            statuses.append(case["status"])
        close()
        results.put({"times": times, "statuses": statuses})
    except BaseException as exc:  # reported to the parent, which fails the run
        results.put({"error": f"{type(exc).__name__}: {exc}"})


def _rss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def web_pids(service: Service) -> list[int]:
    """The web processes of `rutin serve` (granian's workers; not evaluator or helper processes)."""
    return [p for p in _children(service.proc.pid)
            if not any(w in _cmdline(p) for w in ("bpmn.evaluator", "resource_tracker", "semaphore_tracker"))]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def reads(call: Any, case_id: str, n: int = 0, seconds: float = 0.0) -> tuple[list[float], list[float]]:
    """At least `n` reads and for at least `seconds`, alternating one case and the inbox; the
    durations of each."""
    case_times: list[float] = []
    inbox_times: list[float] = []
    end = time.perf_counter() + seconds
    i = 0
    while i < n or time.perf_counter() < end:
        path = f"/api/cases/{case_id}" if i % 2 == 0 else "/api/tasks?limit=50"
        t = time.perf_counter()
        call("GET", path, None)
        (case_times if i % 2 == 0 else inbox_times).append(time.perf_counter() - t)
        i += 1
    return case_times, inbox_times


def phase(service: Service, call: Any, case_id: str, seconds: float, hostile: bool) -> dict[str, Any]:
    """The reader's reads for `seconds`, alone or beside two hostile clients (one per kind of bomb)."""
    ctx = mp.get_context("spawn")
    stop, results = ctx.Event(), ctx.Queue()
    procs = []
    if hostile:
        procs = [ctx.Process(target=_hostile_client, args=(service.base, service.handler, key, stop, results))
                 for key in ("bomb_cpu", "bomb_memory")]
        for p in procs:
            p.start()
        time.sleep(1.5)  # both clients are in their first hostile start
    rss0 = _rss_kb(web_pids(service))
    case_times, inbox_times = reads(call, case_id, seconds=seconds)
    times = case_times + inbox_times
    rss1 = _rss_kb(web_pids(service))
    stop.set()
    outs = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [o["error"] for o in outs if "error" in o]
    if errors:
        raise RuntimeError(f"hostile client failed: {errors[0]}")
    starts = [t for o in outs for t in o["times"]]
    statuses = [s for o in outs for s in o["statuses"]]
    return {"hostile": hostile, "reads": len(times), "p50_ms": pct(times, 50), "p95_ms": pct(times, 95),
            "max_ms": max(times) * 1000, "case_p50_ms": pct(case_times, 50), "case_p95_ms": pct(case_times, 95),
            "inbox_p50_ms": pct(inbox_times, 50), "inbox_p95_ms": pct(inbox_times, 95), "hostile_starts": len(starts),
            "hostile_start_p50_ms": pct(starts, 50) if starts else None,
            "hostile_in_incident": statuses.count("incident"), "web_rss_kb_before": rss0, "web_rss_kb_after": rss1}


def main() -> None:
    """Run the rounds and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    ap.add_argument("--threads", type=int, default=None, help="rutin serve --threads (default: its own)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rutin-bench-hostile-"))
    service = Service(tmp, threads=args.threads)
    try:
        for kind, script in BOMBS.items():
            deploy(service, f"bomb_{kind}", bomb_bpmn(f"bomb_{kind}", script))
        call, close = http_client(service.base, service.handler, "raw")
        case_id = call("POST", "/api/processes/seq3/cases", {"data": {}})["id"]
        reads(call, case_id, n=20)  # warm up
        rounds = []
        for r in range(args.rounds):
            order = (False, True) if r % 2 == 0 else (True, False)
            for hostile in order:
                rounds.append(phase(service, call, case_id, args.seconds, hostile))
                f = rounds[-1]
                print(f"round {r + 1} {'hostile' if hostile else 'quiet  '}: {f['reads']} reads, "
                      f"p50 {f['p50_ms']:.1f} ms, p95 {f['p95_ms']:.1f} ms, max {f['max_ms']:.0f} ms "
                      f"(case p50/p95 {f['case_p50_ms']:.1f}/{f['case_p95_ms']:.1f}, inbox "
                      f"{f['inbox_p50_ms']:.1f}/{f['inbox_p95_ms']:.1f}); "
                      f"hostile starts {f['hostile_starts']} "
                      f"(in incident {f['hostile_in_incident']}, p50 {f['hostile_start_p50_ms'] or 0:.0f} ms); "
                      f"web RSS {f['web_rss_kb_before'] / 1024:.0f} -> {f['web_rss_kb_after'] / 1024:.0f} MB",
                      flush=True)
        close()
    finally:
        service.stop()
    summary = {}
    for hostile in (False, True):
        mine = [f for f in rounds if f["hostile"] == hostile]
        summary["hostile" if hostile else "quiet"] = {
            k: statistics.median(f[k] for f in mine)
            for k in ("p50_ms", "p95_ms", "max_ms", "case_p50_ms", "case_p95_ms", "inbox_p50_ms", "inbox_p95_ms")}
    print(json.dumps({"machine": machine(), "threads": args.threads, "summary": summary, "rounds": rounds},
                     indent=1, default=str))


if __name__ == "__main__":
    main()
