"""Signing in through an OpenID Connect provider: a real one (npm's certified oidc-provider) on
loopback, Rutin served beside it, the whole redirect dance done over HTTP as a browser does it
(and once in Chromium). Users are created and matched on both databases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import oidc_helpers
import pytest
import requests
import sqlalchemy as sa
from conftest import Person

from engine.authority import identity, idp, security_log
from engine.base.errors import Unauthorized
from engine.core import Engine
from engine.routing import accounts
from engine.store.models import User, UserSubject

ANNA = {"preferred_username": "anna", "name": "Anna Andersson", "email": "anna@kommun.test",
        "groups": ["socialtjanst", "bygglov"]}
BERIT = {"preferred_username": "berit", "name": "Berit Berg", "email": "berit@kommun.test", "groups": ["bygglov"]}
ACCOUNTS = {"sub-anna-1": ANNA, "sub-berit-2": BERIT}
MAPPING = [{"group": "socialtjanst", "role": "Handläggare"}, {"group": "bygglov", "role": "granskare"}]


@dataclass
class Site:
    """Rutin and the provider it trusts, both on loopback."""

    base: str
    engine: Engine
    provider: oidc_helpers.Provider
    admin: Person
    app: Any

    def sign_in(self, login: str) -> tuple[requests.Session, requests.Response]:
        """A fresh browser signed in (or refused) as the provider's `login`."""
        http = requests.Session()
        return http, oidc_helpers.sign_in(http, self.base, login)

    def user(self, name: str) -> User | None:
        with self.engine.db.read() as s:
            return s.execute(sa.select(User).where(User.name == name)).scalar_one_or_none()

    def log(self, kind: str) -> list[dict[str, Any]]:
        items = security_log.entries(self.engine, identity.SYSTEM, limit=1000)["items"]
        return [e for e in items if e["type"] == kind]


def _site(engine: Engine, tmp_path: Path, people: dict[str, Person], *, end_session: bool = True,
          **settings: Any) -> Iterator[Site]:
    from webapp import create_app

    with oidc_helpers.served(None) as (base, holder), \
            oidc_helpers.provider(tmp_path, base, ACCOUNTS, end_session=end_session) as provider:
        oidc_helpers.configure(engine, provider.issuer, **settings)
        holder["app"] = create_app(engine)
        idp.replace_group_roles(engine, people["admin"].actor, MAPPING)
        yield Site(base, engine, provider, people["admin"], holder["app"])


@pytest.fixture
def site(engine: Engine, tmp_path: Path, people: dict[str, Person]) -> Iterator[Site]:
    """Rutin with OpenID Connect sign-in, the group mapping set, local passwords still on."""
    yield from _site(engine, tmp_path, people)


def _signed_in(http: requests.Session, base: str) -> str | None:
    """Who Rutin's start page says is signed in (None: it sends the browser to sign in)."""
    answer = http.get(f"{base}/", allow_redirects=False)
    if answer.status_code == 302:
        return None
    found = re.search(r'name="csrf" value="([^"]+)"', answer.text)
    assert answer.status_code == 200 and found, answer.status_code
    return found.group(1)


def test_the_login_page_offers_the_provider(site: Site) -> None:
    page = requests.get(f"{site.base}/login")
    assert "Logga in med kommunens inloggning" in page.text
    assert 'name="password"' in page.text  # local passwords are still on
    # signing out posts to Rutin, which sends the browser on to the provider: forms may lead there
    assert f"form-action 'self' {site.provider.issuer};" in page.headers["Content-Security-Policy"]
    start = requests.get(f"{site.base}/login/oidc", allow_redirects=False)
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    assert start.headers["Location"].startswith(site.provider.issuer)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0]
    assert query["state"][0] and query["nonce"][0] and query["scope"] == ["openid profile email"]


def test_first_sign_in_creates_the_user_matched_by_subject_with_mapped_roles(site: Site) -> None:
    http, answer = site.sign_in("sub-anna-1")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert _signed_in(http, site.base)
    anna = site.user("anna")
    assert anna is not None and anna.display_name == "Anna Andersson" and anna.email == "anna@kommun.test"
    assert set(identity.get_actor(site.engine, "anna").roles) == {"handläggare", "granskare"}
    with site.engine.db.read() as s:
        links = s.execute(sa.select(UserSubject.issuer, UserSubject.subject, UserSubject.user_id)).all()
    assert links == [(site.provider.issuer, "sub-anna-1", anna.id)]
    signed = site.log(security_log.SIGN_IN)
    assert signed[0]["subject"] == "anna" and signed[0]["data"]["method"] == "oidc"

    # Renamed at the provider: still the same person in Rutin, found by subject, not by name;
    # the display name and e-mail follow the provider.
    site.provider.set_accounts({"sub-anna-1": {**ANNA, "preferred_username": "anna.a", "name": "Anna Ek",
                                               "email": "anna.ek@kommun.test"}})
    http, answer = site.sign_in("sub-anna-1")
    assert answer.status_code == 302
    assert site.user("anna.a") is None
    anna = site.user("anna")
    assert anna is not None and anna.display_name == "Anna Ek" and anna.email == "anna.ek@kommun.test"
    with site.engine.db.read() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(UserSubject)).scalar_one() == 1


def test_a_removed_group_removes_the_role_it_gave_and_no_other(site: Site) -> None:
    site.sign_in("sub-anna-1")
    # a role given by hand, which no group mapping touches
    identity.add_user(site.engine, "anna", ["Processägare"], by="admin")
    site.provider.set_accounts({"sub-anna-1": {**ANNA, "groups": ["bygglov"]}})
    _, answer = site.sign_in("sub-anna-1")
    assert answer.status_code == 302
    assert set(identity.get_actor(site.engine, "anna").roles) == {"granskare", "processägare"}
    changes = [e for e in site.log(security_log.ROLES_CHANGED) if e["subject"] == "anna"]
    assert changes[0]["actor"] == idp.BY_MAPPING and changes[0]["data"]["removed"] == ["Handläggare"]
    # out of every mapped group: only the hand-given role is left
    site.provider.set_accounts({"sub-anna-1": {**ANNA, "groups": []}})
    site.sign_in("sub-anna-1")
    assert set(identity.get_actor(site.engine, "anna").roles) == {"processägare"}


def test_a_tampered_state_is_refused_with_no_session_and_no_user(site: Site) -> None:
    http = requests.Session()
    back = oidc_helpers.to_return(http, site.base, "sub-anna-1")
    tampered = re.sub(r"state=[^&]+", "state=forfalskad", back)
    answer = http.get(tampered, allow_redirects=False)
    assert answer.status_code == 401
    assert "ogiltigt state" in answer.text
    assert _signed_in(http, site.base) is None
    assert site.user("anna") is None
    failed = site.log(security_log.SIGN_IN_FAILED)
    assert failed and "ogiltigt state" in failed[0]["data"]["reason"] and failed[0]["data"]["method"] == "oidc"
    # the real return, once the state was spent on nothing, is no good either (the state is used once)
    assert http.get(back, allow_redirects=False).status_code in (302, 401)


def test_a_code_is_refused_in_another_browser(site: Site) -> None:
    back = oidc_helpers.to_return(requests.Session(), site.base, "sub-anna-1")
    thief = requests.Session()
    answer = thief.get(back, allow_redirects=False)
    assert answer.status_code == 401 and "ogiltigt state" in answer.text
    assert _signed_in(thief, site.base) is None and site.user("anna") is None


def test_a_deactivated_user_is_refused(site: Site) -> None:
    site.sign_in("sub-berit-2")
    accounts.deactivate(site.engine, site.admin.actor, "berit", "slutat")
    http, answer = site.sign_in("sub-berit-2")
    assert answer.status_code == 401
    assert idp.DEACTIVATED in answer.text
    assert _signed_in(http, site.base) is None
    berit = site.user("berit")
    assert berit is not None and berit.active is False
    failed = [e for e in site.log(security_log.SIGN_IN_FAILED) if e["actor"] == "berit"]
    assert failed and failed[0]["data"]["reason"] == idp.DEACTIVATED
    assert not [e for e in site.log(security_log.SIGN_IN) if e["subject"] == "berit"][1:]  # only the first


def test_a_name_already_linked_to_another_subject_is_refused(site: Site) -> None:
    site.sign_in("sub-anna-1")
    site.provider.set_accounts({**ACCOUNTS, "sub-impostor": {**ANNA, "groups": ["socialtjanst"]}})
    http, answer = site.sign_in("sub-impostor")
    assert answer.status_code == 401 and "hör redan till en annan person" in answer.text
    assert _signed_in(http, site.base) is None
    with site.engine.db.read() as s:
        subjects = s.execute(sa.select(UserSubject.subject)).scalars().all()
    assert subjects == ["sub-anna-1"]


def test_sign_out_ends_the_session_and_goes_to_the_provider(site: Site) -> None:
    http, _ = site.sign_in("sub-anna-1")
    csrf = _signed_in(http, site.base)
    assert csrf
    answer = http.post(f"{site.base}/logout", data={"csrf": csrf}, allow_redirects=False)
    assert answer.status_code == 302
    where = urlsplit(answer.headers["Location"])
    metadata = requests.get(f"{site.provider.issuer}/.well-known/openid-configuration").json()
    assert f"{where.scheme}://{where.netloc}{where.path}" == metadata["end_session_endpoint"]
    query = parse_qs(where.query)
    assert query["post_logout_redirect_uri"] == [f"{site.base}/login"] and query["id_token_hint"][0].count(".") == 2
    assert _signed_in(http, site.base) is None
    # the provider's own sign-out page takes the hint (a valid ID token of this client)
    assert http.get(answer.headers["Location"]).status_code == 200


@pytest.fixture
def site_without_end_session(engine: Engine, tmp_path: Path, people: dict[str, Person]) -> Iterator[Site]:
    """Rutin with a provider that offers no RP-initiated sign-out."""
    yield from _site(engine, tmp_path, people, end_session=False)


def test_sign_out_without_the_providers_end_session_ends_rutins_session(site_without_end_session: Site) -> None:
    site = site_without_end_session
    metadata = requests.get(f"{site.provider.issuer}/.well-known/openid-configuration").json()
    assert "end_session_endpoint" not in metadata
    http, _ = site.sign_in("sub-anna-1")
    csrf = _signed_in(http, site.base)
    assert csrf
    answer = http.post(f"{site.base}/logout", data={"csrf": csrf}, allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert _signed_in(http, site.base) is None


@pytest.fixture
def site_without_passwords(engine: Engine, tmp_path: Path, people: dict[str, Person]) -> Iterator[Site]:
    """Rutin with OpenID Connect sign-in and local passwords switched off."""
    yield from _site(engine, tmp_path, people, local_passwords=False)


def test_local_passwords_off_hides_the_form_and_refuses_it(site_without_passwords: Site) -> None:
    site = site_without_passwords
    identity.set_password(site.engine, "hanna", "hemligt-lösen-1")
    page = requests.get(f"{site.base}/login")
    assert 'name="password"' not in page.text and "Logga in med kommunens inloggning" in page.text
    # The right name and password, with the session's CSRF token (the page shows no form to take it from).
    client = site.app.test_client()
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    answer = client.post("/login", data={"csrf": csrf, "name": "hanna", "password": "hemligt-lösen-1"})
    assert answer.status_code == 403
    assert "Inloggning med lösenord är avstängd här. Logga in med kommunens inloggning." in answer.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "user" not in session
    assert client.get("/").status_code == 302
    assert not site.log(security_log.SIGN_IN) and not site.log(security_log.SIGN_IN_FAILED)
    with site.engine.db.read() as s:
        assert s.execute(sa.text("select count(*) from sign_in_throttle")).scalar_one() == 0
    # signing in through the provider still works
    http, answer = site.sign_in("sub-anna-1")
    assert answer.status_code == 302 and _signed_in(http, site.base)


def _session_cookie(site: Site, http: requests.Session) -> tuple[Any, dict[str, Any]]:
    serializer = site.app.session_interface.get_signing_serializer(site.app)
    return serializer, serializer.loads(http.cookies.get("session", domain="127.0.0.1"))


def test_a_wrong_nonce_is_refused(site: Site) -> None:
    """The ID token's nonce must be the one this browser's sign-in sent: here the nonce kept in
    the (signed) session is another one, as it is when an ID token from someone else's sign-in
    is replayed into this browser's."""
    http = requests.Session()
    back = oidc_helpers.to_return(http, site.base, "sub-anna-1")
    serializer, data = _session_cookie(site, http)
    [key] = [k for k in data if k.startswith("_state_")]
    data[key]["data"]["nonce"] = "en-annan-nonce"
    http.cookies.set("session", serializer.dumps(data), domain="127.0.0.1", path="/")
    answer = http.get(back, allow_redirects=False)
    assert answer.status_code == 401 and "ID-token är ogiltig" in answer.text and "nonce" in answer.text
    assert _signed_in(http, site.base) is None and site.user("anna") is None
    failed = site.log(security_log.SIGN_IN_FAILED)
    assert failed and "nonce" in failed[0]["data"]["reason"]


def test_an_id_token_not_signed_by_the_providers_key_is_refused(site: Site) -> None:
    """Rutin's copy of the provider's keys is swapped for another key under the same key id: the
    real token's signature then does not verify, as a forged token's would not."""
    from joserfc.jwk import RSAKey

    http = requests.Session()
    back = oidc_helpers.to_return(http, site.base, "sub-anna-1")
    real = requests.get(f"{site.provider.issuer}/jwks").json()["keys"][0]
    forged = {**RSAKey.generate_key(2048).as_dict(private=False), "kid": real["kid"], "alg": "RS256", "use": "sig"}
    client = site.app.extensions["rutin_oidc"].create_client("rutin_oidc")
    client.load_server_metadata()
    client.server_metadata["jwks"] = {"keys": [forged]}
    answer = http.get(back, allow_redirects=False)
    assert answer.status_code == 401 and "ID-token är ogiltig" in answer.text
    assert _signed_in(http, site.base) is None and site.user("anna") is None
    assert site.log(security_log.SIGN_IN_FAILED)


@pytest.fixture
def site_of_another_issuer(engine: Engine, tmp_path: Path, people: dict[str, Person]) -> Iterator[Site]:
    """Rutin configured with an issuer the provider's discovery document does not name (the
    provider answers at it, but says it is http://127.0.0.1:<port>)."""
    from webapp import create_app

    with oidc_helpers.served(None) as (base, holder), \
            oidc_helpers.provider(tmp_path, base, ACCOUNTS) as provider:
        oidc_helpers.configure(engine, provider.issuer.replace("127.0.0.1", "localhost"))
        holder["app"] = create_app(engine)
        yield Site(base, engine, provider, people["admin"], holder["app"])


def test_a_provider_naming_another_issuer_is_refused(site_of_another_issuer: Site) -> None:
    site = site_of_another_issuer
    answer = requests.get(f"{site.base}/login/oidc", allow_redirects=False)
    assert answer.status_code == 502 and "annan utfärdare" in answer.text
    assert "Location" not in answer.headers


def test_signing_in_and_out_in_a_browser(browser: Any, site: Site) -> None:
    """In Chromium, through the real redirects: Rutin's button, the provider's login and consent
    pages, back signed in with the mapped role; signing out passes through the provider's sign-out
    and lands on Rutin's login page, signed out."""
    from playwright.sync_api import expect

    context = browser.new_context(base_url=site.base, locale="sv-SE")
    # loopback only: the provider's development pages ask for a web font from elsewhere
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.get_by_role("link", name="Logga in med kommunens inloggning").click()
        page.locator('input[name="login"]').fill("sub-anna-1")
        page.locator('input[name="password"]').fill("vad-som-helst")
        page.get_by_role("button", name="Sign-in").click()
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("button", name="Logga ut")).to_be_visible()
        assert page.url == f"{site.base}/"
        assert "handläggare" in identity.get_actor(site.engine, "anna").roles
        page.get_by_role("button", name="Logga ut").click()
        expect(page).to_have_url(re.compile("^" + re.escape(site.provider.issuer)))
        page.get_by_role("button", name="Yes, sign me out").click()
        expect(page).to_have_url(re.compile("^" + re.escape(f"{site.base}/login") + r"(\?|$)"))
        expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/login\?next="))
    finally:
        context.close()


def test_a_replayed_code_is_refused(site: Site) -> None:
    """The browser's state as it was before the return (its session cookie), replayed with the
    same code after the code was used: the provider refuses the code a second time."""
    http = requests.Session()
    back = oidc_helpers.to_return(http, site.base, "sub-anna-1")
    before = http.cookies.get("session", domain="127.0.0.1")
    assert http.get(back, allow_redirects=False).status_code == 302
    replay = requests.Session()
    replay.cookies.set("session", before, domain="127.0.0.1", path="/")
    answer = replay.get(back, allow_redirects=False)
    assert answer.status_code == 401 and "Inloggningstjänsten avbröt inloggningen" in answer.text
    assert _signed_in(replay, site.base) is None
    assert len(site.log(security_log.SIGN_IN)) == 1 and site.log(security_log.SIGN_IN_FAILED)


def test_without_a_provider_there_is_no_provider_sign_in(client: Any) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert "Logga in med" not in page and 'name="password"' in page
    assert client.get("/login/oidc").status_code == 404
    assert client.get("/login/oidc/return?code=x&state=y").status_code == 404
    assert "form-action 'self';" in client.get("/login").headers["Content-Security-Policy"]


def test_claims_are_read_with_care() -> None:
    claims = idp.read_claims("https://idp.test", {"sub": "s", "preferred_username": " anna ", "given_name": "Anna",
                                                  "family_name": "Ek", "email": "a@x.test", "email_verified": False,
                                                  "groups": "ensam-grupp"},
                             username_claim="preferred_username", groups_claim="groups")
    assert claims.name == "anna" and claims.display_name == "Anna Ek" and claims.email is None
    assert claims.groups == frozenset({"ensam-grupp"})
    odd = idp.read_claims("https://idp.test", {"sub": "s", "groups": [1, None, "", "a" * 256, "ok"]},
                          username_claim="preferred_username", groups_claim="groups")
    assert odd.groups == frozenset({"ok"}) and odd.name is None
    with pytest.raises(Unauthorized):
        idp.read_claims("https://idp.test", {"sub": ""}, username_claim="u", groups_claim="g")


def test_the_organisation_import_leaves_mapped_roles_to_the_provider(engine: Engine, people: dict[str, Person]) -> None:
    from engine.service import org_data

    idp.replace_group_roles(engine, people["admin"].actor, MAPPING)
    claims = idp.read_claims("https://idp.test", {"sub": "s-1", **ANNA}, username_claim="preferred_username",
                             groups_claim="groups")
    idp.sign_in(engine, claims, username_claim="preferred_username", address=None)
    org_data.import_data(engine, {"people": [{"name": "anna", "roles": ["Processägare"]}]})
    assert set(identity.get_actor(engine, "anna").roles) == {"handläggare", "granskare", "processägare"}
    [anna] = [p for p in org_data.export_data(engine)["people"] if p["name"] == "anna"]
    assert anna["roles"] == [{"role": "Processägare"}]
    # a group left at the provider: its role goes, the imported one stays
    idp.sign_in(engine, idp.Claims(**{**claims.__dict__, "groups": frozenset({"bygglov"})}),
                username_claim="preferred_username", address=None)
    assert set(identity.get_actor(engine, "anna").roles) == {"granskare", "processägare"}


def test_a_first_sign_in_without_a_usable_name_is_refused(engine: Engine) -> None:
    for name in (None, "två ord", "x" * 121):
        claims = idp.Claims(issuer="https://idp.test", subject="s-9", name=name, display_name="Nomen Nescio",
                            email=None, groups=frozenset())
        with pytest.raises(Unauthorized, match="giltigt användarnamn"):
            idp.sign_in(engine, claims, username_claim="preferred_username", address="192.0.2.7")
    with engine.db.read() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(UserSubject)).scalar_one() == 0
        assert s.execute(sa.select(User).where(User.display_name == "Nomen Nescio")).first() is None
    failed = [e for e in security_log.entries(engine, identity.SYSTEM)["items"]
              if e["type"] == security_log.SIGN_IN_FAILED]
    assert len(failed) == 3 and failed[0]["address"] == "192.0.2.7"


def test_a_provider_that_does_not_answer_is_told_in_swedish(engine: Engine, tmp_path: Path) -> None:
    import socket

    from webapp import create_app

    with socket.socket() as closed:  # a loopback port nobody listens on (bound, never listening)
        closed.bind(("127.0.0.1", 0))
        oidc_helpers.configure(engine, f"http://127.0.0.1:{closed.getsockname()[1]}")
        client = create_app(engine).test_client()
        answer = client.get("/login/oidc")
    assert answer.status_code == 502 and "Inloggningstjänsten svarar inte just nu" in answer.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "user" not in session and "oidc_next" not in session
