"""Role names and their matching keys."""

from __future__ import annotations

import unicodedata

ADMIN = "admin"
DESIGNER = "designer"
AUDITOR = "auditor"
SYSTEM_ROLES = {ADMIN, DESIGNER, AUDITOR}


def role_key(role: str) -> str:
    """The matching key of a role name: NFC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFC", role).casefold().split())


def scoped(key: str, unit_id: str | None) -> str:
    """A role key held in one unit (``key@unit``), or group-wide (``key``)."""
    return f"{key}@{unit_id}" if unit_id else key
