"""Retention rules as data, like the delegation ordinance: per process (and optionally per outcome
of it) whether its cases are kept for ever (``bevaras``, then delivered to the e-archive) or culled
(``gallras``) a period after they close, with the culling decision (gallringsbeslut) the rule rests
on: its reference, the body that took it and its date.

A rule is proposed by an administrator or an archive officer (the role ``arkivansvarig``) and
approved by another such person, never by its proposer; each approved version replaces the one
before it for the same process and outcome, and every version stays (the rule's history).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..authority.identity import Actor, require_writer
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..core import Engine
from ..store.models import Case, ProcessVersion
from ..store.retention_models import RetentionRule

ARCHIVE_ROLE = "arkivansvarig"
ACTIONS = ("bevaras", "gallras")
FIELDS = {"process_key", "outcome_field", "outcome_value", "action", "years", "months", "decision_ref",
          "decision_body", "decision_date", "note"}
MAX_ID = 2**63 - 1
# Longest period a rule may set: culling is about years, and a period past this is a typo.
MAX_MONTHS = 200 * 12
_table = cast(sa.Table, RetentionRule.__table__)


def may_manage(actor: Actor) -> bool:
    """Whether the actor proposes and approves retention rules: an administrator or an archive officer."""
    return actor.is_admin or actor.role_for([ARCHIVE_ROLE]) is not None


def _require_manager(actor: Actor, what: str) -> None:
    require_writer(actor)
    if not may_manage(actor):
        raise Forbidden(f"Bara administratörer och arkivansvariga {what} gallringsregler.")


def _text(spec: dict[str, Any], name: str, *, required: bool) -> str | None:
    value = spec.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"Regeln saknar {name}.", field=name)
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{name} ska vara text.", field=name)
    length = getattr(_table.c[name].type, "length", None)
    if length and len(value) > length:
        raise InvalidInput(f"{name} får vara högst {length} tecken.", field=name)
    return value.strip()


def _count(spec: dict[str, Any], name: str) -> int:
    value = spec.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MONTHS:
        raise InvalidInput(f"{name} ska vara ett heltal från 0 till {MAX_MONTHS}.", field=name)
    return value


def check_spec(s: Session, spec: Any) -> dict[str, Any]:
    """The rule's columns from a proposal, or `InvalidInput` naming what is wrong (nothing stored)."""
    if not isinstance(spec, dict):
        raise InvalidInput("En gallringsregel ska vara ett objekt med process_key, action och gallringsbeslutet.")
    unknown = sorted(str(k) for k in spec if k not in FIELDS)
    if unknown:
        raise InvalidInput(f"Okända fält i regeln: {', '.join(unknown)}.", fields=unknown)
    key = _text(spec, "process_key", required=True)
    if s.execute(sa.select(ProcessVersion.id).where(ProcessVersion.key == key).limit(1)).first() is None:
        raise InvalidInput(f"Processen {key} finns inte.", field="process_key")
    action = spec.get("action")
    if action not in ACTIONS:
        raise InvalidInput("action ska vara bevaras eller gallras.", field="action")
    field, value = _text(spec, "outcome_field", required=False), _text(spec, "outcome_value", required=False)
    if (field is None) != (value is None):
        raise InvalidInput("outcome_field och outcome_value anges tillsammans (eller ingen av dem).",
                           field="outcome_field")
    months = _count(spec, "years") * 12 + _count(spec, "months")
    if action == "gallras" and not 0 < months <= MAX_MONTHS:
        raise InvalidInput(f"En regel om gallring anger en tid (years, months) på mellan en månad och "
                           f"{MAX_MONTHS // 12} år.", field="years")
    if action == "bevaras" and months:
        raise InvalidInput("En regel om bevarande anger ingen gallringsfrist.", field="years")
    when = _text(spec, "decision_date", required=True)
    try:
        date.fromisoformat(str(when))
        if len(str(when)) != 10:
            raise ValueError
    except ValueError:
        raise InvalidInput("decision_date ska vara ett datum (ÅÅÅÅ-MM-DD).", field="decision_date") from None
    return {
        "process_key": key, "outcome_field": field, "outcome_value": value, "action": action,
        "period_months": months or None, "decision_ref": _text(spec, "decision_ref", required=True),
        "decision_body": _text(spec, "decision_body", required=True), "decision_date": when,
        "note": _text(spec, "note", required=False),
    }


def period_text(months: int | None) -> str:
    """A period as a person reads it ("2 år och 6 månader")."""
    if not months:
        return ""
    years, rest = divmod(months, 12)
    parts = ([f"{years} år"] if years else []) + ([f"{rest} {'månad' if rest == 1 else 'månader'}"] if rest else [])
    return " och ".join(parts)


def summary(rule: RetentionRule) -> str:
    """The rule in one Swedish sentence, as the process and case pages show it."""
    what = "Bevaras" if rule.action == "bevaras" else f"Gallras {period_text(rule.period_months)} efter avslut"
    return f"{what} enligt {rule.decision_ref} ({rule.decision_body}, {rule.decision_date})"


def rule_json(rule: RetentionRule) -> dict[str, Any]:
    """The API form of a rule version."""
    return {
        "id": rule.id, "process_key": rule.process_key, "outcome_field": rule.outcome_field,
        "outcome_value": rule.outcome_value, "version": rule.version, "action": rule.action,
        "period_months": rule.period_months, "period": period_text(rule.period_months),
        "decision": {"ref": rule.decision_ref, "body": rule.decision_body, "date": rule.decision_date},
        "note": rule.note, "status": rule.status, "proposed_by": rule.proposed_by,
        "proposed_at": rule.proposed_at.isoformat(), "approved_by": rule.approved_by,
        "approved_at": rule.approved_at.isoformat() if rule.approved_at else None,
        "replaced_at": rule.replaced_at.isoformat() if rule.replaced_at else None, "summary": summary(rule),
    }


def _scope(q: Any, key: str, field: str | None, value: str | None) -> Any:
    return q.where(RetentionRule.process_key == key,
                   RetentionRule.outcome_field.is_(None) if field is None else RetentionRule.outcome_field == field,
                   RetentionRule.outcome_value.is_(None) if value is None else RetentionRule.outcome_value == value)


def propose(engine: Engine, actor: Actor, spec: Any) -> dict[str, Any]:
    """A draft rule (a new process and outcome, or a new version of one) for a second person to approve."""
    _require_manager(actor, "föreslår")
    with engine.db.write() as s:
        values = check_spec(s, spec)
        latest = s.execute(_scope(sa.select(sa.func.max(RetentionRule.version)), values["process_key"],
                                  values["outcome_field"], values["outcome_value"])).scalar()
        rule = RetentionRule(**values, version=(latest or 0) + 1, status="draft", proposed_by=actor.name,
                             proposed_at=engine.clock.now())
        s.add(rule)
        s.flush()
        return rule_json(rule)


def _load(s: Session, rule_id: Any) -> RetentionRule:
    rule = s.get(RetentionRule, rule_id) if isinstance(rule_id, int) and 0 < rule_id <= MAX_ID else None
    if rule is None:
        raise NotFound(f"Gallringsregeln {rule_id} finns inte.")
    return rule


def approve(engine: Engine, actor: Actor, rule_id: int) -> dict[str, Any]:
    """Approve a draft (four eyes: not by its proposer); it replaces the version in force."""
    _require_manager(actor, "godkänner")
    now = engine.clock.now()
    with engine.db.write() as s:
        rule = _load(s, rule_id)
        if rule.status != "draft":
            raise Conflict("Regeln är redan godkänd, ersatt eller avvisad.")
        if rule.proposed_by == actor.name:
            raise Forbidden("En annan person än den som föreslog regeln måste godkänna den.")
        for old in s.execute(_scope(sa.select(RetentionRule), rule.process_key, rule.outcome_field,
                                    rule.outcome_value).where(RetentionRule.status == "approved")).scalars():
            old.status, old.replaced_at = "replaced", now
        rule.status, rule.approved_by, rule.approved_at = "approved", actor.name, now
        return rule_json(rule)


def reject(engine: Engine, actor: Actor, rule_id: int) -> dict[str, Any]:
    """Set a draft aside (its proposer withdrawing it, or a second person declining it)."""
    _require_manager(actor, "avvisar")
    with engine.db.write() as s:
        rule = _load(s, rule_id)
        if rule.status != "draft":
            raise Conflict("Bara ett förslag kan avvisas.")
        rule.status, rule.replaced_at = "rejected", engine.clock.now()
        return rule_json(rule)


def list_rules(engine: Engine, actor: Actor, *, process_key: str | None = None,
               include_all: bool = False) -> list[dict[str, Any]]:
    """The rules in force (or, with `include_all`, every version: the history, drafts included)."""
    if include_all and not (may_manage(actor) or actor.is_auditor):
        raise Forbidden("Förslag och tidigare versioner av gallringsregler visas för administratörer, "
                        "arkivansvariga och revisorer.")
    q = sa.select(RetentionRule).order_by(RetentionRule.process_key, RetentionRule.outcome_field,
                                          RetentionRule.outcome_value, RetentionRule.version)
    if process_key is not None:
        q = q.where(RetentionRule.process_key == process_key)
    if not include_all:
        q = q.where(RetentionRule.status == "approved")
    with engine.db.read() as s:
        return [rule_json(r) for r in s.execute(q).scalars()]


def in_force(s: Session, process_key: str) -> list[RetentionRule]:
    """The approved rules of a process, outcome-specific ones first."""
    rules = list(s.execute(sa.select(RetentionRule).where(RetentionRule.process_key == process_key,
                                                          RetentionRule.status == "approved")).scalars())
    rules.sort(key=lambda r: (r.outcome_field is None, r.id))
    return rules


def rule_for_case(s: Session, case: Case) -> RetentionRule | None:
    """The rule that applies to a case: one naming an outcome the case's data has, else the
    process's general rule, else none (a case with no rule is never culled)."""
    data = case.data or {}
    for rule in in_force(s, case.process_key):
        if rule.outcome_field is None or str(data.get(rule.outcome_field)) == rule.outcome_value:
            return rule
    return None


def add_months(at: datetime, months: int) -> datetime:
    """The same instant `months` later (the last day of a shorter month where the day is missing)."""
    month = at.month - 1 + months
    year, month = at.year + month // 12, month % 12 + 1
    for day in (at.day, 30, 29, 28):
        try:
            return at.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def cull_after(rule: RetentionRule, case: Case) -> datetime | None:
    """When a closed case may be culled under a rule (None: kept, or not closed)."""
    if rule.action != "gallras" or case.completed_at is None or not rule.period_months:
        return None
    return add_months(case.completed_at, rule.period_months)


def applies(engine: Engine, case_id: str) -> dict[str, Any] | None:
    """The rule that applies to a case and, once it is closed, when it may be culled (the case page)."""
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        rule = rule_for_case(s, case) if case is not None else None
        if case is None or rule is None:
            return None
        after = cull_after(rule, case)
        return {**rule_json(rule), "cull_after": after.isoformat() if after else None}
