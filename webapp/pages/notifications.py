"""One's notifications, and the menu's unread count that htmx polls."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, redirect, render_template, url_for

from engine.routing import notifications

from .common import current_engine, session_actor, signed_in

bp = Blueprint("notifications", __name__)


@bp.get("/notifications")
@signed_in
def notification_list() -> str:
    """One's notifications, newest first."""
    return render_template("notifications.html", listing=notifications.list_for(current_engine(), g.actor))


@bp.get("/notifications/badge")
def notification_badge() -> Any:
    """The menu's unread count, for htmx to poll; 286 (htmx: stop polling) once signed out."""
    g.actor = session_actor()
    if g.actor is None:
        return Response("", status=286)
    return render_template("_badge.html")


@bp.post("/notifications/<int:notification_id>/read")
@signed_in
def notification_read(notification_id: int) -> Response:
    """Mark a notification read."""
    notifications.mark_read(current_engine(), g.actor, notification_id)
    return redirect(url_for("pages.notifications.notification_list"))  # type: ignore[return-value]

