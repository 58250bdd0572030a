"""What the inbox and the case list share: the search and filters a person chose (from the
query, or the view the person last chose on the page), and what each filter offers (the
processes, the person's units).

A list page opened without any of its parameters opens on the person's remembered view; opened
with them, it remembers them. A remembered view is read back through the same validation as a
query (the page's `clean` function), and a value the page does not offer (a process not
published, a unit not the person's) is dropped before it is kept, so a stored view can only say
what the page's own controls could.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import g, request

from engine.authority import org
from engine.catalogue import processes
from engine.service import saved_views

from .common import current_engine

FILTERS = ("q", "process", "roll", "enhet", "forfaller")
MAX_SEARCH = 200
# The parameter that clears the remembered view (the pages' "Återställ" link).
RESET = "aterstall"


def list_filters(args: Mapping[str, str] | None = None) -> dict[str, str]:
    """The chosen search text and filters, trimmed (an empty one is no filter)."""
    source = request.args if args is None else args
    chosen = {k: (source.get(k) or "").strip() for k in FILTERS}
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


def offered(chosen: dict[str, str], choices: dict[str, Any], roles: list[str] | None = None,
            due_states: Mapping[str, str] | None = None) -> dict[str, str]:
    """The chosen filters the page's controls offer (what may be remembered); others are dropped."""
    keep = {"q": chosen["q"]}
    if chosen["process"] in {k for k, _ in choices["processes"]}:
        keep["process"] = chosen["process"]
    if chosen["enhet"] in {k for k, _ in choices["units"]}:
        keep["enhet"] = chosen["enhet"]
    if roles is not None and chosen["roll"] in roles:
        keep["roll"] = chosen["roll"]
    if due_states is not None and chosen["forfaller"] in due_states:
        keep["forfaller"] = chosen["forfaller"]
    return {k: v for k, v in keep.items() if v}


def view_source(page: str, keys: tuple[str, ...]) -> tuple[Mapping[str, str], bool]:
    """The parameters the page reads: the query's when it names any of `keys`, else the person's
    remembered view of `page`; and whether the page is to remember what it validates."""
    if any(k in request.args for k in keys):
        return request.args, True
    return saved_views.get(current_engine(), g.actor, page), False


def remember(page: str, cleaned: dict[str, str], from_query: bool) -> None:
    """Keep the page's validated view as the person's, when it came from the query."""
    if from_query:
        saved_views.remember(current_engine(), g.actor, page, cleaned)


def reset_requested(page: str) -> bool:
    """Whether the query asks to forget the remembered view (then it is forgotten)."""
    if RESET not in request.args:
        return False
    saved_views.forget(current_engine(), g.actor, page)
    return True


