"""Camunda Forms (the JSON schema of Camunda Modeler's form editor) read into form fields.

Camunda 8 embeds them in the process (``zeebe:userTaskForm``); Camunda 7 refers to ``.form``
files deployed alongside (``camunda:formRef``, ``camunda:formKey="camunda-forms:...:name.form"``),
which Rutin takes as extra files of the same upload.

Validation is read into the same constraint names Camunda 7's ``formData`` uses (``minlength``,
``maxlength``, ``min``, ``max``, ``readonly``, plus ``pattern``), so that every dialect's form
arrives in one shape.
"""

from __future__ import annotations

import json
from typing import Any

TYPES = {"textfield": "string", "textarea": "string", "number": "long", "checkbox": "boolean",
         "datetime": "date", "select": "enum", "radio": "enum", "checklist": "list", "taglist": "list"}
# Components that hold other components (their keys are the case's variables too).
CONTAINERS = {"group", "dynamiclist", "iframe"}
_VALIDATION = {"minLength": "minlength", "maxLength": "maxlength", "min": "min", "max": "max", "pattern": "pattern"}


def fields(text: str | bytes) -> list[dict[str, Any]] | None:
    """The input fields of a Camunda Form, or None if the text is not one."""
    try:
        schema = json.loads(text)
    except ValueError:
        return None
    if not isinstance(schema, dict) or not isinstance(schema.get("components"), list):
        return None
    out: list[dict[str, Any]] = []
    _collect(schema["components"], out, depth=0)
    return out


def _collect(components: list[Any], out: list[dict[str, Any]], depth: int) -> None:
    if depth > 10:  # forms nest a few groups deep; a deeper one is not a form
        return
    for c in components:
        if not isinstance(c, dict):
            continue
        if c.get("type") in CONTAINERS and isinstance(c.get("components"), list):
            _collect(c["components"], out, depth + 1)
            continue
        if not c.get("key") or c.get("type") not in TYPES:
            continue
        found = c.get("validate")
        validate: dict[str, Any] = found if isinstance(found, dict) else {}
        kind = TYPES[c["type"]]
        if c["type"] == "number" and (c.get("decimalDigits") or 0) > 0:
            kind = "double"
        constraints: dict[str, Any] = {
            ours: validate[theirs] for theirs, ours in _VALIDATION.items() if validate.get(theirs) not in (None, "")
        }
        if c["type"] == "textarea":
            constraints["multiline"] = True
        if c.get("disabled") or c.get("readonly"):
            constraints["readonly"] = True
        out.append({
            "id": str(c["key"]), "label": str(c.get("label") or c["key"]), "type": kind,
            "default": c.get("defaultValue"),
            "required": bool(validate.get("required")) and not constraints.get("readonly"),
            "options": [{"id": str(v.get("value")), "name": str(v.get("label") or v.get("value"))}
                        for v in c.get("values", []) if isinstance(v, dict)],
            "constraints": constraints,
        })


def form_id(text: str | bytes) -> str | None:
    """The ``id`` a Camunda Form declares (what ``camunda:formRef`` names)."""
    try:
        schema = json.loads(text)
    except ValueError:
        return None
    return str(schema["id"]) if isinstance(schema, dict) and schema.get("id") else None
