"""The delegation ordinance (delegationsordning): who holds the authority to decide.

Doing the work and holding the authority are different things. A decision task (marked in the
diagram with ``rutin:decision=true``, or named by an ordinance item) can be completed only by a
person who at that moment holds the delegation for it: the delegate role, the substitute role
when the task was routed to them (absence, declared conflict of interest) or no delegate is
present, or a superior where the item allows it. The completed decision records the person,
their role, the item and the confirmation that no conflict of interest (jäv) exists, and lands
in the committee's report. A refusal signed by someone without delegation is not a valid
decision (HFD 2012 not 76), so the check happens before anything is written. Declaring jäv is
`engine.service.conflict_of_interest`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
import yaml

from bpmn import sandbox

from ..authority import ordinance, org
from ..authority.identity import SYSTEM, Actor, require_writer
from ..authority.ordinance import APPROVED, in_force
from ..authority.org import read_instant
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..catalogue.processes import DEFAULT_OWNER_ROLE
from ..core import Engine
from ..execution.runtime import CaseWork
from ..store.models import DelegatedDecision, DelegationItem, HumanTask, ProcessVersion

log = logging.getLogger(__name__)
REPORTING = ("anmals", "protokollfors", "none")
_items = cast(sa.Table, DelegationItem.__table__)
MAX_ID = 2**63 - 1


def _governing(work: CaseWork, row: HumanTask) -> list[DelegationItem]:
    """The items in force that speak of this task, most specific first (`ordinance.governing`)."""
    step = work.step(row)
    explicit = bool(step is not None and step.decision_authority)
    return ordinance.governing(work.engine, work.case.process_key, row.element_id, explicit, work.now)


def names_task(work: CaseWork, row: HumanTask) -> bool:
    """Whether an item in force names this task's element, which makes it a decision whatever
    the item's limit says (outside the limit it is the committee's, not an ordinary task)."""
    return ordinance.names_element(work.engine, work.case.process_key, row.element_id, work.now)


def governing_item(work: CaseWork, row: HumanTask) -> DelegationItem:
    """The ordinance item under which the task may be decided now: the most specific one in force
    whose limit holds over the case's data (`ordinance.governing_item` says when it refuses)."""
    return ordinance.governing_item(_governing(work, row), work.case.data or {})


def item_for(work: CaseWork, row: HumanTask) -> DelegationItem | None:
    """The item governing a task now, or None where none applies or its limit cannot be judged
    (for routing: substitutes, superiors; deciding goes through `governing_item`)."""
    return ordinance.item_for(_governing(work, row), work.case.data or {})


def _present(work: CaseWork, role: str, exclude: set[str]) -> list[str]:
    """People holding `role` for the case (its unit, then up; else group-wide), not away."""
    return work.router.present(role, work.case.org_unit_id, exclude)


def substitute_for(engine: Engine, work: CaseWork, row: HumanTask, *, exclude: set[str] | None = None) -> str | None:
    """The first present holder of the item's substitute role who has not declared jäv on the
    task, or None."""
    role = work.substitute_role(row)
    if role is None:
        return None
    # A substitute who has stepped aside may not decide, so routing to them would leave the
    # decision with no one able to take it (and locked away from the other delegates).
    return work.router.substitute(role, work.case.org_unit_id, (exclude or set()) | declared_conflict(work, row))


def authority(work: CaseWork, row: HumanTask, actor: Actor) -> tuple[DelegationItem, str, str]:
    """(item, role, grounds) under which the actor may decide; `Forbidden` when they may not."""
    item = governing_item(work, row)
    if actor.name in declared_conflict(work, row):
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


def declared_conflict(work: CaseWork, row: HumanTask) -> set[str]:
    """Who has declared a conflict of interest (jäv) on this task."""
    return ordinance.stepped_aside(work.s, work.case.id, row.id)


def record(work: CaseWork, row: HumanTask, actor: Actor, item: DelegationItem, role: str, grounds: str,
           outcome: dict[str, Any]) -> None:
    """Add a taken decision to the committee's report (same transaction as the completion).

    The report goes to the item's committee, else to the one the case's unit answers to: an item
    that names no committee is still reported (KL 7 kap. 8 §), and the report is read by committee.
    """
    committee = item.committee or org.committee_of(org.tree(work.engine), work.case.org_unit_id)
    work.s.add(DelegatedDecision(
        item_id=item.id, item_number=item.number, case_id=work.case.id, task_id=row.id,
        process_key=work.case.process_key, business_key=work.case.business_key, task_name=row.name,
        decided_by=actor.name, role=role, grounds=grounds, committee=committee, reporting=item.reporting,
        decided_at=work.now, outcome=outcome,
    ))


# -- managing the ordinance --------------------------------------------------------------------


def _item_json(i: DelegationItem, now: datetime | None = None) -> dict[str, Any]:
    return {
        "id": i.id, "number": i.number, "version": i.version, "title": i.title, "process_key": i.process_key,
        "element_id": i.element_id, "legal_basis": i.legal_basis, "delegate_role": i.delegate_role,
        "substitute_role": i.substitute_role, "superior_may_decide": i.superior_may_decide,
        "limit": i.limit_expr, "reporting": i.reporting, "committee": i.committee,
        "valid_from": i.valid_from.isoformat() if i.valid_from else None,
        "valid_to": i.valid_to.isoformat() if i.valid_to else None, "adopted_ref": i.adopted_ref,
        "status": i.status, "created_by": i.created_by, "approved_by": i.approved_by,
        "approved_at": i.approved_at.isoformat() if i.approved_at else None,
        "approval_note": i.approval_note,
        "in_force": bool(i.status in APPROVED and now is not None and in_force(i, now)),
    }


_YES = ("ja", "true", "yes", "1")
_NO = ("nej", "false", "no", "0")
# The item's text fields and the columns holding them: the spec's names, where they differ.
_TEXT_FIELDS = {"number": "number", "title": "title", "process_key": "process_key", "element_id": "element_id",
                "legal_basis": "legal_basis", "delegate_role": "delegate_role",
                "substitute_role": "substitute_role", "limit": "limit_expr", "committee": "committee",
                "adopted_ref": "adopted_ref"}


def flag(value: Any, name: str) -> bool:
    """A yes/no field as written by hand in JSON, YAML or a spreadsheet: a boolean, or ja/nej,
    true/false, yes/no, 1/0 in any case; absent is no. Anything else is `InvalidInput`, since
    guessing would grant (or withhold) a power the ordinance does not."""
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _YES + _NO:
        return value.strip().lower() in _YES
    raise InvalidInput(f"{name} ska vara ja eller nej (true/false), inte {value!r}.", field=name)


def _check_spec(spec: Any) -> None:
    """`InvalidInput` unless the item's fields have the types and lengths the ordinance stores."""
    if not isinstance(spec, dict):
        raise InvalidInput("En punkt i delegationsordningen ska vara ett objekt med number, title och delegate_role.")
    for name, column in _TEXT_FIELDS.items():
        value = spec.get(name)
        if value is None or value == "":
            continue
        # A number written bare in YAML (``number: 3``) is still the item's number.
        if name == "number" and isinstance(value, int) and not isinstance(value, bool):
            continue
        if not isinstance(value, str):
            raise InvalidInput(f"{name} ska vara text.", field=name)
        length = getattr(_items.c[column].type, "length", None)
        if length and len(value) > length:
            raise InvalidInput(f"{name} får vara högst {length} tecken.", field=name)
    for required in ("number", "title", "delegate_role"):
        if not spec.get(required):
            raise InvalidInput(f"Punkten saknar {required}.", field=required)
    flag(spec.get("superior_may_decide"), "superior_may_decide")
    if spec.get("reporting", "anmals") not in REPORTING:
        raise InvalidInput(f"reporting ska vara en av {', '.join(REPORTING)}.", field="reporting")
    if spec.get("limit"):
        try:
            sandbox.check_expression(spec["limit"])
        except sandbox.PolicyViolation as exc:
            raise InvalidInput(f"Begränsningen kan inte utvärderas: {exc}", field="limit") from None


def propose(engine: Engine, actor: Actor, spec: dict[str, Any]) -> dict[str, Any]:
    """Add a draft item (a new number, or a new version of an existing number)."""
    require_writer(actor)
    if not actor.is_admin:
        raise Forbidden("Bara administratörer ändrar delegationsordningen.")
    _check_spec(spec)
    superior_may_decide = flag(spec.get("superior_may_decide"), "superior_may_decide")
    reporting = spec.get("reporting", "anmals")

    with engine.db.write() as s:
        latest = s.execute(sa.select(sa.func.max(DelegationItem.version)).where(
            DelegationItem.number == str(spec["number"]))).scalar()
        item = DelegationItem(
            number=str(spec["number"]), version=(latest or 0) + 1, title=spec["title"],
            process_key=spec.get("process_key"), element_id=spec.get("element_id"),
            legal_basis=spec.get("legal_basis"), delegate_role=spec["delegate_role"],
            substitute_role=spec.get("substitute_role"), superior_may_decide=superior_may_decide,
            limit_expr=spec.get("limit"), reporting=reporting, committee=spec.get("committee"),
            valid_from=read_instant(spec.get("valid_from")), valid_to=read_instant(spec.get("valid_to")),
            adopted_ref=spec.get("adopted_ref"), status="draft", created_by=actor.name,
            created_at=engine.clock.now(),
        )
        s.add(item)
        s.flush()
        return _item_json(item)


SETUP_NOTE = ("Godkänd av systemadministratören vid inläsning (rutin delegation import --approve), "
              "inte granskad av en andra person i Rutin.")


def approve(engine: Engine, actor: Actor, item_id: int, *, setup: bool = False) -> dict[str, Any]:
    """Approve a draft (four eyes: not by its author); it supersedes earlier versions of its number.

    The earlier versions stay in force until the new one takes effect (its `valid_from`, or now),
    so an ordinance adopted today to apply from the first of next month changes nothing before
    then. `setup` is the system's own approval when an ordinance is loaded at installation (the
    CLI); it is recorded as such, never as a second person's review.
    """
    require_writer(actor)
    if not actor.is_admin:
        raise Forbidden("Bara administratörer godkänner delegationsordningen.")
    if setup and actor is not SYSTEM:
        raise Forbidden("Bara systemet godkänner punkter vid inläsning.")
    now = engine.clock.now()
    with engine.db.write() as s:
        # An id beyond a signed 64-bit integer is in no table, and SQLite refuses even to look it up.
        item = s.get(DelegationItem, item_id) if 0 < item_id <= MAX_ID else None
        if item is None:
            raise NotFound(f"Punkten {item_id} finns inte.")
        if item.status != "draft":
            raise Conflict("Punkten är redan godkänd eller ersatt.")
        if item.created_by == actor.name and not setup:
            raise Forbidden("En annan person än den som föreslog punkten måste godkänna den.")
        effective = max(item.valid_from or now, now)
        for old in s.execute(sa.select(DelegationItem).where(
                DelegationItem.number == item.number, DelegationItem.status.in_(APPROVED))).scalars():
            old.status = "replaced"
            if old.valid_to is None or old.valid_to > effective:
                old.valid_to = effective
        item.status, item.approved_by, item.approved_at = "approved", actor.name, now
        if setup:
            item.approval_note = SETUP_NOTE
        result = _item_json(item, now)
    ordinance.forget(engine)
    return result


def _sees_drafts(engine: Engine, actor: Actor) -> bool:
    """Admins, auditors and process owners read proposed (not yet approved) items."""
    if actor.is_admin or actor.is_auditor:
        return True

    with engine.db.read() as s:
        # The owners of processes as published: a draft's proposed owner is nobody's authority yet.
        owners = {r for r in s.execute(sa.select(ProcessVersion.owner_role).where(
            ProcessVersion.status == "published").distinct()).scalars() if r}
    return actor.role_for(sorted(owners | {DEFAULT_OWNER_ROLE})) is not None


def list_items(engine: Engine, actor: Actor | None = None, *, include_all: bool = False) -> list[dict[str, Any]]:
    """The ordinance: approved items in force now or later (or, with `include_all`, every
    version, drafts included; drafts only for admins, auditors and process owners)."""
    if include_all and actor is not None and not _sees_drafts(engine, actor):
        raise Forbidden("Förslag till delegationsordningen visas bara för administratörer, processägare och revisorer.")
    now = engine.clock.now()
    with engine.db.read() as s:
        q = sa.select(DelegationItem).order_by(DelegationItem.number, DelegationItem.version)
        if not include_all:
            q = q.where(DelegationItem.status.in_(APPROVED),
                        sa.or_(DelegationItem.valid_to.is_(None), DelegationItem.valid_to > now))
        return [_item_json(i, now) for i in s.execute(q).scalars()]


def import_items(engine: Engine, actor: Actor, approver: Actor | None, items: list[dict[str, Any]]) -> int:
    """Load ordinance items proposed by `actor` and approved by `approver` (demo data).

    Without an approver the items stay drafts for a second administrator to approve; with the
    system as both (`rutin delegation import --approve`), they are approved as set-up.
    """
    # Every item is checked before the first is stored, so a fault in one leaves no half-loaded ordinance.
    for n, spec in enumerate(items, 1):
        try:
            _check_spec(spec)
        except InvalidInput as exc:
            raise InvalidInput(f"Punkt nr {n}: {exc.detail}", **exc.extra) from None
    count = 0
    setup = approver is SYSTEM and actor is SYSTEM
    for spec in items:
        draft = propose(engine, actor, spec)
        if approver is not None:
            approve(engine, approver, draft["id"], setup=setup)
        count += 1
    return count


SECRETARY_ROLE = "Nämndsekreterare"


def readable_committees(engine: Engine, actor: Actor) -> set[str] | None:
    """The committees whose decision reports the actor may read; None: every committee.

    Auditors and administrators read all; a nämndsekreterare the committee of their unit (all,
    held across the group); a manager the committees their units answer to.
    """
    if actor.is_auditor:
        return None
    tree = org.tree(engine)
    secretary = tree.canonical(SECRETARY_ROLE)
    out: set[str] = set()
    for held in actor.roles:
        key, _, unit = held.partition("@")
        if key == secretary:
            if not unit:
                return None
            committee = org.committee_of(tree, unit)
            if committee:
                out.add(committee)
    out |= {c for c in (org.committee_of(tree, u) for u in actor.manages) if c}
    return out


def report(engine: Engine, actor: Actor, *, committee: str | None = None, since: datetime | None = None,
           until: datetime | None = None, reporting: str | None = None) -> list[dict[str, Any]]:
    """Delegated decisions per committee and period (and reporting mode), for the committee's report."""
    allowed = readable_committees(engine, actor)
    if allowed is not None and not allowed:
        raise Forbidden("Rapporten över delegationsbeslut är för chefer, nämndsekreterare och revisorer.")
    if committee and allowed is not None and committee not in allowed:
        raise Forbidden(f"Du kan inte läsa delegationsbesluten till {committee}.")
    if reporting is not None and reporting not in REPORTING:
        raise InvalidInput(f"reporting ska vara en av {', '.join(REPORTING)}.")
    q = sa.select(DelegatedDecision).order_by(DelegatedDecision.decided_at, DelegatedDecision.id)
    if committee:
        q = q.where(DelegatedDecision.committee == committee)
    elif allowed is not None:
        q = q.where(DelegatedDecision.committee.in_(sorted(allowed)))
    if since:
        q = q.where(DelegatedDecision.decided_at >= since)
    if until:
        q = q.where(DelegatedDecision.decided_at < until)
    if reporting:
        q = q.where(DelegatedDecision.reporting == reporting)
    with engine.db.read() as s:
        return [{
            "item": d.item_number, "case_id": d.case_id, "business_key": d.business_key, "process_key": d.process_key,
            "decision": d.task_name, "outcome": d.outcome, "decided_by": d.decided_by, "role": d.role,
            "grounds": d.grounds, "committee": d.committee, "reporting": d.reporting,
            "decided_at": d.decided_at.isoformat(),
        } for d in s.execute(q).scalars()]


def import_yaml(engine: Engine, actor: Actor, approver: Actor | None, text: str) -> int:
    """Load an ordinance from YAML (``items: [...]``); see `import_items` for who approves it."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"Ogiltig YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("items") or [], list):
        raise InvalidInput("Delegationsordningen ska vara ett objekt med items: en lista av punkter.")
    return import_items(engine, actor, approver, list(data.get("items") or []))

