"""Several `rutin worker` processes against one database: every due timer fires exactly once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import PG_URL, ROOT, Mailbox, fixture_bytes

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import notifications
from engine.service import cases
from engine.store.models import CaseEvent, HumanTask, Timer

CASES = 1000
WORKERS = 3
# Both backends always: without a PostgreSQL database the PostgreSQL run is reported as skipped,
# not silently left out (.ci/run sets RUTIN_TEST_DATABASE_URL where PostgreSQL is installed).
BOTH = pytest.mark.parametrize("backend", [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(
        not PG_URL, reason="RUTIN_TEST_DATABASE_URL is not set: no PostgreSQL database to run the workers on "
                           "(SKIP LOCKED is only exercised there)")),
], indirect=True)


@BOTH
def test_three_workers_fire_a_thousand_timers_once_each(engine: Engine, clock: ManualClock) -> None:
    processes.deploy(engine, SYSTEM, fixture_bytes("timer_direct.bpmn"))
    for _ in range(CASES):
        cases.start_case(engine, SYSTEM, "vanta")
    later = clock.now() + timedelta(hours=2)
    env = {**os.environ, "RUTIN_DATABASE_URL": engine.settings.database_url,
           "RUTIN_DATA_DIR": str(engine.settings.data_dir), "RUTIN_FIXED_NOW": later.isoformat()}
    workers = [
        subprocess.Popen([sys.executable, "-m", "webapp.cli", "worker", "--once"], cwd=ROOT, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(WORKERS)
    ]
    outputs = [w.communicate(timeout=600) for w in workers]
    assert all(w.returncode == 0 for w in workers), outputs
    with engine.db.read() as s:
        fired = s.execute(sa.select(Timer.case_id, Timer.fired_by).where(Timer.status == "fired")).all()
        pending = s.execute(sa.select(sa.func.count()).select_from(Timer).where(
            Timer.status == "pending", Timer.kind == "bpmn")).scalar()
        events = s.execute(
            sa.select(CaseEvent.case_id, sa.func.count()).where(CaseEvent.type == "timer_fired")
            .group_by(CaseEvent.case_id)
        ).all()
        open_tasks = s.execute(
            sa.select(sa.func.count()).select_from(HumanTask).where(HumanTask.status == "open")
        ).scalar()
    assert len(fired) == CASES and len({c for c, _ in fired}) == CASES and pending == 0
    assert len(events) == CASES and all(n == 1 for _, n in events)
    assert open_tasks == CASES
    per_worker = {}
    for _, by in fired:
        per_worker[by] = per_worker.get(by, 0) + 1
    assert sum(per_worker.values()) == CASES
    if engine.db.is_sqlite:
        return
    # On PostgreSQL the workers really share the work (SKIP LOCKED), instead of queueing behind one.
    assert len(per_worker) == WORKERS, per_worker


def _until(what: Callable[[], bool], process: subprocess.Popen[str], seconds: float = 60) -> None:
    """Wait for `what` to come true (polling; the processes run on real time), or fail."""
    deadline = time.monotonic() + seconds
    while not what():
        if process.poll() is not None:
            raise AssertionError(f"the process ended early: {process.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError("not done in time")
        time.sleep(0.05)


def _long_running(engine: Engine, clock: ManualClock, smtp: Mailbox, *command: str,
                  extra: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """A due timer and a queued e-mail, and a long-running `rutin` process started on them."""
    processes.deploy(engine, SYSTEM, fixture_bytes("timer_direct.bpmn"))
    case = cases.start_case(engine, SYSTEM, "vanta")
    identity.add_user(engine, "mottagare", [], email="mottagare@exempelby.se")
    with engine.db.write() as s:
        notifications.notify(s.connection(), clock.now(), ["mottagare"], kind="test", subject="Hej från Rutin",
                             body="Hej", dedupe="test:1")
    env = {**os.environ, "RUTIN_DATABASE_URL": engine.settings.database_url,
           "RUTIN_DATA_DIR": str(engine.settings.data_dir),
           "RUTIN_FIXED_NOW": (clock.now() + timedelta(hours=2)).isoformat(),
           "RUTIN_SCHEDULER_INTERVAL_S": "0.2", "RUTIN_SMTP_HOST": smtp.host, "RUTIN_SMTP_PORT": str(smtp.port),
           **(extra or {})}
    process = subprocess.Popen([sys.executable, "-m", "webapp.cli", *command], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, case["id"]


def _web_processes(pid: int) -> list[int]:
    """The web processes `rutin serve` spawned (not multiprocessing's resource tracker)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in command:
            found.append(int(child))
    return found


def _health(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as answer:
            return int(answer.status)
    except OSError:
        return None


def _fired(engine: Engine, case_id: str) -> bool:
    with engine.db.read() as s:
        return s.execute(sa.select(Timer.status).where(Timer.case_id == case_id)).scalar() == "fired"


@BOTH
def test_a_running_worker_fires_what_comes_due_and_delivers_mail(engine: Engine, clock: ManualClock,
                                                                smtp: Mailbox) -> None:
    process, case_id = _long_running(engine, clock, smtp, "worker")
    try:
        _until(lambda: _fired(engine, case_id), process)
        _until(lambda: bool(smtp.to("mottagare@exempelby.se")), process)
    finally:
        process.terminate()
        process.communicate(timeout=30)
    assert [t["name"] for t in cases.get_case(engine, SYSTEM, case_id)["open_tasks"]] == ["Följ upp"]


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_runs_the_scheduler_and_delivery_beside_the_web_app(engine: Engine, clock: ManualClock,
                                                                 smtp: Mailbox, workers: int) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process, case_id = _long_running(engine, clock, smtp, "serve", "--port", str(port), "--workers", str(workers))
    try:
        _until(lambda: _fired(engine, case_id), process)
        _until(lambda: bool(smtp.to("mottagare@exempelby.se")), process)
        # The web process is spawned beside the scheduler and may still be starting.
        _until(lambda: _health(port) == 200, process)
        # The web processes work on the scheduler's database: they see the case it moved on (new
        # connections each time, which the kernel spreads over the processes).
        token = identity.issue_token(engine, identity.add_user(engine, "granskare", ["admin"]).name)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/cases/{case_id}",
                                         headers={"Authorization": f"Bearer {token}"})
        for _ in range(2 * workers):
            with urllib.request.urlopen(request, timeout=10) as answer:
                seen = json.loads(answer.read())
            assert [t["name"] for t in seen["open_tasks"]] == ["Följ upp"]
        if workers == 1:
            # A web process that dies is started again, and the service answers as before.
            web = _web_processes(process.pid)
            assert len(web) == 1
            os.kill(web[0], signal.SIGKILL)
            _until(lambda: _web_processes(process.pid) not in ([], web) and _health(port) == 200, process)
    finally:
        process.terminate()
        printed, _ = process.communicate(timeout=30)
    assert f"{workers} webbprocess{'er' if workers > 1 else ''})" in printed


def test_serve_refuses_a_port_another_server_listens_on(engine: Engine) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "RUTIN_DATABASE_URL": engine.settings.database_url,
               "RUTIN_DATA_DIR": str(engine.settings.data_dir)}
        done = subprocess.run([sys.executable, "-m", "webapp.cli", "serve", "--port", str(port)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"Porten {port} på 127.0.0.1 används redan" in done.stderr
    assert "Listening at" not in done.stdout + done.stderr


@pytest.mark.parametrize("env", [{}, {"RUTIN_WORKERS": "3"}])
def test_serve_starts_a_web_process_per_core_unless_told(engine: Engine, clock: ManualClock, smtp: Mailbox,
                                                         env: dict[str, str]) -> None:
    from webapp.cli import default_workers

    expected = int(env["RUTIN_WORKERS"]) if env else default_workers()
    assert default_workers() == max(1, min(len(os.sched_getaffinity(0)), 4))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process, _case_id = _long_running(engine, clock, smtp, "serve", "--port", str(port), extra=env)
    try:
        _until(lambda: _health(port) == 200 and len(_web_processes(process.pid)) == expected, process)
    finally:
        process.terminate()
        printed, _ = process.communicate(timeout=30)
    assert f"{expected} webbprocess{'er' if expected > 1 else ''})" in printed
