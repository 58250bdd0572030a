"""One's tokens (credentials with a life, shown once when made) and the security log for
administrators and auditors."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from engine.authority import security_log
from engine.base.errors import InvalidInput
from engine.routing import accounts

from ..downloads import csv_download
from .common import PAGE_SIZE, current_engine, page_number, signed_in

bp = Blueprint("accounts", __name__)


@bp.get("/tokens")
@signed_in
def token_list(created: dict[str, Any] | None = None, error: str | None = None, status: int = 200) -> Any:
    """One's tokens (administrators and auditors: everyone's with ?alla=1), the form that makes a
    new one, and a new one's value, shown this once."""
    everyone = request.args.get("alla") == "1" and g.actor.is_auditor
    listing = accounts.list_tokens(current_engine(), g.actor, everyone=everyone)
    settings = current_engine().settings
    return render_template("tokens.html", listing=listing, created=created, error=error, everyone=everyone,
                           default_days=settings.token_days, max_days=settings.token_max_days), status


@bp.post("/tokens")
@signed_in
def token_create() -> Any:
    """Make a token; the answer is the page itself, with the value (never a redirect, whose flash
    message would carry it in the cookie)."""
    days_text = request.form.get("days", "").strip()
    try:
        days = int(days_text) if days_text else None
        if days_text and not days_text.isdigit():
            raise ValueError
    except ValueError:
        return token_list(error="Ange antal dagar som ett heltal.", status=422)
    try:
        created = accounts.create_token(current_engine(), g.actor, label=request.form.get("name", ""), days=days)
    except InvalidInput as exc:
        return token_list(error=exc.detail, status=exc.status)
    return token_list(created=created, status=201)


@bp.post("/tokens/<int:token_id>/revoke")
@signed_in
def token_revoke(token_id: int) -> Response:
    """Revoke a token (its owner, or an administrator)."""
    revoked = accounts.revoke_token(current_engine(), g.actor, token_id)
    flash(f"Token {revoked['name']} är återkallad.")
    everyone = request.form.get("alla") == "1"
    back = url_for("pages.accounts.token_list", alla="1") if everyone else url_for("pages.accounts.token_list")
    return redirect(back)  # type: ignore[return-value]


@bp.get("/sakerhetslogg")
@signed_in
def security_log_page() -> Any:
    """The security log for administrators and auditors (?anvandare= narrows it), and as CSV."""
    user = (request.args.get("anvandare") or "").strip() or None
    if request.args.get("format") == "csv":
        return csv_download(security_log.as_csv(current_engine(), g.actor, user=user), "sakerhetslogg.csv")
    page = page_number()
    found = security_log.entries(current_engine(), g.actor, user=user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("security_log.html", found=found, user=user or "", page=page, page_size=PAGE_SIZE,
                           csv_url=url_for("pages.accounts.security_log_page", format="csv", anvandare=user))
