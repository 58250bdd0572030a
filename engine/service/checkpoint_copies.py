"""Copies of each checkpoint outside the machine: by e-mail and to syslog.

The checkpoint log lives in the data directory, beside the database; someone who controls the
machine could rewrite both (given the signing key). A copy of every log record sent elsewhere as
it is written (to ``RUTIN_AUDIT_MAIL_TO`` through the notification outbox, delivered after commit
like every e-mail, and to the syslog receiver ``RUTIN_AUDIT_SYSLOG``) leaves a trace they do not
control. What is sent is a summary that pins the record: its number, time, type, signing key, the
number of chain heads it seals and the SHA-256 of the log line as written (each line names the
hash of the one before, so one pinned line pins every line before it). The e-mail also carries the
whole line, so the copy itself verifies against the published key.

A copy that cannot be sent is logged and does not undo the checkpoint: the log file is the
record; the copies are witnesses.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import socket
from typing import Any
from urllib.parse import urlsplit

from ..core import Engine
from ..routing import notifications

log = logging.getLogger(__name__)

# How the copies name themselves to syslog (the APP-NAME a receiver filters on).
SYSLOG_TAG = "rutin-audit"


def summary(record: dict[str, Any], line_hash: str) -> dict[str, Any]:
    """What pins a log record: enough to recognise the line, and its hash."""
    return {"n": record.get("n"), "at": record.get("at"), "type": record.get("type"),
            "key_id": record.get("key_id"), "heads": len(record.get("heads") or {}),
            "prev": record.get("prev"), "line_sha256": line_hash}


def syslog_address(url: str) -> tuple[Any, socket.SocketKind]:
    """Where `RUTIN_AUDIT_SYSLOG` points: ``(address, socket type)`` for `SysLogHandler`."""
    parts = urlsplit(url)
    if parts.scheme == "unix" and parts.path:
        return parts.path, socket.SOCK_DGRAM
    if parts.scheme in ("udp", "tcp") and parts.hostname:
        return ((parts.hostname, parts.port or 514),
                socket.SOCK_DGRAM if parts.scheme == "udp" else socket.SOCK_STREAM)
    raise ValueError(f"RUTIN_AUDIT_SYSLOG ska vara udp://värd:port, tcp://värd:port eller unix:/sökväg, inte {url!r}.")


def send(engine: Engine, record: dict[str, Any], line: bytes, line_hash: str) -> None:
    """Send the copies of one log record that the settings ask for (after the line is written)."""
    settings = engine.settings
    if settings.audit_syslog:
        try:
            _to_syslog(settings.audit_syslog, summary(record, line_hash))
        except (OSError, ValueError) as exc:
            log.error("checkpoint %s: the syslog copy was not sent: %s", record.get("n"), exc)
    if settings.audit_mail_to:
        _to_mail(engine, record, line, line_hash)


def _to_syslog(url: str, pinned: dict[str, Any]) -> None:
    address, socktype = syslog_address(url)
    handler = logging.handlers.SysLogHandler(address=address, socktype=socktype,
                                             facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV)
    handler.ident = f"{SYSLOG_TAG}: "
    try:
        handler.emit(logging.LogRecord(SYSLOG_TAG, logging.INFO, __file__, 0, "%s",
                                       (json.dumps(pinned, sort_keys=True),), None))
    finally:
        handler.close()


def _to_mail(engine: Engine, record: dict[str, Any], line: bytes, line_hash: str) -> None:
    pinned = summary(record, line_hash)
    kind = "kontrollpunkt" if record.get("type") == "checkpoint" else "nyckelbyte"
    subject = f"Rutin: {kind} {record.get('n')} ({record.get('at')})"
    body = ("Kopia av en post i Rutins kontrollpunktslogg, för att styrka historiken utanför servern.\n"
            "Spara meddelandet. Raden nedan kan kontrolleras mot den publicerade nyckeln "
            "(GET /api/audit/public-key).\n\n"
            f"Sammanfattning:\n{json.dumps(pinned, ensure_ascii=False, sort_keys=True, indent=2)}\n\n"
            f"Raden i loggen:\n{line.decode('utf-8')}\n")
    addresses = [a.strip() for a in engine.settings.audit_mail_to.split(",") if a.strip()]
    now = engine.clock.now()
    with engine.db.write() as s:
        notifications.queue_mail(s.connection(), now, addresses, kind="audit_checkpoint", subject=subject, body=body,
                                 dedupe=f"audit:{line_hash[:32]}")
