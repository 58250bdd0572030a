"""Flowable and Activiti (``flowable:``, ``activiti:``) task attributes."""

from __future__ import annotations

from typing import Any

from lxml import etree

from . import TaskExtensions, children, split_list

NAMESPACES = {"flowable": "http://flowable.org/bpmn", "activiti": "http://activiti.org/bpmn"}


def _form_properties(el: etree._Element, ns: str) -> list[dict[str, Any]]:
    fields = []
    for p in children(el, ns, "formProperty"):
        field: dict[str, Any] = {
            "id": p.get("id") or "",
            "label": p.get("name") or p.get("id") or "",
            "type": p.get("type") or "string",
            "default": p.get("default"),
            "required": (p.get("required") or "").lower() == "true",
            "options": [
                {"id": v.get("id") or "", "name": v.get("name") or v.get("id") or ""}
                for v in p.iter(f"{{{ns}}}value")
            ],
            "constraints": {},
        }
        if (p.get("writable") or "").lower() == "false":
            field["constraints"]["readonly"] = True
            field["required"] = False
        if p.get("datePattern"):
            field["constraints"]["datePattern"] = p.get("datePattern")
        if field["type"] == "enum" and not field["options"]:
            field["type"] = "string"
        if field["id"]:
            fields.append(field)
    return fields


def read_task(el: etree._Element) -> TaskExtensions | None:
    """Read Flowable or Activiti attributes of a task element; None when it carries none."""
    for dialect, ns in NAMESPACES.items():
        def attr(name: str, ns: str = ns) -> str | None:
            value = el.get(f"{{{ns}}}{name}")
            return value.strip() if value and value.strip() else None

        ext = TaskExtensions(
            dialect=dialect,
            assignee=attr("assignee"),
            candidate_groups=split_list(attr("candidateGroups")),
            candidate_users=split_list(attr("candidateUsers")),
            due=attr("dueDate"),
            priority=attr("priority"),
            form_key=attr("formKey"),
            form_fields=_form_properties(el, ns),
        )
        if ext != TaskExtensions(dialect=dialect):
            return ext
    return None


def read_starters(proc: etree._Element) -> list[tuple[str, list[str], list[str]]]:
    """``candidateStarterGroups``/``candidateStarterUsers`` of a process, per dialect that writes them."""
    found = []
    for dialect, ns in NAMESPACES.items():
        groups, users = proc.get(f"{{{ns}}}candidateStarterGroups"), proc.get(f"{{{ns}}}candidateStarterUsers")
        if groups is not None or users is not None:
            found.append((dialect, split_list(groups), split_list(users)))
    return found
