"""Which form fields are long answers, shown as a text area rather than a one-line box.

The form's own schema decides when it says anything: a Camunda Forms ``textarea``, a Camunda 7
field property asking for one (``multiline``, ``textarea``, ``ui:widget=textarea``, ``rows``),
or room for more than a line (``maxlength`` over `LONG_TEXT`). A schema that limits the field
to a short text has spoken too. Only a text field about which the schema says nothing is judged
by its name or label: a motivering, a beskrivning, a kommentar is a long answer in Swedish casework.
"""

from __future__ import annotations

import re
from typing import Any

from .common import bp

LONG_TEXT = 200
TEXT_TYPES = {"string", "text", ""}
LONG_NAMES = re.compile(r"motiver|beskriv|kommentar|anteckning|redog[öo]r|yttrande|synpunkt|fritext|övrigt|ovrigt",
                        re.IGNORECASE)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@bp.app_template_test("long_text")
def long_text(field: Any) -> bool:
    """Whether a task's or start form's field (as the engine shows it) is a long answer."""
    found = field if isinstance(field, dict) else vars(field) if hasattr(field, "__dict__") else {}
    if str(found.get("type") or "string").lower() not in TEXT_TYPES:
        return False
    c = found.get("constraints") or {}
    if c.get("multiline") is not None:
        return bool(c.get("multiline"))
    longest = _number(c.get("maxlength"))
    if longest is not None:
        return longest > LONG_TEXT
    return bool(LONG_NAMES.search(f"{found.get('id') or ''} {found.get('label') or ''}"))
