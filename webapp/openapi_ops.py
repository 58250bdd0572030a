"""The building blocks of the OpenAPI document (`webapp.openapi`): an operation, its parameters and
bodies, written the same way by every part of it."""

from __future__ import annotations

from typing import Any

from . import params

PROBLEM = {"$ref": "#/components/responses/Problem"}
MAX_TEXT, MAX_ID = params.MAX_TEXT, params.MAX_ID


def op(summary: str, *, ok: str = "200", body: dict[str, Any] | None = None, params: list[Any] | None = None,
        errors: tuple[str, ...] = ("401", "403", "404"), ok_schema: dict[str, Any] | None = None,
        public: bool = False, ok_content: str | tuple[str, ...] = "application/json") -> dict[str, Any]:
    """One operation: its summary, the success response, the problem responses `errors`, body and
    parameters."""
    types = (ok_content,) if isinstance(ok_content, str) else ok_content
    # JSON and YAML carry the same object; CSV is text
    content = {t: {"schema": ok_schema or ({"type": "string"} if t == "text/csv" else {"type": "object"})}
               for t in types}
    out: dict[str, Any] = {"summary": summary, "responses": {ok: {"description": "OK", "content": content}}}
    for code in errors:
        out["responses"][code] = PROBLEM
    if body is not None:
        out["requestBody"] = body
    if params:
        out["parameters"] = params
    if public:
        out["security"] = []
    return out


def path(name: str, desc: str) -> dict[str, Any]:
    """A string in the path."""
    return {"name": name, "in": "path", "required": True, "description": desc, "schema": {"type": "string"}}


def query(name: str, desc: str, type_: str = "string", enum: list[str] | None = None,
          **bounds: Any) -> dict[str, Any]:
    """An optional query parameter (a string is bounded in length unless it has a format or an enum)."""
    schema: dict[str, Any] = {"type": type_, **bounds}
    if enum:
        schema["enum"] = enum
    elif type_ == "string" and "format" not in bounds:
        schema["maxLength"] = MAX_TEXT
    # given once: a repeated argument (?unit=a&unit=b) is refused, not read as its first value
    return {"name": name, "in": "query", "required": False, "description": desc, "schema": schema}


def id_param(name: str, desc: str) -> dict[str, Any]:
    """A number in a path: an id or a version number, as large as the database holds."""
    return {**path(name, desc), "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID}}


def instant(name: str, desc: str) -> dict[str, Any]:
    """An ISO 8601 instant in the query."""
    return query(name, desc, format="date-time")


def json_body(schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    """A JSON request body of `schema`."""
    return {"required": required, "content": {"application/json": {"schema": schema}}}
