"""Writes sent together: one round trip to PostgreSQL for a unit of work's buffered rows.

A completion writes its rows (the case, the task rows, candidates, history events) just before
it commits, in about six statements. Sent one by one, each waits for the server's answer; in
psycopg's pipeline mode (``Connection.pipeline()``, public psycopg API reached through
SQLAlchemy's public ``Connection.connection.driver_connection``) they are all sent, then the
answers read, in one round trip. Only statements whose results nobody reads may run inside:
SQLAlchemy reads a statement's columns as soon as it runs it, before a pipeline has its answer.

Where a unit of work leaves its write to the commit (a completion: `CaseWork.finish(write=False)`),
`Database.write` sends the writes and the ``COMMIT`` in one pipeline; a pipeline opened inside an
open one adds nothing (leaving it would wait for the server).

A server error in a pipeline (a constraint, a lock timeout) arrives when the pipeline ends, as
psycopg's own exception; it is raised as SQLAlchemy's (``DBAPIError.instance``) so the callers'
handling of lock errors and integrity errors is the same as without the pipeline. SQLite has no
round trips to save, and there this does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def batched(conn: sa.Connection) -> Iterator[None]:
    """Run the writes made inside in one pipeline on PostgreSQL (nothing changes on SQLite)."""
    if conn.dialect.name != "postgresql":
        yield
        return
    dbapi = conn.connection.driver_connection
    if dbapi.pgconn.pipeline_status:  # type: ignore[union-attr]
        yield  # inside an open pipeline (the commit's): leaving a nested one would wait for the server
        return
    error = conn.dialect.loaded_dbapi.Error
    try:
        with dbapi.pipeline():  # type: ignore[union-attr]
            yield
    except sa.exc.DBAPIError:
        raise
    except error as exc:
        raise sa.exc.DBAPIError.instance(None, None, exc, error) from None
