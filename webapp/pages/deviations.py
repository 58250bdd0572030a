"""A deviation from anywhere: the "Rapportera avvikelse" button on every case and task page, and
the links both ways that those pages show (`_deviation.html`, which reads `deviation_links`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, request, url_for

from engine.service import deviations

from .common import current_engine, signed_in

bp = Blueprint("deviations", __name__)


@bp.post("/cases/<case_id>/avvikelse")
@signed_in
def report(case_id: str) -> Any:
    """Start a deviation case about this case (and the step the form names); go to the reporter's step."""
    started = deviations.report(current_engine(), g.actor, case_id, request.form.get("task_id") or None)
    flash("Avvikelsen är startad. Beskriv vad som hänt.")
    if started["task_id"]:
        return redirect(url_for("pages.tasks.task", task_id=started["task_id"]))
    return redirect(url_for("pages.cases.case", case_id=started["case_id"]))


@bp.app_context_processor
def _deviation_links() -> dict[str, Any]:
    """`deviation_links(case_id)` for the case and task pages: what the case's deviations are."""
    return {"deviation_links": lambda case_id: deviations.links(current_engine(), g.actor, case_id)}
