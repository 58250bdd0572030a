"""Files the API and the pages hand out for download."""

from __future__ import annotations

from flask import Response


def csv_download(text: str, filename: str) -> Response:
    """A CSV text as a file the browser saves under `filename`."""
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"})
