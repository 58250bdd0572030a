"""ID tokens the real provider would never issue, refused: a wrong audience, an expired token, a
tampered payload. The hostile proxy of tests/oidc_proxy.py stands between Rutin and the real
provider (tests/oidc_helpers.py) and changes exactly the property under test in the token it
passes on, re-signed with the provider's own key (or, tampered, with the honest signature kept).

Each refusal: a Swedish message, no session, no user created or changed, and an entry in the
security log. A control test shows the proxy's untouched token does sign in."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import oidc_helpers
import pytest
import requests
import sqlalchemy as sa
from conftest import Person
from oidc_proxy import HostileProxy, claims_of

from engine.authority import identity, idp, security_log
from engine.core import Engine
from webapp import oidc

ANNA = {"preferred_username": "anna", "name": "Anna Andersson", "email": "anna@kommun.test", "groups": ["socialtjanst"]}
ACCOUNTS = {"sub-anna-1": ANNA}
MAPPING = [{"group": "socialtjanst", "role": "Handläggare"}, {"group": "it-admin", "role": "Administratör"}]


@dataclass
class Site:
    """Rutin, trusting the proxy as its provider; the proxy in front of the real provider."""

    base: str
    engine: Engine
    proxy: HostileProxy

    def sign_in(self, tamper: Callable[[dict[str, Any]], dict[str, Any]] | None = None, *,
                keep_signature: bool = False) -> tuple[requests.Session, requests.Response]:
        """A fresh browser signed in (or refused) as anna, the token changed by `tamper` on its way."""
        self.proxy.tamper, self.proxy.keep_signature = tamper, keep_signature
        http = requests.Session()
        return http, oidc_helpers.sign_in(http, self.base, "sub-anna-1")

    def people(self) -> list[tuple[Any, ...]]:
        """Every user, subject link and role as stored (to show a refusal changed none)."""
        with self.engine.db.read() as s:
            return [*s.execute(sa.text("select name, display_name, email, active from users order by name")).all(),
                    *s.execute(sa.text("select user_id, issuer, subject from user_subjects order by id")).all(),
                    *s.execute(sa.text("select user_id, role_key, org_unit_id from user_roles "
                                       "order by user_id, role_key")).all()]

    def log(self, kind: str) -> list[dict[str, Any]]:
        items = security_log.entries(self.engine, identity.SYSTEM, limit=1000)["items"]
        return [e for e in items if e["type"] == kind]


@pytest.fixture
def site(engine: Engine, tmp_path: Path, people: dict[str, Person]) -> Iterator[Site]:
    from webapp import create_app

    with oidc_helpers.served(None) as (base, holder), \
            oidc_helpers.provider(tmp_path, base, ACCOUNTS) as provider, \
            oidc_helpers.served(None) as (proxy_base, proxy_holder):
        proxy = HostileProxy(provider.issuer, proxy_base, provider.key_file)
        proxy_holder["app"] = proxy
        oidc_helpers.configure(engine, proxy_base)
        holder["app"] = create_app(engine)
        idp.replace_group_roles(engine, people["admin"].actor, MAPPING)
        yield Site(base, engine, proxy)


def _signed_in(http: requests.Session, base: str) -> bool:
    """Whether the browser's cookies grant anything: the start page and the API both asked."""
    page = http.get(f"{base}/", allow_redirects=False)
    me = http.get(f"{base}/api/me", allow_redirects=False)
    if page.status_code == 302:
        assert "/login" in page.headers["Location"] and me.status_code != 200
        return False
    assert page.status_code == 200 and re.search(r'name="csrf"', page.text)
    return True


def _assert_refused(site: Site, http: requests.Session, answer: requests.Response, before: list[tuple[Any, ...]],
                    why: str) -> None:
    text = answer.text
    assert answer.status_code == 401, (answer.status_code, text[:500])
    assert "Inloggningen kunde inte slutföras: inloggningstjänstens ID-token är ogiltig" in text
    assert why in text
    assert not _signed_in(http, site.base)
    assert site.people() == before
    assert not site.log(security_log.SIGN_IN)
    [failed] = site.log(security_log.SIGN_IN_FAILED)
    assert failed["data"]["method"] == "oidc" and why in failed["data"]["reason"]
    assert failed["data"]["reason"].startswith("Inloggningen kunde inte slutföras")


def test_through_the_proxy_an_untouched_token_signs_in(site: Site) -> None:
    """The control: the proxy itself is not what the refusals below refuse."""
    http, answer = site.sign_in()
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert _signed_in(http, site.base)
    assert site.proxy.issued and site.proxy.sent
    issued, sent = claims_of(site.proxy.issued[0]), claims_of(site.proxy.sent[0])
    assert sent == {**issued, "iss": site.proxy.own} and issued["iss"] != site.proxy.own
    assert issued["aud"] == oidc_helpers.CLIENT_ID
    assert set(identity.get_actor(site.engine, "anna").roles) == {"handläggare"}


@pytest.mark.parametrize("audience", [
    {"aud": "en-annan-klient"},
    # another client's token naming Rutin as the authorized party: Authlib alone lets it in
    {"aud": "en-annan-klient", "azp": oidc_helpers.CLIENT_ID},
    {"aud": ["en-annan-klient", "en-tredje"], "azp": oidc_helpers.CLIENT_ID},
], ids=["aud", "aud-with-azp", "aud-list-with-azp"])
def test_an_id_token_for_another_audience_is_refused(site: Site, audience: dict[str, Any]) -> None:
    before = site.people()
    http, answer = site.sign_in(lambda claims: {**claims, **audience})
    assert claims_of(site.proxy.sent[-1])["aud"] == audience["aud"]
    _assert_refused(site, http, answer, before, oidc.WRONG_AUDIENCE)


def test_an_expired_id_token_is_refused(site: Site) -> None:
    """Issued two hours before the provider issued it, expired an hour before: well beyond the
    leeway Authlib allows for clocks that differ (`oidc.LEEWAY_S`). Times come from the real
    token, not from a clock of the test's."""
    before = site.people()
    hour = 3600
    assert hour > 10 * oidc.LEEWAY_S

    def expired(claims: dict[str, Any]) -> dict[str, Any]:
        return {**claims, "iat": claims["iat"] - 2 * hour, "auth_time": claims["iat"] - 2 * hour,
                "exp": claims["iat"] - hour}

    http, answer = site.sign_in(expired)
    _assert_refused(site, http, answer, before, oidc.EXPIRED)


def test_an_id_token_whose_payload_was_changed_is_refused(site: Site) -> None:
    """The honest token's signature kept, its payload changed to make anna the administrator:
    the signature no longer verifies, and the admin account is left as it was."""
    before = site.people()

    def promoted(claims: dict[str, Any]) -> dict[str, Any]:
        return {**claims, "preferred_username": "admin", "groups": ["it-admin"]}

    http, answer = site.sign_in(promoted, keep_signature=True)
    sent = site.proxy.sent[-1]
    assert claims_of(sent)["preferred_username"] == "admin" and claims_of(sent)["iss"] == site.proxy.own
    _assert_refused(site, http, answer, before, oidc.BAD_SIGNATURE)
