"""Tamper evidence beyond the database: signed checkpoints of the chain heads, one verification of
every history, and projections checked against their chains.

The tampering here is what someone with write access to the database can do (the application's
own database user may disable the append-only trigger): edit an event, delete one, forge one,
remove the last, and re-chain the history so that its own hashes and the stored head agree
again. Each such rewrite of a sealed history must be found, naming the case and the event (or the
process and the event), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import Person, fixture_bytes, publish

from engine.base.clock import ManualClock
from engine.core import Engine
from engine.records import chain
from engine.service import audit
from engine.store.models import Case, CaseEvent, HumanTask, ProcessEvent, ProcessHead, ProcessVersion


def _run_case(client: Any, people: dict[str, Person]) -> str:
    """A finished case with six events: started, Granska created and completed (greta), the
    decision created and completed (hugo), the case completed."""
    publish(client, people, "review.bpmn")
    r = client.post("/api/processes/granskning/cases", json={"data": {"belopp": 100}}, headers=people["hanna"].headers)
    assert r.status_code == 201, r.get_json()
    [task] = r.get_json()["open_tasks"]
    r = client.post(f"/api/tasks/{task['id']}/complete", json={"data": {"kommentar": "ok"}},
                    headers=people["greta"].headers)
    [decision] = r.get_json()["case"]["open_tasks"]
    r = client.post(f"/api/tasks/{decision['id']}/complete", json={"choice": "Ja"}, headers=people["hugo"].headers)
    assert r.get_json()["case"]["status"] == "completed"
    return str(r.get_json()["case"]["id"])


def _second_version(client: Any, people: dict[str, Person]) -> None:
    """The granskning process gets a second version: its history grows to five events (uploaded,
    approved, uploaded, superseded, approved)."""
    changed = fixture_bytes("review.bpmn").replace(b"</bpmn:definitions>", b"<!-- v2 --></bpmn:definitions>")
    publish(client, people, changed)


def _append_only(engine: Engine, table: str, on: bool) -> None:
    """Switch a history table's append-only trigger off or on, as the database owner can."""
    with engine.db.write() as s:
        if engine.db.is_sqlite:
            for verb in ("update", "delete"):
                name = f"{table}_no_{verb}"
                if on:
                    s.execute(sa.text(f"CREATE TRIGGER {name} BEFORE {verb.upper()} ON {table} "
                                      f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"))
                else:
                    s.execute(sa.text(f"DROP TRIGGER {name}"))
        else:
            s.execute(sa.text(f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER {table}_append_only"))


def _rechain_case(engine: Engine, case_id: str, change: Callable[[list[dict[str, Any]]], None]) -> None:
    """Rewrite a case's history (`change` edits the list of event rows) and re-chain it all: seq,
    prev_hash and hash recomputed, the case's head moved, as a forger would."""
    _append_only(engine, "case_events", False)
    try:
        with engine.db.write() as s:
            cols = [c.name for c in CaseEvent.__table__.columns if c.name != "id"]
            rows = [dict(zip(cols, r, strict=True)) for r in s.execute(
                sa.select(*[CaseEvent.__table__.c[c] for c in cols]).where(CaseEvent.case_id == case_id)
                .order_by(CaseEvent.seq))]
            change(rows)
            prev = None
            for n, row in enumerate(rows, start=1):
                row["seq"], row["prev_hash"] = n, prev
                row["hash"] = chain.case_event_hash(prev, row)
                prev = row["hash"]
            s.execute(sa.delete(CaseEvent).where(CaseEvent.case_id == case_id))
            s.execute(sa.insert(CaseEvent), rows)
            s.execute(sa.update(Case).where(Case.id == case_id).values(event_count=len(rows), last_event_hash=prev))
    finally:
        _append_only(engine, "case_events", True)


def _rechain_process(engine: Engine, key: str, change: Callable[[list[dict[str, Any]]], None]) -> None:
    """The same for a process history and its stored head."""
    _append_only(engine, "process_events", False)
    try:
        with engine.db.write() as s:
            cols = [c.name for c in ProcessEvent.__table__.columns if c.name != "id"]
            rows = [dict(zip(cols, r, strict=True)) for r in s.execute(
                sa.select(*[ProcessEvent.__table__.c[c] for c in cols]).where(ProcessEvent.process_key == key)
                .order_by(ProcessEvent.seq))]
            change(rows)
            prev = None
            for n, row in enumerate(rows, start=1):
                row["seq"], row["prev_hash"] = n, prev
                row["hash"] = chain.process_event_hash(prev, ProcessEvent(**row))
                prev = row["hash"]
            s.execute(sa.delete(ProcessEvent).where(ProcessEvent.process_key == key))
            s.execute(sa.insert(ProcessEvent), rows)
            s.execute(sa.update(ProcessHead).where(ProcessHead.process_key == key)
                      .values(event_count=len(rows), last_event_hash=prev))
    finally:
        _append_only(engine, "process_events", True)


def _edit_actor(rows: list[dict[str, Any]]) -> None:
    rows[2]["actor"] = "mallory"  # case: greta's completion; process: the second upload


def _delete_middle(rows: list[dict[str, Any]]) -> None:
    del rows[1]


def _forge_appended(rows: list[dict[str, Any]]) -> None:
    forged = dict(rows[-1])
    forged.update(type="comment" if "case_id" in forged else "version_rejected", actor="mallory",
                  data={"text": "efterhandskonstruktion"})
    rows.append(forged)  # dated as the last real event: before the checkpoint that sealed it


def _remove_last(rows: list[dict[str, Any]]) -> None:
    rows.pop()


# Each rewrite and the event of a six-event case history its finding names: the sealed head (6)
# no longer there or no longer the same, or the forged seventh.
TAMPERINGS = {"edited_actor": (_edit_actor, 6), "deleted_middle_event": (_delete_middle, 6),
              "forged_appended_event": (_forge_appended, 7), "removed_last_event": (_remove_last, 6)}


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_a_rechained_case_history_is_found(how: str, client: Any, people: dict[str, Person], engine: Engine,
                                           clock: ManualClock) -> None:
    case_id = _run_case(client, people)
    clock.advance(timedelta(hours=1))  # the hourly seal comes after the events it seals
    assert audit.seal(engine, "test") is not None
    assert audit.verify_all(engine)["clean"]
    clock.advance(timedelta(hours=2))
    change, seq = TAMPERINGS[how]
    _rechain_case(engine, case_id, change)
    # the chain in the database agrees with itself again: only the checkpoint can tell
    assert client.get(f"/api/cases/{case_id}", headers=people["admin"].headers).get_json()["history_intact"]
    result = audit.verify_all(engine)
    assert not result["clean"]
    found = [f for f in result["findings"] if f.get("case_id") == case_id]
    assert found, result["findings"]
    assert f"Ärende {case_id}" in found[0]["message"]
    assert found[0]["seq"] == seq, found
    if how == "edited_actor":  # greta's completion, now said to be mallory's, against the task row
        assert any(f["seq"] == 3 and "greta" in f["message"] for f in found), found
    # sealing again does not endorse the rewrite
    assert audit.seal(engine, "test", force=True)["refused"] == [f"case:{case_id}"]  # type: ignore[index]
    assert not audit.verify_all(engine)["clean"]


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_a_rechained_process_history_is_found(how: str, client: Any, people: dict[str, Person], engine: Engine,
                                              clock: ManualClock) -> None:
    publish(client, people, "review.bpmn")
    _second_version(client, people)
    assert audit.verify_process_history(engine, "granskning")
    clock.advance(timedelta(hours=1))
    assert audit.seal(engine, "test") is not None
    assert audit.verify_all(engine)["clean"]
    clock.advance(timedelta(hours=2))
    change, _ = TAMPERINGS[how]
    if how == "edited_actor":
        with engine.db.write() as s:  # the projection rewritten with it, so only the seal can tell
            s.execute(sa.update(ProcessVersion).where(ProcessVersion.key == "granskning",
                                                      ProcessVersion.version == 2).values(uploaded_by="mallory"))
    _rechain_process(engine, "granskning", change)
    assert audit.verify_process_history(engine, "granskning")
    result = audit.verify_all(engine)
    found = [f for f in result["findings"] if f.get("process_key") == "granskning"]
    assert found and not result["clean"], result["findings"]
    assert "Process granskning" in found[0]["message"]
    expected = {"edited_actor": 5, "deleted_middle_event": 5, "forged_appended_event": 6,
                "removed_last_event": 5}[how]
    assert any(f["seq"] == expected for f in found), found


def test_without_a_seal_the_stored_heads_still_catch_a_removed_last_event(engine: Engine, client: Any,
                                                                          people: dict[str, Person]) -> None:
    """A process history now has a stored head: its last event removed without moving the head
    is found, as it always was for cases."""
    publish(client, people, "review.bpmn")
    _append_only(engine, "process_events", False)
    with engine.db.write() as s:
        s.execute(sa.delete(ProcessEvent).where(ProcessEvent.process_key == "granskning", ProcessEvent.seq == 2))
    _append_only(engine, "process_events", True)
    assert not audit.verify_process_history(engine, "granskning")
    chain, approval = [f for f in audit.verify_all(engine)["findings"] if f.get("process_key") == "granskning"]
    assert chain["seq"] == 2 and "kedjehuvudet" in chain["message"]
    # and the version still says it was approved, which no event says any more
    assert approval["seq"] is None and "godkänd av admin" in approval["message"]


def test_projections_are_checked_against_the_chain(client: Any, people: dict[str, Person], engine: Engine) -> None:
    case_id = _run_case(client, people)
    assert audit.verify_all(engine)["clean"]
    with engine.db.write() as s:
        s.execute(sa.update(HumanTask).where(HumanTask.case_id == case_id, HumanTask.completed_by == "greta")
                  .values(completed_by="mallory"))
        s.execute(sa.update(ProcessVersion).where(ProcessVersion.key == "granskning")
                  .values(approved_by="owner", approved_via="owner"))
    findings = audit.verify_all(engine)["findings"]
    [task] = [f for f in findings if f.get("case_id") == case_id]
    assert task["seq"] == 3 and "greta" in task["message"] and "mallory" in task["message"]
    [version] = [f for f in findings if f.get("process_key") == "granskning"]
    assert version["seq"] == 2 and "admin (admin)" in version["message"] and "owner (owner)" in version["message"]


def test_checkpoints_are_signed_chained_and_keys_rotate(client: Any, people: dict[str, Person], engine: Engine,
                                                        clock: ManualClock) -> None:
    _run_case(client, people)
    first = audit.seal(engine, "test")
    assert first is not None and first["sealed"] >= 2
    assert audit.seal(engine, "test") is None  # nothing moved: no new checkpoint
    clock.advance(timedelta(hours=1))
    rotated = audit.rotate_key(engine, "admin")
    assert rotated["old_key_id"] == first["key_id"] != rotated["key_id"]
    _run_case(client, people)
    second = audit.seal(engine, "test")
    assert second is not None and second["key_id"] == rotated["key_id"]
    assert audit.verify_all(engine)["clean"]
    keys = audit.public_keys(engine.settings)
    assert [k["key_id"] for k in keys] == [first["key_id"], rotated["key_id"]] and "until" in keys[0]
    assert client.get("/api/audit/public-key").get_json()["keys"] == keys  # published, no sign-in needed
    assert [r["type"] for r in audit.read_log(engine.settings)] == ["checkpoint", "key_rotation", "checkpoint"]

    # a checkpoint line altered (a head moved back) no longer carries a valid signature
    path = audit.audit_dir(engine.settings) / audit.LOG_FILE
    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[0])
    chain = next(iter(record["heads"]))
    record["heads"][chain][0] -= 1
    path.write_text("\n".join([json.dumps(record), *lines[1:]]) + "\n", encoding="utf-8")
    messages = [f["message"] for f in audit.verify_all(engine)["findings"]]
    assert any("rad 1: signaturen stämmer inte" in m for m in messages)
    assert any("rad 2: raden följer inte" in m for m in messages)


def test_the_scheduled_run_happens_once_across_workers_and_is_recorded(client: Any, people: dict[str, Person],
                                                                       engine: Engine, clock: ManualClock) -> None:
    _run_case(client, people)
    first = audit.run_due(engine, "worker-a")
    assert first is not None and first["seal"]["sealed"] >= 2 and first["verify"]["clean"]
    assert audit.run_due(engine, "worker-b") is None  # claimed: the next is an interval away
    clock.advance(timedelta(seconds=engine.settings.audit_interval_s))
    again = audit.run_due(engine, "worker-b")
    assert again is not None and again["seal"] is None  # nothing moved, nothing sealed
    status = client.get("/api/audit", headers=people["admin"].headers).get_json()
    assert status["latest"]["trigger"] == "schedule" and status["latest"]["clean"]
    assert status["last_clean_at"] == clock.now().isoformat()
    assert status["checkpoint"]["n"] == 1


def test_who_may_see_check_and_seal(client: Any, people: dict[str, Person], engine: Engine) -> None:
    from engine.authority import identity

    identity.add_user(engine, "rut", ["auditor"])
    rut = {"Authorization": f"Bearer {identity.issue_token(engine, 'rut')}"}
    assert client.get("/api/audit", headers=people["hanna"].headers).status_code == 403
    assert client.get("/api/audit/verify", headers=people["hanna"].headers).status_code == 403
    live = client.get("/api/audit/verify", headers=rut)
    assert live.status_code == 200 and live.get_json()["clean"] and live.get_json()["id"] is None
    # an auditor changes nothing, not even by sealing or recording a check
    for path in ("/api/audit/verify", "/api/audit/checkpoints"):
        r = client.post(path, headers=rut)
        assert r.status_code == 403 and r.content_type == "application/problem+json"
    assert audit.status(engine)["latest"] is None and audit.read_log(engine.settings) == []
    assert client.post("/api/audit/checkpoints", headers=people["admin"].headers).status_code == 201
    recorded = client.post("/api/audit/verify", headers=people["admin"].headers).get_json()
    assert recorded["clean"] and recorded["id"] is not None and recorded["checkpoint"] == 1


def _signed_in(app: Any, engine: Engine, name: str) -> Any:
    """A page client signed in through the login form."""
    from conftest import PASSWORD
    from signin_helpers import login_csrf

    from engine.authority import identity

    identity.set_password(engine, name, PASSWORD)
    browser = app.test_client()
    r = browser.post("/login", data={"csrf": login_csrf(browser), "name": name, "password": PASSWORD})
    assert r.status_code == 302
    return browser


def test_the_page_shows_the_state_and_checks_live(app: Any, client: Any, people: dict[str, Person],
                                                  engine: Engine) -> None:
    case_id = _run_case(client, people)
    audit.seal(engine, "test")
    audit.verify_all(engine)
    with engine.db.write() as s:
        s.execute(sa.update(HumanTask).where(HumanTask.case_id == case_id, HumanTask.completed_by == "greta")
                  .values(completed_by="mallory"))
    admin = _signed_in(app, engine, "admin")
    page = admin.get("/granskning").get_data(as_text=True)
    assert "Granskning av historiken" in page and "inga avvikelser" in page and "Senast utan avvikelser" in page
    page = admin.get("/granskning?kontrollera=1").get_data(as_text=True)
    assert f"Ärende {case_id}" in page and "mallory" in page and "registreras inte" in page
    assert _signed_in(app, engine, "hanna").get("/granskning").status_code == 403


def test_the_command_exits_nonzero_on_findings(client: Any, people: dict[str, Person], engine: Engine,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from webapp import cli, cli_engine

    case_id = _run_case(client, people)
    monkeypatch.setattr(cli_engine, "engine_from_env", lambda: engine)
    runner = CliRunner()
    sealed = runner.invoke(cli.main, ["audit", "seal"])
    assert sealed.exit_code == 0 and "Kontrollpunkt 1" in sealed.output
    ok = runner.invoke(cli.main, ["audit", "verify"])
    assert ok.exit_code == 0 and "inga avvikelser" in ok.output, ok.output
    _rechain_case(engine, case_id, _remove_last)
    bad = runner.invoke(cli.main, ["audit", "verify"])
    assert bad.exit_code == 1 and f"Ärende {case_id}, händelse 6" in bad.output
