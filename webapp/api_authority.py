"""The API of the organisation and the delegation ordinance: units, people, absences, decisions."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from engine.authority import org
from engine.base import forms
from engine.base.errors import BadRequest, Forbidden, InvalidInput
from engine.core import Engine
from engine.routing import absence, decision_report, delegation
from engine.service import org_data

from .auth import current_actor
from .downloads import csv_download
from .params import bool_arg, choice_arg, instant_arg, json_body, required_text, text_arg, yaml_object

bp = Blueprint("authority", __name__, url_prefix="/api")


def _engine() -> Engine:
    return current_app.extensions["rutin"]


@bp.get("/org/units")
def units() -> Response:
    """Every unit of the group, with its path from the top."""
    current_actor()
    t = org.tree(_engine())
    return jsonify({"items": [org.unit_json(t, u) for u in sorted(t.units)]})


@bp.get("/org/units/<unit_id>")
def unit(unit_id: str) -> Response:
    """One unit, its managers and the people holding roles in it."""
    current_actor()
    engine = _engine()
    t = org.tree(engine)
    out = org.unit_json(t, unit_id)
    with engine.db.read() as s:
        conn = s.connection()
        now = engine.clock.now()
        _, role, managers = org.managers(conn, t, unit_id, now)
        out["managers"] = {"role": role, "people": managers}
    export = org_data.export_data(engine)
    out["people"] = [
        {"name": p["name"], "display_name": p.get("display_name"),
         "roles": [r["role"] for r in p.get("roles", []) if r.get("unit") == unit_id]}
        for p in export["people"] if any(r.get("unit") == unit_id for r in p.get("roles", []))
    ]
    return jsonify(out)


@bp.get("/org")
def export_org() -> Response:
    """The whole organisation (JSON, or YAML with ?format=yaml); administrators and auditors."""
    actor = current_actor()
    if not actor.is_auditor:
        raise Forbidden("Bara administratörer och revisorer kan exportera organisationen.")
    wanted = choice_arg("format", ("json", "yaml", "csv"))
    if wanted == "yaml":
        return Response(org_data.export_yaml(_engine(), include_inactive=True), mimetype="application/yaml")
    if wanted == "csv":
        return Response(org_data.people_csv(_engine()), mimetype="text/csv")
    return jsonify(org_data.export_data(_engine(), include_inactive=True))


def _text_body() -> str:
    """The request body as text: UTF-8, with the byte-order mark Excel writes in front of "CSV UTF-8" dropped."""
    try:
        text = request.get_data().decode("utf-8-sig")
    except UnicodeDecodeError:
        # Most often a spreadsheet saved as plain "CSV" (Windows-1252): å, ä and ö would be lost.
        raise InvalidInput("Innehållet är inte UTF-8. Spara filen som \"CSV UTF-8\" och försök igen.") from None
    if "\x00" in text:
        raise BadRequest("Innehållet innehåller ett NUL-tecken, vilket inte tillåts.")
    return text


@bp.put("/org")
def import_org() -> Response:
    """Load organisation data (JSON or YAML body); administrators only."""
    actor = current_actor()
    if not actor.is_admin:
        raise Forbidden("Bara administratörer kan läsa in organisationen.")
    if request.mimetype == "text/csv":
        return jsonify(org_data.import_people_csv(_engine(), _text_body(), actor))
    if request.mimetype in {"application/yaml", "application/x-yaml", "text/yaml"}:
        data = yaml_object(_text_body())
    else:
        data = json_body(required=True)
    return jsonify(org_data.import_data(_engine(), data, actor))


@bp.post("/absences")
def add_absence() -> tuple[Response, int]:
    """Register an absence (one's own, or a member of one's units)."""
    actor = current_actor()
    body = json_body(required=True)
    starts, ends = forms.instant(required_text(body, "from"), "from"), forms.instant(required_text(body, "to"), "to")
    result = absence.register(_engine(), actor, body.get("user") or actor.name, starts, ends, body.get("reason"))
    return jsonify(result), 201


@bp.get("/absences")
def list_absences() -> Response:
    """Absences one may see (?user=; ?all=true: ended ones too)."""
    actor = current_actor()
    return jsonify({"items": absence.list_absences(_engine(), actor, user=text_arg("user"),
                                                   include_past=bool_arg("all"))})


@bp.delete("/absences/<int:absence_id>")
def cancel_absence(absence_id: int) -> Response:
    """Withdraw an absence: removed if not begun, ended now if under way."""
    return jsonify(absence.cancel(_engine(), current_actor(), absence_id))


@bp.get("/delegation/items")
def delegation_items() -> Response:
    """The delegation ordinance in force (?all=true: every version, drafts too for admins, owners, auditors)."""
    actor = current_actor()
    return jsonify({"items": delegation.list_items(_engine(), actor, include_all=bool_arg("all"))})


@bp.post("/delegation/items")
def propose_item() -> tuple[Response, int]:
    """Propose a new or changed ordinance item (a draft until someone else approves it)."""
    actor = current_actor()
    return jsonify(delegation.propose(_engine(), actor, json_body(required=True))), 201


@bp.post("/delegation/items/<int:item_id>/approve")
def approve_item(item_id: int) -> Response:
    """Approve a draft item (not by its author)."""
    return jsonify(delegation.approve(_engine(), current_actor(), item_id))


@bp.get("/delegation/decisions")
def decisions() -> Response:
    """Delegated decisions for the committee report (?committee=&from=&to=&reporting=; ?format=csv)."""
    actor = current_actor()
    rows = delegation.report(_engine(), actor, committee=text_arg("committee"),
                             since=instant_arg("from"), until=instant_arg("to"),
                             reporting=choice_arg("reporting", ("anmals", "protokollfors", "none")))
    if choice_arg("format", ("json", "csv")) == "csv":
        return csv_download(decision_report.report_csv(_engine(), rows), "delegationsbeslut.csv")
    return jsonify({"items": rows})


@bp.get("/processes/<key>/unit")
def process_unit(key: str) -> Response:
    """The unit a process's new cases belong to unless started in another."""
    current_actor()
    return jsonify(org.get_process_unit(_engine(), key))


@bp.put("/processes/<key>/unit")
def set_process_unit(key: str) -> Response:
    """Set the process's unit ({"unit": id}, or null to clear it); its owner or an admin."""
    actor = current_actor()
    body = json_body(required=True)
    if "unit" not in body or not (body["unit"] is None or isinstance(body["unit"], str)):
        raise BadRequest("Ange unit: en enhets id, eller null.")
    return jsonify(org.set_process_unit(_engine(), actor, key, body["unit"]))
