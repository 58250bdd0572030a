"""Shared fixtures: a real database (SQLite always, PostgreSQL when RUTIN_TEST_DATABASE_URL is set),
an engine with a manual clock, users with tokens, a Flask test client, a live HTTP server, and
Debian's Chromium through Playwright for the pages."""

from __future__ import annotations

import os
import re
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

    A browser test (one that drives pages through the `web` fixture) runs on SQLite only: what a
    page shows does not depend on the database under it, and the engine's behaviour on each
    database is held by the tests below the pages. A browser test whose behaviour does depend on
    the database says so with ``@pytest.mark.both_databases``."""
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL variant: RUTIN_TEST_DATABASE_URL is not set")
    if (request.param == "postgresql" and "web" in request.fixturenames
            and request.node.get_closest_marker("both_databases") is None):
        pytest.skip("PostgreSQL variant of a browser test: pages do not depend on the database")
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


@pytest.fixture
def engine(backend: str, tmp_path: Path, clock: ManualClock, optimistic_writes: str) -> Iterator[Engine]:
    """A migrated engine on a fresh database of the backend under test."""
    # Tests move the clock by months and years (reviews, deadlines) and keep using the tokens they
    # issued at the start: those live ten years here; the tests of expiry ask for short ones.
    env = {"RUTIN_DATA_DIR": str(tmp_path / "var"), "RUTIN_LOCK_TIMEOUT_S": "5",
           "RUTIN_TOKEN_DAYS": "3650", "RUTIN_TOKEN_MAX_DAYS": "3650",
           "RUTIN_OPTIMISTIC_WRITES": optimistic_writes}
    if backend == "postgresql":
        assert PG_URL
        env["RUTIN_DATABASE_URL"] = PG_URL
    if backend == "postgresql":
        assert PG_URL
        # Empty the shared database before migrating: migrating deploys Rutin's own processes,
        # which a later truncation would take away again.
        _truncate_pg(PG_URL)
    eng = Engine(Settings.from_env(env), clock)
    eng.migrate()
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
