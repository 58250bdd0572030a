"""Warnings a designer sees first after an upload, about what the diagram cannot really run with
in this organisation (the diagram itself is sound, so they are not diagnostics): roles that
nobody holds, assignees that are no user, and forms uploaded with the diagram that no step uses.
They are computed from the stored models against the organisation as it is now."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa

from bpmn import forms as camunda_forms
from bpmn.model import ProcessModel

from ..authority import org
from ..core import Engine
from ..store.models import User, UserRole
from .processes import Deployed

_roles = cast(sa.Table, UserRole.__table__)
_users = cast(sa.Table, User.__table__)


def _literal(value: str | None) -> bool:
    """A name written in the diagram, not an expression evaluated when the step is made."""
    return bool(value) and not any(m in str(value) for m in ("${", "#{")) and not str(value).startswith("=")


def warnings(engine: Engine, deployed: list[Deployed], forms: dict[str, bytes] | None = None) -> list[dict[str, Any]]:
    """The warnings about the new versions in `deployed` (and the `forms` uploaded with them), each
    {"process", "step", "message"} in Swedish; the same warning once."""
    models = [engine.model(d.id) for d in deployed if d.created]
    tree = org.tree(engine)
    now = engine.clock.now()
    out: list[dict[str, Any]] = []
    with engine.db.read() as s:
        conn = s.connection()
        held = set(conn.execute(sa.select(_roles.c.role_key).join(_users, _roles.c.user_id == _users.c.id)
                                .where(_users.c.active.is_(True), org.role_active(now))).scalars())
        users = set(conn.execute(sa.select(_users.c.name).where(_users.c.active.is_(True))).scalars())
    for model in models:
        for st in model.steps.values():
            step = st.name or "namnlöst steg"
            for role in dict.fromkeys([st.role, *st.candidate_groups]):
                if role and _literal(role) and tree.canonical(role.split("@", 1)[0]) not in held:
                    out.append({"process": model.name, "step": step,
                                "message": f"Ingen i organisationen har rollen {role}; steget {step} kan inte tas "
                                           "av någon."})
            for user in dict.fromkeys([st.assignee, *st.candidate_users]):
                if user and _literal(user) and user not in users:
                    out.append({"process": model.name, "step": step,
                                "message": f"Steget {step} tilldelas {user}, som inte finns som användare."})
    out.extend({"process": None, "step": None,
                "message": f"Formuläret {name} laddades upp men används inte av något steg."}
               for name in unused_forms(models, forms or {}))
    return list({w["message"]: w for w in out}.values())


def unused_forms(models: list[ProcessModel], forms: dict[str, bytes]) -> list[str]:
    """The file names of uploaded forms that no step of `models` refers to (by file name or by the
    id the form declares)."""
    refs: set[str] = set()
    for model in models:
        for st in model.steps.values():
            if st.form_key:
                refs |= {st.form_key, st.form_key.rsplit(":", 1)[-1]}
    return [name for name, text in forms.items() if name not in refs and camunda_forms.form_id(text) not in refs]
