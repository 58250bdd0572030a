"""A file that is not XML is refused in Swedish: the parser's English never reaches the designer."""

from __future__ import annotations

import re

import pytest

from bpmn.diagnostics import DiagramRejected
from bpmn.xml import parse_document

ENGLISH = re.compile(r"\b(?:expected|found|tag|mismatch|Premature|Extra|content|document|line|column)\b")


@pytest.mark.parametrize(("data", "said"), [
    (b"inte XML alls", "filen börjar inte med ett element ('<' saknas)"),
    (b"<a><b></a>", "elementet b från rad 1 avslutas med a"),
    (b"<a>", "filen tar slut inne i elementet a från rad 1"),
    (b"<a/><b/>", "det finns innehåll efter dokumentets sista element"),
    (b"<a x=1/>", "ett attributvärde saknar citattecken"),
    (b"<a>&</a>", "ett &-tecken står ensamt"),
    (b"<a x='1' x='2'/>", "attributet x förekommer två gånger i samma element"),
    (b"<a><!-- </a>", "en kommentar avslutas aldrig"),
])
def test_a_broken_file_is_refused_in_swedish(data: bytes, said: str) -> None:
    with pytest.raises(DiagramRejected) as refused:
        parse_document(data)
    message = str(refused.value)
    assert message.startswith("Filen är inte giltig XML: ") and said in message, message
    assert not ENGLISH.search(message), message
    [diagnostic] = refused.value.diagnostics
    assert diagnostic.message == message and diagnostic.code == "not-xml"
