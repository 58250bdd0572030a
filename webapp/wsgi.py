"""WSGI entry point: what `rutin serve`'s web processes load, and any other WSGI server can
(``granian --interface wsgi webapp.wsgi:app``)."""

from __future__ import annotations

from engine.core import Engine

from .app import create_app

engine = Engine()
engine.migrate()
app = create_app(engine)
