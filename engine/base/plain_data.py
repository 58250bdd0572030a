"""Case data stays plain data through SpiffWorkflow's serializer: escaped on save, unescaped on load.

SpiffWorkflow's registry (`SpiffWorkflow.bpmn.serializer.helpers.dictionary.DictionaryConverter`)
restores any JSON object that has a ``typename`` key as the registered class of that name: its
`DefaultRegistry` registers ``UUID``, ``datetime`` and ``timedelta``, and `BpmnWorkflowSerializer`
adds every workflow, task, spec and event class (``BpmnWorkflow``, ``Task``, ``BpmnEvent``,
``MessageEventDefinition``...). ``typename`` is the only key it reacts to: tuples and sets are
written as lists and come back as lists, bytes are not registered, and the older non-BPMN
serializer (`SpiffWorkflow.serializer.json`, with its ``__uuid__``, ``__bytes__`` and
``__attrib__`` markers, and `SpiffWorkflow.serializer.dict` with pickle) is not used by Rutin.
Task data, a task's internal data (a multi-instance item, a caught message's payload) and a
pending event's payload are written into the same JSON, so without this module a form value
``{"typename": "nope"}`` made every later load of the case fail (the registry has no class to call),
and ``{"typename": "datetime", "value": ...}`` came back as a datetime rather than as what was sent.

Why escaping rather than refusing such keys at the HTTP boundary: data also comes from scripts
(``x = {"typename": "BpmnWorkflow"}`` in a script task), from message payloads and from
multi-instance items, none of which crosses that boundary; and ``typename`` is an ordinary word a
form may use. So every JSON object of case data that has a ``typename`` key is written as
``{"typename": "RutinPlainData", "entries": {...}}``, a class of Rutin's own whose restore gives the
object back as a plain dict (its values restored in turn), and nothing else changes: objects
without the key, which is nearly all data, are written as before and stored states from before
this module load as they did. A stored state whose data holds an unknown ``typename`` (written
before this module existed) loads that object as plain data instead of failing.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.serializer.helpers.registry import DefaultRegistry

TYPENAME = "typename"
ESCAPED = "RutinPlainData"


class PlainData:
    """The class SpiffWorkflow's registry knows ``RutinPlainData`` by; never instantiated (the
    escaped form is written as a dict directly)."""


class CaseDataRegistry(DefaultRegistry):
    """SpiffWorkflow's default registry, restoring an object whose ``typename`` it does not know
    as the plain dict it is, rather than failing on it."""

    def __init__(self) -> None:
        super().__init__()
        self.register(PlainData, lambda _: {}, self._unescape, typename=ESCAPED)

    def restore(self, val: Any, **kwargs: Any) -> Any:
        if type(val) is dict and TYPENAME in val:
            name = val[TYPENAME]
            if not isinstance(name, str) or name not in self.convert_from_dict:
                return {k: self.restore(v, **kwargs) for k, v in val.items()}
        return super().restore(val, **kwargs)

    def _unescape(self, dct: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        return {k: self.restore(v) for k, v in dct["entries"].items()}


def escape(value: Any) -> Any:
    """The value with every dict that has a ``typename`` key (at any depth) in its escaped form.

    The value itself is never changed: what needs escaping is copied, the rest is shared.
    """
    kind = type(value)
    if kind is dict:
        changed: dict[Any, Any] | None = None
        for k, v in value.items():
            e = escape(v)
            if e is not v:
                if changed is None:
                    changed = dict(value)
                changed[k] = e
        out = value if changed is None else changed
        if TYPENAME in out:
            return {TYPENAME: ESCAPED, "entries": out}
        return out
    if kind is list or kind is tuple:
        items = None
        for i, v in enumerate(value):
            e = escape(v)
            if e is not v:
                if items is None:
                    items = list(value)
                items[i] = e
        return value if items is None else items
    return value
