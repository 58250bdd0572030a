"""Optimistic writes on SQLite: a change to a case computed outside the write lock, written inside it.

SQLite lets one connection write at a time. A unit of work that takes the write lock first and
then runs SpiffWorkflow, makes the state's JSON and builds the projections keeps every other
process of the same database waiting for all of that: two web processes on one database did
less than one (bench/README.md). Here a unit of work marked optimistic runs on a read snapshot
instead; the hot path's writes (``engine/store/prepared.py``) are kept, not executed; and only at the
end does it take the write lock, check that what it read is still what the database holds, write
what it kept and commit. The lock is then held for the writes, not for the work.

What is checked: every statement read through ``Prepared`` during the attempt is run again under
the lock and must give the same rows. Those are the reads a change of a case depends on: the
case row (its revision, its status and the head of its history's hash chain, which every change
of the case moves) and the case's open task rows, with the one being acted on. So two actions on
one case still cannot both win: the one that comes second finds the case changed, and runs again
the ordinary way, holding the lock from its start (where it may then find the task completed and
answer with a conflict). Reads of the group's configuration through the ORM (units, roles,
absences, the delegation ordinance, deadline policies) are not checked; they may change between
the read and the write, as on PostgreSQL, where a case's row lock does not hold them either.

The writes kept are those made through ``Prepared``: the case, its task and candidate rows, its
history, and its timer rows (deadlines, escalation steps, BPMN timers). An attempt is given up,
and the unit runs again the ordinary way, when it meets any other write (an ORM flush before the
commit, a notification), when it reads a table it has kept writes for (the database would not
show them to it), when the check fails, or when SQLite refuses its snapshot. A process version
whose units met another write is not tried optimistically again in this process, so its cases
do not pay for the attempt every time. An attempt that is given up has written nothing.

Why our own code: SQLite has no optimistic mode of its own between processes (a read
transaction that tries to write after another connection's commit is refused outright), and
neither SQLAlchemy nor SpiffWorkflow has a notion of a change computed ahead of its lock.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any


class Stale(Exception):
    """The attempt cannot be written as it is; the unit of work must run again the ordinary way."""


class Attempt:
    """One optimistic unit of work: the reads it made and the writes it kept."""

    def __init__(self, unfit: set[int]) -> None:
        # Process versions (of this database) whose units of work met a write an attempt cannot keep.
        self.unfit = unfit
        # The DB-API connection the attempt's transaction runs on (known once it begins).
        self.dbapi: Any = None
        self.changes = 0
        self.reads: list[tuple[str, Sequence[Any], list[Any]]] = []
        self.writes: list[tuple[str, Sequence[Sequence[Any]]]] = []
        # The tables (or parts of them, ``timers:bpmn``) the kept writes change.
        self.written: set[str] = set()
        # The part of a table the statements read now declare they read (`reading`).
        self.read_scope: str | None = None
        self.abandoned = False
        self.version_id: int | None = None

    def owns(self, dbapi: Any) -> bool:
        """Whether a statement on this DB-API connection belongs to the attempt."""
        return dbapi is self.dbapi

    def started(self, dbapi: Any) -> None:
        """The attempt's read transaction began on `dbapi`."""
        self.dbapi = dbapi
        self.changes = dbapi.total_changes

    def read(self, sql: str, values: Sequence[Any], rows: list[Any]) -> None:
        """Remember a read and the rows it gave, to be checked under the lock."""
        self.reads.append((sql, values, rows))

    def write(self, sql: str, batch: Sequence[Sequence[Any]], scope: Iterable[str] | None = None) -> None:
        """Keep a write (one statement, one or more parameter sets) for after the check.

        `scope` narrows what it changes to parts of its table (``timers:bpmn``: the BPMN timer
        rows), so that a read of another part (declared with `reading`) may still follow it."""
        self.writes.append((sql, batch))
        found = _WRITTEN_TABLE.match(sql)
        self.written.update(scope or [found.group(1).lower() if found else "*"])

    def before_read(self, sql: str) -> None:
        """Give the attempt up before a read of a table it has kept writes for: the database
        would not show them, where the ordinary way it would."""
        if not self.written:
            return
        words = set(_WORD.findall(sql.lower()))
        reading = self.read_scope
        for written in self.written:
            table, _, part = written.partition(":")
            if written == "*" or (table in words and not (
                    part and reading is not None and reading.partition(":")[0] == table and reading != written)):
                self.abandon()
                raise Stale("a read of what the attempt has written")

    def abandon(self) -> None:
        """Give the attempt up: it met a write it cannot keep."""
        self.abandoned = True
        if self.version_id is not None:
            self.unfit.add(self.version_id)

    def unchanged(self) -> bool:
        """Whether every read still gives the rows it gave (run inside the write transaction)."""
        cursor = self.dbapi.cursor()
        try:
            return all(cursor.execute(sql, values).fetchall() == rows for sql, values, rows in self.reads)
        finally:
            cursor.close()

    def replay(self) -> None:
        """Run the kept writes, in their order (inside the write transaction, after the check)."""
        cursor = self.dbapi.cursor()
        try:
            for sql, batch in self.writes:
                execute(cursor, sql, batch)
        finally:
            cursor.close()


def execute(cursor: Any, sql: str, batch: Sequence[Sequence[Any]]) -> None:
    """Run one statement on a DB-API cursor for each parameter set of `batch`."""
    if len(batch) == 1:
        cursor.execute(sql, batch[0])
    else:
        cursor.executemany(sql, batch)


_WRITTEN_TABLE = re.compile(r"\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_local = threading.local()
# Attempts made, written, and given up, in this process (the benchmark reports them).
counts: Counter[str] = Counter()


def current() -> Attempt | None:
    """The attempt running on this thread, if any."""
    return getattr(_local, "attempt", None)


def begin(unfit: set[int]) -> Attempt:
    """Start an attempt on this thread (`unfit`: the database's versions not to try)."""
    attempt = Attempt(unfit)
    _local.attempt = attempt
    return attempt


def end() -> None:
    """Stop the thread's attempt from recording (its writes are kept for the caller to replay)."""
    _local.attempt = None


def requested() -> bool:
    """Whether the next write transaction on this thread is to be optimistic (and clear the request)."""
    wanted = bool(getattr(_local, "requested", False))
    _local.requested = False
    return wanted


def request(on: bool) -> None:
    """Ask that the next write transaction on this thread be optimistic (or no longer)."""
    _local.requested = on


def case_version(version_id: int) -> None:
    """The running attempt works on a case of this process version; give it up at once if cases
    of that version are known to write what an attempt cannot keep."""
    attempt = current()
    if attempt is None:
        return
    attempt.version_id = version_id
    if version_id in attempt.unfit:
        attempt.abandoned = True
        raise Stale("process version writes outside the hot path")


@contextmanager
def reading(scope: str) -> Iterator[None]:
    """Declare that the reads inside read only this part of a table (``timers:bpmn``)."""
    attempt = current()
    if attempt is None:
        yield
        return
    attempt.read_scope = scope
    try:
        yield
    finally:
        attempt.read_scope = None


def is_read(statement: str) -> bool:
    """Whether a statement only reads (a write met during an attempt gives it up)."""
    head = statement.lstrip()[:6].upper()
    return head.startswith(("SELECT", "WITH", "PRAGMA"))
