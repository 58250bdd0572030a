"""`rutin retention`: retention rules, holds, culling and its report from the command line.

Imports inside functions: as in `webapp.cli`, the engine is imported inside the commands, so
that ``rutin --help`` answers at once. Each command calls the same engine function as the API;
who acts is named with ``--by`` (a person's rules apply to them as on the API), and the culling
itself runs as the job does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from engine.base.errors import RutinError

from . import cli_engine

if TYPE_CHECKING:
    from engine.authority.identity import Actor
    from engine.core import Engine


def _person(engine: Engine, name: str) -> Actor:
    from engine.authority import identity

    return identity.get_actor(engine, name)


def _print(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.group("retention")
def retention_cmd() -> None:
    """Retention rules (bevaras / gallras under a gallringsbeslut), holds and culling."""


@retention_cmd.command("rules")
@click.option("--process", default=None, help="Bara den här processens regler.")
@click.option("--all", "include_all", is_flag=True, help="Alla versioner, även förslag (regelns historik).")
def rules_cmd(process: str | None, include_all: bool) -> None:
    """List the retention rules in force (or every version)."""
    from engine.authority.identity import SYSTEM
    from engine.retention import rules

    try:
        items = rules.list_rules(cli_engine.engine_from_env(), SYSTEM, process_key=process, include_all=include_all)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    for r in items:
        scope = f" när {r['outcome_field']} = {r['outcome_value']}" if r["outcome_field"] else ""
        click.echo(f"{r['id']:5}  {r['process_key']}{scope} v{r['version']} [{r['status']}]: {r['summary']}")
    click.echo(f"{len(items)} regler")


@retention_cmd.command("propose")
@click.option("--by", "by", required=True, help="Den administratör eller arkivansvarige som föreslår regeln.")
@click.option("--process", required=True, help="Processnyckel.")
@click.option("--action", type=click.Choice(["bevaras", "gallras"]), required=True)
@click.option("--years", type=int, default=0, help="Gallras så många år efter avslut.")
@click.option("--months", type=int, default=0, help="... och så många månader.")
@click.option("--decision-ref", required=True, help="Gallringsbeslutets diarienummer eller beteckning.")
@click.option("--decision-body", required=True, help="Nämnden eller organet som fattade beslutet.")
@click.option("--decision-date", required=True, help="Beslutsdatum (ÅÅÅÅ-MM-DD).")
@click.option("--outcome-field", default=None, help="Gäller bara ärenden där detta fält ...")
@click.option("--outcome-value", default=None, help="... har detta värde.")
@click.option("--note", default=None)
def propose_cmd(by: str, process: str, action: str, years: int, months: int, decision_ref: str,
                decision_body: str, decision_date: str, outcome_field: str | None, outcome_value: str | None,
                note: str | None) -> None:
    """Propose a retention rule; another administrator or archive officer approves it."""
    from engine.retention import rules

    engine = cli_engine.engine_from_env()
    spec = {"process_key": process, "action": action, "years": years, "months": months,
            "decision_ref": decision_ref, "decision_body": decision_body, "decision_date": decision_date,
            "outcome_field": outcome_field, "outcome_value": outcome_value, "note": note}
    try:
        rule = rules.propose(engine, _person(engine, by), spec)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Regel {rule['id']} (version {rule['version']}) föreslagen: {rule['summary']}. "
               "En annan person godkänner den.")


@retention_cmd.command("approve")
@click.argument("rule_id", type=click.IntRange(min=1))
@click.option("--by", "by", required=True, help="Godkännaren (inte den som föreslog regeln).")
def approve_cmd(rule_id: int, by: str) -> None:
    """Approve a proposed rule."""
    from engine.retention import rules

    engine = cli_engine.engine_from_env()
    try:
        rule = rules.approve(engine, _person(engine, by), rule_id)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Regel {rule['id']} godkänd av {rule['approved_by']}: {rule['summary']}")


@retention_cmd.command("hold")
@click.argument("case_id")
@click.option("--by", "by", required=True)
@click.option("--reason", required=True, help="Varför ärendet inte får gallras (överklagande, begäran ...).")
def hold_cmd(case_id: str, by: str, reason: str) -> None:
    """Hold a case from culling."""
    from engine.retention import holds

    engine = cli_engine.engine_from_env()
    try:
        holds.hold(engine, _person(engine, by), case_id, reason)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Ärendet {case_id} är undantaget från gallring.")


@retention_cmd.command("release")
@click.argument("case_id")
@click.option("--by", "by", required=True)
@click.option("--reason", required=True)
def release_cmd(case_id: str, by: str, reason: str) -> None:
    """Release a case's hold: its rule applies again."""
    from engine.retention import holds

    engine = cli_engine.engine_from_env()
    try:
        holds.release(engine, _person(engine, by), case_id, reason)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Undantaget för ärendet {case_id} är hävt.")


@retention_cmd.command("cull")
@click.option("--dry-run", is_flag=True, help="Visa vad som skulle gallras; ändra ingenting.")
@click.option("--json", "as_json", is_flag=True)
def cull_cmd(dry_run: bool, as_json: bool) -> None:
    """Cull every closed case whose retention period has run out (as the scheduled job does)."""
    from engine.authority.identity import SYSTEM
    from engine.retention import culling

    engine = cli_engine.engine_from_env()
    try:
        result = culling.dry_run(engine, SYSTEM) if dry_run else culling.cull_due(engine)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    if as_json:
        _print(result)
        return
    verb = "skulle gallras" if dry_run else "gallrat"
    for c in result["culled"]:
        decision = c["rule"]["decision"] if "rule" in c and isinstance(c["rule"], dict) else c["decision"]
        click.echo(f"{verb}: {c['case_id']} ({c['process_key']}, {c.get('business_key') or '-'}), "
                   f"avslutat {c['closed_at'][:10]}, enligt {decision['ref']} ({decision['body']})")
    for c in result["held"]:
        click.echo(f"undantaget: {c['case_id']} ({c['process_key']})")
    for c in result["skipped"]:
        click.echo(f"inte gallrat: {c['case_id']}: {c['skipped']}")
    click.echo(f"{len(result['culled'])} {verb}, {len(result['held'])} undantagna"
               + ("" if dry_run else f", {len(result['skipped'])} hoppades över"))


@retention_cmd.command("report")
@click.option("--from", "since", default=None, help="Gallrade från och med (ISO 8601).")
@click.option("--to", "until", default=None, help="Till (ISO 8601, inte med).")
@click.option("--csv", "as_csv", is_flag=True, help="Som CSV med svenska rubriker (semikolonseparerad).")
def report_cmd(since: str | None, until: str | None, as_csv: bool) -> None:
    """The culling report: what was culled in a period, under which decision."""
    from engine.authority.identity import SYSTEM
    from engine.base import forms
    from engine.retention import culling

    engine = cli_engine.engine_from_env()
    try:
        rows = culling.report(engine, SYSTEM, since=forms.instant(since, "from") if since else None,
                              until=forms.instant(until, "to") if until else None)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    if as_csv:
        click.echo(culling.report_csv(rows), nl=False)
        return
    for r in rows:
        click.echo(f"{r['culled_at'][:16]}  {r['decision']['ref']} ({r['decision']['body']})  {r['process_name']} "
                   f"{r['business_key'] or r['case_id'][:8]}, öppnat {r['opened_at'][:10]}, "
                   f"avslutat {r['closed_at'][:10]}")
    click.echo(f"{len(rows)} gallrade ärenden")


@retention_cmd.command("export")
@click.argument("case_id")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Mappen paketet skrivs till (som zip).")
@click.option("--by", "by", required=True, help="Administratören eller arkivansvarige som levererar.")
def export_cmd(case_id: str, out: Path, by: str) -> None:
    """Export one closed case kept under its rule as an E-ARK package (zip) and record the delivery."""
    from engine.retention import eark

    engine = cli_engine.engine_from_env()
    try:
        objid, data, delivery = eark.export(engine, _person(engine, by), case_id)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{objid}.zip").write_bytes(data)
    click.echo(f"{out / (objid + '.zip')} (leverans {delivery['id']}, sha256 {delivery['sha256']})")


@retention_cmd.command("export-due")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path))
def export_due_cmd(out: Path) -> None:
    """The batch job: every closed case kept under its rule and not yet delivered, as zips in --out."""
    from engine.retention import eark

    try:
        made = eark.export_due(cli_engine.engine_from_env(), out)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    for d in made:
        click.echo(f"{d['package_id']}.zip (leverans {d['id']})")
    click.echo(f"{len(made)} paket")


@retention_cmd.command("receipt")
@click.argument("delivery_id", type=click.IntRange(min=1))
@click.option("--ref", "ref", required=True, help="E-arkivets kvittens (diarienummer, leverans-id).")
@click.option("--by", "by", required=True)
def receipt_cmd(delivery_id: int, ref: str, by: str) -> None:
    """Record the e-archive's receipt of a delivered package: the case may then be culled."""
    from engine.retention import eark

    engine = cli_engine.engine_from_env()
    try:
        eark.confirm_receipt(engine, _person(engine, by), delivery_id, ref)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"Leverans {delivery_id} kvitterad ({ref}).")


@retention_cmd.command("personal-data")
@click.argument("query")
@click.option("--csv", "as_csv", is_flag=True, help="Som CSV med svenska rubriker.")
def personal_data_cmd(query: str, as_csv: bool) -> None:
    """A person's data request (GDPR art. 15): every case and event naming QUERY (JSON, or CSV)."""
    from engine.authority.identity import SYSTEM
    from engine.retention import personal_data

    try:
        result = personal_data.search(cli_engine.engine_from_env(), SYSTEM, query)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    if as_csv:
        click.echo(personal_data.to_csv(result), nl=False)
    else:
        _print(result)
