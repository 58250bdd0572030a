"""Pages for people: sign in, the inbox, a task, a case with its diagram, processes.

Server-rendered (Jinja2), in Swedish, on the same engine functions as the API. A signed session
cookie carries who is signed in (checked against the database on each request); every form POST
carries a per-session CSRF token. Front-end libraries (bpmn-js, htmx) come from npm's
``node_modules`` and are served from an allow-list, never copied into the repository.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)

from engine import cases, delegation, identity, notifications, processes, tasks
from engine.core import Engine
from engine.errors import RutinError, Unauthorized

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


def _engine() -> Engine:
    return current_app.extensions["rutin"]  # type: ignore[no-any-return]


def signed_in(view: Callable[..., Any]) -> Callable[..., Any]:
    """Require a signed-in person; redirect to the sign-in page otherwise."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        name = session.get("user")
        if not name:
            return redirect(url_for("pages.login", next=request.path))
        try:
            g.actor = identity.get_actor(_engine(), name)
        except RutinError:
            session.clear()
            return redirect(url_for("pages.login"))
        return view(*args, **kwargs)

    return wrapper


@bp.before_app_request
def _csrf() -> None:
    if request.blueprint != "pages":
        return
    session.setdefault("csrf", secrets.token_urlsafe(24))
    if request.method == "POST" and request.form.get("csrf") != session["csrf"]:
        abort(400, "Formuläret har gått ut; ladda om sidan och försök igen.")


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    actor = g.get("actor")
    unread = 0
    if actor is not None:
        unread = notifications.list_for(_engine(), actor, unread=True, limit=1)["unread"]
    return {"actor": actor, "csrf": session.get("csrf", ""), "unread": unread}


@bp.errorhandler(RutinError)
def _error(exc: RutinError) -> tuple[str, int]:
    return render_template("error.html", title=exc.title, detail=exc.detail), exc.status


# -- signing in -----------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with user name and password."""
    error = None
    if request.method == "POST":
        try:
            actor = identity.check_password(_engine(), request.form.get("name", "").strip(),
                                            request.form.get("password", ""))
        except Unauthorized as exc:
            error = exc.detail
        else:
            session.clear()
            session["user"] = actor.name
            session["csrf"] = secrets.token_urlsafe(24)
            target = request.args.get("next") or "/"
            return redirect(target if target.startswith("/") and not target.startswith("//") else "/")
    return render_template("login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout() -> Response:
    """Sign out."""
    session.clear()
    return redirect(url_for("pages.login"))  # type: ignore[return-value]


# -- the inbox and tasks --------------------------------------------------------------------------


@bp.get("/")
@signed_in
def inbox() -> str:
    """The handler's inbox."""
    view = request.args.get("visa", "all")
    sort = request.args.get("sortera", "created")
    page = max(int(request.args.get("sida", "1") or 1), 1)
    filters: dict[str, Any] = {}
    if view == "mine":
        filters["assignee"] = "me"
    elif view == "unclaimed":
        filters["candidate"] = "me"
    elif view == "overdue":
        filters["overdue"] = True
    listing = tasks.list_tasks(_engine(), g.actor, sort=sort if sort in tasks.SORTS else "created",
                               limit=25, offset=(page - 1) * 25, **filters)
    return render_template("inbox.html", listing=listing, view=view, views=VIEWS, sort=sort, page=page)


@bp.get("/tasks/<task_id>")
@signed_in
def task(task_id: str, error: str | None = None, errors: list[dict[str, str]] | None = None,
         status: int = 200) -> Any:
    """One task: what to do, its form or options, and the case it belongs to."""
    row = tasks.get_task(_engine(), g.actor, task_id)
    case = cases.get_case(_engine(), g.actor, row["case_id"])
    return render_template("task.html", task=row, case=case, error=error, errors={e["field"]: e["message"]
                                                                                   for e in errors or []}), status


def _act(task_id: str, action: Callable[[], Any]) -> Any:
    try:
        result = action()
    except RutinError as exc:
        return task(task_id, error=exc.detail, errors=exc.extra.get("errors"), status=exc.status)
    return result


@bp.post("/tasks/<task_id>/claim")
@signed_in
def claim(task_id: str) -> Any:
    """Take the task."""
    return _act(task_id, lambda: (tasks.claim(_engine(), g.actor, task_id),
                                  redirect(url_for("pages.task", task_id=task_id)))[1])


@bp.post("/tasks/<task_id>/unclaim")
@signed_in
def unclaim(task_id: str) -> Any:
    """Give the task back."""
    return _act(task_id, lambda: (tasks.unclaim(_engine(), g.actor, task_id),
                                  redirect(url_for("pages.task", task_id=task_id)))[1])


@bp.post("/tasks/<task_id>/jav")
@signed_in
def declare_conflict(task_id: str) -> Any:
    """Declare jäv: the decision goes to the substitute."""
    return _act(task_id, lambda: (delegation.declare_conflict(_engine(), g.actor, task_id,
                                                              request.form.get("reason")),
                                  redirect(url_for("pages.inbox")))[1])


def _form_data(row: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for f in row.get("form") or []:
        if f["type"] == "boolean":
            data[f["id"]] = request.form.get(f["id"]) == "on"
            continue
        value = request.form.get(f["id"], "").strip()
        if value:
            data[f["id"]] = value
    return data


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
        no_jav = True if request.form.get("no_conflict_of_interest") == "on" else None
        result = tasks.complete(engine, g.actor, task_id, _form_data(row) if choice is None else None, choice,
                                no_conflict_of_interest=no_jav)
        for nxt in result["case"]["open_tasks"]:
            if nxt.get("assignee") in (None, g.actor.name) and (
                    g.actor.name in [c.split(":", 1)[1] for c in nxt.get("candidates", [])]
                    or any(c.split(":", 1)[1] in g.actor.roles for c in nxt.get("candidates", []))):
                return redirect(url_for("pages.task", task_id=nxt["id"]))
        return redirect(url_for("pages.case", case_id=result["case"]["id"]))

    return _act(task_id, run)


# -- cases and processes ----------------------------------------------------------------------------


@bp.get("/cases/<case_id>")
@signed_in
def case(case_id: str) -> str:
    """A case: where it stands, its data, its history, and the diagram with its open steps."""
    data = cases.get_case(_engine(), g.actor, case_id)
    done = sorted({e["element_id"] for e in data["history"] if e["type"] == "task_completed" and e["element_id"]})
    open_ids = sorted({t["element_id"] for t in data["open_tasks"]})
    return render_template("case.html", case=data, done=done, open_ids=open_ids)


@bp.get("/processes")
@signed_in
def process_list() -> str:
    """Deployed processes, and the upload form for designers."""
    return render_template("processes.html", items=processes.list_processes(_engine()), result=None)


@bp.post("/processes")
@signed_in
def upload() -> Any:
    """Upload a BPMN file (with any Camunda Forms); show what Rutin found."""
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return render_template("processes.html", items=processes.list_processes(_engine()),
                               result={"error": "Välj en BPMN-fil.", "diagnostics": []}), 400
    forms = {f.filename or "": f.read() for f in request.files.getlist("forms") if f.filename}
    try:
        deployed = processes.deploy(_engine(), g.actor, upload_file.read(), upload_file.filename, forms)
    except RutinError as exc:
        return render_template("processes.html", items=processes.list_processes(_engine()),
                               result={"error": exc.detail, "diagnostics": exc.extra.get("diagnostics", [])}), exc.status
    return render_template("processes.html", items=processes.list_processes(_engine()),
                           result={"deployed": [d.to_json() for d in deployed],
                                   "diagnostics": [x for d in deployed for x in d.diagnostics]}), 201


@bp.get("/processes/<key>")
@signed_in
def process(key: str) -> str:
    """A process with its versions; approve a draft, start a case."""
    return render_template("process.html", process=processes.get_process(_engine(), key))


@bp.post("/processes/<key>/versions/<int:number>/approve")
@signed_in
def approve(key: str, number: int) -> Response:
    """Approve a draft version."""
    processes.approve(_engine(), g.actor, key, number)
    return redirect(url_for("pages.process", key=key))  # type: ignore[return-value]


@bp.post("/processes/<key>/cases")
@signed_in
def start(key: str) -> Response:
    """Start a case and go to it."""
    started = cases.start_case(_engine(), g.actor, key, {}, request.form.get("business_key") or None,
                               request.form.get("org_unit") or None)
    return redirect(url_for("pages.case", case_id=started["id"]))  # type: ignore[return-value]


@bp.get("/processes/<key>/versions/<int:number>/diagram")
@signed_in
def diagram(key: str, number: int) -> Response:
    """A version's XML for the diagram viewer."""
    return Response(processes.version_xml(_engine(), key, number), mimetype="application/xml")


@bp.get("/static/vendor/<path:name>")
def vendor(name: str) -> Response:
    """A front-end library file from node_modules, if it is on the allow-list."""
    if name not in VENDOR:
        abort(404)
    path = NODE_MODULES / VENDOR[name]
    if not path.is_file():
        abort(404)
    return send_file(path, max_age=3600)
