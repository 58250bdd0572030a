"""Reading a request's arguments at the boundary, strictly: one reader for each kind of argument.

A query argument is given once or not at all (``?unit=a&unit=b`` is refused, not read as "a"); a
whole number is decimal digits within its bounds (no sign where none is allowed, no fraction, no
exponent, no digits of other scripts); yes/no, a choice among words and an instant are what they
say; a JSON body is an object the parser can read, without NaN, NUL or lone surrogates. Each
refusal is a problem detail whose Swedish `detail` names the argument. Path ids are numbers a
database column can hold (`BoundedInt`), and no part of a request (path, query, form field) may
carry a NUL byte, which PostgreSQL cannot store or compare (`install`).
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime
from typing import Any

import yaml
from flask import Flask, request
from werkzeug.routing import IntegerConverter, Map

from engine.base import forms
from engine.base.errors import BadRequest, InvalidInput

# The largest id or number a path may name: PostgreSQL's integer columns stop here.
MAX_ID = 2**31 - 1
MAX_OFFSET = 10_000_000
MAX_TEXT = 200
_WHOLE = re.compile(r"-?[0-9]{1,12}")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_TRUE, _FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


class BoundedInt(IntegerConverter):
    """Flask's ``int`` path converter, up to `MAX_ID` unless a rule says otherwise: a larger
    number names nothing (404) instead of overflowing the database driver."""

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def install(app: Flask) -> None:
    """Bound the ``int`` path converter and refuse NUL bytes anywhere in a request's path, query
    or form (call before blueprints are registered)."""
    app.url_map.converters["int"] = BoundedInt

    @app.before_request
    def _no_nul() -> None:
        parts = [request.path, *request.args.keys(), *request.args.values()]
        if request.method in ("POST", "PUT", "PATCH") and request.mimetype in _FORM_TYPES:
            parts += [*request.form.keys(), *request.form.values()]
        # A multipart part without a name comes through as the key None.
        if any(isinstance(p, str) and "\x00" in p for p in parts):
            raise BadRequest("Begäran innehåller ett NUL-tecken (%00), vilket inte tillåts.")


def _quoted(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def one(name: str) -> str | None:
    """The query argument `name` as given once, or None; refused when given more than once."""
    values = request.args.getlist(name)
    if len(values) > 1:
        raise InvalidInput(f"Parametern {name} får bara anges en gång.", field=name)
    return values[0] if values else None


def text_arg(name: str, *, max_length: int = MAX_TEXT) -> str | None:
    """A text query argument (None when absent or empty)."""
    value = one(name)
    if not value:
        return None
    if len(value) > max_length:
        raise InvalidInput(f"Parametern {name} får vara högst {max_length} tecken.", field=name)
    return value


def int_arg(name: str, default: int, *, minimum: int = 0, maximum: int = MAX_OFFSET) -> int:
    """A whole-number query argument within [minimum, maximum] (`default` when absent or empty)."""
    value = one(name)
    if value is None or value == "":
        return default
    if not _WHOLE.fullmatch(value):
        raise InvalidInput(f"Parametern {name} ska vara ett heltal, inte {_quoted(value)}.", field=name)
    number = int(value)
    if not minimum <= number <= maximum:
        raise InvalidInput(f"Parametern {name} ska vara ett heltal från {minimum} till {maximum}.", field=name)
    return number


def bool_arg(name: str) -> bool:
    """A yes/no query argument: true, 1 or yes; false, 0 or no (case aside); absent is no."""
    value = one(name)
    if value is None or value == "":
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidInput(f"Parametern {name} ska vara true eller false, inte {_quoted(value)}.", field=name)


def choice_arg(name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
    """A query argument that is one of `choices` (`default` when absent or empty)."""
    value = one(name)
    if value is None or value == "":
        return default
    if value not in choices:
        raise InvalidInput(f"Parametern {name} ska vara en av {', '.join(choices)}, inte {_quoted(value)}.",
                           field=name)
    return value


def instant_arg(name: str) -> datetime | None:
    """An ISO 8601 instant with a time zone as a query argument (None when absent or empty)."""
    value = one(name)
    return forms.instant(value, f"Parametern {name}") if value else None


def upload_filename(value: str | None) -> str | None:
    """An uploaded file's name as the client gives it (multipart or ``X-Filename``), kept with
    the upload: at most 255 characters, no NUL."""
    if not value:
        return None
    if "\x00" in value:
        raise BadRequest("Filnamnet innehåller ett NUL-tecken, vilket inte tillåts.")
    if len(value) > 255:
        raise InvalidInput("Filnamnet får vara högst 255 tecken.", field="filename")
    return value


# -- JSON bodies ------------------------------------------------------------------------------------


class _NotANumber(ValueError):
    pass


def _not_a_number(name: str) -> Any:
    raise _NotANumber(name)


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 overflows to infinity, which JSON cannot carry back
        raise _NotANumber(text)
    return number


def json_body(required: bool = False) -> dict[str, Any]:
    """The request's JSON object; 400 when it is malformed (too deep for the parser included), not
    an object, or holds NaN, a NUL character or a lone surrogate."""
    if request.mimetype in _FORM_TYPES and request.content_length:
        # a form's body has been read as the form (its stream is spent): it is not JSON
        raise BadRequest("Innehållet ska skickas som application/json.")
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise BadRequest("Begäran saknar JSON-innehåll.")
        return {}
    if not (request.mimetype == "application/json" or request.mimetype.endswith("+json")):
        raise BadRequest("Innehållet ska skickas som application/json.")
    try:
        body = json.loads(raw, parse_constant=_not_a_number, parse_float=_finite)
    except _NotANumber:
        raise BadRequest("JSON har inga NaN eller Infinity; skicka ett tal eller null.") from None
    except RecursionError:
        raise BadRequest("Innehållet är inte giltig JSON: det är för djupt nästlat för att läsas.") from None
    except ValueError:
        raise BadRequest("Innehållet är inte giltig JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("Innehållet ska vara ett JSON-objekt.")
    problem = _text_problem(body)
    if problem:
        raise BadRequest(problem)
    return body


def _text_problem(value: Any) -> str | None:
    """What is wrong with the text of a parsed JSON or YAML value, if anything (walked without
    recursing, so that any depth the parser took is safe here; how deep case data may nest is the
    engine's one rule, `engine.base.data_limits.MAX_DEPTH`, refused naming the field)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "Innehållet har text med NUL-tecken (\\u0000), vilket inte tillåts."
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                # A \ud800 escape parses to a lone surrogate, which no database or JSON response can carry.
                return "Innehållet har text med ogiltiga tecken (ett ensamt surrogattecken, \\uD800–\\uDFFF)."
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def yaml_object(text: str) -> dict[str, Any]:
    """A YAML document that is a mapping (empty: an empty one), within the JSON body's limits; 400
    otherwise, and for anchors and aliases (an alias lets a few lines stand for millions of nodes;
    an organisation file needs none)."""
    try:
        if any(isinstance(event, yaml.AliasEvent) for event in yaml.parse(text, Loader=yaml.SafeLoader)):
            raise BadRequest("YAML-innehållet använder alias (*namn), vilket inte tillåts.")
        data = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError):
        raise BadRequest("Innehållet är inte giltig YAML.") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise BadRequest("Innehållet ska vara ett YAML-objekt (nycklar och värden), inte en lista eller ett värde.")
    problem = _text_problem(data)
    if problem:
        raise BadRequest(problem)
    return data


def required_text(body: dict[str, Any], name: str) -> str:
    """A required text field of the body: 422 when it is missing or not text."""
    value = body.get(name)
    if value is None or value == "":
        raise InvalidInput(f"Fältet {name} saknas.", field=name)
    if not isinstance(value, str):
        raise InvalidInput(f"Fältet {name} ska vara text.", field=name)
    return value


def optional_text(body: dict[str, Any], name: str, *, max_length: int | None = None) -> str | None:
    """An optional text field of the body (None when absent or null): 422 when it is not text or
    longer than `max_length`."""
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"Fältet {name} ska vara text.", field=name)
    if max_length is not None and len(value) > max_length:
        raise InvalidInput(f"Fältet {name} får vara högst {max_length} tecken.", field=name)
    return value


def optional_object(body: dict[str, Any], name: str) -> dict[str, Any] | None:
    """An optional JSON object field of the body (None when absent or null)."""
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise InvalidInput(f"Fältet {name} ska vara ett JSON-objekt.", field=name)
    return value
