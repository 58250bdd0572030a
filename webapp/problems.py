"""RFC 9457 problem details for every error the API returns; never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from engine.base.errors import RutinError
from engine.base.labels import HTTP_PROBLEMS, PROBLEM_TITLES

from .pages import http_error_page

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> Response:
    """A problem-details response."""
    body = {"type": type_, "title": title, "status": status, "detail": detail, "instance": request.path, **extra}
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM)


_HTTP_TYPES = {code: (f"https://rutin.example/problems/{kind}", PROBLEM_TITLES[kind])
               for code, kind in HTTP_PROBLEMS.items()}


def _in_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def wants_page() -> bool:
    """Whether an error should be a Swedish page rather than problem details: a browser's request
    (its Accept header prefers text/html) for an address outside the API. The API, and clients
    that do not ask for HTML, always get problem details."""
    if _in_api():
        return False
    return request.accept_mimetypes.best_match([PROBLEM, "application/json", "text/html"]) == "text/html"


def install(app: Flask) -> None:
    """Register the error handlers on the app."""

    @app.errorhandler(RutinError)
    def _rutin(exc: RutinError) -> Response:
        resp = problem(exc.status, exc.title, exc.detail, exc.type, **exc.extra)
        if exc.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="rutin"'
        if exc.status == 409 and exc.type.endswith("case-busy"):
            resp.headers["Retry-After"] = "1"
        if exc.status == 429 and "retry_after" in exc.extra:
            resp.headers["Retry-After"] = str(exc.extra["retry_after"])
        return resp

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        code = exc.code or 500
        if wants_page():
            body, status = http_error_page(exc)
            resp = Response(body, status=status, mimetype="text/html")
        else:
            resp = _http_problem(exc, code)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            resp.headers["Allow"] = ", ".join(exc.valid_methods)
        if not _in_api():  # the same address answers a page or problem details by the Accept header
            resp.vary.add("Accept")
        return resp

    def _http_problem(exc: HTTPException, code: int) -> Response:
        type_, title = _HTTP_TYPES.get(code, ("about:blank", exc.name))
        detail = {
            404: "Adressen finns inte.",
            405: "Metoden stöds inte för den här adressen.",
            413: "Begäran är för stor.",
        }.get(code, exc.description or exc.name)
        return problem(code, title, detail, type_)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, PROBLEM_TITLES["internal"], "Ett oväntat fel inträffade; det är loggat. Försök igen.",
                       "https://rutin.example/problems/internal")
