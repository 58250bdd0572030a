"""The manager's page "Enhetens ärenden": open, overdue and due-soon steps per person in the units
they manage, each number a link to the inbox filtered to those steps."""

from __future__ import annotations

from flask import Blueprint, g, render_template

from engine.base.errors import Forbidden
from engine.service import unit_overview

from .common import current_engine, signed_in

bp = Blueprint("units", __name__)


@bp.get("/enhet")
@signed_in
def overview() -> str:
    """The units the signed-in manager manages (an administrator: every unit), person by person."""
    if not (g.actor.manages or g.actor.is_admin):
        raise Forbidden("Sidan visar enheter du är chef för; du är inte chef för någon enhet.")
    return render_template("unit_overview.html", units=unit_overview.overview(current_engine(), g.actor))
