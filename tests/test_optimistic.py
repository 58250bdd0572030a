"""Optimistic writes on SQLite (engine/store/optimistic.py): a change is computed on a snapshot and
written under the lock only if what it read still holds; otherwise it runs again the ordinary way.

SQLite only: on PostgreSQL a case's row lock lets processes overlap already, and the engine never
tries (the last test shows it)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import PG_URL, fixture_bytes

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.base.errors import Conflict
from engine.base.settings import Settings
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks
from engine.store import optimistic
from engine.store.db import Database

DUE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">
  <bpmn:process id="med_frist" name="Med frist" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
    <bpmn:userTask id="a" name="Utred" camunda:candidateGroups="Handläggare" camunda:dueDate="P5D"/>
    <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="b"/>
    <bpmn:userTask id="b" name="Besluta" camunda:candidateGroups="Handläggare" camunda:dueDate="P5D"/>
    <bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _engine(data_dir: Path, **env: str) -> Engine:
    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(data_dir), **env}), ManualClock())
    engine.migrate()
    identity.add_user(engine, "hanna", ["Handläggare"])
    identity.add_user(engine, "hugo", ["Handläggare"])
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    processes.deploy(engine, SYSTEM, fixture_bytes("parallel.bpmn"))
    processes.deploy(engine, SYSTEM, DUE.encode())
    return engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """An engine on SQLite, where writes are optimistic by default."""
    engine = _engine(tmp_path / "var")
    yield engine
    engine.close()


def _actor(engine: Engine, name: str) -> Any:
    return identity.get_actor(engine, name)


def _counts() -> dict[str, int]:
    return dict(optimistic.counts)


def _delta(before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in optimistic.counts.items() if v - before.get(k, 0)}


def _events(engine: Engine, case_id: str, type: str) -> list[Any]:
    with engine.db.read() as s:
        return list(s.execute(sa.text("SELECT task_id FROM case_events WHERE case_id = :c AND type = :t"),
                              {"c": case_id, "t": type}).scalars())


def _race(monkeypatch: pytest.MonkeyPatch, engine: Engine, rival: Any) -> dict[str, Any]:
    """Run `rival` to its commit on another thread at the moment the first optimistic attempt of
    this thread has computed its change and comes for the write lock."""
    real = Database._lock
    seen: dict[str, Any] = {}
    me = threading.get_ident()

    def lock(self: Database) -> bool:
        if threading.get_ident() == me and "rival" not in seen:
            seen["rival"] = None
            thread = threading.Thread(target=lambda: seen.update(rival=rival()))
            thread.start()
            thread.join(timeout=30)
        return real(self)

    monkeypatch.setattr(Database, "_lock", lock)
    return seen


def test_a_case_advances_by_optimistic_writes_that_are_checked_and_kept(sqlite_engine: Engine) -> None:
    engine, hanna = sqlite_engine, _actor(sqlite_engine, "hanna")
    before = _counts()
    case = cases.start_case(engine, hanna, "seq3", {"ärende": "BN 1"})
    for _ in range(3):
        done = tasks.complete(engine, hanna, case["open_tasks"][0]["id"], {"klar": True})
        case = done["case"]
    assert case["status"] == "completed"
    assert _delta(before) == {"tried": 4, "written": 4}
    full = cases.get_case(engine, hanna, case["id"])
    assert full["history_intact"] is True
    assert [e["type"] for e in full["history"]].count("task_completed") == 3
    assert full["data"]["ärende"] == "BN 1"


def test_the_write_lock_is_taken_after_the_change_is_computed(
        sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """What makes two processes overlap: the attempt holds no lock while SpiffWorkflow runs and the
    state is made; at the lock it has only its kept writes left to do."""
    engine, hanna = sqlite_engine, _actor(sqlite_engine, "hanna")
    case = cases.start_case(engine, hanna, "seq3", {})
    attempts: list[optimistic.Attempt] = []
    real_begin, real_lock = optimistic.begin, Database._lock
    at_lock: list[list[str]] = []

    def begin(unfit: set[int]) -> optimistic.Attempt:
        attempts.append(real_begin(unfit))
        return attempts[-1]

    def lock(self: Database) -> bool:
        at_lock.append([" ".join(re.match(r"(\w+) (?:INTO |FROM )?(\w+)", sql).groups())  # type: ignore[union-attr]
                        for sql, _ in attempts[-1].writes])
        return real_lock(self)

    monkeypatch.setattr(optimistic, "begin", begin)
    monkeypatch.setattr(Database, "_lock", lock)
    tasks.complete(engine, hanna, case["open_tasks"][0]["id"], {})
    [kept] = at_lock
    # The completed step's candidates, both task rows, the new step's candidates, the events, the case.
    assert {"DELETE task_candidates", "UPDATE human_tasks", "INSERT human_tasks", "INSERT task_candidates",
            "INSERT case_events", "UPDATE cases"} <= set(kept), kept


def test_a_completion_that_loses_the_race_runs_again_and_is_refused(
        sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, hanna, hugo = sqlite_engine, _actor(sqlite_engine, "hanna"), _actor(sqlite_engine, "hugo")
    case = cases.start_case(engine, hanna, "seq3", {})
    task_id = case["open_tasks"][0]["id"]
    seen = _race(monkeypatch, engine, lambda: tasks.complete(engine, hugo, task_id, {"beskrivning": "hugo"}))
    before = _counts()
    with pytest.raises(Conflict):
        tasks.complete(engine, hanna, task_id, {"beskrivning": "hanna"})
    assert seen["rival"]["task"]["completed_by"] == "hugo"
    # Hanna's attempt was computed, found the case changed under the lock, ran again and was refused.
    assert _delta(before)["again"] == 1
    assert _events(engine, case["id"], "task_completed") == [task_id]
    got = cases.get_case(engine, hugo, case["id"])
    assert got["history_intact"] is True
    assert got["data"]["beskrivning"] == "hugo"
    assert [t["name"] for t in got["open_tasks"]] == ["Steg två"]


def test_two_branches_completed_in_a_race_are_both_kept(
        sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, hanna = sqlite_engine, _actor(sqlite_engine, "hanna")
    identity.add_user(engine, "greta", ["Granskare"])
    greta = _actor(engine, "greta")
    case = cases.start_case(engine, hanna, "parallell", {})
    by_name = {t["name"]: t["id"] for t in case["open_tasks"]}
    task_a, task_b = by_name["Utred"], by_name["Yttra"]
    _race(monkeypatch, engine, lambda: tasks.complete(engine, greta, task_b, {"yttrande": "positivt"}))
    before = _counts()
    done = tasks.complete(engine, hanna, task_a, {"utredning": "klar"})
    assert _delta(before)["again"] == 1
    # Both branches are done and the join let the case on: nothing of the rival's change was lost.
    assert [t["name"] for t in done["case"]["open_tasks"]] == ["Besluta"]
    got = cases.get_case(engine, hanna, case["id"])
    assert (got["data"]["utredning"], got["data"]["yttrande"]) == ("klar", "positivt")
    assert sorted(_events(engine, case["id"], "task_completed")) == sorted([task_a, task_b])
    assert got["history_intact"] is True


def test_steps_with_due_dates_keep_their_timer_rows_in_the_attempt(sqlite_engine: Engine) -> None:
    """Escalation steps of a step with a due date are written with the change, not before it."""
    engine, hanna = sqlite_engine, _actor(sqlite_engine, "hanna")
    before = _counts()
    case = cases.start_case(engine, hanna, "med_frist", {})
    [first] = case["open_tasks"]
    done = tasks.complete(engine, hanna, first["id"], {})
    assert _delta(before) == {"tried": 2, "written": 2}
    [second] = done["case"]["open_tasks"]
    assert second["due"] is not None
    with engine.db.read() as s:
        rows = s.execute(sa.text("SELECT task_id, status, count(*) FROM timers WHERE case_id = :c "
                                 "GROUP BY task_id, status"), {"c": case["id"]}).all()
    by_task = {(task_id, status): n for task_id, status, n in rows}
    # The first step's ladder was cancelled with its completion; the second's is pending.
    assert by_task.get((first["id"], "pending")) is None and by_task[(first["id"], "cancelled")] > 0
    assert by_task[(second["id"], "pending")] > 0


def _unit_that_writes(engine: Engine, case_id: str, sql: str) -> Any:
    from engine.execution.runtime import CaseWork, lock_case

    def unit(_data: None) -> Any:
        with engine.db.write() as s:
            case = lock_case(s, case_id)
            assert case is not None
            work = CaseWork(engine, s, case)
            work.event("case_note", actor="hanna")
            s.execute(sa.text(sql), {"c": case_id})
            return case.event_count

    return unit


def test_a_change_with_a_write_it_cannot_keep_runs_the_ordinary_way(sqlite_engine: Engine) -> None:
    """A write outside the hot path's statements gives the attempt up before it happens; the
    change then runs with the lock held from its start, once, and that version is not tried again."""
    engine, hanna = sqlite_engine, _actor(sqlite_engine, "hanna")
    case = cases.start_case(engine, hanna, "seq3", {})
    before = _counts()
    engine.db.optimistic(_unit_that_writes(engine, case["id"], "UPDATE cases SET business_key = 'BN 7' WHERE id = :c"),
                         None)
    assert _delta(before) == {"tried": 1, "again": 1}
    with engine.db.read() as s:
        assert s.execute(sa.text("SELECT business_key FROM cases WHERE id = :c"),
                         {"c": case["id"]}).scalar() == "BN 7"
    assert len(_events(engine, case["id"], "case_note")) == 1
    assert cases.get_case(engine, hanna, case["id"])["history_intact"] is True
    before = _counts()
    tasks.complete(engine, hanna, case["open_tasks"][0]["id"], {})
    assert _delta(before) == {"tried": 1, "again": 1}  # given up at once, before any work
    assert cases.get_case(engine, hanna, case["id"])["history_intact"] is True


def test_a_read_of_what_the_attempt_has_kept_runs_the_ordinary_way(sqlite_engine: Engine) -> None:
    """The database does not show an attempt its kept writes: reading them gives the attempt up."""
    engine, hanna = sqlite_engine, _actor(sqlite_engine, "hanna")
    case = cases.start_case(engine, hanna, "seq3", {})
    task_id = case["open_tasks"][0]["id"]
    from engine.execution.runtime import drop_candidates

    def unit(_data: None) -> int:
        with engine.db.write() as s:
            drop_candidates(s.connection(), task_id)
            return int(s.execute(sa.text("SELECT count(*) FROM task_candidates WHERE task_id = :t"),
                                 {"t": task_id}).scalar() or 0)

    before = _counts()
    assert engine.db.optimistic(unit, None) == 0  # as the ordinary way sees it, not the snapshot's rows
    assert _delta(before) == {"tried": 1, "again": 1}


def test_optimistic_writes_can_be_turned_off(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "var", RUTIN_OPTIMISTIC_WRITES="0")
    try:
        hanna = _actor(engine, "hanna")
        before = _counts()
        case = cases.start_case(engine, hanna, "seq3", {})
        tasks.complete(engine, hanna, case["open_tasks"][0]["id"], {})
        assert _delta(before) == {}
    finally:
        engine.close()


@pytest.mark.skipif(not PG_URL, reason="needs RUTIN_TEST_DATABASE_URL (PostgreSQL)")
@pytest.mark.parametrize("backend", ["postgresql"])
def test_postgresql_never_tries(engine: Engine) -> None:
    identity.add_user(engine, "hanna", ["Handläggare"])
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    hanna = _actor(engine, "hanna")
    before = _counts()
    case = cases.start_case(engine, hanna, "seq3", {})
    tasks.complete(engine, hanna, case["open_tasks"][0]["id"], {})
    assert _delta(before) == {}


def test_the_shipped_processes_with_timers_and_deadlines_are_written_optimistically(tmp_path: Path) -> None:
    """Their steps have due dates and escalation ladders, the case clock keeps its own timers, and
    bygglov waits on BPMN timers: each part's timer rows are kept apart, so one part's kept writes
    do not give up the attempt that reads another part's."""
    from conftest import ROOT

    from engine.service import demo

    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(tmp_path / "var")}), ManualClock())
    engine.migrate()
    try:
        demo.load(engine, ROOT / "workflows")
        admin = _actor(engine, "admin")
        for key, unit in (("gdpr_registerutdrag", "kansli"), ("bygglov", "bygglov")):
            before = _counts()
            case = cases.start_case(engine, admin, key, {}, org_unit=unit)
            first = case["open_tasks"][0]
            data = {f["id"]: "2026-03-02" if f["type"] == "date" else "Enligt rutinen"
                    for f in first.get("form", []) if f.get("required")}
            done = tasks.complete(engine, admin, first["id"], data)
            assert _delta(before) == {"tried": 2, "written": 2}, key
            with engine.db.read() as s:
                pending = s.execute(sa.text("SELECT count(*) FROM timers WHERE case_id = :c AND status = 'pending'"),
                                    {"c": case["id"]}).scalar()
            assert pending, key
            assert done["case"]["open_tasks"], key
    finally:
        engine.close()


BRANCH_WORKER = """
import json, sys
sys.path.insert(0, {root!r})
from engine.authority import identity
from engine.store import optimistic
from engine.service import tasks
from engine.base.clock import ManualClock
from engine.core import Engine
from engine.base.errors import Busy
from engine.base.settings import Settings
engine = Engine(Settings.from_env({{"RUTIN_DATA_DIR": sys.argv[1]}}), ManualClock())
actor = identity.get_actor(engine, sys.argv[2])
ids = json.loads(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()
for task_id in ids:
    while True:
        try:
            tasks.complete(engine, actor, task_id, {{sys.argv[4]: task_id}})
            break
        except Busy:
            continue
print(json.dumps(dict(optimistic.counts)), flush=True)
engine.close()
"""


def test_two_processes_completing_both_branches_of_the_same_cases_lose_nothing(tmp_path: Path) -> None:
    """Two processes on one database, each completing one branch of the same cases at once: their
    attempts collide on every case they meet together, and each change is still kept exactly once."""
    import json
    import subprocess
    import sys

    from conftest import ROOT

    data_dir = tmp_path / "var"
    engine = _engine(data_dir)
    identity.add_user(engine, "greta", ["Granskare"])
    hanna = _actor(engine, "hanna")
    started = [cases.start_case(engine, hanna, "parallell", {}) for _ in range(40)]
    by_name = [{t["name"]: t["id"] for t in c["open_tasks"]} for c in started]
    workers = [subprocess.Popen([sys.executable, "-c", BRANCH_WORKER.format(root=str(ROOT)), str(data_dir), who,
                                 json.dumps([b[name] for b in by_name]), field], cwd=ROOT, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
               for who, name, field in (("hanna", "Utred", "utredning"), ("greta", "Yttra", "yttrande"))]
    try:
        for w in workers:
            assert w.stdout is not None and w.stdout.readline().strip() == "ready"
        for w in workers:
            assert w.stdin is not None
            w.stdin.write("go\n")
            w.stdin.flush()
        outputs = [w.communicate(timeout=300)[0] for w in workers]
    finally:
        for w in workers:
            w.kill()
    assert all(w.returncode == 0 for w in workers), outputs
    counts = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    assert sum(c.get("written", 0) for c in counts) > 0
    for case, names in zip(started, by_name, strict=True):
        got = cases.get_case(engine, hanna, case["id"])
        assert [t["name"] for t in got["open_tasks"]] == ["Besluta"], got["open_tasks"]
        assert (got["data"]["utredning"], got["data"]["yttrande"]) == (names["Utred"], names["Yttra"])
        assert sorted(_events(engine, case["id"], "task_completed")) == sorted(names.values())
        assert got["history_intact"] is True
    engine.close()
