"""The benchmark's tables, as printed and kept in bench/README.md."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import TARGET_RATIO  # noqa: E402


def _f(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or value != value else f"{value:,.{digits}f}"


def web_processes(workers: int) -> str:
    return f"{workers} web process{'es' if workers != 1 else ''}"


def table(results: dict[str, Any]) -> str:
    """The figures as a Markdown table (the README keeps the latest one)."""
    lines = []
    spiff = results.get("spiff")
    base = spiff["roundtrip_cases_per_s"]["median"] if spiff else None

    def ratio(rate: float) -> str:
        return f"{rate / base:.2f}" if base else "–"

    def runs(values: list[float]) -> str:
        return f"{min(values):,.0f}–{max(values):,.0f}" if len(values) > 1 else "–"

    def paired_ratio(h: dict[str, Any]) -> str:
        if "paired_ratio" not in h:
            return "–"
        spread_ = h.get("paired_ratio_runs", [])
        shown = f" ({min(spread_):.2f}–{max(spread_):.2f})" if len(spread_) > 1 else ""
        return f"**{h['paired_ratio']:.2f}**{shown}"

    lines.append("| workload | cases/s (median) | range over runs | ratio to (b) at the start | ratio to (b) "
                 "beside each run (median, range) | completions/s | start p50 / p95 ms | complete p50 / p95 ms |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    if spiff:
        m, r = spiff["memory_cases_per_s"], spiff["roundtrip_cases_per_s"]
        lines.append(f"| (a) SpiffWorkflow alone, in memory | {_f(m['median'], 0)} | {runs(m['runs'])} "
                     f"| {ratio(m['median'])} | – | {_f(m['median'] * 3, 0)} | – | – |")
        lines.append(f"| (b) SpiffWorkflow alone, serialize + deserialize per step | {_f(r['median'], 0)} "
                     f"| {runs(r['runs'])} | 1.00 | 1.00 | {_f(r['median'] * 3, 0)} | – | – |")
        lines.append(f"| target: half of (b) | {_f(r['median'] * TARGET_RATIO, 0)} | | {TARGET_RATIO:.2f} "
                     f"| {TARGET_RATIO:.2f} | | | |")
    rows = []
    if "engine" in results:
        rows.append(("Rutin engine functions, in process (no HTTP)", results["engine"]))
    if "wsgi" in results:
        rows.append(("Rutin Flask app as WSGI callable (no socket)", results["wsgi"]))
    for h in results.get("http", []):
        who = "requests.Session" if h["client"] == "requests" else "http.client"
        server = f", {web_processes(h['workers'])}" if h.get("workers") else ""
        rows.append((f"Rutin over HTTP, {h['clients']} client{'s' if h['clients'] > 1 else ''} ({who}){server}", h))
    if results.get("http_ceiling"):
        rows.append(("(c) two separate services, a database each, 2 clients each (not one service: the ceiling "
                     "of any sharing of one database)", results["http_ceiling"]))
    for label, h in rows:
        lines.append(
            f"| {label} | {_f(h['cases_per_s'])} | {runs(h.get('cases_per_s_runs', []))} | {ratio(h['cases_per_s'])} "
            f"| {paired_ratio(h)} | {_f(h['completions_per_s'], 0)} "
            f"| {_f(h['start_p50_ms'])} / {_f(h['start_p95_ms'])} "
            f"| {_f(h['complete_p50_ms'])} / {_f(h['complete_p95_ms'])} |")
    if results.get("task_list"):
        lines.append("")
        lines.append("| GET /api/tasks (first page of 50, with counts) | visible to the handler | calls "
                     "| p50 ms | p95 ms | max ms |")
        lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
        for t in results["task_list"]:
            lines.append(f"| {t['open_tasks']:,} open tasks | {t['visible']:,} (mine {t['counts']['mine']}, "
                         f"overdue {t['counts']['overdue']}) | {t['calls']} | {_f(t['p50_ms'])} "
                         f"| {_f(t['p95_ms'])} | {_f(t['max_ms'])} |")
    if results.get("timers"):
        t = results["timers"]
        lines.append("")
        lines.append(f"Scheduler: one tick firing {t['fired']:,} due timers among {t['pending']:,} pending: "
                     f"{t['tick_s']} s ({_f(t['per_firing_ms'])} ms per firing); idle tick {_f(t['idle_tick_ms'])} ms.")
        if t.get("among_due_only"):
            a = t["among_due_only"]
            lines.append(f"Scheduler: the same {a['fired']:,} due timers with nothing else pending: {a['tick_s']} s "
                         f"({_f(a['per_firing_ms'])} ms per firing); ratio {t['ratio_to_due_only']}.")
    return "\n".join(lines)


def profile_table(summary: dict[str, Any]) -> str:
    """One instrumented path as a table of stages."""
    out = [f"Where the time goes: {summary['path']} ({summary['cases']} cases, "
           f"{summary['wall_ms_per_case']:.1f} ms per case instrumented, "
           f"{_sqlite_calls(summary)})", "",
           "| stage (exclusive wall time) | ms per case | share |", "| --- | ---: | ---: |"]
    out += [f"| {st['stage']} | {st['ms_per_case']:.2f} | {st['share'] * 100:.0f} % |"
            for st in summary["stages"] if st["ms_per_case"] >= 0.005]
    return "\n".join(out)


def _sqlite_calls(summary: dict[str, Any]) -> str:
    calls = summary["calls_per_case"]
    n = {k.rsplit(".", 1)[1]: sum(v for name, v in calls.items() if name.endswith("." + k.rsplit(".", 1)[1]))
         for k in calls if k.startswith("SQLiteDialect")}
    begins = calls.get("Connection.exec_driver_sql", 0)
    return (f"per case: {n.get('do_execute', 0) + n.get('do_execute_no_params', 0) - begins:.0f} statements + "
            f"{begins:.0f} BEGIN IMMEDIATE, {n.get('do_executemany', 0):.0f} executemany, "
            f"{n.get('do_commit', 0):.0f} commits, {n.get('do_rollback', 0):.0f} pool resets")


def contention_table(rows: list[dict[str, Any]]) -> str:
    """Write-lock waits with 1 and more threads."""
    out = ["Write-lock waits (Flask app in process, threads; time in BEGIN IMMEDIATE per write transaction)", "",
           "| threads | cases/s | write transactions | summed wait s / wall s | wait p50 / p95 / max ms |",
           "| ---: | ---: | ---: | ---: | ---: |"]
    out += [f"| {r['threads']} | {r['cases_per_s']:.1f} | {r['write_transactions']} "
            f"| {r['wait_total_s']:.2f} / {r['wall_s']:.2f} | {r['wait_p50_ms']:.2f} / {r['wait_p95_ms']:.1f} "
            f"/ {r['wait_max_ms']:.0f} |" for r in rows]
    return "\n".join(out)
