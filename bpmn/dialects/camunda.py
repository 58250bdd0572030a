"""Camunda 7 (``camunda:``) task attributes: assignment, dates, priority, forms, properties."""

from __future__ import annotations

from typing import Any

from lxml import etree

from . import TaskExtensions, children, split_list

NS = "http://camunda.org/schema/1.0/bpmn"


def _attr(el: etree._Element, name: str) -> str | None:
    value = el.get(f"{{{NS}}}{name}")
    return value.strip() if value and value.strip() else None


def read_form_fields(el: etree._Element, ns: str = NS) -> list[dict[str, Any]]:
    """Read ``formData/formField`` (Camunda 7; Flowable/Activiti formProperty is separate)."""
    fields = []
    for f in children(el, ns, "formField"):
        field: dict[str, Any] = {
            "id": f.get("id") or "",
            "label": f.get("label") or f.get("id") or "",
            "type": f.get("type") or "string",
            "default": f.get("defaultValue"),
            "required": False,
            "options": [],
            "constraints": {},
        }
        for value in f.iter(f"{{{ns}}}value"):
            field["options"].append({"id": value.get("id") or "", "name": value.get("name") or value.get("id") or ""})
        for c in f.iter(f"{{{ns}}}constraint"):
            cname = (c.get("name") or "").strip()
            if cname == "required":
                field["required"] = True
            elif cname == "readonly":
                field["constraints"]["readonly"] = True
            elif cname in {"minlength", "maxlength", "min", "max"}:
                field["constraints"][cname] = _number(c.get("config"))
            elif cname:
                field["constraints"][cname] = c.get("config")
        multiline = _multiline(f, ns)
        if multiline is not None:
            field["constraints"]["multiline"] = multiline
        if field["id"]:
            fields.append(field)
    return fields


# Field properties that ask for a text area (the forms of Camunda 7 apps and SpiffArena's
# ui:widget), and the values that mean yes.
MULTILINE_PROPERTIES = {"multiline", "textarea", "ui:widget", "widget", "rows"}
YES = {"true", "ja", "yes", "1", "textarea"}


def _multiline(field: etree._Element, ns: str) -> bool | None:
    """Whether the field's properties ask for a text area (None when they say nothing of it)."""
    for p in field.iter(f"{{{ns}}}property"):
        name = (p.get("id") or p.get("name") or "").strip().lower()
        if name not in MULTILINE_PROPERTIES:
            continue
        value = (p.get("value") or "").strip().lower()
        if name == "rows":
            return value.isdigit() and int(value) > 1
        if name in {"ui:widget", "widget"}:
            return value == "textarea"
        return value in YES
    return None


def _number(value: str | None) -> Any:
    """A constraint's config as a number when it is one (Camunda writes every config as text)."""
    text = (value or "").strip()
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return value


def read_properties(el: etree._Element, ns: str = NS) -> dict[str, str]:
    """Read ``extensionElements/properties/property`` name/value pairs."""
    props: dict[str, str] = {}
    ext = el.find("{http://www.omg.org/spec/BPMN/20100524/MODEL}extensionElements")
    if ext is None:
        return props
    for p in ext.iter(f"{{{ns}}}property"):
        name = p.get("name")
        if name:
            props[name] = p.get("value") or (p.text or "").strip()
    return props


def read_task(el: etree._Element) -> TaskExtensions | None:
    """Read Camunda 7 attributes of a task element; None when it carries none."""
    ext = TaskExtensions(
        dialect="camunda",
        assignee=_attr(el, "assignee"),
        candidate_groups=split_list(_attr(el, "candidateGroups")),
        candidate_users=split_list(_attr(el, "candidateUsers")),
        due=_attr(el, "dueDate"),
        follow_up=_attr(el, "followUpDate"),
        priority=_attr(el, "priority"),
        form_key=_attr(el, "formKey") or _attr(el, "formRef"),
        form_fields=read_form_fields(el),
        properties=read_properties(el),
        io=[{"direction": "in" if local == "inputParameter" else "out", "name": p.get("name"),
             "source": (p.text or "").strip() or None}
            for local in ("inputParameter", "outputParameter") for p in el.iter(f"{{{NS}}}{local}")],
    )
    if ext == TaskExtensions(dialect="camunda"):
        return None
    return ext


def read_starters(proc: etree._Element) -> tuple[list[str], list[str]] | None:
    """``camunda:candidateStarterGroups`` and ``candidateStarterUsers`` of a process; None when it has neither."""
    groups, users = _attr(proc, "candidateStarterGroups"), _attr(proc, "candidateStarterUsers")
    if groups is None and users is None:
        return None
    return split_list(groups), split_list(users)
