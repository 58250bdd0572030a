"""Database connections, transactions and migrations, for SQLite (embedded) and PostgreSQL.

Writes are serialized per case: on PostgreSQL by a row lock on the case (``FOR UPDATE`` with a
lock timeout), on SQLite by ``BEGIN IMMEDIATE`` (SQLite has one writer at a time anyway; taking
the write lock up front makes a second writer wait for the busy timeout instead of failing late
on a stale read). Readers never take the write lock; SQLite runs in WAL mode so they are not
blocked by writers.

On SQLite, writers also queue ahead of ``BEGIN IMMEDIATE``: threads of one process on a lock of
the process, processes on one database on an advisory file lock beside it (``engine/store/writer_lock.py``).
SQLite's own busy handler polls with sleeps of up to 100 ms, so two writers contending for
SQLite's lock would each wait far longer than the transaction ahead of them takes (about a
millisecond); the queues hand over the moment the lock is released.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ..base.errors import Busy
from ..base.settings import Settings
from . import optimistic
from .checkpoint import SAFETY_NET_PAGES, WalCheckpointer
from .pipeline import batched
from .prepared import DIRECT
from .writer_lock import WriterLock

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY = "Ärendet används just nu av någon annan; försök igen om en stund."
T = TypeVar("T")
D = TypeVar("D")


def _sqlite_engine(url: str, *, immediate: bool, busy_timeout_s: float) -> sa.Engine:
    eng = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
        pool_size=8,
        max_overflow=16,
    )

    @event.listens_for(eng, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        # Checkpoints run in the background (engine/store/checkpoint.py); the commit-time one is a safety net.
        cur.execute(f"PRAGMA wal_autocheckpoint={SAFETY_NET_PAGES}")
        cur.execute("PRAGMA foreign_keys=ON")
        # SQLite's default page cache is 2 MB per connection; the inbox over 100,000 tasks reads
        # more than that. Memory-mapped reads share the OS page cache across connections.
        cur.execute("PRAGMA cache_size=-32000")
        cur.execute("PRAGMA mmap_size=268435456")
        cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cur.close()
        # SQLite folds only ASCII letters in LIKE and lower(): "överklagande" would not find
        # "ÖVERKLAGANDE-1". Searches compare Python's case-folded text instead (see engine.service.tasks).
        dbapi_conn.create_function("rutin_fold", 1, fold, deterministic=True)

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(eng, "begin")
    def _begin(conn: sa.Connection) -> None:
        # Straight on the driver's connection: SQLAlchemy's execution layer around a statement
        # with no parameters and no result cost several times what SQLite takes to run it.
        dbapi = conn.connection.driver_connection
        attempt = optimistic.current()
        if attempt is not None and attempt.dbapi is None and immediate:
            # An optimistic unit of work reads a snapshot; it takes the write lock at its end.
            dbapi.execute("BEGIN")  # type: ignore[union-attr]
            attempt.started(dbapi)
            return
        dbapi.execute(begin)  # type: ignore[union-attr]

    if immediate:
        @event.listens_for(eng, "before_cursor_execute")
        def _guard(conn: sa.Connection, _cursor: Any, statement: str, *_args: Any) -> None:
            attempt = optimistic.current()
            if attempt is None or not attempt.owns(conn.connection.driver_connection):
                return
            if not optimistic.is_read(statement):
                attempt.abandon()
                raise optimistic.Stale("a write the attempt cannot keep")
            attempt.before_read(statement)

    return eng


# A pooled PostgreSQL connection idle for longer than this is asked whether it still works before
# it is handed out (SQLAlchemy's ``pool_pre_ping`` asks every time: a round trip per transaction).
PING_AFTER_IDLE_S = 1.0


def _ping_when_idle(eng: sa.Engine, idle_s: Callable[[], float]) -> None:
    """Check a pooled connection that sat idle before use, replacing it if the server dropped it.

    SQLAlchemy's documented way for a ``checkout`` listener: raising ``DisconnectionError`` makes
    the pool discard the connection and check out another. A connection in steady use is not
    pinged: a server that goes away between two uses of it fails that one statement, SQLAlchemy
    then discards every connection of the pool made before it, and the next request reconnects.
    """

    @event.listens_for(eng, "checkin")
    def _returned(_dbapi: Any, record: Any) -> None:
        if record is not None:
            record.info["returned_at"] = time.monotonic()

    @event.listens_for(eng, "checkout")
    def _checked_out(dbapi: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is not None and time.monotonic() - returned < idle_s():
            return
        try:
            alive = eng.dialect.do_ping(dbapi)  # as pool_pre_ping asks, outside any transaction
        except eng.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DisconnectionError(str(exc)) from exc
        if not alive:
            raise sa.exc.DisconnectionError("the connection did not answer")


class Database:
    """Engines and session factories for one database URL."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.url = settings.database_url
        self.is_sqlite = self.url.startswith("sqlite")
        self.writes = 0
        self.ping_after_idle_s = PING_AFTER_IDLE_S
        self._checkpointer: WalCheckpointer | None = None
        self._file_lock: WriterLock | None = None
        if self.is_sqlite:
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._checkpointer = WalCheckpointer(path, lambda: self.writes)
                self._file_lock = WriterLock(path + ".writer-lock")
            self.writer = _sqlite_engine(self.url, immediate=True, busy_timeout_s=settings.lock_timeout_s)
            self.reader = _sqlite_engine(self.url, immediate=False, busy_timeout_s=settings.lock_timeout_s)
        else:
            timeout_ms = int(settings.lock_timeout_s * 1000)
            self.writer = sa.create_engine(
                self.url, pool_size=10, max_overflow=20,
                connect_args={"options": f"-c lock_timeout={timeout_ms}"},
            )
            _ping_when_idle(self.writer, lambda: self.ping_after_idle_s)
            # The hot path's statements go straight to psycopg (``engine/store/prepared.py``).
            self.writer = self.writer.execution_options(**{DIRECT: settings.direct_statements})
            # Reads run each statement on its own, without BEGIN and ROLLBACK around them (two
            # round trips per read session). Under PostgreSQL's READ COMMITTED, which Rutin runs
            # under, each statement in a transaction takes its own snapshot anyway, so a read
            # sees the same as it did inside one; the pool is shared with the writer.
            self.reader = self.writer.execution_options(isolation_level="AUTOCOMMIT")
        self._writers = threading.RLock() if self.is_sqlite else None
        # Process versions whose changes write more than an optimistic attempt can keep.
        self.unfit_versions: set[int] = set()
        # No autoflush: a unit of work writes each row once, at commit.
        self._write = sessionmaker(self.writer, expire_on_commit=False, autoflush=False)
        self._read = sessionmaker(self.reader, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A read-write transaction, committed on success and rolled back on error.

        Callables appended to ``session.info["before_commit"]`` run just before the commit (units of
        work write their buffered rows there); those in ``session.info["after_commit"]`` run after
        a successful commit.
        """
        if optimistic.requested():
            with self._optimistic_write() as session:
                yield session
            return
        if not self._lock():
            raise Busy(BUSY)
        session = self._write()
        locked = [True]
        with self._ending(session, locked):
            yield session
            before = session.info.pop("before_commit", [])
            if before and not self.is_sqlite:
                # On PostgreSQL the last writes and the COMMIT go in one pipeline, one round trip;
                # psycopg then knows the transaction ended, and SQLAlchemy's commit sends nothing.
                with batched(conn := session.connection()):
                    for callback in before:
                        callback()
                    conn.exec_driver_sql("COMMIT")
            else:
                for callback in before:
                    callback()
            session.commit()
            self.writes += 1
        for callback in session.info.pop("after_commit", []):
            callback()

    @contextmanager
    def _ending(self, session: Session, locked: list[bool]) -> Iterator[None]:
        """Roll a write transaction back on any error (a lock error becomes `Busy`), then close it
        and give the writer lock back if ``locked[0]`` says it was taken."""
        try:
            yield
        except OperationalError as exc:
            session.info.pop("after_commit", None)
            session.rollback()
            if _is_lock_error(exc):
                raise Busy(BUSY) from None
            raise
        except BaseException:
            session.info.pop("after_commit", None)
            session.rollback()
            raise
        finally:
            session.close()
            if locked[0]:
                self._unlock()
            for callback in session.info.pop("at_end", []):
                callback()

    def _lock(self) -> bool:
        """Take this process's writer queue and the file lock across processes (SQLite)."""
        writers, file_lock = self._writers, self._file_lock
        timeout = self.settings.lock_timeout_s
        if writers is not None and not writers.acquire(timeout=timeout):
            return False
        if file_lock is not None and not file_lock.acquire(timeout):
            if writers is not None:
                writers.release()
            return False
        return True

    def _unlock(self) -> None:
        if self._file_lock is not None:
            self._file_lock.release()
        if self._writers is not None:
            self._writers.release()

    def optimistic(self, unit: Callable[[D], T], data: D) -> T:
        """Run `unit(data)`, a unit of work whose first write transaction is optimistic
        (``engine/store/optimistic.py``): computed on a read snapshot and written under the lock only if
        what it read still holds; otherwise, or on PostgreSQL, or with
        ``RUTIN_OPTIMISTIC_WRITES=0``, the ordinary way.

        A second run gets `data` as it was given: the first may have changed it in place (the
        workflow's scripts work on the same objects)."""
        if not (self.is_sqlite and self.settings.optimistic_writes) or optimistic.current() is not None:
            return unit(data)
        spare = copy.deepcopy(data)
        optimistic.request(True)
        try:
            return unit(data)
        except optimistic.Stale:
            optimistic.counts["again"] += 1
        finally:
            optimistic.request(False)
            optimistic.end()
        return unit(spare)

    @contextmanager
    def _optimistic_write(self) -> Iterator[Session]:
        attempt = optimistic.begin(self.unfit_versions)
        optimistic.counts["tried"] += 1
        session = self._write()
        locked = [False]
        with self._ending(session, locked):
            try:
                yield session
                for callback in session.info.pop("before_commit", []):
                    callback()
            except OperationalError:
                raise optimistic.Stale("SQLite refused the snapshot") from None
            finally:
                optimistic.end()
            dbapi = attempt.dbapi
            if attempt.abandoned or (dbapi is not None and dbapi.total_changes != attempt.changes):
                raise optimistic.Stale("the attempt met a write it cannot keep")
            if dbapi is not None:
                dbapi.execute("ROLLBACK")  # the snapshot ends; the write transaction begins afresh
            if not self._lock():
                raise Busy(BUSY)
            locked[0] = True
            if dbapi is not None:
                dbapi.execute("BEGIN IMMEDIATE")
                if not attempt.unchanged():
                    raise optimistic.Stale("the case changed since it was read")
                attempt.replay()
            session.commit()
            self.writes += 1
            optimistic.counts["written"] += 1
        for callback in session.info.pop("after_commit", []):
            callback()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session (never takes SQLite's write lock)."""
        session = self._read()
        try:
            yield session
        finally:
            # close() ends the transaction without expiring loaded objects (rollback would).
            session.close()

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A read-only session whose reads all see one snapshot and may stream (``yield_per``),
        for reads that go through a whole table: verification, a personal data request.

        On PostgreSQL `read` runs each statement on its own, outside a transaction, where a
        server-side cursor cannot be declared; this is one REPEATABLE READ, read-only transaction
        instead, so the heads and the events it reads also agree. On SQLite a reading session is
        one read transaction, a snapshot already.
        """
        if self.is_sqlite:
            with self.read() as session:
                yield session
            return
        with self.writer.connect() as conn:
            snap = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            session = Session(bind=snap, expire_on_commit=False)
            try:
                yield session
            finally:
                session.close()

    def upgrade(self) -> None:
        """Bring the schema to the newest migration (Alembic ``upgrade head``)."""
        with self.writer.begin() as conn:
            cfg = alembic_config(self.url)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def checkpoint(self) -> tuple[int, int, int] | None:
        """Checkpoint SQLite's WAL now (the background thread does it shortly after writes);
        SQLite's (busy, log frames, checkpointed frames), or None on PostgreSQL."""
        return self._checkpointer.checkpoint() if self._checkpointer is not None else None

    def dispose(self) -> None:
        """Stop the background checkpoints and close all pooled connections."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._file_lock is not None:
            self._file_lock.close()
        self.writer.dispose()
        if self.reader is not self.writer:
            self.reader.dispose()


def after_commit(session: Session, callback: Callable[[], object]) -> None:
    """Run `callback` once the write transaction of `session` (`Database.write`) has committed,
    never when it rolls back: the place for effects outside the database (a cache forgotten, a
    workflow kept in memory), which a rolled-back or repeated attempt must not have made."""
    session.info.setdefault("after_commit", []).append(callback)


def at_end(session: Session, callback: Callable[[], object]) -> None:
    """Run `callback` when the write transaction of `session` ends, committed or rolled back
    (before any `after_commit` callback): what the transaction set up for its own use on this
    thread is taken down with it."""
    session.info.setdefault("at_end", []).append(callback)


def fold(text: str | None) -> str | None:
    """Text as case-insensitive search compares it: Unicode case folding (ö = Ö, ß = ss)."""
    return text.casefold() if isinstance(text, str) else text


def _is_lock_error(exc: OperationalError) -> bool:
    text = str(exc.orig).lower() if exc.orig is not None else str(exc).lower()
    return "database is locked" in text or "lock timeout" in text or "could not obtain lock" in text \
        or "canceling statement due to lock timeout" in text


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at our migrations and the given database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg
