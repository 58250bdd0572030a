"""What the clocks read and record on a unit of work on a case.

`engine.execution.runtime.CaseWork` is the unit of work; it sits a layer above and drives the
clocks as it brings a case in line (the case clock, a new or moved task's ladder), so the clocks
name what they use of it here rather than import it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

import sqlalchemy as sa

from bpmn.model import HumanStep, ProcessModel

from ..core import Engine
from ..store.models import Case, HumanTask


class Work(Protocol):
    """One unit of work on one case, as the clocks see it (`CaseWork` is one)."""

    engine: Engine
    conn: sa.Connection
    case: Case
    now: datetime
    model: ProcessModel
    open_rows: list[HumanTask]
    created: set[str]

    @property
    def events(self) -> list[dict[str, Any]]:
        """The history events this unit of work has recorded and not yet written."""
        ...

    def event(self, type: str, *, actor: str, role: str | None = None, task_id: str | None = None,
              element_id: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Append an event to the case's history."""
        ...

    def step(self, row: HumanTask) -> HumanStep | None:
        """The diagram's step behind a task row."""
        ...

    def is_decision(self, row: HumanTask) -> bool:
        """Whether the task is a decision under the delegation ordinance."""
        ...
