"""Reports: delegated decisions for the committee, and process measures for management review;
each also as CSV."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine.authority import org
from engine.base.errors import InvalidInput
from engine.base.forms import EARLIEST_YEAR, LATEST_YEAR
from engine.base.labels import MEASURE_TARGET_LABELS, REPORTING_LABELS
from engine.routing import decision_report, delegation
from engine.service import audit, measure_follow_up, measure_targets, measures

from ..downloads import csv_download
from .common import STOCKHOLM, current_engine, signed_in

bp = Blueprint("reports", __name__)


def local_day(text: str, *, next_day: bool = False) -> datetime | None:
    """A date (ÅÅÅÅ-MM-DD) as the instant its Swedish day begins (the next day's, `next_day`: a
    period "till" a date includes it); None for no text, a Swedish refusal for a bad one."""
    text = text.strip()
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


def _local_day(name: str, *, next_day: bool = False) -> datetime | None:
    """The query's date `name` as `local_day` reads it."""
    return local_day(request.args.get(name) or "", next_day=next_day)


@bp.get("/delegationsbeslut")
@signed_in
def delegation_report() -> Any:
    """Delegated decisions for the committee's report (anmälan av delegationsbeslut): by
    committee, period and reporting mode, and the same list as CSV for the meeting's papers."""
    engine = current_engine()
    filters = {k: (request.args.get(k) or "").strip() for k in ("namnd", "fran", "till", "rapportering")}
    rows = delegation.report(engine, g.actor, committee=filters["namnd"] or None, since=_local_day("fran"),
                             until=_local_day("till", next_day=True), reporting=filters["rapportering"] or None)
    if request.args.get("format") == "csv":
        return csv_download(decision_report.report_csv(engine, rows), "delegationsbeslut.csv")
    readable = delegation.readable_committees(engine, g.actor)
    committees = sorted(readable) if readable is not None else sorted(
        {u.committee for u in org.tree(engine).units.values() if u.committee})
    return render_template("delegation_report.html", rows=decision_report.described(engine, rows),
                           committees=committees, filters=filters,
                           reporting_label=REPORTING_LABELS,
                           csv_url=url_for("pages.reports.delegation_report", format="csv",
                                           namnd=filters["namnd"] or None, fran=filters["fran"] or None,
                                           till=filters["till"] or None,
                                           rapportering=filters["rapportering"] or None))


def _period() -> tuple[datetime | None, datetime | None, dict[str, str]]:
    """The measures' period from the query, and what is wrong with it by field (``fran``,
    ``till``): a date not written ÅÅÅÅ-MM-DD or out of range, or an end before the start."""
    errors: dict[str, str] = {}
    found: dict[str, datetime | None] = {}
    for name, next_day in (("fran", False), ("till", True)):
        try:
            found[name] = _local_day(name, next_day=next_day)
        except InvalidInput as exc:
            errors[name], found[name] = exc.detail, None
    since, until = found["fran"], found["till"]
    if since is not None and until is not None and until <= since:
        errors["till"] = "Till och med ska vara samma dag som eller efter från och med."
    return since, until, errors


@bp.get("/matetal")
@signed_in
def measure_report() -> Any:
    """Process measures over a period for management review (ISO 9001 9.1), and one process's
    steps when it is chosen; either table as CSV. An invalid period is shown in the page's error
    summary, with the measures of no period."""
    return _measure_page()


def _measure_page(target_errors: dict[str, str] | None = None, entered: dict[str, str] | None = None,
                  status: int = 200) -> Any:
    filters = {k: (request.args.get(k) or request.form.get(k) or "").strip() for k in ("fran", "till", "process")}
    since, until, period_errors = _period()
    if period_errors:
        since = until = None
        status = 422
    found = measures.measures(current_engine(), g.actor, since=since, until=until, process=filters["process"] or None)
    if request.args.get("format") == "csv" and not period_errors:
        return csv_download(measures.as_csv(found), "matetal.csv")
    chosen = next((p for p in found["processes"] if p["process_key"] == filters["process"]), None)
    fran, till = (filters["fran"] or None, filters["till"] or None) if not period_errors else (None, None)
    engine = current_engine()
    return render_template("measures.html", found=found, filters=filters, chosen=chosen,
                           period_errors=period_errors, target_errors=target_errors or {}, entered=entered or {},
                           period_ok=not period_errors, fran=fran, till=till,
                           measure_labels=MEASURE_TARGET_LABELS,
                           may_set=chosen is not None and measure_targets.may_set(engine, g.actor,
                                                                                   chosen["process_key"]),
                           current_targets=measure_targets.targets(engine, [chosen["process_key"]]).get(
                               chosen["process_key"], {}) if chosen else {},
                           follow_ups=measure_follow_up.follow_ups(engine, [p["process_key"]
                                                                            for p in found["processes"]]),
                           csv_processes=url_for("pages.reports.measure_report", format="csv", fran=fran, till=till),
                           csv_steps=url_for("pages.reports.measure_report", format="csv",
                                             process=filters["process"] or None, fran=fran, till=till)), status


@bp.post("/matetal/mal")
@signed_in
def set_measure_target() -> Any:
    """Set (or with an empty value remove) a process's target for a measure, from the Mätetal page;
    a refused value comes back in the page's error summary, beside its field."""
    key = (request.form.get("process") or "").strip()
    measure = request.form.get("measure") or ""
    try:
        measure_targets.set_target(current_engine(), g.actor, key, measure, request.form.get("target"))
    except InvalidInput as exc:
        return _measure_page({measure: exc.detail}, {measure: (request.form.get("target") or "")[:40]}, exc.status)
    flash("Målet är sparat.")
    return redirect(url_for("pages.reports.measure_report", process=key))


@bp.get("/granskning")
@signed_in
def audit_page() -> Any:
    """The state of the evidence for auditors and administrators: the latest recorded verification,
    when one last found nothing, the latest signed checkpoint and its keys; with ?kontrollera=1 a
    live check of every history now (not recorded: an auditor changes nothing)."""
    audit.require_reader(g.actor)
    engine = current_engine()
    live = audit.verify_all(engine, trigger="page", actor=g.actor.name, record=False) \
        if request.args.get("kontrollera") == "1" else None
    return render_template("audit.html", status=audit.status(engine), live=live)
