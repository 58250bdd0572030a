"""`rutin users`, `rutin token`, `rutin tokens`: accounts, their roles and their tokens.

Imports inside functions: the engine is imported inside the commands, as everywhere in the
command line (`webapp.cli`), so that ``rutin --help`` answers at once.
"""

from __future__ import annotations

import click

from engine.base.errors import RutinError

from . import cli_engine


@click.group()
def users() -> None:
    """Manage users and their roles."""


@users.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, help="En roll (upprepa för flera). admin och designer är systemroller.")
@click.option("--display-name", default=None)
@click.option("--email", default=None)
@click.option("--add-roles", "add_roles", is_flag=True,
              help="Ge en befintlig användare fler roller (utan flaggan vägras ett namn som finns).")
def users_add(name: str, roles: tuple[str, ...], display_name: str | None, email: str | None, add_roles: bool) -> None:
    """Create a user; with --add-roles, add roles to an existing one instead.

    Adding roles to someone who exists is asked for by name: without the flag a mistyped or reused
    login (the demo's municipal director is `anna`) is refused, not silently given new roles."""
    from engine.authority import identity
    engine = cli_engine.engine_from_env()
    try:
        if add_roles:
            identity.get_actor(engine, name)  # NotFound: --add-roles is for someone who exists
        else:
            identity.ensure_unique(engine, name)
    except RutinError as exc:
        hint = "lägg till roller med --add-roles" if not add_roles else "skapa användaren utan --add-roles"
        raise click.ClickException(f"{exc.detail.rstrip('.')}; {hint}.") from None
    if add_roles and not roles:
        raise click.ClickException(f"Ange minst en --role att ge {name}.")
    try:
        actor = identity.add_user(engine, name, list(roles), display_name=display_name, email=email)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"{actor.name}: {', '.join(actor.role_names) or '(inga roller)'}")


@users.command("password")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def users_password(name: str, password: str) -> None:
    """Set a user's password for signing in to the pages."""
    from engine.authority import identity
    try:
        identity.set_password(cli_engine.engine_from_env(), name, password)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Lösenordet för {name} är satt.")


@users.command("list")
def users_list() -> None:
    """List users and their roles."""
    from engine.authority import identity
    for actor in identity.list_users(cli_engine.engine_from_env()):
        click.echo(f"{actor.name:20} {', '.join(actor.role_names)}")


@users.command("deactivate")
@click.argument("name")
@click.option("--reason", default=None, help="Varför (sparas i säkerhetsloggen).")
def users_deactivate(name: str, reason: str | None) -> None:
    """End an account at once: its sessions and tokens stop working, its claimed tasks go back to their roles."""
    from engine.authority.identity import SYSTEM
    from engine.routing import accounts
    try:
        done = accounts.deactivate(cli_engine.engine_from_env(), SYSTEM, name, reason)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    returned = len(done["returned_tasks"])
    click.echo(f"Kontot {name} är avaktiverat; {returned} tagna uppgifter gick tillbaka till sina roller.")


@users.command("reactivate")
@click.argument("name")
@click.option("--reason", default=None, help="Varför (sparas i säkerhetsloggen).")
def users_reactivate(name: str, reason: str | None) -> None:
    """Let a deactivated account sign in again (its old tokens stay revoked)."""
    from engine.authority.identity import SYSTEM
    from engine.routing import accounts
    try:
        accounts.reactivate(cli_engine.engine_from_env(), SYSTEM, name, reason)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Kontot {name} är återaktiverat.")




@click.command()
@click.argument("name")
@click.option("--name", "label", default="token", show_default=True, help="Vad token används till.")
@click.option("--days", default=None, type=int, help="Hur många dagar den gäller (standard RUTIN_TOKEN_DAYS).")
@click.option("--process", "processes", multiple=True,
              help="Bara starta ärenden i den här processen (upprepa för flera): en integrations token.")
def token(name: str, label: str, days: int | None, processes: tuple[str, ...]) -> None:
    """Issue a new bearer token for a user (printed as the last line)."""
    from engine.authority import identity
    engine = cli_engine.engine_from_env()
    try:
        value = identity.issue_token(engine, name, label=label, days=days, start_only=list(processes) or None,
                                     by="system")
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Ny token för {name} (visas bara nu):")
    click.echo(value)


@click.group("tokens")
def tokens_cmd() -> None:
    """List and revoke bearer tokens."""


@tokens_cmd.command("list")
@click.option("--user", default=None, help="Bara den här personens tokens.")
def tokens_list(user: str | None) -> None:
    """List tokens: id, owner, name, state, expiry, last use."""
    from engine.authority.identity import SYSTEM
    from engine.routing import accounts
    for t in accounts.list_tokens(cli_engine.engine_from_env(), SYSTEM, user=user, everyone=user is None)["items"]:
        click.echo(f"{t['id']:>5} {t['user']:20} {t['name']:24} {t['state']:8} {t['expires_at'][:10]} "
                   f"{(t['last_used_at'] or '-')[:16]}")


@tokens_cmd.command("revoke")
@click.argument("token_id", type=int)
def tokens_revoke(token_id: int) -> None:
    """Revoke one token."""
    from engine.authority.identity import SYSTEM
    from engine.routing import accounts
    try:
        accounts.revoke_token(cli_engine.engine_from_env(), SYSTEM, token_id)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Token {token_id} är återkallad.")
