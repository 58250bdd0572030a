"""The inbox and a task: what to do, and doing it (take, give back, hand to someone, declare
jäv, comment, complete)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine.authority import identity
from engine.base import form_defaults
from engine.base.clock import STOCKHOLM
from engine.base.errors import Forbidden, InvalidInput, RutinError
from engine.service import assignees, cases, conflict_of_interest, tasks
from engine.service import inbox as task_lists

from . import task_changes
from .case_context import conflict_declared, earlier_steps
from .common import PAGE_SIZE, FieldNames, current_engine, form_data, page_count, page_number, signed_in
from .list_filters import filter_choices, list_filters, offered, remember, reset_requested, view_source

bp = Blueprint("tasks", __name__)
VIEWS = {"mine": "Mina", "unclaimed": "Otagna i mina roller", "overdue": "Försenade", "all": "Alla"}
# Shown to managers only: the open tasks of the units they manage (and the units below them).
UNIT_VIEW = {"unit": "Min enhet"}
# The columns the inbox sorts by (their headers are links): the engine's sort column, and the
# order a first click asks for.
SORTINGS = {"created": ("created", "asc"), "due": ("due", "asc"), "priority": ("priority", "desc")}
# The due states the inbox and the case list filter by.
DUE_STATES = {"forsenad": "Försenade", "snart": "Förfaller inom tre dagar eller är försenade"}
DUE_SOON = timedelta(days=3)
# The query parameters that make up an inbox view: a query naming any of them is remembered (the
# page number is not; nor the unit overview's one person, a link rather than a choice).
INBOX_KEYS = ("visa", "sortera", "ordning", "q", "process", "roll", "enhet", "forfaller", "handlaggare")
JAV_MISSING = "Bekräfta att du inte är jävig, eller anmäl jäv så går beslutet till ersättaren."


@bp.get("/")
@signed_in
def inbox() -> Any:
    """The handler's inbox: opens on what is theirs, or on the view the person last chose there;
    searched, filtered and sorted by column."""
    if reset_requested("inbox"):
        return redirect(url_for("pages.tasks.inbox"))
    args, from_query = view_source("inbox", INBOX_KEYS)
    views = {**VIEWS, **UNIT_VIEW} if g.actor.manages else VIEWS
    view = args.get("visa", "mine")
    if view not in views:
        view = "mine"
    sort = args.get("sortera", "created")
    if sort not in SORTINGS:
        sort = "created"
    column, first_order = SORTINGS[sort]
    order = args.get("ordning", first_order)
    if order not in ("asc", "desc"):
        order = first_order
    page = page_number()
    filters: dict[str, Any] = {}
    if view == "mine":
        filters["assignee"] = "me"
    elif view == "unclaimed":
        filters["candidate"] = "me"
    elif view == "overdue":
        filters["overdue"] = True
    elif view == "unit":
        filters["unit"] = "mine"
    chosen = list_filters(args)
    choices = filter_choices()
    roles = sorted({r.split("@", 1)[0] for r in g.actor.roles})
    kept = offered(chosen, choices, roles, DUE_STATES)
    cleaned = {**({"visa": view} if view != "mine" else {}), **({"sortera": sort} if sort != "created" else {}),
               **({"ordning": order} if order != first_order else {}), **kept}
    # the unit overview's link to one person's steps is followed, not chosen: it is not remembered
    remember("inbox", cleaned, from_query and "handlaggare" not in request.args)
    # one person's open steps, as the unit overview links to them (visibility still decides what shows)
    person = (request.args.get("handlaggare") or "").strip()[:120]
    if person and "assignee" not in filters:
        filters["assignee"] = person
    if chosen["q"]:
        filters["search"] = chosen["q"]
    if chosen["process"]:
        filters["process"] = chosen["process"]
    if chosen["roll"]:
        filters["role"] = chosen["roll"]
    if chosen["enhet"] and "unit" not in filters:
        filters["unit"] = chosen["enhet"]
    if chosen["forfaller"] == "forsenad":
        filters["overdue"] = True
    elif chosen["forfaller"] == "snart":
        filters["due_before"] = current_engine().clock.now() + DUE_SOON
    listing = task_lists.list_tasks(current_engine(), g.actor, sort=column, order=order, limit=PAGE_SIZE,
                               offset=(page - 1) * PAGE_SIZE, **filters)
    pages = page_count(listing["total"])
    return render_template("inbox.html", listing=listing, view=view, views=views, sort=sort, order=order,
                           sortings=SORTINGS, page=page, pages=pages, chosen=chosen, due_states=DUE_STATES,
                           choices=choices, roles=roles,
                           remembered=not from_query and bool(cleaned), saved=bool(cleaned))


def _defaults(row: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in row.get("form") or []:
        # a default written as an expression is left empty here: the engine computes it on completion
        if f.get("default") is not None and not form_defaults.is_expression(f["default"]):
            values[f["id"]] = f["default"]
    return values


@bp.get("/tasks/<task_id>")
@signed_in
def task(task_id: str, error: str | None = None, errors: list[dict[str, str]] | None = None,
         status: int = 200, values: dict[str, Any] | None = None, changing: dict[str, Any] | None = None) -> Any:
    """One task: what to do, its form or options, and the case it belongs to."""
    row = tasks.get_task(current_engine(), g.actor, task_id)
    may_assign = bool((row.get("actions") or {}).get("assign"))
    may_change = row["status"] == "open" and (row["assignee"] == g.actor.name or may_assign)
    case = cases.get_case(current_engine(), g.actor, row["case_id"])
    # every comment on the case: what was said at an earlier step is part of the case beside this one
    comments = [e for e in case.get("history", []) if e["type"] == "comment"]
    return render_template(
        "task.html", task=row, case=case, error=error, comments=comments, fields=FieldNames(case["process_version_id"]),
        errors={e["field"]: e["message"] for e in errors or []},
        values=values if values is not None else _defaults(row),
        chosen=request.form.getlist("choice") if request.method == "POST" else [],
        ask_jav=bool(row.get("decision_under_ordinance")),
        earlier=earlier_steps(case, task_id), jav=conflict_declared(case, task_id),
        people=assignees.assignable(current_engine(), g.actor, task_id) if may_assign else [],
        may_change=may_change, changing=changing if changing is not None else task_changes.current_values(row),
        today=current_engine().clock.now().astimezone(STOCKHOLM).date().isoformat(),
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
            raise InvalidInput("Välj vem som ska få uppgiften.")
        tasks.assign(current_engine(), g.actor, task_id, user)
        shown = identity.display_names(current_engine(), {user}).get(user, user)
        flash(f"Uppgiften är tilldelad {shown}.")
        return redirect(url_for("pages.tasks.task", task_id=task_id))

    return _act(task_id, run)


@bp.post("/tasks/<task_id>/change")
@signed_in
def change(task_id: str) -> Any:
    """Change the task's priority, due date or follow-up date (its assignee, its manager, an admin)."""
    engine = current_engine()

    def run() -> Any:
        identity.require_writer(g.actor)  # an auditor reads the one read-only refusal, as everywhere
        row = tasks.get_task(engine, g.actor, task_id)
        if row["assignee"] != g.actor.name and not (row.get("actions") or {}).get("assign"):
            # said before the form is judged: who may not change the task learns nothing of its fields
            raise Forbidden("Bara den som har uppgiften, dess chef eller en administratör kan ändra den.")
        today = engine.clock.now().astimezone(STOCKHOLM).date()
        changes, errors = task_changes.read(request.form, row, today)
        if errors:
            return task(task_id, errors=[{"field": k, "message": v} for k, v in errors.items()], status=400,
                        changing=request.form.to_dict())
        tasks.update(engine, g.actor, task_id, changes)
        flash("Ändringen är sparad.")
        return redirect(url_for("pages.tasks.task", task_id=task_id))

    try:
        return run()
    except RutinError as exc:
        return task(task_id, error=exc.detail, errors=exc.extra.get("errors"), status=exc.status,
                    changing=request.form.to_dict())


@bp.post("/tasks/<task_id>/claim")
@signed_in
def claim(task_id: str) -> Any:
    """Take the task."""

    def run() -> Any:
        tasks.claim(current_engine(), g.actor, task_id)
        flash("Du har tagit uppgiften.")
        return redirect(url_for("pages.tasks.task", task_id=task_id))

    return _act(task_id, run)


@bp.post("/tasks/<task_id>/unclaim")
@signed_in
def unclaim(task_id: str) -> Any:
    """Give the task back."""

    def run() -> Any:
        tasks.unclaim(current_engine(), g.actor, task_id)
        flash("Uppgiften är tillbaka hos rollen.")
        return redirect(url_for("pages.tasks.task", task_id=task_id))

    return _act(task_id, run)


@bp.post("/tasks/<task_id>/jav")
@signed_in
def declare_conflict(task_id: str) -> Any:
    """Declare jäv: the decision goes to the substitute."""

    def run() -> Any:
        conflict_of_interest.declare_conflict(current_engine(), g.actor, task_id, request.form.get("reason") or None)
        flash("Jäv är anmält; beslutet går till ersättaren.")
        return redirect(url_for("pages.tasks.inbox"))

    return _act(task_id, run)


@bp.post("/tasks/<task_id>/comments")
@signed_in
def comment(task_id: str) -> Any:
    """Comment on the task; the comment is kept in the case's history."""

    def run() -> Any:
        tasks.comment(current_engine(), g.actor, text=request.form.get("text", ""), task_id=task_id)
        flash("Kommentaren är sparad.")
        return redirect(url_for("pages.tasks.task", task_id=task_id) + "#kommentarer")

    return _act(task_id, run)


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
    engine = current_engine()

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
        result = tasks.complete(engine, g.actor, task_id, form_data(row.get("form") or []), choice,
                                no_conflict_of_interest=True if confirmed else None)
        flash(f"”{row['name']}” är klar.")
        nxt = _next_for_me(result["case"]["open_tasks"])
        if nxt:
            return redirect(url_for("pages.tasks.task", task_id=nxt))
        return redirect(url_for("pages.cases.case", case_id=result["case"]["id"]))

    return _act(task_id, run)

