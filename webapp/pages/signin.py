"""Signing in and out of the pages."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, session, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from engine.authority import identity, idp
from engine.authority.identity import Actor
from engine.base.errors import TooManyAttempts, Unauthorized
from engine.service import signin

from .. import oidc
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


PASSWORDS_OFF = "Inloggning med lösenord är avstängd här. Logga in med {name}."


def _begin_session(actor: Actor) -> None:
    """A fresh page session for `actor` (nothing of the session before it is kept)."""
    session.clear()
    session.permanent = True  # the cookie lasts RUTIN_SESSION_HOURS, not until the browser closes
    session["user"] = actor.name
    session["generation"] = identity.session_generation(current_engine(), actor.name)
    session["since"] = current_engine().clock.now().isoformat()
    session["csrf"] = secrets.token_urlsafe(24)


def _login_page(error: str | None, status: int, *, name: str = "", headers: dict[str, str] | None = None) -> Any:
    settings = current_engine().settings
    body = render_template("login.html", error=error, name=name, next=_safe_next(request.args.get("next")),
                           passwords=settings.local_passwords,
                           oidc_name=settings.oidc_name if oidc.enabled() else None)
    return body, status, headers or {}


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with user name and password (attempts are counted against guessing), or choose
    the municipality's sign-in (OpenID Connect) where it is set up."""
    error = None
    name = ""
    status = 200
    retry_after = None
    settings = current_engine().settings
    if request.method == "POST" and not settings.local_passwords:
        # Switched off (RUTIN_LOCAL_PASSWORDS=0): not even checked, so not counted or logged as a guess.
        return _login_page(PASSWORDS_OFF.format(name=settings.oidc_name), 403)
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
            _begin_session(actor)
            response = redirect(_safe_next(request.args.get("next")))
            response.set_cookie(
                BROWSER_COOKIE,
                _browser_serializer().dumps({"user": actor.name, "key": browser or secrets.token_urlsafe(18)}),
                max_age=BROWSER_COOKIE_DAYS * 86400, path=url_for("pages.signin.login"), httponly=True, samesite="Lax",
                secure=request.is_secure)
            return response
    return _login_page(error, status, name=name, headers={"Retry-After": str(retry_after)} if retry_after else {})


@bp.get("/login/oidc")
def oidc_start() -> Any:
    """Go to the municipality's sign-in (OpenID Connect); it sends the browser back to `oidc_return`."""
    if not oidc.enabled():
        return _login_page("Inloggning via inloggningstjänst är inte inställd här.", 404)
    next_page = _safe_next(request.args.get("next"))
    try:
        response = oidc.start(url_for("pages.signin.oidc_return", _external=True))
    except oidc.SignInRefused as exc:
        return _login_page(exc.reason, 502)
    session["oidc_next"] = next_page
    return response


@bp.get("/login/oidc/return")
def oidc_return() -> Any:
    """Back from the provider: the ID token validated (`webapp.oidc`), the person matched or
    created (`engine.authority.idp`), a page session begun. A refusal leaves no session and no
    user behind, and is entered in the security log."""
    if not oidc.enabled():
        return _login_page("Inloggning via inloggningstjänst är inte inställd här.", 404)
    engine, settings = current_engine(), current_engine().settings
    next_page = _safe_next(session.pop("oidc_next", None))
    try:
        issuer, raw, id_token = oidc.finish()
    except oidc.SignInRefused as exc:
        idp.refused(engine, "okänd", exc.reason, address=client_address())
        return _login_page(exc.reason, 401)
    try:
        claims = idp.read_claims(issuer, raw, username_claim=settings.oidc_username_claim,
                                 groups_claim=settings.oidc_groups_claim)
    except Unauthorized as exc:
        idp.refused(engine, "okänd", exc.detail, address=client_address())
        return _login_page(exc.detail, exc.status)
    try:
        actor = idp.sign_in(engine, claims, username_claim=settings.oidc_username_claim, address=client_address())
    except Unauthorized as exc:  # (entered in the security log by idp.sign_in)
        return _login_page(exc.detail, exc.status)
    _begin_session(actor)
    session["id_token"] = id_token  # the hint the provider's sign-out asks for
    return redirect(next_page)


@bp.post("/logout")
def logout() -> Response:
    """Sign out: this person's sessions end on the server too (every browser they are signed in
    in), so a copy of the cookie is worth nothing afterwards. Signed in through a provider that
    offers it, the browser goes on to the provider's sign-out (RP-initiated logout)."""
    actor = session_actor()
    if actor is not None:
        identity.end_sessions(current_engine(), actor.name)
    id_token = session.get("id_token")
    session.clear()
    back = url_for("pages.signin.login", _external=True)
    if oidc.enabled() and isinstance(id_token, str):
        provider = oidc.logout_url(id_token, back)
        if provider:
            return redirect(provider)  # type: ignore[return-value]
    flash("Du är utloggad.")
    return redirect(url_for("pages.signin.login"))  # type: ignore[return-value]

