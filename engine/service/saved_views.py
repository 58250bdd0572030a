"""The list view a person last chose on a page (the inbox, the case list), remembered per person.

The page decides which parameters and values are valid (it validates a stored view exactly as it
validates its query); this module keeps what it is given within bounds, so that a hostile query
cannot grow a stored row: a few short text values under short names, per person and page.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..authority.identity import Actor
from ..base.errors import InvalidInput
from ..core import Engine
from ..store.view_models import SavedView

PAGES = ("inbox", "cases")
MAX_KEYS = 12
MAX_KEY = 20
MAX_VALUE = 200


def _bounded(params: dict[str, Any]) -> dict[str, str]:
    if not isinstance(params, dict) or len(params) > MAX_KEYS:
        raise InvalidInput("Vyn har för många val.")
    kept: dict[str, str] = {}
    for key, value in params.items():
        if not isinstance(key, str) or not isinstance(value, str) or len(key) > MAX_KEY or len(value) > MAX_VALUE:
            raise InvalidInput("Vyn har ett val som inte kan sparas.")
        if value:
            kept[key] = value
    return kept


def get(engine: Engine, actor: Actor, page: str) -> dict[str, str]:
    """The person's remembered view of `page` (empty if none); only text values under text names."""
    with engine.db.read() as s:
        row = s.get(SavedView, (actor.name, page))
        params = row.params if row is not None else {}
    if not isinstance(params, dict):
        return {}
    return {k: v for k, v in params.items() if isinstance(k, str) and isinstance(v, str)}


def remember(engine: Engine, actor: Actor, page: str, params: dict[str, Any]) -> None:
    """Keep `params` (already validated by the page) as the person's view of `page`; written only
    when it differs from the one kept, and removed when it is empty."""
    if page not in PAGES:
        raise InvalidInput(f"Sidan {page[:20]!r} har ingen sparad vy.")
    kept = _bounded(params)
    if kept == get(engine, actor, page):
        return
    with engine.db.write() as s:
        s.execute(sa.delete(SavedView).where(SavedView.user_name == actor.name, SavedView.page == page))
        if kept:
            s.add(SavedView(user_name=actor.name, page=page, params=kept, saved_at=engine.clock.now()))


def forget(engine: Engine, actor: Actor, page: str) -> None:
    """Remove the person's view of `page`, so the page opens on its defaults."""
    remember(engine, actor, page, {})
