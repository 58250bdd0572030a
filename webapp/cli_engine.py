"""The engine a command line command works on, built from the environment's settings.

Imports inside functions: the engine is imported by the functions that build it, as everywhere
in the command line (`webapp.cli`), so that ``rutin --help`` answers at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from engine.core import Engine


def engine_from_env() -> Engine:
    """The engine of the environment's settings, its database migrated; a clear error (no
    traceback) for settings Rutin cannot start under."""
    from engine.base.settings import SettingsError
    from engine.core import Engine
    try:
        engine = Engine()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    engine.migrate()
    return engine
