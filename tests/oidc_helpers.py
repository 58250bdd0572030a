"""A real OpenID Connect provider on loopback (tests/fixtures/oidc_provider.mjs, npm's certified
oidc-provider), Rutin served beside it, and signing in through the provider's development login
pages with `requests`, as a browser would: every redirect real, every cookie kept."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from engine.core import Engine

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tests" / "fixtures" / "oidc_provider.mjs"
CLIENT_ID, CLIENT_SECRET = "rutin", "rutin-test-secret"
START_TIMEOUT_S = 30


@dataclass
class Provider:
    """The running test provider: its issuer, the accounts file it reads at every sign-in, and
    its throwaway signing key (a private JWK, for the hostile proxy of tests/oidc_proxy.py)."""

    issuer: str
    accounts_file: Path
    log: Path
    key_file: Path

    def set_accounts(self, accounts: dict[str, dict[str, Any]]) -> None:
        """Who may sign in (login → claims); read by the provider at the next sign-in."""
        self.accounts_file.write_text(json.dumps(accounts), encoding="utf-8")


@contextmanager
def provider(tmp: Path, rutin_base: str, accounts: dict[str, dict[str, Any]], *,
             end_session: bool = True) -> Iterator[Provider]:
    """Start the provider for a Rutin served at `rutin_base` (`end_session`: whether it offers
    RP-initiated sign-out); stopped (and waited for) on leaving."""
    accounts_file, log, key_file = tmp / "oidc_accounts.json", tmp / "oidc_provider.log", tmp / "oidc_key.json"
    accounts_file.write_text(json.dumps(accounts), encoding="utf-8")
    if shutil.which("node") is None or not (ROOT / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError("The OpenID Connect tests need Node.js and npm's oidc-provider: run `make .venv/.installed` "
                           "(it runs npm ci) or `npm ci`.")
    with log.open("wb") as err:
        env = {**os.environ, "OIDC_NO_END_SESSION": "0" if end_session else "1",
               "OIDC_KEY_FILE": str(key_file)}
        proc = subprocess.Popen(["node", str(SCRIPT), str(accounts_file), rutin_base], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=err, env=env)
        try:
            assert proc.stdout is not None
            ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT_S)
            line = proc.stdout.readline() if ready else b""
            if not line:
                raise RuntimeError(f"the test OpenID provider did not start: {log.read_text(errors='replace')}")
            yield Provider(json.loads(line)["issuer"], accounts_file, log, key_file)
        finally:
            proc.terminate()
            proc.wait(timeout=10)


@contextmanager
def served(make_app: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """A loopback server whose address is known before its app is made (the provider must know
    Rutin's return address, and Rutin the provider's issuer): (base URL, holder of the app)."""
    from werkzeug.serving import make_server

    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", holder
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def configure(engine: Engine, issuer: str, **more: Any) -> None:
    """Point the engine's settings at the test provider (before the app is made)."""
    engine.settings = replace(engine.settings, oidc_issuer=issuer, oidc_client_id=CLIENT_ID,
                              oidc_client_secret=CLIENT_SECRET, **more)


_FORM = re.compile(r'<form[^>]*action="([^"]+)"[^>]*method="post"', re.S)
_HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def _submit(http: requests.Session, page: requests.Response, fields: dict[str, str], *,
            follow: bool = True) -> requests.Response:
    found = _FORM.search(page.text)
    assert found, page.text[:2000]
    data = {k: unescape(v) for k, v in _HIDDEN.findall(page.text)} | fields
    return http.post(urljoin(page.url, unescape(found.group(1))), data=data, allow_redirects=follow)


def to_return(http: requests.Session, base: str, login: str) -> str:
    """Go through the provider's login and consent pages up to the redirect back to Rutin; the
    address the provider sends the browser back to (with its `code` and `state`), not yet opened."""
    page = http.get(f"{base}/login/oidc")
    assert "/interaction/" in page.url, (page.status_code, page.url, page.text[:500])
    answer = _submit(http, page, {"login": login, "password": "vad-som-helst"})
    while "Continue" in answer.text and "consent" in answer.text:
        answer = _submit(http, answer, {}, follow=False)
        while answer.is_redirect and not answer.headers["Location"].startswith(base):
            answer = http.get(urljoin(answer.url, answer.headers["Location"]), allow_redirects=False)
        if answer.is_redirect:
            return urljoin(answer.url, answer.headers["Location"])
    raise AssertionError(f"no way back to Rutin: {answer.status_code} {answer.url} {answer.text[:500]}")


def sign_in(http: requests.Session, base: str, login: str) -> requests.Response:
    """Sign in to Rutin at `base` as the provider's `login`; Rutin's answer at the return."""
    return http.get(to_return(http, base, login), allow_redirects=False)
