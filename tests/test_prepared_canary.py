"""The canary for ``engine/store/prepared.py``: what the hot path sends straight to the DB-API
cursor is what SQLAlchemy itself sends for the same statement and values, on each database.

``prepared.py`` reads SQLAlchemy's compiled form (``positiontup``, ``binds``, ``insert_prefetch``,
the ``POSTCOMPILE`` marker of an expanding list) and the types' own processors. Those are not
public API: an upgrade of SQLAlchemy that changes them fails here first, by statement and by
value, before the equivalence tests (``test_optimistic_equivalence.py``,
``test_direct_statements.py``) find a row that differs."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa

from engine.authority import identity
from engine.core import Engine
from engine.execution import runtime
from engine.records import history
from engine.store.models import TaskCandidate
from engine.store.prepared import Prepared


class _Sent(Exception):
    """Stops the statement once SQLAlchemy has handed it to the cursor."""


def _sqlalchemy_sends(engine: Engine, stmt: Any, params: dict[str, Any]) -> tuple[str, Any]:
    """The SQL and parameters SQLAlchemy's own execution gives the DB-API cursor (nothing runs)."""
    sent: list[tuple[str, Any]] = []

    def seen(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_args: Any) -> None:
        sent.append((sql, parameters))
        raise _Sent()

    with pytest.raises(_Sent), engine.db.write() as s:
        conn = s.connection()
        sa.event.listen(conn, "before_cursor_execute", seen)
        conn.execute(stmt, params)
    return sent[0]


def _plain(value: Any) -> Any:
    # psycopg's JSON wrapper (SQLAlchemy's bind processor on PostgreSQL) has no equality of its own.
    if type(value).__name__ in ("Json", "Jsonb"):
        return ("json", value.obj)
    return value


def _ours(engine: Engine, prepared: Prepared, params: dict[str, Any]) -> tuple[str, list[Any]]:
    with engine.db.write() as s:
        compiled = prepared._for(s.connection(), params)
    assert compiled is not None, "the statement must take the direct path"
    return compiled.params(params)


def _same(engine: Engine, prepared: Prepared, params: dict[str, Any], *, stmt: Any = None) -> None:
    theirs_sql, theirs = _sqlalchemy_sends(engine, stmt if stmt is not None else prepared.stmt, params)
    ours_sql, ours = _ours(engine, prepared, params)
    if engine.db.is_sqlite:
        assert ours_sql == theirs_sql
        assert [_plain(v) for v in ours] == [_plain(v) for v in theirs]
        return
    # PostgreSQL: SQLAlchemy's psycopg dialect names its parameters (%(name)s), ours are positional.
    names = re.findall(r"%\((\w+)\)s", theirs_sql)
    assert ours_sql == re.sub(r"%\(\w+\)s", "%s", theirs_sql)
    assert [_plain(v) for v in ours] == [_plain(theirs[n]) for n in names]


def test_an_insert_with_a_time_sends_what_sqlalchemy_sends(engine: Engine) -> None:
    row = {"task_id": "t-1", "kind": "user", "key": "hugo", "created_at": engine.clock.now()}
    prepared = Prepared(sa.insert(cast(sa.Table, TaskCandidate.__table__)))
    _same(engine, prepared, row, stmt=prepared._unanswered)


def test_a_history_event_with_json_sends_what_sqlalchemy_sends(engine: Engine) -> None:
    event = {"case_id": "c-1", "seq": 3, "type": "task_completed", "actor": "hanna", "role": "Handläggare",
             "task_id": "t-1", "element_id": "Steg1", "process_version_id": 1,
             "data": {"name": "Steg ett", "data": {"belopp": 1200, "klar": True, "namn": "Åsa Öberg"}},
             "at": engine.clock.now(), "prev_hash": "a" * 64, "hash": "b" * 64}
    _same(engine, history._INSERT, event, stmt=history._INSERT._unanswered)


def test_an_update_of_a_task_sends_what_sqlalchemy_sends(engine: Engine) -> None:
    now = engine.clock.now()
    values = {"b_id": "t-1", **dict.fromkeys(runtime._TASK_MUTABLE)}
    values.update(status="completed", priority=50, due_at=now + timedelta(days=3), completed_at=now,
                  completed_by="hanna", candidates=["Handläggare"], result={"beslut": "bifall"})
    _same(engine, runtime._P_UPDATE_TASK, values)


def test_a_read_with_a_boolean_and_a_null_sends_what_sqlalchemy_sends_and_reads_the_same(engine: Engine) -> None:
    identity.add_user(engine, "hanna", ["Handläggare"])
    token = identity.issue_token(engine, "hanna")
    digest = identity._hash_token(token)
    _same(engine, identity._LIVE_TOKEN, {"digest": digest})
    with engine.db.read() as s:
        conn = s.connection()
        theirs = [dict(r) for r in conn.execute(identity._LIVE_TOKEN.stmt, {"digest": digest}).mappings()]
        ours = identity._LIVE_TOKEN.rows(conn, {"digest": digest})
    assert ours == theirs and len(ours) == 1
    assert ours[0]["expires_at"].tzinfo is not None  # a time read back is the type's, zone and all


def test_an_expanding_list_sends_what_sqlalchemy_sends(engine: Engine) -> None:
    params = {"case_id": "c-1", "ids": ["t-1", "t-2", "t-3"]}
    if engine.db.is_sqlite:
        _same(engine, runtime._P_CASE_TASKS, params)
        return
    # On PostgreSQL SQLAlchemy casts each value of the list (%(ids_1_1)s::VARCHAR); ours go without.
    theirs_sql, theirs = _sqlalchemy_sends(engine, runtime.CASE_TASKS, params)
    ours_sql, ours = _ours(engine, runtime._P_CASE_TASKS, params)
    assert ours_sql == re.sub(r"%\(\w+\)s", "%s", re.sub(r"(%\(ids_\w+\)s)::VARCHAR", r"\1", theirs_sql))
    assert ours == [theirs[n] for n in re.findall(r"%\((\w+)\)s", theirs_sql)]
    empty_sql, empty = _ours(engine, runtime._P_CASE_TASKS, {"case_id": "c-1", "ids": []})
    assert "IN (NULL)" in empty_sql and "POSTCOMPILE" not in empty_sql and empty == ["c-1", "open"]
