"""The committee's list of delegated decisions as people read it: each decision's outcome in the
words of the form that took it (its labels and choice names, never field ids or the engine's own
variables), the decider by name, the reporting mode in Swedish; and the list as the CSV the
committee's papers take (Swedish headers, semicolon-separated as Swedish spreadsheets expect)."""

from __future__ import annotations

import csv
import io
from typing import Any

import sqlalchemy as sa

from ..authority import identity
from ..base.labels import REPORTING_LABELS
from ..core import Engine
from ..store.models import Case

# The CSV's columns: (the row's key, the header the committee reads).
COLUMNS = [("decided_at", "Beslutsdatum"), ("item", "Delegationspunkt"), ("decision", "Beslut"),
           ("business_key", "Ärende"), ("outcome_text", "Utfall"), ("decided_by_name", "Beslutsfattare"),
           ("role", "Roll"), ("grounds", "Grund"), ("committee", "Nämnd"), ("reporting_text", "Anmälan"),
           ("case_id", "Ärende-id")]


def _value(value: Any, names: dict[str, str]) -> str | None:
    if isinstance(value, bool):
        return "Ja" if value else "Nej"
    if isinstance(value, dict):
        return None
    if isinstance(value, list):
        return ", ".join(names.get(str(v), str(v)) for v in value if not isinstance(v, (dict, list)))
    return names.get(str(value), str(value))


def outcome_words(model: Any, outcome: dict[str, Any] | None) -> str:
    """A decision's outcome as its form shows it: the choice's name, or each field by its label."""
    outcome = outcome or {}
    chosen = outcome.get("choice_name")
    if chosen:
        return chosen if isinstance(chosen, str) else ", ".join(str(c) for c in chosen)
    labels: dict[str, str] = {}
    choices: dict[str, dict[str, str]] = {}
    for form in [model.start_form, *(s.form for s in model.steps.values())] if model is not None else []:
        for f in form:
            labels.setdefault(f.id, f.label or f.id)
            if f.options:
                choices.setdefault(f.id, {str(o.get("id")): str(o.get("name") or o.get("id")) for o in f.options})
    parts = []
    for key, value in (outcome.get("data") or {}).items():
        shown = None if key.startswith(("rutin_", "_")) else _value(value, choices.get(key, {}))
        if shown is not None:
            parts.append(f"{labels.get(key, key)}: {shown}")
    return "; ".join(parts) or "–"


def described(engine: Engine, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's rows with what a person reads beside the codes: ``outcome_text``,
    ``decided_by_name`` and ``reporting_text``."""
    case_ids = sorted({r["case_id"] for r in rows})
    with engine.db.read() as s:
        versions = dict(s.execute(sa.select(Case.id, Case.process_version_id).where(Case.id.in_(case_ids))).all()) \
            if case_ids else {}
    names = identity.display_names(engine, {r["decided_by"] for r in rows if r.get("decided_by")})
    out = []
    for r in rows:
        version = versions.get(r["case_id"])
        model = engine.model(version) if version is not None else None
        out.append({**r, "outcome_text": outcome_words(model, r.get("outcome")),
                    "decided_by_name": names.get(r["decided_by"], r["decided_by"]),
                    "reporting_text": REPORTING_LABELS.get(r["reporting"], r["reporting"])})
    return out


def report_csv(engine: Engine, rows: list[dict[str, Any]]) -> str:
    """The committee's list as CSV: Swedish headers and words, one decision a line."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([header for _, header in COLUMNS])
    for r in described(engine, rows):
        writer.writerow([r.get(key) if r.get(key) is not None else "" for key, _ in COLUMNS])
    return out.getvalue()
