"""E-mail delivery is its own job: a silent mail server never holds up the timers."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import Mailbox, fixture_bytes

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import notifications
from engine.service import cases
from engine.store.models import Notification


class SilentServer:
    """A loopback server that accepts connections and never says a word (not even a greeting)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        for c in self.accepted:
            c.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def _queue(engine: Engine, n: int) -> None:
    identity.add_user(engine, "mottagare", [], email="mottagare@exempelby.se")
    with engine.db.write() as s:
        for i in range(n):
            notifications.notify(s.connection(), engine.clock.now(), ["mottagare"], kind="test", subject=f"Nr {i}",
                                 body="Hej", dedupe=f"test:{i}")


def test_a_silent_mail_server_does_not_hold_up_the_tick(engine: Engine, clock: ManualClock,
                                                        silent: SilentServer) -> None:
    engine.settings = dataclasses.replace(engine.settings, smtp_host="127.0.0.1", smtp_port=silent.port)
    _queue(engine, 3)
    processes.deploy(engine, SYSTEM, fixture_bytes("timer_direct.bpmn"))
    case = cases.start_case(engine, SYSTEM, "vanta")
    clock.advance(timedelta(hours=1, minutes=1))

    outcome: dict[str, Any] = {}
    sending = threading.Thread(target=lambda: outcome.update(notifications.deliver(engine, timeout=2.0)))
    sending.start()
    try:
        while not silent.accepted:  # delivery is connected and waiting for a greeting that never comes
            assert sending.is_alive()
            sending.join(0.01)
        result = engine.scheduler.tick()
        assert result.fired == 1 and sending.is_alive()  # the timer fired while delivery hung
        assert [t["name"] for t in cases.get_case(engine, SYSTEM, case["id"])["open_tasks"]] == ["Följ upp"]
    finally:
        sending.join(10)
    assert outcome == {"sent": 0, "retry": 1, "failed": 0}  # the first failure ended the round
    assert len(silent.accepted) == 1
    with engine.db.read() as s:
        rows = s.execute(sa.select(Notification).order_by(Notification.id)).scalars().all()
    assert [(n.email_status, n.email_attempts) for n in rows] == [("pending", 0)] * 3
    # the server is rested: the next rounds do not even connect, until the back-off has passed
    assert notifications.deliver(engine, timeout=2.0) == {"sent": 0, "retry": 0, "failed": 0}
    assert len(silent.accepted) == 1
    clock.advance(notifications.SERVER_BACKOFF + timedelta(seconds=1))
    sending = threading.Thread(target=lambda: notifications.deliver(engine, timeout=0.5))
    sending.start()
    sending.join(10)
    assert len(silent.accepted) == 2


def test_one_connection_sends_the_whole_round(engine: Engine, smtp: Mailbox) -> None:
    engine.settings = dataclasses.replace(engine.settings, smtp_host=smtp.host, smtp_port=smtp.port)
    _queue(engine, 3)
    assert notifications.deliver(engine) == {"sent": 3, "retry": 0, "failed": 0}
    assert sorted(m["Subject"] for m in smtp.to("mottagare@exempelby.se")) == ["Nr 0", "Nr 1", "Nr 2"]
    assert notifications.deliver(engine) == {"sent": 0, "retry": 0, "failed": 0}  # nothing twice


def test_the_tick_sends_no_mail(engine: Engine, smtp: Mailbox) -> None:
    engine.settings = dataclasses.replace(engine.settings, smtp_host=smtp.host, smtp_port=smtp.port)
    _queue(engine, 1)
    engine.scheduler.tick()
    assert smtp.messages == []
    assert notifications.deliver(engine)["sent"] == 1 and len(smtp.messages) == 1
