"""The service's log lines, and a request id that ties them to a request.

Every request gets an id: the caller's ``X-Request-Id`` when it is a plausible one (a proxy's),
otherwise a new one; the response carries it back. With ``RUTIN_LOG_FORMAT=json`` each log record
is written as one JSON object per line (time in UTC, level, logger, message, and inside a request
its id and the signed-in user), which a log collector reads without parsing prose; otherwise
lines stay plain text for a person at a terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

# What a request id from outside may look like; anything else is replaced, never logged as given.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id and user."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        if has_request_context():
            out["request_id"] = g.get("request_id")
            actor = g.get("actor")
            out["user"] = getattr(actor, "name", None)
            out["method"], out["path"] = request.method, request.path
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(log_format: str) -> None:
    """Send the root logger's records to stderr in the format asked for (once per process)."""
    root = logging.getLogger()
    if any(getattr(h, "rutin", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.rutin = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    # APScheduler tells of every job it adds and runs at INFO: a line every few seconds that says
    # nothing an operator acts on. Its warnings (a job missed, one still running) still show.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def install(app: Flask) -> None:
    """Give each request an id, sent back in ``X-Request-Id``."""

    @app.before_request
    def _request_id() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    @app.after_request
    def _echo(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response
