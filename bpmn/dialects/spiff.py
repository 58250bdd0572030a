"""SpiffWorkflow's own extensions (``spiffworkflow:``): properties, instructions for the end user, and
the JSON Schema form a user task names (``formJsonSchemaFilename``, a file of the same upload)."""

from __future__ import annotations

from lxml import etree

from . import TaskExtensions

NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
FORM_PROPERTY = "formJsonSchemaFilename"


def read_task(el: etree._Element) -> TaskExtensions | None:
    """Read spiffworkflow properties of a task; None when it carries none."""
    props = {p.get("name") or "": p.get("value") or "" for p in el.iter(f"{{{NS}}}property") if p.get("name")}
    found = el.find(f"{{http://www.omg.org/spec/BPMN/20100524/MODEL}}extensionElements/{{{NS}}}instructionsForEndUser")
    instructions = (found.text or "").strip() if found is not None else ""
    if not props and not instructions:
        return None
    return TaskExtensions(dialect="spiffworkflow", properties=props, instructions=instructions or None,
                          form_key=props.get(FORM_PROPERTY) or None)
