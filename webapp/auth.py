"""Bearer-token authentication for the API."""

from __future__ import annotations

from flask import current_app, g, request

from engine.authority import identity
from engine.authority.identity import NO_ROLE, Actor
from engine.base.errors import Forbidden, Unauthorized

# What a token limited to starting cases (an integration's) may call: who it is, and starting.
START_ONLY_ENDPOINTS = frozenset({"api.me", "api.start_case"})


def current_actor() -> Actor:
    """The actor of the current request, from its `Authorization: Bearer` header.

    Who holds no role may learn only that (/api/me); a token limited to starting cases reaches
    only the endpoints that start them. Both are refused here, before any handler reads a thing."""
    if "actor" in g:
        return g.actor
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Ange en token i huvudet Authorization: Bearer <token>.")
    actor = identity.authenticate(current_app.extensions["rutin"], token.strip())
    if actor.start_only is not None and request.endpoint not in START_ONLY_ENDPOINTS:
        raise Forbidden("Den här token får bara starta ärenden i processerna "
                        f"{', '.join(sorted(actor.start_only))}.")
    if not actor.has_role and request.endpoint != "api.me":
        raise Forbidden(NO_ROLE)
    g.actor = actor
    return actor
