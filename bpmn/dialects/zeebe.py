"""Camunda 8 (``zeebe:``) task extensions: assignmentDefinition, taskSchedule, priority, properties."""

from __future__ import annotations

from typing import Any

from lxml import etree

from .. import forms
from . import TaskExtensions, split_list

NS = "http://camunda.org/schema/zeebe/1.0"


def embedded_form(el: etree._Element, form_key: str | None) -> list[dict[str, Any]]:
    """The fields of a Camunda Form embedded as ``zeebe:userTaskForm`` JSON in the process."""
    if not form_key:
        return []
    form_id = form_key.rsplit(":", 1)[-1]
    for form in el.getroottree().getroot().iter(f"{{{NS}}}userTaskForm"):
        if form.get("id") == form_id and (form.text or "").strip():
            return forms.fields(form.text or "") or []
    return []


def _feel_literal(value: str | None) -> str | None:
    """Zeebe writes static values plainly and expressions with a leading '='."""
    if value is None or not value.strip():
        return None
    return value.strip()


def read_task(el: etree._Element) -> TaskExtensions | None:
    """Read Zeebe extension elements of a task; None when it carries none."""
    ext = TaskExtensions(dialect="zeebe")
    found = False
    for a in el.iter(f"{{{NS}}}assignmentDefinition"):
        found = True
        ext.assignee = _feel_literal(a.get("assignee"))
        ext.candidate_groups = split_list(_strip_feel_list(a.get("candidateGroups")))
        ext.candidate_users = split_list(_strip_feel_list(a.get("candidateUsers")))
    for s in el.iter(f"{{{NS}}}taskSchedule"):
        found = True
        ext.due = _feel_literal(s.get("dueDate"))
        ext.follow_up = _feel_literal(s.get("followUpDate"))
    for p in el.iter(f"{{{NS}}}priorityDefinition"):
        found = True
        ext.priority = _feel_literal(p.get("priority"))
    for f in el.iter(f"{{{NS}}}formDefinition"):
        found = True
        ext.form_key = f.get("formKey") or f.get("formId") or f.get("externalReference")
        ext.form_fields = embedded_form(el, f.get("formKey"))
    for p in el.iter(f"{{{NS}}}property"):
        found = True
        if p.get("name"):
            ext.properties[p.get("name") or ""] = p.get("value") or ""
    for kind in ("input", "output"):
        for m in el.iter(f"{{{NS}}}{kind}"):
            found = True
            ext.io.append({"direction": "in" if kind == "input" else "out", "name": m.get("target"),
                           "source": m.get("source")})
    for h in el.iter(f"{{{NS}}}header"):
        found = True
        if h.get("key"):
            ext.properties[h.get("key") or ""] = h.get("value") or ""
    return ext if found else None


def _strip_feel_list(value: str | None) -> str | None:
    """Accept both ``a, b`` and the FEEL list literal ``=["a","b"]``."""
    if not value:
        return value
    v = value.strip()
    if v.startswith("="):
        v = v[1:].strip()
    if v.startswith("[") and v.endswith("]"):
        v = ",".join(part.strip().strip('"').strip("'") for part in v[1:-1].split(","))
    return v
