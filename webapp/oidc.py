"""The OpenID Connect protocol for the pages, through Authlib: the one module that uses it.

Rutin is a relying party of the municipality's provider (`RUTIN_OIDC_*`): it reads the provider's
discovery document (``<issuer>/.well-known/openid-configuration``), sends the browser there with
the authorization code flow, PKCE (S256), a `state` bound to the browser's session and a `nonce`,
and at the return exchanges the code for tokens and validates the ID token: its signature against
the provider's published keys (JWKS), issuer, audience (our client id), expiry and nonce. Only
then are its claims handed to `engine.authority.idp`, which decides who the person is in Rutin.

Expiry (`exp`) and issue time (`iat`) are checked against the real time, with `LEEWAY_S` for
clocks that differ, not against the engine's clock: Authlib reads the time itself, and the ID
token's times are the provider's, on the real clock.

Authlib keeps the state, nonce and PKCE verifier in Flask's session (the signed cookie) while the
browser is at the provider; they are used once.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, Response, current_app
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError

from engine.base.settings import Settings

_CLIENT = "rutin_oidc"
# The provider's HTTP calls (discovery, keys, the token exchange) may take this long.
TIMEOUT_S = 10
# How far the provider's clock may differ from ours when the ID token's exp and iat are checked
# (Authlib's default, said here so the tests can count on it).
LEEWAY_S = 120


class SignInRefused(Exception):
    """The provider's answer does not hold; `reason` says why, in Swedish, for the person and the
    security log."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


STATE = ("Inloggningen kunde inte slutföras: svaret från inloggningstjänsten hör inte till den här webbläsarens "
         "inloggning (ogiltigt state). Försök igen.")
INVALID_TOKEN = "Inloggningen kunde inte slutföras: inloggningstjänstens ID-token är ogiltig ({why}). Försök igen."  # noqa: S105 (a message)
PROVIDER_ERROR = "Inloggningstjänsten avbröt inloggningen ({why})."
UNREACHABLE = "Inloggningstjänsten svarar inte just nu. Försök igen om en stund."
# Why an ID token is refused, in the person's words (the claim's name kept for the security log).
WRONG_AUDIENCE = "den är utfärdad till en annan tjänst än Rutin (aud)"
EXPIRED = "den har gått ut (exp)"
BAD_SIGNATURE = "signaturen stämmer inte med innehållet"
BAD_CLAIM = "anspråket {claim} stämmer inte"
WRONG_ISSUER = ("Inloggningstjänsten uppger en annan utfärdare ({found}) än den Rutin är inställd på "
                "(RUTIN_OIDC_ISSUER). Kontakta en administratör.")


def install(app: Flask, settings: Settings) -> None:
    """Register the provider with Authlib when `RUTIN_OIDC_ISSUER` is set (nothing otherwise)."""
    if not settings.oidc_configured:
        return
    oauth = OAuth(app)
    oauth.register(
        _CLIENT,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret or None,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256", "timeout": TIMEOUT_S,
                       # a public client (no secret) authenticates by its id alone, PKCE binding the code
                       "token_endpoint_auth_method": ("client_secret_basic" if settings.oidc_client_secret
                                                      else "none")},
    )
    app.extensions["rutin_oidc"] = oauth
    app.extensions["rutin_oidc_issuer"] = settings.oidc_issuer


def _checked_issuer(client: Any) -> str:
    """The provider's issuer from its discovery document, which must be the one configured
    (OpenID Connect Discovery 1.0, section 4.3): a document naming another would let that other
    issuer's tokens in."""
    found = str(client.load_server_metadata().get("issuer") or "")
    if found.rstrip("/") != str(current_app.extensions["rutin_oidc_issuer"]).rstrip("/"):
        raise SignInRefused(WRONG_ISSUER.format(found=_short(found) or "ingen"))
    return found


def _claims_options(issuer: str, client_id: str) -> dict[str, Any]:
    """What the ID token's claims must say: our issuer, and us (the client id) among its audience.
    Authlib checks the audience only when told to: without this a token another client of the
    provider was given, naming Rutin as its authorized party (`azp`), would be let in."""
    return {"iss": {"essential": True, "values": [issuer]},
            "aud": {"essential": True, "values": [client_id]}}


def _client() -> Any:
    return current_app.extensions["rutin_oidc"].create_client(_CLIENT)


def enabled() -> bool:
    """Whether this app signs people in through a provider."""
    return "rutin_oidc" in current_app.extensions


def start(redirect_uri: str) -> Response:
    """Send the browser to the provider (state, nonce and the PKCE verifier kept in the session)."""
    client = _client()
    try:
        _checked_issuer(client)
        return client.authorize_redirect(redirect_uri)
    except (requests.RequestException, ValueError, AuthlibBaseError) as exc:
        raise SignInRefused(UNREACHABLE) from exc


def finish() -> tuple[str, dict[str, Any], str]:
    """At the return from the provider: the issuer, the validated ID token's claims, and the ID
    token itself (kept for signing out). `SignInRefused` when anything does not hold."""
    client = _client()
    try:
        issuer = _checked_issuer(client)
        token = client.authorize_access_token(leeway=LEEWAY_S, claims_options=_claims_options(issuer, client.client_id))
    except MismatchingStateError as exc:
        raise SignInRefused(STATE) from exc
    except OAuthError as exc:
        raise SignInRefused(PROVIDER_ERROR.format(why=_short(exc.description or exc.error))) from exc
    except (AuthlibBaseError, JoseError, ValueError) as exc:
        raise SignInRefused(INVALID_TOKEN.format(why=_why(exc))) from exc
    except requests.RequestException as exc:
        raise SignInRefused(UNREACHABLE) from exc
    claims = token.get("userinfo")
    if not isinstance(token.get("id_token"), str) or not claims:
        raise SignInRefused(INVALID_TOKEN.format(why="ingen ID-token"))
    return issuer, dict(claims), str(token["id_token"])


def _why(exc: Exception) -> str:
    """Why the ID token was refused, in Swedish where the library's error is one we know."""
    if isinstance(exc, ExpiredTokenError):
        return EXPIRED
    if isinstance(exc, BadSignatureError):
        return BAD_SIGNATURE
    if isinstance(exc, ClaimError):
        return WRONG_AUDIENCE if exc.claim == "aud" else BAD_CLAIM.format(claim=_short(exc.claim))
    return _short(str(exc) or type(exc).__name__)


def _short(text: Any) -> str:
    return "".join(c for c in str(text)[:200] if c.isprintable())


def logout_url(id_token: str | None, post_logout_redirect_uri: str) -> str | None:
    """The provider's end-session address for this sign-out (RP-initiated logout), or None when
    its discovery names none (or it cannot be reached: Rutin's own session ends all the same)."""
    client = _client()
    try:
        if not client.load_server_metadata().get("end_session_endpoint"):
            return None
        made = client.create_logout_url(post_logout_redirect_uri=post_logout_redirect_uri, id_token_hint=id_token,
                                        client_id=client.client_id)
    except (requests.RequestException, ValueError, AuthlibBaseError):
        return None
    return str(made["url"])
