"""The engine object the web app and the CLI share: settings, database, clock and caches.

Imports inside functions: the engine object is what every layer receives, so it imports
nothing above it at module level; the scheduler and the shipped processes' loader (the top
layers) are imported when they are first asked for.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bpmn.model import ProcessModel

from .base import scripting
from .base.clock import Clock, ManualClock, SystemClock
from .base.settings import Settings
from .base.state import SpecCache, WorkflowCache, has_timers
from .store.db import Database
from .store.models import ProcessVersion

if TYPE_CHECKING:
    from .service.scheduler import Scheduler


class Engine:
    """One Rutin engine: everything a domain function needs, created once per process."""

    def __init__(self, settings: Settings | None = None, clock: Clock | None = None):
        self.settings = settings or Settings.from_env()
        scripting.configure(self.settings)
        if clock is None and self.settings.fixed_now:
            # Only for tests that drive separate worker processes at a chosen instant.
            clock = ManualClock(datetime.fromisoformat(self.settings.fixed_now))
        self.clock: Clock = clock or SystemClock()
        self.db = Database(self.settings)
        self.specs = SpecCache()
        self.workflows = WorkflowCache()
        self._models: dict[int, ProcessModel] = {}
        self._has_timers: dict[int, bool] = {}
        self._models_lock = threading.Lock()

    @property
    def scheduler(self) -> Scheduler:
        """This engine's scheduler (created on first use)."""
        if getattr(self, "_scheduler", None) is None:
            from .service.scheduler import Scheduler

            self._scheduler = Scheduler(self)
        return self._scheduler

    def migrate(self) -> None:
        """Create or upgrade the schema, and deploy Rutin's own processes."""
        self.db.upgrade()
        from .catalogue.processes import ensure_builtin

        ensure_builtin(self)

    def model(self, version_id: int, stored: dict[str, Any] | None = None) -> ProcessModel:
        """The normalized model of a process version (cached; versions are immutable)."""
        with self._models_lock:
            if version_id in self._models:
                return self._models[version_id]
        if stored is None:
            with self.db.read() as s:
                stored = s.execute(
                    sa.select(ProcessVersion.model).where(ProcessVersion.id == version_id)
                ).scalar_one()
        model = ProcessModel.from_json(stored)
        with self._models_lock:
            self._models[version_id] = model
        return model

    def spec(self, version_id: int) -> tuple[Any, dict[str, Any]]:
        """The executable spec of a process version (cached)."""
        if version_id in self.specs:
            return self.specs.get(version_id, None)
        with self.db.read() as s:
            spec_json = s.execute(
                sa.select(ProcessVersion.spec_json).where(ProcessVersion.id == version_id)
            ).scalar_one()
        return self.specs.get(version_id, spec_json)

    def has_timers(self, version_id: int) -> bool:
        """Whether cases of a version can wait on a timer (cached; skips timer bookkeeping if not)."""
        if version_id not in self._has_timers:
            spec, subs = self.spec(version_id)
            self._has_timers[version_id] = has_timers(spec, subs)
        return self._has_timers[version_id]

    def close(self) -> None:
        """Release database connections."""
        self.db.dispose()
