"""Cases: the list, one case with its data, history and diagram, and handing it over to another
unit."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine.authority import identity, org
from engine.base.errors import Conflict, Forbidden, InvalidInput
from engine.base.labels import HISTORY_KINDS
from engine.retention import culling, holds, rules
from engine.service import case_record, cases, transfer

from ..downloads import attachment
from ..record_bundle import bundle as record_bundle_zip
from .case_context import diagram_steps, step_dates
from .common import PAGE_SIZE, FieldNames, current_engine, page_count, page_number, signed_in
from .list_filters import filter_choices, list_filters, offered, remember, reset_requested, view_source
from .reports import local_day

bp = Blueprint("cases", __name__)
# The query parameters that make up a case-list view ("alla" is the "Alla" tab chosen: no status).
CASE_LIST_KEYS = ("status", "q", "process", "enhet", "forfaller")
OVERDUE = {"forsenad": "Passerad"}
# The measures' numbers a case list stands behind (?matetal=...&fran=&till=, as the Mätetal page
# links them): which cases, in words, and the filter each is.
MEASURE_CASES = {
    "startade": "startade",
    "avslutade": "avslutade",
    "inom": "avslutade inom tidsfristen",
    "utanfor": "avslutade efter tidsfristen",
    "pagaende": "pågående nu",
    "incident": "med incident nu",
    "sena": "pågående efter tidsfristen nu",
}


@bp.get("/cases")
@signed_in
def case_list() -> Any:
    """Cases the signed-in person may see, newest first; searched and filtered as the inbox is,
    opened on the view the person last chose here."""
    if reset_requested("cases"):
        return redirect(url_for("pages.cases.case_list"))
    args, from_query = view_source("cases", CASE_LIST_KEYS)
    page = page_number()
    status = args.get("status") or None
    if status not in (None, *cases.CASE_STATUSES):
        status = None
    chosen = list_filters(args)
    choices = filter_choices()
    cleaned = {**({"status": status} if status else {}), **offered(chosen, choices, due_states=OVERDUE)}
    measure = _measure_cases()
    # a measure's cases are a link followed, not a view chosen: not remembered
    remember("cases", cleaned, from_query and measure is None)
    narrowed: dict[str, Any] = {"status": status, "overdue": chosen["forfaller"] == "forsenad",
                                **(measure["filters"] if measure else {})}
    listing = cases.list_cases(current_engine(), g.actor, search=chosen["q"] or None,
                               process=chosen["process"] or None, unit=chosen["enhet"] or None,
                               limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, **narrowed)
    pages = page_count(listing["total"])
    return render_template("cases.html", listing=listing, status=status, page=page, pages=pages, chosen=chosen,
                           choices=choices, remembered=not from_query and bool(cleaned), saved=bool(cleaned),
                           measure=measure)


def _measure_cases() -> dict[str, Any] | None:
    """The measure's cases the query asks for (``matetal``, ``fran``, ``till``): the list's
    filters and its caption; None when it asks for none or for one that is not offered, or
    gives a period that is not one (the list then shows without it)."""
    kind = request.args.get("matetal", "")
    if kind not in MEASURE_CASES:
        return None
    fran, till = (request.args.get("fran") or "").strip()[:10], (request.args.get("till") or "").strip()[:10]
    try:
        period = (local_day(fran), local_day(till, next_day=True))
    except InvalidInput:
        return None
    # what stands open now counts no period, as on the Mätetal page
    now_open: dict[str, dict[str, Any]] = {"pagaende": {"status": "active"}, "incident": {"status": "incident"},
                                           "sena": {"overdue": True}}
    filters: dict[str, Any] = dict(now_open.get(kind) or (
        {"started": period} if kind == "startade" else {"completed": period}))
    if kind in ("inom", "utanfor"):
        filters["deadline_kept"] = kind == "inom"
    return {"kind": kind, "label": MEASURE_CASES[kind], "fran": fran, "till": till, "filters": filters}


@bp.get("/cases/<case_id>")
@signed_in
def case(case_id: str, *, error: str | None = None, status: int = 200) -> Any:
    """A case: where it stands, its data, its history, and the diagram with its open steps."""
    data = cases.get_case(current_engine(), g.actor, case_id)
    open_ids = sorted({t["element_id"] for t in data["open_tasks"] if t.get("element_id")})
    done = sorted({e["element_id"] for e in data["history"] if e["type"] == "task_completed" and e["element_id"]}
                  - set(open_ids))
    tree = org.tree(current_engine())
    unit = tree.units.get(data["org_unit"]) if data.get("org_unit") else None
    # The hand-over form is for those who answer for the case's unit (engine.service.transfer checks again).
    offered = data["status"] in transfer.OPEN and transfer.may_transfer(g.actor, data.get("org_unit"))
    units = sorted(((u.id, u.name) for u in tree.units.values() if u.id != data.get("org_unit")),
                   key=lambda u: u[1].casefold()) if offered else []
    names = {u.id: u.name for u in tree.units.values()}
    # the history filtered by kind (?visa=steg...): plain links, so it works without JavaScript
    kind = request.args.get("visa", "")
    kind = kind if kind in HISTORY_KINDS else ""
    history = [e for e in data["history"] if not kind or e["type"] in HISTORY_KINDS[kind][1]]
    listed = diagram_steps(current_engine().model(data["process_version_id"]).steps, done, open_ids,
                           data["incident"]["element_id"] if data.get("incident") else None)
    return render_template("case.html", case=data, steps=step_dates(data), history=history, history_kind=kind,
                           diagram_list=listed,
                           history_kinds=HISTORY_KINDS,
                           done=done, open_ids=open_ids, units=units, error=error,
                           unit_name=getattr(unit, "name", None), unit_names=names,
                           fields=FieldNames(data["process_version_id"]),
                           retention=rules.applies(current_engine(), case_id),
                           hold=holds.current(current_engine(), case_id),
                           culled=culling.record_of(current_engine(), case_id)), status


@bp.post("/cases/<case_id>/retry")
@signed_in
def retry(case_id: str) -> Any:
    """Retry a case in incident (administrators; as `POST /api/cases/{id}/retry` does)."""
    identity.require_writer(g.actor)  # an auditor reads the one read-only refusal, as everywhere
    if not g.actor.is_admin:
        raise Forbidden("Bara en administratör kan låta ärendet försöka igen.")
    try:
        result = cases.retry_case(current_engine(), g.actor, case_id)
    except (Conflict, InvalidInput) as exc:
        return case(case_id, error=exc.detail, status=exc.status)
    flash("Ärendet stannade igen på samma sak; rätta processen eller uppgifterna först."
          if result.get("status") == "incident" else "Ärendet går vidare.")
    return redirect(url_for("pages.cases.case", case_id=case_id))


@bp.get("/cases/<case_id>/akt")
@signed_in
def record(case_id: str) -> str:
    """The case record for an auditor: every step, who, under which authority, on time or not,
    and the history's verification; laid out for printing."""
    data = case_record.case_record(current_engine(), g.actor, case_id)
    return render_template("case_record.html", r=data)


@bp.get("/cases/<case_id>/akt.json")
@signed_in
def record_json(case_id: str) -> Any:
    """The same record as a JSON file to keep beside the printout."""
    data = case_record.case_record(current_engine(), g.actor, case_id)
    name = f"arendeakt-{data['case']['business_key'] or case_id}.json"
    return attachment(json.dumps(data, ensure_ascii=False, indent=2), name, "application/json")


@bp.get("/cases/<case_id>/akt.zip")
@signed_in
def record_bundle(case_id: str) -> Any:
    """The record as one file to keep: the printable page with its style inline, the JSON, the
    history's verification and the published public keys (`webapp.record_bundle`)."""
    engine = current_engine()
    data = case_record.case_record(engine, g.actor, case_id)
    page = render_template("case_record.html", r=data)
    name = f"arendeakt-{data['case']['business_key'] or case_id}.zip"
    return attachment(record_bundle_zip(engine.settings, data, page), name, "application/zip")


@bp.post("/cases/<case_id>/lamna-over")
@signed_in
def transfer_case(case_id: str) -> Any:
    """Hand the case over to another unit, with the reason (the unit's manager, an admin)."""
    try:
        moved = transfer.transfer_case(current_engine(), g.actor, case_id, request.form.get("unit", ""),
                                       request.form.get("reason", ""))
    except (InvalidInput, Conflict) as exc:
        return case(case_id, error=exc.detail, status=exc.status)
    flash(f"Ärendet är överlämnat till {org.tree(current_engine()).units[moved['org_unit']].name}.")
    try:
        cases.get_case(current_engine(), g.actor, case_id)
    except Forbidden:  # it has left the units this manager answers for
        return redirect(url_for("pages.cases.case_list"))
    return redirect(url_for("pages.cases.case", case_id=case_id))

