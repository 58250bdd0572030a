"""Free-text search over the projections the lists read (never a workflow): a task by its case's
business key, its step's name or its case's data; a case by its business key, its data or the
name of an open step.

The text is searched for as written: % and _ are escaped, not wildcards, and case does not matter
on any backend (SQLite's own LIKE folds ASCII letters only, so text is compared casefolded there,
`engine.store.db.fold`; PostgreSQL's ILIKE folds all). A case's data is searched in its stored
JSON text, where letters outside ASCII may be written escaped (``\\u00f6``): the escaped form of
the text is searched for too, and case then matters for those letters.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from ..core import Engine
from ..store.models import Case, HumanTask


def _like(engine: Engine, column: Any, text: str) -> Any:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if engine.db.is_sqlite:
        return sa.func.rutin_fold(column).like(f"%{escaped.casefold()}%", escape="\\")
    return column.ilike(f"%{escaped}%", escape="\\")


def _in_data(engine: Engine, text: str) -> Any:
    stored = sa.cast(Case.data, sa.Text)
    variants = {text, json.dumps(text)[1:-1]}
    return sa.or_(*(_like(engine, stored, v) for v in variants))


def task_matches(engine: Engine, text: str) -> Any:
    """The condition on `HumanTask` rows that match `text`."""
    return sa.or_(
        _like(engine, HumanTask.business_key, text),
        _like(engine, HumanTask.name, text),
        HumanTask.case_id.in_(sa.select(Case.id).where(_in_data(engine, text))),
    )


def case_matches(engine: Engine, text: str) -> Any:
    """The condition on `Case` rows that match `text`."""
    return sa.or_(
        _like(engine, Case.business_key, text),
        _in_data(engine, text),
        Case.id.in_(sa.select(HumanTask.case_id)
                    .where(HumanTask.status == "open", _like(engine, HumanTask.name, text))),
    )
