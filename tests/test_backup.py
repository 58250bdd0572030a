"""Backups that restore: taken while cases are being started and worked, restored into an empty data
directory (never over one that is not), and verified there against the checkpoints they carry."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from conftest import PG_URL, Person, publish

from engine.base.errors import Conflict, InvalidInput
from engine.base.settings import Settings
from engine.core import Engine
from engine.service import audit, backup
from engine.store.models import Case


def _start(client: Any, person: Person) -> None:
    r = client.post("/api/processes/granskning/cases", json={"data": {"belopp": 1}}, headers=person.headers)
    assert r.status_code == 201, r.get_json()


def _restore_target(backend: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a restored service: an empty data directory (and on PostgreSQL an
    emptied database of its own)."""
    env = {"RUTIN_DATA_DIR": str(tmp_path / "restored")}
    if backend == "postgresql":
        assert PG_URL
        url = sa.engine.make_url(PG_URL)
        name = f"{url.database}_restore"
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        env["RUTIN_DATABASE_URL"] = url.set(database=name).render_as_string(hide_password=False)
    return env


def test_a_backup_taken_under_writes_restores_and_verifies(backend: str, client: Any, app: Any,
                                                           people: dict[str, Person], engine: Engine,
                                                           tmp_path: Path) -> None:
    publish(client, people, "review.bpmn")
    for _ in range(3):
        _start(client, people["hanna"])
    sealed = audit.seal(engine, "test")
    assert sealed is not None

    stop = threading.Event()
    started = [0]
    errors: list[BaseException] = []

    def write() -> None:
        writer = app.test_client()
        try:
            while not stop.is_set():
                _start(writer, people["hanna"])
                started[0] += 1
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=write)
    thread.start()
    try:
        while started[0] < 3 and not errors:  # the backup starts while cases are being written
            threading.Event().wait(0.01)
        manifest = backup.backup(engine, tmp_path / "backup")
        during = started[0]
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors and started[0] > 3 and during >= 3
    assert set(manifest["files"]) >= {"audit/public_keys.json", "audit/checkpoints.jsonl"}
    assert not (tmp_path / "backup" / "audit" / audit.KEY_FILE).exists()  # a backup cannot sign

    env = _restore_target(backend, tmp_path)
    settings = Settings.from_env(env)
    backup.restore(settings, tmp_path / "backup")
    restored = Engine(settings, engine.clock)
    try:
        restored.migrate()
        with restored.db.read() as s:
            count = s.execute(sa.select(sa.func.count()).select_from(Case)).scalar_one()
        assert 3 + 3 <= count <= 3 + started[0]
        result = audit.verify_all(restored, trigger="cli")
        assert result["clean"], result["findings"]
        assert result["checkpoint"] == sealed["n"]
        # the restored service signs with a key of its own; the log says so, and still verifies
        again = audit.seal(restored, "test", force=True)
        assert again is not None and again["key_id"] != sealed["key_id"]
        assert [r["type"] for r in audit.read_log(settings)][-2:] == ["key_rotation", "checkpoint"]
        assert audit.verify_all(restored)["clean"]
    finally:
        restored.close()

    # never over something that is there
    with pytest.raises(Conflict):
        backup.restore(settings, tmp_path / "backup")
    with pytest.raises(Conflict):
        backup.backup(engine, tmp_path / "backup")


def test_a_damaged_backup_is_refused(backend: str, engine: Engine, tmp_path: Path) -> None:
    audit.seal(engine, "test", force=True)
    backup.backup(engine, tmp_path / "backup")
    log = tmp_path / "backup" / "audit" / "checkpoints.jsonl"
    log.write_text("{}\n", encoding="utf-8")
    target = Settings.from_env(_restore_target(backend, tmp_path))
    with pytest.raises(InvalidInput, match="skadad"):
        backup.restore(target, tmp_path / "backup")
    with pytest.raises(InvalidInput, match="ingen säkerhetskopia"):
        backup.restore(target, tmp_path)
    assert not (tmp_path / "restored").exists()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_commands_back_up_and_restore(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from webapp import cli, cli_engine

    audit.seal(engine, "test")
    monkeypatch.setattr(cli_engine, "engine_from_env", lambda: engine)
    runner = CliRunner()
    made = runner.invoke(cli.main, ["backup", str(tmp_path / "b")])
    assert made.exit_code == 0 and "Säkerhetskopia (sqlite)" in made.output, made.output
    env = {"RUTIN_DATA_DIR": str(tmp_path / "r"), "RUTIN_DATABASE_URL": ""}
    back = runner.invoke(cli.main, ["restore", str(tmp_path / "b")], env=env)
    assert back.exit_code == 0 and "återställd" in back.output, back.output
    again = runner.invoke(cli.main, ["restore", str(tmp_path / "b")], env=env)
    assert again.exit_code != 0 and "inte tom" in again.output
    monkeypatch.undo()
    checked = runner.invoke(cli.main, ["audit", "verify"], env=env)
    assert checked.exit_code == 0 and "inga avvikelser" in checked.output, checked.output
