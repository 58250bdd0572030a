"""Signing in and out of the pages."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from engine.authority import identity
from engine.base.errors import TooManyAttempts, Unauthorized
from engine.service import signin

from .common import current_engine, session_actor

bp = Blueprint("signin", __name__)


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only. Browsers drop tabs and newlines
    from a URL and read a backslash as a slash, so "/\t/evil.example" would leave the site."""
    if not target or not target.startswith("/") or any(c.isspace() or ord(c) < 32 or c == "\\" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


# A browser the person has signed in from before carries this signed cookie: its sign-in attempts
# for that name are counted on their own (engine.service.signin), so guesses sent from elsewhere do not
# lock the person out of it.
BROWSER_COOKIE = "rutin_browser"
BROWSER_COOKIE_DAYS = 180


def _browser_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.secret_key), salt="rutin-sign-in-browser")


def _known_browser(name: str) -> str | None:
    """This browser's key if its cookie says `name` has signed in here before."""
    try:
        found = _browser_serializer().loads(request.cookies.get(BROWSER_COOKIE, ""))
    except BadSignature:
        return None
    if isinstance(found, dict) and found.get("user") == name and isinstance(found.get("key"), str):
        return str(found["key"])
    return None


def client_address() -> str | None:
    """The client's address: the connection's, or the one trusted proxies forward
    (`RUTIN_TRUSTED_PROXIES`, applied by the app)."""
    return request.remote_addr


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with user name and password (attempts are counted against guessing)."""
    error = None
    name = ""
    status = 200
    retry_after = None
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        browser = _known_browser(name)
        try:
            actor = signin.sign_in(current_engine(), name, request.form.get("password", ""), address=client_address(),
                                   browser=browser)
        except TooManyAttempts as exc:
            error, status, retry_after = exc.detail, exc.status, exc.extra.get("retry_after")
        except Unauthorized as exc:
            error, status = exc.detail, exc.status
        else:
            session.clear()
            session.permanent = True  # the cookie lasts RUTIN_SESSION_HOURS, not until the browser closes
            session["user"] = actor.name
            session["generation"] = identity.session_generation(current_engine(), actor.name)
            session["since"] = current_engine().clock.now().isoformat()
            session["csrf"] = secrets.token_urlsafe(24)
            response = redirect(_safe_next(request.args.get("next")))
            response.set_cookie(
                BROWSER_COOKIE,
                _browser_serializer().dumps({"user": actor.name, "key": browser or secrets.token_urlsafe(18)}),
                max_age=BROWSER_COOKIE_DAYS * 86400, path=url_for("pages.signin.login"), httponly=True, samesite="Lax",
                secure=request.is_secure)
            return response
    body = render_template("login.html", error=error, name=name, next=_safe_next(request.args.get("next")))
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    return body, status, headers


@bp.post("/logout")
def logout() -> Response:
    """Sign out: this person's sessions end on the server too (every browser they are signed in
    in), so a copy of the cookie is worth nothing afterwards."""
    actor = session_actor()
    if actor is not None:
        identity.end_sessions(current_engine(), actor.name)
    session.clear()
    flash("Du är utloggad.")
    return redirect(url_for("pages.signin.login"))  # type: ignore[return-value]

