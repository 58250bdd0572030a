"""SQLite writers of several processes queue on a file lock beside the database (engine/store/writer_lock.py)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from engine.base.clock import ManualClock
from engine.base.errors import Busy
from engine.base.settings import Settings
from engine.core import Engine
from engine.store.writer_lock import WriterLock


def _engine(data_dir: Path, **env: str) -> Engine:
    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": str(data_dir), **env}), ManualClock())
    engine.migrate()
    return engine


def _lock_path(engine: Engine) -> str:
    return engine.db.url.split("///", 1)[-1] + ".writer-lock"


def _locked_elsewhere(path: str) -> bool:
    """Whether an exclusive flock on `path` is held through another open file description."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def test_a_write_holds_the_file_lock_and_lets_it_go(tmp_path: Path) -> None:
    engine = _engine(tmp_path / "var")
    try:
        with engine.db.write():
            assert _locked_elsewhere(_lock_path(engine))
            with engine.db.write():  # nested in the same thread: re-entrant, still held after
                pass
            assert _locked_elsewhere(_lock_path(engine))
        assert not _locked_elsewhere(_lock_path(engine))
        with pytest.raises(RuntimeError), engine.db.write():
            raise RuntimeError("a failed unit of work releases it too")
        assert not _locked_elsewhere(_lock_path(engine))
    finally:
        engine.close()


HOLDER = """
import sys
from engine.base.clock import ManualClock
from engine.core import Engine
from engine.base.settings import Settings
engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": sys.argv[1]}), ManualClock())
with engine.db.write():
    print("holding", flush=True)
    sys.stdin.readline()
print("released", flush=True)
engine.close()
"""


def test_a_writer_in_another_process_waits_then_gets_a_conflict_and_goes_through_after(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    engine = _engine(data_dir, RUTIN_LOCK_TIMEOUT_S="0.2")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(data_dir)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(Busy), engine.db.write():
            pass
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        with engine.db.write() as s:
            assert s.connection().exec_driver_sql("select 1").scalar() == 1
    finally:
        holder.kill()
        holder.wait()
        engine.close()


def test_a_forked_child_does_not_share_its_parents_lock(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "db.writer-lock"))
    assert lock.acquire(1.0)
    pid = os.fork()
    if pid == 0:  # the child: the inherited descriptor is the parent's, so it must wait like anyone
        code = 0 if lock.acquire(0.05) is False else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    lock.release()
    lock.close()
    assert os.waitstatus_to_exitcode(status) == 0
