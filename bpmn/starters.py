"""Who may start a case of a process by hand, read from whichever dialect says so.

The most specific statement wins:

1. Rutin's own ``rutin:starterRoles`` (an attribute on the process, or a property of that name in
   any dialect's properties), with ``rutin:starterUsers`` for named people. The value ``*`` (or
   ``alla``) means every employee: anyone who holds a role in the organisation, for processes
   such as reporting a deviation, which anyone may.
2. ``candidateStarterGroups``/``candidateStarterUsers`` on the process in Camunda 7
   (``camunda:``), Flowable (``flowable:``) or Activiti (``activiti:``).
3. The lane the start event lies in.
4. The roles of the first human steps reached from the start events.

A diagram that names nobody by any of these can be started by administrators only; the
diagnostics say so. Names that are expressions (``${...}``, ``=...``) name nobody here: who may
start is decided before a case has any data to evaluate them against.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from .diagnostics import Diagnostic
from .dialects import camunda, flowable, split_list
from .model import ProcessModel, Starters
from .normalize import Rewrite, flow_elements, local

EVERYONE = {"*", "alla"}
PROPERTY = "rutin:starterRoles"
USERS_PROPERTY = "rutin:starterUsers"


def _is_expression(name: str) -> bool:
    return "${" in name or "#{" in name or name.startswith("=")


def read_starters(proc: etree._Element, props: dict[str, str], lanes: dict[str, str], model: ProcessModel,
                  rw: Rewrite, flows: list[etree._Element]) -> tuple[Starters, list[Diagnostic]]:
    """Who may start the process (see the module docstring), with diagnostics about it."""
    pid = proc.get("id") or ""
    diagnostics: list[Diagnostic] = []
    found = _declared(proc, props)
    if found is None:
        found = _from_start_lane(proc, lanes) or _from_first_steps(proc, model, rw, flows)
    roles, users, everyone, source = found
    dropped = [n for n in [*roles, *users] if _is_expression(n)]
    if dropped:
        diagnostics.append(Diagnostic(
            "warning", "starter-expression",
            f"Vem som får starta ärenden anges med uttryck ({', '.join(dropped)}); de kan inte utvärderas innan "
            "ärendet finns och används inte. Ange roller med namn.", element_id=pid, line=proc.sourceline,
            process_id=pid))
    roles = list(dict.fromkeys(r for r in roles if not _is_expression(r)))
    users = list(dict.fromkeys(u for u in users if not _is_expression(u)))
    if not (roles or users or everyone):
        diagnostics.append(Diagnostic(
            "info", "no-starter",
            "Diagrammet anger inte vem som får starta ärenden (ingen startroll, ingen bana vid starten och inget "
            "användarsteg att utgå från); bara administratörer kan starta ärenden för hand. Ange rutin:starterRoles "
            "eller camunda:candidateStarterGroups på processen.", element_id=pid, line=proc.sourceline,
            process_id=pid))
        source = "none"
    return Starters(roles=roles, users=users, everyone=everyone, source=source), diagnostics


def _declared(proc: etree._Element, props: dict[str, str]) -> tuple[list[str], list[str], bool, str] | None:
    """What the diagram says outright: Rutin's property, else the Camunda/Flowable/Activiti attributes."""
    if PROPERTY in props or USERS_PROPERTY in props:
        names = split_list(props.get(PROPERTY))
        everyone = any(n.casefold() in EVERYONE for n in names)
        return ([n for n in names if n.casefold() not in EVERYONE], split_list(props.get(USERS_PROPERTY)),
                everyone, PROPERTY)
    roles: list[str] = []
    users: list[str] = []
    sources: list[str] = []
    found = camunda.read_starters(proc)
    if found is not None:
        roles += found[0]
        users += found[1]
        sources.append("camunda:candidateStarterGroups")
    for dialect, groups, named in flowable.read_starters(proc):
        roles += groups
        users += named
        sources.append(f"{dialect}:candidateStarterGroups")
    if not sources:
        return None
    return roles, users, False, ", ".join(sources)


def _start_events(container: etree._Element) -> list[etree._Element]:
    return [el for el in flow_elements(container) if local(el) == "startEvent"]


def _from_start_lane(proc: etree._Element, lanes: dict[str, str]) -> tuple[list[str], list[str], bool, str] | None:
    names = [lanes[el.get("id") or ""] for el in _start_events(proc) if (el.get("id") or "") in lanes]
    if not names:
        return None
    return list(dict.fromkeys(names)), [], False, "lane"


def _from_first_steps(proc: etree._Element, model: ProcessModel, rw: Rewrite,
                      flows: list[etree._Element]) -> tuple[list[str], list[str], bool, str]:
    """The roles of the first human steps on every path from the process's start events."""
    leaving: dict[str, list[str]] = {}
    for f in flows:
        leaving.setdefault(f.get("sourceRef") or "", []).append(f.get("targetRef") or "")
    by_id: dict[str, etree._Element] = {el.get("id") or "": el for el in proc.iter() if isinstance(el.tag, str)
                                        and el.get("id")}
    queue = [el.get("id") or "" for el in _start_events(proc)]
    seen: set[str] = set()
    roles: list[str] = []
    while queue:
        node = queue.pop(0)
        if node in seen:
            continue
        seen.add(node)
        step = model.steps.get(node) or (model.steps.get(rw.decisions[node]) if node in rw.decisions else None)
        if step is not None:
            roles += step.candidate_groups or ([step.role] if step.role else [])
            continue  # the first step on this path: what comes after it is not how a case begins
        el = by_id.get(node)
        if el is not None and local(el) in {"subProcess", "transaction", "adHocSubProcess"}:
            queue += [s.get("id") or "" for s in _start_events(el)]
            if local(el) == "adHocSubProcess":
                queue += [c.get("id") or "" for c in flow_elements(el) if local(c) != "sequenceFlow"]
        queue += leaving.get(node, [])
    return list(dict.fromkeys(roles)), [], False, "first-step" if roles else "none"


def describe(starters: Starters | dict[str, Any]) -> str:
    """Who may start, in Swedish, as the pages and diagnostics say it."""
    if isinstance(starters, dict):
        starters = Starters(**starters)
    if starters.everyone:
        return "alla anställda (alla som har en roll i organisationen)"
    names = [*starters.roles, *starters.users]
    return ", ".join(names) if names else "bara administratörer"

