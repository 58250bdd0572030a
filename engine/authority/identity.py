"""People, the roles they hold, and their bearer tokens.

Role names are free text as diagrams write them ("Handläggare", "parkeringshandlaggare"); they
match case-insensitively and ignoring surrounding and repeated whitespace. Two roles belong to
the system itself: ``admin`` (everything) and ``designer`` (uploads processes).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from ..core import Engine
from ..store.models import ApiToken, User, UserRole
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


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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


def add_user(engine: Engine, name: str, roles: list[str], *, display_name: str | None = None,
             email: str | None = None, replace_roles: bool = False, unit: str | None = None) -> Actor:
    """Create a user with roles (group-wide, or in `unit`), or add roles to an existing one."""
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
        if replace_roles:
            s.execute(sa.delete(UserRole).where(UserRole.user_id == user.id))
            s.flush()
        forget_tokens(engine)
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
        return _actor(engine, s, user)


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


def issue_token(engine: Engine, name: str) -> str:
    """Create a new bearer token for a user and return it (it is shown only this once)."""
    token = "rtn_" + secrets.token_urlsafe(32)
    with engine.db.write() as s:
        user = s.execute(sa.select(User).where(User.name == name)).scalar_one_or_none()
        if user is None:
            raise NotFound(f"Användaren {name!r} finns inte.")
        s.add(ApiToken(user_id=user.id, token_hash=_hash_token(token), created_at=engine.clock.now()))
    return token


# Who a token belongs to is asked on every request; the answer is kept this long, so a revoked
# token or a changed role takes effect within it (at once in the process that made the change).
AUTH_CACHE_S = 10.0
_token_cache: dict[tuple[int, str], tuple[float, Actor]] = {}
_token_lock = threading.Lock()


def forget_tokens(engine: Engine) -> None:
    """Drop cached token lookups (after tokens are revoked or roles change)."""
    with _token_lock:
        for key in [k for k in _token_cache if k[0] == id(engine)]:
            del _token_cache[key]


def authenticate(engine: Engine, token: str) -> Actor:
    """The actor a bearer token belongs to; `Unauthorized` when it is unknown or revoked."""
    key = (id(engine), _hash_token(token))
    now = time.monotonic()
    with _token_lock:
        hit = _token_cache.get(key)
        if hit is not None and now - hit[0] < AUTH_CACHE_S:
            return hit[1]
    actor = _authenticate(engine, token)
    with _token_lock:
        if len(_token_cache) > 10_000:
            _token_cache.clear()
        _token_cache[key] = (now, actor)
    return actor


def _authenticate(engine: Engine, token: str) -> Actor:
    with engine.db.read() as s:
        row = s.execute(
            sa.select(User)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == _hash_token(token), ApiToken.revoked_at.is_(None), User.active.is_(True))
        ).scalar_one_or_none()
        if row is None:
            raise Unauthorized("Ogiltig eller återkallad token.")
        return _actor(engine, s, row)


def revoke_tokens(engine: Engine, name: str) -> int:
    """Revoke every token of a user; return how many were revoked."""
    with engine.db.write() as s:
        user = s.execute(sa.select(User).where(User.name == name)).scalar_one_or_none()
        if user is None:
            raise NotFound(f"Användaren {name!r} finns inte.")
        result = s.execute(
            sa.update(ApiToken)
            .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=engine.clock.now())
        )
        count = int(getattr(result, "rowcount", 0) or 0)
    forget_tokens(engine)
    return count


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
