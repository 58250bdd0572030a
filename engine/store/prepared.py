"""Hot-path statements, compiled once and run straight on the DB-API cursor.

A task completion runs about ten statements. Through SQLAlchemy's execution layer each one costs
several times what SQLite takes to run it, which made SQLAlchemy the largest single cost of a
completion; on PostgreSQL the same layer, with psycopg's building of every result's column
description that it asks for, was a large share of the web process's CPU (figures in
`bench/README.md`). Nothing in SQLAlchemy's public API
skips that layer for a prepared statement, so this module does, and only that: statements are
still built with SQLAlchemy Core and compiled once by SQLAlchemy's own dialect for the database,
and every value still goes through its column type's own bind and result processors (UTC
datetimes, JSON, booleans), so what is stored is byte for byte what SQLAlchemy would store. The
statements run inside the caller's transaction, on the connection SQLAlchemy checked out for it;
during an optimistic unit of work on SQLite (``engine/store/optimistic.py``) reads are also
recorded, to be checked, and writes kept, to be run after the check.

On PostgreSQL the statement goes to psycopg's cursor as SQLAlchemy would send it (the psycopg
dialect's SQL with its casts, positional parameters), so psycopg prepares it on the server after a
few runs as it does any other, and inside a pipeline (``engine/store/pipeline.py``) a write is
queued, not waited for. A psycopg error is raised as SQLAlchemy's, as SQLAlchemy raises it, and a
connection the server dropped is invalidated, as SQLAlchemy does. ``RUTIN_DIRECT_STATEMENTS=0``
sends them through SQLAlchemy instead (the equivalence test compares the two).

What this reads of SQLAlchemy's compiled form is not public API; ``tests/test_prepared_canary.py``
checks, statement by statement and value by value, that what goes to the cursor here is what
SQLAlchemy itself sends, so an upgrade that changes it fails there first.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import BindParameter

from . import optimistic

_DIALECT = sqlite.dialect()
# The psycopg dialect with positional parameters (``%s``), for the SQL text and the order of its
# values; the types' processors come from the connection's own dialect (its JSON serializer).
_PG_DIALECT = postgresql.psycopg.dialect(paramstyle="format")
# The execution option that says a PostgreSQL engine sends these statements straight to psycopg
# (``Database`` sets it from ``RUTIN_DIRECT_STATEMENTS``).
DIRECT = "rutin_direct_statements"
_Processor = Callable[[Any], Any] | None


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


class _Compiled:
    """One statement compiled for one database, for one set of given column keys.

    `dialect` compiles the SQL; `types` (the connection's dialect) gives each value's processor."""

    def __init__(self, stmt: Any, column_keys: Sequence[str] | None, dialect: sa.Dialect = _DIALECT,
                 types: sa.Dialect = _DIALECT):
        compiled = stmt.compile(dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None)
        self.mark = "?" if dialect.name == "sqlite" else "%s"
        self.sql: str = compiled.string
        binds: dict[str, BindParameter[Any]] = compiled.binds
        # Python-side column defaults (``default=``/``onupdate=``) that SQLAlchemy would compute
        # at execution; anything but a plain value or a no-argument callable is left to SQLAlchemy.
        defaults: dict[str, Callable[[], Any]] = {}
        self.supported = True
        for col, attr in [*((c, "default") for c in compiled.insert_prefetch),
                          *((c, "onupdate") for c in compiled.update_prefetch)]:
            default = getattr(col, attr)
            if default is not None and default.is_scalar:
                defaults[col.key] = _constant(default.arg)
            elif default is not None and default.is_callable:
                defaults[col.key] = functools.partial(default.arg, None)
            else:
                self.supported = False
        self.order: list[tuple[str, _Processor, Callable[[], Any] | None]] = []
        self.expanding: str | None = None
        self.expanding_name = ""
        for name in compiled.positiontup or []:
            bind = binds[name]
            if bind.expanding:
                self.expanding = bind.key
                # The name in the SQL text (an anonymous bind's key is not: ``x IN ("a", "b")``).
                self.expanding_name = name
            fallback = defaults.get(bind.key)
            if fallback is None and not bind.required and bind.callable is None:
                fallback = _constant(bind.value)  # a literal in the statement, e.g. status == "open"
            self.order.append((bind.key, bind.type.dialect_impl(types).bind_processor(types), fallback))
        self.columns: list[str] = []
        self.results: list[_Processor] = []
        returned = stmt.selected_columns if getattr(stmt, "is_select", False) else getattr(stmt, "_returning", ())
        for col in returned:
            self.columns.append(col.key)
            self.results.append(col.type.dialect_impl(types).result_processor(types, None))

    def params(self, given: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL (with an expanding list rendered) and its positional values."""
        sql = self.sql
        out: list[Any] = []
        append, expanding = out.append, self.expanding
        for key, proc, fallback in self.order:
            if key in given:
                value = given[key]
            elif fallback is not None:
                value = fallback()
            else:
                raise KeyError(f"no value for bind parameter {key!r}")
            if expanding is not None and key == expanding:
                values = list(value)
                marks = ", ".join(self.mark for _ in values) if values else "NULL"
                sql = sql.replace(f"(__[POSTCOMPILE_{self.expanding_name}])", f"({marks})", 1)
                out.extend(proc(v) if proc else v for v in values)
                continue
            append(value if proc is None else proc(value))
        return sql, out


class Prepared:
    """A Core statement run on the DB-API cursor (through SQLAlchemy where this module cannot)."""

    def __init__(self, stmt: Executable):
        self.stmt = stmt
        # An INSERT without the RETURNING of its new key that SQLAlchemy adds to a single row's
        # (nothing reads it, and inside a pipeline, ``engine/store/pipeline.py``, nothing may need
        # an answer before the pipeline ends).
        self._unanswered = stmt.inline() if isinstance(stmt, sa.Insert) else stmt
        self._compiled: dict[tuple[str, tuple[str, ...] | None], _Compiled] = {}
        self._lock = threading.Lock()

    def _for(self, conn: sa.Connection, params: Mapping[str, Any]) -> _Compiled | None:
        """The statement compiled for this connection's database and these parameters' keys, or
        None where it goes through SQLAlchemy."""
        name = conn.dialect.name
        if name == "postgresql":
            if not conn.get_execution_options().get(DIRECT):
                return None
        elif name != "sqlite":
            return None
        # Inserts and updates compile per set of given columns; selects and deletes need none.
        key = (name, tuple(params) if isinstance(self.stmt, (sa.Insert, sa.Update)) else None)
        found = self._compiled.get(key)
        if found is None:
            with self._lock:
                found = self._compiled.get(key)
                if found is None:
                    found = (_Compiled(self.stmt, key[1]) if name == "sqlite" else
                             _Compiled(self._unanswered, key[1], _PG_DIALECT, conn.dialect))
                    self._compiled[key] = found
        return found if found.supported else None

    def rows(self, conn: sa.Connection, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """All result rows as dicts."""
        params = params or {}
        compiled = self._for(conn, params)
        if compiled is None:
            return [dict(r) for r in conn.execute(self.stmt, dict(params)).mappings()]
        sql, values = compiled.params(params)
        dbapi = conn.connection.driver_connection
        attempt = optimistic.current()
        if attempt is not None and not attempt.owns(dbapi):
            attempt = None
        if attempt is not None:
            attempt.before_read(sql)
        cursor = dbapi.cursor()  # type: ignore[union-attr]
        try:
            if attempt is None and conn.dialect.name != "sqlite":
                _announce(conn, cursor, sql, values, False)
            fetched = cursor.execute(sql, values).fetchall()
        except conn.dialect.loaded_dbapi.Error as exc:
            if conn.dialect.name == "sqlite":
                raise
            raise _raised(conn, exc, sql, values, cursor) from exc
        finally:
            cursor.close()
        if attempt is not None:
            attempt.read(sql, values, fetched)
        columns, results = compiled.columns, compiled.results
        return [{c: (p(v) if p else v) for c, p, v in zip(columns, results, row)} for row in fetched]

    def one_or_none(self, conn: sa.Connection, params: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """The only result row, or None."""
        found = self.rows(conn, params)
        if len(found) > 1:
            raise sa.exc.MultipleResultsFound("Multiple rows were found when one or none was required")
        return found[0] if found else None

    def scalar(self, conn: sa.Connection, params: Mapping[str, Any] | None = None) -> Any:
        """The first column of the only row, or None."""
        row = self.one_or_none(conn, params)
        return next(iter(row.values())) if row else None

    def run(self, conn: sa.Connection, params: Mapping[str, Any] | Iterable[Mapping[str, Any]] | None = None,
            *, scope: Iterable[str] | None = None) -> None:
        """Execute a statement (many times when given a list of parameter sets).

        `scope`: the parts of its table the statement changes, for an optimistic attempt that keeps
        it (``engine/store/optimistic.py``: ``Attempt.write``)."""
        if params is None:
            params = {}
        batch = [params] if isinstance(params, Mapping) else list(params)
        if not batch:
            return
        if len(batch) > 1 and isinstance(self.stmt, (sa.Insert, sa.Update)) and \
                len({tuple(p) for p in batch}) > 1:
            # Compiled per set of keys: rows that give different columns go in groups of their own.
            groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
            for p in batch:
                groups.setdefault(tuple(p), []).append(p)
            for group in groups.values():
                self.run(conn, group, scope=scope)
            return
        compiled = self._for(conn, batch[0])
        if compiled is None:
            conn.execute(self._unanswered, params if isinstance(params, Mapping) else batch)
            return
        if len(batch) == 1 or compiled.expanding is not None:  # an expanding list renders per row
            statements = [(sql, [values]) for sql, values in map(compiled.params, batch)]
        else:
            statements = [(compiled.sql, [compiled.params(p)[1] for p in batch])]
        dbapi = conn.connection.driver_connection
        attempt = optimistic.current()
        if attempt is not None and attempt.owns(dbapi):
            # Kept, to be written once the attempt's reads are checked under the lock.
            for sql, values in statements:
                attempt.write(sql, values, scope)
            return
        cursor = dbapi.cursor()  # type: ignore[union-attr]
        try:
            for sql, values in statements:
                try:
                    if conn.dialect.name != "sqlite":
                        _announce(conn, cursor, sql, values[0] if len(values) == 1 else values, len(values) > 1)
                    optimistic.execute(cursor, sql, values)
                except conn.dialect.loaded_dbapi.Error as exc:
                    if conn.dialect.name == "sqlite":
                        raise
                    raise _raised(conn, exc, sql, values, cursor) from exc
        finally:
            cursor.close()


def _announce(conn: sa.Connection, cursor: Any, sql: str, parameters: Any, many: bool) -> None:
    """Tell the connection's ``before_cursor_execute`` listeners of a statement, as SQLAlchemy
    would (statement counts, tests that watch what is sent). Not on SQLite, where the listener
    guarding an optimistic attempt would take the hot path's kept writes for writes it cannot keep."""
    listeners = conn.dispatch.before_cursor_execute
    if listeners:
        listeners(conn, cursor, sql, parameters, None, many)


def _raised(conn: sa.Connection, exc: Any, sql: str, values: Any, cursor: Any) -> sa.exc.DBAPIError:
    """A psycopg error as SQLAlchemy would raise it (``IntegrityError``, ``OperationalError``...),
    the connection invalidated first when the server dropped it, as SQLAlchemy does."""
    dialect = conn.dialect
    dropped = bool(dialect.is_disconnect(exc, conn.connection.dbapi_connection, cursor))
    if dropped:
        conn.invalidate(exc)
    return cast(sa.exc.DBAPIError, sa.exc.DBAPIError.instance(
        sql, values, exc, dialect.loaded_dbapi.Error, connection_invalidated=dropped, dialect=dialect))
