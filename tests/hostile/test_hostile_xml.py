"""Hostile probes: XML that tries to reach past the parser (DTDs, entities, XInclude, style sheets)
in every encoding a parser reads, including the ones a byte search cannot see.

Each probe uploads through the API (one through the pages) and asserts the 422 with its located
Swedish diagnostic, that nothing an entity would have brought in reached the answer, and that the
database is exactly as before. The last tests hold the other side: the encodings modelers really
write still import, and a DOCTYPE quoted as text in a CDATA section is text, not a refusal.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Person, deploy, sign_in
from probes import assert_no_effect, db_state

from engine.authority import identity
from engine.core import Engine

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
EXPANDED = "EXPANDERAD"


def document(encoding: str, prolog: str = "", *, name: str = "Diagram", body: str = "") -> str:
    """A small runnable diagram with `prolog` on line 3 (after the declaration and a comment)."""
    return (f'<?xml version="1.0" encoding="{encoding}"?>\n<!-- exporterad -->\n{prolog}\n'
            f'<definitions xmlns="{BPMN}" id="d" targetNamespace="x" name="{name}">\n'
            f'<process id="p" isExecutable="true"><startEvent id="s"/>{body}<userTask id="t" name="Steg"/>'
            '<endEvent id="e"/><sequenceFlow id="f1" sourceRef="s" targetRef="t"/>'
            '<sequenceFlow id="f2" sourceRef="t" targetRef="e"/></process>\n</definitions>\n')


INTERNAL = f'<!DOCTYPE definitions [<!ENTITY x "{EXPANDED}">]>'
LAUGHS = ('<!DOCTYPE definitions [<!ENTITY l "lol">'
          + "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1 if i > 1 else "") + ";") * 10}">' for i in range(1, 10))
          + "]>").replace("&l0;", "&l;")
EXTERNAL_DTD = '<!DOCTYPE definitions SYSTEM "http://127.0.0.1:9/evil.dtd">'
PUBLIC_DTD = '<!DOCTYPE definitions PUBLIC "-//Evil//DTD x//EN" "file:///etc/passwd">'
EXTERNAL_ENTITY = '<!DOCTYPE definitions [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
PARAMETER = (f'<!DOCTYPE definitions [<!ENTITY % p "<!ENTITY x \'{EXPANDED}\'>"> %p;'
             '<!ENTITY % remote SYSTEM "http://127.0.0.1:9/x.dtd"> %remote;]>')
STYLESHEET = '<?xml-stylesheet type="text/xsl" href="data:text/xml,x"?>'


def _utf8_bom(text: str) -> bytes:
    return b"\xef\xbb\xbf" + text.encode("utf-8")


ENCODINGS: dict[str, tuple[str, Callable[[str], bytes]]] = {
    "utf-8": ("UTF-8", lambda t: t.encode("utf-8")),
    "utf-8 BOM": ("UTF-8", _utf8_bom),
    "utf-16 LE BOM": ("UTF-16", lambda t: b"\xff\xfe" + t.encode("utf-16-le")),
    "utf-16 BE BOM": ("UTF-16", lambda t: b"\xfe\xff" + t.encode("utf-16-be")),
    "utf-16 LE": ("UTF-16", lambda t: t.encode("utf-16-le")),
    "utf-16 BE": ("UTF-16", lambda t: t.encode("utf-16-be")),
    "utf-32 LE BOM": ("UTF-32", lambda t: t.encode("utf-32")),
    "utf-32 BE": ("UTF-32", lambda t: t.encode("utf-32-be")),
    "iso-8859-1": ("ISO-8859-1", lambda t: t.encode("latin-1")),
    "declared utf-8, written utf-16": ("UTF-8", lambda t: t.encode("utf-16-le")),
    "utf-7": ("UTF-7", lambda t: t.encode("utf-7")),
}

# (probe id, encoding, prolog, name, body, diagnostic code, its line)
PROBES: list[tuple[str, str, str, str, str, str, int | None]] = [
    *[(f"internal entity, {enc}", enc, INTERNAL, "&x;", "", "doctype", 3) for enc in ENCODINGS],
    ("billion laughs, utf-16 LE", "utf-16 LE", LAUGHS, "&l9;", "", "doctype", 3),
    ("billion laughs in content, utf-32 BE", "utf-32 BE", LAUGHS, "Diagram", "<documentation>&l9;</documentation>",
     "doctype", 3),
    ("external DTD, utf-16 BE BOM", "utf-16 BE BOM", EXTERNAL_DTD, "Diagram", "", "doctype", 3),
    ("public DTD, utf-32 LE BOM", "utf-32 LE BOM", PUBLIC_DTD, "Diagram", "", "doctype", 3),
    ("external entity, utf-16 LE", "utf-16 LE", EXTERNAL_ENTITY, "&x;", "", "doctype", 3),
    ("parameter entities, utf-16 BE", "utf-16 BE", PARAMETER, "&x;", "", "doctype", 3),
    ("parameter entities, utf-7", "utf-7", PARAMETER, "&x;", "", "doctype", 3),
    ("entity in content only, utf-16 LE BOM", "utf-16 LE BOM", INTERNAL, "Diagram",
     "<documentation>&x;</documentation>", "doctype", 3),
    ("xml-stylesheet, utf-8", "utf-8", STYLESHEET, "Diagram", "", "xml-stylesheet", 3),
    ("xml-stylesheet, utf-16 BE", "utf-16 BE", STYLESHEET, "Diagram", "", "xml-stylesheet", 3),
    ("xml-stylesheet inside the document, utf-8", "utf-8", "", "Diagram",
     '<?xml-stylesheet href="x.xsl"?>', "xml-stylesheet", 5),
    ("xinclude, utf-8", "utf-8", "", "Diagram",
     '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" parse="text"/>',
     "xinclude", 5),
    ("xinclude 2003, utf-16 LE BOM", "utf-16 LE BOM", "", "Diagram",
     '<documentation><xi:include xmlns:xi="http://www.w3.org/2003/XInclude" href="/etc/passwd"/></documentation>',
     "xinclude", 5),
    ("utf-7 without any DTD", "utf-7", "", "Diagram", "", "unsupported-encoding", 1),
]


def _refused(client: Any, designer: Person, engine: Engine, data: bytes, code: str, line: int | None) -> None:
    before = db_state(engine)
    r = deploy(client, designer, data)
    assert r.status_code == 422, r.get_data(as_text=True)[:500]
    assert r.headers["Content-Type"] == "application/problem+json"
    problem = r.get_json()
    assert problem["type"].endswith("invalid-bpmn") and problem["title"] == "Diagrammet kan inte driftsättas"
    assert re.search("[åäö]", problem["detail"]) or "tillåts" in problem["detail"], problem["detail"]
    found = {d["code"]: d for d in problem["diagnostics"]}
    assert code in found, problem
    assert found[code]["severity"] == "error" and found[code].get("line") == line, found[code]
    text = r.get_data(as_text=True)
    assert EXPANDED not in text and "lollol" not in text and "root:" not in text and "Traceback" not in text
    assert_no_effect(before, db_state(engine))


@pytest.mark.parametrize(("encoding", "prolog", "name", "body", "code", "line"),
                         [p[1:] for p in PROBES], ids=[p[0] for p in PROBES])
def test_xml_probe_is_refused_where_the_parser_finds_it(
        client: Any, people: dict[str, Person], engine: Engine, encoding: str, prolog: str, name: str, body: str,
        code: str, line: int | None) -> None:
    declared, encode = ENCODINGS[encoding]
    data = encode(document(declared, prolog, name=name, body=body))
    _refused(client, people["designer"], engine, data, code, line)


def test_a_doctype_behind_bytes_that_need_the_windows_1252_repair_is_refused(
        client: Any, people: dict[str, Person], engine: Engine) -> None:
    """The repair path reads the bytes again: the DOCTYPE must be refused there too."""
    data = document("UTF-8", INTERNAL, name="&x;").encode().replace(b"exporterad", b"export\xe9rad")
    _refused(client, people["designer"], engine, data, "doctype", 3)


def test_ebcdic_with_a_doctype_is_refused(client: Any, people: dict[str, Person], engine: Engine) -> None:
    """libxml2 does not read EBCDIC (cp037); the document is not XML to Rutin, wherever its DOCTYPE."""
    data = document("IBM037", INTERNAL, name="&x;").encode("cp037")
    _refused(client, people["designer"], engine, data, "not-xml", 1)


def test_a_cdata_section_before_the_root_is_not_a_way_in(client: Any, people: dict[str, Person],
                                                         engine: Engine) -> None:
    data = document("UTF-16", f"<![CDATA[x]]>{INTERNAL}", name="&x;").encode("utf-16")
    _refused(client, people["designer"], engine, data, "not-xml", 3)


def test_multipart_upload_of_a_utf16_doctype_is_refused(client: Any, people: dict[str, Person],
                                                        engine: Engine) -> None:
    before = db_state(engine)
    data = document("UTF-16", INTERNAL, name="&x;").encode("utf-16")
    r = client.post("/api/processes", data={"file": (io.BytesIO(data), "utf16.bpmn")},
                    headers=people["designer"].headers, content_type="multipart/form-data")
    assert r.status_code == 422
    [diag] = [d for d in r.get_json()["diagnostics"] if d["code"] == "doctype"]
    assert diag["line"] == 3 and "DOCTYPE och ENTITY tillåts inte" in diag["message"]
    assert EXPANDED not in r.get_data(as_text=True)
    assert_no_effect(before, db_state(engine))


def test_the_upload_page_refuses_a_utf16_doctype(client: Any, people: dict[str, Person], engine: Engine) -> None:
    from conftest import PASSWORD

    identity.set_password(engine, "designer", PASSWORD)
    csrf = sign_in(client, "designer")
    before = db_state(engine)
    data = document("UTF-16", INTERNAL, name="&x;").encode("utf-16-be")
    r = client.post("/processes", data={"csrf": csrf, "file": (io.BytesIO(data), "utf16.bpmn")},
                    content_type="multipart/form-data")
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "DOCTYPE och ENTITY tillåts inte" in page and EXPANDED not in page
    assert_no_effect(before, db_state(engine))


# -- what must still work ---------------------------------------------------------------------------


@pytest.mark.parametrize(("declared", "encode"), [
    ("UTF-8", lambda t: t.encode("utf-8")),
    ("UTF-8", _utf8_bom),
    ("UTF-16", lambda t: b"\xff\xfe" + t.encode("utf-16-le")),
    ("UTF-16", lambda t: b"\xfe\xff" + t.encode("utf-16-be")),
    ("ISO-8859-1", lambda t: t.encode("latin-1")),
    ("windows-1252", lambda t: t.encode("cp1252")),
], ids=["utf-8", "utf-8 BOM", "utf-16 LE BOM", "utf-16 BE BOM", "iso-8859-1", "windows-1252"])
def test_the_encodings_modelers_write_still_import(client: Any, people: dict[str, Person], declared: str,
                                                  encode: Callable[[str], bytes]) -> None:
    r = deploy(client, people["designer"], encode(document(declared, name="Klärvärde")))
    assert r.status_code == 201, r.get_json()
    detail = client.get("/api/processes/p/versions/1", headers=people["designer"].headers).get_json()
    assert [s["name"] for s in detail["steps"]] == ["Steg"], detail["steps"]


def test_utf8_with_windows_1252_bytes_is_still_repaired(client: Any, people: dict[str, Person]) -> None:
    data = document("UTF-8", body="").encode().replace(b'name="Steg"', b'name="Kl\xe4r"')
    r = deploy(client, people["designer"], data)
    assert r.status_code == 201, r.get_json()
    assert "invalid-encoding" in {d["code"] for d in r.get_json()["diagnostics"]}
    detail = client.get("/api/processes/p/versions/1", headers=people["designer"].headers).get_json()
    assert [s["name"] for s in detail["steps"]] == ["Klär"]


def test_a_doctype_quoted_in_a_cdata_section_is_text(client: Any, people: dict[str, Person]) -> None:
    """A byte search refused this; the parser reads it as the documentation text it is."""
    quoted = f"<documentation><![CDATA[{INTERNAL} &x;]]></documentation>"
    r = deploy(client, people["designer"], document("UTF-8", body=quoted).encode())
    assert r.status_code == 201, r.get_json()
    assert "doctype" not in {d["code"] for d in r.get_json()["diagnostics"]}
