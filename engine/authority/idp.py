"""People who sign in through the municipality's OpenID Connect provider (the IdP).

Who a person is comes from the IdP; what they may do from Rutin's organisation. At each sign-in:

- the user is found by the issuer and the stable subject (`sub`) the IdP gives them
  (`user_subjects`), never by a name alone: a person renamed at the IdP stays the same user. At
  the first sign-in a user of the name the IdP gives (`RUTIN_OIDC_USERNAME_CLAIM`) is created, or
  one that already exists under that name (from the organisation import, say) is linked, unless
  it is already linked to another subject of the same issuer: that is refused;
- display name and e-mail follow the IdP's claims (an e-mail it marks unverified is not taken);
- a deactivated account is refused (and the refusal entered in the security log);
- the roles the group mapping (`oidc_group_roles`, kept by administrators) gives for the
  person's groups are granted, and those it gave for a group the person is no longer in are
  taken away. Roles given by hand or by the organisation import are never touched. A change is
  entered in the security log.

The web app's adapter (`webapp.oidc`) does the protocol (Authlib: discovery, PKCE, state, nonce,
the ID token's signature against the IdP's keys) and hands the validated claims here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..base.errors import Forbidden, InvalidInput, Unauthorized
from ..core import Engine
from ..store.db import after_commit
from ..store.models import GroupRole, User, UserRole, UserSubject
from . import org, security_log
from .identity import Actor, actor_for, forget_tokens, held_roles, log_role_change, require_writer
from .roles import SYSTEM_ROLES, role_key

DEACTIVATED = "Ditt konto i Rutin är avaktiverat. Kontakta en administratör om du ska ha tillgång igen."
NO_NAME = ("Inloggningstjänsten skickade inget giltigt användarnamn (anspråket {claim}). "
           "Kontakta en administratör.")
TAKEN = ("Användarnamnet {name} hör redan till en annan person i inloggningstjänsten. "
         "Kontakta en administratör.")
METHOD = "oidc"
# Who changed the roles a group mapping gives, as the security log names it.
BY_MAPPING = "inloggningstjänsten"
MAX_GROUPS = 2_000
MAX_MAPPINGS = 2_000


@dataclass(frozen=True)
class Claims:
    """What a validated ID token (and the user info) says of a person."""

    issuer: str
    subject: str
    name: str | None
    display_name: str | None
    email: str | None
    groups: frozenset[str]


def _text(value: Any, length: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value if 0 < len(value) <= length and "\x00" not in value else None


def read_claims(issuer: str, claims: dict[str, Any], *, username_claim: str, groups_claim: str) -> Claims:
    """The claims Rutin uses, each checked: text of a sane length, groups a list of text (a
    single group given as text is one group). `Unauthorized` without a usable subject."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not 0 < len(subject) <= 255 or "\x00" in subject:
        raise Unauthorized("Inloggningstjänsten skickade ingen giltig identitet (sub).")
    raw_groups = claims.get(groups_claim)
    if isinstance(raw_groups, str):
        raw_groups = [raw_groups]
    listed = raw_groups[:MAX_GROUPS] if isinstance(raw_groups, list) else []
    groups = frozenset(g for g in (_text(v, 255) for v in listed) if g)
    name = claims.get(username_claim)
    name = name.strip() if isinstance(name, str) else None
    display = _text(claims.get("name"), 200) or _text(
        " ".join(str(claims.get(k) or "") for k in ("given_name", "family_name") if isinstance(claims.get(k), str)),
        200)
    # An address the IdP says is unverified (a person may type any there) is not taken:
    # notifications about cases go to it. Entra ID sends no `email_verified`; Keycloak does.
    email = _text(claims.get("email"), 254) if claims.get("email_verified") is not False else None
    return Claims(issuer=issuer, subject=subject, name=name or None, display_name=display, email=email,
                  groups=groups)


def _valid_name(name: str | None) -> bool:
    return bool(name) and len(name or "") <= 120 and not any(c.isspace() or not c.isprintable() for c in name or "")


def sign_in(engine: Engine, claims: Claims, *, username_claim: str, address: str | None) -> Actor:
    """The actor the IdP's claims are: the user matched (or created) by subject, its name and
    e-mail as the IdP gives them, its mapped roles as its groups give them (see the module).

    Every sign-in and every refusal is entered in the security log; a refusal changes nothing
    else (no user created, no role changed)."""
    who = claims.name or claims.subject
    try:
        with engine.db.write() as s:
            user = _match(engine, s, claims, username_claim)
            who = user.name  # (the log names the person as Rutin knows them, renamed at the IdP or not)
            if not user.active:
                raise Unauthorized(DEACTIVATED)
            if claims.display_name:
                user.display_name = claims.display_name
            if claims.email:
                user.email = claims.email
            _apply_groups(engine, s, user, claims.groups)
            security_log.record(s, engine.clock.now(), security_log.SIGN_IN, user.name, subject=user.name,
                                address=address, method=METHOD, issuer=claims.issuer)
            return actor_for(engine, s, user)
    except Unauthorized as exc:
        refused(engine, who, exc.detail, address=address)
        raise


def refused(engine: Engine, who: str, reason: str, *, address: str | None) -> None:
    """Enter a refused sign-in through the IdP in the security log (a state, nonce or token
    that does not hold, a deactivated account), in a transaction of its own."""
    security_log.record_now(engine, security_log.SIGN_IN_FAILED, who, address=address, reason=reason,
                            method=METHOD)


def _match(engine: Engine, s: Session, claims: Claims, username_claim: str) -> User:
    now = engine.clock.now()
    link = s.execute(sa.select(UserSubject).where(UserSubject.issuer == claims.issuer,
                                                  UserSubject.subject == claims.subject)).scalar_one_or_none()
    if link is not None:
        link.last_sign_in_at = now
        return s.get_one(User, link.user_id)
    if not _valid_name(claims.name):
        raise Unauthorized(NO_NAME.format(claim=username_claim))
    name = str(claims.name)
    user = s.execute(sa.select(User).where(User.name == name)).scalar_one_or_none()
    if user is None:
        user = User(name=name, display_name=claims.display_name or name, email=claims.email, active=True,
                    created_at=now)
        s.add(user)
        s.flush()
    elif s.execute(sa.select(UserSubject.id).where(UserSubject.user_id == user.id,
                                                   UserSubject.issuer == claims.issuer)).first():
        raise Unauthorized(TAKEN.format(name=name))
    s.add(UserSubject(user_id=user.id, issuer=claims.issuer, subject=claims.subject, created_at=now,
                      last_sign_in_at=now))
    s.flush()
    return user


def _apply_groups(engine: Engine, s: Session, user: User, groups: frozenset[str]) -> None:
    """Grant what the mapping gives for `groups`, take back what it gave for other groups."""
    tree = org.tree(engine)
    want: dict[tuple[str, str | None], tuple[str, str]] = {}
    if groups:
        for m in s.execute(sa.select(GroupRole).where(GroupRole.idp_group.in_(sorted(groups)))
                           .order_by(GroupRole.id)).scalars():
            if m.org_unit_id is not None and m.org_unit_id not in tree.units:
                continue  # its unit is gone from the organisation: it gives nothing
            want.setdefault((m.role_key, m.org_unit_id), (m.role, m.idp_group))
    rows = list(s.execute(sa.select(UserRole).where(UserRole.user_id == user.id)).scalars())
    before = held_roles(s, user.id)
    held = {(r.role_key, r.org_unit_id) for r in rows}
    changed = False
    for r in rows:
        if r.from_group is not None and (r.role_key, r.org_unit_id) not in want:
            s.delete(r)
            changed = True
    for (key, unit), (role, group) in want.items():
        if (key, unit) not in held:
            s.add(UserRole(user_id=user.id, role=role, role_key=key, org_unit_id=unit, from_group=group))
            changed = True
    if changed:
        s.flush()
        log_role_change(s, engine.clock.now(), BY_MAPPING, user.name, before, held_roles(s, user.id))
        after_commit(s, lambda: forget_tokens(engine))


# -- the mapping, kept by administrators ---------------------------------------------------------


def _mapping_json(m: GroupRole) -> dict[str, Any]:
    return {"group": m.idp_group, "role": m.role, "unit": m.org_unit_id}


def group_roles(engine: Engine, actor: Any) -> list[dict[str, Any]]:
    """The mapping from IdP groups to roles (administrators and auditors)."""
    if not actor.is_auditor:
        raise Forbidden("Bara administratörer och revisorer kan läsa grupproller.")
    with engine.db.read() as s:
        rows = s.execute(sa.select(GroupRole).order_by(GroupRole.idp_group, GroupRole.role_key,
                                                       GroupRole.org_unit_id)).scalars().all()
        return [_mapping_json(m) for m in rows]


def _entry(engine: Engine, i: int, item: Any) -> tuple[str, str, str | None]:
    where = f"Rad {i + 1}"
    if not isinstance(item, dict):
        raise InvalidInput(f"{where}: ska vara ett objekt med group, role och (valfritt) unit.")
    unknown = set(item) - {"group", "role", "unit"}
    if unknown:
        raise InvalidInput(f"{where}: okända fält: {', '.join(sorted(map(str, unknown)))}.")
    group, role = _text(item.get("group"), 255), _text(item.get("role"), 200)
    if group is None:
        raise InvalidInput(f"{where}: group ska vara gruppens namn eller id, 1–255 tecken.", field="group")
    if role is None:
        raise InvalidInput(f"{where}: role ska vara en roll, 1–200 tecken.", field="role")
    unit = item.get("unit")
    if unit is not None:
        if not isinstance(unit, str) or unit not in org.tree(engine).units:
            raise InvalidInput(f"{where}: okänd enhet {str(unit)[:60]!r}.", field="unit")
        if role_key(role) in SYSTEM_ROLES:
            raise InvalidInput(f"{where}: systemrollen {role} gäller hela koncernen och tar ingen enhet.",
                               field="unit")
    return group, role, unit


def replace_group_roles(engine: Engine, actor: Any, items: Any) -> list[dict[str, Any]]:
    """Replace the whole mapping with `items` ([{group, role, unit?}]; administrators). Applied
    to each person at their next sign-in. The change is entered in the security log."""
    require_writer(actor)
    if not actor.is_admin:
        raise Forbidden("Bara administratörer kan ändra grupproller.")
    if not isinstance(items, list):
        raise InvalidInput("Ange grupprollerna som en lista med {group, role, unit}.")
    if len(items) > MAX_MAPPINGS:
        raise InvalidInput(f"Högst {MAX_MAPPINGS} grupproller.")
    wanted: dict[tuple[str, str, str | None], str] = {}
    for i, item in enumerate(items):
        group, role, unit = _entry(engine, i, item)
        wanted.setdefault((group, role_key(role), unit), role)
    with engine.db.write() as s:
        before = sorted(_describe(m.idp_group, m.role, m.org_unit_id)
                        for m in s.execute(sa.select(GroupRole)).scalars())
        s.execute(sa.delete(GroupRole))
        for (group, key, unit), role in wanted.items():
            s.add(GroupRole(idp_group=group, role=role, role_key=key, org_unit_id=unit))
        after = sorted(_describe(g, r, u) for (g, _, u), r in wanted.items())
        if before != after:
            security_log.record(s, engine.clock.now(), security_log.GROUP_ROLES_CHANGED, actor.name,
                                added=[x for x in after if x not in before],
                                removed=[x for x in before if x not in after])
    return group_roles(engine, actor)


def _describe(group: str, role: str, unit: str | None) -> str:
    return f"{group} → {role}@{unit}" if unit else f"{group} → {role}"
