"""A hostile proxy on loopback between Rutin and the real test provider (tests/oidc_helpers.py).

The certified provider cannot be made to issue a bad ID token, so this proxy stands in its place:
Rutin is configured with the proxy's address as its issuer, and the proxy forwards every request
(discovery, keys, the authorization pages, the token exchange) to the real provider. In its
answers it writes its own address for the provider's (the discovery document's `issuer` and
endpoints, redirects, pages), so that to Rutin it is the provider; and in the token endpoint's
answer it rewrites the ID token: `iss` made the proxy's, then `tamper` applied to the claims,
and the token re-signed with the provider's own throwaway key (its header, key id included,
kept). Each test's `tamper` changes exactly the property under test; without one the token is
re-signed unchanged but for `iss`, and must sign in (the control that the proxy itself works).

`keep_signature`: the changed payload is put in place of the honest one (re-signed, `iss`
rewritten) and that honest token's signature kept, as a forger without the key would do.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.wrappers import Request, Response

# Hop-by-hop headers and those `requests` has already acted on (it decodes the body, so its
# length and encoding change): not passed on.
_DROPPED = {"connection", "keep-alive", "transfer-encoding", "content-encoding", "content-length", "host",
            "accept-encoding", "set-cookie"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_of(id_token: str) -> dict[str, Any]:
    """The payload of a compact JWS, unverified (what the proxy saw or sent)."""
    loaded: dict[str, Any] = json.loads(_unb64(id_token.split(".")[1]))
    return loaded


@dataclass
class HostileProxy:
    """The proxy's WSGI app: `upstream` the real provider's issuer, `own` the proxy's address."""

    upstream: str
    own: str
    key_file: Path
    tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    keep_signature: bool = False
    # The ID tokens as the provider issued them and as the proxy passed them on.
    issued: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)

    def _own_origin(self, text: str) -> str:
        return (text.replace(self.upstream, self.own)
                .replace(quote(self.upstream, safe=""), quote(self.own, safe="")))

    def _id_token(self, original: str) -> str:
        header = json.loads(_unb64(original.split(".")[0]))
        key = RSAKey.import_key(json.loads(self.key_file.read_text(encoding="utf-8")))
        honest = {**claims_of(original), "iss": self.own}
        if self.tamper is None:
            return jwt.encode(header, honest, key)
        if self.keep_signature:
            signed = jwt.encode(header, honest, key).split(".")
            payload = _b64(json.dumps(self.tamper(dict(honest)), separators=(",", ":")).encode())
            return f"{signed[0]}.{payload}.{signed[2]}"
        return jwt.encode(header, self.tamper(dict(honest)), key)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        incoming = Request(environ)
        query = incoming.query_string.decode("latin-1")
        headers = {k: v for k, v in incoming.headers.items() if k.lower() not in _DROPPED}
        answer = requests.request(incoming.method, f"{self.upstream}{incoming.path}" + (f"?{query}" if query else ""),
                                  headers=headers, data=incoming.get_data(), allow_redirects=False, timeout=10)
        body = answer.content
        if answer.headers.get("Content-Type", "").startswith(("application/json", "text/html")):
            text = self._own_origin(answer.text)
            if incoming.path == "/token" and answer.ok:
                token = json.loads(text)
                if isinstance(token.get("id_token"), str):
                    self.issued.append(token["id_token"])
                    token["id_token"] = self._id_token(token["id_token"])
                    self.sent.append(token["id_token"])
                text = json.dumps(token)
            body = text.encode("utf-8")
        out = Response(body, status=answer.status_code)
        for k, v in answer.headers.items():
            if k.lower() not in _DROPPED:
                out.headers[k] = self._own_origin(v) if k.lower() == "location" else v
        # `requests` joins repeated Set-Cookie headers; the raw answer keeps them apart
        for cookie in answer.raw.headers.getlist("Set-Cookie"):
            out.headers.add("Set-Cookie", cookie)
        return out(environ, start_response)
