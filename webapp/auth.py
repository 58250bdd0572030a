"""Bearer-token authentication for the API."""

from __future__ import annotations

from flask import current_app, g, request

from engine.authority import identity
from engine.authority.identity import Actor
from engine.base.errors import Unauthorized


def current_actor() -> Actor:
    """The actor of the current request, from its `Authorization: Bearer` header."""
    if "actor" in g:
        return g.actor
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Ange en token i huvudet Authorization: Bearer <token>.")
    actor = identity.authenticate(current_app.extensions["rutin"], token.strip())
    g.actor = actor
    return actor
