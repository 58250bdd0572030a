"""Null as JUEL and FEEL read it, for the conditions translated from them (`bpmn.expressions.null_safe`).

Camunda 8 documents that FEEL reads a variable the case does not hold as null, and that a
comparison with null is not true (so the default flow is taken); JUEL (Camunda 7, Flowable) reads
a missing value as null too, false as a condition and equal only to null. Python conditions keep
SpiffWorkflow's reading (a missing name is an error) and never see this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Null:
    """A variable a JUEL or FEEL condition reads that the case does not hold: null, as those
    languages read it (Camunda 8's FEEL, Camunda 7's and Flowable's JUEL): equal only to null,
    every ordering comparison false, a path into it null again, false as a condition, empty."""

    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return other is None or isinstance(other, Null)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return 0

    def _false(self, other: object) -> bool:
        return False

    __lt__ = __le__ = __gt__ = __ge__ = _false

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
        if not isinstance(name, str) or name.startswith("_") or name not in data:
            return NULL
        return data[name]

    return rutin_value
