"""Who a deviation's first step is offered to, whichever way the deviation case starts.

The shipped deviation process (`avvikelsehantering`) puts its first step ("Rapportera avvikelse")
in the Medarbetare lane and assigns it to ``${rapportor}``. Were the lane's candidates kept, every
employee's inbox would list every deviation someone started: a report from a case or task page
(`engine.service.deviations`) or a start by hand from the process page (`engine.service.cases`)
is the reporter's own, and one opened by a measure out of target
(`engine.service.measure_follow_up`) is its process owner's. Candidates are computed once, when a
task is created, so replacing them right after the start holds for the task's life.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority.identity import SYSTEM, Actor
from ..execution.runtime import drop_candidates
from ..store.models import HumanTask, TaskCandidate

DEVIATION_PROCESS = "avvikelsehantering"


def offer_only(s: Session, task_id: str, candidates: list[tuple[str, str]], now: datetime, *,
               role: str | None = None) -> None:
    """Offer open task `task_id` to `candidates` ((kind, key): "user" or "role") and no one else;
    `role`, if given, becomes the role the task names (the lane's no longer applies)."""
    drop_candidates(s.connection(), task_id)
    values: dict[str, object] = {"candidates": [f"{kind}:{key}" for kind, key in candidates]}
    if role is not None:
        values["role"] = role
    s.execute(sa.update(HumanTask).where(HumanTask.id == task_id).values(**values))
    for kind, key in dict.fromkeys(candidates):
        s.add(TaskCandidate(task_id=task_id, kind=kind, key=key, created_at=now))
    s.flush()


def is_person(actor: Actor) -> bool:
    """Whether a starter is someone who reports in their own name: not the system itself (a
    scheduled or intake start) and not an integration's token (which cannot fill in the step)."""
    return actor.name != SYSTEM.name and actor.start_only is None
