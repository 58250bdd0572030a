"""The text a case is found by in the lists' free-text search, kept on the case row.

Searching the stored JSON of every case's data on each query (with a casefolding function per
row on SQLite) made a search in the inbox cost a scan of all of it; the text is instead made
once, when the case is written: its business key and every value in its data (at any depth,
names of fields left out), casefolded and joined by a line break, bounded in length. A search
then looks for casefolded text in casefolded text, a plain substring search on every backend.
"""

from __future__ import annotations

from typing import Any

# A case's data is bounded by the engine's limits; its search text is bounded here as well, so
# that the row stays small whatever the limits are set to (the first values are kept).
MAX_CHARS = 20_000
MAX_DEPTH = 20


def _values(value: Any, out: list[str], depth: int) -> None:
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        for v in value.values():
            _values(v, out, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _values(v, out, depth + 1)
    elif isinstance(value, bool):
        return  # true and false are no one's search
    elif isinstance(value, (str, int, float)):
        out.append(str(value))


def search_text(business_key: str | None, data: Any) -> str:
    """The casefolded text a case is searched by: its business key and the values of its data."""
    parts: list[str] = [business_key] if business_key else []
    _values(data, parts, 0)
    return "\n".join(parts).casefold()[:MAX_CHARS]

