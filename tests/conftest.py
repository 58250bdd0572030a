"""Shared fixtures: a real database (SQLite always, PostgreSQL when RUTIN_TEST_DATABASE_URL is set),
an engine with a manual clock, users with tokens, a Flask test client, a live HTTP server, and
Debian's Chromium through Playwright for the pages."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.base.settings import Settings
from engine.core import Engine
from engine.store.models import Base

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _corpus_dir() -> Path:
    """The shared corpus of real exports: `RUTIN_CORPUS_DIR`, else `../shared/corpus` beside this
    repository, else beside the repository this one was cloned from (a fresh clone in a
    temporary folder, as CI makes, still finds the corpus of the checkout it came from)."""
    if os.environ.get("RUTIN_CORPUS_DIR"):
        return Path(os.environ["RUTIN_CORPUS_DIR"])
    beside = ROOT.parent / "shared" / "corpus"
    if beside.is_dir():
        return beside
    import subprocess

    origin = subprocess.run(["git", "-C", str(ROOT), "config", "--get", "remote.origin.url"],
                            capture_output=True, text=True, check=False).stdout.strip()
    if origin and "://" not in origin and ":" not in origin.split("/")[0]:
        cloned_from = (ROOT / origin).resolve() if not Path(origin).is_absolute() else Path(origin)
        if (cloned_from.parent / "shared" / "corpus").is_dir():
            return cloned_from.parent / "shared" / "corpus"
    return beside


CORPUS_DIR = _corpus_dir()
PG_URL = os.environ.get("RUTIN_TEST_DATABASE_URL")
# PostgreSQL variants are always collected, and skipped with a reason when no database is set, so
# a run on SQLite alone says so in its summary instead of leaving them out unseen.
BACKENDS = ["sqlite", "postgresql"]


def _truncate_pg(url: str) -> None:
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        tables = [t.name for t in Base.metadata.sorted_tables]
        existing = set(sa.inspect(conn).get_table_names())
        present = [t for t in tables if t in existing]
        if present:
            conn.execute(sa.text(f"TRUNCATE {', '.join(present)} RESTART IDENTITY CASCADE"))
    eng.dispose()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Skipped tests, counted per reason: a run without PostgreSQL says how many variants it left
    out and why, in one line instead of one per test."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if reasons:
        terminalreporter.write_sep("-", "skipped")
        for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
            terminalreporter.write_line(f"{count:5d}  {reason}")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend a test runs on.

    A page test (one that drives pages through the `web` fixture, or any in a test_pages file) runs
    on SQLite only: what a page shows does not depend on the database under it, and the engine's
    behaviour on each database is held by the tests below the pages. So does a hostile probe (tests/hostile) whose
    refusal is decided above the database (authorization, parsing, the sandbox). A test whose
    behaviour does depend on the database says so with ``@pytest.mark.both_databases``."""
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL variant: RUTIN_TEST_DATABASE_URL is not set")
    if request.param == "postgresql" and request.node.get_closest_marker("both_databases") is None:
        if "web" in request.fixturenames or Path(str(request.node.fspath)).name.startswith("test_pages"):
            pytest.skip("PostgreSQL variant of a page test: pages do not depend on the database")
        if Path(str(request.node.fspath)).parent.name == "hostile":
            pytest.skip("PostgreSQL variant of a hostile probe whose refusal does not depend on the database")
    return str(request.param)


@pytest.fixture
def clock() -> ManualClock:
    """A clock tests move by hand (Monday 2 March 2026, 09:00 Swedish time)."""
    return ManualClock()


@pytest.fixture
def optimistic_writes() -> str:
    """``RUTIN_OPTIMISTIC_WRITES`` for the `engine` fixture (SQLite's fast path on, as by default);
    a test module overrides this fixture with params to run its tests both ways."""
    return "1"


def _engine_env(data_dir: Path) -> dict[str, str]:
    # Tests move the clock by months and years (reviews, deadlines) and keep using the tokens they
    # issued at the start: those live ten years here; the tests of expiry ask for short ones.
    return {"RUTIN_DATA_DIR": str(data_dir), "RUTIN_LOCK_TIMEOUT_S": "5",
            "RUTIN_TOKEN_DAYS": "3650", "RUTIN_TOKEN_MAX_DAYS": "3650"}


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once, with Rutin's own processes deployed on the test clock's
    start: each test starts from a copy of it. Migrating takes about a second; a suite of a
    thousand and more engines spent most of its time there."""
    data_dir = tmp_path_factory.mktemp("migrated") / "var"
    eng = Engine(Settings.from_env(_engine_env(data_dir)), ManualClock())
    eng.migrate()
    eng.close()
    leftovers = [p.name for p in data_dir.iterdir() if p.name.startswith("rutin.db-")]
    assert not leftovers, f"the migrated template was not checkpointed: {leftovers}"
    return data_dir / "rutin.db"


class _PgSnapshot:
    """The rows a migrated PostgreSQL test database holds (Rutin's own processes), taken once after
    the first full migration; each later test truncates and puts them back in one transaction
    instead of deploying them again. A database whose schema is not at the newest migration (a
    migration test left it elsewhere) is migrated in full again and the snapshot retaken."""

    def __init__(self) -> None:
        self.head: str | None = None
        self.rows: list[tuple[sa.Table, list[dict[str, Any]]]] = []
        self.sequences: list[tuple[str, int]] = []

    def _head(self) -> str:
        if self.head is None:
            from alembic.script import ScriptDirectory

            from engine.store.db import alembic_config

            self.head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
        return str(self.head)

    def take(self, url: str) -> None:
        eng = sa.create_engine(url)
        with eng.connect() as conn:
            self.rows = [(t, [dict(r) for r in conn.execute(sa.select(t)).mappings()])
                         for t in Base.metadata.sorted_tables]
            self.rows = [(t, rows) for t, rows in self.rows if rows]
            self.sequences = [(name, int(value)) for name, value in conn.execute(sa.text(
                "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences "
                "WHERE last_value IS NOT NULL"))]
        eng.dispose()

    def restore(self, url: str) -> bool:
        """Put the migrated state back; False when a full migration is needed instead."""
        if not self.rows:
            return False
        eng = sa.create_engine(url)
        try:
            with eng.begin() as conn:
                existing = set(sa.inspect(conn).get_table_names())
                if "alembic_version" not in existing or conn.execute(
                        sa.text("SELECT version_num FROM alembic_version")).scalar() != self._head():
                    return False
                tables = [t.name for t in Base.metadata.sorted_tables]
                if not set(tables) <= existing:
                    return False
                # TRUNCATE costs a file per table, about a second for all of them; deleting the
                # rows of the few tables a test wrote is quicker. Triggers (the append-only ones,
                # foreign keys) are off for this transaction only, as for a restore.
                try:
                    with conn.begin_nested():
                        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
                except sa.exc.DBAPIError:
                    return False  # a database user who may not (not a superuser): truncate and migrate
                quote = conn.dialect.identifier_preparer.quote
                written = conn.execute(sa.text(" UNION ALL ".join(
                    f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {quote(name)})" for name in tables))).scalars().all()
                for name in written:
                    conn.execute(sa.text(f"DELETE FROM {quote(name)}"))
                conn.execute(sa.text("SELECT setval(c.oid, 1, false) FROM pg_class c "
                                     "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"))
                for table, rows in self.rows:
                    conn.execute(table.insert(), rows)
                for name, value in self.sequences:
                    conn.execute(sa.text("SELECT setval(:name, :value)"), {"name": name, "value": value})
            return True
        finally:
            eng.dispose()


_PG_SNAPSHOT = _PgSnapshot()


@pytest.fixture
def engine(backend: str, tmp_path: Path, clock: ManualClock, optimistic_writes: str,
           request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated engine on a fresh database of the backend under test (a copy of a database
    migrated once per run; see `migrated_sqlite` and `_PgSnapshot`)."""
    env = {**_engine_env(tmp_path / "var"), "RUTIN_OPTIMISTIC_WRITES": optimistic_writes}
    # The copies hold Rutin's own processes deployed at the default clock's start; a test whose
    # clock starts elsewhere migrates in full, so what it deploys carries its own time.
    copy = clock.now() == ManualClock().now()
    if backend == "postgresql":
        assert PG_URL
        env["RUTIN_DATABASE_URL"] = PG_URL
        if copy and _PG_SNAPSHOT.restore(PG_URL):
            eng = Engine(Settings.from_env(env), clock)
        else:
            # Empty the shared database before migrating: migrating deploys Rutin's own
            # processes, which a later truncation would take away again.
            _truncate_pg(PG_URL)
            eng = Engine(Settings.from_env(env), clock)
            eng.migrate()
            if copy:
                _PG_SNAPSHOT.take(PG_URL)
    elif not copy:
        eng = Engine(Settings.from_env(env), clock)
        eng.migrate()
    else:
        template = request.getfixturevalue("migrated_sqlite")
        (tmp_path / "var").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, tmp_path / "var" / "rutin.db")
        eng = Engine(Settings.from_env(env), clock)
    yield eng
    eng.close()


@dataclass
class Person:
    """A test user with a token."""

    name: str
    token: str
    actor: identity.Actor

    @property
    def headers(self) -> dict[str, str]:
        """Authorization headers for this user."""
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def people(engine: Engine) -> dict[str, Person]:
    """Users for the tests: a designer, an admin, handlers of roles, and a stranger."""
    roster = {
        "designer": ["designer"],
        "admin": ["admin"],
        "hanna": ["Handläggare"],
        "hugo": ["handläggare"],
        "greta": ["granskare"],
        "stina": [],
        "owner": ["Processägare"],
    }
    out = {}
    for name, roles in roster.items():
        identity.add_user(engine, name, roles)
        out[name] = Person(name, identity.issue_token(engine, name),
                           identity.get_actor(engine, name))
    return out


@pytest.fixture
def app(engine: Engine) -> Any:
    """The Flask app on the test engine."""
    from webapp import create_app

    return create_app(engine)


@pytest.fixture
def client(app: Any) -> Any:
    """A Flask test client."""
    return app.test_client()


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The app served on a loopback port by a threaded server, for real concurrent HTTP requests."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def fixture_bytes(name: str) -> bytes:
    """The bytes of a BPMN fixture file."""
    return (FIXTURES / name).read_bytes()


def declared_start(*names: str, element_id: str = "s") -> str:
    """A start event whose output mapping declares `names` as start data (start data is a
    whitelist: a case starts only with what its diagram declares). Needs the camunda namespace."""
    params = "".join(f'<camunda:outputParameter name="{n}">${{{n}}}</camunda:outputParameter>' for n in names)
    return (f'<bpmn:startEvent id="{element_id}"><bpmn:extensionElements><camunda:inputOutput>{params}'
            "</camunda:inputOutput></bpmn:extensionElements></bpmn:startEvent>")


def deploy(client: Any, person: Person, name_or_bytes: str | bytes) -> Any:
    """Upload a fixture (by file name) or raw bytes as `person`."""
    data = fixture_bytes(name_or_bytes) if isinstance(name_or_bytes, str) else name_or_bytes
    return client.post("/api/processes", data=data, headers={**person.headers, "Content-Type": "application/xml"})


def publish(client: Any, people: dict[str, Person], name_or_bytes: str | bytes, *, uploader: str = "designer",
            approver: str | None = None) -> Any:
    """Upload as `uploader`, then approve every new draft as `approver` (four eyes: someone who did
    not upload it), so cases can start on it; the upload's response, statuses updated. By default
    the approver is whom the process as published names: its owner (`owner`), or an administrator
    (`admin`) for a new process or a draft that changes the owner role."""
    r = deploy(client, people[uploader], name_or_bytes)
    if r.status_code in (200, 201):
        for proc in r.get_json()["processes"]:
            if proc["status"] == "draft":
                path = f"/api/processes/{proc['key']}/versions/{proc['version']}"
                rule = client.get(path, headers=people[uploader].headers).get_json()["approval"]
                who = approver or ("admin" if rule["admin_only"] else "owner")
                a = client.post(f"{path}/approve", json={}, headers=people[who].headers)
                assert a.status_code == 200, a.get_json()
                proc["status"] = "published"
    return r


@dataclass
class Mailbox:
    """Messages a real SMTP server on loopback received."""

    host: str
    port: int
    messages: list[Any]

    def to(self, address: str) -> list[Any]:
        """Messages addressed to `address`."""
        return [m for m in self.messages if address in m["To"]]


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, recording what arrives."""
    import socket
    from email import message_from_bytes, policy

    from aiosmtpd.controller import Controller

    class Handler:
        def __init__(self, box: list[Any]):
            self.box = box

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            self.box.append(message_from_bytes(envelope.content, policy=policy.default))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box: list[Any] = []
    controller = Controller(Handler(box), hostname="127.0.0.1", port=port)
    controller.start()
    yield Mailbox("127.0.0.1", port, box)
    controller.stop()


# -- pages in a real browser ------------------------------------------------------------------

CHROMIUM = Path(os.environ.get("RUTIN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "hemligt-lösen-1"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless; a clear failure (not a skip) when it is missing."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(f"Chromium is missing at {CHROMIUM}: the browser tests need it. Install it with "
                    "`apt-get install -y chromium` (`make test` does so when run as root), or point "
                    "RUTIN_CHROMIUM at a Chromium binary.", pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Web:
    """The app in a browser: a fresh browser context on the live server, and the engine behind it."""

    engine: Engine
    clock: ManualClock
    people: dict[str, Person]
    base: str
    context: Any
    page: Any
    errors: list[str]
    csp_violations: list[str]

    def sign_in(self, name: str, password: str = PASSWORD, *, start: str = "/") -> Any:
        from playwright.sync_api import expect

        page = self.page
        page.goto(start)
        expect(page).to_have_url(re.compile(r"/login\?next="))
        expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
        page.get_by_label("Användarnamn").fill(name)
        page.get_by_label("Lösenord").fill(password)
        page.get_by_role("button", name="Logga in").click()
        expect(page.get_by_role("button", name="Logga ut")).to_be_visible()
        return page

    def user(self, name: str, roles: list[str]) -> None:
        """A person with roles and the test password."""
        if name not in self.people:
            identity.add_user(self.engine, name, roles)
        identity.set_password(self.engine, name, PASSWORD)


# Reports each Content-Security-Policy violation in any document of the context to the test (an
# init script and a binding run outside the page's policy, so they see what the policy refuses).
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.__rutinCspViolation([e.effectiveDirective, e.blockedURI || "inline", e.sourceFile + ":" + e.lineNumber,
                              e.sample].join(" "));
}, true);
"""


@pytest.fixture
def web(browser: Any, live_server: str, engine: Engine, clock: ManualClock, people: dict[str, Person]) -> Iterator[Web]:
    """A browser context on the live server. A test whose pages raise a Content-Security-Policy
    violation (the event in the page, or Chromium's console message) fails at teardown: every
    browser test so proves that the pages it visits run under the policy without breaking it."""
    from playwright.sync_api import expect

    expect.set_options(timeout=10_000)
    context = browser.new_context(base_url=live_server, locale="sv-SE", timezone_id="Europe/Stockholm")
    context.set_default_timeout(10_000)
    violations: list[str] = []
    context.expose_function("__rutinCspViolation", lambda text: violations.append(str(text)))
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield Web(engine, clock, people, live_server, context, page, errors, violations)
    context.close()
    if violations:
        pytest.fail("the pages broke their Content-Security-Policy:\n" + "\n".join(violations), pytrace=False)


def sign_in(client: Any, name: str = "hanna") -> str:
    """Sign in through the login form (the person's password is `PASSWORD`); returns the
    session's CSRF token."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    answer = client.post("/login", data={"csrf": token, "name": name, "password": PASSWORD})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    home = client.get("/")
    # (who holds no role is signed in all the same, and told on every page that they hold none)
    assert home.status_code == 200 or identity.NO_ROLE in home.get_data(as_text=True), home.status_code
    return re.search(r'name="csrf" value="([^"]+)"', home.get_data(as_text=True)).group(1)
