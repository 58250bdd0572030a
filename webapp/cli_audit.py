"""`rutin audit`, `rutin backup`, `rutin restore`: the evidence and its copies.

Imports inside functions: the engine is imported inside the commands, as everywhere in the
command line (`webapp.cli`), so that ``rutin --help`` answers at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from engine.base.errors import RutinError

from . import cli_engine


@click.group("audit")
def audit_cmd() -> None:
    """Tamper evidence: sealed chain heads and verification of every history."""


def _print_findings(result: dict[str, Any]) -> None:
    for finding in result["findings"]:
        click.echo(finding["message"])


@audit_cmd.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Resultatet som JSON.")
def audit_verify(as_json: bool) -> None:
    """Check every case and process history against its chain and the signed checkpoints; exits
    with 1 when anything is found."""
    from engine.service import audit

    result = audit.verify_all(cli_engine.engine_from_env(), trigger="cli", actor="cli")
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print_findings(result)
        checkpoint = f"kontrollpunkt {result['checkpoint']} ({result['checkpoint_at']})" if result["checkpoint"] \
            else "ingen kontrollpunkt ännu"
        verdict = "inga avvikelser" if result["clean"] else f"{len(result['findings'])} avvikelser"
        click.echo(f"{result['cases']} ärenden och {result['processes']} processer kontrollerade mot {checkpoint}: "
                   f"{verdict}. Senast utan avvikelser: {result['last_clean_at'] or 'aldrig'}.")
    if not result["clean"]:
        sys.exit(1)


@audit_cmd.command("seal")
def audit_seal() -> None:
    """Seal the chain heads now into a signed checkpoint."""
    from engine.service import audit

    done = audit.seal(cli_engine.engine_from_env(), "cli", force=True)
    assert done is not None
    click.echo(f"Kontrollpunkt {done['n']} ({done['at']}) signerad med nyckel {done['key_id']}: "
               f"{done['sealed']} kedjor förseglade.")


@audit_cmd.command("rotate-key")
def audit_rotate_key() -> None:
    """Replace the signing key; the change is recorded in the checkpoint log."""
    from engine.service import audit

    try:
        done = audit.rotate_key(cli_engine.engine_from_env(), "cli")
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Ny signeringsnyckel {done['key_id']} ersätter {done['old_key_id']} (loggrad {done['n']}).")


@audit_cmd.command("public-key")
def audit_public_key() -> None:
    """Print the published public keys (JSON), for an auditor to keep."""
    from engine.base.settings import Settings
    from engine.service import audit

    click.echo(json.dumps(audit.public_keys(Settings.from_env()), ensure_ascii=False, indent=2))


@click.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def backup_cmd(dest: Path) -> None:
    """Back up the database, the public keys and the checkpoint log into DEST (new or empty)."""
    from engine.service import backup

    try:
        manifest = backup.backup(cli_engine.engine_from_env(), dest)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Säkerhetskopia ({manifest['database']}) skriven till {dest}: {', '.join(manifest['files'])}.")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_cmd(source: Path) -> None:
    """Restore a backup into the empty data directory RUTIN_DATA_DIR names."""
    from engine.base.settings import Settings
    from engine.service import backup

    try:
        manifest = backup.restore(Settings.from_env(), source)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Säkerhetskopian från {manifest['created_at']} är återställd. Kontrollera den med "
               "`rutin audit verify`.")
