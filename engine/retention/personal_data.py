"""A person's request for their personal data (GDPR art. 15, registerutdrag): every case and
history event that names them, as a party in the case's data or its form answers, or as who acted;
in a readable form (JSON, CSV), each case marked as an allmän handling that must be kept (its rule
says bevaras, it has no culling rule at all, its culling period has not run out, or it is held) or
one that may be culled now or already has been (art. 17 applies only there).

The search reads every case's data and history in Python, not by SQL text matching: JSON is
stored with its non-ASCII letters escaped on some backends, and "Åsa" must find "Åsa". It matches
case-insensitively on any text value containing the term, and on a user name or display name
equal to it. Only administrators search (the result is about one person, across every unit).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from ..authority.identity import Actor
from ..base.errors import Forbidden, InvalidInput
from ..core import Engine
from ..store.models import Case, CaseEvent, HumanTask, User
from . import holds, rules
from .culling import cull_at

MIN_TERM, MAX_TERM = 3, 200


def _paths(value: Any, needle: str, path: str = "") -> Iterator[str]:
    """The paths (``a.b[2]``) of every text value in `value` that contains `needle` (lower-cased)."""
    if isinstance(value, str):
        if needle in value.lower():
            yield path or "(värde)"
    elif isinstance(value, dict):
        for k, v in value.items():
            if needle in str(k).lower():
                yield f"{path}.{k}" if path else str(k)
            yield from _paths(v, needle, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, needle, f"{path}[{i}]")


def search(engine: Engine, actor: Actor, term: Any) -> dict[str, Any]:
    """Every case and event naming the person `term` (a name, a personal identity number, a user name)."""
    if not actor.is_admin:
        raise Forbidden("Bara administratörer söker fram en persons uppgifter (registerutdrag).")
    if not isinstance(term, str) or not MIN_TERM <= len(term.strip()) <= MAX_TERM:
        raise InvalidInput(f"Ange ett namn eller en identitet (text, {MIN_TERM}–{MAX_TERM} tecken).", field="query")
    needle = term.strip().lower()
    now = engine.clock.now()
    found: dict[str, dict[str, Any]] = {}
    with engine.db.snapshot() as s:
        users = {name for name, display in s.execute(sa.select(User.name, User.display_name))
                 if needle in (name.lower(), (display or "").lower())}

        def entry(case: Case) -> dict[str, Any]:
            if case.id not in found:
                found[case.id] = {"case_id": case.id, "process_key": case.process_key,
                                  "business_key": case.business_key, "status": case.status,
                                  "opened_at": case.created_at.isoformat(),
                                  "closed_at": case.completed_at.isoformat() if case.completed_at else None,
                                  "in_case_data": [], "in_form_answers": [], "events": []}
            return found[case.id]

        cases = {c.id: c for c in s.execute(sa.select(Case).execution_options(yield_per=500)).scalars()}
        for case in cases.values():
            hits = list(_paths(case.data or {}, needle))
            if hits or case.started_by in users:
                e = entry(case)
                e["in_case_data"] = hits
                if case.started_by in users:
                    e["started_by"] = case.started_by
        for task in s.execute(sa.select(HumanTask).where(HumanTask.result.is_not(None))).scalars():
            hits = list(_paths(task.result or {}, needle))
            if hits and task.case_id in cases:
                entry(cases[task.case_id])["in_form_answers"].append({"task": task.name, "fields": hits})
        for ev in s.execute(sa.select(CaseEvent).order_by(CaseEvent.case_id, CaseEvent.seq)
                            .execution_options(yield_per=2000)).scalars():
            hits = list(_paths(ev.data or {}, needle))
            if (hits or ev.actor in users) and ev.case_id in cases:
                entry(cases[ev.case_id])["events"].append({
                    "seq": ev.seq, "type": ev.type, "at": ev.at.isoformat(), "actor": ev.actor,
                    "as_actor": ev.actor in users, "fields": hits})
        held = holds.held_case_ids(s)
        for case_id, e in found.items():
            case = cases[case_id]
            rule = rules.rule_for_case(s, case)
            after = cull_at(s, rule, case) if rule is not None and case.status == "completed" else None
            e["rule"] = rules.summary(rule) if rule is not None else None
            e["held"] = case_id in held
            e["may_be_culled_from"] = after.isoformat() if after else None
            e["must_be_kept"] = case.status != "culled" and (case_id in held or after is None or after > now)
            e["why"] = _why(case, rule, after, now, case_id in held)
    items = sorted(found.values(), key=lambda e: e["opened_at"])
    return {"query": term.strip(), "searched_at": now.isoformat(), "users": sorted(users), "cases": items}


def _why(case: Case, rule: Any, after: Any, now: Any, held: bool) -> str:
    if case.status == "culled":
        return "Ärendet är redan gallrat; bara gallringsuppgiften och historikens skelett finns kvar."
    if held:
        return "Allmän handling som är undantagen från gallring."
    if rule is None:
        return "Allmän handling: inget gallringsbeslut gäller processen, så den bevaras."
    if rule.action == "bevaras":
        return "Allmän handling som ska bevaras enligt gallringsbeslutet."
    if case.status != "completed":
        return "Allmän handling i ett pågående ärende."
    if after > now:
        return f"Allmän handling som får gallras först från {after.date()}."
    return "Gallringsfristen har gått ut: ärendet får gallras (och gallras av gallringsjobbet)."


CSV_HEADERS = {"case_id": "Ärende-id", "process_key": "Process", "business_key": "Ärendenummer",
               "status": "Status", "opened_at": "Öppnat", "closed_at": "Avslutat",
               "where": "Var personen nämns", "must_be_kept": "Ska bevaras", "why": "Skäl", "rule": "Gallringsregel"}


def to_csv(result: dict[str, Any]) -> str:
    """The result as CSV with Swedish headers (semicolon-separated), one line per case."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(CSV_HEADERS.values())
    for e in result["cases"]:
        where = [f"ärendets uppgifter: {', '.join(e['in_case_data'])}"] if e["in_case_data"] else []
        where += [f"formulär {f['task']}: {', '.join(f['fields'])}" for f in e["in_form_answers"]]
        where += [f"händelse {ev['seq']} ({ev['type']}{', utförd av personen' if ev['as_actor'] else ''})"
                  for ev in e["events"]]
        row = {**e, "where": "; ".join(where), "must_be_kept": "ja" if e["must_be_kept"] else "nej",
               "rule": e["rule"] or ""}
        writer.writerow(["" if row.get(k) is None else row[k] for k in CSV_HEADERS])
    return out.getvalue()
