"""People, the roles they hold, and their bearer tokens.

Role names are free text as diagrams write them ("Handläggare", "parkeringshandlaggare"); they
match case-insensitively and ignoring surrounding and repeated whitespace. Two roles belong to
the system itself: ``admin`` (everything) and ``designer`` (uploads processes).

Imports inside functions: `org` imports this module (a person's roles are read through the
unit tree, and the tree forgets cached holders here), so `_actor` reaches `org` at call time;
argon2 is loaded at the first password hashed or checked, which token-only API requests and
most CLI commands never do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from ..core import Engine
from ..store.db import after_commit
from ..store.models import ApiToken, User, UserRole
from ..store.prepared import Prepared
from . import security_log
from .roles import ADMIN, AUDITOR, DESIGNER, SYSTEM_ROLES, role_key, scoped

__all__ = ["ADMIN", "AUDITOR", "DESIGNER", "SYSTEM", "SYSTEM_ROLES", "Actor", "role_key"]


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user with the role keys they hold, or the system itself.

    `roles` holds each role key as the user holds it: ``key`` group-wide, ``key@unit`` in one
    unit; `manages` the units (with everything below them) whose manager role they hold.
    """

    name: str
    display_name: str
    roles: frozenset[str]
    role_names: tuple[str, ...] = ()
    manages: frozenset[str] = field(default_factory=frozenset)
    units: frozenset[str] = field(default_factory=frozenset)
    # Acting through an integration's token: the process keys it may start cases of, and nothing
    # else (None: the holder's full standing).
    start_only: frozenset[str] | None = None

    @property
    def has_role(self) -> bool:
        """Holds any role now: who holds none may sign in and learn that, and nothing more."""
        return bool(self.roles)

    @property
    def is_admin(self) -> bool:
        """Holds the admin system role."""
        return ADMIN in self.roles

    @property
    def is_designer(self) -> bool:
        """May upload processes (designer or admin)."""
        return DESIGNER in self.roles or self.is_admin

    @property
    def is_auditor(self) -> bool:
        """May read everything (auditor or admin)."""
        return AUDITOR in self.roles or self.is_admin

    @property
    def is_read_only(self) -> bool:
        """Holds the auditor role and nothing else: reads everything, writes nothing. (An auditor
        who also holds another role acts under that role, as anyone holding it does.)"""
        return AUDITOR in self.roles and not (self.roles - {AUDITOR})

    def holds(self, key: str, unit_id: str | None = None) -> bool:
        """Whether the actor holds role `key` group-wide or in `unit_id`."""
        return key in self.roles or (unit_id is not None and scoped(key, unit_id) in self.roles)

    def role_for(self, candidates: list[str]) -> str | None:
        """The first of `candidates` (role names) this actor holds anywhere, as the diagram names it."""
        for c in candidates:
            key = role_key(c)
            if key in self.roles or any(r.startswith(key + "@") for r in self.roles):
                return c
        return None


NO_ROLE = "Du har ingen roll i Rutin och kan därför inte se eller göra något här. Be en administratör om en roll."

SYSTEM = Actor(name="system", display_name="Rutin", roles=frozenset({ADMIN}))

READ_ONLY = ("Du har rollen revisor och kan läsa allt i Rutin men inte ändra något: inte kommentera, ta, "
             "slutföra eller starta ärenden, godkänna, ladda upp eller ändra inställningar.")


def require_writer(actor: Actor) -> None:
    """`Forbidden` for an auditor holding no other role: every change in Rutin starts here.

    The auditor role grants reading only. Who also holds another role may do what that role
    allows, as anyone holding it may; what the auditor role lets them see never counts as a
    standing to act on it.
    """
    if actor.is_read_only:
        raise Forbidden(READ_ONLY)


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256 (a token is 256 random bits, so no slow hash is needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


_hash_token = token_hash


def _actor(engine: Engine, session: Session, user: User) -> Actor:
    from . import org

    now = engine.clock.now()
    rows = session.execute(
        sa.select(UserRole.role, UserRole.role_key, UserRole.org_unit_id).where(
            UserRole.user_id == user.id,
            sa.or_(UserRole.valid_from.is_(None), UserRole.valid_from <= now),
            sa.or_(UserRole.valid_to.is_(None), UserRole.valid_to > now),
        )
    ).all()
    tree = org.tree(engine)
    keys = {r.role_key if r.role_key in SYSTEM_ROLES else scoped(tree.canonical(r.role), r.org_unit_id)
            for r in rows}
    manages: set[str] = set()
    for unit in tree.units.values():
        if unit.manager_role and scoped(tree.canonical(unit.manager_role), unit.id) in keys:
            manages |= tree.descendants(unit.id)
    return Actor(
        name=user.name,
        display_name=user.display_name,
        roles=frozenset(keys),
        role_names=tuple(sorted({r.role for r in rows})),
        manages=frozenset(manages),
        units=frozenset(r.org_unit_id for r in rows if r.org_unit_id),
    )


def actor_for(engine: Engine, session: Session, user: User) -> Actor:
    """The actor a user row is, with the roles it holds now, read in the caller's transaction."""
    return _actor(engine, session, user)


def add_user(engine: Engine, name: str, roles: list[str], *, display_name: str | None = None,
             email: str | None = None, replace_roles: bool = False, unit: str | None = None,
             by: str = "system") -> Actor:
    """Create a user with roles (group-wide, or in `unit`), or add roles to an existing one; a
    change of roles is entered in the security log as done by `by`."""
    name = name.strip()
    if not name or len(name) > 120 or any(c.isspace() for c in name):
        raise InvalidInput("Användarnamnet måste vara 1–120 tecken utan blanksteg.")
    with engine.db.write() as s:
        user = s.execute(sa.select(User).where(User.name == name)).scalar_one_or_none()
        if user is None:
            user = User(name=name, display_name=display_name or name, email=email, active=True,
                        created_at=engine.clock.now())
            s.add(user)
            s.flush()
        else:
            if display_name:
                user.display_name = display_name
            if email:
                user.email = email
        before = held_roles(s, user.id)
        if replace_roles:
            s.execute(sa.delete(UserRole).where(UserRole.user_id == user.id))
            s.flush()
        # After the commit: forgotten now, a request in between would cache the roles as they were.
        after_commit(s, lambda: forget_tokens(engine))
        held = {(k, u) for k, u in s.execute(
            sa.select(UserRole.role_key, UserRole.org_unit_id).where(UserRole.user_id == user.id)).all()}
        for role in roles:
            role = " ".join(role.split())
            if not role:
                continue
            key = role_key(role)
            role_unit = None if key in SYSTEM_ROLES else unit
            if (key, role_unit) not in held:
                s.add(UserRole(user_id=user.id, role=role, role_key=key, org_unit_id=role_unit))
                held.add((key, role_unit))
        s.flush()
        log_role_change(s, engine.clock.now(), by, user.name, before, held_roles(s, user.id))
        return _actor(engine, s, user)


def held_roles(s: Session, user_id: int) -> list[str]:
    """A user's roles as the security log names them: ``role`` or ``role@unit``, sorted."""
    return sorted(f"{r}@{u}" if u else r for r, u in s.execute(
        sa.select(UserRole.role, UserRole.org_unit_id).where(UserRole.user_id == user_id)).all())


def log_role_change(s: Session, now: datetime, by: str, name: str, before: list[str], after: list[str]) -> None:
    """Enter a change of a user's roles in the security log (nothing when they are the same)."""
    if before != after:
        security_log.record(s, now, security_log.ROLES_CHANGED, by, subject=name,
                            added=[r for r in after if r not in before], removed=[r for r in before if r not in after])


def get_actor(engine: Engine, name: str) -> Actor:
    """The actor for a user name; `NotFound` if there is no such active user."""
    with engine.db.read() as s:
        user = s.execute(sa.select(User).where(User.name == name, User.active.is_(True))).scalar_one_or_none()
        if user is None:
            raise NotFound(f"Användaren {name!r} finns inte.")
        return _actor(engine, s, user)


def list_users(engine: Engine) -> list[Actor]:
    """All active users with their roles."""
    with engine.db.read() as s:
        users = s.execute(sa.select(User).where(User.active.is_(True)).order_by(User.name)).scalars().all()
        return [_actor(engine, s, u) for u in users]


def display_names(engine: Engine, names: set[str]) -> dict[str, str]:
    """The display names of users by login name (inactive ones too: the history names them), in
    one query; a name no user has is left out."""
    if not names:
        return {}
    with engine.db.read() as s:
        rows = s.execute(sa.select(User.name, User.display_name).where(User.name.in_(sorted(names)))).all()
    return {name: shown for name, shown in rows if shown}


TOKEN_PREFIX = "rtn_"  # noqa: S105 (a prefix that tells a Rutin token apart, not a secret)
# A token's last use is written when it is older than this, so a busy integration does not turn
# every request it makes into a write.
LAST_USE_EVERY = timedelta(minutes=1)


def issue_token(engine: Engine, name: str, *, label: str = "token", days: int | None = None,
                start_only: list[str] | None = None, by: str | None = None) -> str:
    """Create a new bearer token for a user and return it (it is shown only this once; only its
    SHA-256 hash is stored). It expires after `days` (`RUTIN_TOKEN_DAYS` by default, at most
    `RUTIN_TOKEN_MAX_DAYS`); `start_only` limits it to starting cases of those processes."""
    settings = engine.settings
    days = settings.token_days if days is None else days
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= settings.token_max_days:
        raise InvalidInput(f"En token gäller 1–{settings.token_max_days} dagar.", field="days")
    label = " ".join(str(label).split())
    if not label or len(label) > 120:
        raise InvalidInput("Ge token ett namn på 1–120 tecken.", field="name")
    if start_only is not None:
        if (not isinstance(start_only, list) or not start_only
                or not all(isinstance(k, str) and 0 < len(k) <= 200 for k in start_only)):
            raise InvalidInput("processes ska vara en lista med processnycklar.", field="processes")
        start_only = sorted(set(start_only))
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = engine.clock.now()
    with engine.db.write() as s:
        user = s.execute(sa.select(User).where(User.name == name)).scalar_one_or_none()
        if user is None:
            raise NotFound(f"Användaren {name!r} finns inte.")
        if not user.active:
            raise Conflict(f"Kontot {name} är avaktiverat; återaktivera det först.")
        row = ApiToken(user_id=user.id, token_hash=_hash_token(token), created_at=now, name=label,
                       expires_at=now + timedelta(days=days), start_only=start_only, created_by=by or name)
        s.add(row)
        s.flush()
        data: dict[str, Any] = {"token": row.id, "name": label, "expires": row.expires_at.isoformat()}
        if start_only:
            data["processes"] = start_only
        security_log.record(s, now, security_log.TOKEN_CREATED, by or name, subject=name, **data)
    return token


# Who a token's holder is and what roles they hold, per web process, for a few seconds: building
# it takes the roles and the unit tree. Whether the token still works (revoked, expired, its holder
# deactivated) is never taken from here but asked of the database on every request.
AUTH_CACHE_S = 10.0
_actor_cache: dict[tuple[int, int], tuple[float, Actor]] = {}
_actor_lock = threading.Lock()


# Whether a token works, asked on every request: a Core statement built once (the ORM's select
# cost three times as much per request on the hot path; bench/README.md).
_TOKENS, _USERS = cast(sa.Table, ApiToken.__table__), cast(sa.Table, User.__table__)
_LIVE_TOKEN = Prepared(
    sa.select(_TOKENS.c.user_id, _TOKENS.c.id, _TOKENS.c.expires_at, _TOKENS.c.last_used_at, _TOKENS.c.start_only)
    .select_from(_TOKENS.join(_USERS, _TOKENS.c.user_id == _USERS.c.id))
    .where(_TOKENS.c.token_hash == sa.bindparam("digest"), _TOKENS.c.revoked_at.is_(None), _USERS.c.active.is_(True))
)


def forget_tokens(engine: Engine) -> None:
    """Drop the cached holders of tokens (after roles change)."""
    with _actor_lock:
        for key in [k for k in _actor_cache if k[0] == id(engine)]:
            del _actor_cache[key]


def authenticate(engine: Engine, token: str) -> Actor:
    """The actor a bearer token belongs to; `Unauthorized` when it is unknown, revoked or expired,
    or its holder deactivated.

    That the token still works is asked of the database on every request (one indexed query),
    never of a cache: a token revoked or an account deactivated in one web process stops working
    in every other one at their next request. The holder's roles are kept per process for up to
    `AUTH_CACHE_S` (forgotten at once in the process that changes them)."""
    now = engine.clock.now()
    digest = _hash_token(token)
    with engine.db.read() as s:
        found = _LIVE_TOKEN.one_or_none(s.connection(), {"digest": digest})
        if found is None:
            raise Unauthorized("Ogiltig eller återkallad token.")
        user_id, token_id, expires_at, last_used_at, start_only = found.values()
        if expires_at <= now:
            raise Unauthorized("Token har gått ut; skapa en ny.")
        key, tick = (id(engine), user_id), time.monotonic()
        with _actor_lock:
            hit = _actor_cache.get(key)
        if hit is not None and tick - hit[0] < AUTH_CACHE_S:
            actor = hit[1]
        else:
            actor = _actor(engine, s, s.get_one(User, user_id))
            with _actor_lock:
                if len(_actor_cache) > 10_000:
                    _actor_cache.clear()
                _actor_cache[key] = (tick, actor)
    if last_used_at is None or now - last_used_at >= LAST_USE_EVERY:
        with engine.db.write() as s:
            s.execute(sa.update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
    if start_only is not None:
        actor = dataclasses.replace(actor, start_only=frozenset(start_only))
    return actor


def revoke_tokens(engine: Engine, name: str, *, by: str = "system") -> int:
    """Revoke every token of a user; return how many were revoked."""
    with engine.db.write() as s:
        user = s.execute(sa.select(User).where(User.name == name)).scalar_one_or_none()
        if user is None:
            raise NotFound(f"Användaren {name!r} finns inte.")
        return revoke_all(s, engine.clock.now(), user, by)


def revoke_all(s: Session, now: datetime, user: User, by: str, **why: Any) -> int:
    """Revoke every live token of `user` in the caller's transaction, each entered in the log."""
    ids = list(s.execute(sa.select(ApiToken.id).where(ApiToken.user_id == user.id,
                                                      ApiToken.revoked_at.is_(None))).scalars())
    if ids:
        s.execute(sa.update(ApiToken).where(ApiToken.id.in_(ids)).values(revoked_at=now, revoked_by=by))
    for token_id in ids:
        security_log.record(s, now, security_log.TOKEN_REVOKED, by, subject=user.name, token=token_id, **why)
    return len(ids)


def ensure_unique(engine: Engine, name: str) -> None:
    """Raise `Conflict` if a user with this name exists."""
    with engine.db.read() as s:
        if s.execute(sa.select(User.id).where(User.name == name)).first():
            raise Conflict(f"Användaren {name!r} finns redan.")


def set_password(engine: Engine, name: str, password: str) -> None:
    """Set a person's password for the pages (stored as an argon2 hash)."""
    from argon2 import PasswordHasher

    if len(password) < 8:
        raise InvalidInput("Lösenordet ska ha minst 8 tecken.")
    with engine.db.write() as s:
        user = s.execute(sa.select(User).where(User.name == name)).scalar_one_or_none()
        if user is None:
            raise NotFound(f"Användaren {name!r} finns inte.")
        user.password_hash = PasswordHasher().hash(password)
        # Whoever signed in with the old password (perhaps the reason it is changed) is signed out.
        user.session_generation = (user.session_generation or 0) + 1


def set_shared_password(engine: Engine, names: list[str], password: str) -> None:
    """Give several people one password, hashed once: the demo's documented password (argon2
    takes half a second a hash by design, which for every demo person made `rutin demo` slow)."""
    from argon2 import PasswordHasher

    if len(password) < 8:
        raise InvalidInput("Lösenordet ska ha minst 8 tecken.")
    hashed = PasswordHasher().hash(password)
    with engine.db.write() as s:
        users = s.execute(sa.select(User).where(User.name.in_(names))).scalars().all()
        missing = set(names) - {u.name for u in users}
        if missing:
            raise NotFound(f"Användaren {sorted(missing)[0]!r} finns inte.")
        for user in users:
            user.password_hash = hashed
            user.session_generation = (user.session_generation or 0) + 1


def check_password(engine: Engine, name: str, password: str) -> Actor:
    """The actor whose name and password these are; `Unauthorized` otherwise (same message either
    way, and the same time: without such a user the password is verified against a dummy hash).
    Signing in goes through `engine.service.signin.sign_in`, which counts attempts against guessing."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    with engine.db.read() as s:
        user = None
        if _may_be_user_name(name):
            user = s.execute(sa.select(User).where(User.name == name, User.active.is_(True))).scalar_one_or_none()
        stored = user.password_hash if user is not None and user.password_hash else None
        try:
            PasswordHasher().verify(stored or _dummy_hash(), password.encode("utf-8", "surrogatepass"))
            if stored is None or user is None:
                raise VerificationError()
        except (VerificationError, InvalidHashError):
            raise Unauthorized("Fel användarnamn eller lösenord.") from None
        return _actor(engine, s, user)


def _may_be_user_name(name: str) -> bool:
    """Whether a database could hold `name` as a user's; others are not looked up (a NUL byte,
    for one, is an error on PostgreSQL rather than no match)."""
    if not 0 < len(name) <= 200 or "\x00" in name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_dummy: list[str] = []


def _dummy_hash() -> str:
    """An argon2 hash of a random password, made with the parameters real ones are made with."""
    from argon2 import PasswordHasher

    if not _dummy:
        _dummy.append(PasswordHasher().hash(secrets.token_urlsafe(24)))
    return _dummy[0]


# -- page sessions ------------------------------------------------------------------------------
# A page session records the user's session generation at sign-in; signing out bumps it, which
# ends every session signed in under the earlier value, wherever its cookie has been copied to.


def session_generation(engine: Engine, name: str) -> int:
    """The user's current session generation (recorded in a page session at sign-in)."""
    with engine.db.read() as s:
        found = s.execute(sa.select(User.session_generation).where(User.name == name)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"Användaren {name!r} finns inte.")
    return int(found)


def session_actor(engine: Engine, name: str, generation: object) -> Actor:
    """The actor of a page session signed in under `generation`; `Unauthorized` when the user is
    gone or inactive or the session has been ended by signing out since."""
    with engine.db.read() as s:
        user = s.execute(sa.select(User).where(User.name == name, User.active.is_(True))).scalar_one_or_none()
        if user is None or not isinstance(generation, int) or user.session_generation != generation:
            raise Unauthorized("Sessionen har avslutats; logga in igen.")
        return _actor(engine, s, user)


def end_sessions(engine: Engine, name: str) -> None:
    """End every page session of a user (signing out): their session generation moves on."""
    with engine.db.write() as s:
        s.execute(sa.update(User).where(User.name == name)
                  .values(session_generation=User.session_generation + 1))
