"""The security headers every response carries, set by one ``after_request`` hook.

- ``X-Content-Type-Options: nosniff``: a browser takes each response for the type it is sent as,
  so nothing (an uploaded diagram, a JSON answer quoting an upload) is sniffed into a page.
- ``Referrer-Policy: same-origin``: addresses (with case ids and query strings) do not leave
  the site; the error pages' "Tillbaka" link still reads the referrer within it.
- ``X-Frame-Options: DENY`` beside ``frame-ancestors 'none'``: no page is framed (clickjacking
  on "Godkänn och publicera"), for browsers that predate ``frame-ancestors`` too.
- ``Content-Security-Policy``: on a page (``text/html``), everything only from Rutin's own
  files: no inline script, no event-handler attributes, no ``eval``, no inline style either
  (bpmn-js sets its styles through the DOM, which the policy allows; htmx is told not to inject
  its indicator style: ``base.html``); no plugins, no ``<base>``, forms post only to Rutin (and,
  where sign-in goes through an OpenID Connect provider, to the provider's origin: signing out
  posts to Rutin, which redirects the browser to the provider's sign-out, and a form's redirects
  are held to ``form-action`` too), and nothing may frame it. On every other response nothing is
  allowed to load or run at all
  (``default-src 'none'`` and ``sandbox``: were it ever opened as a document, it would be one
  without script, in an origin of its own). A response that set its own policy keeps it (a
  download: `webapp.downloads`).

Written here rather than with flask-talisman: Talisman's defaults are built for a public HTTPS
site (it redirects to https, sends HSTS and marks the session cookie Secure), all of which would
have to be switched off for Rutin's plain-HTTP service on a loopback address behind the
municipality's proxy; a stricter policy for one view needs Talisman's instance in that view's
blueprint; and with no inline script there are no nonces to generate, so what is left is a few
fixed strings set on each response, which this module does in a dozen lines that can be read at
a glance.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app

PAGE_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# Everything that is not a page: nothing loads, nothing runs, and as a document it is sandboxed.
NON_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def secure(response: Response) -> Response:
    """Add the security headers to a response (keeping a Content-Security-Policy it already has)."""
    for name, value in HEADERS.items():
        response.headers[name] = value
    if "Content-Security-Policy" not in response.headers:
        page = response.mimetype == "text/html"
        page_policy = current_app.config.get("RUTIN_PAGE_POLICY", PAGE_POLICY)
        response.headers["Content-Security-Policy"] = page_policy if page else NON_PAGE_POLICY
    return response


def page_policy(form_origin: str | None) -> str:
    """The pages' policy, letting forms lead to `form_origin` too (the sign-in provider's)."""
    if not form_origin:
        return PAGE_POLICY
    return PAGE_POLICY.replace("form-action 'self'", f"form-action 'self' {form_origin}")


def install(app: Flask, *, provider: str = "") -> None:
    """Set the security headers on every response the app sends (pages, API, errors, static files);
    `provider` is the OpenID Connect issuer, if sign-in goes through one."""
    parts = urlsplit(provider)
    app.config["RUTIN_PAGE_POLICY"] = page_policy(f"{parts.scheme}://{parts.netloc}" if parts.netloc else None)
    app.after_request(secure)
