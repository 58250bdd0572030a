"""Pages for people: sign in, the inbox, a task, a case with its diagram, processes.

Server-rendered (Jinja2), in Swedish, on the same engine functions as the API. A signed session
cookie carries who is signed in (checked against the database on each request); every form POST
carries a per-session CSRF token. Front-end libraries (bpmn-js, htmx) come from npm's
``node_modules`` and are served from an allow-list, never copied into the repository.

One blueprint per area (sign-in, tasks, cases, deviations, processes, reports, notifications, accounts), nested in
the ``pages`` blueprint of `webapp.pages.common`, which holds what they share: the signed-in
check, the CSRF check, the error pages and the template filters. An endpoint is named
``pages.<area>.<view>`` (``url_for("pages.tasks.task", task_id=...)``).

Every error on these pages renders ``error.html`` (or the page itself, with the problem shown)
with the problem's Swedish detail; no stack trace reaches a person.
"""

from __future__ import annotations

from . import accounts, cases, deviations, form_fields, notifications, processes, reports, signin, tasks, unit_overview
from .common import bp, http_error_page

for _area in (signin, tasks, cases, deviations, processes, reports, notifications, accounts, unit_overview):
    bp.register_blueprint(_area.bp)

__all__ = ["bp", "form_fields", "http_error_page"]
