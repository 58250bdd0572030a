"""The world a case's scripts see (`engine.base.script_world`): the engine's clock, the person
whose action runs the script, the case's starter, role holders in the case's unit, and who last
completed a task of the case."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..authority import org
from ..store.models import HumanTask

if TYPE_CHECKING:
    from .runtime import CaseWork


class CaseWorld:
    """Answers for the scripts of one unit of work on one case, acting as `actor`.

    `work` is the unit of work (`engine.execution.runtime.CaseWork`, which imports this module).
    """

    def __init__(self, work: CaseWork, actor: str | None):
        self.work = work
        self.user = actor
        self.initiator: str | None = work.case.started_by

    def now(self) -> datetime:
        """The engine's clock, as the unit of work read it."""
        return self.work.now

    def members(self, role: str) -> list[str]:
        """``role@unit``: holders in that unit; a bare role: holders in the case's unit, else
        group-wide."""
        key, _, unit = role.partition("@")
        if unit:
            return org.holders(self.work.conn, key, unit, self.work.now)
        unit_id = self.work.case.org_unit_id
        found = org.holders(self.work.conn, key, unit_id, self.work.now) if unit_id else []
        return found or org.holders(self.work.conn, key, None, self.work.now)

    def last_completer(self, task: str) -> str | None:
        """Whoever last completed element `task` of the case (this unit of work's completion first)."""
        pending = [r for r in self.work.pending_rows()
                   if r.element_id == task and r.status == "completed" and r.completed_by]
        if pending:
            return str(max(pending, key=lambda r: r.completed_at or self.work.now).completed_by)
        return self.work.conn.execute(
            sa.select(HumanTask.completed_by).where(
                HumanTask.case_id == self.work.case.id, HumanTask.element_id == task,
                HumanTask.status == "completed")
            .order_by(HumanTask.completed_at.desc()).limit(1)).scalar()
