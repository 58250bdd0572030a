"""Benchmark `http`: the seq3 workload through the HTTP API of a real `rutin serve` process,
with concurrent client processes; and two separate services side by side (the ceiling)."""

from __future__ import annotations

import http.client
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import DATA, LANE, SEQ3, case_figures, run_cases  # noqa: E402


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

    def __init__(self, tmp: Path, threads: int | None = None, workers: int = 0, root: Path = ROOT,
                 database_url: str | None = None):
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
        # database_url: a PostgreSQL database of the service's own, emptied first (its schema dropped).
        self.database_url = database_url
        if database_url:
            import sqlalchemy as sa

            eng = sa.create_engine(database_url)
            with eng.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
            eng.dispose()
            self.env["RUTIN_DATABASE_URL"] = database_url
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

    def db_cpu(self) -> float:
        """CPU seconds PostgreSQL's backends serving this service's database have used (0 on
        SQLite; the server must run on this machine, as in the benchmark)."""
        if not self.database_url:
            return 0.0
        import sqlalchemy as sa

        eng = sa.create_engine(self.database_url)
        try:
            with eng.connect() as conn:
                pids = conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                            "AND pid <> pg_backend_pid()")).scalars().all()
        finally:
            eng.dispose()
        return sum(cpu_seconds(pid) for pid in pids)

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
