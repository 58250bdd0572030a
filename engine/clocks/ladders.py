"""Escalation ladders: what is to happen as a task's due date approaches and passes, and when.

A ladder is a list of steps relative to the due date, written in a diagram property
(``rutin:escalation = "-1WD:remind; 0:notify_manager; +3WD:reassign_manager"``), a process
owner's policy (`policies`) or taken from the default. Offsets are working days (``-1WD``: 08:00
on the working day before the due day), or an ISO-8601 duration before (``-PT2H``) or after
(``P2D``) the due instant (months are calendar months); ``0`` is the due instant. The default
depends on how far off the due date is: a task due within the day (``PT2H``) is reminded an hour
before and reassigned two hours after, one due in days a working day before and three working
days after.

Work may go up the manager chain; a decision only along the delegation ordinance. Decision tasks
therefore get their own default ladder (substitute, then superior where the ordinance allows),
and the manager-chain actions are refused on them.

Which ladder a task has and its timer rows are `task_clock`'s; what a step does when it fires is
`engine.routing.escalation`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bpmn import dates

from ..store.models import HumanTask
from . import deadlines

DEFAULT_LADDER = "-1WD:remind; 0:notify_manager; +3WD:reassign_manager"
DECISION_LADDER = "-1WD:remind; 0:substitute; +3WD:superior"
# For tasks due within the day (a request for an official document: the same day, TF 2 kap. 16 §).
HOURLY_LADDER = "-PT1H:remind; 0:notify_manager; +PT2H:reassign_manager"
HOURLY_DECISION_LADDER = "-PT1H:remind; 0:substitute; +PT2H:superior"
WORK_ACTIONS = dates.WORK_ACTIONS
DECISION_ACTIONS = dates.DECISION_ACTIONS
# Actions that walk the manager chain take how many levels up: ``notify_manager:2`` is the
# manager's manager (avdelningschef after enhetschef), ``:1`` (or none) the nearest.
LEVELLED = dates.LEVELLED_ACTIONS
MAX_LEVEL = dates.MAX_LEVEL


def action_level(action: str) -> tuple[str, int]:
    """An action and its level: ``notify_manager:2`` → (notify_manager, 2); others level 1."""
    name, _, level = action.partition(":")
    return name, int(level) if level else 1


@dataclass(frozen=True)
class Step:
    """One rung: when (relative to due), and what."""

    sign: int
    offset: str
    action: str

    def due(self, due_at: datetime) -> datetime:
        """The instant this step fires for a task due at `due_at`."""
        if self.offset == "0":
            return due_at
        if self.offset.upper().endswith("WD"):
            n = int(self.offset[:-2])
            day = due_at.astimezone(deadlines.STOCKHOLM).date()
            for _ in range(n):
                day += timedelta(days=self.sign)
                while not deadlines.is_working_day(day):
                    day += timedelta(days=self.sign)
            return datetime.combine(day, time(8, 0), tzinfo=deadlines.STOCKHOLM).astimezone(due_at.tzinfo)
        period = deadlines.parse_period(self.offset)
        if period is None:
            raise ValueError(self.offset)
        at = due_at
        if period.years or period.months:
            # Calendar months, as for deadlines: one month before 31 March is 28 (29) February.
            local = due_at.astimezone(deadlines.STOCKHOLM)
            day = deadlines.add_months(local.date(), self.sign * (12 * period.years + period.months))
            at = datetime.combine(day, local.timetz().replace(tzinfo=None),
                                  tzinfo=deadlines.STOCKHOLM).astimezone(due_at.tzinfo)
        delta = timedelta(days=period.days + 7 * period.weeks,
                          hours=period.hours, minutes=period.minutes, seconds=period.seconds)
        return at + self.sign * delta


def parse(text: str, *, decision: bool = False) -> list[Step]:
    """Parse a ladder (`bpmn.dates.parse_ladder`, the one reading the upload also uses); raise
    ValueError naming the first entry that cannot be read or used, or saying the ladder is empty."""
    allowed = DECISION_ACTIONS if decision else WORK_ACTIONS
    try:
        entries = dates.parse_ladder(text, allowed)
    except dates.DateSyntaxError as exc:
        kind = "beslut" if decision else "uppgifter"
        raise ValueError(str(exc).replace("finns inte här", f"finns inte för {kind}")) from None
    return [Step(e.sign, e.offset, e.action if e.level is None else f"{e.action}:{e.level}") for e in entries]


def hourly(row: HumanTask) -> bool:
    """Whether a task is due within the day it was given (an exact instant, not the end of a day)."""
    if row.due_at is None:
        return False
    local = row.due_at.astimezone(deadlines.STOCKHOLM)
    end_of_day = local.time() >= time(23, 59)
    return not end_of_day and row.due_at - row.created_at <= timedelta(days=1)


def default_ladder(row: HumanTask, *, decision: bool) -> str:
    """The default ladder for a task, by kind and by how far off its due date is."""
    if hourly(row):
        return HOURLY_DECISION_LADDER if decision else HOURLY_LADDER
    return DECISION_LADDER if decision else DEFAULT_LADDER
