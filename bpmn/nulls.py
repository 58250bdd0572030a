"""Null as JUEL and FEEL read it, for the conditions translated from them (`bpmn.expressions.null_safe`).

Camunda 8 documents that FEEL reads a variable the case does not hold as null, and that a
comparison with null is not true (so the default flow is taken); JUEL (Camunda 7, Flowable) reads
a missing value as null too, false as a condition and equal only to null. Python conditions keep
SpiffWorkflow's reading (a missing name is an error) and never see this.

FEEL's logic is three-valued (DMN 1.3, 10.3.2.5; Camunda 8's "Boolean expressions" and
``not()``): ``not(null)`` is null, ``null and false`` is false, ``null or true`` is true, and any
other mix with null (or with a value that is not a boolean) is null; an ordering comparison with
null, or between values of different types, is null; ``x = null`` is a null check (true when
``x`` is null or missing, false for any other value). A condition is taken only when it is true,
so a null one is not (the default flow is). Python's ``not``, ``and`` and ``or`` cannot give null,
so `bpmn.expressions.null_safe` writes them as calls of `feel_not`, `feel_and`, `feel_or` and
`feel_compare` (all operands evaluated: FEEL's operators are functions of values, and an operand
that would fail is null rather than an error).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

# The functions null-safe conditions call, by the names they call them (`bpmn.sandbox` provides them).
HELPERS = frozenset({"rutin_value", "rutin_truth", "rutin_not", "rutin_and", "rutin_or", "rutin_compare"})
# Of those, the ones that combine their arguments' values (no lookup): any argument may be an expression.
COMBINATORS = frozenset({"rutin_truth", "rutin_not", "rutin_and", "rutin_or", "rutin_compare"})


class Null:
    """A variable a JUEL or FEEL condition reads that the case does not hold: null, as those
    languages read it (Camunda 8's FEEL, Camunda 7's and Flowable's JUEL): equal only to null,
    every ordering comparison null, a path into it null again, not true as a condition, empty."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return other is None or isinstance(other, Null)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return 0

    def _unordered(self, other: object) -> Null:
        return self

    __lt__ = __le__ = __gt__ = __ge__ = _unordered

    def __getitem__(self, key: object) -> Null:
        return self

    def _null(self, *other: object) -> Null:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _null
    __mod__ = __rmod__ = __neg__ = __pos__ = _null

    def __contains__(self, item: object) -> bool:
        return False

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "null"


NULL = Null()


def truth(value: Any, *otherwise: Any) -> Any:
    """``rutin_truth(condition)``: a JUEL or FEEL condition's value, null read as false;
    ``rutin_truth(value, None)``: a mapping's value, null stored as None."""
    if isinstance(value, Null):
        return otherwise[0] if otherwise else False
    return value


def _is_null(value: Any) -> bool:
    return value is None or isinstance(value, Null)


def feel_not(value: Any) -> Any:
    """``rutin_not(x)``: FEEL's ``not(x)``; null unless `x` is a boolean."""
    return (not value) if isinstance(value, bool) else NULL


def feel_and(*values: Any) -> Any:
    """``rutin_and(a, b, ...)``: FEEL's conjunction; false if any operand is false, true if all
    are true, else null."""
    if any(v is False for v in values):
        return False
    return True if all(v is True for v in values) else NULL


def feel_or(*values: Any) -> Any:
    """``rutin_or(a, b, ...)``: FEEL's disjunction; true if any operand is true, false if all
    are false, else null."""
    if any(v is True for v in values):
        return True
    return False if all(v is False for v in values) else NULL


_ORDER: dict[str, Callable[[Any, Any], Any]] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                                                ">=": operator.ge}


def feel_compare(op: str, left: Any, right: Any) -> Any:
    """``rutin_compare(op, a, b)``: FEEL's ordering comparison; null when either side is null or
    the two are not of one comparable type (a boolean is not a number here, as in FEEL)."""
    if op not in _ORDER or _is_null(left) or _is_null(right) or isinstance(left, bool) != isinstance(right, bool):
        return NULL
    try:
        result = _ORDER[op](left, right)
    except TypeError:
        return NULL
    return result if isinstance(result, bool) else NULL


def value_reader(data: dict[str, Any]) -> Callable[..., Any]:
    """``rutin_value(name)``: a variable a JUEL or FEEL condition reads, null when the case does
    not hold it (`bpmn.expressions.null_safe` writes the calls); ``rutin_value(name, record)``:
    the field of a record on a path (FEEL's ``order.id``), null when the record lacks it or is
    itself null (missing, or None in the case's data), as FEEL reads a path."""
    def rutin_value(name: str, *within: Any) -> Any:
        if within:
            record = within[0]
            if record is None or isinstance(record, Null) or (isinstance(record, dict) and name not in record):
                return NULL
            return record[name]
        if not isinstance(name, str) or name.startswith("_") or name not in data or data[name] is None:
            return NULL
        return data[name]

    return rutin_value
