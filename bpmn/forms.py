"""Camunda Forms (the JSON schema of Camunda Modeler's form editor) and SpiffArena's JSON Schema
forms read into form fields.

Camunda 8 embeds them in the process (``zeebe:userTaskForm``); Camunda 7 refers to ``.form``
files deployed alongside (``camunda:formRef``, ``camunda:formKey="camunda-forms:...:name.form"``),
which Rutin takes as extra files of the same upload. SpiffArena keeps a JSON Schema (the
``*-schema.json`` a user task names in its ``formJsonSchemaFilename`` property) beside the diagram;
it is taken the same way. SpiffArena renders that schema as a Jinja template over the task's data,
so a default written ``{{ expression }}`` is an expression (`engine.base.form_defaults` evaluates it).

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
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict) and "components" not in schema:
        return _schema_fields(schema)
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


_SCHEMA_TYPES = {"string": "string", "integer": "long", "number": "double", "boolean": "boolean", "array": "list"}
_SCHEMA_VALIDATION = {"minLength": "minlength", "maxLength": "maxlength", "minimum": "min", "maximum": "max",
                      "pattern": "pattern"}


def _schema_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The top-level properties of a JSON Schema form (SpiffArena's react-jsonschema-form), as
    fields; a nested object is one the form edits as a whole, so it is not one of them."""
    required = schema.get("required")
    needed = {str(r) for r in required} if isinstance(required, list) else set()
    out: list[dict[str, Any]] = []
    for key, prop in schema["properties"].items():
        if not isinstance(prop, dict) or prop.get("type") == "object":
            continue
        options = [{"id": str(v), "name": str(v)} for v in prop.get("enum", []) if not isinstance(v, dict | list)] \
            if isinstance(prop.get("enum"), list) else []
        if not options and isinstance(prop.get("oneOf"), list):
            options = [{"id": str(o.get("const")), "name": str(o.get("title") or o.get("const"))}
                       for o in prop["oneOf"] if isinstance(o, dict) and "const" in o]
        kind = "enum" if options else _SCHEMA_TYPES.get(str(prop.get("type")), "string")
        if kind == "string" and prop.get("format") in ("date", "date-time"):
            kind = "date"
        constraints: dict[str, Any] = {
            ours: prop[theirs] for theirs, ours in _SCHEMA_VALIDATION.items() if prop.get(theirs) not in (None, "")
        }
        if prop.get("readOnly") or prop.get("readonly"):
            constraints["readonly"] = True
        out.append({
            "id": str(key), "label": str(prop.get("title") or key), "type": kind, "default": prop.get("default"),
            "required": key in needed and not constraints.get("readonly"), "options": options,
            "constraints": constraints,
        })
    return out


def form_id(text: str | bytes) -> str | None:
    """The ``id`` a Camunda Form declares (what ``camunda:formRef`` names)."""
    try:
        schema = json.loads(text)
    except ValueError:
        return None
    return str(schema["id"]) if isinstance(schema, dict) and schema.get("id") else None
