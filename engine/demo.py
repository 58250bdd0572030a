"""The embedded default: deploy the shipped process library, its organisation and ordinance.

`rutin demo` (and `make run` on first start) loads ``workflows/``: every ``.bpmn`` file,
``demo-org.yaml`` (units, people and their roles), ``demo-delegation.yaml`` (the ordinance,
proposed by ``admin`` and approved by ``admin2``). Every demo person gets a bearer token and the
demo password, so both the API and the pages can be tried at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from . import delegation, identity, org, processes
from .core import Engine
from .identity import SYSTEM
from .models import User

DEMO_PASSWORD = "rutin-demo"  # noqa: S105 - the documented password of the demo data only


def deploy_library(engine: Engine, directory: Path) -> list[processes.Deployed]:
    """Deploy every ``.bpmn`` file of a directory, in name order, published as set-up by an
    administrator (each version records ``approved_via="admin"``)."""
    deployed = []
    for path in sorted(directory.glob("*.bpmn")):
        deployed.extend(processes.deploy(engine, SYSTEM, path.read_bytes(), path.name, approve_as_admin=True))
    return deployed


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
        org.import_yaml(engine, org_file.read_text(encoding="utf-8"))
        names = [p["name"] for p in org.export_data(engine)["people"]]
    ordinance = directory / "demo-delegation.yaml"
    if ordinance.exists() and {"admin", "admin2"} <= set(names):
        delegation.import_yaml(engine, identity.get_actor(engine, "admin"), identity.get_actor(engine, "admin2"),
                               ordinance.read_text(encoding="utf-8"))
    for name in names:
        identity.set_password(engine, name, DEMO_PASSWORD)
    tokens = {name: identity.issue_token(engine, name) for name in names}
    return {"processes": [d.to_json() for d in deployed], "tokens": tokens, "password": DEMO_PASSWORD}
