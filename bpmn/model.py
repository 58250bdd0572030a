"""The normalized model: what Rutin needs to know about each process, whatever the modeler.

Every dialect (camunda:, zeebe:, flowable:/activiti:, spiffworkflow:, plain BPMN) is read into
these classes once at upload; the engine reads only these, never the dialect attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, cast

_FIELDS: dict[type, tuple[str, ...]] = {}


def _plain(value: Any) -> Any:
    """`dataclasses.asdict` without its deep copies (a 2,000-element model has thousands of
    steps and fields; asdict took a third of a second of every upload)."""
    if is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS.get(type(value))
        if names is None:
            names = _FIELDS[type(value)] = tuple(f.name for f in fields(value))
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass
class FormField:
    """One field of a human task's form."""

    id: str
    label: str
    type: str = "string"
    required: bool = False
    default: Any = None
    options: list[dict[str, str]] = field(default_factory=list)
    constraints: dict[str, Any] = field(default_factory=dict)


@dataclass
class Option:
    """One way out of a human decision: an outgoing sequence flow."""

    id: str
    name: str
    target: str | None = None


@dataclass
class HumanStep:
    """A step a person carries out: a task, or a decision among a gateway's outgoing flows."""

    element_id: str
    name: str
    kind: str = "task"  # "task" | "decision"
    element_type: str = "userTask"
    role: str | None = None
    role_source: str | None = None
    candidate_groups: list[str] = field(default_factory=list)
    candidate_users: list[str] = field(default_factory=list)
    assignee: str | None = None
    due: str | None = None
    follow_up: str | None = None
    priority: int | None = None
    # The variable path a priority is taken from (``prio`` for ``${prio}``), read when the task is made.
    priority_variable: str | None = None
    form: list[FormField] = field(default_factory=list)
    form_key: str | None = None
    options: list[Option] = field(default_factory=list)
    multiple: bool = False
    decision_authority: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    documentation: str | None = None
    lane: str | None = None
    line: int | None = None
    io: list[dict[str, str | None]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HumanStep:
        """Rebuild a step from its stored JSON form."""
        data = dict(data)
        data["form"] = [FormField(**f) for f in data.get("form", [])]
        data["options"] = [Option(**o) for o in data.get("options", [])]
        return cls(**data)


@dataclass
class Starters:
    """Who may start a case of the process by hand, as the diagram says (``source`` says where
    it says so: ``rutin:starterRoles``, ``camunda:candidateStarterGroups`` and the like, ``lane``
    for the start event's lane, ``first-step`` for the roles of the first human steps, ``none``)."""

    roles: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    everyone: bool = False
    source: str = "none"


@dataclass
class ProcessModel:
    """Everything about one deployable process that is not the executable spec itself.

    `owner` is the process owner role the diagram declares (None: it declares none); it is a
    proposal, never what decides who approves the diagram. `starters` is None only in models
    stored before Rutin read who may start a case.
    """

    key: str
    name: str
    documentation: str | None = None
    marked_executable: bool = True
    steps: dict[str, HumanStep] = field(default_factory=dict)
    lanes: list[str] = field(default_factory=list)
    element_names: dict[str, str] = field(default_factory=dict)
    spec_ids: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    message_flows: list[dict[str, str | None]] = field(default_factory=list)
    owner: str | None = None
    starters: Starters | None = None
    # What the process takes in besides its steps' forms (`bpmn.declared`): the start form, the
    # variables its start events' output mappings set, and per message-catching element (by spec
    # id) the variables its output mapping sets.
    start_form: list[FormField] = field(default_factory=list)
    start_outputs: list[str] = field(default_factory=list)
    message_outputs: dict[str, list[str]] = field(default_factory=dict)
    # The conditions on sequence flows by flow id ({"flow": what it is called, "condition"}); None
    # only in models stored before Rutin kept them.
    conditions: dict[str, dict[str, str]] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict of the model."""
        return cast(dict[str, Any], _plain(self))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProcessModel:
        """Rebuild a model from its stored JSON form."""
        data = dict(data)
        data["steps"] = {k: HumanStep.from_json(v) for k, v in data.get("steps", {}).items()}
        if "owner" not in data:  # stored before the declared owner had a field of its own
            data["owner"] = (data.get("properties") or {}).get("rutin:owner")
        if data.get("starters") is not None:
            data["starters"] = Starters(**data["starters"])
        data["start_form"] = [FormField(**f) for f in data.get("start_form", [])]
        return cls(**data)

    def original_id(self, spec_name: str) -> str:
        """The element id as the diagram wrote it, for an engine task spec name."""
        return self.spec_ids.get(spec_name, spec_name)
