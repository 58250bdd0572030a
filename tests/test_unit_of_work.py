"""One unit of work on a case (engine/execution/runtime.py `CaseWork`): rows mark themselves changed.

A task row or case row changed inside a unit of work is written with it, with no call to say
so: on SQLite with its optimistic fast path (``RUTIN_OPTIMISTIC_WRITES=1``, writes kept and
replayed under the lock) and without it, and on PostgreSQL. What a unit of work does outside the
database (a notice and its e-mail, a cache forgotten) happens exactly when its change commits."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Mailbox, fixture_bytes
from sqlalchemy.orm import Session

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.authority.ownership import DEFAULT_OWNER_ROLE
from engine.base import script_world
from engine.base.errors import Conflict
from engine.catalogue import processes
from engine.core import Engine
from engine.execution.runtime import CaseWork, load_task, lock_case
from engine.routing import drafts, notifications
from engine.service import cases
from engine.store import optimistic
from engine.store.models import HumanTask, Notification


@pytest.fixture(params=["1", "0"], ids=["optimistic", "locked"])
def optimistic_writes(request: pytest.FixtureRequest, backend: str) -> str:
    """Both ways on SQLite; PostgreSQL has no fast path, so it runs once."""
    if backend == "postgresql" and request.param == "0":
        pytest.skip("PostgreSQL has no optimistic writes: the variant is the same as the other")
    return str(request.param)


def _started(engine: Engine) -> tuple[str, str]:
    identity.add_user(engine, "hanna", ["Handläggare"])
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    case = cases.start_case(engine, identity.get_actor(engine, "hanna"), "seq3", {})
    return case["id"], _open_task(engine, case["id"])


def _open_task(engine: Engine, case_id: str) -> str:
    with engine.db.read() as s:
        return str(s.execute(sa.text("SELECT id FROM human_tasks WHERE case_id = :c AND status = 'open'"),
                             {"c": case_id}).scalar_one())


def _stored(engine: Engine, case_id: str, task_id: str) -> tuple[Any, Any, Any]:
    with engine.db.read() as s:
        priority, assignee = s.execute(sa.text("SELECT priority, assignee FROM human_tasks WHERE id = :t"),
                                       {"t": task_id}).one()
        key = s.execute(sa.text("SELECT business_key FROM cases WHERE id = :c"), {"c": case_id}).scalar()
    return priority, assignee, key


def _opened(engine: Engine, s: Session, case_id: str, task_id: str) -> tuple[HumanTask, CaseWork]:
    """The task's row, watched for changes, and a unit of work on its locked case."""
    case = lock_case(s, case_id)
    assert case is not None
    row = load_task(s, task_id)
    assert row is not None
    return row, CaseWork(engine, s, case)


@pytest.mark.parametrize("ending", ["finish", "commit"])
def test_a_row_changed_without_saying_so_is_written(engine: Engine, ending: str) -> None:
    """`row.priority = 99` with no call marking the row: the change is in the database after the
    unit of work, whether it ends with `finish` or only with the commit."""
    case_id, task_id = _started(engine)

    def unit(_data: None) -> None:
        with engine.db.write() as s:
            row, work = _opened(engine, s, case_id, task_id)
            row.priority = 99
            work.case.business_key = "BN 2026/99"
            work.event("case_note", actor="hanna")
            if ending == "finish":
                work.finish("hanna")

    before = dict(optimistic.counts)
    engine.db.optimistic(unit, None)
    assert _stored(engine, case_id, task_id) == (99, None, "BN 2026/99")
    written = optimistic.counts["written"] - before.get("written", 0)
    # The fast path wrote it (nothing made it run again the ordinary way) only where it is on.
    assert written == (1 if engine.db.is_sqlite and engine.settings.optimistic_writes else 0)


def test_a_row_changed_after_finish_is_written_with_the_commit(engine: Engine) -> None:
    """A change after the unit of work was written (`finish`) still reaches the database: the
    rows are written again before the commit, only those changed since."""
    case_id, task_id = _started(engine)
    with engine.db.write() as s:
        row, work = _opened(engine, s, case_id, task_id)
        work.finish("hanna")
        row.assignee = "hanna"
    assert _stored(engine, case_id, task_id)[1] == "hanna"


def test_a_row_of_a_rolled_back_unit_is_not_written(engine: Engine) -> None:
    """A change in a unit of work that fails leaves nothing behind."""
    case_id, task_id = _started(engine)
    with pytest.raises(RuntimeError), engine.db.write() as s:
        row, _work = _opened(engine, s, case_id, task_id)
        row.priority = 99
        raise RuntimeError("stopped")
    assert _stored(engine, case_id, task_id)[0] == 50


# -- effects outside the database happen only after the commit ------------------------------------

CHANGED = fixture_bytes("seq3.bpmn").replace(b"Steg tre", b"Steg tre (ny)")


class _Crash(Exception):
    """The process stopped while writing a notification."""


@contextmanager
def _crash_on_notification(engine: Engine) -> Iterator[None]:
    """The database connection fails when a notification row is written: whatever else the
    transaction wrote is then rolled back with it."""

    def refuse(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO NOTIFICATIONS"):
            raise _Crash()

    sa.event.listen(engine.db.writer, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        sa.event.remove(engine.db.writer, "before_cursor_execute", refuse)


def _notified(engine: Engine, kind: str) -> list[str]:
    with engine.db.read() as s:
        return list(s.execute(sa.select(Notification.recipient).where(Notification.kind == kind)).scalars())


def _drafting(engine: Engine, smtp: Mailbox) -> tuple[Any, Any]:
    """seq3 published; a designer and an owner of the process, both with an e-mail address."""
    engine.settings = dataclasses.replace(engine.settings, smtp_host=smtp.host, smtp_port=smtp.port)
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    identity.add_user(engine, "dora", ["designer"], email="dora@exempelby.se")
    identity.add_user(engine, "olle", [DEFAULT_OWNER_ROLE], email="olle@exempelby.se")
    return identity.get_actor(engine, "dora"), identity.get_actor(engine, "olle")


def test_a_new_draft_and_its_notice_are_written_together(engine: Engine, smtp: Mailbox) -> None:
    """The owner's notice of a new draft exists exactly when the draft does: a crash while it is
    written leaves neither (and no mail), an upload that commits leaves one, and uploading the same
    bytes again still one."""
    dora, _olle = _drafting(engine, smtp)
    with pytest.raises(_Crash), _crash_on_notification(engine):
        drafts.deploy(engine, dora, CHANGED, "seq3.bpmn")
    assert [v["version"] for v in processes.get_process(engine, "seq3")["versions"]] == [1]
    assert _notified(engine, "draft_waiting") == []
    assert notifications.deliver(engine)["sent"] == 0 and smtp.messages == []

    drafts.deploy(engine, dora, CHANGED, "seq3.bpmn")
    drafts.deploy(engine, dora, CHANGED, "seq3.bpmn")  # the same bytes again: the same draft
    assert _notified(engine, "draft_waiting") == ["olle"]
    assert notifications.deliver(engine)["sent"] == 1
    assert notifications.deliver(engine)["sent"] == 0
    assert len(smtp.to("olle@exempelby.se")) == 1 and smtp.to("dora@exempelby.se") == []


def test_a_rejection_and_its_notice_are_written_together(engine: Engine, smtp: Mailbox) -> None:
    """The uploader's notice of a rejection exists exactly when the rejection does."""
    dora, olle = _drafting(engine, smtp)
    drafts.deploy(engine, dora, CHANGED, "seq3.bpmn")
    notifications.deliver(engine)
    smtp.messages.clear()
    with pytest.raises(_Crash), _crash_on_notification(engine):
        drafts.reject(engine, olle, "seq3", 2, "Steg tre saknar roll.")
    assert processes.get_version(engine, "seq3", 2)["status"] == "draft"
    assert _notified(engine, "draft_rejected") == []
    assert notifications.deliver(engine)["sent"] == 0 and smtp.messages == []

    drafts.reject(engine, olle, "seq3", 2, "Steg tre saknar roll.")
    with pytest.raises(Conflict):  # again: it is no draft any more, and nothing more is sent
        drafts.reject(engine, olle, "seq3", 2, "Steg tre saknar roll.")
    assert processes.get_version(engine, "seq3", 2)["status"] == "rejected"
    assert _notified(engine, "draft_rejected") == ["dora"]
    assert notifications.deliver(engine)["sent"] == 1
    assert notifications.deliver(engine)["sent"] == 0
    assert len(smtp.to("dora@exempelby.se")) == 1


def test_roles_are_forgotten_only_after_their_change_commits(engine: Engine) -> None:
    """A request that reads a person's roles while a change of them is being committed must not
    keep the old roles for the cache's lifetime: the cache is forgotten after the commit."""
    identity.add_user(engine, "hanna", ["Handläggare"])
    token = identity.issue_token(engine, "hanna")
    assert "granskare" not in identity.authenticate(engine, token).roles
    in_between: list[Any] = []

    def request_meanwhile(session: Session) -> None:
        if not in_between:  # another request, answered while the change is not yet committed
            in_between.append(identity.authenticate(engine, token))

    sa.event.listen(Session, "before_commit", request_meanwhile)
    try:
        identity.add_user(engine, "hanna", ["granskare"])
    finally:
        sa.event.remove(Session, "before_commit", request_meanwhile)
    assert in_between and "granskare" not in in_between[0].roles
    assert "granskare" in identity.authenticate(engine, token).roles


def test_what_scripts_may_ask_ends_with_the_unit_of_work(engine: Engine) -> None:
    """The scripts of a unit of work ask its case, actor and clock (`engine.base.script_world`);
    once its transaction ends, committed or rolled back, nothing evaluated on the thread is
    answered about them."""
    case_id, _task_id = _started(engine)
    assert script_world.env_for("get_current_user()") is None
    with pytest.raises(RuntimeError), engine.db.write() as s:
        case = lock_case(s, case_id)
        assert case is not None
        work = CaseWork(engine, s, case)
        work.run("hanna", lambda: None)
        assert script_world.env_for("get_current_user()") is not None  # inside the unit: its world
        raise RuntimeError("stopped")
    assert script_world.env_for("get_current_user()") is None
