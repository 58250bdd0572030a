"""The JSON API under /api. Each handler parses, calls one engine function, and renders."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import text

from engine.authority.identity import NO_ROLE
from engine.base.errors import BadRequest, InvalidInput
from engine.catalogue import processes
from engine.clocks import policies
from engine.core import Engine
from engine.routing import drafts, notifications
from engine.service import (
    audit,
    cases,
    conflict_of_interest,
    deviations,
    inbox,
    measure_targets,
    measures,
    messages,
    tasks,
    transfer,
)

from .auth import current_actor
from .downloads import csv_download, diagram_download
from .openapi import spec as openapi_spec
from .params import (
    bool_arg,
    choice_arg,
    instant_arg,
    int_arg,
    json_body,
    optional_object,
    optional_text,
    required_text,
    text_arg,
    upload_filename,
)

bp = Blueprint("api", __name__, url_prefix="/api")

# The strict readers of webapp/params.py under the names these handlers (and others') have used.
_json_body, _required, _int_arg, _datetime_arg = json_body, required_text, int_arg, instant_arg

XML_TYPES = {"application/xml", "text/xml", "application/bpmn+xml", "application/octet-stream"}


def _engine() -> Engine:
    return current_app.extensions["rutin"]


@bp.get("/health")
def health() -> Response:
    """Liveness and database reachability."""
    engine = _engine()
    with engine.db.read() as s:
        s.execute(text("SELECT 1"))
    return jsonify({"status": "ok", "database": "sqlite" if engine.db.is_sqlite else "postgresql",
                    "time": engine.clock.now().isoformat()})


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_spec())


@bp.get("/me")
def me() -> Response:
    """Who the token belongs to and which roles they hold (who holds none is told so, and that is all)."""
    actor = current_actor()
    out: dict[str, Any] = {"name": actor.name, "display_name": actor.display_name, "roles": list(actor.role_names),
                           "admin": actor.is_admin, "designer": actor.is_designer}
    if not actor.has_role:
        out["message"] = NO_ROLE
    if actor.start_only is not None:
        out["start_only"] = sorted(actor.start_only)
    return jsonify(out)


# -- processes --------------------------------------------------------------------------------


@bp.post("/processes")
def deploy() -> tuple[Response, int]:
    """Upload a BPMN file (raw XML body, or multipart field `file`)."""
    actor = current_actor()
    filename = None
    forms: dict[str, bytes] = {}
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise BadRequest("Multipart-begäran saknar fältet file.")
        data, filename = upload.read(), upload_filename(upload.filename)
        forms = {f.filename or f"form{n}": f.read() for n, f in enumerate(request.files.getlist("forms"))}
    elif request.mimetype in XML_TYPES or request.mimetype == "":
        data = request.get_data()
        filename = upload_filename(request.headers.get("X-Filename"))
    else:
        raise BadRequest("Skicka BPMN som application/xml eller som multipart-fältet file.")
    deployed = drafts.deploy(_engine(), actor, data, filename, forms)
    status = 201 if any(d.created for d in deployed) else 200
    body: dict[str, Any] = {"processes": [d.to_json() for d in deployed]}
    first = deployed[0]
    # A document-level finding (encoding, duplicate ids) is in every process's list: once here.
    merged: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for x in (x for d in deployed for x in d.diagnostics):
        marker = tuple(sorted((k, str(v)) for k, v in x.items()))
        if marker not in seen:
            seen.add(marker)
            merged.append(x)
    body.update(key=first.key, version=first.version, diagnostics=merged)
    response = jsonify(body)
    response.headers["Location"] = f"/api/processes/{first.key}"
    return response, status


@bp.get("/processes")
def list_processes() -> Response:
    """Deployed processes with their latest version."""
    current_actor()
    return jsonify({"items": processes.list_processes(_engine())})


@bp.get("/processes/<key>")
def get_process(key: str) -> Response:
    """One process and its versions."""
    current_actor()
    return jsonify(processes.get_process(_engine(), key))


@bp.get("/processes/<key>/versions/<int:number>/bpmn")
def version_bpmn(key: str, number: int) -> Response:
    """The XML of a version, as uploaded, as a download that never runs in Rutin's origin."""
    current_actor()
    return diagram_download(processes.version_xml(_engine(), key, number), key, number)


@bp.get("/processes/<key>/versions/<int:number>")
def get_version(key: str, number: int) -> Response:
    """One version: metadata, diagnostics, change summary, steps, message flows, history."""
    current_actor()
    return jsonify(processes.get_version(_engine(), key, number))


@bp.post("/processes/<key>/versions/<int:number>/approve")
def approve_version(key: str, number: int) -> Response:
    """Approve and publish a draft version (process owner, not the uploader)."""
    return jsonify(processes.approve(_engine(), current_actor(), key, number))


@bp.post("/processes/<key>/versions/<int:number>/reject")
def reject_version(key: str, number: int) -> Response:
    """Reject a draft version with a reason (process owner)."""
    actor = current_actor()
    return jsonify(drafts.reject(_engine(), actor, key, number, _json_body(required=True).get("reason")))


@bp.get("/processes/<key>/policy")
def get_policy(key: str) -> Response:
    """The process owner's deadline policy per step."""
    current_actor()
    return jsonify(policies.get(_engine(), key))


@bp.put("/processes/<key>/policy")
def put_policy(key: str) -> Response:
    """Replace the deadline policy: {"tasks": {element_id: {due, follow_up, escalation}}}."""
    actor = current_actor()
    return jsonify(policies.put(_engine(), actor, key, optional_object(_json_body(required=True), "tasks") or {}))


@bp.get("/processes/<key>/measure-targets")
def get_measure_targets(key: str) -> Response:
    """The process's targets per measure ({measure: target}; a share in percent, a lead time in days)."""
    current_actor()
    return jsonify({"process_key": key, "targets": measure_targets.targets(_engine(), [key]).get(key, {})})


@bp.put("/processes/<key>/measure-targets/<measure>")
def put_measure_target(key: str, measure: str) -> Response:
    """Set a measure's target ({"target": 95}; null removes it): the process owner or an administrator."""
    actor = current_actor()
    body = _json_body(required=True)
    if "target" not in body:
        raise InvalidInput("Ange målet i fältet target (null tar bort det).")
    return jsonify(measure_targets.set_target(_engine(), actor, key, measure, body["target"]))


@bp.post("/processes/<key>/cases")
def start_case(key: str) -> tuple[Response, int]:
    """Start a case of the latest version."""
    actor = current_actor()
    body = _json_body()
    unknown = set(body) - {"data", "business_key", "org_unit"}
    if unknown:
        raise InvalidInput(f"Okända fält: {', '.join(sorted(unknown))}.")
    case = cases.start_case(_engine(), actor, key, optional_object(body, "data"),
                            optional_text(body, "business_key", max_length=200), optional_text(body, "org_unit"))
    response = jsonify(case)
    response.headers["Location"] = f"/api/cases/{case['id']}"
    return response, 201


# -- cases ------------------------------------------------------------------------------------


@bp.get("/cases")
def list_cases() -> Response:
    """Cases the caller may see."""
    actor = current_actor()
    return jsonify(cases.list_cases(
        _engine(), actor, process=text_arg("process"), status=choice_arg("status", cases.CASE_STATUSES),
        business_key=text_arg("business_key"), started_by=text_arg("started_by"),
        unit=text_arg("unit"), search=text_arg("q"), overdue=bool_arg("overdue"),
        limit=int_arg("limit", 50, minimum=1, maximum=500), offset=int_arg("offset", 0),
    ))


@bp.get("/measures")
def process_measures() -> Response:
    """Measures per process over a period (?from=&to= instants; ?process= adds its steps;
    ?format=csv the processes, or the chosen process's steps, as CSV)."""
    actor = current_actor()
    found = measures.measures(_engine(), actor, since=instant_arg("from"), until=instant_arg("to"),
                              process=text_arg("process"))
    if choice_arg("format", ("json", "csv")) == "csv":
        return csv_download(measures.as_csv(found), "matetal.csv")
    return jsonify(found)


@bp.post("/cases/<case_id>/deviations")
def report_deviation(case_id: str) -> tuple[Response, int]:
    """Start a deviation case about this case ({"task_id": the step, optional}); its first step is
    the reporter's."""
    actor = current_actor()
    body = _json_body()
    return jsonify(deviations.report(_engine(), actor, case_id, body.get("task_id"))), 201


@bp.get("/cases/<case_id>/deviations")
def case_deviations(case_id: str) -> Response:
    """The case and step this deviation concerns (about), and the deviations reported from this case."""
    actor = current_actor()
    cases.get_case(_engine(), actor, case_id)  # who may not see the case learns nothing of it
    return jsonify(deviations.links(_engine(), actor, case_id))


@bp.get("/cases/<case_id>")
def get_case(case_id: str) -> Response:
    """One case with its open tasks and history."""
    actor = current_actor()
    case = cases.get_case(_engine(), actor, case_id)
    response = jsonify(case)
    response.headers["ETag"] = f'"{case["revision"]}"'
    return response


@bp.post("/cases/<case_id>/retry")
def retry_case(case_id: str) -> Response:
    """Retry a case in incident, optionally with corrected data."""
    actor = current_actor()
    body = _json_body()
    return jsonify(cases.retry_case(_engine(), actor, case_id, optional_object(body, "data")))


@bp.post("/cases/<case_id>/transfer")
def transfer_case(case_id: str) -> Response:
    """Hand an open case over to another unit, with a reason; its open tasks go there."""
    actor = current_actor()
    body = _json_body(required=True)
    return jsonify(transfer.transfer_case(_engine(), actor, case_id, body.get("unit"), body.get("reason")))


# -- tasks ------------------------------------------------------------------------------------


@bp.get("/tasks")
def list_tasks() -> Response:
    """Open tasks the caller may act on."""
    actor = current_actor()
    return jsonify(inbox.list_tasks(
        _engine(), actor, assignee=text_arg("assignee"), candidate=text_arg("candidate"),
        role=text_arg("role"), process=text_arg("process"), case=text_arg("case"),
        overdue=bool_arg("overdue"), due_before=instant_arg("due_before"), search=text_arg("q"),
        follow_up_before=instant_arg("follow_up_before"), unit=text_arg("unit"),
        sort=choice_arg("sort", ("created", "due", "priority"), "created") or "created",
        order=choice_arg("order", ("asc", "desc"), "asc") or "asc",
        limit=int_arg("limit", 50, minimum=1, maximum=500), offset=int_arg("offset", 0),
    ))


@bp.get("/tasks/<task_id>")
def get_task(task_id: str) -> Response:
    """One task."""
    return jsonify(tasks.get_task(_engine(), current_actor(), task_id))


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str) -> Response:
    """Take a task."""
    actor = current_actor()
    _json_body()
    return jsonify(tasks.claim(_engine(), actor, task_id))


@bp.post("/tasks/<task_id>/unclaim")
def unclaim(task_id: str) -> Response:
    """Give a task back to its roles."""
    actor = current_actor()
    _json_body()
    return jsonify(tasks.unclaim(_engine(), actor, task_id))


@bp.post("/tasks/<task_id>/complete")
def complete(task_id: str) -> Response:
    """Complete a task with `data`, or a decision with `choice`."""
    actor = current_actor()
    body = _json_body()
    unknown = set(body) - {"data", "choice", "no_conflict_of_interest"}
    if unknown:
        raise InvalidInput(f"Okända fält: {', '.join(sorted(unknown))}.")
    return jsonify(tasks.complete(_engine(), actor, task_id, optional_object(body, "data"), body.get("choice"),
                                  no_conflict_of_interest=body.get("no_conflict_of_interest")))


# -- messages ---------------------------------------------------------------------------------


@bp.post("/cases/<case_id>/messages/<name>")
def send_message(case_id: str, name: str) -> Response:
    """Deliver a message to a case that waits for it."""
    actor = current_actor()
    body = _json_body()
    return jsonify(messages.send_message(_engine(), actor, case_id, name, optional_object(body, "data")))


@bp.post("/messages/<name>")
def correlate_message(name: str) -> Response:
    """Deliver a message to the active case with the given business key."""
    actor = current_actor()
    body = _json_body(required=True)
    return jsonify(messages.correlate_message(_engine(), actor, name, _required(body, "business_key"),
                                              optional_object(body, "data")))


@bp.patch("/tasks/<task_id>")
def update_task(task_id: str) -> Response:
    """Change priority, due date or follow-up date."""
    actor = current_actor()
    return jsonify(tasks.update(_engine(), actor, task_id, _json_body(required=True)))


@bp.post("/tasks/<task_id>/assign")
def assign_task(task_id: str) -> Response:
    """Assign a task to a person (managers and admins)."""
    actor = current_actor()
    return jsonify(tasks.assign(_engine(), actor, task_id, _required(_json_body(required=True), "user")))


@bp.post("/tasks/<task_id>/handover")
def hand_over(task_id: str) -> Response:
    """Hand one's task over to another holder of its role."""
    actor = current_actor()
    return jsonify(tasks.hand_over(_engine(), actor, task_id, _required(_json_body(required=True), "user")))


@bp.post("/tasks/<task_id>/comments")
def comment_task(task_id: str) -> tuple[Response, int]:
    """Comment on a task (kept in the case history)."""
    actor = current_actor()
    text = _required(_json_body(required=True), "text")
    return jsonify(tasks.comment(_engine(), actor, task_id=task_id, text=text)), 201


@bp.post("/cases/<case_id>/comments")
def comment_case(case_id: str) -> tuple[Response, int]:
    """Comment on a case (kept in its history)."""
    actor = current_actor()
    text = _required(_json_body(required=True), "text")
    return jsonify(tasks.comment(_engine(), actor, case_id=case_id, text=text)), 201


@bp.post("/tasks/<task_id>/conflict-of-interest")
def declare_conflict(task_id: str) -> Response:
    """Declare jäv on a decision: it goes to the ordinance's substitute."""
    actor = current_actor()
    reason = optional_text(_json_body(), "reason", max_length=2000)
    return jsonify(conflict_of_interest.declare_conflict(_engine(), actor, task_id, reason))


# -- notifications ----------------------------------------------------------------------------


@bp.get("/notifications")
def list_notifications() -> Response:
    """One's notifications, newest first."""
    actor = current_actor()
    return jsonify(notifications.list_for(_engine(), actor, unread=bool_arg("unread"),
                                          limit=int_arg("limit", 50, minimum=1, maximum=500)))


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> Response:
    """Mark a notification read."""
    return jsonify(notifications.mark_read(_engine(), current_actor(), notification_id))


# -- audit --------------------------------------------------------------------------------------


@bp.get("/audit/public-key")
def audit_public_keys() -> Response:
    """The public keys that sign the audit checkpoints: public, so anyone can verify a checkpoint."""
    return jsonify({"keys": audit.public_keys(_engine().settings)})


@bp.get("/audit")
def audit_status() -> Response:
    """The latest verification, when one last ran clean, the latest checkpoint (auditors, admins)."""
    audit.require_reader(current_actor())
    return jsonify(audit.status(_engine()))


@bp.get("/audit/verify")
def audit_check() -> Response:
    """Verify every history now without recording it (auditors and administrators)."""
    actor = current_actor()
    audit.require_reader(actor)
    return jsonify(audit.verify_all(_engine(), trigger="api", actor=actor.name, record=False))


@bp.post("/audit/verify")
def audit_verify() -> Response:
    """Verify every history now and record the result (administrators)."""
    actor = current_actor()
    audit.require_admin(actor)
    return jsonify(audit.verify_all(_engine(), trigger="api", actor=actor.name))


@bp.post("/audit/checkpoints")
def audit_seal() -> tuple[Response, int]:
    """Seal the chain heads now into a signed checkpoint (administrators)."""
    actor = current_actor()
    audit.require_admin(actor)
    return jsonify(audit.seal(_engine(), actor.name, force=True)), 201
