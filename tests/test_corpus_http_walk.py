"""Every deployable corpus process walked to its end through the HTTP API, on SQLite.

The same honest walk as `make corpus` (`bench.honest_walk`: users holding the roles the tasks are
offered to, what a form would send, decisions by choice, no injected variable, no retry), but every
act goes through the API as a person with a token: upload, approval, start, reading the case and
the task, completing it, delivering a message a case waits for. Timers are fired as the service's
worker fires them: the manual clock moved to the timer and the scheduler ticked. No answer may be
a 5xx, no timer's firing may raise (the worker's 500), and a case that stops must stop where an
upload warning said it would (`bench.corpus.predicted`).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import CORPUS_DIR, Person

from bench.corpus import bpmn_files, predicted, tool_folder
from bench.honest_walk import People, Stop, walk
from engine.authority import identity
from engine.authority.identity import SYSTEM, Actor
from engine.base.errors import RutinError
from engine.core import Engine
from engine.service import walkthrough
from engine.store.models import Timer

FILES = bpmn_files(CORPUS_DIR) if CORPUS_DIR.is_dir() else []

pytestmark = pytest.mark.skipif(not FILES, reason="the shared corpus is not on this machine")


class HttpDoor:
    """The walk's acts as HTTP requests; every answer of 5xx is recorded with where it came."""

    def __init__(self, client: Any, engine: Engine, admin: Person) -> None:
        self.client, self.engine, self.admin = client, engine, admin
        self.tokens: dict[str, dict[str, str]] = {}
        self.errors: list[str] = []
        self.requests = 0

    def headers(self, actor: Actor) -> dict[str, str]:
        """The Authorization header of `actor` (the administrator's for the system)."""
        if actor.name == SYSTEM.name:
            return self.admin.headers
        if actor.name not in self.tokens:
            self.tokens[actor.name] = {"Authorization": f"Bearer {identity.issue_token(self.engine, actor.name)}"}
        return self.tokens[actor.name]

    def call(self, method: str, url: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> Any:
        """One request; a 5xx is recorded, a 4xx raised as the refusal it is."""
        self.requests += 1
        r = self.client.open(url, method=method, headers=headers, json=body)
        if r.status_code >= 500:
            self.errors.append(f"{method} {url}: {r.status_code} {r.get_data(as_text=True)[:300]}")
        if r.status_code >= 400:
            problem = r.get_json(silent=True) or {}
            raise RutinError(str(problem.get("detail") or r.status_code))
        return r.get_json()

    def start(self, key: str, data: dict[str, Any] | None) -> str:
        """Start a case as the administrator."""
        return str(self.call("POST", f"/api/processes/{key}/cases", self.admin.headers,
                             {"data": data} if data else {})["id"])

    def case(self, case_id: str) -> dict[str, Any]:
        """The case as the administrator reads it."""
        found: dict[str, Any] = self.call("GET", f"/api/cases/{case_id}", self.admin.headers)
        return found

    def task(self, actor: Actor, task_id: str) -> dict[str, Any]:
        """The task as the person taking it reads it."""
        found: dict[str, Any] = self.call("GET", f"/api/tasks/{task_id}", self.headers(actor))
        return found

    def complete(self, actor: Actor, task_id: str, data: dict[str, Any] | None, choice: Any,
                 no_conflict_of_interest: bool | None) -> None:
        """Complete the task as the person taking it."""
        body: dict[str, Any] = {"choice": choice} if choice is not None else {"data": data or {}}
        if no_conflict_of_interest is not None:
            body["no_conflict_of_interest"] = no_conflict_of_interest
        self.call("POST", f"/api/tasks/{task_id}/complete", self.headers(actor), body)

    def deliver(self, case_id: str, name: str) -> bool:
        """Deliver a message with no payload as the administrator."""
        try:
            self.call("POST", f"/api/cases/{case_id}/messages/{name}", self.admin.headers, {})
        except RutinError:
            return False
        return True

    def next_timer(self, case_id: str) -> bool:
        """As the worker does: the clock to the timer, then the scheduler's tick. A firing that
        raised (the worker's 500: the tick records it on the timer and retries later) is recorded."""
        fired = walkthrough.next_timer(self.engine, case_id)
        with self.engine.db.read() as s:
            failed = s.execute(sa.select(Timer.id, Timer.last_error).where(
                Timer.case_id == case_id, Timer.last_error.is_not(None))).all()
        self.errors += [f"timer {row.id} of case {case_id}: {row.last_error}" for row in failed]
        return fired


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_every_corpus_process_walks_to_its_end_through_the_api(client: Any, engine: Engine,
                                                               people: dict[str, Person]) -> None:
    door = HttpDoor(client, engine, people["admin"])
    walkers = People(engine, everyone=("medarbetare",))
    upload = {**people["designer"].headers, "Content-Type": "application/xml"}
    counts: Counter[str] = Counter()
    walked_before: dict[tuple[bytes, str], Stop] = {}
    unpredicted: list[str] = []
    for path in FILES:
        data = path.read_bytes()
        counts["files"] += 1
        r = client.post("/api/processes", data=data, headers={**upload, "X-Filename": path.name})
        assert r.status_code < 500, (path, r.status_code, r.get_data(as_text=True)[:300])
        if r.status_code == 422:
            counts["refused"] += 1
            continue
        assert r.status_code in (200, 201), (path, r.status_code)
        counts["deployed"] += 1
        names = walkthrough.message_names(data)
        digest = hashlib.sha256(data).digest()
        for proc in r.get_json()["processes"]:
            counts["processes"] += 1
            stop = walked_before.get((digest, proc["key"]))
            if stop is None:
                base = f"/api/processes/{proc['key']}/versions/{proc['version']}"
                if proc["status"] == "draft":
                    a = client.post(f"{base}/approve", json={}, headers=people["admin"].headers)
                    assert a.status_code == 200, (path, proc["key"], a.status_code, a.get_data(as_text=True)[:300])
                version = client.get(base, headers=people["admin"].headers)
                assert version.status_code == 200, (path, proc["key"])
                stop = walk(engine, walkers, proc["key"], names, version.get_json()["start_form"], door=door)
                walked_before[(digest, proc["key"])] = stop
            if stop.status == "completed":
                counts["walked"] += 1
            elif predicted(proc["diagnostics"], stop.element_id, stop.reason, stop.visited, stop.waiting):
                counts["stopped with warning"] += 1
            else:
                counts["stopped without warning"] += 1
                unpredicted.append(f"{tool_folder(CORPUS_DIR, path)}/{path.name} {proc['key']} {stop.status} "
                                   f"at {stop.element_id}: {stop.reason}")
    counts["requests"] = door.requests
    print(f"\ncorpus through the API: {dict(counts)}")
    assert not door.errors, sorted(set(door.errors))
    assert not unpredicted, unpredicted
    assert counts["walked"] + counts["stopped with warning"] == counts["processes"] > 0, counts
    # What `make corpus` walks through the engine, the API walks too (bench/README.md: 721 of 743).
    assert counts["walked"] >= 0.95 * counts["processes"], counts

