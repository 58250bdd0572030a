"""Case data as bytes between Rutin and its evaluator processes, and back.

What a script may hold is richer than JSON: tuples, sets, dates, times of day with their zone,
durations, decimals, bytes, dictionaries with keys that are not text. A value of one of those
types becomes a tagged JSON object (``{"\\u0000": "date", "v": "2026-03-02"}``); every other
value is plain JSON. Decoding builds nothing but these data types: the bytes coming back from a
process that ran hostile code are read by the standard JSON parser and a walk that knows eleven
type names, never by ``pickle``, so a sandbox escape in that process cannot become code run
here. Written for Rutin because the maintained codecs either lose these types (JSON), or
construct arbitrary classes on decoding (pickle), or need a schema per value (msgpack with
extension types would do, at the price of a dependency and the same tagging written for it).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

TAG = "\x00"  # a dict with a key starting with it is sent as pairs, so a tagged object is never data


class WireError(ValueError):
    """A value is not data that can cross to or from an evaluator process."""


def dumps(value: Any) -> bytes:
    """`value` as UTF-8 JSON bytes, tagging the types JSON has not; `WireError` for anything else."""
    return to_json(encode(value))


def to_json(encoded: Any) -> bytes:
    """JSON bytes of an already encoded value (or of a message holding encoded values)."""
    try:
        return json.dumps(encoded, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    except RecursionError:
        raise WireError("värdet är för djupt nästlat") from None
    except ValueError as exc:  # an integer with more digits than Python converts to text
        raise WireError(str(exc)) from None


def loads(data: bytes) -> Any:
    """The value `dumps` encoded; `WireError` when the bytes are not such an encoding."""
    return decode(from_json(data))


def from_json(data: bytes) -> Any:
    """Parsed JSON bytes (tagged objects still tagged); `WireError` when they are not JSON."""
    try:
        return json.loads(data.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError) as exc:
        raise WireError(f"ogiltiga data från utvärderaren: {type(exc).__name__}") from None


def sendable(value: Any) -> bool:
    """Whether `value` is data `encode` can carry."""
    try:
        encode(value)
    except WireError:
        return False
    return True


def encode(value: Any) -> Any:
    """`value` as a JSON-able structure with tagged objects; `WireError` for what is not data."""
    try:
        return _encode(value)
    except RecursionError:
        raise WireError("värdet är för djupt nästlat") from None


def decode(encoded: Any) -> Any:
    """The value `encode` made; `WireError` when the structure is not such an encoding."""
    try:
        return _decode(encoded)
    except (ValueError, TypeError, KeyError, IndexError, RecursionError, OverflowError,
            decimal.InvalidOperation) as exc:
        raise WireError(f"ogiltiga data från utvärderaren: {type(exc).__name__}") from None


def _tz(value: dt.tzinfo | None, at: dt.datetime | dt.time) -> Any:
    if value is None:
        return None
    if isinstance(value, ZoneInfo):
        return value.key
    offset = value.utcoffset(at if isinstance(at, dt.datetime) else None)
    return None if offset is None else [offset.days, offset.seconds, offset.microseconds]


def _encode(v: Any) -> Any:
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return v
    if isinstance(v, list):
        return [_encode(x) for x in v]
    if isinstance(v, dict):
        if all(isinstance(k, str) and not k.startswith(TAG) for k in v):
            return {k: _encode(x) for k, x in v.items()}
        return {TAG: "dict", "v": [[_encode(k), _encode(x)] for k, x in v.items()]}
    if isinstance(v, tuple):
        return {TAG: "tuple", "v": [_encode(x) for x in v]}
    if isinstance(v, (set, frozenset)):
        return {TAG: "set" if isinstance(v, set) else "frozenset", "v": [_encode(x) for x in v]}
    if isinstance(v, dt.datetime):
        return {TAG: "datetime", "v": v.replace(tzinfo=None).isoformat(), "tz": _tz(v.tzinfo, v), "fold": v.fold}
    if isinstance(v, dt.date):
        return {TAG: "date", "v": v.isoformat()}
    if isinstance(v, dt.time):
        return {TAG: "time", "v": v.replace(tzinfo=None).isoformat(), "tz": _tz(v.tzinfo, v), "fold": v.fold}
    if isinstance(v, dt.timedelta):
        return {TAG: "timedelta", "v": [v.days, v.seconds, v.microseconds]}
    if isinstance(v, decimal.Decimal):
        return {TAG: "decimal", "v": str(v)}
    if isinstance(v, bytes):
        return {TAG: "bytes", "v": base64.b64encode(v).decode("ascii")}
    raise WireError(f"{type(v).__name__} är inte data")


def _zone(spec: Any) -> dt.tzinfo | None:
    if spec is None:
        return None
    if isinstance(spec, str):
        try:
            return ZoneInfo(spec)
        except (ZoneInfoNotFoundError, ValueError):
            raise WireError(f"okänd tidszon {spec!r}") from None
    days, seconds, micro = spec
    return dt.timezone(dt.timedelta(days=days, seconds=seconds, microseconds=micro))


def _decode(v: Any) -> Any:
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if not isinstance(v, dict):
        return v
    kind = v.get(TAG)
    if kind is None:
        return {k: _decode(x) for k, x in v.items()}
    body = v["v"]
    if kind == "dict":
        return {_decode(k): _decode(x) for k, x in body}
    if kind == "tuple":
        return tuple(_decode(x) for x in body)
    if kind == "set":
        return {_decode(x) for x in body}
    if kind == "frozenset":
        return frozenset(_decode(x) for x in body)
    if kind == "datetime":
        return dt.datetime.fromisoformat(body).replace(tzinfo=_zone(v["tz"]), fold=v["fold"])
    if kind == "date":
        return dt.date.fromisoformat(body)
    if kind == "time":
        return dt.time.fromisoformat(body).replace(tzinfo=_zone(v["tz"]), fold=v["fold"])
    if kind == "timedelta":
        return dt.timedelta(days=body[0], seconds=body[1], microseconds=body[2])
    if kind == "decimal":
        return decimal.Decimal(body)
    if kind == "bytes":
        return base64.b64decode(body, validate=True)
    raise WireError(f"okänd typ {kind!r}")
