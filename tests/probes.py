"""Helpers for the hostile-probe suite (tests/hostile/): each probe tries one way around a promise
Rutin makes (an approval, a role, a review, a budget, a parser's refusal) and asserts both that it
is refused and that the refusal left no effect behind. `db_state` is how a probe sees "no
effect": every row of every table, compared before and after."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from engine.core import Engine

# Rows that a refused request may legitimately touch without being an effect of the attack: the
# list view a person last chose on the inbox or the case list (saved_views), which a page opened
# with filters keeps as that person's own (tests/test_pages_views.py holds what it may keep). A
# probe that must ignore a table (a sign-in counter, a request log) passes `ignore`.
_VOLATILE: frozenset[str] = frozenset({"alembic_version", "saved_views"})
# Columns likewise: a token's last use is written when a request authenticates with it, whether
# or not what it then asks for is refused (a use of the credential, not an effect of the request).
_VOLATILE_COLUMNS: dict[str, frozenset[str]] = {"api_tokens": frozenset({"last_used_at"})}


def db_state(engine: Engine, *, ignore: frozenset[str] | set[str] = frozenset()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (sorted, as text), to compare before and after a refused probe."""
    skip = _VOLATILE | set(ignore)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.db.read() as s:
        conn = s.connection()
        for name in sorted(sa.inspect(conn).get_table_names()):
            if name in skip:
                continue
            table = sa.Table(name, sa.MetaData(), autoload_with=conn)
            columns = [c for c in table.columns if c.name not in _VOLATILE_COLUMNS.get(name, frozenset())]
            out[name] = sorted(tuple(repr(v) for v in row) for row in conn.execute(sa.select(*columns)))
    return out


def assert_no_effect(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]) -> None:
    """Fail naming each table whose rows a refused probe changed."""
    changed = {t: (len(before.get(t, [])), len(after.get(t, [])))
               for t in set(before) | set(after) if before.get(t) != after.get(t)}
    assert not changed, f"a refused probe changed these tables (rows before, after): {changed}"
