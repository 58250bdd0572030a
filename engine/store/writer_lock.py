"""The queue of SQLite writers across processes: an advisory lock on a file beside the database.

Several processes may serve one SQLite database (``gunicorn -w 2`` beside ``rutin worker``).
SQLite lets one of them write at a time and makes the others wait in its busy handler, which
sleeps 1, 2, 5, 10 … up to 100 ms between tries: a writer that arrives just after another
began waits many times the millisecond the other one needs. ``flock`` on a lock file hands the
lock over within a fraction of a millisecond instead (polled here, because ``flock`` has no
timeout of its own and a writer must give up with a conflict after ``RUTIN_LOCK_TIMEOUT_S``).

Only writers take it, and SQLite's own lock stays the authority: a process that does not take
this lock (an older release, the ``sqlite3`` shell) is still kept out by SQLite, only slower.
The lock is re-entrant within the holding process (the caller serializes its threads first) and
re-opened after a fork, because a forked child shares its parent's open file description and
would otherwise share its lock too. Where ``fcntl`` does not exist (Windows) it does nothing.
"""

from __future__ import annotations

import os
import time

try:
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms Rutin runs on
    fcntl = None  # type: ignore[assignment]

# Between tries while another process holds the lock: short against a write (about 1 ms).
_POLL_S = 0.0002


class WriterLock:
    """An exclusive advisory lock on one file, re-entrant within a process."""

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None
        self._pid = 0
        self._depth = 0

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            # After a fork the inherited descriptor (and the lock on it) belongs to the parent.
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
            self._depth = 0
        return self._fd

    def acquire(self, timeout: float) -> bool:
        """Take the lock, waiting at most `timeout` seconds; False when another process keeps it."""
        if fcntl is None:
            return True
        fd = self._descriptor()
        if self._depth:
            self._depth += 1
            return True
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(_POLL_S)
                continue
            self._depth = 1
            return True

    def release(self) -> None:
        """Give the lock back (the outermost release of this process unlocks the file)."""
        if fcntl is None or self._fd is None or self._pid != os.getpid() or not self._depth:
            return
        self._depth -= 1
        if not self._depth:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file (which releases the lock if this process still holds it)."""
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None
        self._depth = 0
