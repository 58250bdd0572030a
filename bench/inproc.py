"""Benchmarks `engine` and `wsgi`: the seq3 workload through the engine functions in this
process, and through the Flask app called as a WSGI callable (no socket, no server)."""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import DATA, LANE, SEQ3, CompleteFn, StartFn, case_figures, run_cases  # noqa: E402


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
