"""The organisation as one document: units, people with their roles, role aliases and absences,
imported from and exported to YAML, JSON or CSV (people and roles, as HR systems exchange them).

An import is more than rows: a person marked ``active: false`` has their account ended as
`engine.routing.accounts` ends it (claimed work handed back), and a new absence is registered as
`engine.routing.absence` registers it (work handed on when it begins). So it lives here, above
both, and the unit tree itself (`engine.authority.org`) stays below the routing it serves.
"""

from __future__ import annotations

import csv
import io
from typing import Any, cast

import sqlalchemy as sa
import yaml

from ..authority.identity import held_roles, log_role_change
from ..authority.org import invalidate, read_instant
from ..authority.roles import role_key
from ..base.errors import InvalidInput
from ..core import Engine
from ..routing import absence as absences
from ..routing.accounts import end_account, restore_account, return_work
from ..store.models import Absence, OrgUnit, RoleAlias, User, UserRole

_roles = cast(sa.Table, UserRole.__table__)
_users = cast(sa.Table, User.__table__)
_absences = cast(sa.Table, Absence.__table__)


def _entries(data: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    """The list under `key`, each entry an object; `InvalidInput` naming the first that is not."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{key} ska vara en lista.", field=key)
    for n, entry in enumerate(value, 1):
        if not isinstance(entry, dict):
            raise InvalidInput(f"{what} nr {n} i {key} ska vara ett objekt, inte {entry!r}.", field=key)
    return value


def _text(entry: dict[str, Any], name: str, label: str, column: Any, *, required: bool = False) -> str | None:
    """A text field of an import entry (None when absent), checked against the column it is stored in."""
    value = entry.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"{label} saknar {name}.", field=name)
        return None
    # A bare number in YAML (an employee number as name, a unit id such as 4100) is still meant as text.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise InvalidInput(f"{label}: {name} ska vara text.", field=name)
    length = getattr(column.type, "length", None)
    if length and len(value) > length:
        raise InvalidInput(f"{label}: {name} får vara högst {length} tecken.", field=name)
    return value


_units_t = cast(sa.Table, OrgUnit.__table__)
_aliases_t = cast(sa.Table, RoleAlias.__table__)


def _check_document(data: dict[str, Any]) -> None:
    """`InvalidInput` naming the first entry whose shape or types do not fit, before anything is written."""
    for n, u in enumerate(_entries(data, "units", "Enhet"), 1):
        label = f"Enhet nr {n}"
        for name, column in (("id", _units_t.c.id), ("name", _units_t.c.name)):
            _text(u, name, label, column, required=True)
        for name, column in (("parent", _units_t.c.parent_id), ("kind", _units_t.c.kind),
                             ("manager_role", _units_t.c.manager_role), ("committee", _units_t.c.committee)):
            _text(u, name, label, column)
    for n, a in enumerate(_entries(data, "aliases", "Alias"), 1):
        _text(a, "alias", f"Alias nr {n}", _aliases_t.c.alias, required=True)
        _text(a, "role", f"Alias nr {n}", _aliases_t.c.role, required=True)
    for n, p in enumerate(_entries(data, "people", "Person"), 1):
        label = f"Person nr {n}"
        _text(p, "name", label, _users.c.name, required=True)
        _text(p, "display_name", label, _users.c.display_name)
        _text(p, "email", label, _users.c.email)
        if "active" in p and not isinstance(p["active"], bool):
            raise InvalidInput(f"{label}: active ska vara true eller false.", field="active")
        roles = p.get("roles")
        if roles is not None and not isinstance(roles, list):
            raise InvalidInput(f"{label}: roles ska vara en lista.", field="roles")
        for m, r in enumerate(roles or [], 1):
            role_label = f"{label}, roll nr {m}"
            if isinstance(r, str):
                r = {"role": r}
            if not isinstance(r, dict):
                raise InvalidInput(f"{role_label} ska vara ett rollnamn eller ett objekt med role.", field="roles")
            _text(r, "role", role_label, _roles.c.role, required=True)
            _text(r, "unit", role_label, _roles.c.org_unit_id)
    for n, a in enumerate(_entries(data, "absences", "Frånvaro"), 1):
        _text(a, "name", f"Frånvaro nr {n}", _users.c.name, required=True)
        _text(a, "reason", f"Frånvaro nr {n}", _absences.c.reason)


def import_data(engine: Engine, data: dict[str, Any], actor: Any = None) -> dict[str, int]:
    """Upsert units, people with their roles, aliases and absences from a parsed YAML/JSON document.

    A person listed here gets exactly the roles listed (their previous roles are replaced). An
    absence is known by its person, start and end (so an export imported again adds nothing);
    a new one is registered as `absence.register` does: work is handed on at once if it has
    begun, by a timer when it begins otherwise. `actor` is who imports (the system by default).
    """
    if not isinstance(data, dict):
        raise InvalidInput("Organisationsdata ska vara ett objekt med units, people, aliases och absences.")
    _check_document(data)
    now = engine.clock.now()
    by = getattr(actor, "name", None) or "system"
    counts = {"units": 0, "people": 0, "roles": 0, "aliases": 0, "absences": 0, "deactivated": 0, "reactivated": 0}
    ended: list[str] = []
    with engine.db.write() as s:
        units = data.get("units") or []
        parents: dict[str, str | None] = dict(s.execute(sa.select(OrgUnit.id, OrgUnit.parent_id)).all())
        for u in units:
            uid, parent = str(u["id"]), _text(u, "parent", "", _units_t.c.parent_id)
            parents[uid] = parent or None
        known = set(parents)
        for uid, parent in parents.items():
            if parent and parent not in known:
                raise InvalidInput(f"Enheten {uid!r} har en okänd överordnad {parent!r}.")
        depth = _refuse_cycles(parents)
        # Parents are written before their units, whatever order the file lists them in (the
        # database checks each unit's parent as it is written).
        for u in sorted(units, key=lambda u: depth[str(u["id"])]):
            uid, parent = str(u["id"]), _text(u, "parent", "", _units_t.c.parent_id)
            unit = s.get(OrgUnit, uid) or OrgUnit(id=uid)
            unit.name, unit.kind = str(u["name"]), _text(u, "kind", "", _units_t.c.kind) or "enhet"
            unit.parent_id, unit.manager_role = parent, _text(u, "manager_role", "", _units_t.c.manager_role)
            unit.committee = _text(u, "committee", "", _units_t.c.committee)
            s.add(unit)
            counts["units"] += 1
        s.flush()
        for a in data.get("aliases") or []:
            alias = s.get(RoleAlias, role_key(str(a["alias"]))) or RoleAlias(alias_key=role_key(str(a["alias"])))
            alias.alias, alias.role = str(a["alias"]), str(a["role"])
            s.add(alias)
            counts["aliases"] += 1
        for p in data.get("people") or []:
            name = str(p["name"]).strip()
            display_name = _text(p, "display_name", "", _users.c.display_name)
            email = _text(p, "email", "", _users.c.email)
            user = s.execute(sa.select(User).where(User.name == name)).scalar_one_or_none()
            if user is None:
                user = User(name=name, display_name=display_name or name, email=email, active=True, created_at=now)
                s.add(user)
                s.flush()
            else:
                user.display_name = display_name or user.display_name
                user.email = email or user.email
            before = held_roles(s, user.id)
            # (roles an identity provider's group gave stay: the next sign-in settles those)
            s.execute(sa.delete(UserRole).where(UserRole.user_id == user.id, UserRole.from_group.is_(None)))
            for r in p.get("roles") or []:
                spec = {"role": r} if isinstance(r, str) else r
                role = str(_text(spec, "role", "", _roles.c.role))
                unit_id = _text(spec, "unit", "", _roles.c.org_unit_id)
                if unit_id and unit_id not in known:
                    raise InvalidInput(f"{name}: okänd enhet {unit_id!r}.")
                s.add(UserRole(user_id=user.id, role=role, role_key=role_key(role), org_unit_id=unit_id,
                               valid_from=read_instant(spec.get("from")), valid_to=read_instant(spec.get("to"))))
                counts["roles"] += 1
            s.flush()
            log_role_change(s, now, by, name, before, held_roles(s, user.id))
            # `active` absent leaves the account as it is (an HR list need not say it); false ends
            # it as `accounts.deactivate` does, true opens it again.
            if p.get("active") is False and user.active:
                end_account(s, now, user, by, "organisationsimport")
                ended.append(name)
                counts["deactivated"] += 1
            elif p.get("active") is True and not user.active:
                restore_account(s, now, user, by, "organisationsimport")
                counts["reactivated"] += 1
            counts["people"] += 1
        s.flush()
        begun: list[str] = []
        for a in data.get("absences") or []:
            who = str(a["name"])
            reason = _text(a, "reason", "", _absences.c.reason)
            user = s.execute(sa.select(User).where(User.name == who)).scalar_one_or_none()
            if user is None:
                raise InvalidInput(f"Frånvaro för okänd person {who!r}.")
            starts, ends = read_instant(a.get("from")), read_instant(a.get("to"))
            if starts is None or ends is None or ends <= starts:
                raise InvalidInput(f"Frånvaron för {user.name} behöver from och to, och to efter from.")
            existing = s.execute(sa.select(Absence).where(
                Absence.user_id == user.id, Absence.starts_at == starts, Absence.ends_at == ends)).scalar_one_or_none()
            if existing is not None:
                existing.reason = reason
            else:
                absences.add(s, now, user, starts, ends, reason)
                if starts <= now < ends:
                    begun.append(user.name)
            counts["absences"] += 1
    invalidate(engine)
    for name in ended:
        return_work(engine, name, by)
    for name in dict.fromkeys(begun):
        absences.hand_on(engine, name, by, role="admin" if getattr(actor, "is_admin", True) else None)
    return counts


def import_yaml(engine: Engine, text: str, actor: Any = None) -> dict[str, int]:
    """Import organisation data from YAML text."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InvalidInput(f"Ogiltig YAML: {exc}") from None
    return import_data(engine, data, actor)


def export_data(engine: Engine, *, include_inactive: bool = False) -> dict[str, Any]:
    """The whole organisation as one document (the same shape `import_data` reads); deactivated
    people only with `include_inactive`, marked ``active: false`` (so importing it again keeps them so)."""
    with engine.db.read() as s:
        units = s.execute(sa.select(OrgUnit).order_by(OrgUnit.id)).scalars().all()
        people = sa.select(User) if include_inactive else sa.select(User).where(User.active.is_(True))
        users = s.execute(people.order_by(User.name)).scalars().all()
        roles = s.execute(sa.select(UserRole).where(UserRole.from_group.is_(None))
                          .order_by(UserRole.id)).scalars().all()
        aliases = s.execute(sa.select(RoleAlias).order_by(RoleAlias.alias_key)).scalars().all()
        absences = s.execute(sa.select(Absence, User.name).join(User, User.id == Absence.user_id)).all()
    by_user: dict[int, list[dict[str, Any]]] = {}
    for r in roles:
        item: dict[str, Any] = {"role": r.role}
        if r.org_unit_id:
            item["unit"] = r.org_unit_id
        if r.valid_from:
            item["from"] = r.valid_from.isoformat()
        if r.valid_to:
            item["to"] = r.valid_to.isoformat()
        by_user.setdefault(r.user_id, []).append(item)
    return {
        "units": [{k: v for k, v in {"id": u.id, "name": u.name, "kind": u.kind, "parent": u.parent_id,
                                     "manager_role": u.manager_role, "committee": u.committee}.items()
                   if v is not None} for u in units],
        "aliases": [{"alias": a.alias, "role": a.role} for a in aliases],
        "people": [{k: v for k, v in {"name": u.name, "display_name": u.display_name, "email": u.email,
                                      "roles": by_user.get(u.id, []),
                                      "active": None if u.active else False}.items() if v is not None} for u in users],
        "absences": [{"name": name, "from": a.starts_at.isoformat(), "to": a.ends_at.isoformat(),
                      **({"reason": a.reason} if a.reason else {})} for a, name in absences],
    }


def export_yaml(engine: Engine, *, include_inactive: bool = False) -> str:
    """The organisation as YAML."""
    return yaml.safe_dump(export_data(engine, include_inactive=include_inactive), allow_unicode=True, sort_keys=False)


CSV_FIELDS = ["name", "display_name", "email", "role", "unit", "from", "to"]


def people_csv(engine: Engine) -> str:
    """People and their roles as CSV (one row per role held), as HR systems exchange them."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, delimiter=";")
    writer.writeheader()
    for p in export_data(engine)["people"]:
        for r in p.get("roles") or [{}]:
            writer.writerow({"name": p["name"], "display_name": p.get("display_name", ""), "email": p.get("email", ""),
                             "role": r.get("role", ""), "unit": r.get("unit", ""), "from": r.get("from", ""),
                             "to": r.get("to", "")})
    return out.getvalue()


def import_people_csv(engine: Engine, text: str, actor: Any = None) -> dict[str, int]:
    """Load people and their roles from CSV (the columns `people_csv` writes; ; or , separated)."""
    # Excel's "CSV UTF-8" begins with a byte-order mark, which would otherwise be part of the first column's name.
    text = text.removeprefix("\ufeff")
    sample = text[:2048]
    delimiter = ";" if sample.count(";") >= sample.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    try:
        fieldnames, rows = reader.fieldnames, list(reader)
    except csv.Error:
        raise InvalidInput(f"CSV-filen kan inte läsas på rad {reader.line_num} (ett fält är för långt, eller "
                           "filen är inte CSV).") from None
    missing = {"name", "role"} - set(fieldnames or [])
    if missing:
        raise InvalidInput(f"CSV-filen saknar kolumnerna {', '.join(sorted(missing))}.")
    people: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = (row.get("name") or "").strip()
        if not name:
            continue
        person = people.setdefault(name, {"name": name, "display_name": row.get("display_name") or None,
                                          "email": row.get("email") or None, "roles": []})
        if (row.get("role") or "").strip():
            person["roles"].append({k: v for k, v in {"role": row["role"].strip(), "unit": row.get("unit") or None,
                                                      "from": row.get("from") or None,
                                                      "to": row.get("to") or None}.items() if v})
    return import_data(engine, {"people": list(people.values())}, actor)


def _refuse_cycles(parents: dict[str, str | None]) -> dict[str, int]:
    """Each unit's depth in the tree (0 at the top); `InvalidInput` when a unit is its own
    ancestor: the tree would have no top, and escalation up the manager chain would go round."""
    depth: dict[str, int] = {}
    for start in parents:
        seen: list[str] = []
        unit: str | None = start
        while unit is not None and unit not in depth:
            if unit in seen:
                raise InvalidInput(f"Enheterna bildar en slinga: {' → '.join([*seen[seen.index(unit):], unit])}; "
                                   "varje enhet ska ha en överordnad ovanför sig, inte under.")
            seen.append(unit)
            unit = parents.get(unit)
        base = depth[unit] + 1 if unit is not None else 0
        for offset, name in enumerate(reversed(seen)):
            depth[name] = base + offset
    return depth
