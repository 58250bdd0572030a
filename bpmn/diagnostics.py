"""Diagnostics pinned to diagram elements: what cannot run, and what Rutin assumed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Diagnostic:
    """One finding about an uploaded diagram, located by element id and source line."""

    severity: Severity
    code: str
    message: str
    element_id: str | None = None
    element_name: str | None = None
    line: int | None = None
    process_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the diagnostic as a JSON-ready dict, omitting empty location fields."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


class DiagramRejected(Exception):
    """Raised when a document cannot be deployed; carries the located diagnostics."""

    def __init__(self, message: str, diagnostics: list[Diagnostic]):
        super().__init__(message)
        self.message = message
        self.diagnostics = diagnostics
