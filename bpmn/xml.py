"""Secure XML parsing for untrusted uploads.

No DTDs, no entities, no network and no file system: a diagram is parsed from bytes with lxml
configured so that nothing outside the document is ever read, and refused outright when it
declares a DOCTYPE (the vector of XXE and entity-expansion attacks; BPMN needs none).

The refusal is the parser's, not a search of the bytes: a document is in whatever encoding its
byte-order mark, first bytes or declaration say (UTF-16 and UTF-32 with or without BOM, UTF-7,
ISO-8859-1...), and only the parser that reads it knows where its DOCTYPE is. So libxml2 reads
every upload twice: first with a SAX target that stops at the DOCTYPE's first event (before its
internal subset is read, so no entity is ever declared, let alone expanded; lxml's
``resolve_entities=False`` still expands internal entities inside attribute values) and at an
``xml-stylesheet`` processing instruction; then into the tree, which is checked once more for a
DTD, entity references and XInclude elements (never processed, but refused: BPMN has none).
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from .diagnostics import Diagnostic, DiagramRejected
from .xml_messages import in_swedish

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_ELEMENTS = 100_000

_DECLARED = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*\bencoding\s*=\s*["']([^"']*)["']""")
XINCLUDE_NAMESPACES = ("{http://www.w3.org/2001/XInclude}", "{http://www.w3.org/2003/XInclude}")
# Encodings in which plain ASCII bytes stand for other characters ("+ADw-" is "<" in UTF-7): a
# reader of the stored bytes that does not know the encoding sees another document than Rutin did.
_REFUSED_ENCODINGS = frozenset({"utf-7"})


def _as_windows_1252(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: bytes that are not UTF-8 are read as Windows-1252, the encoding such
    exporters fall back to ("kl\xe4ren" -> "klären"); a byte undefined there becomes U+FFFD."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    return bad.decode("cp1252", errors="replace"), exc.end


_LEGACY = "rutin-windows-1252"
codecs.register_error(_LEGACY, _as_windows_1252)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def parse_document(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_elements: int = DEFAULT_MAX_ELEMENTS
) -> etree._Element:
    """Parse untrusted XML bytes into an element tree, or raise `DiagramRejected`.

    Refused, with a located diagnostic: a DOCTYPE (internal subset or external DTD) or entity in
    any encoding, an ``xml-stylesheet`` processing instruction, an XInclude element, a document in
    UTF-7; also what is too large, empty, not XML or not BPMN 2.0."""
    if len(data) > max_bytes:
        raise DiagramRejected(
            f"Filen är för stor ({len(data)} byte, högst {max_bytes}).",
            [Diagnostic("error", "too-large", f"Filen är större än {max_bytes} byte.")],
        )
    if not data.strip():
        raise DiagramRejected("Filen är tom.", [Diagnostic("error", "empty", "Filen är tom.")])
    try:
        root = _parse(data)
    except etree.XMLSyntaxError as exc:
        declared = _DECLARED.match(data[:200])
        utf8 = declared is None or declared.group(1).lower().replace(b"-", b"") in (b"", b"utf8")
        if "encoding" in str(exc.msg).lower() and utf8:
            # Some exporters declare UTF-8 (or nothing, which means UTF-8) and write a few bytes
            # in their platform's encoding: keep the document, read those bytes as Windows-1252,
            # and say so.
            try:
                repaired = data.decode("utf-8", errors=_LEGACY).encode("utf-8")
                return _check(_parse(repaired), max_elements, recovered=True)
            except (etree.XMLSyntaxError, ValueError):
                pass
        line = getattr(exc, "lineno", None) or None
        message = f"Filen är inte giltig XML: {in_swedish(str(exc.msg))}."
        if "depth" in str(exc.msg).lower() or "huge" in str(exc.msg).lower():
            # libxml2's own advice (an option that lifts its safety limits) is not for designers.
            message = ("Filen är för djupt nästlad: element i fler än 256 nivåer tillåts inte (ett BPMN-diagram "
                       "behöver sällan fler än tio).")
        raise DiagramRejected(message, [Diagnostic("error", "not-xml", message, line=line)]) from None
    except ValueError as exc:  # e.g. unicode strings with an encoding declaration
        raise DiagramRejected(
            f"Filen är inte giltig XML: {in_swedish(str(exc))}.",
            [Diagnostic("error", "not-xml", f"Filen är inte giltig XML: {in_swedish(str(exc))}.")],
        ) from None
    return _check(root, max_elements)


class _Refused(Exception):
    """Raised from the first pass's SAX target to stop libxml2 at once; `what` says why."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class _FirstPass:
    """The SAX target of the first pass: it stops the parser at a DOCTYPE (the event comes
    before the internal subset is read) and at an ``xml-stylesheet`` instruction. It has no
    element callbacks, so libxml2 calls into Python for nothing else."""

    def doctype(self, name: str | None, public_id: str | None, system_url: str | None) -> None:
        raise _Refused("doctype")

    def pi(self, target: str, data: str | None) -> None:
        if target.strip().lower() == "xml-stylesheet":
            raise _Refused("xml-stylesheet")

    def close(self) -> None:
        return None


def _parse(data: bytes) -> etree._Element:
    """Both passes over one document (see the module's docstring); `DiagramRejected` for what
    the parser finds, `XMLSyntaxError` for what is not XML."""
    first = etree.XMLParser(target=_FirstPass(), resolve_entities=False, no_network=True, load_dtd=False,
                            huge_tree=False)
    try:
        etree.fromstring(data, first)
    except _Refused as refused:
        raise _refusal(refused.what, data) from None
    except etree.XMLSyntaxError:
        pass  # not XML before anything refused: the second pass says where
    root = etree.fromstring(data, _parser())
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise _refusal("doctype", data)  # the first pass stops every DTD; this is the second lock
    if _codec_name(info.encoding or "") in _REFUSED_ENCODINGS:
        message = (f"Filen är skriven i teckenkodningen {info.encoding}, som inte tillåts; spara den som UTF-8 "
                   "(eller UTF-16).")
        raise DiagramRejected(message, [Diagnostic("error", "unsupported-encoding", message, line=1)])
    return root


def _codec_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return encoding.lower()


def _refusal(what: str, data: bytes) -> DiagramRejected:
    if what == "xml-stylesheet":
        message = ("Filen innehåller en xml-stylesheet-instruktion, vilket inte tillåts (den skulle göra diagrammet "
                   "till en aktiv sida när det visas).")
        return DiagramRejected(message, [Diagnostic("error", "xml-stylesheet", message,
                                                    line=_line_of(data, "<?xml-stylesheet"))])
    return DiagramRejected(
        "Filen innehåller en DOCTYPE- eller ENTITY-deklaration, vilket inte tillåts.",
        [Diagnostic("error", "doctype", "DOCTYPE och ENTITY tillåts inte i uppladdade diagram.",
                    line=_line_of(data, "<!DOCTYPE"))],
    )


_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_FIRST_BYTES = ((b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"), (b"\x00<\x00?", "utf-16-be"),
                (b"<\x00?\x00", "utf-16-le"))


def _line_of(data: bytes, needle: str) -> int | None:
    """The line `needle` first appears on, in the document decoded as XML says it is (byte-order
    mark, then the first bytes, then the declaration; XML 1.0 appendix F). Only for placing a
    diagnostic: what the parser refused was decided by the parser."""
    codec = next((c for bom, c in _BOMS if data.startswith(bom)), None)
    codec = codec or next((c for start, c in _FIRST_BYTES if data.startswith(start)), None)
    if codec is None:
        declared = _DECLARED.match(data[:200])
        codec = declared.group(1).decode("ascii", "replace") if declared else "utf-8"
    try:
        text = data.decode(codec, errors="replace")
    except (LookupError, ValueError):
        return None
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else None


RECOVERED = "{https://rutin.example/bpmn}recovered"


def _check(root: etree._Element, max_elements: int, recovered: bool = False) -> etree._Element:
    if recovered:
        root.set(RECOVERED, "utf-8")
    for count, el in enumerate(root.iter(), start=1):
        tag = el.tag
        if tag is etree.Entity or (isinstance(tag, str) and tag.startswith(XINCLUDE_NAMESPACES)):
            _refuse_in_tree(el)
        if count > max_elements:
            raise DiagramRejected(
                f"Diagrammet har fler än {max_elements} element.",
                [Diagnostic("error", "too-many-elements", f"Fler än {max_elements} element.")],
            )
    name = etree.QName(root)
    if name.localname != "definitions" or name.namespace != BPMN_NS:
        found = f"i namnrymden {name.namespace!r}" if name.namespace else "utan namnrymd"
        raise DiagramRejected(
            "Filen är XML men inte BPMN 2.0 (rotelementet ska vara bpmn:definitions i BPMN 2.0:s namnrymd).",
            [
                Diagnostic(
                    "error",
                    "not-bpmn",
                    f"Rotelementet är {name.localname!r} {found}; BPMN 2.0 är 'definitions' i namnrymden "
                    f"{BPMN_NS!r}."
                    + (" Filen verkar vara från ett verktyg som skrev ett utkast av BPMN 2.0; spara den igen som "
                       "BPMN 2.0." if name.localname == "definitions" and name.namespace else ""),
                    line=root.sourceline,
                )
            ],
        )
    return root


def _refuse_in_tree(el: etree._Element) -> None:
    """An entity reference left in the tree (only a DTD declares one, and the first pass stops
    every DTD) or an XInclude element (lxml never processes one unless asked; BPMN has none)."""
    if el.tag is etree.Entity:
        raise DiagramRejected(
            "Filen innehåller en DOCTYPE- eller ENTITY-deklaration, vilket inte tillåts.",
            [Diagnostic("error", "doctype", "DOCTYPE och ENTITY tillåts inte i uppladdade diagram.",
                        line=el.sourceline)],
        )
    message = "Filen innehåller XInclude (xi:include), vilket inte tillåts i uppladdade diagram."
    raise DiagramRejected(message, [Diagnostic("error", "xinclude", message, line=el.sourceline)])


def q(local: str, ns: str = BPMN_NS) -> str:
    """Clark-notation tag name of a BPMN (or other namespace) element."""
    return f"{{{ns}}}{local}"
