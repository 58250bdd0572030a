"""The API of accounts, tokens and the security log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from engine.authority import idp, security_log
from engine.base.errors import InvalidInput
from engine.core import Engine
from engine.routing import accounts

from .auth import current_actor
from .downloads import csv_download
from .params import bool_arg, choice_arg, int_arg, json_body, optional_text, required_text, text_arg

bp = Blueprint("accounts", __name__, url_prefix="/api")


def _engine() -> Engine:
    return current_app.extensions["rutin"]


@bp.get("/users")
def users() -> Response:
    """Every account, active or deactivated; administrators and auditors."""
    return jsonify(accounts.account_list(_engine(), current_actor()))


@bp.post("/users/<name>/deactivate")
def deactivate(name: str) -> Response:
    """End an account at once: sessions, tokens, claimed tasks (administrators)."""
    actor = current_actor()
    body = json_body()
    return jsonify(accounts.deactivate(_engine(), actor, name, optional_text(body, "reason", max_length=500)))


@bp.post("/users/<name>/reactivate")
def reactivate(name: str) -> Response:
    """Let a deactivated account sign in again (administrators)."""
    actor = current_actor()
    body = json_body()
    return jsonify(accounts.reactivate(_engine(), actor, name, optional_text(body, "reason", max_length=500)))


@bp.get("/tokens")
def tokens() -> Response:
    """One's own tokens (administrators and auditors: ?user= or ?all=true)."""
    actor = current_actor()
    return jsonify(accounts.list_tokens(_engine(), actor, user=text_arg("user"), everyone=bool_arg("all")))


@bp.post("/tokens")
def create_token() -> tuple[Response, int]:
    """A new token (shown only in this answer): {name, days?, user? (administrators), processes?}."""
    actor = current_actor()
    body = json_body(required=True)
    unknown = set(body) - {"name", "days", "user", "processes"}
    if unknown:
        raise InvalidInput(f"Okända fält: {', '.join(sorted(unknown))}.")
    days: Any = body.get("days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool)):
        raise InvalidInput("days ska vara ett heltal.", field="days")
    processes = body.get("processes")
    if processes is not None and not isinstance(processes, list):
        raise InvalidInput("processes ska vara en lista med processnycklar.", field="processes")
    created = accounts.create_token(_engine(), actor, label=required_text(body, "name"), days=days,
                                    user=optional_text(body, "user", max_length=120), processes=processes)
    return jsonify(created), 201


@bp.delete("/tokens/<int:token_id>")
def revoke_token(token_id: int) -> Response:
    """Revoke a token (its owner, or an administrator)."""
    return jsonify(accounts.revoke_token(_engine(), current_actor(), token_id))


@bp.get("/security-log")
def security_events() -> Response:
    """The security log, newest first (JSON, or CSV with ?format=csv); administrators and auditors."""
    actor = current_actor()
    user = text_arg("user")
    if choice_arg("format", ("json", "csv")) == "csv":
        return csv_download(security_log.as_csv(_engine(), actor, user=user), "sakerhetslogg.csv")
    limit = int_arg("limit", 100, minimum=1, maximum=1000)
    return jsonify(security_log.entries(_engine(), actor, user=user, limit=limit, offset=int_arg("offset", 0)))


@bp.get("/oidc/group-roles")
def group_roles() -> Response:
    """Which roles the identity provider's groups give (administrators and auditors)."""
    return jsonify({"mappings": idp.group_roles(_engine(), current_actor())})


@bp.put("/oidc/group-roles")
def replace_group_roles() -> Response:
    """Replace the whole mapping: {mappings: [{group, role, unit?}]} (administrators); applied to
    each person at their next sign-in."""
    actor = current_actor()
    body = json_body(required=True)
    unknown = set(body) - {"mappings"}
    if unknown:
        raise InvalidInput(f"Okända fält: {', '.join(sorted(unknown))}.")
    if "mappings" not in body:
        raise InvalidInput("Ange mappings: en lista med {group, role, unit}.", field="mappings")
    return jsonify({"mappings": idp.replace_group_roles(_engine(), actor, body["mappings"])})
