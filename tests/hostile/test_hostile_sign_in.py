"""Hostile probes: ways to keep guessing passwords past the throttle, or to break signing in.

Each probe asserts the refusal (429 with the Swedish message and Retry-After, or 401) and that
it left no effect: no page session, and every table as before except the attempt counters
(`sign_in_throttle`, whose change is the point).
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
import requests
from conftest import PASSWORD, Person
from probes import assert_no_effect, db_state
from signin_helpers import CSRF, attempt, login_csrf, signed_in_as

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.base.settings import Settings
from engine.core import Engine

# On both databases: throttling counts failures in the database, under concurrent requests.
pytestmark = pytest.mark.both_databases

# A refused sign-in counts against guessing and is entered in the security log: both are the
# record of the attempt, not an effect it achieved.
COUNTERS = frozenset({"sign_in_throttle", "security_events"})
LOCKED = re.compile(r"För många misslyckade inloggningsförsök\. Försök igen om \d+ minut(er)?\.")


@pytest.fixture
def hanna(engine: Engine, people: dict[str, Person]) -> str:
    identity.set_password(engine, "hanna", PASSWORD)
    return "hanna"


def _fail(client: Any, name: str, times: int, **kwargs: Any) -> None:
    for _ in range(times):
        assert attempt(client, name, "gissning", **kwargs).status_code == 401


def _locked(r: Any) -> None:
    assert r.status_code == 429, r.status_code
    assert int(r.headers["Retry-After"]) > 0
    assert LOCKED.search(r.get_data(as_text=True))


def test_the_right_password_is_refused_while_the_name_is_locked(client: Any, engine: Engine, hanna: str) -> None:
    _fail(client, hanna, 5)
    before = db_state(engine, ignore=COUNTERS)
    _locked(attempt(client, hanna, PASSWORD))
    assert signed_in_as(client) is None
    assert_no_effect(before, db_state(engine, ignore=COUNTERS))


def test_an_unknown_name_locks_like_a_known_one(client: Any, engine: Engine, hanna: str) -> None:
    """Otherwise the lock itself would tell which names exist."""
    _fail(client, "finns-inte", 5)
    before = db_state(engine, ignore=COUNTERS)
    _locked(attempt(client, "finns-inte", "gissning"))
    assert_no_effect(before, db_state(engine, ignore=COUNTERS))


def test_spreading_guesses_over_names_meets_the_address_limit(client: Any, engine: Engine, hanna: str) -> None:
    for n in range(5):
        _fail(client, f"namn{n}", 4, address="198.51.100.9")
    before = db_state(engine, ignore=COUNTERS)
    _locked(attempt(client, hanna, PASSWORD, address="198.51.100.9"))
    assert signed_in_as(client) is None
    assert_no_effect(before, db_state(engine, ignore=COUNTERS))


def test_a_forged_x_forwarded_for_does_not_change_the_address(client: Any, engine: Engine, hanna: str) -> None:
    """No proxy is configured: the header is the client's own writing."""
    for n in range(20):
        assert attempt(client, f"namn{n}", "gissning", address="198.51.100.9",
                       headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code == 401
    before = db_state(engine, ignore=COUNTERS)
    _locked(attempt(client, "namn99", "gissning", address="198.51.100.9",
                    headers={"X-Forwarded-For": "203.0.113.200"}))
    assert_no_effect(before, db_state(engine, ignore=COUNTERS))


def test_behind_a_proxy_a_prepended_forwarded_address_does_not_help(tmp_path: Any, clock: ManualClock) -> None:
    """With one trusted proxy, only the address it appended counts, not what the client wrote before it."""
    from webapp import create_app

    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(tmp_path), "RUTIN_TRUSTED_PROXIES": "1"}), clock)
    engine.migrate()
    try:
        client = create_app(engine).test_client()
        for n in range(20):
            assert attempt(client, f"namn{n}", "gissning", address="10.0.0.1",
                           headers={"X-Forwarded-For": f"203.0.113.{n}, 198.51.100.9"}).status_code == 401
        before = db_state(engine, ignore=COUNTERS)
        _locked(attempt(client, "namn99", "gissning", address="10.0.0.1",
                        headers={"X-Forwarded-For": "203.0.113.250, 198.51.100.9"}))
        assert_no_effect(before, db_state(engine, ignore=COUNTERS))
    finally:
        engine.close()


def test_a_forged_browser_cookie_is_not_a_way_past_the_lock(client: Any, engine: Engine, hanna: str) -> None:
    _fail(client, hanna, 5)
    client.set_cookie("rutin_browser", 'eyJ1c2VyIjoiaGFubmEiLCJrZXkiOiJ4In0.forged', path="/login")
    before = db_state(engine, ignore=COUNTERS)
    _locked(attempt(client, hanna, PASSWORD))
    assert signed_in_as(client) is None
    assert_no_effect(before, db_state(engine, ignore=COUNTERS))


def test_the_browser_cookie_of_ones_own_account_does_not_free_another_name(
        client: Any, engine: Engine, hanna: str) -> None:
    identity.set_password(engine, "hugo", PASSWORD)
    assert attempt(client, "hugo", PASSWORD).status_code == 302  # the attacker's own account
    _fail(client, hanna, 5)
    before = db_state(engine, ignore=COUNTERS)
    _locked(attempt(client, hanna, PASSWORD))
    assert signed_in_as(client) == "hugo"  # still the attacker's own session, not hanna's
    assert_no_effect(before, db_state(engine, ignore=COUNTERS))


def test_another_web_process_sees_the_lock(engine: Engine, clock: ManualClock, hanna: str) -> None:
    """The counts are in the database, so every web process (and a restart) shares them."""
    from webapp import create_app

    _fail(create_app(engine).test_client(), hanna, 5)
    other = Engine(engine.settings, clock)
    try:
        client = create_app(other).test_client()
        before = db_state(engine, ignore=COUNTERS)
        _locked(attempt(client, hanna, PASSWORD))
        assert signed_in_as(client) is None
        assert_no_effect(before, db_state(engine, ignore=COUNTERS))
    finally:
        other.close()


def test_guesses_sent_at_once_get_no_more_than_five_password_checks(
        live_server: str, engine: Engine, hanna: str) -> None:
    session = requests.Session()
    token = CSRF.search(session.get(f"{live_server}/login", timeout=30).text).group(1)  # type: ignore[union-attr]
    before = db_state(engine, ignore=COUNTERS)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(n: int) -> None:
        r = session.post(f"{live_server}/login", data={"csrf": token, "name": hanna, "password": f"gissning{n}"},
                         allow_redirects=False, timeout=60)
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [401] * 5 + [429] * 11, statuses
    assert_no_effect(before, db_state(engine, ignore=COUNTERS))


@pytest.mark.parametrize(("name", "password", "status", "message"), [
    ("hanna%00", PASSWORD, 400, "NUL-tecken"),
    ("x" * 100_000, "gissning", 401, "Fel användarnamn eller lösenord."),
    ("hanna", "gissning%00" + PASSWORD, 400, "NUL-tecken"),
    ("%ED%B3%BF", "gissning", 401, "Fel användarnamn eller lösenord."),
    ("hanna", "%ED%A0%80", 401, "Fel användarnamn eller lösenord."),
    ("%C0%80hanna", PASSWORD, 401, "Fel användarnamn eller lösenord."),
], ids=["nul in the name", "100 000 characters", "nul in the password", "lone surrogate in the name",
        "lone surrogate in the password", "overlong nul"])
def test_a_malformed_name_or_password_is_a_plain_refusal(client: Any, engine: Engine, hanna: str, name: str,
                                                         password: str, status: int, message: str) -> None:
    """The fields as a hostile client writes them, percent-encoded bytes and all."""
    token = login_csrf(client)
    before = db_state(engine, ignore=COUNTERS)
    body = f"csrf={token}&name={name}&password={password.replace(PASSWORD, quote(PASSWORD))}"
    r = client.post("/login", data=body.encode("ascii"), content_type="application/x-www-form-urlencoded",
                    environ_base={"REMOTE_ADDR": "192.0.2.10"}, headers={"Accept": "text/html"})
    assert r.status_code == status and message in r.get_data(as_text=True)
    assert signed_in_as(client) is None
    assert_no_effect(before, db_state(engine, ignore=COUNTERS))


def test_a_lock_ends_by_itself_and_is_not_lengthened_by_hammering(client: Any, engine: Engine, clock: ManualClock,
                                                                  hanna: str) -> None:
    """An attacker cannot keep the lock on by knocking on it: it runs out five minutes after the
    fifth failure, and the person signs in."""
    _fail(client, hanna, 5)
    for _ in range(30):
        clock.advance(timedelta(seconds=9))
        _locked(attempt(client, hanna, "gissning"))
    clock.advance(timedelta(seconds=30))
    assert attempt(client, hanna, PASSWORD).status_code == 302
    assert signed_in_as(client) == hanna
