"""What every area of the pages shares: the ``pages`` blueprint the areas nest in, who is signed
in, the CSRF check, the Swedish error pages, the template filters and the allow-listed
front-end libraries; and the helpers more than one area uses (paging, a form's fields as the
engine takes them, a process's field names)."""

from __future__ import annotations

import logging
import math
import re
import secrets
from collections.abc import Callable
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
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from bpmn.dates import spec_in_words
from engine.authority import identity
from engine.authority.identity import Actor
from engine.base.errors import RutinError
from engine.base.labels import (
    ACTOR_LABELS,
    APPROVAL_VIA,
    ESCALATION_ACTIONS,
    EVENT_LABELS,
    HTTP_PROBLEMS,
    PROBLEM_TITLES,
    PROCESS_EVENT_LABELS,
    SEVERITY_LABELS,
    STATUS_LABELS,
)
from engine.core import Engine
from engine.routing import delegation, notifications
from engine.service import measures

from ..params import int_arg

log = logging.getLogger(__name__)

bp = Blueprint("pages", __name__)
NODE_MODULES = Path(__file__).resolve().parent.parent.parent / "node_modules"
VENDOR = {
    "bpmn-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-font/css/bpmn-embedded.css": "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css",
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
}
PAGE_SIZE = 25
MAX_PAGE = 100_000
STOCKHOLM = ZoneInfo("Europe/Stockholm")
NUMBER_TYPES = {"double", "float", "decimal"}
CLOCK_SKEW = timedelta(minutes=5)


def current_engine() -> Engine:
    """The app's engine."""
    return cast(Engine, current_app.extensions["rutin"])


def session_actor() -> Actor | None:
    """Who the session cookie says is signed in, if the session still holds: signed in less than
    `RUTIN_SESSION_HOURS` ago (by the engine's clock), and not ended since by signing out (the
    person's session generation, kept with the user, is still the one signed in under)."""
    name = session.get("user")
    if not name:
        return None
    engine = current_engine()
    since = parse_instant(session.get("since"))
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
        actor = session_actor()
        if actor is None:
            session.clear()
            if had_session:
                flash("Sessionen har gått ut eller avslutats; logga in igen.")
            return redirect(url_for("pages.signin.login", next=request.full_path.rstrip("?")))
        g.actor = actor
        if not actor.has_role:
            # Signed in, but holding no role (all removed, or none given yet): told so, and nothing else.
            return error_page("Ingen roll", identity.NO_ROLE, 403)
        return view(*args, **kwargs)

    return wrapper


def _in_pages() -> bool:
    """Whether the request is for one of the pages (any area's blueprint nests in ``pages``)."""
    return "pages" in request.blueprints


def _back() -> str:
    """Where an error page's link leads: the page the person came from on this site, else the inbox."""
    ref = request.referrer
    if ref:
        parts = urlsplit(ref)
        if parts.netloc == request.host and parts.path.startswith("/"):
            return parts.path + (f"?{parts.query}" if parts.query else "")
    return url_for("pages.tasks.inbox")


def error_page(title: str, detail: str, status: int) -> tuple[str, int]:
    """The Swedish error page, with a link back."""
    return render_template("error.html", title=title, detail=detail, status=status, back=_back()), status


@bp.before_app_request
def _csrf() -> Any:
    if not _in_pages():
        return None
    session.setdefault("csrf", secrets.token_urlsafe(24))
    sent = request.form.get("csrf", "").encode() if request.method == "POST" else b""
    if request.method == "POST" and not secrets.compare_digest(sent, str(session["csrf"]).encode()):
        return error_page("Formuläret har gått ut",
                          "Formuläret har gått ut eller kom inte från Rutin; ladda om sidan och försök igen.", 400)
    return None


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    actor = g.get("actor")
    unread = 0
    if actor is not None:
        try:
            unread = notifications.list_for(current_engine(), actor, unread=True, limit=1)["unread"]
        except RutinError:
            unread = 0
    # The menu offers the reports to those who may read them (the engine says who). Called from
    # the menu only, so the partials polled by htmx (the notification badge) do not ask.

    def reads_decisions() -> bool:
        return actor is not None and delegation.readable_committees(current_engine(), actor) != set()

    def reads_measures() -> bool:
        return actor is not None and measures.readable_processes(current_engine(), actor) != set()

    return {"actor": actor, "csrf": session.get("csrf", ""), "unread": unread, "status_label": STATUS_LABELS,
            "reads_decisions": reads_decisions, "reads_measures": reads_measures,
            "severity_label": SEVERITY_LABELS, "event_label": EVENT_LABELS,
            "escalation_action": ESCALATION_ACTIONS, "actor_label": ACTOR_LABELS,
            "approval_via": APPROVAL_VIA, "process_event_labels": PROCESS_EVENT_LABELS}


# (handlers of the outer blueprint answer for the areas nested in it too)
@bp.errorhandler(RutinError)
def _error(exc: RutinError) -> tuple[str, int]:
    return error_page(exc.title, exc.detail, exc.status)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[str, int]:
    return http_error_page(exc)


def http_error_page(exc: HTTPException) -> tuple[str, int]:
    """The Swedish error page for an HTTP error (also for addresses no page or API call answers,
    when a browser asks: see `webapp.problems`)."""
    code = exc.code or 500
    if g.get("actor") is None and not _in_pages():
        # an address outside the pages: the menu shows who is signed in, if anyone is
        g.actor = session_actor()
    detail = {
        400: "Begäran kunde inte förstås.",
        403: "Du har inte behörighet till sidan.",
        404: "Sidan finns inte.",
        405: "Sidan kan inte användas så.",
        413: "Filen är större än vad som tillåts.",
    }.get(code, "Begäran kunde inte utföras.")
    title = PROBLEM_TITLES[HTTP_PROBLEMS[code]] if code in HTTP_PROBLEMS else "Fel"
    return error_page(title, detail, code)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> tuple[str, int]:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_page(PROBLEM_TITLES["internal"], "Ett oväntat fel inträffade; det är loggat. Försök igen.", 500)


@bp.get("/static/vendor/<path:name>")
def vendor(name: str) -> Response:
    """A front-end library file from node_modules, if it is on the allow-list."""
    if name not in VENDOR:
        abort(404)
    path = NODE_MODULES / VENDOR[name]
    if not path.is_file():
        abort(404)
    return send_file(path, max_age=3600)


# -- formatting ---------------------------------------------------------------------------------


def parse_instant(value: Any) -> datetime | None:
    """An instant from a datetime or its ISO text; None for nothing or for text that is none."""
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
    at = parse_instant(value)
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
    at = parse_instant(value)
    if at is None or at.tzinfo is None:
        return ""
    delta = (at - current_engine().clock.now()).total_seconds()
    return f"om {_span(delta)}" if delta >= 0 else f"{_span(delta)} sedan"


@bp.app_template_filter("forsening")
def _late_by(value: Any) -> str:
    """How long ago an instant passed (the engine's clock), for "Försenad med 2 dagar"."""
    at = parse_instant(value)
    if at is None or at.tzinfo is None:
        return ""
    return _span(max(0.0, (current_engine().clock.now() - at).total_seconds()))


@bp.app_template_filter("varaktighet")
def _duration(seconds: Any) -> str:
    """A number of seconds as days and hours."""
    try:
        return _span(float(seconds))
    except (TypeError, ValueError):
        return ""


@bp.app_template_filter("namn")
def _person(name: Any) -> str:
    """A person as others know them: by display name, never by login (the system as "systemet");
    a name no user has, as it is. Looked up once per request and name."""
    if not name:
        return ""
    name = str(name)
    if name in ACTOR_LABELS:
        return ACTOR_LABELS[name]
    known: dict[str, str] = g.setdefault("display_names", {})
    if name not in known:
        known.update(identity.display_names(current_engine(), {name}))
        known.setdefault(name, name)
    return known[name]


@bp.app_template_filter("frist")
def _due_in_words(text: Any, fields: FieldNames | None = None) -> str:
    """A step's due or follow-up date as the diagram writes it, in words ("2 arbetsdagar",
    "senast 10 veckor efter inkom"); a case variable by its form label when `fields` are given."""
    if not text:
        return "–"

    def name(variable: str) -> str:
        label = fields.label(variable) if fields is not None else variable
        return label[:1].lower() + label[1:] if label[1:2].islower() else label

    return spec_in_words(str(text), name)


# An expression of the diagram quoted in a message for its designer ('${ansvarig}', #{x}).
_EXPRESSION = re.compile(r"[$#]\{[^{}]*\}")


@bp.app_template_filter("uttryck")
def _expressions_as_code(text: Any) -> Markup:
    """A message to a process designer with the diagram's expressions it quotes marked as code
    (shown as what they wrote, apart from the sentence around them)."""
    text = str(text or "")
    parts: list[Markup] = []
    at = 0
    for m in _EXPRESSION.finditer(text):
        parts += [escape(text[at:m.start()]), Markup("<code>{}</code>").format(m.group(0))]
        at = m.end()
    parts.append(escape(text[at:]))
    return Markup("").join(parts)


@bp.app_template_filter("stegroll")
def _step_role(role: Any, fields: FieldNames | None = None) -> str:
    """A step's role as the process page lists it: a role by name; one the case's data gives
    (``${agare}``) as that, by the field's label."""
    if not role:
        return "–"
    m = re.fullmatch(r"\s*[$#]\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\s*", str(role))
    if m is None:
        return str(role)
    name = fields.label(m.group(1)) if fields is not None else m.group(1)
    return f"den som ärendets uppgift ”{name}” anger"


@bp.app_template_filter("roll")
def _role(candidate: str) -> str:
    """A task candidate ('role:registrator@kansli', 'user:anna') as a person reads it."""
    kind, _, key = candidate.partition(":")
    if kind == "user":
        return _person(key)
    name, _, unit = key.partition("@")
    return f"{name} ({unit})" if unit else name


# -- shared by the areas ----------------------------------------------------------------------------


def page_number() -> int:
    """The page of a listing the query asks for (``sida``)."""
    return int_arg("sida", 1, minimum=1, maximum=MAX_PAGE)


def page_count(total: int) -> int:
    """How many pages a listing of `total` rows takes (at least one, empty)."""
    return max(1, math.ceil(total / PAGE_SIZE))


# What the pages' own forms post beside a step's (or the start form's) fields.
TASK_CONTROLS = frozenset({"csrf", "choice", "no_conflict_of_interest"})
START_CONTROLS = frozenset({"csrf", "business_key", "org_unit"})


def form_data(fields: list[dict[str, Any]], controls: frozenset[str] = TASK_CONTROLS) -> dict[str, Any]:
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


class FieldNames:
    """How a process's forms name its data: each field's label, and each choice's name, so a case's
    data reads as the forms asked for it ("Källa: Klagomål", not "kalla: klagomal"). Where no form
    defines a name, the raw one is shown."""

    def __init__(self, version_id: int) -> None:
        self.labels: dict[str, str] = {}
        self.choices: dict[str, dict[str, str]] = {}
        self.booleans: set[str] = set()
        model = current_engine().model(version_id)
        for form in [model.start_form, *(step.form for step in model.steps.values())]:
            for f in form:
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
        """A value as the form shows it: a choice by its name, yes/no in Swedish, a list as its
        values separated by commas; else as it is."""
        if isinstance(value, bool) and (key in self.booleans or key not in self.choices):
            return "Ja" if value else "Nej"
        names = self.choices.get(key, {})
        if isinstance(value, list):
            return ", ".join(str(names.get(str(v), v)) for v in value)
        return names.get(str(value), value) if names else value

    def shown(self, data: dict[str, Any] | None) -> list[tuple[str, str, Any]]:
        """A case's (or a step's) data as a person reads it: (key, label, value) of each field a
        form collected or the case was given, never the engine's own variables (``rutin_…``, the
        choices it records by gateway and flow id) nor values that are structures."""
        rows = []
        for key, value in (data or {}).items():
            if is_internal(key, value):
                continue
            rows.append((key, self.label(key), self.value(key, value)))
        return rows


def is_internal(key: str, value: Any) -> bool:
    """Whether a data entry is the engine's own, not something a form or the start data gave:
    its name marks it (``rutin_``, ``_``), or it is a structure no form field holds."""
    if key.startswith(("rutin_", "_")) or isinstance(value, dict):
        return True
    return isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)
