"""`rutin oidc`: the mapping from the identity provider's groups to Rutin's roles.

Imports inside functions: the engine is imported inside the commands, as everywhere in the
command line (`webapp.cli`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from engine.base.errors import RutinError

from . import cli_engine


@click.group("oidc")
def oidc_cmd() -> None:
    """Sign-in through the municipality's OpenID Connect provider."""


@oidc_cmd.group("group-roles")
def group_roles_cmd() -> None:
    """Which roles the provider's groups give."""


@group_roles_cmd.command("list")
def group_roles_list() -> None:
    """Print the mapping as JSON ({mappings: [{group, role, unit}]})."""
    from engine.authority import idp
    from engine.authority.identity import SYSTEM

    mappings = idp.group_roles(cli_engine.engine_from_env(), SYSTEM)
    click.echo(json.dumps({"mappings": mappings}, ensure_ascii=False, indent=2))


@group_roles_cmd.command("set")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def group_roles_set(file: Path) -> None:
    """Replace the whole mapping with the one in FILE (JSON or YAML: a list of {group, role,
    unit?}, or {mappings: [...]}); it applies to each person at their next sign-in."""
    import yaml

    from engine.authority import idp
    from engine.authority.identity import SYSTEM

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file} går inte att läsa som JSON eller YAML: {exc}") from None
    if isinstance(data, dict) and set(data) == {"mappings"}:
        data = data["mappings"]
    try:
        mappings = idp.replace_group_roles(cli_engine.engine_from_env(), SYSTEM, data)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"{len(mappings)} grupproller.")
