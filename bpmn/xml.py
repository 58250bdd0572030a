"""Secure XML parsing for untrusted uploads.

No DTDs, no entities, no network and no file system: a diagram is parsed from bytes with lxml
configured so that nothing outside the document is ever read, and refused outright when it
declares a DOCTYPE (the vector of XXE and entity-expansion attacks; BPMN needs none).
"""

from __future__ import annotations

import codecs
import re

from lxml import etree

from .diagnostics import Diagnostic, DiagramRejected

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_ELEMENTS = 100_000

_DECLARED = re.compile(rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*\bencoding\s*=\s*["']([^"']*)["']""")
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


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
    """Parse untrusted XML bytes into an element tree, or raise `DiagramRejected`."""
    if len(data) > max_bytes:
        raise DiagramRejected(
            f"Filen är för stor ({len(data)} byte, högst {max_bytes}).",
            [Diagnostic("error", "too-large", f"Filen är större än {max_bytes} byte.")],
        )
    if not data.strip():
        raise DiagramRejected("Filen är tom.", [Diagnostic("error", "empty", "Filen är tom.")])
    if _DOCTYPE.search(data[:65536]) or _DOCTYPE.search(data):
        raise DiagramRejected(
            "Filen innehåller en DOCTYPE- eller ENTITY-deklaration, vilket inte tillåts.",
            [Diagnostic("error", "doctype", "DOCTYPE och ENTITY tillåts inte i uppladdade diagram.")],
        )
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        declared = _DECLARED.match(data[:200])
        utf8 = declared is None or declared.group(1).lower().replace(b"-", b"") in (b"", b"utf8")
        if "encoding" in str(exc.msg).lower() and utf8:
            # Some exporters declare UTF-8 (or nothing, which means UTF-8) and write a few bytes
            # in their platform's encoding: keep the document, read those bytes as Windows-1252,
            # and say so.
            try:
                repaired = data.decode("utf-8", errors=_LEGACY).encode("utf-8")
                return _check(etree.fromstring(repaired, _parser()), max_elements, recovered=True)
            except (etree.XMLSyntaxError, ValueError):
                pass
        line = getattr(exc, "lineno", None) or None
        message = f"Filen är inte giltig XML: {exc.msg}"
        if "depth" in str(exc.msg).lower() or "huge" in str(exc.msg).lower():
            # libxml2's own advice (an option that lifts its safety limits) is not for designers.
            message = ("Filen är för djupt nästlad: element i fler än 256 nivåer tillåts inte (ett BPMN-diagram "
                       "behöver sällan fler än tio).")
        raise DiagramRejected(message, [Diagnostic("error", "not-xml", message, line=line)]) from None
    except ValueError as exc:  # e.g. unicode strings with an encoding declaration
        raise DiagramRejected(
            f"Filen är inte giltig XML: {exc}",
            [Diagnostic("error", "not-xml", f"Filen är inte giltig XML: {exc}")],
        ) from None
    return _check(root, max_elements)


RECOVERED = "{https://rutin.example/bpmn}recovered"


def _check(root: etree._Element, max_elements: int, recovered: bool = False) -> etree._Element:
    if recovered:
        root.set(RECOVERED, "utf-8")
    for count, _ in enumerate(root.iter(), start=1):
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


def q(local: str, ns: str = BPMN_NS) -> str:
    """Clark-notation tag name of a BPMN (or other namespace) element."""
    return f"{{{ns}}}{local}"
