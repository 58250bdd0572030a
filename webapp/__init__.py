"""The Flask app: the JSON API under /api, pages for people, and the `rutin` CLI.

Handlers are thin: they parse the request, call one engine function and render its result.

Imports inside functions: `create_app` is imported on first use (PEP 562), not with the
package: the `rutin` CLI lives in this package too, and its ``--help`` should not wait for
Flask, SQLAlchemy and the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
