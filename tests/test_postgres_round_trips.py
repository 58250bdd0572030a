"""The PostgreSQL path's fewer round trips keep their promises (bench/README.md, "PostgreSQL round
trips"): a pooled connection the server dropped while it sat idle is replaced unseen; reads run
outside any transaction; a unit of work's writes go out in one pipeline, and a server error there
is SQLAlchemy's error as it would be without one (also in the pipeline a completion's writes share
with its COMMIT); candidates dropped and offered in one unit of
work end as they would written one by one (on SQLite too)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from conftest import PG_URL, fixture_bytes

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine
from engine.execution.runtime import CaseWork, lock_case
from engine.service import cases
from engine.store.models import TaskCandidate
from engine.store.pipeline import batched


def _pg(engine: Engine) -> None:
    if engine.db.is_sqlite:
        pytest.skip("PostgreSQL only")


def _libpq_url() -> str:
    assert PG_URL
    return PG_URL.replace("postgresql+psycopg://", "postgresql://")


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(engine: Engine) -> None:
    _pg(engine)
    engine.db.ping_after_idle_s = 0.0  # every checkout counts as idle, without waiting a second
    with engine.db.read() as s:
        pid = s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    with psycopg.connect(_libpq_url(), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    with engine.db.read() as s:
        assert s.execute(sa.text("SELECT pg_backend_pid()")).scalar_one() != pid


def test_reads_run_outside_a_transaction(engine: Engine) -> None:
    _pg(engine)
    with engine.db.read() as s:
        s.execute(sa.text("SELECT 1")).scalar_one()
        status = s.connection().connection.driver_connection.info.transaction_status  # type: ignore[union-attr]
        assert status == psycopg.pq.TransactionStatus.IDLE  # no BEGIN was sent
    with engine.db.write() as s:
        s.execute(sa.text("SELECT 1")).scalar_one()
        status = s.connection().connection.driver_connection.info.transaction_status  # type: ignore[union-attr]
        assert status == psycopg.pq.TransactionStatus.INTRANS


def _started_task(engine: Engine) -> tuple[str, str]:
    identity.add_user(engine, "hanna", ["Handläggare"])
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    case = cases.start_case(engine, identity.get_actor(engine, "hanna"), "seq3", {})
    return case["id"], case["open_tasks"][0]["id"]


def test_a_server_error_in_a_pipeline_is_sqlalchemys_and_nothing_is_written(engine: Engine) -> None:
    _pg(engine)
    _case_id, task_id = _started_task(engine)
    before = _candidates(engine, task_id)
    row: dict[str, Any] = {"task_id": task_id, "kind": "user", "key": "hugo", "created_at": engine.clock.now()}
    with pytest.raises(sa.exc.IntegrityError), engine.db.write() as s:
        conn = s.connection()
        with batched(conn):
            conn.execute(sa.insert(TaskCandidate.__table__).values([row]))
            conn.execute(sa.insert(TaskCandidate.__table__).values([row]))  # the same key again
    assert _candidates(engine, task_id) == before


def _candidates(engine: Engine, task_id: str) -> list[tuple[str, str]]:
    with engine.db.read() as s:
        return sorted((r.kind, r.key) for r in s.execute(
            sa.select(TaskCandidate.kind, TaskCandidate.key).where(TaskCandidate.task_id == task_id)))


@pytest.mark.parametrize("order", ["drop, then offer", "offer, then drop"])
def test_candidates_dropped_and_offered_in_one_unit_end_as_in_program_order(
        engine: Engine, order: str) -> None:
    case_id, task_id = _started_task(engine)
    before = _candidates(engine, task_id)
    assert before
    with engine.db.write() as s:
        found = lock_case(s, case_id)
        assert found is not None
        work = CaseWork(engine, s, found)
        if order == "drop, then offer":
            work.drop_candidates(task_id)
            work.add_candidates(task_id, [("user", "hugo")])
        else:
            work.add_candidates(task_id, [("user", "hugo")])
            work.drop_candidates(task_id)
    assert _candidates(engine, task_id) == ([("user", "hugo")] if order == "drop, then offer" else [])


def test_a_completions_writes_and_its_commit_go_in_one_pipeline(engine: Engine) -> None:
    _pg(engine)
    from engine.service import tasks

    _case_id, task_id = _started_task(engine)
    sent: list[tuple[str, bool]] = []

    def seen(conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        sent.append((sql.split()[0], bool(conn.connection.driver_connection.pgconn.pipeline_status)))

    sa.event.listen(engine.db.writer, "before_cursor_execute", seen)
    try:
        out = tasks.complete(engine, identity.get_actor(engine, "hanna"), task_id, {"antal": 1})
    finally:
        sa.event.remove(engine.db.writer, "before_cursor_execute", seen)
    assert sent[-1] == ("COMMIT", True)
    assert ("UPDATE", True) in sent and ("INSERT", True) in sent  # the rows, in the same pipeline
    assert out["case"]["open_tasks"]
    with engine.db.read() as s:  # and it was committed
        assert s.execute(sa.text("SELECT status FROM human_tasks WHERE id = :id"), {"id": task_id}).scalar() \
            == "completed"


def test_a_server_error_in_the_commits_pipeline_is_sqlalchemys_and_nothing_is_written(engine: Engine) -> None:
    _pg(engine)
    case_id, task_id = _started_task(engine)
    before = _candidates(engine, task_id)
    row: dict[str, Any] = {"task_id": task_id, "kind": "user", "key": "hugo", "created_at": engine.clock.now()}
    with pytest.raises(sa.exc.IntegrityError), engine.db.write() as s:
        conn = s.connection()
        lock_case(s, case_id)
        s.info.setdefault("before_commit", []).extend(
            [lambda: conn.execute(sa.insert(TaskCandidate.__table__).values([row]))] * 2)  # the same key again
    assert _candidates(engine, task_id) == before
    with engine.db.write() as s:  # the pool's connection writes on
        s.connection().execute(sa.insert(TaskCandidate.__table__).values([row]))
    assert _candidates(engine, task_id) == sorted([*before, ("user", "hugo")])
