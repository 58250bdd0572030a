"""Delivery to the e-archive: the E-ARK package of a case kept under its rule, validated by the
real eark-validator (in its own virtualenv, `make`), a deliberately broken one rejected; the
archive's receipt, after which the case may be culled."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import ROOT, Person, publish
from test_retention import RULE, run_case

from engine.authority import identity
from engine.base.clock import ManualClock
from engine.base.errors import Conflict, Forbidden, InvalidInput
from engine.core import Engine
from engine.retention import culling, eark, rules
from engine.service import audit
from engine.store.retention_models import ArchiveDelivery

VALIDATOR = ROOT / ".venv-eark" / "bin" / "python"
KEEP = {**RULE, "action": "bevaras", "years": 0}


def validate(*packages: Path) -> list[dict[str, Any]]:
    """eark-validator's verdict on each package (tools/eark_validate.py runs it offline)."""
    assert VALIDATOR.exists(), "eark-validator is not installed: run `make .venv-eark/.installed`"
    done = subprocess.run([str(VALIDATOR), str(ROOT / "tools" / "eark_validate.py"), *map(str, packages)],
                          capture_output=True, text=True, timeout=300, check=False)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == len(packages), done.stdout + done.stderr
    return lines


def assert_accepted(verdict: dict[str, Any]) -> None:
    """Well-formed, METS schema-valid and without an error under the CSIP profile and the SIP profile,
    but for SIP14: in eark-validator 1.1.3 it asks the creator agent's note for NOTETYPE
    IDENTIFICATIONCODE (unqualified, which the METS schema does not allow on a note), while CSIP16
    asks the same note for csip:NOTETYPE "SOFTWARE VERSION" and CSIP15 allows it one note: no
    package satisfies both, the validator's own sample SIPs included."""
    assert verdict["structure"] == "WellFormed" and not verdict["structure_errors"], verdict
    assert not verdict["schema_errors"], verdict["schema_errors"]
    assert not verdict["csip_errors"], [(e["rule_id"], e["message"][:120]) for e in verdict["csip_errors"]]
    assert {e["rule_id"] for e in verdict["sip_errors"]} <= {"SIP14"}, verdict["sip_errors"]


@pytest.fixture
def archivist(engine: Engine, people: dict[str, Person]) -> identity.Actor:
    identity.add_user(engine, "arkiv", ["arkivansvarig"])
    return identity.get_actor(engine, "arkiv")


def _kept_case(engine: Engine, client: Any, people: dict[str, Person], archivist: identity.Actor) -> str:
    publish(client, people, "review.bpmn")
    case_id = run_case(client, people)
    rules.approve(engine, archivist, rules.propose(engine, people["admin"].actor, KEEP)["id"])
    audit.seal(engine, "test")
    return case_id


def test_a_package_the_validator_accepts_and_a_broken_one_it_rejects(
        engine: Engine, client: Any, people: dict[str, Person], archivist: identity.Actor, tmp_path: Path) -> None:
    case_id = _kept_case(engine, client, people, archivist)
    objid, content = eark.package_files(engine, case_id)
    good = eark.write_directory(objid, content, tmp_path / "good")
    tree = sorted(str(p.relative_to(good)) for p in good.rglob("*") if p.is_file())
    assert tree == ["METS.xml", "documentation/public_keys.json", "documentation/verification.json",
                    "metadata/descriptive/dc.xml", "metadata/preservation/premis.xml",
                    "representations/rep1/METS.xml", "representations/rep1/data/case.json",
                    "representations/rep1/data/form_answers.json", "representations/rep1/data/history.json",
                    "schemas/rutin-descriptive.xsd"]
    verification = json.loads(content["documentation/verification.json"])
    assert verification["intact"] and verification["sealed_in_checkpoint"]["n"] >= 1
    assert json.loads(content["documentation/public_keys.json"])[0]["algorithm"] == "Ed25519"
    assert "Sven Svensson" in content["representations/rep1/data/form_answers.json"].decode()

    broken_mets = eark.write_directory(objid, content, tmp_path / "no-mets-entry")
    mets = (broken_mets / "METS.xml").read_text(encoding="utf-8")
    start = mets.index("<fileGrp ID=\"ID-grp-rep1\"")
    (broken_mets / "METS.xml").write_text(mets[:start] + mets[mets.index("</fileGrp>", start) + 10:],
                                          encoding="utf-8")
    no_root = tmp_path / "no-root"
    eark.write_directory(objid, content, no_root)
    (no_root / objid / "METS.xml").unlink()

    verdicts = validate(good, broken_mets, no_root / objid)
    assert_accepted(verdicts[0])
    assert verdicts[1]["csip_errors"], verdicts[1]  # a representation the package METS does not list
    assert {e["rule_id"] for e in verdicts[1]["csip_errors"]} >= {"CSIP114"}
    assert verdicts[2]["structure_errors"] and verdicts[2]["structure"] == "NotWellFormed", verdicts[2]

    zipped = tmp_path / f"{objid}.zip"
    zipped.write_bytes(eark.zip_bytes(objid, content))
    assert_accepted(validate(zipped)[0])


def test_a_delivery_is_recorded_only_with_its_package_on_disk(engine: Engine, client: Any,
                                                             people: dict[str, Person],
                                                             archivist: identity.Actor, tmp_path: Path) -> None:
    """The batch export writes a package and records its delivery together: a package that
    cannot be written leaves no delivery (the case is exported by the next run), and the next
    run writes it once."""
    case_id = _kept_case(engine, client, people, archivist)
    out = tmp_path / "out"
    (out / f"rutin-{case_id}.zip").mkdir(parents=True)  # where the package goes, taken: it cannot be written
    with pytest.raises(OSError):
        eark.export_due(engine, out)
    with engine.db.read() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(ArchiveDelivery)).scalar_one() == 0
    (out / f"rutin-{case_id}.zip").rmdir()
    assert [d["case_id"] for d in eark.export_due(engine, out)] == [case_id]
    assert eark.export_due(engine, out) == []
    assert [p.name for p in out.iterdir()] == [f"rutin-{case_id}.zip"]


def test_export_receipt_then_culling_under_the_rule(engine: Engine, client: Any, people: dict[str, Person],
                                                    archivist: identity.Actor, clock: ManualClock,
                                                    tmp_path: Path) -> None:
    case_id = _kept_case(engine, client, people, archivist)
    with pytest.raises(Forbidden):
        eark.export(engine, people["hanna"].actor, case_id)
    made = eark.export_due(engine, tmp_path / "out")
    assert [d["case_id"] for d in made] == [case_id]
    assert eark.export_due(engine, tmp_path / "out") == []  # exported once
    [package] = list((tmp_path / "out").glob("*.zip"))
    with zipfile.ZipFile(io.BytesIO(package.read_bytes())) as z:
        assert f"rutin-{case_id}/METS.xml" in z.namelist()
    assert_accepted(validate(package)[0])
    clock.advance(timedelta(days=1))
    assert culling.cull_due(engine)["culled"] == []  # kept, and not yet received
    with pytest.raises(InvalidInput):
        eark.confirm_receipt(engine, archivist, made[0]["id"], " ")
    receipt = eark.confirm_receipt(engine, archivist, made[0]["id"], "EA-2026-0042")
    assert receipt["received_by"] == "arkiv"
    with pytest.raises(Conflict):
        eark.confirm_receipt(engine, archivist, made[0]["id"], "EA-2026-0042")
    [culled] = culling.cull_due(engine)["culled"]
    assert culled["case_id"] == case_id
    assert audit.verify_all(engine, trigger="test", actor="test")["clean"]
    with pytest.raises(Conflict):
        eark.package_files(engine, case_id)  # gone from Rutin: it lives in the e-archive


def test_only_a_kept_closed_case_is_exported(engine: Engine, client: Any, people: dict[str, Person],
                                             archivist: identity.Actor) -> None:
    publish(client, people, "review.bpmn")
    case_id = run_case(client, people)
    with pytest.raises(Conflict, match="bevaras"):
        eark.package_files(engine, case_id)
    rules.approve(engine, archivist, rules.propose(engine, people["admin"].actor, RULE)["id"])
    with pytest.raises(Conflict, match="bevaras"):
        eark.package_files(engine, case_id)



def test_export_and_receipt_through_the_api(engine: Engine, client: Any, people: dict[str, Person],
                                            archivist: identity.Actor, tmp_path: Path) -> None:

    case_id = _kept_case(engine, client, people, archivist)
    token = identity.issue_token(engine, "arkiv")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post(f"/api/cases/{case_id}/archive-package", headers=people["hanna"].headers).status_code == 403
    r = client.post(f"/api/cases/{case_id}/archive-package", headers=headers)
    assert r.status_code == 200 and r.mimetype == "application/zip"
    delivery = int(r.headers["X-Rutin-Delivery"])
    (tmp_path / "p.zip").write_bytes(r.data)
    assert_accepted(validate(tmp_path / "p.zip")[0])
    bad = client.post(f"/api/retention/deliveries/{delivery}/receipt", json={"receipt_ref": ["x"]}, headers=headers)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    with engine.db.read() as s:
        assert s.get(ArchiveDelivery, delivery).received_at is None  # type: ignore[union-attr]
    ok = client.post(f"/api/retention/deliveries/{delivery}/receipt", json={"receipt_ref": "EA-1"}, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["receipt_ref"] == "EA-1"
