"""Processes: the list and upload, one process with its versions, approving a draft, starting a
case and the diagram."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from bpmn.diagnostics import grouped
from engine.authority import org, ownership
from engine.base.errors import Conflict, InvalidInput, RutinError
from engine.catalogue import processes, starting, upload_warnings, version_diff
from engine.retention import rules
from engine.routing import drafts
from engine.service import cases, verification

from ..downloads import diagram_download
from ..params import upload_filename
from .case_context import diagram_steps
from .common import START_CONTROLS, FieldNames, current_engine, form_data, signed_in

bp = Blueprint("processes", __name__)


@bp.get("/processes")
@signed_in
def process_list() -> str:
    """Deployed processes, and the upload form for designers."""
    return render_template("processes.html", items=processes.list_processes(current_engine()), result=None,
                           startable=_startable())


@bp.app_template_filter("per_element")
def _per_element(diagnostics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Diagnostics grouped per process and element (one row per element with its messages)."""
    return grouped(diagnostics)


def _startable() -> set[str]:
    """The processes the signed-in person may start cases of: only to them the list offers "Starta"."""
    engine = current_engine()
    return {p["key"] for p in processes.list_processes(engine) if starting.offer(engine, g.actor, p["key"])}


@bp.post("/processes")
@signed_in
def upload() -> Any:
    """Upload a BPMN file (with any Camunda Forms); show what Rutin found."""
    engine = current_engine()
    upload_file = request.files.get("file")
    if upload_file is None or not upload_file.filename:
        return render_template("processes.html", items=processes.list_processes(engine), startable=_startable(),
                               result={"error": "Välj en BPMN-fil.", "diagnostics": []}), 400
    forms = {f.filename or "": f.read() for f in request.files.getlist("forms") if f.filename}
    try:
        deployed = drafts.deploy(engine, g.actor, upload_file.read(), upload_filename(upload_file.filename), forms)
    except RutinError as exc:
        result = {"error": exc.detail, "filename": upload_file.filename,
                  "diagnostics": exc.extra.get("diagnostics", [])}
        return render_template("processes.html", items=processes.list_processes(engine), result=result,
                               startable=_startable()), exc.status
    result = {"deployed": [d.to_json() for d in deployed], "filename": upload_file.filename,
              "warnings": upload_warnings.warnings(engine, deployed, forms),
              "diagnostics": [x for d in deployed for x in d.diagnostics]}
    return render_template("processes.html", items=processes.list_processes(engine), result=result,
                           startable=_startable()), 201


@bp.get("/processes/<key>")
@signed_in
def process(key: str) -> Any:
    """A process with its versions; approve a draft, start a case (offered only to whom may)."""
    return _process_page(key)


def _process_page(key: str, *, error: str | None = None, errors: dict[str, str] | None = None,
                  values: dict[str, Any] | None = None, status: int = 200) -> Any:
    """The process page; after a refused start, with the start form as entered and its errors."""
    engine = current_engine()
    tree = org.tree(engine)
    offer = starting.offer(engine, g.actor, key)
    units = sorted(((u, tree.units[u].name) for u in offer["units"]), key=lambda u: u[1]) if offer else []
    default = tree.units.get(offer["default_unit"]) if offer and offer["default_unit"] else None
    found = processes.get_process(engine, key)
    return render_template("process.html", process=found, units=units, offer=offer,
                           default_unit=default, approvable=ownership.approvable(engine, g.actor, key),
                           start_form=_start_form(key), fields_of=FieldNames,
                           retention=rules.list_rules(engine, g.actor, process_key=key),
                           error=error, errors=errors or {}, values=values or {},
                           diagram_list=diagram_steps(found["steps"] or [], with_state=False)), status


def _start_form(key: str) -> list[dict[str, Any]]:
    """The start form's fields of the process's published version (none before one is published)."""
    published = [v for v in processes.get_process(current_engine(), key)["versions"] if v["status"] == "published"]
    return [asdict(f) for f in current_engine().model(published[0]["id"]).start_form] if published else []


@bp.get("/processes/drafts")
@signed_in
def draft_list() -> str:
    """The drafts waiting for approval, for designers, owners and administrators."""
    return render_template("drafts.html", items=drafts.waiting(current_engine(), g.actor))


@bp.get("/processes/<key>/versions/<int:number>")
@signed_in
def version(key: str, number: int) -> str:
    """One version: what it changes against the version published, approve or reject it."""
    return _version_page(key, number, {})


def _version_page(key: str, number: int, errors: dict[str, str], reason: str = "", status: int = 200) -> Any:
    """A version for its approver and its auditor: a draft against the version published now, any
    other against the approved version before it; who uploaded and approved it and how, its events
    and the process history checked against the signed checkpoints."""
    engine = current_engine()
    v = processes.get_version(engine, key, number)
    versions = processes.get_process(engine, key)["versions"]
    if v["status"] == "draft":
        earlier = [p for p in versions if p["status"] == "published"]
    else:
        earlier = [p for p in versions if p["version"] < number and p["status"] in ("published", "superseded")]
    before = processes.get_version(engine, key, earlier[0]["version"]) if earlier else None
    changes = version_diff.diff(engine.model(before["id"]).to_json() if before else None,
                                engine.model(v["id"]).to_json()) if v["status"] != "rejected" else []
    return render_template("version.html", v=v, before=before, changes=changes, errors=errors, reason=reason,
                           approvable=number in ownership.approvable(engine, g.actor, key),
                           verification=verification.verify_process(engine, key),
                           fields_of=FieldNames, max_reason=processes.MAX_REASON), status


@bp.post("/processes/<key>/versions/<int:number>/approve")
@signed_in
def approve(key: str, number: int) -> Any:
    """Approve a draft version, once the approver says they have reviewed its changes."""
    if request.form.get("reviewed") != "ja":
        return _version_page(key, number, {"reviewed": "Kryssa i att du har granskat ändringarna innan du godkänner."},
                             status=400)
    processes.approve(current_engine(), g.actor, key, number)
    flash(f"Version {number} är godkänd och publicerad.")
    return redirect(url_for("pages.processes.process", key=key))


@bp.post("/processes/<key>/versions/<int:number>/reject")
@signed_in
def reject(key: str, number: int) -> Any:
    """Reject a draft version with a reason; its uploader is told."""
    reason = request.form.get("reason", "")
    if not reason.strip():
        return _version_page(key, number, {"reason": "Skriv varför versionen avvisas."}, reason, 400)
    if len(reason) > processes.MAX_REASON:
        return _version_page(key, number, {"reason": f"Motiveringen får vara högst {processes.MAX_REASON} tecken."},
                             reason[:processes.MAX_REASON], 400)
    drafts.reject(current_engine(), g.actor, key, number, reason)
    flash(f"Version {number} är avvisad.")
    return redirect(url_for("pages.processes.version", key=key, number=number))


@bp.post("/processes/<key>/cases")
@signed_in
def start(key: str) -> Any:
    """Start a case and go to it; a refusal comes back on the process page, in the form's error summary."""
    try:
        data = form_data(_start_form(key), START_CONTROLS)
        started = cases.start_case(current_engine(), g.actor, key, data,
                                   request.form.get("business_key", "").strip() or None,
                                   request.form.get("org_unit") or None)
    except (InvalidInput, Conflict) as exc:
        entered = {k: v if len(v) > 1 else v[0] for k, v in request.form.to_dict(flat=False).items()}
        errors = {e["field"]: e["message"] for e in exc.extra.get("errors") or [] if isinstance(e, dict)}
        return _process_page(key, error=exc.detail, errors=errors, values=entered, status=exc.status)
    flash("Ärendet är startat.")
    return redirect(url_for("pages.cases.case", case_id=started["id"]))


@bp.get("/processes/<key>/versions/<int:number>/diagram")
@signed_in
def diagram(key: str, number: int) -> Response:
    """A version's XML for the diagram viewer (which fetches it); opened directly, a download."""
    return diagram_download(processes.version_xml(current_engine(), key, number), key, number)

