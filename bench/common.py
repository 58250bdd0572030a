"""What every benchmark shares: the seq3 workload's constants, percentiles and spreads, a run of
cases and its figures, pairing a run with SpiffWorkflow's baseline measured beside it, and what
the machine is and how busy others kept it."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


SEQ3 = ROOT / "tests" / "fixtures" / "seq3.bpmn"
DATA = {"antal": 1, "beskrivning": "x", "klar": True}  # the fields seq3's steps declare
LANE = "Handläggare"
PARTS = ("spiff", "engine", "wsgi", "http", "tasks", "timers", "profile", "contention")
TARGET_RATIO = 0.5  # the issue: the service does at least half of SpiffWorkflow with a round trip per step

StartFn = Callable[[], list[dict[str, Any]]]
CompleteFn = Callable[[str], list[dict[str, Any]]]


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of durations in seconds, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] * 1000


def spread(values: list[float]) -> dict[str, Any]:
    """Median, minimum and maximum of repeated measurements."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def run_cases(start: StartFn, complete: CompleteFn, n: int) -> tuple[list[float], list[float]]:
    """Run `n` seq3 cases: start, then complete each open task until none is left. Durations per call."""
    starts: list[float] = []
    completes: list[float] = []
    for _ in range(n):
        t = time.perf_counter()
        open_tasks = start()
        starts.append(time.perf_counter() - t)
        while open_tasks:
            t = time.perf_counter()
            open_tasks = complete(open_tasks[0]["id"])
            completes.append(time.perf_counter() - t)
    return starts, completes


def case_figures(starts: list[float], completes: list[float], cases: int, seconds: float) -> dict[str, Any]:
    """Throughput and latency of a run of cases."""
    return {
        "cases": cases, "seconds": round(seconds, 3), "cases_per_s": cases / seconds,
        "completions_per_s": len(completes) / seconds,
        "start_p50_ms": pct(starts, 50), "start_p95_ms": pct(starts, 95),
        "complete_p50_ms": pct(completes, 50), "complete_p95_ms": pct(completes, 95),
    }


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median throughput, with the throughput of every run attached (and the
    median of the runs' ratios to the baseline beside each, when they were paired with one)."""
    ordered = sorted(runs, key=lambda r: r["cases_per_s"])
    out = dict(ordered[(len(ordered) - 1) // 2])
    out["cases_per_s_runs"] = [round(r["cases_per_s"], 1) for r in runs]
    if all("paired_ratio" in r for r in runs):
        out["paired_ratio_runs"] = [round(r["paired_ratio"], 3) for r in runs]
        out["paired_ratio"] = statistics.median(r["paired_ratio"] for r in runs)
    return out


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import SpiffWorkflow
    import sqlalchemy

    try:
        from importlib.metadata import version

        spiff = version("SpiffWorkflow")
    except Exception:
        spiff = getattr(SpiffWorkflow, "__version__", "?")
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor()
    return {"cpus": os.cpu_count(), "cpu_model": model, "load_avg_at_start": os.getloadavg(),
            "python": platform.python_version(), "spiffworkflow": spiff, "sqlalchemy": sqlalchemy.__version__,
            "sqlite": sqlite3.sqlite_version, "platform": platform.platform()}


def cpu_ticks() -> tuple[float, float, float]:
    """Machine-wide CPU seconds so far: busy (user, nice, system, irq, softirq), idle, stolen."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return (float("nan"),) * 3  # type: ignore[return-value]
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / hz, (idle + iowait) / hz, steal / hz


def others_cpu(before: tuple[float, float, float], wall: float) -> dict[str, Any]:
    """How much CPU processes other than this benchmark used while it ran (the noise indicator)."""
    import resource

    busy, idle, steal = (b - a for a, b in zip(before, cpu_ticks()))
    mine = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
               for f in ("ru_utime", "ru_stime"))
    cpus = os.cpu_count() or 1
    return {"machine_busy_cpu_s": round(busy, 1), "benchmark_cpu_s": round(mine, 1),
            "others_cpu_s": round(max(0.0, busy - mine), 1),
            "others_share_of_machine": round(max(0.0, busy - mine) / (wall * cpus), 3),
            "stolen_cpu_s": round(steal, 1), "idle_cpu_s": round(idle, 1)}
