"""Moving SQLite's WAL checkpoints off the request path.

In WAL mode SQLite copies the log back into the database file (a checkpoint, with its fsyncs)
inside whichever commit pushes the log past ``wal_autocheckpoint`` pages. Measured on the seq3
workload, those checkpoints were a large share of the engine's time (figures in
`bench/README.md`), and the request whose commit drew the short straw waited for the disk.

So each process that writes keeps one thread that checkpoints in the background (``PASSIVE``:
it never blocks readers or writers, and yields when another checkpoint is running) shortly after
writes happened, and the commit-time checkpoint stays only as a safety net far above the usual
log size. SQLite has no such thread of its own, and APScheduler does not run in every process
that writes (a web process under gunicorn, the CLI), hence this small module.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

# The commit-time checkpoint, kept as a safety net: about 40 MB of log with 4 KiB pages.
SAFETY_NET_PAGES = 10_000
INTERVAL_S = 0.5


class WalCheckpointer:
    """A daemon thread that checkpoints one SQLite database's WAL after writes."""

    def __init__(self, path: str, writes: Callable[[], int], interval_s: float = INTERVAL_S):
        self.path = path
        self._writes = writes
        self._interval = interval_s
        self._seen = writes()
        self.rounds = 0  # background checkpoints done (for tests and diagnostics)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rutin-wal-checkpoint", daemon=True)
        self._thread.start()

    def checkpoint(self) -> tuple[int, int, int]:
        """Checkpoint now; SQLite's (busy, log frames, checkpointed frames)."""
        conn = sqlite3.connect(self.path, timeout=1.0, isolation_level=None)
        try:
            busy, frames, done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        finally:
            conn.close()
        return int(busy), int(frames), int(done)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            now = self._writes()
            if now == self._seen:
                continue
            self._seen = now
            try:
                self.checkpoint()
                self.rounds += 1
            except sqlite3.Error as exc:  # the next round tries again; the safety net still holds
                log.warning("WAL checkpoint of %s failed: %s", self.path, exc)

    def stop(self) -> None:
        """Stop the thread."""
        self._stop.set()
        self._thread.join(timeout=5)
