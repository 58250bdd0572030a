"""Due dates, follow-up dates and escalation ladders as diagrams write them, read without running
anything.

Modelers write a human step's dates in their own expression language; this module reads the
forms they commonly use into one `DateSpec` the engine computes from (it never evaluates an
expression):

- a period: ``P10D``, ``PT4H``, ``P1M``, ``10WD`` (working days), quoted or not;
- an instant or a day: ``2026-04-01T12:00:00Z``, ``2026-04-01T12:00`` (Swedish time), ``2026-04-01``;
- a variable of the case: ``${svar_senast}``, ``#{svar_senast}``, ``=svar_senast``,
  ``${execution.getVariable("svar_senast")}``;
- FEEL (Zeebe): ``=now() + duration("P3D")``, ``=today() + @"P1W"``, ``=date and time("2026-04-01T12:00:00")``,
  ``=date("2026-04-01")``, ``=@"2026-04-01T12:00:00"``, ``=svar_senast + duration("P2D")``;
- JUEL (Camunda 7, Flowable): ``${dateTime().plusDays(3).toDate()}``, ``${now().plusHours(2)}``,
  chains of ``plusYears``/``plusMonths``/``plusWeeks``/``plusDays``/``plusHours``/``plusMinutes``/
  ``plusSeconds``.

"Now plus a duration" means the duration itself: a due date counted as deadlines are (a whole
number of days ends at the end of the day, on a working day). Anything else raises
`DateSyntaxError`, which the upload reports as a diagnostic on the step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

# Periods, shared with the engine's deadline arithmetic (engine.deadlines).
PERIOD_WORKING = re.compile(r"^P?(\d+)\s*(WD|AD|arbetsdagar|arbetsdag)$", re.IGNORECASE)
PERIOD_ISO = re.compile(
    r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)

# The escalation ladder's vocabulary: what the engine carries out (engine.escalation reads ladders
# with `parse_ladder` and these sets, and has no other).
WORK_ACTIONS = frozenset({"remind", "notify_manager", "reassign_manager", "raise_priority"})
DECISION_ACTIONS = frozenset({"remind", "substitute", "superior", "raise_priority"})
LEVELLED_ACTIONS = frozenset({"notify_manager", "reassign_manager"})
MAX_LEVEL = 10
CASE_WARNING_ACTIONS = frozenset({"remind", "notify_manager"})
_LADDER_ENTRY = re.compile(r"^\s*([+-]?)\s*(0|\d+\s*WD|P[0-9YMWDTHS.]+)\s*:\s*([a-z_]+)(?:\s*:\s*(\d+))?\s*$",
                           re.IGNORECASE)


class DateSyntaxError(ValueError):
    """A date expression this module cannot read (the message says why, in Swedish)."""


@dataclass(frozen=True)
class DateSpec:
    """What a diagram's date says: relative to when the step opens (``period``, ``now``), an
    ``instant`` (ISO text; a bare day is that whole day), or a case ``variable``; ``plus`` a
    period added to it."""

    kind: Literal["period", "now", "instant", "variable"]
    value: str = ""
    plus: str | None = None


# No statutory deadline, policy or ladder runs for a century; a longer period is a typing error
# whose arithmetic would run off the calendar (or count working days for minutes).
MAX_PERIOD_DAYS = 100 * 366


def period_too_long(text: str) -> bool:
    """Whether a period (``P10D``, ``10WD``) is longer than `MAX_PERIOD_DAYS`."""
    text = text.strip().strip("'\"").strip()
    m = PERIOD_WORKING.match(text)
    if m:
        return int(m.group(1)) * 7 / 5 > MAX_PERIOD_DAYS
    m = PERIOD_ISO.match(text.upper())
    if not m:
        return False
    y, mo, w, d, h, mi, sec = (float(g) if g else 0.0 for g in m.groups())
    return y * 366 + mo * 31 + w * 7 + d + h / 24 + mi / 1440 + sec / 86400 > MAX_PERIOD_DAYS


TOO_LONG = "perioden är längre än 100 år"


def is_period(text: str) -> bool:
    """Whether `text` is a period the deadline arithmetic reads (``P10D``, ``PT4H``, ``10WD``)."""
    text = text.strip()
    return bool(PERIOD_WORKING.match(text) or PERIOD_ISO.match(text.upper()))


def _is_instant(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            date.fromisoformat(text)
        except ValueError:
            return False
    return True


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_VARIABLE = re.compile(rf"^(?:[$#]\{{\s*({_NAME})\s*\}}|=\s*({_NAME}))$")
_GET_VARIABLE = re.compile(rf"""^[$#]\{{\s*execution\.getVariable\(\s*['"]({_NAME})['"]\s*\)\s*\}}$""")
_JUEL_CHAIN = re.compile(r"^[$#]\{\s*(?:dateTime\(\)|now\(\))((?:\s*\.\s*plus[A-Za-z]+\(\s*\d+\s*\))*)"
                         r"(?:\s*\.\s*toDate\(\))?\s*\}$")
_JUEL_STEP = re.compile(r"\.\s*plus([A-Za-z]+)\(\s*(\d+)\s*\)")
_UNITS = {"years": "Y", "months": "M", "weeks": "W", "days": "D", "hours": "H", "minutes": "Mi", "seconds": "S"}


def _period_of(parts: dict[str, int]) -> str:
    date_part = "".join(f"{parts[u]}{u}" for u in ("Y", "M", "W", "D") if parts.get(u))
    time_part = "".join(f"{parts[u]}{u[0]}" for u in ("H", "Mi", "S") if parts.get(u))
    return "P" + date_part + (f"T{time_part}" if time_part else "") if (date_part or time_part) else ""


def parse(text: str) -> DateSpec:
    """Read a diagram's due or follow-up date; `DateSyntaxError` when it is in no form Rutin reads."""
    spec = _parse(text)
    for period in (spec.value if spec.kind == "period" else None, spec.plus):
        if period and period_too_long(period):
            raise DateSyntaxError(TOO_LONG)
    return spec


def _parse(text: str) -> DateSpec:
    raw = text.strip()
    unquoted = raw.strip("'\"").strip()
    if not unquoted:
        raise DateSyntaxError("tomt datum")
    if is_period(unquoted):
        return DateSpec("period", unquoted)
    if _is_instant(unquoted):
        return DateSpec("instant", unquoted)
    m = _VARIABLE.match(raw) or _GET_VARIABLE.match(raw)
    if m:
        return DateSpec("variable", next(g for g in m.groups() if g))
    m = _JUEL_CHAIN.match(raw)
    if m:
        parts: dict[str, int] = {}
        for unit, n in _JUEL_STEP.findall(m.group(1)):
            key = _UNITS.get(unit.lower())
            if key is None:
                raise DateSyntaxError(f"plus{unit} finns inte (använd plusDays, plusHours, plusWeeks …)")
            parts[key] = parts.get(key, 0) + int(n)
        period = _period_of(parts)
        return DateSpec("period", period) if period else DateSpec("now")
    if raw.startswith("="):
        return _feel(raw[1:].strip())
    if raw.startswith(("${", "#{")):
        raise DateSyntaxError("uttrycket kan inte läsas utan att köras; skriv en period (P3D, 5WD), en "
                              "tidpunkt, ${variabel} eller ${dateTime().plusDays(3)}")
    raise DateSyntaxError("varken en period (P3D, 5WD), en tidpunkt (2026-04-01T12:00) eller ett uttryck")


def _split_plus(expr: str) -> list[str]:
    """Split a FEEL sum at its top-level ``+`` (not inside quotes: an offset is no addition)."""
    terms, depth, quoted, current = [], 0, False, ""
    for ch in expr:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        if ch == "+" and not quoted and depth == 0:
            terms.append(current.strip())
            current = ""
            continue
        current += ch
    terms.append(current.strip())
    return terms


_FEEL_LITERAL = re.compile(r'^(?:(date and time|date|duration)\s*\(\s*"([^"]*)"\s*\)|@"([^"]*)")$')


def _feel(expr: str) -> DateSpec:
    base: DateSpec | None = None
    plus: str | None = None
    for term in _split_plus(expr):
        term = re.sub(r"\s+", " ", term)
        if term in ("now()", "today()"):
            kind = "now"
            value = ""
        elif re.fullmatch(_NAME, term):
            kind, value = "variable", term
        else:
            m = _FEEL_LITERAL.match(term)
            if not m:
                raise DateSyntaxError(f"FEEL-uttrycket {term!r} kan inte läsas (använd now(), "
                                      'duration("P3D"), date and time("…") eller en variabel)')
            function, text = m.group(1), m.group(2) if m.group(2) is not None else m.group(3)
            if function == "duration" or (function is None and is_period(text)):
                if not is_period(text):
                    raise DateSyntaxError(f"{text!r} är ingen period")
                if plus is not None:
                    raise DateSyntaxError("bara en period kan läggas till")
                plus = text
                continue
            if not _is_instant(text):
                raise DateSyntaxError(f"{text!r} är ingen tidpunkt")
            kind, value = "instant", text
        if base is not None:
            raise DateSyntaxError("två tidpunkter kan inte läggas ihop")
        base = DateSpec(kind, value)  # type: ignore[arg-type]
    if base is None:
        if plus is None:
            raise DateSyntaxError("tomt uttryck")
        return DateSpec("period", plus)
    if base.kind == "now":
        return DateSpec("period", plus) if plus else DateSpec("now")
    return DateSpec(base.kind, base.value, plus)


@dataclass(frozen=True)
class LadderEntry:
    """One rung of an escalation ladder as written: when, relative to the due date (``sign`` and
    ``offset``: ``"0"``, ``"3WD"`` or an ISO period such as ``"PT1H"``), and what (``action``,
    with its ``level`` up the manager chain where one is written)."""

    sign: int
    offset: str
    action: str
    level: int | None = None


def parse_ladder(text: str, actions: frozenset[str]) -> list[LadderEntry]:
    """An escalation ladder (``-1WD:remind; 0:notify_manager:2; +3WD:reassign_manager``) read
    for a step whose ladder may use `actions`: the one reading of a ladder, for the upload's
    diagnostics, a process's deadline policy and the engine that carries it out.

    Raises `DateSyntaxError` (the message says why, in Swedish) for the first entry that cannot
    be read or used, and for a ladder with no entries: an empty ladder is no way to say "never
    escalate", so wherever one is written the next source applies (the process's ladder, then the
    default), as for any other unusable ladder."""
    entries = [e for e in re.split(r"[;,]", text) if e.strip()]
    if not entries:
        raise DateSyntaxError("trappan är tom")
    found = []
    for entry in entries:
        m = _LADDER_ENTRY.match(entry)
        if not m:
            raise DateSyntaxError(f"kan inte läsa steget {entry.strip()!r} "
                                  "(skriv t.ex. -1WD:remind; 0:notify_manager; +3WD:reassign_manager)")
        action, level = m.group(3).lower(), m.group(4)
        if action not in actions:
            raise DateSyntaxError(f"åtgärden {action!r} finns inte här (tillåtna: {', '.join(sorted(actions))})")
        if level is not None and (action not in LEVELLED_ACTIONS or not 1 <= int(level) <= MAX_LEVEL):
            raise DateSyntaxError(f"steget {entry.strip()!r}: bara {', '.join(sorted(LEVELLED_ACTIONS))} "
                                  f"tar en nivå, 1–{MAX_LEVEL}")
        offset = m.group(2).replace(" ", "").upper()
        if offset != "0" and not offset.endswith("WD") and not PERIOD_ISO.match(offset):
            raise DateSyntaxError(f"steget {entry.strip()!r}: {offset!r} är ingen period")
        if offset != "0" and period_too_long(offset):
            raise DateSyntaxError(f"steget {entry.strip()!r}: {TOO_LONG}")
        found.append(LadderEntry(-1 if m.group(1) == "-" else 1, offset, action,
                                 int(level) if level is not None else None))
    return found


def check_ladder(text: str, actions: frozenset[str]) -> str | None:
    """Why an escalation ladder cannot be used (in Swedish), or None when it can (`parse_ladder`)."""
    try:
        parse_ladder(text, actions)
    except DateSyntaxError as exc:
        return str(exc)
    return None


# -- in words ---------------------------------------------------------------------------------------

_WORDS = {"Y": ("år", "år"), "M": ("månad", "månader"), "W": ("vecka", "veckor"), "D": ("dag", "dagar"),
          "H": ("timme", "timmar"), "TM": ("minut", "minuter"), "S": ("sekund", "sekunder"),
          "WD": ("arbetsdag", "arbetsdagar")}


def _counted(n: float, unit: str) -> str:
    one, many = _WORDS[unit]
    shown = int(n) if float(n).is_integer() else str(n).replace(".", ",")
    return f"{shown} {one if n == 1 else many}"


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " och " + parts[-1]


def period_in_words(text: str) -> str | None:
    """A period as a person reads it: ``P14D`` "14 dagar", ``2WD`` "2 arbetsdagar", ``P1Y2M``
    "1 år och 2 månader", ``P0D`` "samma dag"; None for text that is no period."""
    text = text.strip().strip("'\"").strip()
    m = PERIOD_WORKING.match(text)
    if m:
        n = int(m.group(1))
        return "samma dag" if n == 0 else _counted(n, "WD")
    m = PERIOD_ISO.match(text.upper())
    if not m:
        return None
    parts = [_counted(float(v), unit) for v, unit in zip(m.groups(), ("Y", "M", "W", "D", "H", "TM", "S"), strict=True)
             if v and float(v)]
    return _joined(parts) if parts else "samma dag"


def spec_in_words(text: str, name: Callable[[str], str] = str) -> str:
    """A diagram's due or follow-up date as a person reads it, never as the diagram writes it:
    ``P14D`` "14 dagar", ``=inkom + duration("10WD")`` "senast 10 arbetsdagar efter inkom",
    ``${svarsdatum}`` "senast svarsdatum", an instant "senast 2026-04-01 12:00". `name` gives a
    case variable's name as the forms call it. A date in no form Rutin reads: "enligt diagrammet"."""
    try:
        spec = parse(text)
    except DateSyntaxError:
        return "enligt diagrammet"
    if spec.kind == "now":
        return "genast"
    if spec.kind == "period":
        return period_in_words(spec.value) or "enligt diagrammet"
    if spec.kind == "instant":
        return f"senast {spec.value.replace('T', ' ')[:16]}"
    after = period_in_words(spec.plus) if spec.plus else None
    if after is None or after == "samma dag":
        return f"senast {name(spec.value)}"
    return f"senast {after} efter {name(spec.value)}"
