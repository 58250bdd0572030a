"""The `rutin` command line. Each command calls the same engine function as the API.

Imports inside functions: the engine, the web app and SpiffWorkflow are imported inside the
commands that use them, not at the top: importing them takes most of a second, and
``rutin --help`` or a mistyped command should answer at once. Only what parsing arguments and
reporting errors needs (click, the error types, the Swedish labels) is imported here.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bpmn.diagnostics import DiagramRejected
from engine.base import labels
from engine.base.errors import RutinError

from . import cli_engine, logs
from .cli_accounts import token, tokens_cmd, users
from .cli_audit import audit_cmd, backup_cmd, restore_cmd
from .cli_oidc import oidc_cmd

if TYPE_CHECKING:
    from engine.core import Engine




@click.group()
def main() -> None:
    """Rutin: BPMN processes for a municipal group."""


@main.command()
@click.option("--host", default=None, help="Adress att lyssna på (standard RUTIN_HOST eller 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (standard RUTIN_PORT eller 8080).")
@click.option("--threads", default=None, type=click.IntRange(min=1),
              help="Antal trådar per webbprocess (standard 4; på SQLite kör en begäran i taget, "
                   "de andra tar över när den väntar på ett långsamt skript).")
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="Antal webbprocesser (standard RUTIN_WORKERS, annars en per processorkärna, högst 4).")
def serve(host: str | None, port: int | None, threads: int | None, workers: int | None) -> None:
    """Serve the web app and the API, with the scheduler running in this process.

    The HTTP server is granian: its sockets and HTTP parsing run in Rust threads outside the
    GIL, where waitress parsed every request in Python on the one core the app runs on, and took
    more of it than the app itself (`bench/README.md`). Its web processes are spawned fresh, not forked,
    so none inherits the scheduler's thread or this process's database connections; each one
    builds its own app and engine from the same environment (`create_app()`, not `webapp.wsgi`,
    which migrates: the schema is brought up to date here, once, not again in each of them).

    There is one web process per core by default (at most four): a process runs Python on one
    core at a time. On SQLite they share the database well because a change is computed outside
    SQLite's write lock and only written inside it (`engine/store/optimistic.py`): on the two-core
    benchmark machine two web processes did clearly more than one (`bench/README.md`). A web
    process runs four Python threads, but on SQLite lets only one request at a time into the app
    (`webapp.admission`): threads running at once only fought over the GIL (fewer cases a second
    than one thread did, in `bench/README.md`), while granian's own threads keep accepting
    and queueing requests. The other threads serve the next request while one waits for a slow
    script's evaluator process. On PostgreSQL a request also waits on the network, which other
    threads can use, so all four run at once.
    """
    import multiprocessing

    from apscheduler.schedulers.background import BackgroundScheduler
    from granian.constants import Interfaces
    from granian.server import Server

    engine = cli_engine.engine_from_env()
    host = host or engine.settings.host
    port = port or engine.settings.port
    threads = threads or 4
    workers = workers or engine.settings.web_workers or default_workers()
    if not _port_free(host, port):
        engine.close()
        raise click.ClickException(f"Porten {port} på {host} används redan; stoppa den som lyssnar där eller "
                                   "välj en annan med --port eller RUTIN_PORT.")
    multiprocessing.set_start_method("spawn", force=True)
    logs.configure(engine.settings.log_format)
    if workers > 1:
        # Each web process writes its request timings here, and a scrape of any of them adds all
        # up (`webapp.metrics`); emptied first, so a stopped server's samples are not counted.
        shared = engine.settings.data_dir / "metrics"
        shutil.rmtree(shared, ignore_errors=True)
        shared.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(shared.resolve())
    server = Server("webapp.admission:create_served_app", factory=True, address=host, port=port,
                    interface=Interfaces.WSGI, workers=workers,
                    blocking_threads=threads, websockets=False, log_access=False,
                    # A web process that dies (killed, out of memory) is started again; one that
                    # keeps dying within seconds stops the server, for the supervisor to see.
                    respawn_failed_workers=True, respawn_interval=1.0)
    background = BackgroundScheduler(timezone=UTC)
    add_jobs(background, engine, engine.settings.scheduler_interval_s)
    background.start()
    click.echo(f"Rutin lyssnar på http://{host}:{port} ({'SQLite' if engine.db.is_sqlite else 'PostgreSQL'}, "
               f"{workers} webbprocess{'er' if workers != 1 else ''})")
    try:
        server.serve()
    finally:
        background.shutdown(wait=False)
        engine.close()


def default_workers() -> int:
    """Web processes when neither ``--workers`` nor ``RUTIN_WORKERS`` says: one per core this
    process may run on (its CPU affinity, which a container's cpuset narrows), at most four."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


def _port_free(host: str, port: int) -> bool:
    """Whether nothing listens on host:port yet.

    granian binds with SO_REUSEPORT, so a second server on a taken port would not fail: the kernel
    would share the port's connections between the two, each with its own database, at random.
    """
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # SO_REUSEADDR: a port left in TIME_WAIT by a server that just stopped is free; one with a
        # listening socket on it is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _split_files(files: tuple[Path, ...], forms: tuple[Path, ...]) -> tuple[list[Path], dict[str, bytes]]:
    """The BPMN files among the arguments, and the Camunda Forms given with them (``--form``, or
    any ``.form`` file among the arguments), by file name as a diagram refers to them."""
    diagrams = [p for p in files if p.suffix.lower() != ".form"]
    given = [*forms, *(p for p in files if p.suffix.lower() == ".form")]
    if not diagrams:
        raise click.UsageError("Ange minst en BPMN-fil.")
    return diagrams, {p.name: p.read_bytes() for p in given}


_FILES = click.argument("files", nargs=-1, required=True,
                        type=click.Path(exists=True, dir_okay=False, path_type=Path))
_FORMS = click.option("--form", "forms", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
                      help="Ett Camunda Forms-formulär (.form) som diagrammen hänvisar till (upprepa för flera); "
                           ".form-filer bland filerna räknas också.")


@main.command()
@_FILES
@_FORMS
@click.option("--approve", is_flag=True,
              help="Publicera varje ny version direkt, godkänd av en administratör (vid driftsättning och i test); "
                   "versionen och processens historik säger att den godkändes så. Utan flaggan blir varje ny "
                   "version ett utkast som en processägare som inte laddat upp den godkänner.")
def deploy(files: tuple[Path, ...], forms: tuple[Path, ...], approve: bool) -> None:
    """Deploy BPMN files (each new version a draft, or published with --approve)."""
    from engine.authority.identity import SYSTEM
    from engine.catalogue import processes
    diagrams, form_bytes = _split_files(files, forms)
    engine = cli_engine.engine_from_env()
    failed = False
    for path in diagrams:
        try:
            for d in processes.deploy(engine, SYSTEM, path.read_bytes(), path.name, form_bytes,
                                      approve_as_admin=approve):
                change = "ny version" if d.created else "oförändrad"
                status = labels.status_word(d.status)
                click.echo(f"{path}: {d.key} version {d.version} ({change}, {status})")
        except RutinError as exc:
            failed = True
            click.echo(f"{path}: {exc.detail}", err=True)
            for diag in exc.extra.get("diagnostics", []):
                click.echo(f"  {_format_diag(diag)}", err=True)
    sys.exit(1 if failed else 0)


def _format_diag(d: dict[str, object]) -> str:
    where = ":".join(str(x) for x in (d.get("line"), d.get("element_id")) if x)
    return f"{d['severity']:7} {d['code']:28} {where:30} {d['message']}"


@main.command()
@_FILES
@_FORMS
def lint(files: tuple[Path, ...], forms: tuple[Path, ...]) -> None:
    """Print the diagnostics of BPMN files without deploying them (exit 0 when all would deploy)."""
    from bpmn.document import read_document
    from engine.base.settings import Settings

    diagrams, form_bytes = _split_files(files, forms)
    settings = Settings.from_env()
    failed = 0
    for path in diagrams:
        try:
            doc = read_document(path.read_bytes(), max_bytes=settings.max_upload_bytes, forms=form_bytes,
                                max_flow_elements=settings.max_flow_elements,
                                max_multi_instance=settings.max_multi_instance,
                                min_timer_cycle_s=settings.min_timer_cycle_s)
            diags = [d.to_json() for d in doc.diagnostics]
            click.echo(f"{path}: kan driftsättas ({', '.join(p.key for p in doc.processes)})")
        except DiagramRejected as exc:
            failed += 1
            diags = [d.to_json() for d in exc.diagnostics]
            click.echo(f"{path}: kan inte driftsättas: {exc.message}")
        for d in diags:
            click.echo(f"  {_format_diag(d)}")
    sys.exit(1 if failed else 0)


main.add_command(oidc_cmd)


@main.command("demo")
@click.option("--if-empty", is_flag=True, help="Gör ingenting om databasen redan har användare.")
@click.option("--directory", default=None, type=click.Path(file_okay=False, path_type=Path))
@click.option("--no-cases", "without_cases", is_flag=True, help="Ladda inte demoärendena (demo-cases.yaml).")
def demo_cmd(if_empty: bool, directory: Path | None, without_cases: bool) -> None:
    """Deploy the shipped process library, load the demo users and seed the demo cases."""
    from engine.service import demo, demo_cases
    engine = cli_engine.engine_from_env()
    if if_empty and not demo.is_empty(engine):
        click.echo("Databasen har redan användare; demodata laddas inte igen.")
        return
    directory = directory or engine.settings.workflows_dir
    result = demo.load(engine, directory)
    for p in result["processes"]:
        click.echo(f"process {p['key']} version {p['version']}")
    tokens_file = engine.settings.data_dir / "demo-tokens.json"
    tokens_file.parent.mkdir(parents=True, exist_ok=True)
    tokens_file.write_text(json.dumps(result["tokens"], indent=2, ensure_ascii=False), encoding="utf-8")
    tokens_file.chmod(0o600)
    click.echo(f"{len(result['tokens'])} demoanvändare; deras tokens finns i {tokens_file}; "
               f"lösenordet till sidorna är {result['password']!r}")
    if not without_cases:
        seeded = demo_cases.seed(engine, directory)
        total = sum(sum(states.values()) for states in seeded.values())
        finished = sum(states.get("completed", 0) for states in seeded.values())
        click.echo(f"{total} demoärenden i {len(seeded)} processer: {finished} avslutade, "
                   f"{total - finished} pågår (några med försenade och eskalerade steg)")


@main.group("org")
def org_cmd() -> None:
    """The organisation: units, people, roles, aliases, absences."""


@org_cmd.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def org_import(file: Path) -> None:
    """Load a YAML/JSON organisation file, or a CSV of people and their roles."""
    from engine.service import org_data

    engine = cli_engine.engine_from_env()
    text = file.read_text(encoding="utf-8")
    try:
        csv_file = file.suffix.lower() == ".csv"
        counts = org_data.import_people_csv(engine, text) if csv_file else org_data.import_yaml(engine, text)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(", ".join(f"{n} {k}" for k, n in counts.items()))


@org_cmd.command("export")
@click.option("--format", "fmt", type=click.Choice(["yaml", "csv"]), default="yaml", show_default=True)
def org_export(fmt: str) -> None:
    """Print the organisation (YAML), or people and their roles (CSV)."""
    from engine.service import org_data

    engine = cli_engine.engine_from_env()
    click.echo(org_data.people_csv(engine) if fmt == "csv" else org_data.export_yaml(engine), nl=False)


@main.group("delegation")
def delegation_cmd() -> None:
    """The delegation ordinance."""


@delegation_cmd.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--proposed-by", default=None,
              help="Administratören som föreslår punkterna (utan --approve); en annan godkänner dem sedan i Rutin.")
@click.option("--approve", is_flag=True,
              help="Vid driftsättning: godkänn punkterna direkt som systemets godkännande (står så i punkterna).")
def delegation_import(file: Path, proposed_by: str | None, approve: bool) -> None:
    """Load ordinance items from YAML (``items: [...]``).

    Without --approve they are drafts proposed by --proposed-by, for a second administrator to
    approve (four eyes). With --approve, at set-up, the system proposes and approves them, and
    each item says it was approved that way, not reviewed by a second person.
    """
    from engine.authority import identity
    from engine.authority.identity import SYSTEM
    from engine.routing import delegation

    engine = cli_engine.engine_from_env()
    if approve and proposed_by:
        raise click.UsageError("--approve godkänner som systemet; ange inte --proposed-by samtidigt.")
    if not approve and not proposed_by:
        raise click.UsageError("Ange --proposed-by (punkterna blir förslag) eller --approve (vid driftsättning).")
    try:
        proposer = SYSTEM if approve else identity.get_actor(engine, str(proposed_by))
        n = delegation.import_yaml(engine, proposer, SYSTEM if approve else None, file.read_text(encoding="utf-8"))
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"{n} punkter godkända av systemet vid inläsning" if approve
               else f"{n} punkter föreslagna av {proposed_by}; en annan administratör godkänner dem")


@delegation_cmd.command("report")
@click.option("--committee", default=None, help="Bara den här nämndens beslut.")
@click.option("--from", "since", default=None, help="Från och med (ISO 8601).")
@click.option("--to", "until", default=None, help="Till (ISO 8601, inte med).")
@click.option("--reporting", type=click.Choice(["anmals", "protokollfors", "none"]), default=None)
@click.option("--csv", "as_csv", is_flag=True, help="Som CSV (semikolonseparerad), för nämndens lista.")
def delegation_report(committee: str | None, since: str | None, until: str | None, reporting: str | None,
                      as_csv: bool) -> None:
    """Print the delegated decisions to report to the committee (anmälan av delegationsbeslut)."""
    from engine.authority.identity import SYSTEM
    from engine.base import forms
    from engine.routing import decision_report, delegation

    engine = cli_engine.engine_from_env()
    try:
        rows = delegation.report(engine, SYSTEM, committee=committee, reporting=reporting,
                                 since=forms.instant(since, "from") if since else None,
                                 until=forms.instant(until, "to") if until else None)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    if as_csv:
        click.echo(decision_report.report_csv(engine, rows), nl=False)
        return
    for r in rows:
        click.echo(f"{r['decided_at'][:16]}  {r['item']:8} {r['committee'] or '-':20} {r['decision']} "
                   f"({r['business_key'] or r['case_id'][:8]}): {r['decided_by']} som {r['role']} ({r['grounds']})")
    click.echo(f"{len(rows)} beslut")


@main.group("absences")
def absences_cmd() -> None:
    """Absences (out of office): who is away, and when."""


@absences_cmd.command("list")
@click.option("--user", default=None, help="Bara den här personens.")
@click.option("--all", "include_past", is_flag=True, help="Även avslutad frånvaro.")
def absences_list(user: str | None, include_past: bool) -> None:
    """List absences, current and coming (with --all also ended)."""
    from engine.authority.identity import SYSTEM
    from engine.routing import absence

    for a in absence.list_absences(cli_engine.engine_from_env(), SYSTEM, user=user, include_past=include_past):
        click.echo(f"{a['id']:6} {a['user']:20} {a['from']} – {a['to']}{'  pågår' if a['current'] else ''}"
                   f"{'  ' + a['reason'] if a['reason'] else ''}")


@absences_cmd.command("add")
@click.argument("user")
@click.option("--from", "since", required=True, help="Från (ISO 8601).")
@click.option("--to", "until", required=True, help="Till (ISO 8601).")
@click.option("--reason", default=None)
def absences_add(user: str, since: str, until: str, reason: str | None) -> None:
    """Register an absence; open work is handed on when it begins."""
    from engine.authority.identity import SYSTEM
    from engine.base import forms
    from engine.routing import absence

    try:
        result = absence.register(cli_engine.engine_from_env(), SYSTEM, user, forms.instant(since, "from"),
                                  forms.instant(until, "to"), reason)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(f"frånvaro {result['id']} för {user}; {len(result['handed_on'])} uppgifter lämnade vidare")


@absences_cmd.command("cancel")
@click.argument("absence_id", type=int)
def absences_cancel(absence_id: int) -> None:
    """Withdraw an absence (removed if not begun, ended now if under way)."""
    from engine.authority.identity import SYSTEM
    from engine.routing import absence

    try:
        result = absence.cancel(cli_engine.engine_from_env(), SYSTEM, absence_id)
    except RutinError as exc:
        raise click.ClickException(exc.detail) from None
    done = "borttagen" if result["outcome"] == "cancelled" else "avslutad"
    click.echo(f"frånvaro {absence_id} för {result['user']} {done}")


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""
    cli_engine.engine_from_env()
    click.echo("Databasen är uppdaterad.")


# How often a scheduler asks whether the scheduled seal and verification is due (it runs once per
# RUTIN_AUDIT_INTERVAL_S across all workers; asking is one UPDATE).
AUDIT_POLL_S = 60.0

# E-mail goes out at most this often: each round sends everything due, and a server that is down
# is rested between rounds anyway.
DELIVERY_INTERVAL_S = 10.0


def add_jobs(scheduler: Any, engine: Engine, interval: float) -> None:
    """The jobs `rutin serve` and `rutin worker` run: the timer tick, e-mail delivery and the audit
    seal and verification beside it.

    Separate jobs, so that a slow mail server never holds up a timer; each runs one at a time and
    skips a round it has fallen behind on. Both start at once (catching up after downtime), by the
    real clock: APScheduler decides when to run, the engine's clock what is due.
    """
    from engine.routing import notifications

    started = datetime.now(UTC)
    scheduler.add_job(engine.scheduler.tick, "interval", id="tick", seconds=interval, max_instances=1,
                      coalesce=True, next_run_time=started)
    scheduler.add_job(notifications.deliver, "interval", args=[engine], id="deliver",
                      seconds=max(interval, DELIVERY_INTERVAL_S), max_instances=1, coalesce=True,
                      next_run_time=started)
    from engine.service import audit

    scheduler.add_job(audit.run_due, "interval", args=[engine], id="audit", seconds=max(interval, AUDIT_POLL_S),
                      max_instances=1, coalesce=True, next_run_time=started)
    from engine.retention import culling

    # Asked as often as the audit; runs once per RUTIN_CULLING_INTERVAL_S across all workers.
    scheduler.add_job(culling.run_due, "interval", args=[engine], id="culling",
                      seconds=max(interval, AUDIT_POLL_S), max_instances=1, coalesce=True, next_run_time=started)
    from engine.service import measure_follow_up

    # Measures out of target in the last closed month: each follow-up opens once across all workers.
    scheduler.add_job(measure_follow_up.run_due, "interval", args=[engine], id="measure_follow_up",
                      seconds=max(interval, AUDIT_POLL_S), max_instances=1, coalesce=True, next_run_time=started)


@main.command()
@click.option("--once", is_flag=True, help="Fire everything due now, then exit.")
@click.option("--interval", default=None, type=float, help="Sekunder mellan varven.")
def worker(once: bool, interval: float | None) -> None:
    """Run the scheduler alone: fire due timers, deadlines and escalations."""
    engine = cli_engine.engine_from_env()
    if once:
        total = 0
        while True:
            result = engine.scheduler.tick()
            total += result.fired
            if result.fired + result.cancelled == 0:
                break
        from engine.routing import notifications

        sent = notifications.deliver(engine)
        click.echo(f"{total} utlösta, {sent['sent']} e-postmeddelanden skickade")
        return
    from apscheduler.schedulers.blocking import BlockingScheduler

    logs.configure(engine.settings.log_format)
    blocking = BlockingScheduler(timezone=UTC)
    add_jobs(blocking, engine, interval or engine.settings.scheduler_interval_s)
    click.echo(f"Rutins schemaläggare körs ({engine.scheduler.name})")
    blocking.start()


from .cli_retention import retention_cmd  # noqa: E402  (its commands, in a module of their own)

main.add_command(retention_cmd)
for command in (users, token, tokens_cmd, audit_cmd, backup_cmd, restore_cmd):
    main.add_command(command)
# `rutin user deactivate NAME` reads as well as `rutin users deactivate NAME`: both work.
main.add_command(users, "user")

if __name__ == "__main__":
    main()
