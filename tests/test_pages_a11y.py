"""Accessibility and reflow of the pages in a real browser: axe-core over every page each main role
reaches (handläggare, chef, processägare, designer, administratör, revisor), at 1366 px and at
390 px, with no serious or critical violation; and no sideways scrolling of the page at 390 and 320 px.

The world is the demo organisation with the shipped library and cases in several states.
"""

from __future__ import annotations

import re
from typing import Any

from conftest import PASSWORD, ROOT, Web
from page_checks import audit

from engine.authority import identity, org
from engine.service import cases, demo

WORKFLOWS = ROOT / "workflows"
REFLOW = (390, 320)


def _world(web: Web) -> dict[str, Any]:
    """The demo organisation and library, a case or two, and the passwords of those signing in."""
    engine = web.engine
    demo.deploy_library(engine, WORKFLOWS)
    org.import_yaml(engine, (WORKFLOWS / "demo-org.yaml").read_text(encoding="utf-8"))
    demo.set_process_units(engine, WORKFLOWS / "roles.yaml")
    started = cases.start_case(engine, identity.get_actor(engine, "rebecka"), "begaran_allman_handling", {},
                               "KS 2026-101")
    bygg = cases.start_case(engine, identity.get_actor(engine, "ada"), "bygglov", {"inkom": "2026-03-02"},
                            "BN 2026-77")
    for name in ("rebecka", "bert", "petra", "designer", "admin", "revisor"):
        identity.set_password(engine, name, PASSWORD)
    return {"allman": started, "bygglov": bygg}


def _visit(web: Web, who: str, paths: list[str], problems: list[str]) -> None:
    from playwright.sync_api import expect

    page = web.sign_in(who, start=paths[0])
    for path in paths:
        page.goto(path)
        expect(page.locator("main h1").first).to_be_visible()
        audit(page, f"{who} {path}", problems, reflow=REFLOW)
        # the diagram, where drawn, in its drawn state
        if page.locator("#diagram").count():
            expect(page.locator("#diagram")).to_have_attribute("data-state", re.compile("ready|failed|empty"))
    page.get_by_role("button", name="Logga ut").click()


def test_every_page_of_every_main_role_passes_axe_and_reflows(web: Web) -> None:
    world = _world(web)
    problems: list[str] = []
    page = web.page
    page.goto("/login")
    audit(page, "login", problems, reflow=REFLOW)
    page.goto("/finns-inte")
    audit(page, "404", problems, reflow=REFLOW)

    allman = world["allman"]
    bygg = world["bygglov"]
    _visit(web, "rebecka", ["/", "/?visa=all", f"/tasks/{allman['open_tasks'][0]['id']}",
                            f"/cases/{allman['id']}", "/cases", "/notifications", "/tokens"], problems)
    _visit(web, "bert", ["/", "/cases", f"/cases/{bygg['id']}", "/matetal"], problems)
    _visit(web, "petra", ["/processes", "/processes/avvikelsehantering", "/matetal"], problems)
    _visit(web, "designer", ["/processes", "/processes/bygglov"], problems)
    _visit(web, "admin", ["/processes", "/delegationsbeslut", "/tokens", f"/cases/{allman['id']}"], problems)
    _visit(web, "revisor", ["/granskning", "/sakerhetslogg", "/cases"], problems)
    assert problems == [], "\n".join(problems)
    assert web.errors == []


def test_the_checks_see_a_violation_and_a_page_wider_than_the_phone(web: Web) -> None:
    """The two checks above can fail: an image without a text alternative is a critical axe
    violation, and an element wider than the viewport makes the page scroll sideways."""
    from page_checks import axe_violations, overflow

    page = web.page
    page.goto("/login")
    page.set_viewport_size({"width": 320, "height": 800})
    assert axe_violations(page) == [] and overflow(page) == 0
    page.evaluate("""() => { const i = document.createElement('img'); i.src = '/static/rutin.css';
                             document.querySelector('main').append(i);
                             const d = document.createElement('div'); d.style.width = '900px';
                             d.textContent = 'bred'; document.querySelector('main').append(d); }""")
    assert any("image-alt" in v for v in axe_violations(page))
    assert overflow(page) > 500
