"""Delivery to the e-archive: a closed case whose rule says ``bevaras`` as an E-ARK information
package (CSIP 2.1, OAIS package type SIP), which FGS Paketstruktur and most Swedish e-archives take.

    <package id>/
      METS.xml                               the package METS: every file below, its size and SHA-256
      schemas/rutin-descriptive.xsd          the schema of dc.xml's wrapper
      metadata/descriptive/dc.xml            Dublin Core: process, version, unit, committee,
                                             business key, opened and closed
      metadata/preservation/premis.xml       PREMIS 3: each history event (who, when, its hash) and
                                             each data file's fixity (SHA-256)
      documentation/verification.json        the case's chain verification and the sealed checkpoint
      documentation/public_keys.json         the Ed25519 keys that check the checkpoints
      representations/rep1/METS.xml          the representation's METS
      representations/rep1/data/case.json    the case: its data and facts
      representations/rep1/data/form_answers.json   each step's answers, who and when
      representations/rep1/data/history.json the history with hashes (comments included)

Each export is recorded (`ArchiveDelivery`, with the zip's SHA-256); an administrator or the
archive's system then records the receipt, after which the culling job may cull the case from
Rutin under its rule (`culling`). The XML is written with lxml; the tests validate every package
with eark-validator.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from lxml import etree

from ..authority import org
from ..authority.identity import Actor, require_writer
from ..base.errors import Conflict, Forbidden, InvalidInput, NotFound
from ..core import Engine
from ..records import history
from ..service import audit
from ..store.models import Case, HumanTask, ProcessVersion
from ..store.retention_models import ArchiveDelivery, CullingRecord
from . import rules

METS = "http://www.loc.gov/METS/"
CSIP = "https://DILCIS.eu/XML/METS/CSIPExtensionMETS"
SIP = "https://DILCIS.eu/XML/METS/SIPExtensionMETS"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
PREMIS = "http://www.loc.gov/premis/v3"
DC = "http://purl.org/dc/elements/1.1/"
NSMAP = {None: METS, "csip": CSIP, "sip": SIP, "xlink": XLINK, "xsi": XSI}
PROFILE = "https://earksip.dilcis.eu/profile/E-ARK-SIP.xml"
SCHEMAS = ("http://www.loc.gov/METS/ http://www.loc.gov/standards/mets/mets.xsd "
           "http://www.w3.org/1999/xlink http://www.loc.gov/standards/mets/xlink.xsd "
           "https://DILCIS.eu/XML/METS/CSIPExtensionMETS https://earkcsip.dilcis.eu/schema/DILCISExtensionMETS.xsd "
           "https://DILCIS.eu/XML/METS/SIPExtensionMETS https://earksip.dilcis.eu/schema/DILCISExtensionSIPMETS.xsd")
SOFTWARE = "Rutin"
# The schema of the descriptive metadata's wrapper (Dublin Core elements inside <metadata>), carried
# in the package's schemas/ as CSIP asks of every XML schema a package uses; METS, XLink, PREMIS and
# the DILCIS extensions are the standards' own, named by their addresses.
DESCRIPTIVE_XSD = b"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:dc="http://purl.org/dc/elements/1.1/"
           elementFormDefault="qualified">
  <xs:import namespace="http://purl.org/dc/elements/1.1/"
             schemaLocation="https://www.dublincore.org/schemas/xmls/qdc/2008/02/11/dc.xsd"/>
  <xs:element name="metadata">
    <xs:annotation><xs:documentation>Rutins beskrivande metadata om ett \xc3\xa4rende: Dublin Core-element
      (title, identifier, type, creator, publisher, date, language, description).</xs:documentation></xs:annotation>
    <xs:complexType>
      <xs:sequence><xs:any namespace="http://purl.org/dc/elements/1.1/" minOccurs="0" maxOccurs="unbounded"
                           processContents="lax"/></xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""
MAX_ID = 2**63 - 1


def _q(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _require(actor: Actor) -> None:
    require_writer(actor)
    if not rules.may_manage(actor):
        raise Forbidden("Bara administratörer och arkivansvariga levererar ärenden till e-arkivet.")


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=str) + "\n").encode()


def _xml_bytes(root: Any) -> bytes:
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


class _Files:
    """The files of a package as they are written: path -> bytes, with when."""

    def __init__(self, at: datetime):
        self.at = at.isoformat()
        self.content: dict[str, bytes] = {}

    def add(self, path: str, data: bytes) -> None:
        self.content[path] = data

    def attrs(self, path: str, mime: str) -> dict[str, str]:
        data = self.content[path]
        return {"MIMETYPE": mime, "SIZE": str(len(data)), "CREATED": self.at,
                "CHECKSUM": hashlib.sha256(data).hexdigest().upper(), "CHECKSUMTYPE": "SHA-256"}


def _mime(path: str) -> str:
    return "application/xml" if path.endswith((".xml", ".xsd")) else "application/json"


def _mets_root(objid: str, label: str, at: str) -> Any:
    root = etree.Element(_q(METS, "mets"), nsmap=NSMAP)
    root.set("OBJID", objid)
    root.set("LABEL", label)
    root.set("TYPE", "Mixed")
    root.set(_q(CSIP, "CONTENTINFORMATIONTYPE"), "MIXED")
    root.set("PROFILE", PROFILE)
    root.set(_q(XSI, "schemaLocation"), SCHEMAS)
    hdr = etree.SubElement(root, _q(METS, "metsHdr"), CREATEDATE=at, RECORDSTATUS="NEW")
    hdr.set(_q(CSIP, "OAISPACKAGETYPE"), "SIP")
    agent = etree.SubElement(hdr, _q(METS, "agent"), ROLE="CREATOR", TYPE="OTHER", OTHERTYPE="SOFTWARE")
    etree.SubElement(agent, _q(METS, "name")).text = SOFTWARE
    note = etree.SubElement(agent, _q(METS, "note"))
    note.text = "1"
    note.set(_q(CSIP, "NOTETYPE"), "SOFTWARE VERSION")
    return root


def _group(parent: Any, gid: str, use: str) -> Any:
    """A file group, with the content information type CSIP 2.1 asks of it (OTHER: Rutin's own JSON)."""
    group = etree.SubElement(parent, _q(METS, "fileGrp"), ID=gid, USE=use)
    group.set(_q(CSIP, "CONTENTINFORMATIONTYPE"), "OTHER")
    group.set(_q(CSIP, "OTHERCONTENTINFORMATIONTYPE"), "Rutin-ärende (JSON)")
    return group


def _file(group: Any, files: _Files, path: str, href: str, n: int) -> str:
    fid = f"ID-file-{n}"
    el = etree.SubElement(group, _q(METS, "file"), ID=fid, **files.attrs(path, _mime(path)))
    loc = etree.SubElement(el, _q(METS, "FLocat"), LOCTYPE="URL")
    loc.set(_q(XLINK, "type"), "simple")
    loc.set(_q(XLINK, "href"), href)
    return fid


def _md_ref(parent: Any, files: _Files, path: str, mdtype: str, ref_id: str) -> None:
    ref = etree.SubElement(parent, _q(METS, "mdRef"), ID=ref_id, LOCTYPE="URL", MDTYPE=mdtype,
                           **files.attrs(path, "application/xml"))
    ref.set(_q(XLINK, "type"), "simple")
    ref.set(_q(XLINK, "href"), path)


def _representation_mets(objid: str, files: _Files, data_paths: list[str]) -> bytes:
    root = _mets_root(f"{objid}-rep1", "rep1", files.at)
    sec = etree.SubElement(root, _q(METS, "fileSec"), ID="ID-filesec-rep1")
    group = _group(sec, "ID-grp-data", "Data")
    ids = [_file(group, files, f"representations/rep1/{p}", p, n) for n, p in enumerate(data_paths, 1)]
    smap = etree.SubElement(root, _q(METS, "structMap"), ID="ID-structmap-rep1", TYPE="PHYSICAL", LABEL="CSIP")
    top = etree.SubElement(smap, _q(METS, "div"), ID="ID-div-rep1", LABEL=f"{objid}-rep1")
    div = etree.SubElement(top, _q(METS, "div"), ID="ID-div-rep1-data", LABEL="Data")
    for fid in ids:
        etree.SubElement(div, _q(METS, "fptr"), FILEID=fid)
    return _xml_bytes(root)


def _dublin_core(case: Case, version: ProcessVersion, unit: str | None, committee: str | None) -> bytes:
    root = etree.Element("metadata", nsmap={"dc": DC})
    values = [("title", f"{version.name}, ärende {case.business_key or case.id}"), ("identifier", case.id),
              ("identifier", case.business_key), ("type", f"{case.process_key} version {version.version}"),
              ("creator", unit), ("publisher", committee), ("date", case.created_at.isoformat()),
              ("date", case.completed_at.isoformat() if case.completed_at else None), ("language", "sv"),
              ("description", f"Ärende i Rutin enligt processen {version.name} ({case.process_key}), "
                              f"öppnat {case.created_at.date()}, avslutat "
                              f"{case.completed_at.date() if case.completed_at else '–'}.")]
    for name, value in values:
        if value:
            etree.SubElement(root, _q(DC, name)).text = str(value)
    return _xml_bytes(root)


def _premis(case: Case, events: list[Any], files: _Files, data_paths: list[str]) -> bytes:
    root = etree.Element(_q(PREMIS, "premis"), nsmap={None: PREMIS}, version="3.0")
    for p in data_paths:
        obj = etree.SubElement(root, _q(PREMIS, "object"))
        obj.set(_q(XSI, "type"), "file")
        ident = etree.SubElement(obj, _q(PREMIS, "objectIdentifier"))
        etree.SubElement(ident, _q(PREMIS, "objectIdentifierType")).text = "local"
        etree.SubElement(ident, _q(PREMIS, "objectIdentifierValue")).text = f"representations/rep1/{p}"
        chars = etree.SubElement(obj, _q(PREMIS, "objectCharacteristics"))
        fixity = etree.SubElement(chars, _q(PREMIS, "fixity"))
        etree.SubElement(fixity, _q(PREMIS, "messageDigestAlgorithm")).text = "SHA-256"
        etree.SubElement(fixity, _q(PREMIS, "messageDigest")).text = hashlib.sha256(
            files.content[f"representations/rep1/{p}"]).hexdigest()
        etree.SubElement(chars, _q(PREMIS, "size")).text = str(len(files.content[f"representations/rep1/{p}"]))
    for e in events:
        ev = etree.SubElement(root, _q(PREMIS, "event"))
        ident = etree.SubElement(ev, _q(PREMIS, "eventIdentifier"))
        etree.SubElement(ident, _q(PREMIS, "eventIdentifierType")).text = "rutin-case-event"
        etree.SubElement(ident, _q(PREMIS, "eventIdentifierValue")).text = f"{case.id}/{e.seq}"
        etree.SubElement(ev, _q(PREMIS, "eventType")).text = e.type
        etree.SubElement(ev, _q(PREMIS, "eventDateTime")).text = e.at.isoformat()
        detail = etree.SubElement(ev, _q(PREMIS, "eventDetailInformation"))
        etree.SubElement(detail, _q(PREMIS, "eventDetail")).text = (
            f"hash {e.hash}; föregående {e.prev_hash or '–'}; roll {e.role or '–'}")
        agent = etree.SubElement(ev, _q(PREMIS, "linkingAgentIdentifier"))
        etree.SubElement(agent, _q(PREMIS, "linkingAgentIdentifierType")).text = "rutin-user"
        etree.SubElement(agent, _q(PREMIS, "linkingAgentIdentifierValue")).text = e.actor
    return _xml_bytes(root)


def package_files(engine: Engine, case_id: str) -> tuple[str, dict[str, bytes]]:
    """The package of a closed case kept under its rule: its id and every file by relative path."""
    now = engine.clock.now()
    with engine.db.read() as s:
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(f"Ärendet {case_id} finns inte.")
        if case.status != "completed":
            raise Conflict("Bara avslutade ärenden som inte har gallrats levereras till e-arkivet.")
        rule = rules.rule_for_case(s, case)
        if rule is None or rule.action != "bevaras":
            raise Conflict("Ärendet ska inte bevaras enligt sin gallringsregel; det levereras inte till e-arkivet.")
        version = s.get(ProcessVersion, case.process_version_id)
        assert version is not None
        events = history.events(s, case.id)
        tasks = list(s.execute(sa.select(HumanTask).where(HumanTask.case_id == case.id)
                               .order_by(HumanTask.created_at, HumanTask.id)).scalars())
        findings = audit.case_findings(s, case)
        tree = org.tree(engine)
        found = tree.units.get(case.org_unit_id) if case.org_unit_id else None
        unit = found.name if found is not None else case.org_unit_id
        committee = org.committee_of(tree, case.org_unit_id)
        objid = f"rutin-{case.id}"
        files = _Files(now)
        data = {
            "case.json": _json_bytes({
                "id": case.id, "business_key": case.business_key, "process_key": case.process_key,
                "process_name": version.name, "process_version": version.version, "unit": case.org_unit_id,
                "unit_name": unit, "committee": committee, "started_by": case.started_by,
                "opened_at": case.created_at, "closed_at": case.completed_at, "data": case.data,
                "retention": rules.rule_json(rule)}),
            "form_answers.json": _json_bytes([{
                "task": t.name, "element_id": t.element_id, "completed_by": t.completed_by,
                "role": t.completed_role, "completed_at": t.completed_at, "answers": t.result}
                for t in tasks if t.status == "completed"]),
            "history.json": _json_bytes([history.to_json(e) for e in events]),
        }
        for name, content in data.items():
            files.add(f"representations/rep1/data/{name}", content)
        sealed = [(r["n"], r["at"]) for r in audit.read_log(engine.settings) if r.get("type") == "checkpoint"
                  and (r.get("heads") or {}).get(f"case:{case.id}") == [case.event_count, case.last_event_hash]]
        files.add("documentation/verification.json", _json_bytes({
            "case_id": case.id, "verified_at": now, "intact": not findings, "findings": findings,
            "events": case.event_count, "head_hash": case.last_event_hash,
            "sealed_in_checkpoint": {"n": sealed[-1][0], "at": sealed[-1][1]} if sealed else None,
            "how": "Varje händelses hash är SHA-256 av föregående hash följd av händelsen som kanonisk JSON "
                   "(engine/records/chain.py); kedjehuvudet är förseglat i en kontrollpunkt signerad med Ed25519."}))
        files.add("documentation/public_keys.json", _json_bytes(audit.public_keys(engine.settings)))
        files.add("schemas/rutin-descriptive.xsd", DESCRIPTIVE_XSD)
        files.add("metadata/descriptive/dc.xml", _dublin_core(case, version, unit, committee))
        data_paths = [f"data/{n}" for n in data]
        files.add("metadata/preservation/premis.xml", _premis(case, events, files, data_paths))
        files.add("representations/rep1/METS.xml", _representation_mets(objid, files, data_paths))
        files.add("METS.xml", _package_mets(objid, f"{version.name} {case.business_key or case.id}", files))
        return objid, files.content


def _package_mets(objid: str, label: str, files: _Files) -> bytes:
    root = _mets_root(objid, label, files.at)
    dmd = etree.SubElement(root, _q(METS, "dmdSec"), ID="ID-dmd-1", CREATED=files.at, STATUS="CURRENT")
    _md_ref(dmd, files, "metadata/descriptive/dc.xml", "DC", "ID-dmdref-1")
    amd = etree.SubElement(root, _q(METS, "amdSec"), ID="ID-amd-1")
    prov = etree.SubElement(amd, _q(METS, "digiprovMD"), ID="ID-digiprov-1", STATUS="CURRENT")
    _md_ref(prov, files, "metadata/preservation/premis.xml", "PREMIS", "ID-premisref-1")
    sec = etree.SubElement(root, _q(METS, "fileSec"), ID="ID-filesec-1")
    docs = _group(sec, "ID-grp-doc", "Documentation")
    for n, p in enumerate(("documentation/verification.json", "documentation/public_keys.json"), 1):
        _file(docs, files, p, p, n)
    schemas = _group(sec, "ID-grp-schemas", "Schemas")
    _file(schemas, files, "schemas/rutin-descriptive.xsd", "schemas/rutin-descriptive.xsd", 5)
    reps = _group(sec, "ID-grp-rep1", "Representations/rep1")
    _file(reps, files, "representations/rep1/METS.xml", "representations/rep1/METS.xml", 10)
    smap = etree.SubElement(root, _q(METS, "structMap"), ID="ID-structmap-1", TYPE="PHYSICAL", LABEL="CSIP")
    top = etree.SubElement(smap, _q(METS, "div"), ID="ID-div-root", LABEL=objid)
    etree.SubElement(top, _q(METS, "div"), ID="ID-div-metadata", LABEL="Metadata", DMDID="ID-dmd-1",
                     ADMID="ID-digiprov-1")
    # CSIP 2.1: each division points at its file group by the group's ID, and the representation's
    # division holds one division per representation, pointing at its METS.
    for did, label, gid in (("ID-div-doc", "Documentation", "ID-grp-doc"),
                            ("ID-div-schemas", "Schemas", "ID-grp-schemas"),
                            ("ID-div-reps", "Representations", "ID-grp-rep1")):
        div = etree.SubElement(top, _q(METS, "div"), ID=did, LABEL=label)
        etree.SubElement(div, _q(METS, "fptr"), FILEID=gid)
    rep = etree.SubElement(div, _q(METS, "div"), ID="ID-div-rep1", LABEL="Representations/rep1")
    mptr = etree.SubElement(rep, _q(METS, "mptr"), LOCTYPE="URL")
    mptr.set(_q(XLINK, "type"), "simple")
    mptr.set(_q(XLINK, "href"), "representations/rep1/METS.xml")
    mptr.set(_q(XLINK, "title"), "ID-grp-rep1")
    return _xml_bytes(root)


def write_directory(objid: str, content: dict[str, bytes], target: Path) -> Path:
    """Write a package as a folder `target/<objid>` (the package root); returns its path."""
    root = target / objid
    for path, data in content.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


def zip_bytes(objid: str, content: dict[str, bytes]) -> bytes:
    """A package as one zip that unpacks to its single root folder (CSIPSTR3)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(content):
            info = zipfile.ZipInfo(f"{objid}/{path}", date_time=(2000, 1, 1, 0, 0, 0))
            z.writestr(info, content[path], zipfile.ZIP_DEFLATED)
    return out.getvalue()


def export(engine: Engine, actor: Actor | str, case_id: str, *,
           into: Path | None = None) -> tuple[str, bytes, dict[str, Any]]:
    """Export a case as a zipped package and record the delivery; (package id, zip, delivery).

    With `into`, the zip is written there (``<package id>.zip``) inside the delivery's transaction,
    before its commit: a delivery is recorded only once its package is on disk, and a package
    written for a delivery that then failed to commit is written over by the next export."""
    if isinstance(actor, Actor):
        _require(actor)
    objid, content = package_files(engine, case_id)
    data = zip_bytes(objid, content)
    with engine.db.write() as s:
        row = ArchiveDelivery(case_id=case_id, package_id=objid, sha256=hashlib.sha256(data).hexdigest(),
                              exported_at=engine.clock.now(),
                              exported_by=actor.name if isinstance(actor, Actor) else actor)
        s.add(row)
        s.flush()
        if into is not None:
            (into / f"{objid}.zip").write_bytes(data)
        return objid, data, delivery_json(row)


def delivery_json(d: ArchiveDelivery) -> dict[str, Any]:
    """The API form of a delivery."""
    return {"id": d.id, "case_id": d.case_id, "package_id": d.package_id, "sha256": d.sha256,
            "exported_at": d.exported_at.isoformat(), "exported_by": d.exported_by,
            "received_at": d.received_at.isoformat() if d.received_at else None, "received_by": d.received_by,
            "receipt_ref": d.receipt_ref}


def confirm_receipt(engine: Engine, actor: Actor, delivery_id: int, receipt_ref: Any) -> dict[str, Any]:
    """Record that the e-archive received a package (its receipt reference); from then on the case
    may be culled from Rutin under its rule."""
    _require(actor)
    if not isinstance(receipt_ref, str) or not receipt_ref.strip() or len(receipt_ref) > 200:
        raise InvalidInput("Ange e-arkivets kvittens (text, 1–200 tecken).", field="receipt_ref")
    with engine.db.write() as s:
        row = s.get(ArchiveDelivery, delivery_id) if 0 < delivery_id <= MAX_ID else None
        if row is None:
            raise NotFound(f"Leveransen {delivery_id} finns inte.")
        if row.received_at is not None:
            raise Conflict("E-arkivet har redan bekräftat leveransen.")
        row.received_at, row.received_by, row.receipt_ref = engine.clock.now(), actor.name, receipt_ref.strip()
        return delivery_json(row)


def export_due(engine: Engine, target: Path, actor: str = "e-arkivleverans") -> list[dict[str, Any]]:
    """The batch job: every closed case kept under its rule and not yet exported, written as a zip
    into `target` and recorded; the deliveries made."""
    with engine.db.read() as s:
        exported = sa.select(ArchiveDelivery.case_id)
        culled = sa.select(CullingRecord.case_id)
        ids = [c.id for c in s.execute(sa.select(Case).where(Case.status == "completed", Case.id.not_in(exported),
                                                              Case.id.not_in(culled)).order_by(Case.completed_at))
               .scalars() if (r := rules.rule_for_case(s, c)) is not None and r.action == "bevaras"]
    target.mkdir(parents=True, exist_ok=True)
    made = []
    for case_id in ids:
        made.append(export(engine, actor, case_id, into=target)[2])
    return made
