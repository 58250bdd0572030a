"""Pages for people: sign in, the inbox, a task, a case with its diagram, processes.

Server-rendered (Jinja2), in Swedish, on the same engine functions as the API. A signed session
cookie carries who is signed in (checked against the database on each request); every form POST
carries a per-session CSRF token. Front-end libraries (bpmn-js, htmx) come from npm's
``node_modules`` and are served from an allow-list, never copied into the repository.

Every error on these pages renders ``error.html`` (or the page itself, with the problem shown)
with the problem's Swedish detail; no stack trace reaches a person.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.exceptions import HTTPException

from engine import (
    accounts,
    cases,
    delegation,
    identity,
    measures,
    notifications,
    org,
    ownership,
    processes,
    security_log,
    signin,
    starting,
    tasks,
    transfer,
)
from engine.core import Engine
from engine.errors import Conflict, Forbidden, InvalidInput, RutinError, TooManyAttempts, Unauthorized
from engine.forms import EARLIEST_YEAR, LATEST_YEAR
from engine.identity import Actor

from .downloads import csv_download, diagram_download
from .params import int_arg, upload_filename

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)
NODE_MODULES = Path(__file__).resolve().parent.parent / "node_modules"
VENDOR = {
    "bpmn-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-font/css/bpmn-embedded.css": "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css",
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
}
VIEWS = {"mine": "Mina", "unclaimed": "Otagna i mina roller", "overdue": "Försenade", "all": "Alla"}
# Shown to managers only: the open tasks of the units they manage (and the units below them).
UNIT_VIEW = {"unit": "Min enhet"}
# The inbox's sort choices: (engine sort column, order, label).
SORTINGS = {
    "created": ("created", "asc", "Äldst först"),
    "due": ("due", "asc", "Förfaller först"),
    "priority": ("priority", "desc", "Högst prioritet först"),
}
PAGE_SIZE = 25
MAX_PAGE = 100_000
STOCKHOLM = ZoneInfo("Europe/Stockholm")
NUMBER_TYPES = {"double", "float", "decimal"}
CLOCK_SKEW = timedelta(minutes=5)
JAV_MISSING = "Bekräfta att du inte är jävig, eller anmäl jäv så går beslutet till ersättaren."

EVENT_LABELS = {
    "case_started": "Ärendet startades",
    "case_completed": "Ärendet avslutades",
    "case_clock_started": "Tidsfristen började löpa",
    "case_clock_paused": "Tidsfristen pausades",
    "case_clock_resumed": "Tidsfristen löper igen",
    "case_clock_extended": "Tidsfristen förlängdes",
    "case_clock_not_extended": "Tidsfristen förlängdes inte",
    "case_deadline_passed": "Tidsfristen passerades",
    "task_created": "Uppgift skapad",
    "task_claimed": "Uppgift tagen",
    "task_unclaimed": "Uppgift lämnad tillbaka",
    "task_completed": "Uppgift klar",
    "task_cancelled": "Uppgift avbruten",
    "task_assigned": "Uppgift tilldelad",
    "task_reassigned": "Uppgift omfördelad",
    "task_handed_over": "Uppgift överlämnad",
    "task_updated": "Uppgift ändrad",
    "task_due_moved": "Förfallodatum följer ärendets tidsfrist",
    "case_transferred": "Ärendet lämnades över till en annan enhet",
    "escalation_step": "Eskalering",
    "conflict_of_interest_declared": "Jäv anmält",
    "comment": "Kommentar",
    "timer_fired": "Timer löste ut",
    "timer_failed": "Tidsstyrd händelse misslyckades",
    "message_received": "Meddelande mottaget",
    "incident_raised": "Incident",
    "incident_retried": "Incident försökt igen",
    "data_corrected": "Uppgifter rättade",
    "case_clock_not_paused": "Tidsfristen pausades inte",
    "case_clock_stopped": "Tidsfristen står still tills kompletteringen kommit in",
    "case_clock_restarted": "Tidsfristen började om",
    "case_clock_not_restarted": "Tidsfristen började inte om",
    "case_clock_recounted": "Tidsfristen räknas från ankomstdagen",
    "case_clock_not_recounted": "Tidsfristen räknades inte om",
    "case_deadline_warning": "Varning inför tidsfristen",
    "follow_up_reminder": "Påminnelse om uppföljning",
    "scheduled_start_late": "Schemalagd start skedde sent",
}
# What an escalation step did, as the case's history tells an auditor.
ESCALATION_ACTIONS = {
    "remind": "påminnelse", "notify_manager": "chefen underrättad", "reassign_manager": "flyttad till chefens roll",
    "raise_priority": "högre prioritet", "substitute": "till ersättaren enligt delegationsordningen",
    "superior": "till överordnad enligt delegationsordningen",
}
# Who acted, where it was not a person.
ACTOR_LABELS = {"scheduler": "systemet", "system": "systemet"}
STATUS_LABELS = {
    "active": "Pågår", "completed": "Avslutat", "incident": "Incident", "open": "Öppen",
    "cancelled": "Avbruten", "published": "Publicerad", "draft": "Utkast", "superseded": "Ersatt",
    "retired": "Tillbakadragen",
}
SEVERITY_LABELS = {"error": "Fel", "warning": "Varning", "info": "Information"}


def _engine() -> Engine:
    return cast(Engine, current_app.extensions["rutin"])


def _session_actor() -> Actor | None:
    """Who the session cookie says is signed in, if the session still holds: signed in less than
    `RUTIN_SESSION_HOURS` ago (by the engine's clock), and not ended since by signing out (the
    person's session generation, kept with the user, is still the one signed in under)."""
    name = session.get("user")
    if not name:
        return None
    engine = _engine()
    since = _parse(session.get("since"))
    now = engine.clock.now()
    if since is None or since.tzinfo is None:
        return None
    # (a sign-in a little "ahead" is another web process's clock, not a forged cookie: it is signed)
    if not since - CLOCK_SKEW <= now < since + engine.settings.session_lifetime:
        return None
    try:
        return identity.session_actor(engine, str(name), session.get("generation"))
    except RutinError:
        return None


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Require a signed-in person; redirect to the sign-in page otherwise."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        had_session = bool(session.get("user"))
        actor = _session_actor()
        if actor is None:
            session.clear()
            if had_session:
                flash("Sessionen har gått ut eller avslutats; logga in igen.")
            return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
        g.actor = actor
        if not actor.has_role:
            # Signed in, but holding no role (all removed, or none given yet): told so, and nothing else.
            return _error_page("Ingen roll", identity.NO_ROLE, 403)
        return view(*args, **kwargs)

    return wrapper


def _back() -> str:
    """Where an error page's link leads: the page the person came from on this site, else the inbox."""
    ref = request.referrer
    if ref:
        parts = urlsplit(ref)
        if parts.netloc == request.host and parts.path.startswith("/"):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return url_for("pages.inbox")


def _error_page(title: str, detail: str, status: int) -> tuple[str, int]:
    return render_template("error.html", title=title, detail=detail, status=status, back=_back()), status


@bp.before_app_request
def _csrf() -> Any:
    if request.blueprint != "pages":
        return None
    session.setdefault("csrf", secrets.token_urlsafe(24))
    sent = request.form.get("csrf", "").encode() if request.method == "POST" else b""
    if request.method == "POST" and not secrets.compare_digest(sent, str(session["csrf"]).encode()):
        return _error_page("Formuläret har gått ut",
                           "Formuläret har gått ut eller kom inte från Rutin; ladda om sidan och försök igen.", 400)
    return None


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    actor = g.get("actor")
    unread = 0
    if actor is not None:
        try:
            unread = notifications.list_for(_engine(), actor, unread=True, limit=1)["unread"]
        except RutinError:
            unread = 0
    # The menu offers the reports to those who may read them (the engine says who). Called from
    # the menu only, so the partials polled by htmx (the notification badge) do not ask.

    def reads_decisions() -> bool:
        return actor is not None and delegation.readable_committees(_engine(), actor) != set()

    def reads_measures() -> bool:
        return actor is not None and measures.readable_processes(_engine(), actor) != set()

    return {"actor": actor, "csrf": session.get("csrf", ""), "unread": unread, "status_label": STATUS_LABELS,
            "reads_decisions": reads_decisions, "reads_measures": reads_measures,
            "severity_label": SEVERITY_LABELS, "event_label": EVENT_LABELS,
            "escalation_action": ESCALATION_ACTIONS, "actor_label": ACTOR_LABELS}


@bp.errorhandler(RutinError)
def _error(exc: RutinError) -> tuple[str, int]:
    return _error_page(exc.title, exc.detail, exc.status)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    return http_error_page(exc)


def http_error_page(exc: HTTPException) -> tuple[str, int]:
    """The Swedish error page for an HTTP error (also for addresses no page or API call answers,
    when a browser asks: see `webapp.problems`)."""
    code = exc.code or 500
    if g.get("actor") is None and request.blueprint != "pages":
        # an address outside the pages: the menu shows who is signed in, if anyone is
        g.actor = _session_actor()
    title, detail = {
        400: ("Felaktig begäran", "Begäran kunde inte förstås."),
        403: ("Behörighet saknas", "Du har inte behörighet till sidan."),
        404: ("Finns inte", "Sidan finns inte."),
        405: ("Metoden stöds inte", "Sidan kan inte användas så."),
        413: ("För stor fil", "Filen är större än vad som tillåts."),
    }.get(code, ("Fel", "Begäran kunde inte utföras."))
    return _error_page(title, detail, code)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> tuple[str, int]:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _error_page("Internt fel", "Ett oväntat fel inträffade; det är loggat. Försök igen.", 500)


# -- formatting ---------------------------------------------------------------------------------


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


@bp.app_template_filter("tid")
def _time(value: Any) -> str:
    """An instant as Swedish local time, 2026-03-03 23:59."""
    at = _parse(value)
    if at is None:
        return "–" if not value else str(value)
    if at.tzinfo is None:
        return at.strftime("%Y-%m-%d %H:%M")
    return at.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


def _span(seconds: float) -> str:
    seconds = abs(seconds)
    days = int(seconds // 86400)
    hours = int(seconds % 86400 // 3600)
    if days >= 2:
        return f"{days} dagar"
    if days == 1:
        return f"1 dag {hours} tim" if hours else "1 dag"
    if hours >= 1:
        return f"{hours} tim"
    return f"{max(1, int(seconds // 60))} min"


@bp.app_template_filter("kvar")
def _left(value: Any) -> str:
    """How far away an instant is from now (the engine's clock): 'om 2 dagar', '3 dagar sedan'."""
    at = _parse(value)
    if at is None or at.tzinfo is None:
        return ""
    delta = (at - _engine().clock.now()).total_seconds()
    return f"om {_span(delta)}" if delta >= 0 else f"{_span(delta)} sedan"


@bp.app_template_filter("varaktighet")
def _duration(seconds: Any) -> str:
    """A number of seconds as days and hours."""
    try:
        return _span(float(seconds))
    except (TypeError, ValueError):
        return ""


@bp.app_template_filter("roll")
def _role(candidate: str) -> str:
    """A task candidate ('role:registrator@kansli', 'user:anna') as a person reads it."""
    kind, _, key = candidate.partition(":")
    if kind == "user":
        return key
    name, _, unit = key.partition("@")
    return f"{name} ({unit})" if unit else name


# -- signing in -----------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only. Browsers drop tabs and newlines
    from a URL and read a backslash as a slash, so "/\t/evil.example" would leave the site."""
    if not target or not target.startswith("/") or any(c.isspace() or ord(c) < 32 or c == "\\" for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return "/"
    return parts.path + (f"?{parts.query}" if parts.query else "")


# A browser the person has signed in from before carries this signed cookie: its sign-in attempts
# for that name are counted on their own (engine.signin), so guesses sent from elsewhere do not
# lock the person out of it.
BROWSER_COOKIE = "rutin_browser"
BROWSER_COOKIE_DAYS = 180


def _browser_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(str(current_app.secret_key), salt="rutin-sign-in-browser")


def _known_browser(name: str) -> str | None:
    """This browser's key if its cookie says `name` has signed in here before."""
    try:
        found = _browser_serializer().loads(request.cookies.get(BROWSER_COOKIE, ""))
    except BadSignature:
        return None
    if isinstance(found, dict) and found.get("user") == name and isinstance(found.get("key"), str):
        return str(found["key"])
    return None


def client_address() -> str | None:
    """The client's address: the connection's, or the one trusted proxies forward
    (`RUTIN_TRUSTED_PROXIES`, applied by the app)."""
    return request.remote_addr


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with user name and password (attempts are counted against guessing)."""
    error = None
    name = ""
    status = 200
    retry_after = None
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        browser = _known_browser(name)
        try:
            actor = signin.sign_in(_engine(), name, request.form.get("password", ""), address=client_address(),
                                   browser=browser)
        except TooManyAttempts as exc:
            error, status, retry_after = exc.detail, exc.status, exc.extra.get("retry_after")
        except Unauthorized as exc:
            error, status = exc.detail, exc.status
        else:
            session.clear()
            session.permanent = True  # the cookie lasts RUTIN_SESSION_HOURS, not until the browser closes
            session["user"] = actor.name
            session["generation"] = identity.session_generation(_engine(), actor.name)
            session["since"] = _engine().clock.now().isoformat()
            session["csrf"] = secrets.token_urlsafe(24)
            response = redirect(_safe_next(request.args.get("next")))
            response.set_cookie(
                BROWSER_COOKIE,
                _browser_serializer().dumps({"user": actor.name, "key": browser or secrets.token_urlsafe(18)}),
                max_age=BROWSER_COOKIE_DAYS * 86400, path=url_for("pages.login"), httponly=True, samesite="Lax",
                secure=request.is_secure)
            return response
    body = render_template("login.html", error=error, name=name, next=_safe_next(request.args.get("next")))
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    return body, status, headers


@bp.post("/logout")
def logout() -> Response:
    """Sign out: this person's sessions end on the server too (every browser they are signed in
    in), so a copy of the cookie is worth nothing afterwards."""
    actor = _session_actor()
    if actor is not None:
        identity.end_sessions(_engine(), actor.name)
    session.clear()
    flash("Du är utloggad.")
    return redirect(url_for("pages.login"))  # type: ignore[return-value]


# -- the inbox and tasks --------------------------------------------------------------------------


def _page_number() -> int:
    return int_arg("sida", 1, minimum=1, maximum=MAX_PAGE)


@bp.get("/")
@signed_in
def inbox() -> str:
    """The handler's inbox."""
    views = {**VIEWS, **UNIT_VIEW} if g.actor.manages else VIEWS
    view = request.args.get("visa", "all")
    if view not in views:
        view = "all"
    sort = request.args.get("sortera", "created")
    if sort not in SORTINGS:
        sort = "created"
    page = _page_number()
    filters: dict[str, Any] = {}
    if view == "mine":
        filters["assignee"] = "me"
    elif view == "unclaimed":
        filters["candidate"] = "me"
    elif view == "overdue":
        filters["overdue"] = True
    elif view == "unit":
        filters["unit"] = "mine"
    column, order, _ = SORTINGS[sort]
    listing = tasks.list_tasks(_engine(), g.actor, sort=column, order=order, limit=PAGE_SIZE,
                               offset=(page - 1) * PAGE_SIZE, **filters)
    pages = max(1, math.ceil(listing["total"] / PAGE_SIZE))
    return render_template("inbox.html", listing=listing, view=view, views=views, sort=sort, sortings=SORTINGS,
                           page=page, pages=pages)


def _defaults(row: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in row.get("form") or []:
        if f.get("default") is not None:
            values[f["id"]] = f["default"]
    return values


@bp.get("/tasks/<task_id>")
@signed_in
def task(task_id: str, error: str | None = None, errors: list[dict[str, str]] | None = None,
         status: int = 200, values: dict[str, Any] | None = None) -> Any:
    """One task: what to do, its form or options, and the case it belongs to."""
    row = tasks.get_task(_engine(), g.actor, task_id)
    case = cases.get_case(_engine(), g.actor, row["case_id"])
    comments = [e for e in case.get("history", []) if e["type"] == "comment"
                and e.get("task_id") in (None, task_id)]
    return render_template(
        "task.html", task=row, case=case, error=error, comments=comments, fields=FieldNames(case["process_version_id"]),
        errors={e["field"]: e["message"] for e in errors or []},
        values=values if values is not None else _defaults(row),
        chosen=request.form.getlist("choice") if request.method == "POST" else [],
        ask_jav=bool(row.get("decision_under_ordinance")),
    ), status


def _act(task_id: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except RutinError as exc:
        return task(task_id, error=exc.detail, errors=exc.extra.get("errors"), status=exc.status,
                    values=_entered())


def _entered() -> dict[str, Any]:
    """What the handler entered, to show again after an error: every ticked box of a checklist,
    one value for the other fields."""
    return {k: v if len(v) > 1 else v[0] for k, v in request.form.to_dict(flat=False).items()}


@bp.post("/tasks/<task_id>/assign")
@signed_in
def assign(task_id: str) -> Any:
    """Give the task to someone (a manager of its unit, an administrator)."""

    def run() -> Any:
        user = request.form.get("user", "").strip()
        if not user:
            raise InvalidInput("Skriv användarnamnet på den som ska få uppgiften.")
        tasks.assign(_engine(), g.actor, task_id, user)
        flash(f"Uppgiften är tilldelad {user}.")
        return redirect(url_for("pages.task", task_id=task_id))

    return _act(task_id, run)


@bp.post("/tasks/<task_id>/claim")
@signed_in
def claim(task_id: str) -> Any:
    """Take the task."""

    def run() -> Any:
        tasks.claim(_engine(), g.actor, task_id)
        flash("Du har tagit uppgiften.")
        return redirect(url_for("pages.task", task_id=task_id))

    return _act(task_id, run)


@bp.post("/tasks/<task_id>/unclaim")
@signed_in
def unclaim(task_id: str) -> Any:
    """Give the task back."""

    def run() -> Any:
        tasks.unclaim(_engine(), g.actor, task_id)
        flash("Uppgiften är tillbaka hos rollen.")
        return redirect(url_for("pages.task", task_id=task_id))

    return _act(task_id, run)


@bp.post("/tasks/<task_id>/jav")
@signed_in
def declare_conflict(task_id: str) -> Any:
    """Declare jäv: the decision goes to the substitute."""

    def run() -> Any:
        delegation.declare_conflict(_engine(), g.actor, task_id, request.form.get("reason") or None)
        flash("Jäv är anmält; beslutet går till ersättaren.")
        return redirect(url_for("pages.inbox"))

    return _act(task_id, run)


@bp.post("/tasks/<task_id>/comments")
@signed_in
def comment(task_id: str) -> Any:
    """Comment on the task; the comment is kept in the case's history."""

    def run() -> Any:
        tasks.comment(_engine(), g.actor, text=request.form.get("text", ""), task_id=task_id)
        flash("Kommentaren är sparad.")
        return redirect(url_for("pages.task", task_id=task_id) + "#kommentarer")

    return _act(task_id, run)


# What the pages' own forms post beside a step's (or the start form's) fields.
_TASK_CONTROLS = frozenset({"csrf", "choice", "no_conflict_of_interest"})
_START_CONTROLS = frozenset({"csrf", "business_key", "org_unit"})


def _form_data(fields: list[dict[str, Any]], controls: frozenset[str] = _TASK_CONTROLS) -> dict[str, Any]:
    """The posted form's fields as the engine takes them; anything else posted goes along as sent,
    for the engine to refuse by name (a page never quietly drops what someone tried to submit)."""
    declared = {f["id"] for f in fields}
    data: dict[str, Any] = {k: request.form.get(k) for k in request.form if k not in declared and k not in controls}
    for f in fields:
        if (f.get("type") or "string").lower() == "boolean":
            data[f["id"]] = request.form.get(f["id"]) == "on"
            continue
        if (f.get("type") or "").lower() == "list":
            # checkboxes, one value each; or one text field with the values separated by commas
            chosen = request.form.getlist(f["id"]) if f.get("options") else \
                [v.strip() for v in request.form.get(f["id"], "").split(",")]
            chosen = [v for v in chosen if v]
            if chosen:
                data[f["id"]] = chosen
            continue
        value = request.form.get(f["id"], "").strip()
        if not value:
            continue
        if (f.get("type") or "").lower() in NUMBER_TYPES:
            try:
                number = float(value.replace(",", ".").replace(" ", ""))
            except ValueError:
                number = math.nan
            # "nan", "inf" and 1e999 are floats to Python, but no number a form means (nor JSON)
            data[f["id"]] = number if math.isfinite(number) else value  # the engine says what is wrong
            continue
        data[f["id"]] = value
    return data


def _next_for_me(open_tasks: list[dict[str, Any]]) -> str | None:
    """The case's next open task if it is the signed-in person's to do."""
    actor = g.actor
    for nxt in open_tasks:
        if nxt.get("assignee") not in (None, actor.name):
            continue
        keys = [c.split(":", 1)[1] for c in nxt.get("candidates", [])]
        if nxt.get("assignee") == actor.name or actor.name in keys or any(k in actor.roles for k in keys):
            return str(nxt["id"])
    return None


@bp.post("/tasks/<task_id>/complete")
@signed_in
def complete(task_id: str) -> Any:
    """Complete the task, then go on to the case's next task if it is one's own to do."""
    engine = _engine()

    def run() -> Any:
        row = tasks.get_task(engine, g.actor, task_id)
        choice: Any = None
        if row["kind"] == "decision":
            choice = request.form.getlist("choice") if row.get("multiple") else request.form.get("choice")
            if not choice:
                raise InvalidInput("Välj ett av alternativen.")
        confirmed = request.form.get("no_conflict_of_interest") == "on"
        if row.get("decision_under_ordinance") and not confirmed:
            raise InvalidInput(JAV_MISSING)
        result = tasks.complete(engine, g.actor, task_id, _form_data(row.get("form") or []), choice,
                                no_conflict_of_interest=True if confirmed else None)
        flash(f"”{row['name']}” är klar.")
        nxt = _next_for_me(result["case"]["open_tasks"])
        if nxt:
            return redirect(url_for("pages.task", task_id=nxt))
        return redirect(url_for("pages.case", case_id=result["case"]["id"]))

    return _act(task_id, run)


# -- cases and processes ----------------------------------------------------------------------------


@bp.get("/cases")
@signed_in
def case_list() -> str:
    """Cases the signed-in person may see, newest first."""
    page = _page_number()
    status = request.args.get("status") or None
    if status not in (None, *cases.CASE_STATUSES):
        status = None
    listing = cases.list_cases(_engine(), g.actor, status=status, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max(1, math.ceil(listing["total"] / PAGE_SIZE))
    return render_template("cases.html", listing=listing, status=status, page=page, pages=pages)


class FieldNames:
    """How a process's forms name its data: each field's label, and each choice's name, so a case's
    data reads as the forms asked for it ("Källa: Klagomål", not "kalla: klagomal"). Where no form
    defines a name, the raw one is shown."""

    def __init__(self, version_id: int) -> None:
        self.labels: dict[str, str] = {}
        self.choices: dict[str, dict[str, str]] = {}
        self.booleans: set[str] = set()
        for step in _engine().model(version_id).steps.values():
            for f in step.form:
                if f.label and f.id not in self.labels:
                    self.labels[f.id] = f.label
                if f.options and f.id not in self.choices:
                    self.choices[f.id] = {str(o.get("id")): str(o.get("name") or o.get("id")) for o in f.options}
                if (f.type or "").lower() == "boolean":
                    self.booleans.add(f.id)

    def label(self, key: str) -> str:
        """The field's label, else its name."""
        return self.labels.get(key, key)

    def value(self, key: str, value: Any) -> Any:
        """A value as the form shows it: a choice by its name, yes/no in Swedish; else as it is."""
        if isinstance(value, bool) and (key in self.booleans or key not in self.choices):
            return "Ja" if value else "Nej"
        names = self.choices.get(key)
        if names is None:
            return value
        if isinstance(value, list):
            return ", ".join(names.get(str(v), str(v)) for v in value)
        return names.get(str(value), value)


@bp.get("/cases/<case_id>")
@signed_in
def case(case_id: str, *, error: str | None = None, status: int = 200) -> Any:
    """A case: where it stands, its data, its history, and the diagram with its open steps."""
    data = cases.get_case(_engine(), g.actor, case_id)
    open_ids = sorted({t["element_id"] for t in data["open_tasks"] if t.get("element_id")})
    done = sorted({e["element_id"] for e in data["history"] if e["type"] == "task_completed" and e["element_id"]}
                  - set(open_ids))
    tree = org.tree(_engine())
    unit = tree.units.get(data["org_unit"]) if data.get("org_unit") else None
    # The hand-over form is for those who answer for the case's unit (engine.transfer checks again).
    offered = data["status"] in transfer.OPEN and transfer.may_transfer(g.actor, data.get("org_unit"))
    units = sorted(((u.id, u.name) for u in tree.units.values() if u.id != data.get("org_unit")),
                   key=lambda u: u[1].casefold()) if offered else []
    names = {u.id: u.name for u in tree.units.values()}
    return render_template("case.html", case=data, done=done, open_ids=open_ids, units=units, error=error,
                           unit_name=getattr(unit, "name", None), unit_names=names,
                           fields=FieldNames(data["process_version_id"])), status


@bp.post("/cases/<case_id>/lamna-over")
@signed_in
def transfer_case(case_id: str) -> Any:
    """Hand the case over to another unit, with the reason (the unit's manager, an admin)."""
    try:
        moved = transfer.transfer_case(_engine(), g.actor, case_id, request.form.get("unit", ""),
                                       request.form.get("reason", ""))
    except (InvalidInput, Conflict) as exc:
        return case(case_id, error=exc.detail, status=exc.status)
    flash(f"Ärendet är överlämnat till {org.tree(_engine()).units[moved['org_unit']].name}.")
    try:
        cases.get_case(_engine(), g.actor, case_id)
    except Forbidden:  # it has left the units this manager answers for
        return redirect(url_for("pages.case_list"))
    return redirect(url_for("pages.case", case_id=case_id))


REPORTING_LABELS = {"anmals": "Anmäls till nämnden", "protokollfors": "Protokollförs särskilt",
                    "none": "Anmäls inte (verkställighet)"}


def _local_day(name: str, *, next_day: bool = False) -> datetime | None:
    """A date from the query (ÅÅÅÅ-MM-DD) as the instant its Swedish day begins (the next day's,
    `next_day`: a period "till" a date includes it)."""
    text = (request.args.get(name) or "").strip()
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput(f"Ange datumet som ÅÅÅÅ-MM-DD, inte {text[:40]!r}.") from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise InvalidInput(f"Ange ett datum mellan år {EARLIEST_YEAR} och {LATEST_YEAR}.")
    if next_day:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), tzinfo=STOCKHOLM)


@bp.get("/delegationsbeslut")
@signed_in
def delegation_report() -> Any:
    """Delegated decisions for the committee's report (anmälan av delegationsbeslut): by
    committee, period and reporting mode, and the same list as CSV for the meeting's papers."""
    engine = _engine()
    filters = {k: (request.args.get(k) or "").strip() for k in ("namnd", "fran", "till", "rapportering")}
    rows = delegation.report(engine, g.actor, committee=filters["namnd"] or None, since=_local_day("fran"),
                             until=_local_day("till", next_day=True), reporting=filters["rapportering"] or None)
    if request.args.get("format") == "csv":
        return csv_download(delegation.report_csv(rows), "delegationsbeslut.csv")
    readable = delegation.readable_committees(engine, g.actor)
    committees = sorted(readable) if readable is not None else sorted(
        {u.committee for u in org.tree(engine).units.values() if u.committee})
    return render_template("delegation_report.html", rows=rows, committees=committees, filters=filters,
                           reporting_label=REPORTING_LABELS,
                           csv_url=url_for("pages.delegation_report", format="csv", namnd=filters["namnd"] or None,
                                           fran=filters["fran"] or None, till=filters["till"] or None,
                                           rapportering=filters["rapportering"] or None))


@bp.get("/matetal")
@signed_in
def measure_report() -> Any:
    """Process measures over a period for management review (ISO 9001 9.1), and one process's
    steps when it is chosen; either table as CSV."""
    filters = {k: (request.args.get(k) or "").strip() for k in ("fran", "till", "process")}
    found = measures.measures(_engine(), g.actor, since=_local_day("fran"), until=_local_day("till", next_day=True),
                              process=filters["process"] or None)
    if request.args.get("format") == "csv":
        return csv_download(measures.as_csv(found), "matetal.csv")
    chosen = next((p for p in found["processes"] if p["process_key"] == filters["process"]), None)
    fran, till = filters["fran"] or None, filters["till"] or None
    return render_template("measures.html", found=found, filters=filters, chosen=chosen,
                           csv_processes=url_for("pages.measure_report", format="csv", fran=fran, till=till),
                           csv_steps=url_for("pages.measure_report", format="csv", process=filters["process"] or None,
                                             fran=fran, till=till))


@bp.get("/processes")
@signed_in
def process_list() -> str:
    """Deployed processes, and the upload form for designers."""
    return render_template("processes.html", items=processes.list_processes(_engine()), result=None,
                           startable=_startable())


def _startable() -> set[str]:
    """The processes the signed-in person may start cases of: only to them the list offers "Starta"."""
    engine = _engine()
    return {p["key"] for p in processes.list_processes(engine) if starting.offer(engine, g.actor, p["key"])}


@bp.post("/processes")
@signed_in
def upload() -> Any:
    """Upload a BPMN file (with any Camunda Forms); show what Rutin found."""
    engine = _engine()
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return render_template("processes.html", items=processes.list_processes(engine), startable=_startable(),
                               result={"error": "Välj en BPMN-fil.", "diagnostics": []}), 400
    forms = {f.filename or "": f.read() for f in request.files.getlist("forms") if f.filename}
    try:
        deployed = processes.deploy(engine, g.actor, upload_file.read(), upload_filename(upload_file.filename), forms)
    except RutinError as exc:
        result = {"error": exc.detail, "filename": upload_file.filename,
                  "diagnostics": exc.extra.get("diagnostics", [])}
        return render_template("processes.html", items=processes.list_processes(engine), result=result,
                               startable=_startable()), exc.status
    result = {"deployed": [d.to_json() for d in deployed], "filename": upload_file.filename,
              "diagnostics": [x for d in deployed for x in d.diagnostics]}
    return render_template("processes.html", items=processes.list_processes(engine), result=result,
                           startable=_startable()), 201


@bp.get("/processes/<key>")
@signed_in
def process(key: str) -> str:
    """A process with its versions; approve a draft, start a case (offered only to whom may)."""
    engine = _engine()
    tree = org.tree(engine)
    offer = starting.offer(engine, g.actor, key)
    units = sorted(((u, tree.units[u].name) for u in offer["units"]), key=lambda u: u[1]) if offer else []
    default = tree.units.get(offer["default_unit"]) if offer and offer["default_unit"] else None
    return render_template("process.html", process=processes.get_process(engine, key), units=units, offer=offer,
                           default_unit=default, approvable=ownership.approvable(engine, g.actor, key),
                           start_form=_start_form(key))


def _start_form(key: str) -> list[dict[str, Any]]:
    """The start form's fields of the process's published version (none before one is published)."""
    published = [v for v in processes.get_process(_engine(), key)["versions"] if v["status"] == "published"]
    return [asdict(f) for f in _engine().model(published[0]["id"]).start_form] if published else []


@bp.post("/processes/<key>/versions/<int:number>/approve")
@signed_in
def approve(key: str, number: int) -> Response:
    """Approve a draft version."""
    processes.approve(_engine(), g.actor, key, number)
    flash(f"Version {number} är godkänd och publicerad.")
    return redirect(url_for("pages.process", key=key))  # type: ignore[return-value]


@bp.post("/processes/<key>/cases")
@signed_in
def start(key: str) -> Response:
    """Start a case and go to it."""
    data = _form_data(_start_form(key), _START_CONTROLS)
    started = cases.start_case(_engine(), g.actor, key, data, request.form.get("business_key", "").strip() or None,
                               request.form.get("org_unit") or None)
    flash("Ärendet är startat.")
    return redirect(url_for("pages.case", case_id=started["id"]))  # type: ignore[return-value]


@bp.get("/processes/<key>/versions/<int:number>/diagram")
@signed_in
def diagram(key: str, number: int) -> Response:
    """A version's XML for the diagram viewer (which fetches it); opened directly, a download."""
    return diagram_download(processes.version_xml(_engine(), key, number), key, number)


@bp.get("/notifications")
@signed_in
def notification_list() -> str:
    """One's notifications, newest first."""
    return render_template("notifications.html", listing=notifications.list_for(_engine(), g.actor))


@bp.get("/notifications/badge")
def notification_badge() -> Any:
    """The menu's unread count, for htmx to poll; 286 (htmx: stop polling) once signed out."""
    g.actor = _session_actor()
    if g.actor is None:
        return Response("", status=286)
    return render_template("_badge.html")


@bp.post("/notifications/<int:notification_id>/read")
@signed_in
def notification_read(notification_id: int) -> Response:
    """Mark a notification read."""
    notifications.mark_read(_engine(), g.actor, notification_id)
    return redirect(url_for("pages.notification_list"))  # type: ignore[return-value]


# -- tokens and the security log --------------------------------------------------------------


@bp.get("/tokens")
@signed_in
def token_list(created: dict[str, Any] | None = None, error: str | None = None, status: int = 200) -> Any:
    """One's tokens (administrators and auditors: everyone's with ?alla=1), the form that makes a
    new one, and a new one's value, shown this once."""
    everyone = request.args.get("alla") == "1" and g.actor.is_auditor
    listing = accounts.list_tokens(_engine(), g.actor, everyone=everyone)
    settings = _engine().settings
    return render_template("tokens.html", listing=listing, created=created, error=error, everyone=everyone,
                           default_days=settings.token_days, max_days=settings.token_max_days), status


@bp.post("/tokens")
@signed_in
def token_create() -> Any:
    """Make a token; the answer is the page itself, with the value (never a redirect, whose flash
    message would carry it in the cookie)."""
    days_text = request.form.get("days", "").strip()
    try:
        days = int(days_text) if days_text else None
        if days_text and not days_text.isdigit():
            raise ValueError
    except ValueError:
        return token_list(error="Ange antal dagar som ett heltal.", status=422)
    try:
        created = accounts.create_token(_engine(), g.actor, label=request.form.get("name", ""), days=days)
    except InvalidInput as exc:
        return token_list(error=exc.detail, status=exc.status)
    return token_list(created=created, status=201)


@bp.post("/tokens/<int:token_id>/revoke")
@signed_in
def token_revoke(token_id: int) -> Response:
    """Revoke a token (its owner, or an administrator)."""
    revoked = accounts.revoke_token(_engine(), g.actor, token_id)
    flash(f"Token {revoked['name']} är återkallad.")
    back = url_for("pages.token_list", alla="1") if request.form.get("alla") == "1" else url_for("pages.token_list")
    return redirect(back)  # type: ignore[return-value]


@bp.get("/sakerhetslogg")
@signed_in
def security_log_page() -> Any:
    """The security log for administrators and auditors (?anvandare= narrows it), and as CSV."""
    user = (request.args.get("anvandare") or "").strip() or None
    if request.args.get("format") == "csv":
        return csv_download(security_log.as_csv(_engine(), g.actor, user=user), "sakerhetslogg.csv")
    page = _page_number()
    found = security_log.entries(_engine(), g.actor, user=user, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render_template("security_log.html", found=found, user=user or "", page=page, page_size=PAGE_SIZE,
                           csv_url=url_for("pages.security_log_page", format="csv", anvandare=user))


@bp.get("/static/vendor/<path:name>")
def vendor(name: str) -> Response:
    """A front-end library file from node_modules, if it is on the allow-list."""
    if name not in VENDOR:
        abort(404)
    path = NODE_MODULES / VENDOR[name]
    if not path.is_file():
        abort(404)
    return send_file(path, max_age=3600)
