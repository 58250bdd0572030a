"""The delegation ordinance (delegationsordning): who holds the authority to decide.

Doing the work and holding the authority are different things. A decision task (marked in the
diagram with ``rutin:decision=true``, or named by an ordinance item) can be completed only by a
person who at that moment holds the delegation for it: the delegate role, the substitute role
when the task was routed to them (absence, declared conflict of interest) or no delegate is
present, or a superior where the item allows it. The completed decision records the person,
their role, the item and the confirmation that no conflict of interest (jäv) exists, and lands
in the committee's report. A refusal signed by someone without delegation is not a valid
decision (HFD 2012 not 76), so the check happens before anything is written.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
import time
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
import yaml

from bpmn import sandbox

from . import org
from .core import Engine
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .identity import Actor
from .models import DelegatedDecision, DelegationItem, HumanTask

log = logging.getLogger(__name__)
REPORTING = ("anmals", "protokollfors", "none")
_items = cast(sa.Table, DelegationItem.__table__)


_cache: dict[int, tuple[float, dict[str, list[DelegationItem]]]] = {}
_cache_lock = threading.Lock()
# Every completion asks whether its task is a decision, so the approved ordinance is held in
# memory; a change made through this process is seen at once, one made elsewhere within this time.
CACHE_TTL_S = 30.0


def _approved(engine: Engine) -> dict[str, list[DelegationItem]]:
    with _cache_lock:
        hit = _cache.get(id(engine))
        if hit and time.monotonic() - hit[0] < CACHE_TTL_S:
            return hit[1]
    by_process: dict[str, list[DelegationItem]] = {}
    with engine.db.read() as s:
        for item in s.execute(sa.select(DelegationItem).where(DelegationItem.status == "approved")
                              .order_by(DelegationItem.number)).scalars():
            by_process.setdefault(item.process_key or "", []).append(item)
    with _cache_lock:
        _cache[id(engine)] = (time.monotonic(), by_process)
    return by_process


def _forget(engine: Engine) -> None:
    with _cache_lock:
        _cache.pop(id(engine), None)


def item_for(work: Any, row: HumanTask) -> DelegationItem | None:
    """The ordinance item that governs a task now: the most specific valid one whose limit holds."""
    candidates = [
        i for i in _approved(work.engine).get(work.case.process_key, [])
        if (i.element_id is None or i.element_id == row.element_id)
        and (i.valid_from is None or i.valid_from <= work.now) and (i.valid_to is None or i.valid_to > work.now)
    ]
    if not candidates:
        return None
    candidates.sort(key=lambda i: (i.element_id is None, i.number))
    step = work.step(row)
    explicit = bool(step is not None and step.decision_authority)
    for item in candidates:
        if item.element_id is None and not explicit:
            continue  # a process-wide item governs the diagram's marked decisions only
        if item.limit_expr:
            try:
                if not sandbox.evaluate(item.limit_expr, work.case.data or {}):
                    continue
            except Exception as exc:  # a limit over data the case does not have does not apply
                log.info("delegation item %s limit not applicable: %s", item.number, exc)
                continue
        return item
    return None


def _present(work: Any, role: str, exclude: set[str]) -> list[str]:
    """People holding `role` for the case (its unit, then up; else group-wide), not away."""
    tree = org.tree(work.engine)
    conn = work.conn
    key = tree.canonical(role)
    unit = org.resolve_unit(conn, tree, key, work.case.org_unit_id, work.now) if work.case.org_unit_id else None
    people = org.holders(conn, key, unit, work.now)
    away = org.absent(conn, people, work.now)
    return [p for p in people if p not in away and p not in exclude]


def substitute_for(engine: Engine, work: Any, row: HumanTask, *, exclude: set[str] | None = None) -> str | None:
    """The first present holder of the item's substitute role, or None."""
    item = item_for(work, row)
    if item is None or not item.substitute_role:
        return None
    people = _present(work, item.substitute_role, exclude or set())
    return people[0] if people else None


def authority(work: Any, row: HumanTask, actor: Actor) -> tuple[DelegationItem, str, str]:
    """(item, role, grounds) under which the actor may decide; `Forbidden` when they may not."""
    item = item_for(work, row)
    if item is None:
        raise Forbidden("Beslutet saknar en gällande punkt i delegationsordningen; det kan inte fattas här.")
    if actor.name in _declared_conflict(work, row):
        raise Forbidden("Du har anmält jäv i ärendet och kan inte fatta beslutet.")
    tree = org.tree(work.engine)
    units: list[str | None] = [*tree.chain(work.case.org_unit_id)] or [None]
    delegate = tree.canonical(item.delegate_role)
    if any(actor.holds(delegate, u) for u in units):
        return item, item.delegate_role, "delegat"
    if item.substitute_role:
        substitute = tree.canonical(item.substitute_role)
        routed = row.assignee == actor.name
        if any(actor.holds(substitute, u) for u in units) and (routed or not _present(work, item.delegate_role, set())):
            return item, item.substitute_role, "ersättare"
    if item.superior_may_decide and work.case.org_unit_id and work.case.org_unit_id in actor.manages:
        return item, "överordnad", "överordnad"
    raise Forbidden(
        f"Du saknar delegation för beslutet (punkt {item.number}: {item.delegate_role}"
        + (f", ersättare {item.substitute_role}" if item.substitute_role else "") + ")."
    )


def _declared_conflict(work: Any, row: HumanTask) -> set[str]:
    from .models import CaseEvent

    return set(work.s.execute(
        sa.select(CaseEvent.actor).where(CaseEvent.case_id == work.case.id, CaseEvent.task_id == row.id,
                                         CaseEvent.type == "conflict_of_interest_declared")
    ).scalars())


def record(work: Any, row: HumanTask, actor: Actor, item: DelegationItem, role: str, grounds: str,
           outcome: dict[str, Any]) -> None:
    """Add a taken decision to the committee's report (same transaction as the completion)."""
    work.s.add(DelegatedDecision(
        item_id=item.id, item_number=item.number, case_id=work.case.id, task_id=row.id,
        process_key=work.case.process_key, business_key=work.case.business_key, task_name=row.name,
        decided_by=actor.name, role=role, grounds=grounds, committee=item.committee, reporting=item.reporting,
        decided_at=work.now, outcome=outcome,
    ))


def declare_conflict(engine: Engine, actor: Actor, task_id: str, reason: str | None = None) -> dict[str, Any]:
    """Declare jäv on a decision task: the task goes to a present substitute and the declarer is out."""
    from .runtime import CaseWork, load_task, locked_task_case
    from .views import task_json

    with locked_task_case(engine, task_id) as (s, case):
        row = load_task(s, task_id)
        if row is None:
            raise NotFound(f"Uppgiften {task_id} finns inte.")
        if row.status != "open":
            raise Conflict("Uppgiften är inte öppen.")
        work = CaseWork(engine, s, case)
        if not work.is_decision(row):
            from .tasks import _may_see

            if not _may_see(actor, row) or (actor.is_auditor and not actor.is_admin and not actor.manages):
                raise Forbidden("Uppgiften hör inte till någon av dina roller.")
            raise InvalidInput("Jäv anmäls på beslutsuppgifter.")
        authority(work, row, actor)  # only someone who could decide can step aside
        target = substitute_for(engine, work, row, exclude={actor.name})
        work.event("conflict_of_interest_declared", actor=actor.name, task_id=row.id, element_id=row.element_id,
                   data={"name": row.name, "reason": reason, "routed_to": target})
        row.assignee = target
        work.touch(row)
        return task_json(engine, row, actor)


# -- managing the ordinance --------------------------------------------------------------------


def _item_json(i: DelegationItem) -> dict[str, Any]:
    return {
        "id": i.id, "number": i.number, "version": i.version, "title": i.title, "process_key": i.process_key,
        "element_id": i.element_id, "legal_basis": i.legal_basis, "delegate_role": i.delegate_role,
        "substitute_role": i.substitute_role, "superior_may_decide": i.superior_may_decide,
        "limit": i.limit_expr, "reporting": i.reporting, "committee": i.committee,
        "valid_from": i.valid_from.isoformat() if i.valid_from else None,
        "valid_to": i.valid_to.isoformat() if i.valid_to else None, "adopted_ref": i.adopted_ref,
        "status": i.status, "created_by": i.created_by, "approved_by": i.approved_by,
        "approved_at": i.approved_at.isoformat() if i.approved_at else None,
    }


def propose(engine: Engine, actor: Actor, spec: dict[str, Any]) -> dict[str, Any]:
    """Add a draft item (a new number, or a new version of an existing number)."""
    if not actor.is_admin:
        raise Forbidden("Bara administratörer ändrar delegationsordningen.")
    for required in ("number", "title", "delegate_role"):
        if not spec.get(required):
            raise InvalidInput(f"Punkten saknar {required}.")
    reporting = spec.get("reporting", "anmals")
    if reporting not in REPORTING:
        raise InvalidInput(f"reporting ska vara en av {', '.join(REPORTING)}.")
    if spec.get("limit"):
        try:
            sandbox.check_expression(spec["limit"])
        except sandbox.PolicyViolation as exc:
            raise InvalidInput(f"Begränsningen kan inte utvärderas: {exc}") from None
    from .org import _when

    with engine.db.write() as s:
        latest = s.execute(sa.select(sa.func.max(DelegationItem.version)).where(
            DelegationItem.number == str(spec["number"]))).scalar()
        item = DelegationItem(
            number=str(spec["number"]), version=(latest or 0) + 1, title=spec["title"],
            process_key=spec.get("process_key"), element_id=spec.get("element_id"),
            legal_basis=spec.get("legal_basis"), delegate_role=spec["delegate_role"],
            substitute_role=spec.get("substitute_role"), superior_may_decide=bool(spec.get("superior_may_decide")),
            limit_expr=spec.get("limit"), reporting=reporting, committee=spec.get("committee"),
            valid_from=_when(spec.get("valid_from")), valid_to=_when(spec.get("valid_to")),
            adopted_ref=spec.get("adopted_ref"), status="draft", created_by=actor.name,
            created_at=engine.clock.now(),
        )
        s.add(item)
        s.flush()
        return _item_json(item)


def approve(engine: Engine, actor: Actor, item_id: int) -> dict[str, Any]:
    """Approve a draft (four eyes: not by its author); it replaces earlier versions of its number."""
    if not actor.is_admin:
        raise Forbidden("Bara administratörer godkänner delegationsordningen.")
    now = engine.clock.now()
    with engine.db.write() as s:
        item = s.get(DelegationItem, item_id)
        if item is None:
            raise NotFound(f"Punkten {item_id} finns inte.")
        if item.status != "draft":
            raise Conflict("Punkten är redan godkänd eller ersatt.")
        if item.created_by == actor.name:
            raise Forbidden("En annan person än den som föreslog punkten måste godkänna den.")
        s.execute(sa.update(DelegationItem).where(DelegationItem.number == item.number,
                                                  DelegationItem.status == "approved")
                  .values(status="replaced", valid_to=sa.func.coalesce(DelegationItem.valid_to, now)))
        item.status, item.approved_by, item.approved_at = "approved", actor.name, now
        result = _item_json(item)
    _forget(engine)
    return result


def list_items(engine: Engine, *, include_all: bool = False) -> list[dict[str, Any]]:
    """The ordinance: approved items (or every version with `include_all`)."""
    with engine.db.read() as s:
        q = sa.select(DelegationItem).order_by(DelegationItem.number, DelegationItem.version)
        if not include_all:
            q = q.where(DelegationItem.status == "approved")
        return [_item_json(i) for i in s.execute(q).scalars()]


def import_items(engine: Engine, actor: Actor, approver: Actor, items: list[dict[str, Any]]) -> int:
    """Load ordinance items proposed by `actor` and approved by `approver` (demo data, migrations)."""
    count = 0
    for spec in items:
        approve(engine, approver, propose(engine, actor, spec)["id"])
        count += 1
    return count


def report(engine: Engine, actor: Actor, *, committee: str | None = None, since: datetime | None = None,
           until: datetime | None = None) -> list[dict[str, Any]]:
    """Delegated decisions per committee and period, for the committee's report."""
    if not (actor.is_auditor or actor.manages):
        raise Forbidden("Rapporten över delegationsbeslut är för chefer, nämndsekreterare och revisorer.")
    q = sa.select(DelegatedDecision).order_by(DelegatedDecision.decided_at, DelegatedDecision.id)
    if committee:
        q = q.where(DelegatedDecision.committee == committee)
    if since:
        q = q.where(DelegatedDecision.decided_at >= since)
    if until:
        q = q.where(DelegatedDecision.decided_at < until)
    with engine.db.read() as s:
        return [{
            "item": d.item_number, "case_id": d.case_id, "business_key": d.business_key, "process_key": d.process_key,
            "decision": d.task_name, "outcome": d.outcome, "decided_by": d.decided_by, "role": d.role,
            "grounds": d.grounds, "committee": d.committee, "reporting": d.reporting,
            "decided_at": d.decided_at.isoformat(),
        } for d in s.execute(q).scalars()]


def report_csv(rows: list[dict[str, Any]]) -> str:
    """The report as CSV (semicolon-separated, as Swedish spreadsheets expect)."""
    out = io.StringIO()
    fields = ["decided_at", "item", "decision", "business_key", "case_id", "outcome", "decided_by", "role",
              "grounds", "committee", "reporting"]
    writer = csv.DictWriter(out, fieldnames=fields, delimiter=";", extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "outcome": ", ".join(f"{k}={v}" for k, v in (r["outcome"] or {}).items())})
    return out.getvalue()


def import_yaml(engine: Engine, actor: Actor, approver: Actor, text: str) -> int:
    """Load an ordinance from YAML (``items: [...]``), proposed and approved by two people."""
    data = yaml.safe_load(text) or {}
    return import_items(engine, actor, approver, list(data.get("items") or []))

