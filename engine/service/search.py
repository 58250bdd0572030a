"""Free-text search over the projections the lists read (never a workflow): a task by its case's
business key, its step's name or its case's data; a case by its business key, its data or the
name of an open step.

The text is searched for as written: % and _ are escaped, not wildcards, and case does not matter
on any backend. A case's business key and data are searched in its search text
(`engine.base.search_text`, casefolded when the case is written) for the casefolded text as a
plain substring, so no function of ours runs per row. A step's name is compared with ILIKE on PostgreSQL; on
SQLite, whose LIKE folds ASCII letters only, the open steps' distinct names (a few per process)
are casefolded and compared in Python and the rows are then picked by name, rather than calling
a casefolding function on every task row.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..core import Engine
from ..store.models import Case, HumanTask


def _like(engine: Engine, column: Any, text: str) -> Any:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if engine.db.is_sqlite:
        return sa.func.rutin_fold(column).like(f"%{escaped.casefold()}%", escape="\\")
    return column.ilike(f"%{escaped}%", escape="\\")


# Beyond this many distinct open step names, the names are folded per row in SQL instead.
MAX_NAMES = 2000


def _name_matches(engine: Engine, text: str) -> Any:
    """The condition on open `HumanTask` rows whose step name holds `text`, casefolded."""
    if not engine.db.is_sqlite:
        return _like(engine, HumanTask.name, text)
    with engine.db.read() as s:
        names = s.execute(sa.select(HumanTask.name).where(HumanTask.status == "open").distinct()
                          .limit(MAX_NAMES + 1)).scalars().all()
    if len(names) > MAX_NAMES:
        return _like(engine, HumanTask.name, text)
    folded = text.casefold()
    return HumanTask.name.in_(sorted(n for n in names if folded in n.casefold()))


def _in_case(engine: Engine, text: str) -> Any:
    """The condition on `Case` rows whose business key or data hold `text`: the folded text found
    in the folded search text by position (instr, strpos), which is a plain substring search,
    several times faster than LIKE's character-by-character matching and with no wildcards."""
    find = sa.func.instr if engine.db.is_sqlite else sa.func.strpos
    return find(Case.search_text, text.casefold()) > 0


# Up to this many matching cases, their ids are found once and named in the list's statements
# (the list, its total and its counts would each scan the search texts again otherwise).
MAX_IDS = 500


def _case_ids(engine: Engine, text: str) -> Any:
    """The cases whose business key or data hold `text`: their ids, or the query that finds them."""
    found = sa.select(Case.id).where(_in_case(engine, text))
    with engine.db.read() as s:
        ids = s.execute(found.limit(MAX_IDS + 1)).scalars().all()
    return found if len(ids) > MAX_IDS else sorted(ids)


def task_matches(engine: Engine, text: str) -> Any:
    """The condition on `HumanTask` rows that match `text`."""
    return sa.or_(
        sa.and_(HumanTask.status == "open", _name_matches(engine, text)),
        sa.and_(HumanTask.status != "open", _like(engine, HumanTask.name, text)),
        HumanTask.case_id.in_(_case_ids(engine, text)),
    )


def case_matches(engine: Engine, text: str) -> Any:
    """The condition on `Case` rows that match `text`."""
    return sa.or_(
        _in_case(engine, text),
        Case.id.in_(sa.select(HumanTask.case_id)
                    .where(HumanTask.status == "open", _name_matches(engine, text))),
    )
