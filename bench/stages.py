"""Benchmarks `profile` and `contention`: where the time of a case goes, stage by stage and by
cProfile, and how long writers wait for SQLite's lock."""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import CompleteFn, StartFn, pct, run_cases  # noqa: E402
from bench.inproc import WsgiClient, wsgi_calls  # noqa: E402


class StageTimer:
    """Exclusive wall time per stage: chosen functions are wrapped (in this process only) and each
    moment is charged to the innermost wrapped function running, so the stages add up to the
    whole. Unlike a tracing profiler this adds only a few microseconds per wrapped call."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []
        self.totals: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.fn_calls: dict[str, int] = {}
        self.patched: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, label: str) -> None:
        """Charge the time inside `owner.attr` (minus wrapped calls within) to `label`."""
        import functools

        orig = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
        stack, totals, calls, fn_calls, clock = self.stack, self.totals, self.calls, self.fn_calls, time.perf_counter
        name = f"{getattr(owner, '__name__', type(owner).__name__)}.{attr}"

        @functools.wraps(orig)
        def wrapper(*a: Any, **k: Any) -> Any:
            now = clock()
            if stack:
                parent = stack[-1]
                totals[parent[0]] = totals.get(parent[0], 0.0) + now - parent[1]
            stack.append([label, now])
            calls[label] = calls.get(label, 0) + 1
            fn_calls[name] = fn_calls.get(name, 0) + 1
            try:
                return orig(*a, **k)
            finally:
                end = clock()
                lbl, began = stack.pop()
                totals[lbl] = totals.get(lbl, 0.0) + end - began
                if stack:
                    stack[-1][1] = end

        setattr(owner, attr, wrapper)
        self.patched.append((owner, attr, orig))

    def restore(self) -> None:
        """Put every wrapped function back."""
        for owner, attr, orig in reversed(self.patched):
            setattr(owner, attr, orig)
        self.patched.clear()


SQLITE = "sqlite3 C library (execute, executemany, commit)"
SQLA = "SQLAlchemy around the statements (Core, Session, pool)"
ORM_ROWS = "ORM objects made from rows (Case(**row), HumanTask(**row))"
SPIFF = "SpiffWorkflow: do_engine_steps, task.run, get_tasks"
STATE = "workflow state to/from JSON (engine.base.state dump/load)"
HISTORY = "history events (hash chain: history.append)"
SYNC = "Rutin CaseWork.sync (task rows, candidates, case summary)"
WRITE = "Rutin CaseWork.write/save (row dicts for the statements)"
RESPONSE = "response dicts (case_json, task_json)"
ENGINE_REST = "Rutin rest of start_case / complete (checks, forms, locking)"
AUTH = "authentication (current_actor: token lookup)"
FLASK_JSON = "Flask JSON (request parse, response dumps)"
FLASK = "Flask/Werkzeug rest of the request (routing, environ, headers)"
OUTSIDE = "outside the service (benchmark loop)"


def instrument(engine: Any, timer: StageTimer) -> None:
    """Wrap the stages of a service call; undone by `timer.restore()`."""
    import flask.app
    import flask.json.provider
    import SpiffWorkflow.task
    import SpiffWorkflow.workflow
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from sqlalchemy.engine.base import Connection
    from sqlalchemy.orm.session import Session, sessionmaker

    import engine.base.state as state_mod
    import engine.execution.runtime as runtime_mod
    import engine.records.history as history_mod
    import engine.service.cases as cases_mod
    import engine.service.tasks as tasks_mod
    import engine.store.models as models_mod
    import webapp.api as api_mod

    for dialect in {engine.db.writer.dialect, engine.db.reader.dialect}:
        for name in ("do_execute", "do_executemany", "do_execute_no_params", "do_commit", "do_rollback"):
            timer.wrap(dialect, name, SQLITE)
    for name in ("execute", "exec_driver_sql"):
        timer.wrap(Connection, name, SQLA)
    for name in ("execute", "commit", "close", "connection", "get", "scalars", "scalar"):
        timer.wrap(Session, name, SQLA)
    timer.wrap(sessionmaker, "__call__", SQLA)
    for model in (models_mod.Case, models_mod.HumanTask, models_mod.CaseEvent, models_mod.TaskCandidate):
        timer.wrap(model, "__init__", ORM_ROWS)  # the mapper's instrumented constructor
    timer.wrap(BpmnWorkflow, "do_engine_steps", SPIFF)
    timer.wrap(SpiffWorkflow.task.Task, "run", SPIFF)
    timer.wrap(SpiffWorkflow.workflow.Workflow, "get_tasks", SPIFF)
    timer.wrap(BpmnWorkflow, "get_task_from_id", SPIFF)
    for name in ("dump", "load", "new_workflow"):
        timer.wrap(state_mod, name, STATE)
    timer.wrap(history_mod, "append", HISTORY)
    timer.wrap(runtime_mod.CaseWork, "sync", SYNC)
    timer.wrap(runtime_mod.CaseWork, "write", WRITE)
    timer.wrap(runtime_mod.CaseWork, "save", WRITE)
    timer.wrap(cases_mod, "case_json", RESPONSE)
    timer.wrap(cases_mod, "task_json", RESPONSE)
    timer.wrap(tasks_mod, "task_json", RESPONSE)
    timer.wrap(cases_mod, "start_case", ENGINE_REST)
    timer.wrap(tasks_mod, "complete", ENGINE_REST)
    timer.wrap(api_mod, "current_actor", AUTH)
    timer.wrap(flask.json.provider.DefaultJSONProvider, "dumps", FLASK_JSON)
    timer.wrap(flask.json.provider.DefaultJSONProvider, "loads", FLASK_JSON)
    timer.wrap(flask.app.Flask, "wsgi_app", FLASK)


def breakdown(label: str, engine: Any, calls: Callable[[], tuple[StartFn, CompleteFn]], cases: int
              ) -> dict[str, Any]:
    """Where the wall time of `cases` cases goes, by stage (see StageTimer), and the SQL per case."""
    timer = StageTimer()
    instrument(engine, timer)
    try:
        start, complete = calls()
        run_cases(start, complete, 10)
        timer.totals.clear()
        timer.calls.clear()
        timer.fn_calls.clear()
        t0 = time.perf_counter()
        run_cases(start, complete, cases)
        wall = time.perf_counter() - t0
    finally:
        timer.restore()
    inside = sum(timer.totals.values())
    totals = {**timer.totals, OUTSIDE: wall - inside}
    stages = [{"stage": k, "ms_per_case": v / cases * 1000, "share": v / wall}
              for k, v in sorted(totals.items(), key=lambda kv: -kv[1])]
    return {"path": label, "cases": cases, "wall_ms_per_case": wall / cases * 1000, "stages": stages,
            "sqlite_calls_per_case": timer.calls.get(SQLITE, 0) / cases,
            "calls_per_case": {k: v / cases for k, v in sorted(timer.fn_calls.items())}}


def cprofile_text(start: StartFn, complete: CompleteFn, cases: int) -> str:
    """cProfile of `cases` cases, sorted by cumulative time (its overhead inflates Python-heavy code)."""
    run_cases(start, complete, 5)
    prof = cProfile.Profile()
    prof.enable()
    run_cases(start, complete, cases)
    prof.disable()
    text = io.StringIO()
    text.write(f"cProfile over {cases} cases (start + 3 completes each); times are totals over all cases\n")
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("cumulative").print_stats(70)
    stats.sort_stats("tottime").print_stats(40)
    return text.getvalue()


def lock_waits(app: Any, engine: Any, token: str, threads: int, cases: int) -> dict[str, Any]:
    """Cases through the Flask app from `threads` threads in this process, timing how long each
    write transaction waits in BEGIN IMMEDIATE for SQLite's write lock (busy handler)."""

    from sqlalchemy import event

    waits: list[float] = []
    guard = threading.Lock()

    def before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        conn.info["bench_t"] = time.perf_counter()

    def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("BEGIN"):
            with guard:
                waits.append(time.perf_counter() - conn.info["bench_t"])

    event.listen(engine.db.writer, "before_cursor_execute", before)
    event.listen(engine.db.writer, "after_cursor_execute", after)
    per = max(1, cases // threads)
    errors: list[str] = []

    def worker() -> None:
        try:
            run_cases(*wsgi_calls(WsgiClient(app, token)), per)
        except Exception as exc:
            errors.append(repr(exc))

    try:
        run_cases(*wsgi_calls(WsgiClient(app, token)), 5)
        waits.clear()
        pool = [threading.Thread(target=worker) for _ in range(threads)]
        t0 = time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        wall = time.perf_counter() - t0
    finally:
        event.remove(engine.db.writer, "before_cursor_execute", before)
        event.remove(engine.db.writer, "after_cursor_execute", after)
    if errors:
        raise RuntimeError(errors[0])
    return {"threads": threads, "cases": per * threads, "cases_per_s": per * threads / wall,
            "write_transactions": len(waits), "wait_total_s": sum(waits), "wall_s": wall,
            "wait_p50_ms": pct(waits, 50), "wait_p95_ms": pct(waits, 95), "wait_max_ms": max(waits) * 1000}
