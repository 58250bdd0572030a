"""The embedded default: deploy the shipped process library, its organisation and ordinance.

`rutin demo` (and `make run` on first start) loads ``workflows/``: every ``.bpmn`` file,
``demo-org.yaml`` (units, people and their roles), ``demo-delegation.yaml`` (the ordinance,
proposed by ``admin`` and approved by ``admin2``), and the owning units that ``roles.yaml`` gives
the processes (where new cases belong, so that routing, escalation up the manager chain and the
decision report per committee work in the demo as they do in use). Every demo person gets a bearer token and the
demo password, so both the API and the pages can be tried at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from ..authority import identity, org
from ..authority.identity import SYSTEM
from ..base.errors import NotFound
from ..catalogue import processes
from ..core import Engine
from ..routing import delegation
from ..store.models import User
from . import org_data

DEMO_PASSWORD = "rutin-demo"  # noqa: S105 - the documented password of the demo data only


def deploy_library(engine: Engine, directory: Path) -> list[processes.Deployed]:
    """Deploy every ``.bpmn`` (and Flowable's ``.bpmn20.xml``) file of a directory, in name order,
    published as set-up by an administrator (each version records ``approved_via="admin"``)."""
    deployed = []
    for path in sorted([*directory.glob("*.bpmn"), *directory.glob("*.bpmn20.xml")]):
        deployed.extend(processes.deploy(engine, SYSTEM, path.read_bytes(), path.name, approve_as_admin=True))
    return deployed


def set_process_units(engine: Engine, roles_file: Path) -> dict[str, str]:
    """Give each deployed process of ``roles.yaml`` that names a ``unit`` that unit, as an administrator."""
    if not roles_file.exists():
        return {}
    listed = (yaml.safe_load(roles_file.read_text(encoding="utf-8")) or {}).get("processes") or {}
    done: dict[str, str] = {}
    for key, entry in listed.items():
        unit = (entry or {}).get("unit")
        if not unit:
            continue
        try:  # a unit the organisation lacks is an error in the shipped data: InvalidInput says so
            org.set_process_unit(engine, SYSTEM, key, unit)
        except NotFound:  # listed but not deployed from this directory
            continue
        done[key] = unit
    return done


def people_table(directory: Path) -> str:
    """The demo people of ``demo-org.yaml`` as the README's Markdown table: login, name, roles and
    units (a role held in a unit is followed by the unit's id). The README's table is this text,
    which a test checks, so that it never drifts from the people `rutin demo` loads."""
    data = yaml.safe_load((directory / "demo-org.yaml").read_text(encoding="utf-8")) or {}
    unit_names = {u["id"]: u["name"] for u in data.get("units") or []}
    lines = ["| Inloggning | Namn | Roller | Enhet |", "| --- | --- | --- | --- |"]
    for person in data.get("people") or []:
        roles, units = [], []
        for role in person.get("roles") or []:
            if isinstance(role, dict):
                roles.append(f"{role['role']} ({role['unit']})")
                if unit_names[role["unit"]] not in units:
                    units.append(unit_names[role["unit"]])
            else:
                roles.append(str(role))
        lines.append(f"| `{person['name']}` | {person.get('display_name') or person['name']} | "
                     f"{', '.join(roles)} | {', '.join(units) or '–'} |")
    return "\n".join(lines) + "\n"


def is_empty(engine: Engine) -> bool:
    """Whether the database has no users yet (first start)."""
    with engine.db.read() as s:
        return s.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() == 0


def load(engine: Engine, directory: Path) -> dict[str, Any]:
    """Deploy the library and load the demo organisation, ordinance, tokens and passwords."""
    deployed = deploy_library(engine, directory)
    names: list[str] = []
    org_file = directory / "demo-org.yaml"
    if org_file.exists():
        org_data.import_yaml(engine, org_file.read_text(encoding="utf-8"))
        names = [p["name"] for p in org_data.export_data(engine)["people"]]
    ordinance = directory / "demo-delegation.yaml"
    if ordinance.exists() and {"admin", "admin2"} <= set(names):
        delegation.import_yaml(engine, identity.get_actor(engine, "admin"), identity.get_actor(engine, "admin2"),
                               ordinance.read_text(encoding="utf-8"))
    set_process_units(engine, directory / "roles.yaml")
    if names:
        identity.set_shared_password(engine, names, DEMO_PASSWORD)
    tokens = {name: identity.issue_token(engine, name) for name in names}
    return {"processes": [d.to_json() for d in deployed], "tokens": tokens, "password": DEMO_PASSWORD}
