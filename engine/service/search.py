"""Free-text search over the projections the lists read (never a workflow): a task by its case's
business key, its step's name or its case's data; a case by its business key, its data or the
name of an open step.

The text is searched for as written: % and _ are escaped, not wildcards, and case does not matter
on any backend. A case's business key and data are searched in its search text
(`engine.base.search_text`, casefolded when the case is written), with the casefolded text and a
plain LIKE, so no function runs per row; a step's name is compared casefolded on SQLite (its own
LIKE folds ASCII letters only, `engine.store.db.fold`), with ILIKE on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..base.search_text import pattern
from ..core import Engine
from ..store.models import Case, HumanTask


def _like(engine: Engine, column: Any, text: str) -> Any:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if engine.db.is_sqlite:
        return sa.func.rutin_fold(column).like(f"%{escaped.casefold()}%", escape="\\")
    return column.ilike(f"%{escaped}%", escape="\\")


def _in_case(text: str) -> Any:
    """The condition on `Case` rows whose business key or data hold `text`."""
    return Case.search_text.like(pattern(text), escape="\\")


def task_matches(engine: Engine, text: str) -> Any:
    """The condition on `HumanTask` rows that match `text`."""
    return sa.or_(
        _like(engine, HumanTask.name, text),
        HumanTask.case_id.in_(sa.select(Case.id).where(_in_case(text))),
    )


def case_matches(engine: Engine, text: str) -> Any:
    """The condition on `Case` rows that match `text`."""
    return sa.or_(
        _in_case(text),
        Case.id.in_(sa.select(HumanTask.case_id)
                    .where(HumanTask.status == "open", _like(engine, HumanTask.name, text))),
    )
