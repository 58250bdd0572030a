"""What a process declares it takes in besides its human steps' forms: the start form, and the
variables each message catch maps from its message.

The engine accepts only declared data (DESIGN.md, trust boundaries): start data is checked against
the start form read here, a message's payload against what its catching element maps. Each is
read in every dialect the way a human step's form is: Camunda 7 ``formData`` (or a Camunda Form
uploaded with the diagram, named by ``formRef``/``formKey``), Camunda 8 ``zeebe:formDefinition``
with an embedded form, and the output mappings (``camunda:outputParameter``,
``zeebe:ioMapping``'s outputs) of the element.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from .dialects import TaskExtensions, read_all
from .expressions import variable_reference
from .model import FormField
from .normalize import flow_elements, local
from .xml import q

_CAMUNDA_FORM_REF = "{http://camunda.org/schema/1.0/bpmn}formRef"
# Elements that wait for a message: caught directly, on an activity's border, as a receive task,
# or as the start of an event subprocess.
_CATCHING = {"intermediateCatchEvent", "boundaryEvent", "receiveTask", "startEvent"}


def _merged(el: etree._Element) -> TaskExtensions:
    merged = TaskExtensions(dialect="bpmn")
    for ext in reversed(read_all(el)):  # most specific dialect last, so it wins
        merged.form_key = ext.form_key or merged.form_key
        merged.form_fields = ext.form_fields or merged.form_fields
        merged.io = ext.io or merged.io
    return merged


def _outputs(ext: TaskExtensions) -> list[str]:
    return [str(io["name"]).strip() for io in ext.io
            if io.get("direction") == "out" and io.get("name") and str(io["name"]).strip()]


def _starts(proc: etree._Element) -> list[etree._Element]:
    """The process's own start events (not those of its subprocesses)."""
    return [el for el in flow_elements(proc) if local(el) == "startEvent"]


def start_form(proc: etree._Element, uploaded: dict[str, list[dict[str, Any]]]) -> list[FormField]:
    """The fields a case of the process may be started with: the forms of its own start events,
    each field once."""
    fields: dict[str, FormField] = {}
    for el in _starts(proc):
        ext = _merged(el)
        found = [FormField(**f) for f in ext.form_fields]
        if not found and ext.form_key:
            ref = el.get(_CAMUNDA_FORM_REF) or ext.form_key.rsplit(":", 1)[-1]
            found = [FormField(**f) for f in uploaded.get(ref, [])]
        for f in found:
            if f.id and not f.id.startswith("_"):
                fields.setdefault(f.id, f)
    return list(fields.values())


def start_outputs(proc: etree._Element) -> list[str]:
    """The variables the output mappings of the process's own start events set (of any shape:
    a mapping says nothing of its type)."""
    names = [name for el in _starts(proc) for name in _outputs(_merged(el)) if not name.startswith("_")]
    return list(dict.fromkeys(names))


def message_outputs(proc: etree._Element) -> dict[str, list[str]]:
    """For each element that catches a message (by its id in the engine's spec), the variables
    its output mapping declares and those its outputs read from the message; elements that map
    nothing are left out."""
    found: dict[str, list[str]] = {}
    for el in proc.iter(*(q(kind) for kind in _CATCHING)):
        if local(el) != "receiveTask" and el.find(q("messageEventDefinition")) is None:
            continue
        ext = _merged(el)
        names = _outputs(ext)
        # The message's fields the outputs read (``=svar.text`` reads ``svar``): the mapping runs
        # when the message is caught (`bpmn.io_mappings`), so those are what the message carries.
        names += [ref.split(".", 1)[0].strip() for io in ext.io if io.get("direction") == "out"
                  and (ref := variable_reference(io.get("source")))]
        if names and el.get("id"):
            found[el.get("id") or ""] = list(dict.fromkeys(names))
    return found
