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
import cProfile
import http.client
import io
import json
import multiprocessing as mp
import os
import platform
import pstats
import random
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
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


# The machine's speed drifts by a third within minutes (other tenants); a baseline measured once at
# the start made a later run's ratio wrong by as much. Each run is therefore paired with (b)
# measured just before and just after it, and its ratio is to the mean of the two.
BASELINE_CASES = 150


def paired(run: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Run one measurement, ``run(*args)``, between two short runs of (b); attach its ratio to them."""
    before = spiff_alone(BASELINE_CASES, roundtrip=True, warm=5)
    figures = run(*args)
    after = spiff_alone(BASELINE_CASES, roundtrip=True, warm=5)
    baseline = (before + after) / 2
    return {**figures, "baseline_cases_per_s": baseline, "paired_ratio": figures["cases_per_s"] / baseline}


def repeated(label: str, reps: int, run: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """`reps` paired runs of one measurement, each printed as it ends; the median run."""
    runs = []
    for _ in range(reps):
        runs.append(paired(run, *args))
        print(f"{label}: {runs[-1]['cases_per_s']:.1f} cases/s", flush=True)
    return median_run(runs)


# -- SpiffWorkflow alone ------------------------------------------------------------------------


def spiff_alone(cases: int, roundtrip: bool, warm: int = 20) -> float:
    """Cases/s of seq3 on stock SpiffWorkflow, optionally with a JSON round trip after every step."""
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    parser = BpmnParser()
    parser.add_bpmn_file(str(SEQ3))
    spec = parser.get_spec("seq3")
    serializer = BpmnWorkflowSerializer()

    def one() -> None:
        wf = BpmnWorkflow(spec)
        wf.do_engine_steps()
        if roundtrip:
            wf = serializer.deserialize_json(serializer.serialize_json(wf))
        while not wf.completed:
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            task = ready[0]
            task.data.update(DATA)
            task.run()
            wf.do_engine_steps()
            if roundtrip:
                wf = serializer.deserialize_json(serializer.serialize_json(wf))

    for _ in range(warm):
        one()
    start = time.perf_counter()
    for _ in range(cases):
        one()
    return cases / (time.perf_counter() - start)


# -- in-process engine and WSGI -----------------------------------------------------------------


def make_engine(data_dir: Path) -> tuple[Any, Any, str, str]:
    """A migrated engine on SQLite with seq3 deployed, a handler actor and tokens (designer, handler)."""
    from engine.authority import identity
    from engine.base.settings import Settings
    from engine.catalogue import processes
    from engine.core import Engine

    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(data_dir)}))
    engine.migrate()
    identity.add_user(engine, "designer", ["designer"])
    identity.add_user(engine, "hanna", [LANE])
    processes.deploy(engine, identity.get_actor(engine, "designer"), SEQ3.read_bytes(), "seq3.bpmn")
    # A new version is a draft until someone who did not upload it approves it: for a new process, an administrator.
    processes.approve(engine, identity.add_user(engine, "admin", ["admin"]), "seq3", 1)
    return (engine, identity.get_actor(engine, "hanna"), identity.issue_token(engine, "designer"),
            identity.issue_token(engine, "hanna"))


def engine_calls(engine: Any, actor: Any) -> tuple[StartFn, CompleteFn]:
    """Start and complete through the engine functions the API handlers call."""
    from engine.service import cases, tasks

    def start() -> list[dict[str, Any]]:
        return cases.start_case(engine, actor, "seq3", {})["open_tasks"]  # type: ignore[no-any-return]

    def complete(task_id: str) -> list[dict[str, Any]]:
        return tasks.complete(engine, actor, task_id, DATA)["case"]["open_tasks"]  # type: ignore[no-any-return]

    return start, complete


class WsgiClient:
    """Calls the Flask app as a WSGI callable: everything a request costs but the socket and the server."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self.token = token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        raw = json.dumps(body).encode() if body is not None else b""
        environ = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": path, "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1", "HTTP_AUTHORIZATION": f"Bearer {self.token}",
            "CONTENT_TYPE": "application/json" if body is not None else "", "CONTENT_LENGTH": str(len(raw)),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(raw),
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        status: list[str] = []
        result = self.app(environ, lambda s, h, exc=None: status.append(s))
        try:
            data = b"".join(result)
        finally:
            getattr(result, "close", lambda: None)()
        if not status[0].startswith("2"):
            raise RuntimeError(f"{method} {path}: {status[0]} {data[:300]!r}")
        return json.loads(data)


def wsgi_calls(client: WsgiClient) -> tuple[StartFn, CompleteFn]:
    """Start and complete through the Flask app."""

    def start() -> list[dict[str, Any]]:
        return client.call("POST", "/api/processes/seq3/cases", {"data": {}})["open_tasks"]  # type: ignore[no-any-return]

    def complete(task_id: str) -> list[dict[str, Any]]:
        return client.call("POST", f"/api/tasks/{task_id}/complete", {"data": DATA})["case"]["open_tasks"]  # type: ignore[no-any-return]

    return start, complete


def in_process(start: StartFn, complete: CompleteFn, cases: int, warm: int) -> dict[str, Any]:
    """Throughput and latency of `cases` cases after `warm` warm-up cases, in this process."""
    run_cases(start, complete, warm)
    t0 = time.perf_counter()
    starts, completes = run_cases(start, complete, cases)
    return case_figures(starts, completes, cases, time.perf_counter() - t0)


# -- the real service over HTTP -------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


class Service:
    """`rutin serve` in its own process on 127.0.0.1 and a temporary SQLite database.

    Users and tokens are made with the CLI (`rutin users add`, `rutin token`); seq3 is deployed
    through POST /api/processes with the designer's token and approved by an administrator (a
    new process has no published owner yet)."""

    def __init__(self, tmp: Path, threads: int | None = None, workers: int = 0, root: Path = ROOT):
        # workers 0: as many web processes as `rutin serve` starts by default (one per core, at
        # most four); workers > 0: `rutin serve --workers N`. All on the same SQLite database.
        # root: the source tree whose `rutin serve` runs (another checkout, to compare code).
        from webapp.cli import default_workers

        self.root = root
        self.workers = workers or default_workers()
        self.data_dir = tmp / (f"service-{workers}w" if workers else "service")
        # The scheduler ticks once at start-up, then not again during the run.
        self.env = {**os.environ, "RUTIN_DATA_DIR": str(self.data_dir), "RUTIN_SCHEDULER_INTERVAL_S": "3600",
                    "RUTIN_HOST": "127.0.0.1"}
        self.env.pop("RUTIN_DATABASE_URL", None)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cli("users", "add", "designer", "--role", "designer")
        self.cli("users", "add", "hanna", "--role", LANE)
        self.cli("users", "add", "admin", "--role", "admin")
        self.designer = self.token("designer")
        self.approver = self.token("admin")
        self.handler = self.token("hanna")
        # threads None: `rutin serve`'s default (one per web process on SQLite).
        command = [sys.executable, "-m", "webapp.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   *(["--threads", str(threads)] if threads else [])]
        if workers:
            command += ["--workers", str(workers)]
        self.proc = subprocess.Popen(command, cwd=self.root, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("rutin serve did not start") from None
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        conn.request("POST", "/api/processes", body=SEQ3.read_bytes(),
                     headers={"Authorization": f"Bearer {self.designer}", "Content-Type": "application/xml"})
        r = conn.getresponse()
        if r.status not in (200, 201):
            raise RuntimeError(f"deploy: {r.status} {r.read()[:300]!r}")
        r.read()
        # The new version is a draft until an administrator who did not upload it approves it.
        conn.request("POST", "/api/processes/seq3/versions/1/approve", body=b"{}",
                     headers={"Authorization": f"Bearer {self.approver}", "Content-Type": "application/json"})
        r = conn.getresponse()
        if r.status != 200:
            raise RuntimeError(f"approve: {r.status} {r.read()[:300]!r}")

    def cli(self, *args: str) -> str:
        """Run a `rutin` CLI command against the service's database."""
        out = subprocess.run([sys.executable, "-m", "webapp.cli", *args], cwd=self.root, env=self.env, check=True,
                             capture_output=True, text=True)
        return out.stdout

    def token(self, user: str) -> str:
        """A new bearer token for `user` (the last line `rutin token` prints)."""
        return self.cli("token", user).strip().splitlines()[-1]

    def cpu(self) -> float:
        """CPU seconds the server processes have used (the web processes are children of `rutin serve`)."""
        return cpu_seconds(self.proc.pid) + sum(cpu_seconds(pid) for pid in _children(self.proc.pid))

    def stop(self) -> None:
        """Stop the server."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def http_client(base: str, token: str, lib: str) -> tuple[Callable[[str, str, Any], Any], Callable[[], None]]:
    """A keep-alive JSON client: `requests.Session`, or a thin `http.client` connection ("raw")."""
    if lib == "requests":
        import requests

        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"

        def call_requests(method: str, path: str, body: Any = None) -> Any:
            r = session.request(method, base + path, json=body, timeout=60)
            if r.status_code >= 400:
                raise RuntimeError(f"{method} {path}: {r.status_code} {r.text[:300]}")
            return r.json()

        return call_requests, session.close
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call_raw(method: str, path: str, body: Any = None) -> Any:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = conn.getresponse()
        data = r.read()
        if r.status >= 400:
            raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
        return json.loads(data)

    return call_raw, conn.close


def _client_process(base: str, token: str, lib: str, warm: int, n: int, barrier: Any, results: Any) -> None:
    """One benchmark client: warm up, wait for the others, run `n` cases, report its timings."""
    try:
        call, close = http_client(base, token, lib)

        def start() -> list[dict[str, Any]]:
            return call("POST", "/api/processes/seq3/cases", {"data": {}})["open_tasks"]  # type: ignore[no-any-return]

        def complete(task_id: str) -> list[dict[str, Any]]:
            return call("POST", f"/api/tasks/{task_id}/complete", {"data": DATA})["case"]["open_tasks"]  # type: ignore[no-any-return]

        run_cases(start, complete, warm)
        barrier.wait(timeout=300)
        cpu0, t0 = time.process_time(), time.perf_counter()
        starts, completes = run_cases(start, complete, n)
        t1 = time.perf_counter()
        close()
        results.put({"t0": t0, "t1": t1, "starts": starts, "completes": completes,
                     "client_cpu_s": time.process_time() - cpu0})
    except BaseException as exc:  # reported to the parent, which fails the run
        results.put({"error": f"{type(exc).__name__}: {exc}"})


def http_cases(service: Service, clients: int, per_client: int, lib: str, warm: int = 5) -> dict[str, Any]:
    """Drive cases through HTTP from `clients` client processes, each running its own cases."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(clients + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=_client_process, args=(service.base, service.handler, lib, warm, per_client,
                                                       barrier, results)) for _ in range(clients)]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)  # all clients warmed up: the measured part starts now
    cpu0 = service.cpu()
    out = [results.get(timeout=900) for _ in procs]
    server_cpu = service.cpu() - cpu0
    for p in procs:
        p.join(timeout=30)
    errors = [o["error"] for o in out if "error" in o]
    if errors:
        raise RuntimeError(f"benchmark client failed: {errors[0]}")
    elapsed = max(o["t1"] for o in out) - min(o["t0"] for o in out)
    starts = [x for o in out for x in o["starts"]]
    completes = [x for o in out for x in o["completes"]]
    total = clients * per_client
    figures = case_figures(starts, completes, total, elapsed)
    figures.update(clients=clients, client=lib, workers=service.workers,
                   server_cpu_ms_per_case=server_cpu / total * 1000,
                   client_cpu_ms_per_case=sum(o["client_cpu_s"] for o in out) / total * 1000,
                   t0=min(o["t0"] for o in out), t1=max(o["t1"] for o in out))
    return figures


def http_ceiling(services: list[Service], per_client: int, lib: str) -> dict[str, Any]:
    """Two clients on each of several services with a database each, all at once.

    Nothing is shared between the services, no lock, no database: what they do together is the
    most that any way of sharing one database between processes could do on this machine.
    """
    out: list[dict[str, Any]] = [{} for _ in services]

    def drive(i: int) -> None:
        out[i] = http_cases(services[i], 2, per_client, lib)

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(len(services))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if any(not o for o in out):
        raise RuntimeError("a benchmark client of the ceiling run failed")
    total = sum(o["cases"] for o in out)
    elapsed = max(o["t1"] for o in out) - min(o["t0"] for o in out)
    figures: dict[str, Any] = {"cases": total, "seconds": round(elapsed, 3), "cases_per_s": total / elapsed,
                               "completions_per_s": 3 * total / elapsed}
    figures.update(clients=2 * len(services), client=lib, services=len(services),
                   server_cpu_ms_per_case=sum(o["server_cpu_ms_per_case"] * o["cases"] for o in out) / total,
                   client_cpu_ms_per_case=sum(o["client_cpu_ms_per_case"] * o["cases"] for o in out) / total)
    for key in ("start_p50_ms", "start_p95_ms", "complete_p50_ms", "complete_p95_ms"):
        figures[key] = statistics.median(o[key] for o in out)
    return figures


# -- the task list with many open tasks ---------------------------------------------------------

ROLES = 50
PEOPLE = 2000
HANDLER = "person7"
HANDLER_ROLES = ("Roll 3", "Roll 17")


def _ts(value: datetime) -> str:
    """A UTC instant as SQLAlchemy stores DateTime on SQLite."""
    return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def seed_people(db_path: Path) -> None:
    """2,000 people each holding one or two of 50 roles (the handler is made with the CLI)."""
    rng = random.Random(11)
    conn = sqlite3.connect(db_path)
    now = _ts(datetime.now(UTC))
    for n in range(PEOPLE):
        name = f"person{n}"
        if name == HANDLER:
            continue
        user_id = conn.execute("INSERT INTO users (name, display_name, active, created_at) VALUES (?,?,1,?)",
                               (name, f"Person {n}", now)).lastrowid
        for r in {rng.randrange(ROLES) for _ in range(rng.choice((1, 2)))}:
            conn.execute("INSERT INTO user_roles (user_id, role, role_key) VALUES (?,?,?)",
                         (user_id, f"Roll {r}", f"roll {r}"))
    conn.commit()
    conn.close()


def seed_tasks(db_path: Path, total: int) -> None:
    """Top the open tasks up to `total`, written straight into the projections the way
    `CaseWork._create_task` writes them: a case row per task (state never loaded by a list),
    the task row, its candidate rows (the role, and the assignee if any) with created_at."""
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode=WAL")
    version_id = conn.execute("SELECT id FROM process_versions WHERE key='seq3' ORDER BY version DESC").fetchone()[0]
    have = conn.execute("SELECT count(*) FROM human_tasks WHERE status='open' AND business_key LIKE 'BK-%'"
                        ).fetchone()[0]
    rng = random.Random(7 + have)
    now = datetime.now(UTC)
    cases: list[tuple[Any, ...]] = []
    tasks: list[tuple[Any, ...]] = []
    candidates: list[tuple[Any, ...]] = []
    for n in range(have, total):
        case_id, task_id = str(uuid.uuid4()), str(uuid.uuid4())
        created = _ts(now - timedelta(minutes=n, seconds=rng.random()))
        due = _ts(now + timedelta(days=rng.randint(-5, 20)))
        r = rng.randrange(ROLES)
        role, key = f"Roll {r}", f"roll {r}"
        assignee = f"person{rng.randrange(PEOPLE)}" if rng.random() < 0.3 else None
        cands = [("role", key)] + ([("user", assignee)] if assignee else [])
        cases.append((case_id, version_id, "seq3", f"BK-{n}", "active", 1, "{}", "{}", "bench", created, created,
                      1, 0))
        tasks.append((task_id, case_id, "seq3", version_id, f"BK-{n}", "a", "a", "Steg ett", "task", role, assignee,
                      "open", 50, created, due, json.dumps([f"{k}:{v}" for k, v in cands])))
        candidates.extend((task_id, k, v, created) for k, v in cands)
        if len(tasks) >= 20000:
            _flush(conn, cases, tasks, candidates)
    _flush(conn, cases, tasks, candidates)
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def _flush(conn: Any, cases: list[Any], tasks: list[Any], candidates: list[Any]) -> None:
    conn.executemany("INSERT INTO cases (id, process_version_id, process_key, business_key, status, revision, "
                     "state_json, data, started_by, created_at, updated_at, event_count, deadline_extended) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", cases)
    conn.executemany("INSERT INTO human_tasks (id, case_id, process_key, process_version_id, business_key, spec_name, "
                     "element_id, name, kind, role, assignee, status, priority, created_at, due_at, candidates) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", tasks)
    conn.executemany("INSERT INTO task_candidates (task_id, kind, key, created_at) VALUES (?,?,?,?)", candidates)
    conn.commit()
    cases.clear()
    tasks.clear()
    candidates.clear()


def task_list_latency(service: Service, totals: list[int], calls: int, lib: str, warm: int = 10
                      ) -> list[dict[str, Any]]:
    """p50/p95 of GET /api/tasks (first page of 50, with counts) for a handler holding two roles."""
    db = service.data_dir / "rutin.db"
    service.cli("users", "add", HANDLER, *[a for r in HANDLER_ROLES for a in ("--role", r)])
    seed_people(db)
    call, close = http_client(service.base, service.token(HANDLER), lib)
    out = []
    for total in totals:
        t = time.perf_counter()
        seed_tasks(db, total)
        seeded_s = time.perf_counter() - t
        for _ in range(warm):
            call("GET", "/api/tasks?limit=50", None)
        times = []
        body: dict[str, Any] = {}
        for _ in range(calls):
            t = time.perf_counter()
            body = call("GET", "/api/tasks?limit=50", None)
            times.append(time.perf_counter() - t)
        out.append({"open_tasks": total, "visible": body["total"], "page": len(body["items"]), "calls": calls,
                    "p50_ms": pct(times, 50), "p95_ms": pct(times, 95), "max_ms": max(times) * 1000,
                    "counts": body["counts"], "seeding_s": round(seeded_s, 1)})
    close()
    return out


# -- the scheduler with a million pending timers ----------------------------------------------------


def timer_tick(tmp: Path, pending: int, due: int) -> dict[str, Any]:
    """One tick that fires `due` timers among `pending` pending ones, and, to compare, one that fires
    as many with nothing else pending: the time should follow `due`, not `pending`."""
    alone = _timer_tick(tmp / "timers-alone", due, due)
    result = _timer_tick(tmp / "timers", pending, due)
    result["among_due_only"] = alone
    result["ratio_to_due_only"] = round(result["tick_s"] / max(alone["tick_s"], 1e-9), 2)
    return result


def _timer_tick(data_dir: Path, pending: int, due: int) -> dict[str, Any]:
    from engine.authority.identity import SYSTEM
    from engine.base.clock import ManualClock
    from engine.base.settings import Settings
    from engine.catalogue import processes
    from engine.core import Engine
    from engine.service import cases as case_api

    clock = ManualClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(data_dir)}), clock)
    engine.migrate()
    processes.deploy(engine, SYSTEM, (ROOT / "tests" / "fixtures" / "timer_direct.bpmn").read_bytes())
    t0 = time.perf_counter()
    for _ in range(due):
        case_api.start_case(engine, SYSTEM, "vanta", {})
    started = time.perf_counter() - t0
    conn = sqlite3.connect(data_dir / "rutin.db")
    later = _ts(clock.now() + timedelta(days=365))
    batch = []
    for _ in range(pending - due):
        batch.append(("bpmn", str(uuid.uuid4()), str(uuid.uuid4()), later, "pending", "{}"))
        if len(batch) >= 50000:
            conn.executemany("INSERT INTO timers (kind, case_id, task_id, due_at, status, data) VALUES (?,?,?,?,?,?)",
                             batch)
            batch.clear()
    if batch:
        conn.executemany("INSERT INTO timers (kind, case_id, task_id, due_at, status, data) VALUES (?,?,?,?,?,?)",
                         batch)
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    clock.advance(timedelta(hours=2))
    t0 = time.perf_counter()
    result = engine.scheduler.tick()
    tick = time.perf_counter() - t0
    t0 = time.perf_counter()
    idle = engine.scheduler.tick()
    idle_s = time.perf_counter() - t0
    engine.close()
    return {"pending": pending, "due": due, "fired": result.fired, "tick_s": round(tick, 2),
            "per_firing_ms": tick / max(result.fired, 1) * 1000, "idle_tick_ms": idle_s * 1000,
            "idle_fired": idle.fired, "starting_the_cases_s": round(started, 1)}


# -- where the time goes --------------------------------------------------------------------------


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
    import threading

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


# -- reporting ------------------------------------------------------------------------------------


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


def _f(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or value != value else f"{value:,.{digits}f}"


def _web(workers: int) -> str:
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
        server = f", {_web(h['workers'])}" if h.get("workers") else ""
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
            where = (f", {_web(h['workers'])}" if h.get("workers") else
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
