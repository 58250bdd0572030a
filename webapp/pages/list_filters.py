"""What the inbox and the case list share: the search and filters a person chose (from the
query), and what each filter offers (the processes, the person's units)."""

from __future__ import annotations

from typing import Any

from flask import g, request

from engine.authority import org
from engine.catalogue import processes

from .common import current_engine

FILTERS = ("q", "process", "roll", "enhet", "forfaller")
MAX_SEARCH = 200


def list_filters() -> dict[str, str]:
    """The chosen search text and filters, trimmed (an empty one is no filter)."""
    chosen = {k: (request.args.get(k) or "").strip() for k in FILTERS}
    chosen["q"] = chosen["q"][:MAX_SEARCH]
    return chosen


def filter_choices() -> dict[str, Any]:
    """What the filters offer: the published processes by name, and the units the person works in
    or manages by name."""
    engine = current_engine()
    tree = org.tree(engine)
    mine = set(g.actor.units) | set(g.actor.manages)
    units = sorted(((u, tree.units[u].name) for u in mine if u in tree.units), key=lambda u: u[1].casefold())
    found = [(p["key"], p.get("name") or p["key"]) for p in processes.list_processes(engine)]
    return {"processes": sorted(found, key=lambda p: p[1].casefold()), "units": units}
