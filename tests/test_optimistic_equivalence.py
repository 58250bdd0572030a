"""The SQLite fast path changes nothing but speed: random sequences of starts, completions, claims,
hand-overs and time passing leave the same database, row for row, and the same history whether
writes are optimistic (``RUTIN_OPTIMISTIC_WRITES=1``, engine/store/optimistic.py) or ordinary
(``=0``).

Both runs draw ids from one seeded sequence (SpiffWorkflow's task ids and Rutin's case ids come
from ``uuid4``), so equal work gives equal rows; the clock is a ManualClock moved by the sequence.
The one wall-clock value in a row is SpiffWorkflow's ``last_state_change`` inside the serialized
workflow (it reads ``time.time()``, which Rutin never uses): it is blanked before comparing.
"""

from __future__ import annotations

import random
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import fixture_bytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.base.errors import RutinError
from engine.base.settings import Settings
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks
from engine.store import optimistic

USERS = ("hanna", "hugo", "greta", "admin")
PROCESSES = ("seq3", "parallell")

ops = st.one_of(
    st.tuples(st.just("start"), st.integers(0, len(PROCESSES) - 1), st.integers(0, len(USERS) - 1)),
    st.tuples(st.just("complete"), st.integers(0, 7), st.integers(0, len(USERS) - 1), st.sampled_from(["ja", "nej", ""])),
    st.tuples(st.just("claim"), st.integers(0, 7), st.integers(0, len(USERS) - 1)),
    st.tuples(st.just("unclaim"), st.integers(0, 7), st.integers(0, len(USERS) - 1)),
    st.tuples(st.just("hand_over"), st.integers(0, 7), st.integers(0, len(USERS) - 1), st.integers(0, len(USERS) - 1)),
    st.tuples(st.just("advance"), st.integers(1, 72)),
)


@contextmanager
def _seeded_ids(monkeypatch: pytest.MonkeyPatch, seed: int) -> Iterator[None]:
    """Make every uuid4 drawn by SpiffWorkflow and by case creation come from one seeded sequence."""
    rng = random.Random(seed)

    def uuid4() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    with monkeypatch.context() as m:
        m.setattr("SpiffWorkflow.task.uuid4", uuid4)
        m.setattr(uuid, "uuid4", uuid4)
        yield


def _engine(data_dir: Path, optimistic_writes: str) -> Engine:
    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(data_dir),
                                       "RUTIN_OPTIMISTIC_WRITES": optimistic_writes}), ManualClock())
    engine.migrate()
    return populated(engine)


def populated(engine: Engine) -> Engine:
    """The people and processes every sequence works with, on a migrated engine."""
    identity.add_user(engine, "hanna", ["Handläggare"])
    identity.add_user(engine, "hugo", ["Handläggare"])
    identity.add_user(engine, "greta", ["Granskare", "Handläggare"])
    identity.add_user(engine, "admin", ["admin"])
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    processes.deploy(engine, SYSTEM, fixture_bytes("parallel.bpmn"))
    return engine


def _open_tasks(engine: Engine) -> list[str]:
    with engine.db.read() as s:
        return list(s.execute(sa.text("SELECT id FROM human_tasks WHERE status = 'open' ORDER BY id")).scalars())


def _apply(engine: Engine, op: tuple[Any, ...]) -> str:
    """Apply one operation; the outcome (or the refusal) as a comparable string."""
    kind = op[0]
    if kind == "advance":
        engine.clock.advance(timedelta(hours=op[1]))  # type: ignore[attr-defined]
        return "advanced"
    if kind == "start":
        actor = identity.get_actor(engine, USERS[op[2]])
        try:
            return "started " + cases.start_case(engine, actor, PROCESSES[op[1]], {"ärende": "BN 1"})["id"]
        except RutinError as e:
            return f"{type(e).__name__}: {e}"
    open_ids = _open_tasks(engine)
    if not open_ids:
        return "no open task"
    task_id = open_ids[op[1] % len(open_ids)]
    actor = identity.get_actor(engine, USERS[op[2]])
    try:
        if kind == "complete":
            done = tasks.complete(engine, actor, task_id, {"beskrivning": op[3], "klar": op[3] == "ja"})
            return f"completed {task_id} -> {done['case']['status']}"
        if kind == "claim":
            return f"claimed {tasks.claim(engine, actor, task_id)['assignee']}"
        if kind == "unclaim":
            return f"unclaimed {tasks.unclaim(engine, actor, task_id)['assignee']}"
        return f"handed over {tasks.hand_over(engine, actor, task_id, USERS[op[3]])['assignee']}"
    except RutinError as e:
        return f"{type(e).__name__}: {e}"


WALL_CLOCK = re.compile(r'"last_state_change":\s*[0-9.eE+-]+')


def _plain(value: Any) -> Any:
    return WALL_CLOCK.sub('"last_state_change":0', value) if isinstance(value, str) else value


def _dump(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    with engine.db.read() as s:
        conn = s.connection()
        names = sorted(sa.inspect(conn).get_table_names())
        return {name: sorted((tuple(_plain(v) for v in row) for row in conn.execute(sa.text(f'SELECT * FROM "{name}"'))), key=repr)
                for name in names if name != "alembic_version"}


def played(engine: Engine, sequence: list[tuple[Any, ...]]) -> tuple[list[str], dict[str, list[tuple[Any, ...]]]]:
    """Apply `sequence` on `engine` (closed afterwards): each operation's outcome, and every row
    of every table; every case started keeps an intact history."""
    try:
        outcomes = [_apply(engine, op) for op in sequence]
        for case_id in {o.split()[1] for o in outcomes if o.startswith("started ")}:
            assert cases.get_case(engine, SYSTEM, case_id)["history_intact"] is True
        return outcomes, _dump(engine)
    finally:
        engine.close()


def assert_same(one: tuple[list[str], dict[str, Any]], other: tuple[list[str], dict[str, Any]]) -> None:
    """Two runs of one sequence gave the same outcomes and left the same rows, table by table."""
    assert one[0] == other[0]
    for table in one[1]:
        assert one[1][table] == other[1][table], table
    assert one[1].keys() == other[1].keys()


def _run(monkeypatch: pytest.MonkeyPatch, data_dir: Path, optimistic_writes: str, seed: int,
         sequence: list[tuple[Any, ...]]) -> tuple[list[str], dict[str, list[tuple[Any, ...]]], dict[str, int]]:
    before = dict(optimistic.counts)
    with _seeded_ids(monkeypatch, seed):
        outcomes, state = played(_engine(data_dir, optimistic_writes), sequence)
    used = {k: v - before.get(k, 0) for k, v in optimistic.counts.items() if v - before.get(k, 0)}
    return outcomes, state, used


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(ops, min_size=1, max_size=14), seed=st.integers(0, 2**32))
def test_optimistic_and_ordinary_writes_leave_the_same_database(
        monkeypatch: pytest.MonkeyPatch, sequence: list[tuple[Any, ...]], seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        fast = _run(monkeypatch, Path(tmp) / "fast", "1", seed, sequence)
        plain = _run(monkeypatch, Path(tmp) / "plain", "0", seed, sequence)
    assert_same(fast[:2], plain[:2])
    assert not plain[2], "the ordinary run must not take the fast path"
    if any(o.startswith(("started", "completed")) for o in fast[0]):
        assert fast[2].get("written"), "the fast run must have written optimistically"
