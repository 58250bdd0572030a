"""Escalation ladders: what happens as a task's due date approaches and passes.

A ladder is a list of steps relative to the due date, written in a diagram property
(``rutin:escalation = "-1WD:remind; 0:notify_manager; +3WD:reassign_manager"``) or taken from the
default. Offsets are working days (``-1WD``: 08:00 on the working day before the due day), or an
ISO-8601 duration before (``-PT2H``) or after (``P2D``) the due instant (months are calendar
months); ``0`` is the due instant. Each step is a timer row; the scheduler fires it once per due
date: completing or reassigning the task (a manager's assignment, a hand-over) cancels the pending
ones, and moving its due date makes a fresh ladder for the new date. A step that has fired is
never made again, and a ladder's own ``reassign_manager`` step leaves its later steps in place.

Where a task's ladder comes from, first found: the step's ``rutin:escalation`` property, the
process owner's policy for the step, the policy's ``*`` entry (every step of the process), the
process's own ``rutin:escalation`` property, and the default. The default depends on how far off
the due date is: a task due within the day (``PT2H``) is reminded an hour before and reassigned
two hours after, one due in days a working day before and three working days after.

A task's follow-up date is a timer row too (kind ``follow_up``): its holder is reminded once.

Work may go up the manager chain; a decision only along the delegation ordinance. Decision tasks
therefore get their own default ladder (substitute, then superior where the ordinance allows),
and the manager-chain actions are refused on them. A task that became a decision after its ladder
was made (an ordinance item naming its step approved since) is asked again when a step fires: a
``reassign_manager`` step then goes along the ordinance instead.

Imports inside functions: `policies` checks the ladders it stores with this module's parser,
so `ladder_for` reaches `policies` at call time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bpmn import dates

from ..authority import org, routing
from ..authority.roles import ADMIN
from ..clocks import deadlines, timers
from ..core import Engine
from ..execution.runtime import CaseWork, load_task
from ..store.models import Case, HumanTask, TaskCandidate, User, UserRole
from . import notifications
from .delegation import item_for, substitute_for

DEFAULT_LADDER = "-1WD:remind; 0:notify_manager; +3WD:reassign_manager"
DECISION_LADDER = "-1WD:remind; 0:substitute; +3WD:superior"
# For tasks due within the day (a request for an official document: the same day, TF 2 kap. 16 §).
HOURLY_LADDER = "-PT1H:remind; 0:notify_manager; +PT2H:reassign_manager"
HOURLY_DECISION_LADDER = "-PT1H:remind; 0:substitute; +PT2H:superior"
WORK_ACTIONS = dates.WORK_ACTIONS
DECISION_ACTIONS = dates.DECISION_ACTIONS
RAISED_PRIORITY = 80

_tasks = cast(sa.Table, HumanTask.__table__)
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


def ladder_for(work: CaseWork, row: HumanTask) -> list[Step]:
    """The task's ladder: the first of its sources that holds one valid for the task's kind."""
    from . import policies  # policies checks ladders with this module's parser: a cycle otherwise

    step = work.step(row)
    decision = work.is_decision(row)
    rows = policies.for_process(work.engine, work.case.process_key)
    own, every = dict.get(rows, row.element_id), dict.get(rows, policies.EVERY_STEP)
    sources = [
        step.properties.get("rutin:escalation") if step is not None else None,
        own.escalation if own is not None else None,
        every.escalation if every is not None else None,
        work.model.properties.get("rutin:escalation"),
    ]
    for text in sources:
        if not text:
            continue
        try:
            return parse(text, decision=decision)
        except ValueError:
            # Unreadable, or a manager-chain action on a decision: the upload or the policy said
            # so; the next source applies.
            continue
    return parse(default_ladder(row, decision=decision), decision=decision)


def _token(at: datetime) -> str:
    """The date a timer row is for, as stored: in UTC, however the instant was given."""
    return at.astimezone(UTC).isoformat()


def follow_up_reminder_at(follow_up: datetime) -> datetime:
    """When to remind of a follow-up date: at 08:00 on a follow-up day given as a whole day (its end,
    as day-based periods give it), else at the instant itself."""
    local = follow_up.astimezone(deadlines.STOCKHOLM)
    if local.time() >= time(23, 59):
        return datetime.combine(local.date(), time(8, 0), tzinfo=deadlines.STOCKHOLM).astimezone(follow_up.tzinfo)
    return follow_up


_OWN = sa.select(timers.TIMERS.c.id, timers.TIMERS.c.kind, timers.TIMERS.c.ref, timers.TIMERS.c.status,
                 timers.TIMERS.c.due_at, timers.TIMERS.c.data).where(
    timers.TIMERS.c.task_id == sa.bindparam("task_id"), timers.TIMERS.c.kind.in_(timers.TASK_KINDS),
    timers.TIMERS.c.status.in_(("pending", "fired", "failed", "cancelled")),
)
# Marks the steps a reassignment cancelled, so that they are not made again for the same due date.
_DROPPED = "reassigned"
# What a unit of work records when a person (not the ladder) gives the task to someone else.
_REASSIGNING_EVENTS = {"task_assigned", "task_handed_over"}


def _reassigned_now(work: CaseWork, row: HumanTask) -> bool:
    """Whether this unit of work gave the task to someone else by assignment or hand-over."""
    return any(e.get("task_id") == row.id and e.get("type") in _REASSIGNING_EVENTS
               and (e.get("data") or {}).get("from") != (e.get("data") or {}).get("to")
               for e in work.events)


def schedule(work: CaseWork, row: HumanTask, *, new: bool = False, reassigned: bool | None = None) -> None:
    """Bring a task's escalation steps and follow-up reminder in line with its dates and holder.

    Each step fires once per due date: one that has fired for the task's current due date is not
    made again, nor is one that fired for an earlier due date and whose instant under the new one
    has passed too. Steps still ahead are (re)created; one whose instant passed without firing (a
    task created or re-dated late) fires now. The follow-up reminder likewise, once per follow-up
    date. `new`: the task was just created and has no timer rows yet.

    `reassigned`: a person gave the task to someone else (an assignment, a hand-over). Its pending
    escalation steps are then cancelled, and stay so for that due date: the new holder starts
    without the old holder's ladder, until the due date is moved and a fresh one is made. When not
    given, it is whether this unit of work recorded such an assignment or hand-over of the task.
    """
    conn, now = work.conn, work.now
    if reassigned is None:
        reassigned = not new and _reassigned_now(work, row)
    pending: dict[tuple[str, str], Any] = {}
    done: dict[tuple[str, str], set[Any]] = {}
    dropped: dict[tuple[str, str], set[Any]] = {}
    if not new:
        for r in conn.execute(_OWN, {"task_id": row.id}):
            if r.status == "pending":
                pending[(r.kind, r.ref)] = r
            elif r.status != "cancelled":
                done.setdefault((r.kind, r.ref), set()).add((r.data or {}).get("for"))
            elif (r.data or {}).get("dropped") == _DROPPED:
                dropped.setdefault((r.kind, r.ref), set()).add((r.data or {}).get("for"))
    if reassigned and row.due_at is not None:
        token = _token(row.due_at)
        ladder = {key: r for key, r in pending.items() if key[0] == "escalation"}
        for key, r in ladder.items():
            timers.P_SET_DATA.run(conn, {"b_id": r.id, "data": {**(r.data or {}), "for": token,
                                                                  "dropped": _DROPPED}}, scope=timers.TASK_SCOPE)
            dropped.setdefault(key, set()).add(token)
            del pending[key]
        if ladder:
            timers.P_CANCEL.run(conn, {"ids": [r.id for r in ladder.values()], "now": now}, scope=timers.TASK_SCOPE)
    wanted: dict[tuple[str, str], tuple[datetime, dict[str, Any]]] = {}

    def want(key: tuple[str, str], at: datetime, token: str, data: dict[str, Any]) -> None:
        fired = done.get(key, set())
        if token in fired or token in dropped.get(key, set()) or (fired and at <= now):
            return
        wanted[key] = (max(at, now), {**data, "for": token})

    if row.status == "open" and row.due_at is not None:
        token = _token(row.due_at)
        for number, step in enumerate(ladder_for(work, row)):
            want(("escalation", str(number)), step.due(row.due_at), token,
                 {"action": step.action, "offset": f"{'-' if step.sign < 0 else '+'}{step.offset}"})
    if row.status == "open" and row.follow_up_at is not None:
        want(("follow_up", "0"), follow_up_reminder_at(row.follow_up_at), _token(row.follow_up_at), {})
    gone = [r.id for key, r in pending.items() if key not in wanted]
    if gone:
        timers.P_CANCEL.run(conn, {"ids": gone, "now": now}, scope=timers.TASK_SCOPE)
    inserts = []
    for (kind, ref), (due, data) in wanted.items():
        existing = pending.get((kind, ref))
        if existing is None:
            inserts.append({"kind": kind, "case_id": row.case_id, "task_id": row.id, "ref": ref, "due_at": due,
                            "status": "pending", "data": data})
            continue
        if existing.due_at != due:
            timers.P_RESCHEDULE.run(conn, {"b_id": existing.id, "due": due}, scope=timers.TASK_SCOPE)
        if (existing.data or {}) != data:
            timers.P_SET_DATA.run(conn, {"b_id": existing.id, "data": data}, scope=timers.TASK_SCOPE)
    if inserts:
        timers.P_INSERT.run(conn, inserts, scope=timers.TASK_SCOPE)


def _when(at: datetime) -> str:
    return at.astimezone(deadlines.STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def fire(engine: Engine, s: Session, timer: Any, case: Case | None, now: datetime) -> str:
    """Scheduler handler for ``escalation`` timers: carry out one step, once."""

    if case is None:
        return "cancelled"
    row = load_task(s, timer["task_id"])
    if row is None or row.status != "open":
        return "cancelled"
    work = CaseWork(engine, s, case)
    conn = s.connection()
    action = (timer["data"] or {}).get("action", "remind")
    late_by = now - timer["due_at"]
    late = late_by > timedelta(minutes=2)
    late_note = (f"\n\n(Skickas sent: steget skulle ha utförts {_when(timer['due_at'])}, "
                 f"{int(late_by.total_seconds() // 60)} minuter sent.)") if late else ""
    # The scheduler's instant, not the unit of work's: the step is judged as of when it fell due to run.
    router = routing.Router(conn, org.tree(engine), now)
    subject_case = f"ärende {case.business_key or case.id[:8]}"
    due = _when(row.due_at) if row.due_at else "–"
    outcome: dict[str, Any] = {"action": action, "step": timer["ref"], "late": late}
    dedupe = f"esc:{timer['id']}"
    ctx = _Firing(engine, work, conn, row, case, now, router, outcome, dedupe, subject_case, due, late_note)
    if action == "remind":
        to = [row.assignee] if row.assignee else router.pool(row.candidates or [])
        notifications.notify(conn, now, to, kind="reminder", dedupe=dedupe, case_id=case.id, task_id=row.id,
                             subject=f"Påminnelse: {row.name} ({subject_case}) förfaller {due}",
                             body=f"Uppgiften {row.name!r} i {subject_case} ska vara klar {due}.{late_note}")
        outcome["notified"] = to
    elif action_level(action)[0] == "reassign_manager" and work.is_decision(row):
        # Asked now, not when the ladder was made: an ordinance item approved since may have made
        # the task a decision, over which the manager chain has no authority. It goes, as on the
        # decision ladder, to a substitute, else is left to a superior where the item allows, else
        # someone who can see to it hears that no one with delegation has it.

        outcome["as_decision"] = True
        if not _to_substitute(ctx):
            item = item_for(work, row)
            if item is not None and item.superior_may_decide:
                _to_superior(ctx, item)
            else:
                _no_substitute(ctx)
    elif action_level(action)[0] in LEVELLED:
        # Up the manager chain, `level` steps, past the assignee (no one is escalated to about
        # themselves) and anyone away; the top of the chain where it is shorter.
        name, level = action_level(action)
        unit, manager_role, managers = router.managers(row.org_unit_id or case.org_unit_id, level=level,
                                                       exclude={row.assignee} if row.assignee else set())
        outcome.update(unit=unit, manager_role=manager_role, notified=managers, level=level)
        what = "har passerat sitt förfallodatum" if row.due_at and row.due_at <= now else "närmar sig förfallodatum"
        if name == "reassign_manager" and manager_role and unit:
            route = router.to_manager(unit, manager_role)
            conn.execute(sa.delete(TaskCandidate).where(TaskCandidate.task_id == row.id))
            conn.execute(sa.insert(TaskCandidate), [{"task_id": row.id, "kind": kind, "key": key,
                                                     "created_at": row.created_at} for kind, key in route.candidates])
            previous = row.assignee
            row.assignee, row.role = route.assignee, route.role
            row.candidates = route.keys
            row.priority = max(row.priority, RAISED_PRIORITY)
            outcome.update(previous_assignee=previous, priority=row.priority)
            what += f"; den har flyttats till {manager_role} och fått högre prioritet"
        notifications.notify(conn, now, managers, kind="escalation", dedupe=dedupe, case_id=case.id, task_id=row.id,
                             subject=f"Försenad uppgift: {row.name} ({subject_case})",
                             body=f"Uppgiften {row.name!r} i {subject_case} (förfaller {due}, "
                                  f"tilldelad {row.assignee or 'ingen'}) {what}.{late_note}")
    elif action == "substitute":
        if not _to_substitute(ctx):
            _no_substitute(ctx)
    elif action == "superior":
        item = item_for(work, row)
        if item is None or not item.superior_may_decide:
            _superior_may_not(ctx)
        else:
            _to_superior(ctx, item)
    elif action == "raise_priority":
        row.priority = max(row.priority, RAISED_PRIORITY)
        outcome["priority"] = row.priority
    work.event("escalation_step", actor="scheduler", task_id=row.id, element_id=row.element_id,
               data={**outcome, "name": row.name, "assignee": row.assignee,
                     "due": row.due_at.isoformat() if row.due_at else None,
                     "step_due": timer["due_at"].isoformat()})
    return "fired"


@dataclass
class _Firing:
    """What the parts of one step's firing share."""

    engine: Engine
    work: CaseWork
    conn: sa.Connection
    row: HumanTask
    case: Case
    now: datetime
    router: routing.Router
    outcome: dict[str, Any]
    dedupe: str
    subject_case: str
    due: str
    late_note: str


def _to_substitute(f: _Firing) -> bool:
    """Route a late decision to the ordinance's substitute and tell them; False when there is none."""
    row = f.row
    target = substitute_for(f.engine, f.work, row, exclude={row.assignee} if row.assignee else set())
    f.outcome["routed_to"] = target
    if not target:
        return False
    row.assignee = target
    notifications.notify(f.conn, f.now, [target], kind="escalation", dedupe=f.dedupe, case_id=f.case.id,
                         task_id=row.id, subject=f"Beslut till dig som ersättare: {row.name} ({f.subject_case})",
                         body=f"Beslutet {row.name!r} i {f.subject_case} förföll {f.due} och går enligt "
                              f"delegationsordningen till dig som ersättare.{f.late_note}")
    return True


def _no_substitute(f: _Firing) -> None:
    """Nobody may take the decision over: it stays where it is, but someone who can see to it (the
    unit's manager, else an administrator) hears that it is late."""
    _tell_late_decision(f, "ingen ersättare enligt delegationsordningen är tillgänglig",
                        "Försenat beslut utan ersättare",
                        ", och ingen ersättare enligt delegationsordningen är tillgänglig. Se till att någon med "
                        "befogenhet fattar det.")


def _superior_may_not(f: _Firing) -> None:
    """The ordinance lets no superior decide: no one is given the decision, but the unit's manager
    (else an administrator) hears that it is late, so that the one who holds the delegation is
    made to decide instead of the step passing in silence."""
    _tell_late_decision(f, "delegationsordningen låter inte överordnad besluta", "Försenat beslut",
                        ". Delegationsordningen låter inte överordnad fatta det; se till att den som har "
                        "delegationen gör det.")


def _tell_late_decision(f: _Firing, skipped: str, subject: str, advice: str) -> None:
    """Tell the unit's manager (past the one holding it), else an administrator, that a decision
    no one else may take over is late; `advice` ends the message's first sentence and says why."""
    row = f.row
    _, _, told = f.router.managers(row.org_unit_id or f.case.org_unit_id,
                                        exclude={row.assignee} if row.assignee else set())
    told = told or _admins(f.conn)
    f.outcome.update(notified=told, skipped=skipped)
    notifications.notify(f.conn, f.now, told, kind="escalation", dedupe=f.dedupe, case_id=f.case.id, task_id=row.id,
                         subject=f"{subject}: {row.name} ({f.subject_case})",
                         body=f"Beslutet {row.name!r} i {f.subject_case} förföll {f.due} (tilldelat "
                              f"{row.assignee or 'ingen'}){advice}{f.late_note}")


def _to_superior(f: _Firing, item: Any) -> None:
    """Tell the superiors who may decide under `item` that the decision is late."""
    # The nearest present manager above the case who is not the one already holding the
    # decision (a substitute who is also the unit's manager): every manager up the chain
    # manages the case's unit, so each may decide as superior.
    row = f.row
    holder = {row.assignee} if row.assignee else set()
    unit, _, managers = f.router.managers(f.case.org_unit_id, exclude=holder)
    f.outcome.update(unit=unit, notified=managers)
    if not managers:
        f.outcome["skipped"] = "ingen överordnad utöver den som har beslutet är tillgänglig"
    notifications.notify(f.conn, f.now, managers, kind="escalation", dedupe=f.dedupe, case_id=f.case.id,
                         task_id=row.id, subject=f"Försenat beslut: {row.name} ({f.subject_case})",
                         body=f"Beslutet {row.name!r} i {f.subject_case} förföll {f.due} (tilldelat "
                              f"{row.assignee or 'ingen'}). Enligt punkt {item.number} får du som "
                              f"överordnad fatta det.{f.late_note}")


def fire_follow_up(engine: Engine, s: Session, timer: Any, case: Case | None, now: datetime) -> str:
    """Scheduler handler for ``follow_up`` timers: remind whoever has the task (else who may take it)."""

    if case is None:
        return "cancelled"
    row = load_task(s, timer["task_id"])
    if row is None or row.status != "open" or row.follow_up_at is None:
        return "cancelled"
    meant = (timer["data"] or {}).get("for")
    if meant is not None and meant != _token(row.follow_up_at):
        return "cancelled"  # re-dated since; its own row reminds
    work = CaseWork(engine, s, case)
    conn = s.connection()
    to = [row.assignee] if row.assignee else routing.Router(conn, org.tree(engine), now).pool(row.candidates or [])
    subject_case = f"ärende {case.business_key or case.id[:8]}"
    due = f" Den ska vara klar {_when(row.due_at)}." if row.due_at else ""
    notifications.notify(conn, now, to, kind="follow_up", dedupe=f"fu:{timer['id']}", case_id=case.id,
                         task_id=row.id, subject=f"Följ upp: {row.name} ({subject_case})",
                         body=f"Det är dags att följa upp uppgiften {row.name!r} i {subject_case} "
                              f"(uppföljning {_when(row.follow_up_at)}).{due}")
    work.event("follow_up_reminder", actor="scheduler", task_id=row.id, element_id=row.element_id,
               data={"name": row.name, "follow_up": row.follow_up_at.isoformat(), "notified": to})
    return "fired"


def _admins(conn: sa.Connection) -> list[str]:
    return sorted(set(conn.execute(sa.select(User.name).join(UserRole, UserRole.user_id == User.id)
                                   .where(UserRole.role_key == ADMIN, User.active.is_(True))).scalars()))
