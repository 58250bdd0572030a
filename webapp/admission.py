"""The app as `rutin serve`'s web processes run it: on SQLite, one request at a time in Python,
except that a request waiting for a slow script steps aside.

A web process on SQLite ran one Python thread: requests ran one after another and no two
threads fought over the GIL (threads running requests at once did a fifth less; `bench/README.md`).
But a request whose script or expression runs to its budget (`RUTIN_SCRIPT_TIMEOUT_S`) waits that
long for its evaluator process (`bpmn.evaluator`), and with one thread every other request to that
web process waited as long behind it. So the process now has several threads (`rutin serve
--threads`), and this gate admits one request at a time into the app, as the single thread did. A
request that has waited for its evaluator longer than a moment (the evaluator's long-wait hook)
leaves the gate and never waits for it again: the next request runs meanwhile, and the rest of the
slow one runs beside it. Not waiting for the gate again is what keeps it from waiting for a request
that waits for a lock the slow one holds. What the extra threads still cost, and what they buy, is
measured in `bench/README.md` ("Scripts and expressions under a budget").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from engine.base import scripting
from engine.core import Engine

from .app import create_app

_local = threading.local()


class Admission:
    """WSGI middleware letting one request at a time into the wrapped app."""

    def __init__(self, app: Callable[..., Iterable[bytes]]):
        self.app = app
        # A plain lock, not a semaphore: handing it to a waiting thread is one futex wake, where
        # a semaphore's condition variable takes several trips through the GIL.
        self.gate = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.gate.acquire()
        _local.gate = self.gate
        try:
            return self.app(environ, start_response)
        finally:
            step_aside()


def step_aside() -> None:
    """Let the next request in, if this thread's request is inside the gate (else nothing)."""
    gate = getattr(_local, "gate", None)
    if gate is not None:
        _local.gate = None
        gate.release()


def create_served_app(engine: Engine | None = None) -> Flask:
    """The app for `rutin serve`'s web processes: `create_app`, behind the gate on SQLite, with
    the evaluator processes started before the first request needs them."""
    app = create_app(engine)
    engine = app.extensions["rutin"]
    if engine.db.is_sqlite:
        app.wsgi_app = Admission(app.wsgi_app)  # type: ignore[method-assign]
        scripting.on_long_wait(step_aside)
    scripting.prestart()
    return app
