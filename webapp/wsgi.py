"""WSGI entry point for gunicorn and other servers: ``gunicorn 'webapp.wsgi:app'``."""

from __future__ import annotations

from engine.core import Engine

from .app import create_app

engine = Engine()
engine.migrate()
app = create_app(engine)
