"""The migrations build exactly the schema the models describe, and go down again."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from engine.core import Engine
from engine.store.db import alembic_config
from engine.store.models import Base


def _differences(engine: Engine) -> list[Any]:
    with engine.db.writer.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    assert _differences(engine) == []


def test_every_migration_goes_down_and_up_again(engine: Engine) -> None:
    with engine.db.writer.begin() as conn:
        cfg = alembic_config(engine.db.url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
        command.upgrade(cfg, "head")
    assert _differences(engine) == []
