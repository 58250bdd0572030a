"""Rutin's own attributes (``rutin:`` namespace) for modelers that let designers add any attribute."""

from __future__ import annotations

from lxml import etree

from . import TaskExtensions, split_list

NS = "https://rutin.example/bpmn"


def read_task(el: etree._Element) -> TaskExtensions | None:
    """Read ``rutin:*`` attributes of a task; None when it carries none."""
    attrs = {etree.QName(k).localname: v for k, v in el.attrib.items() if k.startswith(f"{{{NS}}}")}
    if not attrs:
        return None
    return TaskExtensions(
        dialect="rutin",
        assignee=attrs.pop("assignee", None),
        candidate_groups=split_list(attrs.pop("roles", None) or attrs.pop("role", None)),
        due=attrs.pop("due", None),
        follow_up=attrs.pop("followUp", None),
        priority=attrs.pop("priority", None),
        properties={f"rutin:{k}": v for k, v in attrs.items()},
    )
