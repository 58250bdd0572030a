"""Signing in through the pages' form, for the sign-in throttling tests."""

from __future__ import annotations

import re
from typing import Any

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def login_csrf(client: Any) -> str:
    """The CSRF token of the client's session, from the sign-in page."""
    return CSRF.search(client.get("/login").get_data(as_text=True)).group(1)  # type: ignore[union-attr]


def attempt(client: Any, name: str, password: str, *, address: str = "192.0.2.10", **kwargs: Any) -> Any:
    """One sign-in attempt from `address` (the connection's address, as a server would see it)."""
    environ = {"REMOTE_ADDR": address, **kwargs.pop("environ_base", {})}
    token = login_csrf(client)
    return client.post("/login", data={"csrf": token, "name": name, "password": password},
                       environ_base=environ, **kwargs)


def signed_in_as(client: Any) -> str | None:
    """Who the client's session says is signed in (None if no one)."""
    with client.session_transaction() as session:
        return session.get("user")


def sign_out(client: Any) -> None:
    """Forget the client's page session (the browser's sign-in cookie stays, as it does on signing out)."""
    with client.session_transaction() as session:
        session.clear()
