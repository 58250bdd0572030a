"""Modeler dialects, each read into one shape (`TaskExtensions`) that the normalizer merges.

One module per dialect; each exposes ``read_task(element) -> TaskExtensions`` and knows only its
own namespace. Standard BPMN (lanes, potentialOwner, documentation) lives in ``standard``.

Imports inside functions: each dialect module imports `TaskExtensions` and the helpers from this
package, so `read_all` imports the dialect modules when it runs rather than at the top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree


@dataclass
class TaskExtensions:
    """What one dialect says about a human step. Empty fields mean 'this dialect is silent'."""

    dialect: str
    assignee: str | None = None
    candidate_groups: list[str] = field(default_factory=list)
    candidate_users: list[str] = field(default_factory=list)
    due: str | None = None
    follow_up: str | None = None
    priority: str | None = None
    form_key: str | None = None
    form_fields: list[dict[str, Any]] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    io: list[dict[str, str | None]] = field(default_factory=list)
    instructions: str | None = None  # text for the person doing the step (SpiffArena's instructionsForEndUser)


def split_list(value: str | None) -> list[str]:
    """Split a comma-separated attribute value, dropping blanks."""
    if not value:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def children(el: etree._Element, ns: str, local: str) -> list[etree._Element]:
    """Direct and nested extension elements with the given namespace and local name."""
    return list(el.iter(f"{{{ns}}}{local}"))


def read_all(el: etree._Element) -> list[TaskExtensions]:
    """Read every dialect's extensions on a task element, most specific dialects first."""
    from . import camunda, flowable, rutin, spiff, zeebe

    found = []
    for module in (rutin, zeebe, camunda, flowable, spiff):
        ext = module.read_task(el)
        if ext is not None:
            found.append(ext)
    return found
