"""Signing in with a password, throttled against guessing.

Every attempt counts against the user name as typed and the client's address; enough failures
lock the key for a while. The counts live in the database (`sign_in_throttle`) because several
web processes (`rutin serve` starts one per core, PostgreSQL serves several machines) must share
them. flask-limiter was the library to reach for, but it would not do here: its storage backends
(memory, Redis, Memcached, MongoDB) have no SQL store, so it would need a `limits` storage written
on top of the database anyway, and its rules are fixed "N per period" windows, which say neither
"the lock grows with each lockout and expires" nor "a success resets the name's count". The table
says both in a few statements, so Rutin keeps its own.

The policy:

- an attempt is counted *before* its password is checked, in a transaction that locks the key's
  row, so attempts sent in parallel cannot slip past the limit; a success then takes its count
  back (the name's count and lock are reset, the address gets its one count back);
- `NAME_LIMIT` failures of a name, or `ADDRESS_LIMIT` from an address, within `WINDOW` lock that
  key: the first lock lasts `FIRST_LOCK`, each further one twice as long as the one before, at
  most `LONGEST_LOCK`; a key with no attempt for `FORGET_AFTER` starts afresh;
- attempts on a locked key are refused without checking the password and without being counted,
  so hammering a lock does not lengthen it: it expires, it is never permanent;
- a browser in which the name has signed in before (the pages give it a signed cookie at sign-in)
  is counted on a key of its own instead of the name's and the address's, with the name's limit:
  whatever an attacker sends elsewhere, the person is not locked out of their usual browser,
  and that browser still gets only a few guesses;
- an unknown name costs what a wrong password costs (`identity.check_password` verifies against
  a dummy argon2 hash), and is counted the same way, so neither timing nor locks tell which
  names exist.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..authority import identity, security_log
from ..authority.identity import Actor
from ..base.errors import TooManyAttempts, Unauthorized
from ..core import Engine
from ..store.models import SignInThrottle

NAME_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = timedelta(minutes=15)
FIRST_LOCK = timedelta(minutes=5)
LONGEST_LOCK = timedelta(hours=1)
FORGET_AFTER = timedelta(hours=24)

_NAME, _ADDRESS, _BROWSER = "name:", "address:", "browser:"


def sign_in(engine: Engine, name: str, password: str, *, address: str | None,
            browser: str | None = None) -> Actor:
    """The actor whose name and password these are, counted against guessing (see the module).

    `address` is the client's address; `browser` the key of a browser this name has signed in
    from before (the pages keep it in a signed cookie), if the request brought one. Raises
    `Unauthorized` for a wrong name or password, `TooManyAttempts` while a key is locked."""
    limits = _keys(name, address, browser)
    try:
        _reserve(engine, limits)
    except TooManyAttempts:
        security_log.record_now(engine, security_log.SIGN_IN_FAILED, name, address=address, reason="spärrad")
        raise
    try:
        actor = identity.check_password(engine, name, password)
    except Unauthorized:
        _failed(engine, limits)
        security_log.record_now(engine, security_log.SIGN_IN_FAILED, name, address=address,
                                reason="fel namn eller lösenord")
        raise
    _succeeded(engine, name, limits)
    security_log.record_now(engine, security_log.SIGN_IN, name, subject=name, address=address, method="lösenord")
    return actor


def _clean(text: str, length: int) -> str:
    # A key is stored as text: no NUL (PostgreSQL refuses it), no lone surrogate, bounded.
    return "".join(c if c.isprintable() else "\ufffd" for c in text[:length])


def _keys(name: str, address: str | None, browser: str | None) -> dict[str, int]:
    if browser:
        return {_BROWSER + _clean(browser, 64): NAME_LIMIT}
    return {_NAME + _clean(name, 200): NAME_LIMIT, _ADDRESS + _clean(address or "okänd", 100): ADDRESS_LIMIT}


def _rows(engine: Engine, s: Session, keys: Sequence[str], now: datetime) -> list[SignInThrottle]:
    """The keys' rows, created if missing, locked until the transaction ends (in key order, so two
    attempts never wait for each other crosswise)."""
    dialect = sqlite if engine.db.is_sqlite else postgresql
    ordered = sorted(keys)
    s.execute(dialect.insert(SignInThrottle).values(
        [{"key": k, "failures": 0, "lockouts": 0, "last_attempt_at": now} for k in ordered]
    ).on_conflict_do_nothing(index_elements=["key"]))
    return list(s.execute(sa.select(SignInThrottle).where(SignInThrottle.key.in_(ordered))
                          .order_by(SignInThrottle.key).with_for_update()).scalars())


def _wait(rows: list[SignInThrottle], now: datetime) -> timedelta | None:
    waits = [r.locked_until - now for r in rows if r.locked_until is not None and r.locked_until > now]
    return max(waits) if waits else None


def _lock(row: SignInThrottle, now: datetime) -> None:
    row.lockouts += 1
    row.locked_until = now + min(FIRST_LOCK * 2 ** (row.lockouts - 1), LONGEST_LOCK)
    row.failures = 0
    row.window_started_at = None


def _reserve(engine: Engine, limits: dict[str, int]) -> None:
    """Count this attempt, or raise `TooManyAttempts` if one of its keys is locked."""
    now = engine.clock.now()
    with engine.db.write() as s:
        rows = _rows(engine, s, list(limits), now)
        wait = _wait(rows, now)
        if wait is None:
            for row in rows:
                if now - row.last_attempt_at >= FORGET_AFTER:
                    row.lockouts = 0
                if row.window_started_at is None or now - row.window_started_at >= WINDOW:
                    row.failures, row.window_started_at = 0, now
                if row.failures >= limits[row.key]:
                    _lock(row, now)  # attempts still under way have used the window up
                row.failures += 1
                row.last_attempt_at = now
            wait = _wait(rows, now)
    if wait is not None:
        raise too_many(wait)


def too_many(wait: timedelta) -> TooManyAttempts:
    """The refusal while a key is locked for `wait` more (its `retry_after` in whole seconds)."""
    seconds = max(1, math.ceil(wait.total_seconds()))
    minutes = math.ceil(seconds / 60)
    return TooManyAttempts(
        f"För många misslyckade inloggningsförsök. Försök igen om {minutes} {'minut' if minutes == 1 else 'minuter'}.",
        retry_after=seconds)


def _failed(engine: Engine, limits: dict[str, int]) -> None:
    now = engine.clock.now()
    with engine.db.write() as s:
        for row in _rows(engine, s, list(limits), now):
            if row.failures >= limits[row.key] and _wait([row], now) is None:
                _lock(row, now)
        # keys nobody has tried for a day, and not locked, are forgotten
        s.execute(sa.delete(SignInThrottle).where(
            SignInThrottle.last_attempt_at < now - FORGET_AFTER,
            sa.or_(SignInThrottle.locked_until.is_(None), SignInThrottle.locked_until < now)))


def _succeeded(engine: Engine, name: str, limits: dict[str, int]) -> None:
    now = engine.clock.now()
    with engine.db.write() as s:
        s.execute(sa.delete(SignInThrottle).where(
            SignInThrottle.key.in_([_NAME + _clean(name, 200), *(k for k in limits if k.startswith(_BROWSER))])))
        addresses = [k for k in limits if k.startswith(_ADDRESS)]
        for row in _rows(engine, s, addresses, now) if addresses else []:
            row.failures = max(0, row.failures - 1)
