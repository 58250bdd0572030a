"""Diagnostics pinned to diagram elements: what cannot run, and what Rutin assumed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Diagnostic:
    """One finding about an uploaded diagram, located by element id and source line."""

    severity: Severity
    code: str
    message: str
    element_id: str | None = None
    element_name: str | None = None
    line: int | None = None
    process_id: str | None = None
    # What Rutin assumed to make the element run (warnings and infos); the code's usual
    # assumption when not given.
    assumption: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the diagnostic as a JSON-ready dict, omitting empty location fields."""
        out = {k: v for k, v in self.__dict__.items() if v is not None}
        if "assumption" not in out and self.severity != "error" and self.code in ASSUMPTIONS:
            out["assumption"] = ASSUMPTIONS[self.code]
        return out


# What Rutin assumes, per diagnostic code, when it makes an element run that the diagram does not
# make executable (or reads something it cannot use), in the words a process designer checks.
ASSUMPTIONS: dict[str, str] = {
    "adhoc-parallel": "Stegen i den ad hoc-delprocessen kan göras i valfri ordning, även samtidigt.",
    "assignee": "Steget går direkt till den tilldelade personen.",
    "boundary-ignored": "Händelsen på kanten kan inte inträffa här och tas bort; steget slutförs på vanligt sätt.",
    "boundary-moved": "Händelsen hör till kanten av aktiviteten den ritades inuti.",
    "compensation-ignored": "Kompensation körs inte; den kompenserande aktiviteten tas bort.",
    "complex-as-inclusive": "Den komplexa grinden fungerar som en inkluderande grind.",
    "condition-read-as-feel": "Villkoret jämför variabler vars namn innehåller mellanslag.",
    "conditions-as-decision": "Handläggaren väljer väg bland flödena i stället för villkoren.",
    "converted-to-human-task": "En handläggare utför steget för hand och markerar det klart.",
    "cron-as-interval": "Timern går i samma takt som cron-uttrycket, räknat från när den startar.",
    "dangling-flow": "Flödet som saknar ände tas bort.",
    "data-ignored": "Dataobjekt och datalager är information i kartan; ärendets data lagras i ärendet.",
    "descriptive-model": "Processen körs som en guidad checklista där diagrammet inte säger hur.",
    "duplicate-id": "Rutin läser bara det element med id:t som processen använder.",
    "empty-process": "Processen utan flödesobjekt hoppas över.",
    "event-gateway-as-decision": "Handläggaren väljer vilken av händelserna efter grinden som inträffade.",
    "event-simplified": "Händelsen kastar ingenting; flödet fortsätter eller slutar där.",
    "flow-always-taken": "Flödet utan villkor tas alltid.",
    "flow-never-taken": "Flödet utan villkor tas aldrig.",
    "form-from-outputs": "Handläggaren registrerar det steget ger (variablerna i listan) i stället för ett formulär.",
    "form-missing": "Steget visas utan formulärfält.",
    "form-not-shown": "Steget visas utan formulärfält.",
    "human-decision": "Handläggaren väljer väg bland flödenas namn.",
    "implicit-default": "Flödet utan villkor tas när inget annat villkor är uppfyllt.",
    "implicit-end": "Vägen slutar där flödet tar slut.",
    "implicit-split": "Alla utgående flöden tas samtidigt (parallellt).",
    "invalid-encoding": "Tecken som inte är UTF-8 läses som Windows-1252.",
    "join-after-choice": "Grinden väntar bara på de vägar som faktiskt tagits.",
    "join-as-inclusive": "Grinden väntar bara på de vägar som faktiskt tagits, inte på alla.",
    "lane-unnamed": "Banans id används som roll.",
    "link-joined": "Länkhändelserna ersätts av ett flöde mellan dem.",
    "link-without-target": "Vägen slutar vid länken.",
    "listener-not-run": "Lyssnaren körs inte.",
    "loop-collection": "Steget upprepas en gång per element i samlingen.",
    "loop-ignored": "Steget görs en gång.",
    "mapping-not-applied": "Steget läser och skriver ärendets data direkt, med variablernas egna namn.",
    "mapping-unreadable": "Mappningen körs inte.",
    "no-role": "Processägarens roll utför steget.",
    "priority-from-data": "Prioriteten tas ur ärendets data när uppgiften skapas, annars 50.",
    "role-source": "Den mest specifika källan avgör vem som utför steget.",
    "script-not-run": "Skriptet körs inte.",
    "start-added": "En starthändelse läggs till före de steg som inget flöde leder till.",
    "start-simplified": "En handläggare (eller API:t) startar ärendet.",
    "unwritten-variable": "Ett villkor i FEEL eller JUEL läser variabeln som null (standardflödet tas); ett "
                          "Python-villkor, en timer, en flerinstans eller ett skript stoppar ärendet med en incident.",
    "unreachable": "Steget som inget flöde leder till nås aldrig i ett ärende.",
    "unreadable-due-date": "Steget får inget förfallodatum från diagrammet; processens tidsfristpolicy gäller.",
    "unreadable-follow-up-date": "Steget får inget uppföljningsdatum från diagrammet; processens policy gäller.",
    "unreadable-escalation": "Processens eller standardtrappan för eskalering gäller.",
    "unreadable-case-deadline": "Ärendet får ingen lagstadgad tidsfrist från diagrammet.",
    "unreadable-priority": "Steget får standardprioriteten 50.",
}


class DiagramRejected(Exception):
    """Raised when a document cannot be deployed; carries the located diagnostics."""

    def __init__(self, message: str, diagnostics: list[Diagnostic]):
        super().__init__(message)
        self.message = message
        self.diagnostics = diagnostics


_RANK = {"error": 0, "warning": 1, "info": 2}


def grouped(diagnostics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Diagnostics (their JSON form) grouped per process and, within it, per element: one entry per
    element with its messages (the same message once), its most serious severity first, in the
    order the elements were first found. A finding about no element is an entry of its own."""
    processes: dict[str | None, dict[tuple[Any, ...], dict[str, Any]]] = {}
    for d in diagnostics:
        elements = processes.setdefault(d.get("process_id"), {})
        where = (d.get("element_id"),) if d.get("element_id") else ("", d.get("message"))
        entry = elements.setdefault(where, {"element_id": d.get("element_id"), "element_name": d.get("element_name"),
                                            "line": d.get("line"), "severity": d.get("severity"), "messages": []})
        if _RANK.get(str(d.get("severity")), 3) < _RANK.get(str(entry["severity"]), 3):
            entry["severity"] = d.get("severity")
        entry["line"] = entry["line"] or d.get("line")
        message = {k: d[k] for k in ("severity", "code", "message", "assumption") if d.get(k) is not None}
        if all(m.get("message") != message.get("message") for m in entry["messages"]):
            entry["messages"].append(message)
    return [{"process_id": pid, "elements": list(elements.values())} for pid, elements in processes.items()]
