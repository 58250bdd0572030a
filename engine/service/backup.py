"""Backups that restore: a consistent copy taken while the service writes, and its way back.

A plain file copy of a live SQLite database can be torn (pages from before and after a commit,
a WAL not copied with it), so SQLite is copied with its online backup API, which reads one
consistent snapshot while writers go on. PostgreSQL is dumped with ``pg_dump`` (one snapshot by
design) in its custom format, restored with ``pg_restore``. The backup also holds what an auditor
needs to verify the restored copy: the published public keys and the checkpoint log, copied
*before* the database, so every head the log seals is in the database copy too. The private
signing key is left out on purpose: whoever holds a backup must not be able to sign; a restored
service makes a new key at its first checkpoint, and the log records that as a key change.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..base.errors import Conflict, InvalidInput
from ..base.settings import Settings
from ..core import Engine
from .audit import LOG_FILE, PUBLIC_FILE, audit_dir

MANIFEST = "manifest.json"
SQLITE_FILE = "rutin.db"
PG_FILE = "rutin.pgdump"


def _sqlite_path(settings: Settings) -> Path:
    return Path(settings.database_url.split("///", 1)[-1])


def _libpq_url(url: str) -> str:
    """The SQLAlchemy URL as pg_dump and pg_restore take it (no driver name)."""
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def backup(engine: Engine, dest: Path) -> dict[str, Any]:
    """Write a backup into `dest` (a new or empty directory) and return its manifest."""
    if dest.exists() and any(dest.iterdir()):
        raise Conflict(f"Katalogen {dest} finns redan och är inte tom; välj en ny katalog för säkerhetskopian.")
    dest.mkdir(parents=True, exist_ok=True)
    settings = engine.settings
    files: dict[str, str] = {}
    # The log first: what it seals was committed before it was written, so the database copied
    # afterwards holds it all.
    (dest / "audit").mkdir()
    for name in (PUBLIC_FILE, LOG_FILE):
        src = audit_dir(settings) / name
        if src.exists():
            shutil.copy2(src, dest / "audit" / name)
            files[f"audit/{name}"] = _sha256(dest / "audit" / name)
    if engine.db.is_sqlite:
        target = dest / SQLITE_FILE
        source = sqlite3.connect(_sqlite_path(settings), timeout=settings.lock_timeout_s)
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)  # the whole database in one step: one consistent snapshot
        finally:
            copy.close()
            source.close()
        files[SQLITE_FILE] = _sha256(target)
        database = "sqlite"
    else:
        target = dest / PG_FILE
        subprocess.run(["pg_dump", "--format=custom", "--no-owner", f"--file={target}",
                        f"--dbname={_libpq_url(settings.database_url)}"], check=True, capture_output=True)
        files[PG_FILE] = _sha256(target)
        database = "postgresql"
    manifest = {"format": 1, "database": database, "created_at": engine.clock.now().isoformat(), "files": files}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def restore(settings: Settings, source: Path) -> dict[str, Any]:
    """Restore a backup into the data directory `settings` names, which must be empty (and, on
    PostgreSQL, into a database without tables): a restore never overwrites what is there."""
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        raise InvalidInput(f"{source} är ingen säkerhetskopia från Rutin (manifest.json saknas eller är "
                           "oläslig).") from None
    for name, digest in manifest["files"].items():
        if not (source / name).exists() or _sha256(source / name) != digest:
            raise InvalidInput(f"Säkerhetskopian är skadad: {name} saknas eller har ändrats.")
    data_dir = settings.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        raise Conflict(f"Datakatalogen {data_dir} är inte tom; återställ bara till en tom katalog.")
    is_sqlite = settings.database_url.startswith("sqlite")
    if (manifest["database"] == "sqlite") != is_sqlite:
        raise InvalidInput(f"Säkerhetskopian är av en {manifest['database']}-databas men RUTIN_DATABASE_URL pekar "
                           "på en annan sort.")
    if is_sqlite:
        target = _sqlite_path(settings)
        if target.exists():
            raise Conflict(f"Databasfilen {target} finns redan; återställ bara till en tom plats.")
    else:
        eng = sa.create_engine(settings.database_url)
        try:
            with eng.connect() as conn:
                if sa.inspect(conn).get_table_names():
                    raise Conflict("Databasen som RUTIN_DATABASE_URL pekar på har redan tabeller; återställ bara "
                                   "till en tom databas.")
        finally:
            eng.dispose()
    data_dir.mkdir(parents=True, exist_ok=True)
    audit = audit_dir(settings)
    audit.mkdir(parents=True, exist_ok=True)
    for name in (PUBLIC_FILE, LOG_FILE):
        if f"audit/{name}" in manifest["files"]:  # only what the manifest vouches for
            shutil.copy2(source / "audit" / name, audit / name)
    if is_sqlite:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.restoring")
        shutil.copy2(source / SQLITE_FILE, staging)
        os.replace(staging, target)
    else:
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error",
                        f"--dbname={_libpq_url(settings.database_url)}", str(source / PG_FILE)],
                       check=True, capture_output=True)
    return manifest
