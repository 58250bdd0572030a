"""SpiffWorkflow's validation errors in the designer's words: cause and fix, in Swedish.

The engine's parser refuses what it cannot run with English messages (and, for some elements, a
raw exception such as ``NotImplementedError('Unsupported Catch Event: %r', b'<bpmn:boundaryEvent
…')``). Each known message is matched here and said as what is wrong and what to draw instead;
an unknown one still gets a Swedish sentence, with the engine's own words shortened behind it.
"""

from __future__ import annotations

import re

# (pattern over the engine's message, cause, fix)
_KNOWN: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"Unsupported Catch Event", re.I),
     "Händelsen är av ett slag som motorn inte kan vänta på (t.ex. kompensation, eller en händelse utan utlösare)",
     "Ge händelsen en timer, ett meddelande, en signal eller ett fel som utlösare, eller ta bort den"),
    (re.compile(r"Cancel Events may only be used with transactions", re.I),
     "En avbrytande händelse (cancel) sitter på något annat än en transaktion",
     "Rita aktiviteten som en transaktion, eller ta bort avbrytandehändelsen"),
    (re.compile(r"Multiple outgoing flows are not supported", re.I),
     "Steget har flera utgående flöden utan grind",
     "Lägg en grind efter steget som säger om flödena tas samtidigt (parallell) eller ett av dem (exklusiv)"),
    (re.compile(r"Non-default exclusive outgoing sequence flow without condition", re.I),
     "Ett flöde ut från en exklusiv grind saknar villkor och är inte grindens standardflöde",
     "Ge flödet ett villkor, eller gör det till grindens standardflöde"),
    (re.compile(r"Exactly one start event is required", re.I),
     "Delprocessen har inte exakt en starthändelse",
     "Rita en (och bara en) starthändelse i delprocessen"),
    (re.compile(r"No start event found", re.I),
     "Processen saknar starthändelse", "Rita en starthändelse där processen börjar"),
    (re.compile(r"Unknown Time Specification|Time Specification Error", re.I),
     "Timern saknar tid (timeDate, timeDuration eller timeCycle)",
     "Ange när timern går, t.ex. en varaktighet som PT1H"),
    (re.compile(r"There is no support implemented for this task type", re.I),
     "Elementtypen kan inte köras av motorn", "Rita elementet som en uppgift, grind eller händelse som stöds"),
    (re.compile(r"Cannot resolve (dataInputAssociation|dataOutputAssociation)", re.I),
     "En dataassociation pekar på data som inte finns i processen",
     "Rätta associationens källa eller mål, eller ta bort associationen"),
    (re.compile(r"has no implementation", re.I),
     "Ett datalager används, men motorn har inget sådant lager",
     "Ta bort datalagret ur den körbara processen; ärendets data lagras i ärendet"),
    (re.compile(r"unexpected keyword argument 'node'", re.I),
     "En händelse hänvisar till ett meddelande, en signal, ett fel eller en eskalering som inte finns i filen",
     "Definiera det som händelsen hänvisar till, eller rätta hänvisningen"),
    (re.compile(r"No Script Provided", re.I),
     "Skriptuppgiften saknar skript", "Skriv skriptet i diagrammet, eller gör steget till en vanlig uppgift"),
    (re.compile(r"No conditions satisfied", re.I),
     "Inget av villkoren på grindens utgående flöden är uppfyllt och grinden har inget standardflöde",
     "Ange data som uppfyller ett av villkoren, eller rita ett standardflöde"),
]
_SHOWN = 160


def explain(message: str) -> str:
    """The engine's `message` as a Swedish diagnostic: cause and fix, never a raw exception."""
    for pattern, cause, fix in _KNOWN:
        if pattern.search(message):
            return f"Diagrammet kan inte köras: {cause}. {fix}."
    detail = re.sub(r"\s+", " ", re.sub(r"b?'<[^>]*>?[^']*'", "…", message)).strip()
    detail = detail if len(detail) <= _SHOWN else detail[:_SHOWN] + "…"
    return ("Diagrammet kan inte köras: motorn godtar inte elementet som det är ritat. Förenkla eller rita om "
            f"elementet (motorns beskrivning: {detail!r}).")
