"""The Flask app: the JSON API under /api, pages for people, and the `rutin` CLI.

Handlers are thin: they parse the request, call one engine function and render its result.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
