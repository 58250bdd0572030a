"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, Request, Response, redirect, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.core import Engine

from . import headers, logs, metrics, oidc, params, problems
from .api import bp as api_bp
from .api_accounts import bp as accounts_bp
from .api_authority import bp as authority_bp
from .api_retention import bp as retention_bp
from .pages import bp as pages_bp


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, not re-sent with static files and the favicon, and not
    opened for an API call that brings its own credentials.

    Flask refreshes a permanent session's cookie on every response. On a static file that is a
    Set-Cookie a shared cache must not store, and it can bring back a cookie the browser has
    just dropped (signing out in another tab) from a request that was already under way.

    An API call that carries its own credentials (``Authorization``: the bearer token) gets
    Flask's null session: reading it finds nothing, writing to it fails loudly, and no cookie is
    read, verified or sent back. The API never takes a page session as a credential, and opening
    one was the largest single cost Flask added to an API call. A browser that opens an API
    address (no such header) keeps its session, so an error page there still shows who is
    signed in; and the pages keep theirs behind a proxy that adds an ``Authorization`` header.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if "Authorization" in request.headers and (request.path == "/api" or request.path.startswith("/api/")):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        if request.endpoint in _COOKIELESS_ENDPOINTS and not session.modified:
            return False
        return super().should_set_cookie(app, session)


_COOKIELESS_ENDPOINTS = frozenset({"static", "favicon"})


def create_app(engine: Engine | None = None) -> Flask:
    """Build the web app around an engine (a new one from the environment if none is given)."""
    engine = engine or Engine()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = engine.settings.max_upload_bytes + 64 * 1024
    app.config["JSON_SORT_KEYS"] = False
    # The pages' signed session cookie: a key that survives restarts, not readable by scripts,
    # not sent with cross-site posts (the pages' forms also carry a CSRF token).
    app.secret_key = engine.settings.session_secret()
    app.session_interface = _SessionInterface()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    # Signing in makes the session permanent: the cookie lasts this long, and the pages refuse a
    # session older than this by the engine's clock, and one ended by signing out (webapp.pages).
    app.config["PERMANENT_SESSION_LIFETIME"] = engine.settings.session_lifetime
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["rutin"] = engine
    if engine.settings.trusted_proxies > 0:
        # Behind that many reverse proxies, the client's address (sign-in throttling) and scheme
        # are the ones they forward; without them, those headers are anyone's to write.
        n = engine.settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    if engine.settings.log_format == "json":
        logs.configure("json")
    logs.install(app)
    metrics.install(app)
    problems.install(app)
    headers.install(app, provider=engine.settings.oidc_issuer)
    oidc.install(app, engine.settings)
    params.install(app)
    app.register_blueprint(api_bp)
    app.register_blueprint(authority_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(retention_bp)
    app.register_blueprint(pages_bp)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status=204)

    @app.get("/api")
    def api_root() -> Response:
        return redirect("/api/openapi.json")  # type: ignore[return-value]

    logging.getLogger("SpiffWorkflow").setLevel(logging.WARNING)
    return app
