"""The API of records management: retention rules, holds, culling (dry run, run, report), delivery
to the e-archive, and a person's data request."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

from engine.core import Engine
from engine.retention import culling, eark, holds, rules
from engine.retention import personal_data as personal_data_search
from engine.service import cases

from .auth import current_actor
from .downloads import attachment, csv_download
from .params import bool_arg, choice_arg, instant_arg, json_body, text_arg

bp = Blueprint("retention", __name__, url_prefix="/api")


def _engine() -> Engine:
    return current_app.extensions["rutin"]


@bp.get("/retention/rules")
def list_rules() -> Response:
    """The retention rules in force (?process=; ?all=true: every version, drafts too)."""
    actor = current_actor()
    return jsonify({"items": rules.list_rules(_engine(), actor, process_key=text_arg("process"),
                                              include_all=bool_arg("all"))})


@bp.post("/retention/rules")
def propose_rule() -> tuple[Response, int]:
    """Propose a retention rule (a draft until a second person approves it)."""
    actor = current_actor()
    return jsonify(rules.propose(_engine(), actor, json_body(required=True))), 201


@bp.post("/retention/rules/<int:rule_id>/approve")
def approve_rule(rule_id: int) -> Response:
    """Approve a draft rule (not by its proposer)."""
    return jsonify(rules.approve(_engine(), current_actor(), rule_id))


@bp.post("/retention/rules/<int:rule_id>/reject")
def reject_rule(rule_id: int) -> Response:
    """Set a draft rule aside."""
    return jsonify(rules.reject(_engine(), current_actor(), rule_id))


@bp.get("/cases/<case_id>/retention")
def case_retention(case_id: str) -> Response:
    """The rule that applies to a case, its hold and (once culled) its culling record."""
    actor = current_actor()
    engine = _engine()
    cases.get_case(engine, actor, case_id)  # 404 or 403 as for the case itself
    return jsonify({"rule": rules.applies(engine, case_id), "hold": holds.current(engine, case_id),
                    "culled": culling.record_of(engine, case_id)})


@bp.post("/cases/<case_id>/hold")
def hold_case(case_id: str) -> tuple[Response, int]:
    """Hold a case from culling ({"reason": ...})."""
    actor = current_actor()
    return jsonify(holds.hold(_engine(), actor, case_id, json_body(required=True).get("reason"))), 201


@bp.post("/cases/<case_id>/hold/release")
def release_case(case_id: str) -> Response:
    """Release a case's hold ({"reason": ...}): its rule applies again."""
    actor = current_actor()
    return jsonify(holds.release(_engine(), actor, case_id, json_body(required=True).get("reason")))


@bp.get("/retention/holds")
def list_holds() -> Response:
    """Cases held from culling (?all=true: released holds too)."""
    return jsonify({"items": holds.list_holds(_engine(), current_actor(), include_released=bool_arg("all"))})


@bp.get("/retention/cull")
def dry_run() -> Response:
    """A dry run: what culling would remove now, and what holds keep; nothing changes."""
    return jsonify(culling.dry_run(_engine(), current_actor()))


@bp.post("/retention/cull")
def cull() -> Response:
    """Cull every case due now (administrators and archive officers)."""
    return jsonify(culling.cull_due(_engine(), current_actor()))


@bp.get("/retention/culled")
def culled() -> Response:
    """The culling report: cases culled in a period (?from=&to=), with the decision; ?format=csv."""
    rows = culling.report(_engine(), current_actor(), since=instant_arg("from"), until=instant_arg("to"))
    if choice_arg("format", ("json", "csv")) == "csv":
        return csv_download(culling.report_csv(rows), "gallringsrapport.csv")
    return jsonify({"items": rows})


@bp.post("/cases/<case_id>/archive-package")
def archive_package(case_id: str) -> Response:
    """Export a closed case kept under its rule as an E-ARK package (a zip), and record the delivery."""
    objid, data, delivery = eark.export(_engine(), current_actor(), case_id)
    response = attachment(data, f"{objid}.zip", "application/zip")
    response.headers["X-Rutin-Delivery"] = str(delivery["id"])
    return response


@bp.post("/retention/deliveries/<int:delivery_id>/receipt")
def receipt(delivery_id: int) -> Response:
    """Record the e-archive's receipt of a package ({"receipt_ref": ...}); the case may then be culled."""
    actor = current_actor()
    return jsonify(eark.confirm_receipt(_engine(), actor, delivery_id, json_body(required=True).get("receipt_ref")))


@bp.post("/personal-data/search")
def personal_data() -> Response:
    """A person's data request (GDPR art. 15): {"query": name or identity}; ?format=csv; administrators."""
    result = personal_data_search.search(_engine(), current_actor(), json_body(required=True).get("query"))
    if choice_arg("format", ("json", "csv")) == "csv":
        return csv_download(personal_data_search.to_csv(result), "registerutdrag.csv")
    return jsonify(result)
