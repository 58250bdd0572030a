"""On PostgreSQL the hot path's statements go straight to psycopg (``engine/store/prepared.py``),
and that changes nothing but speed: random sequences of starts, completions, claims, hand-overs
and time passing leave the same database, row for row, and the same history with
``RUTIN_DIRECT_STATEMENTS=1`` and ``=0`` (through SQLAlchemy); a server error there is
SQLAlchemy's error, as it would be without the direct path, and writes nothing; a connection
the server dropped is invalidated, so the next unit of work gets a working one; and SQLAlchemy's
statement listeners still hear every statement.

The sequences and the comparison are those of the SQLite fast path's equivalence test
(``tests/test_optimistic_equivalence.py``)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from conftest import PG_URL, _truncate_pg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_optimistic_equivalence import _seeded_ids, assert_same, ops, played, populated
from test_postgres_round_trips import _candidates

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.base.settings import Settings
from engine.core import Engine
from engine.execution.runtime import lock_case
from engine.service import cases
from engine.store.models import TaskCandidate
from engine.store.prepared import DIRECT, Prepared

pytestmark = pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: RUTIN_TEST_DATABASE_URL is not set")


def _engine(data_dir: Path, direct: str) -> Engine:
    assert PG_URL
    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(data_dir), "RUTIN_DATABASE_URL": PG_URL,
                                       "RUTIN_DIRECT_STATEMENTS": direct}), ManualClock())
    # The same start for every run, whatever the database held: the newest schema, no rows but
    # Rutin's own processes (which migrating deploys).
    engine.migrate()
    _truncate_pg(PG_URL)
    engine.migrate()
    return populated(engine)


def _run(monkeypatch: pytest.MonkeyPatch, data_dir: Path, direct: str, seed: int,
         sequence: list[tuple[Any, ...]]) -> tuple[list[str], dict[str, list[tuple[Any, ...]]], int]:
    with _seeded_ids(monkeypatch, seed):
        engine = _engine(data_dir, direct)
        direct_runs = [0]
        real = psycopg.Cursor.execute

        def counted(cursor: Any, query: Any, *args: Any, **kwargs: Any) -> Any:
            # The direct path's SQL has positional parameters (``%s``); SQLAlchemy's psycopg
            # dialect sends named ones (``%(name)s``): counting them shows which path ran.
            if isinstance(query, str) and "%s" in query:
                direct_runs[0] += 1
            return real(cursor, query, *args, **kwargs)

        with monkeypatch.context() as m:
            m.setattr(psycopg.Cursor, "execute", counted)
            outcomes, state = played(engine, sequence)
    return outcomes, state, direct_runs[0]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=st.lists(ops, min_size=1, max_size=12), seed=st.integers(0, 2**32))
def test_direct_and_sqlalchemy_statements_leave_the_same_database(
        monkeypatch: pytest.MonkeyPatch, sequence: list[tuple[Any, ...]], seed: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        direct = _run(monkeypatch, Path(tmp) / "direct", "1", seed, sequence)
        plain = _run(monkeypatch, Path(tmp) / "plain", "0", seed, sequence)
    assert_same(direct[:2], plain[:2])
    assert plain[2] == 0, "with RUTIN_DIRECT_STATEMENTS=0 every statement goes through SQLAlchemy"
    if any(o.startswith(("started", "completed")) for o in direct[0]):
        assert direct[2] > 0, "the direct run must have sent statements straight to psycopg"


def _pg_engine(tmp_path: Path) -> Engine:
    return _engine(tmp_path / "var", "1")


def _started(engine: Engine) -> tuple[str, str]:
    case = cases.start_case(engine, identity.get_actor(engine, "hanna"), "seq3", {})
    return case["id"], case["open_tasks"][0]["id"]


_INSERT_CANDIDATE = Prepared(sa.insert(TaskCandidate.__table__))


def test_a_server_error_on_the_direct_path_is_sqlalchemys_and_nothing_is_written(tmp_path: Path) -> None:
    engine = _pg_engine(tmp_path)
    try:
        case_id, task_id = _started(engine)
        before = _candidates(engine, task_id)
        row: dict[str, Any] = {"task_id": task_id, "kind": "user", "key": "hugo", "created_at": engine.clock.now()}
        with pytest.raises(sa.exc.IntegrityError) as raised, engine.db.write() as s:
            conn = s.connection()
            assert conn.get_execution_options()[DIRECT] is True
            lock_case(s, case_id)
            _INSERT_CANDIDATE.run(conn, row)
            _INSERT_CANDIDATE.run(conn, row)  # the same key again
        assert isinstance(raised.value.orig, psycopg.errors.UniqueViolation)
        assert _candidates(engine, task_id) == before  # the first insert was rolled back with it
        with engine.db.write() as s:  # the pool's connection writes on
            _INSERT_CANDIDATE.run(s.connection(), row)
        assert _candidates(engine, task_id) == sorted([*before, ("user", "hugo")])
    finally:
        engine.close()


def test_a_connection_the_server_dropped_is_invalidated_on_the_direct_path(tmp_path: Path) -> None:
    assert PG_URL
    engine = _pg_engine(tmp_path)
    try:
        _case_id, task_id = _started(engine)
        engine.db.ping_after_idle_s = 1e9  # no liveness ping: the dropped connection is used
        engine.db.writer.dispose()
        with engine.db.write() as s:
            pid = s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
            assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        task_by_id = Prepared(sa.select(TaskCandidate.key).where(TaskCandidate.task_id == sa.bindparam("t")))
        with pytest.raises(sa.exc.OperationalError) as raised, engine.db.write() as s:
            task_by_id.rows(s.connection(), {"t": task_id})
        assert raised.value.connection_invalidated is True
        with engine.db.write() as s:  # the next unit of work gets a working connection
            assert s.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pid
            assert task_by_id.rows(s.connection(), {"t": task_id}) == [{"key": k} for _, k in _candidates(engine, task_id)]
    finally:
        engine.close()


def test_statement_listeners_hear_the_direct_path(tmp_path: Path) -> None:
    engine = _pg_engine(tmp_path)
    heard: list[str] = []

    def seen(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        heard.append(" ".join(sql.split()[:3]))

    sa.event.listen(engine.db.writer, "before_cursor_execute", seen)
    try:
        _started(engine)
    finally:
        sa.event.remove(engine.db.writer, "before_cursor_execute", seen)
        engine.close()
    assert "INSERT INTO cases" in heard and "INSERT INTO human_tasks" in heard and "INSERT INTO case_events" in heard
