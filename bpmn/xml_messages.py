"""The XML parser's (libxml2's) complaints in Swedish: a designer who uploads a broken file reads
what is wrong in the words of the pages, never the parser's English. A complaint not listed here
is told in general terms (the diagnostic still gives the line)."""

from __future__ import annotations

import re

# (libxml2's message, as a pattern; the Swedish, with the pattern's groups)
_KNOWN: list[tuple[re.Pattern[str], str]] = [(re.compile(p, re.IGNORECASE), s) for p, s in [
    (r"^Start tag expected, '<' not found", "filen börjar inte med ett element ('<' saknas)"),
    (r"^Document is empty", "filen innehåller inget XML-dokument"),
    (r"^Opening and ending tag mismatch: (\S+) line (\d+) and (\S+)",
     "elementet {0} från rad {1} avslutas med {2}"),
    (r"^Premature end of data in tag (\S+) line (\d+)", "filen tar slut inne i elementet {0} från rad {1}"),
    (r"^EndTag: '</' not found", "filen tar slut innan alla element avslutats"),
    (r"^Extra content at the end of the document", "det finns innehåll efter dokumentets sista element"),
    (r"^Couldn't find end of Start Tag (\S+)", "starttaggen {0} avslutas aldrig ('>' saknas)"),
    (r"^(?:xmlParseEntityRef: no name|EntityRef: expecting ';')",
     "ett &-tecken står ensamt (skriv &amp; för &)"),
    (r"^Input is not proper UTF-8", "filen är inte giltig UTF-8"),
    (r"^Attribute (\S+) redefined", "attributet {0} förekommer två gånger i samma element"),
    (r"^Specification mandates value for attribute (\S+)", "attributet {0} saknar värde"),
    (r"^attributes construct error", "ett attribut är felskrivet (citattecken saknas?)"),
    (r"^Unescaped '<' not allowed in attributes values", "ett attributvärde innehåller '<'"),
    (r"^AttValue: \" or ' expected", "ett attributvärde saknar citattecken"),
    (r"^StartTag: invalid element name", "ett elementnamn är ogiltigt"),
    (r"^Namespace prefix (\S+) .*is not defined", "namnrymdsprefixet {0} är inte deklarerat"),
    (r"^Comment not terminated", "en kommentar avslutas aldrig ('-->' saknas)"),
]]
GENERAL = "filen är inte välformad XML"


def in_swedish(message: str) -> str:
    """The parser's message in Swedish (its names and line numbers kept)."""
    text = (message or "").strip()
    for pattern, swedish in _KNOWN:
        m = pattern.match(text)
        if m:
            return swedish.format(*(g.rstrip(",") for g in m.groups()))
    return GENERAL
