"""The injected clock: engine code asks a `Clock` for the time, never the wall clock directly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

# Rutin's local time: deadlines count working days here, and an instant given without a zone is here.
STOCKHOLM = ZoneInfo("Europe/Stockholm")


class Clock(Protocol):
    """Something that says what time it is (timezone-aware UTC)."""

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current instant from the operating system."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to; tests move time with it instead of sleeping."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The clock's current instant."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move time forward by `delta` and return the new instant."""
        with self._lock:
            self._now += delta
            return self._now

    def set(self, instant: datetime) -> None:
        """Jump to `instant` (must be timezone-aware)."""
        with self._lock:
            self._now = instant
