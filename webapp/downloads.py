"""Files the API and the pages hand out for download.

Every file goes out as an attachment that cannot become a page in Rutin's origin: the browser
saves it (``Content-Disposition: attachment`` under a sanitized name), takes it for the type it
is sent as (``nosniff``), and, were it opened all the same, opens it sandboxed, in an origin of
its own, with nothing allowed to load or run (``Content-Security-Policy: sandbox`` and
``default-src 'none'``). An uploaded diagram can carry XHTML ``<script>`` elements, SVG event
attributes or an HTML ``<meta http-equiv="refresh">``; served as a document in Rutin's origin,
they would run with the reader's session. A ``fetch`` from Rutin's own pages (the diagram
viewer) reads such a response as usual.
"""

from __future__ import annotations

from flask import Response
from werkzeug.utils import secure_filename

DOWNLOAD_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"


def attachment(body: bytes | str, filename: str, content_type: str) -> Response:
    """`body` as a download saved under `filename` (reduced to ASCII letters, digits, ``.``,
    ``-`` and ``_``), which no browser runs or renders as a page."""
    name = secure_filename(filename) or "fil"
    return Response(body, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_POLICY,
    })


def csv_download(text: str, filename: str) -> Response:
    """A CSV text as a file the browser saves under `filename`."""
    return attachment(text, filename, "text/csv; charset=utf-8")


def diagram_download(xml: bytes, key: str, version: int) -> Response:
    """A version's BPMN XML, byte for byte as uploaded, as the file ``<key>-v<version>.bpmn``.

    Sent as ``application/xml`` (a non-HTML type; no charset is added, since the XML declares
    its own encoding), as a download in a sandbox (see the module's docstring)."""
    return attachment(xml, f"{key}-v{version}.bpmn", "application/xml")
