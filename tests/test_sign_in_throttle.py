"""Signing in resists guessing: failures lock a user name and a client address for a while that
grows and expires, a success resets the name, a browser the person signed in from before is not
locked out by guesses sent from elsewhere, and an unknown name costs what a wrong password costs.
Time is moved with the engine's clock."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from conftest import PASSWORD, Person
from signin_helpers import attempt, sign_out, signed_in_as

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.core import Engine


@pytest.fixture
def anna(engine: Engine, people: dict[str, Person]) -> str:
    identity.set_password(engine, "hanna", PASSWORD)
    return "hanna"


def _fail(client: Any, name: str, times: int, **kwargs: Any) -> list[int]:
    return [attempt(client, name, "fel-lösenord", **kwargs).status_code for _ in range(times)]


def test_five_failures_lock_the_name_with_a_swedish_429_and_retry_after(client: Any, anna: str) -> None:
    assert _fail(client, anna, 5) == [401] * 5
    r = attempt(client, anna, PASSWORD)
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "300"
    assert "För många misslyckade inloggningsförsök. Försök igen om 5 minuter." in r.get_data(as_text=True)
    assert signed_in_as(client) is None


def test_the_lock_expires_and_each_further_lock_lasts_twice_as_long(client: Any, anna: str,
                                                                   clock: ManualClock) -> None:
    for minutes in (5, 10, 20, 40, 60, 60):
        _fail(client, anna, 5)
        r = attempt(client, anna, "fel-lösenord")
        assert r.status_code == 429 and r.headers["Retry-After"] == str(minutes * 60), minutes
        clock.advance(timedelta(minutes=minutes) - timedelta(seconds=30))
        r = attempt(client, anna, "fel-lösenord")
        assert r.status_code == 429 and r.headers["Retry-After"] == "30"
        assert "Försök igen om 1 minut." in r.get_data(as_text=True)
        clock.advance(timedelta(seconds=30))
    assert attempt(client, anna, PASSWORD).status_code == 302
    assert signed_in_as(client) == anna


def test_attempts_on_a_locked_name_do_not_lengthen_the_lock(client: Any, anna: str, clock: ManualClock) -> None:
    _fail(client, anna, 5)
    for _ in range(10):
        clock.advance(timedelta(seconds=20))
        assert attempt(client, anna, "fel-lösenord").status_code == 429
    clock.advance(timedelta(seconds=100))  # 5 minutes after the fifth failure
    assert attempt(client, anna, PASSWORD).status_code == 302


def test_failures_spread_beyond_the_window_do_not_lock(client: Any, anna: str, clock: ManualClock) -> None:
    for _ in range(2):
        assert _fail(client, anna, 4) == [401] * 4
        clock.advance(timedelta(minutes=16))
    assert attempt(client, anna, PASSWORD).status_code == 302


def test_a_success_resets_the_names_count_and_its_growth(client: Any, anna: str, clock: ManualClock) -> None:
    _fail(client, anna, 5)
    clock.advance(timedelta(minutes=5))
    assert attempt(client, anna, PASSWORD).status_code == 302
    sign_out(client)
    _fail(client, anna, 4)
    assert attempt(client, anna, PASSWORD).status_code == 302  # four failures after a success: not five
    _fail(client, anna, 5)
    assert attempt(client, anna, "x").headers["Retry-After"] == "300"  # the first lock again, not the second


def test_a_quiet_day_forgets_the_growth(client: Any, anna: str, clock: ManualClock) -> None:
    _fail(client, anna, 5)
    clock.advance(timedelta(minutes=5))
    _fail(client, anna, 5)
    assert attempt(client, anna, "x").headers["Retry-After"] == "600"
    clock.advance(timedelta(hours=25))
    _fail(client, anna, 5)
    assert attempt(client, anna, "x").headers["Retry-After"] == "300"


def test_twenty_failures_from_one_address_lock_it_for_every_name(client: Any, anna: str) -> None:
    for n in range(5):
        assert _fail(client, f"okand{n}", 4, address="198.51.100.7") == [401] * 4
    r = attempt(client, anna, PASSWORD, address="198.51.100.7")
    assert r.status_code == 429 and r.headers["Retry-After"] == "300"
    assert attempt(client, anna, PASSWORD, address="198.51.100.8").status_code == 302  # another address may


def test_successful_sign_ins_from_one_address_do_not_use_its_count_up(client: Any, engine: Engine,
                                                                     people: dict[str, Person]) -> None:
    """An office behind one address signs in all day: more than twenty sign-ins, none refused."""
    for name in people:
        identity.set_password(engine, name, PASSWORD)
    for _ in range(3):
        for name in people:
            assert attempt(client, name, PASSWORD, address="203.0.113.1").status_code == 302
            sign_out(client)


def test_a_browser_the_person_signed_in_from_is_not_locked_out_by_guesses_from_elsewhere(
        app: Any, anna: str) -> None:
    own = app.test_client()
    assert attempt(own, anna, PASSWORD).status_code == 302
    sign_out(own)
    attacker = app.test_client()
    for n in range(3):
        _fail(attacker, anna, 5, address=f"192.0.2.{100 + n}")
    assert attempt(attacker, anna, PASSWORD, address="192.0.2.200").status_code == 429
    # the person's own browser still signs in, even from the attacker's address
    assert attempt(own, anna, PASSWORD, address="192.0.2.100").status_code == 302
    assert signed_in_as(own) == anna


def test_a_known_browser_still_gets_only_five_guesses(app: Any, anna: str) -> None:
    own = app.test_client()
    assert attempt(own, anna, PASSWORD).status_code == 302
    sign_out(own)
    assert _fail(own, anna, 5) == [401] * 5
    assert attempt(own, anna, PASSWORD).status_code == 429


def test_x_forwarded_for_counts_only_behind_a_configured_proxy(tmp_path: Any, clock: ManualClock) -> None:
    from engine.base.settings import Settings
    from webapp import create_app

    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(tmp_path), "RUTIN_TRUSTED_PROXIES": "1"}), clock)
    engine.migrate()
    try:
        identity.add_user(engine, "hanna", ["Handläggare"])
        identity.set_password(engine, "hanna", PASSWORD)
        client = create_app(engine).test_client()
        # behind the proxy (10.0.0.1), clients are told apart by the address it forwards
        for n in range(5):
            statuses = _fail(client, f"okand{n}", 4, address="10.0.0.1",
                             headers={"X-Forwarded-For": "198.51.100.7"})
            assert statuses == [401] * 4
        assert attempt(client, "hanna", PASSWORD, address="10.0.0.1",
                       headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 429
        assert attempt(client, "hanna", PASSWORD, address="10.0.0.1",
                       headers={"X-Forwarded-For": "198.51.100.8"}).status_code == 302
    finally:
        engine.close()


def test_an_unknown_name_costs_what_a_wrong_password_costs(client: Any, engine: Engine,
                                                          people: dict[str, Person]) -> None:
    """Measured as this process's CPU time (argon2 computes; a busy machine stretches wall time,
    not CPU time), with a bound far from both sides: without the dummy verification an unknown
    name costs a few percent of a wrong password."""
    for name in ("hanna", "hugo", "greta", "stina"):
        identity.set_password(engine, name, PASSWORD)
    attempt(client, "uppvarmning", "x", address="192.0.2.99")  # the dummy hash is made once

    def cpu(names: list[str]) -> float:
        start = time.process_time()
        for n, name in enumerate(names):
            assert attempt(client, name, "fel-lösenord", address=f"192.0.2.{n}").status_code == 401
        return time.process_time() - start

    known = cpu(["hanna", "hugo", "greta", "stina"] * 2)
    unknown = cpu([f"finns-inte-{n}" for n in range(8)])
    assert 0.5 < unknown / known < 2.0, (unknown, known)
