"""Copies of each checkpoint outside the machine: e-mailed through the outbox after the line is
written (a real SMTP server on loopback), and sent to a syslog receiver (a real UDP socket on
loopback). Each copy pins the log line by its SHA-256, and the e-mailed line verifies against the
published key."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Mailbox, Person, publish
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from engine.core import Engine
from engine.routing import notifications
from engine.service import audit, checkpoint_copies


@pytest.fixture
def syslog() -> Iterator[socket.socket]:
    """A syslog receiver: a UDP socket on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        yield sock


def _line_hashes(engine: Engine) -> list[str]:
    return [r["_line_hash"] for r in audit.read_log(engine.settings)]


def test_each_checkpoint_is_mailed_after_it_is_written(client: Any, people: dict[str, Person], engine: Engine,
                                                       smtp: Mailbox) -> None:
    engine.settings = dataclasses.replace(engine.settings, smtp_host=smtp.host, smtp_port=smtp.port,
                                          audit_mail_to="arkiv@exempelby.se, revisor@exempelby.se")
    publish(client, people, "review.bpmn")
    sealed = audit.seal(engine, "test")
    assert sealed is not None
    assert smtp.messages == []  # queued in the outbox, sent by the delivery job
    assert notifications.deliver(engine)["sent"] == 2
    [mail] = smtp.to("revisor@exempelby.se")
    assert len(smtp.to("arkiv@exempelby.se")) == 1
    assert mail["Subject"] == f"Rutin: kontrollpunkt {sealed['n']} ({sealed['at']})"
    body = mail.get_content().replace("\r\n", "\n")
    [line_hash] = [h for h, r in zip(_line_hashes(engine), audit.read_log(engine.settings), strict=True)
                   if r["n"] == sealed["n"]]
    assert line_hash in body
    line = body.split("Raden i loggen:\n", 1)[1].strip()
    assert hashlib.sha256(line.encode()).hexdigest() == line_hash  # the very line written
    record = json.loads(line)
    signature = base64.b64decode(record.pop("signature"))
    [key] = [k for k in audit.public_keys(engine.settings) if k["key_id"] == record["key_id"]]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    public.verify(signature, json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    assert notifications.deliver(engine)["sent"] == 0  # once
    # in no one's in-app list
    assert all(n["kind"] != "audit_checkpoint"
               for p in people.values() for n in notifications.list_for(engine, p.actor)["items"])


def test_a_bad_address_is_left_out(client: Any, people: dict[str, Person], engine: Engine, smtp: Mailbox) -> None:
    engine.settings = dataclasses.replace(engine.settings, smtp_host=smtp.host, smtp_port=smtp.port,
                                          audit_mail_to="inte-en-adress, ok@exempelby.se")
    publish(client, people, "review.bpmn")
    assert audit.seal(engine, "test") is not None
    assert notifications.deliver(engine)["sent"] == 1
    assert [m["To"] for m in smtp.messages] == ["ok@exempelby.se"]


def test_each_checkpoint_and_rotation_goes_to_syslog(client: Any, people: dict[str, Person], engine: Engine,
                                                     syslog: socket.socket) -> None:
    host, port = syslog.getsockname()
    engine.settings = dataclasses.replace(engine.settings, audit_syslog=f"udp://{host}:{port}")
    publish(client, people, "review.bpmn")
    sealed = audit.seal(engine, "test")
    assert sealed is not None
    datagram = syslog.recv(65536).decode()
    assert datagram.startswith("<")  # a syslog priority: facility authpriv, severity info
    assert int(datagram[1:datagram.index(">")]) == 10 * 8 + 6
    assert f"{checkpoint_copies.SYSLOG_TAG}: " in datagram
    pinned = json.loads(datagram.split(f"{checkpoint_copies.SYSLOG_TAG}: ", 1)[1].rstrip("\x00"))
    assert pinned["n"] == sealed["n"] and pinned["type"] == "checkpoint" and pinned["heads"] == sealed["sealed"]
    assert pinned["line_sha256"] == _line_hashes(engine)[-1]
    rotated = audit.rotate_key(engine, "admin")
    pinned = json.loads(syslog.recv(65536).decode().split(": ", 1)[1].rstrip("\x00"))
    assert (pinned["n"], pinned["type"], pinned["key_id"]) == (rotated["n"], "key_rotation", rotated["key_id"])


def test_the_syslog_address_is_read_strictly() -> None:
    assert checkpoint_copies.syslog_address("udp://127.0.0.1:5514") == (("127.0.0.1", 5514), socket.SOCK_DGRAM)
    assert checkpoint_copies.syslog_address("tcp://127.0.0.1") == (("127.0.0.1", 514), socket.SOCK_STREAM)
    assert checkpoint_copies.syslog_address("unix:/dev/log") == ("/dev/log", socket.SOCK_DGRAM)
    for bad in ("127.0.0.1:514", "http://x", "udp://"):
        with pytest.raises(ValueError, match="RUTIN_AUDIT_SYSLOG"):
            checkpoint_copies.syslog_address(bad)


def test_an_unreachable_syslog_does_not_undo_the_checkpoint(client: Any, people: dict[str, Person],
                                                           engine: Engine) -> None:
    engine.settings = dataclasses.replace(engine.settings, audit_syslog="tcp://127.0.0.1:1")
    publish(client, people, "review.bpmn")
    sealed = audit.seal(engine, "test")
    assert sealed is not None and audit.read_log(engine.settings)[-1]["n"] == sealed["n"]
