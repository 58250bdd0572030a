"""Notifications: an in-app list per person, and an e-mail outbox delivered after commit.

`notify` writes rows in the caller's transaction (so a notification exists exactly when the event
it reports does); a dedupe key makes writing the same notification twice a no-op. `deliver`
sends due e-mail over SMTP (``RUTIN_SMTP_*``): each message is claimed (``sending``) and that
claim committed before the message is handed to the server, so a crash can lose a message but
never send one twice. A message the server refuses for good (a 5xx answer: no such mailbox,
sender or content refused) is given up at once; one it refuses for now (4xx) is retried with
back-off, each refusal spending one of its attempts, then given up.

Delivery runs as its own scheduler job, never inside the timer tick, so a slow or silent mail
server cannot hold up a deadline. A round opens one connection with short timeouts and stops at
the first connection failure: the server is then left alone for a while (doubling, up to half an
hour), and the message being sent waits for it without losing one of its attempts.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, cast

import sqlalchemy as sa

from ..authority.identity import Actor, require_writer
from ..base.errors import NotFound
from ..core import Engine
from ..store.models import Notification, User

log = logging.getLogger(__name__)

_n = cast(sa.Table, Notification.__table__)
_users = cast(sa.Table, User.__table__)
MAX_ATTEMPTS = 6
STUCK_AFTER = timedelta(minutes=10)
# Seconds to wait for the mail server to connect or answer; a silent one is given up on quickly.
SMTP_TIMEOUT_S = 5.0
SERVER_BACKOFF = timedelta(minutes=2)
SERVER_BACKOFF_MAX = timedelta(minutes=30)


def notify(conn: sa.Connection, now: datetime, recipients: list[str], *, kind: str, subject: str, body: str,
           dedupe: str, case_id: str | None = None, task_id: str | None = None) -> int:
    """Queue one notification per recipient (in-app, plus e-mail where the person has an address)."""
    if not recipients:
        return 0
    emails = dict(conn.execute(sa.select(_users.c.name, _users.c.email).where(_users.c.name.in_(recipients))).all())
    keys = {f"{dedupe}:{r}" for r in recipients}
    existing = set(conn.execute(sa.select(_n.c.dedupe_key).where(_n.c.dedupe_key.in_(keys))).scalars())
    rows = []
    for r in dict.fromkeys(recipients):
        key = f"{dedupe}:{r}"
        if key in existing:
            continue
        email = emails.get(r)
        rows.append({
            "dedupe_key": key, "recipient": r, "kind": kind, "subject": subject, "body": body, "case_id": case_id,
            "task_id": task_id, "created_at": now, "email": email, "email_status": "pending" if email else "none",
            "email_attempts": 0, "next_attempt_at": now if email else None,
        })
    if rows:
        conn.execute(sa.insert(_n), rows)
    return len(rows)


def queue_mail(conn: sa.Connection, now: datetime, addresses: list[str], *, kind: str, subject: str, body: str,
               dedupe: str) -> int:
    """Queue e-mail to addresses that are no person's (an archive mailbox, a copy for auditors):
    delivered by the same outbox after commit, shown in no one's in-app list. An address that is
    not one (no "@", or a line break that would forge headers) is left out and logged."""
    rows = []
    for address in dict.fromkeys(addresses):
        if "@" not in address or any(c in address for c in "\r\n,;<> ") or len(address) > 254:
            log.error("not an e-mail address, no copy sent to it: %r", address[:80])
            continue
        key = f"{dedupe}:{address}"[:200]
        if conn.execute(sa.select(_n.c.id).where(_n.c.dedupe_key == key)).first() is not None:
            continue
        rows.append({
            "dedupe_key": key, "recipient": f"mailto:{address}"[:120], "kind": kind, "subject": subject[:300],
            "body": body, "case_id": None, "task_id": None, "created_at": now, "email": address,
            "email_status": "pending", "email_attempts": 0, "next_attempt_at": now,
        })
    if rows:
        conn.execute(sa.insert(_n), rows)
    return len(rows)


def _json(n: Any) -> dict[str, Any]:
    return {
        "id": n.id, "kind": n.kind, "subject": n.subject, "body": n.body, "case_id": n.case_id, "task_id": n.task_id,
        "created": n.created_at.isoformat(), "read": n.read_at.isoformat() if n.read_at else None,
        "email": n.email_status,
    }


def list_for(engine: Engine, actor: Actor, *, unread: bool = False, limit: int = 50) -> dict[str, Any]:
    """A person's notifications, newest first, with the unread count."""
    with engine.db.read() as s:
        q = sa.select(Notification).where(Notification.recipient == actor.name)
        if unread:
            q = q.where(Notification.read_at.is_(None))
        items = s.execute(q.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)).scalars()
        count = s.execute(sa.select(sa.func.count()).select_from(Notification).where(
            Notification.recipient == actor.name, Notification.read_at.is_(None))).scalar_one()
        return {"items": [_json(n) for n in items], "unread": count}


def mark_read(engine: Engine, actor: Actor, notification_id: int) -> dict[str, Any]:
    """Mark one of one's notifications read."""
    require_writer(actor)
    with engine.db.write() as s:
        n = s.get(Notification, notification_id)
        if n is None or n.recipient != actor.name:
            raise NotFound("Notisen finns inte.")
        n.read_at = n.read_at or engine.clock.now()
        return _json(n)


def _claim(engine: Engine, now: datetime) -> Notification | None:
    with engine.db.write() as s:
        conn = s.connection()
        row = conn.execute(
            sa.select(_n).where(_n.c.email_status == "pending", _n.c.next_attempt_at <= now)
            .order_by(_n.c.next_attempt_at, _n.c.id).limit(1).with_for_update(skip_locked=True)
        ).mappings().first()
        if row is None:
            return None
        conn.execute(sa.update(_n).where(_n.c.id == row["id"]).values(
            email_status="sending", email_attempts=row["email_attempts"] + 1, next_attempt_at=now))
        return Notification(**{**row, "email_attempts": row["email_attempts"] + 1})


@dataclass
class _ServerState:
    down_until: datetime | None = None
    backoff: timedelta = SERVER_BACKOFF


# Per engine (weakly: a closed engine's state goes with it, never to a new engine at its address).
_servers: weakref.WeakKeyDictionary[Engine, _ServerState] = weakref.WeakKeyDictionary()
_servers_lock = threading.Lock()


def _server(engine: Engine) -> _ServerState:
    with _servers_lock:
        state = _servers.get(engine)
        if state is None:
            state = _servers[engine] = _ServerState()
        return state


# What says the server (or the way to it) is down, rather than that it refuses one message.
_CONNECTION_ERRORS = (OSError, smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPHeloError)
# 421: the server is closing the connection (smtplib has closed it): not the message's fault.
_CLOSING = 421


def _refusal(exc: OSError) -> int | None:
    """The SMTP code with which the server refused this one message, or None when the error says
    the server, or the way to it, is down.

    smtplib's errors are all OSErrors, so they must be told apart before the connection branch:
    a refused recipient or sender, or refused data, concerns this message only (smtplib has reset
    the session, so the connection serves the next message).
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return None if not codes or _CLOSING in codes else min(codes)
    if isinstance(exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, smtplib.SMTPHeloError)):
        return None
    if isinstance(exc, smtplib.SMTPResponseException):
        return None if exc.smtp_code == _CLOSING else exc.smtp_code
    if isinstance(exc, smtplib.SMTPException):
        return 0  # refused without a code (an address the server cannot take, say): the message's matter
    return None


def deliver(engine: Engine, *, limit: int = 100, timeout: float | None = None) -> dict[str, int]:
    """Send due e-mail from the outbox; return counts of sent, retried and failed messages.

    One connection serves the round. A connection failure ends the round and rests the server
    (see the module's docstring); a message the server refuses is failed (5xx) or retried later
    (4xx) on its own, and the round goes on with the next.
    """
    settings = engine.settings
    counts = {"sent": 0, "retry": 0, "failed": 0}
    if not settings.smtp_host:
        return counts
    now = engine.clock.now()
    server = _server(engine)
    if server.down_until is not None and now < server.down_until:
        return counts
    with engine.db.write() as s:
        # A claim older than this was made by a process that died mid-send: we cannot know whether
        # the server got the message, so it is marked uncertain rather than sent again.
        s.execute(sa.update(Notification).where(Notification.email_status == "sending",
                                                Notification.next_attempt_at < now - STUCK_AFTER)
                  .values(email_status="uncertain", last_error="avbröts under sändning"))
    smtp: smtplib.SMTP | None = None
    try:
        for _ in range(limit):
            n = _claim(engine, now)
            if n is None:
                break
            try:
                if smtp is None:
                    try:
                        smtp = _connect(engine, SMTP_TIMEOUT_S if timeout is None else timeout)
                    except smtplib.SMTPException as exc:  # refused at the door (login, TLS): the server's matter
                        raise OSError(str(exc)) from exc
                smtp.send_message(_message(engine, n))
            except _CONNECTION_ERRORS as exc:
                code = _refusal(exc)
                if code is not None:
                    # A permanent refusal (5xx: no such mailbox, say) is given up at once; asking
                    # again gets the same answer. A temporary one (4xx) spends one of its attempts.
                    failed = 500 <= code < 600 or n.email_attempts >= MAX_ATTEMPTS
                    with engine.db.write() as s:
                        s.execute(sa.update(Notification).where(Notification.id == n.id).values(
                            email_status="failed" if failed else "pending", last_error=str(exc)[:500],
                            next_attempt_at=now + timedelta(minutes=2 ** n.email_attempts)))
                    counts["failed" if failed else "retry"] += 1
                    server.down_until, server.backoff = None, SERVER_BACKOFF  # it answered: it is up
                    log.warning("e-mail %s to %s refused (attempt %s): %s", n.id, n.email, n.email_attempts, exc)
                    continue
                wait = server.backoff
                server.down_until, server.backoff = now + wait, min(wait * 2, SERVER_BACKOFF_MAX)
                with engine.db.write() as s:
                    s.execute(sa.update(Notification).where(Notification.id == n.id).values(
                        email_status="pending", email_attempts=n.email_attempts - 1, last_error=str(exc)[:500],
                        next_attempt_at=now + wait))
                counts["retry"] += 1
                log.warning("mail server %s:%s unreachable, resting it %s: %s", settings.smtp_host,
                            settings.smtp_port, wait, exc)
                if smtp is not None:
                    smtp.close()
                smtp = None
                break
            with engine.db.write() as s:
                s.execute(sa.update(Notification).where(Notification.id == n.id).values(
                    email_status="sent", sent_at=engine.clock.now(), last_error=None))
            counts["sent"] += 1
            server.down_until, server.backoff = None, SERVER_BACKOFF
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    return counts


def _connect(engine: Engine, timeout: float) -> smtplib.SMTP:
    settings = engine.settings
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    if settings.smtp_user:
        smtp.starttls()
        smtp.login(settings.smtp_user, settings.smtp_password)
    return smtp


def _message(engine: Engine, n: Notification) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = engine.settings.smtp_sender
    msg["To"] = n.email
    msg["Subject"] = n.subject
    msg["Message-ID"] = make_msgid(idstring=f"rutin-{n.id}", domain="rutin.local")
    msg.set_content(n.body)
    return msg
