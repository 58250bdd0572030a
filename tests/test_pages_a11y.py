"""Accessibility and reflow of the pages in a real browser: axe-core over every page each main role
reaches (handläggare, chef, processägare, designer, administratör, revisor), at 1366 px and at
390 px, with no serious or critical violation; and no sideways scrolling of the page at 390 and 320 px.

The world is the demo as `rutin demo` makes it: the organisation, the shipped library and the
seeded cases in their several states.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from conftest import ROOT, Web
from page_checks import audit

from engine.authority import identity
from engine.catalogue import processes
from engine.service import cases, demo, demo_cases
from engine.store.models import Case, HumanTask

WORKFLOWS = ROOT / "workflows"
REFLOW = (390, 320)


def _world(web: Web) -> dict[str, Any]:
    """The demo: its organisation, library and seeded cases (finished, decided, escalated, in
    progress, new); the ids of a few of each for the walk."""
    engine = web.engine
    demo.load(engine, WORKFLOWS)
    demo_cases.seed(engine, WORKFLOWS)
    # a draft waiting for approval, uploaded by the designer: the drafts list and the draft's page
    draft = processes.deploy(engine, identity.get_actor(engine, "designer"),
                             (WORKFLOWS / "bygglov.bpmn").read_bytes().replace(b"Beslut om lov", b"Beslut om bygglov"),
                             "bygglov.bpmn")[0]
    assert draft.status == "draft"
    now = engine.clock.now()
    with engine.db.read() as s:
        def case(key: str, status: str) -> str:
            return str(s.execute(sa.select(Case.id).where(Case.process_key == key, Case.status == status)
                                 .order_by(Case.created_at)).scalars().first())

        late = s.execute(sa.select(HumanTask.id).where(HumanTask.status == "open", HumanTask.due_at < now,
                                                      HumanTask.process_key == "begaran_allman_handling")
                         .order_by(HumanTask.created_at)).scalars().first()
        registrar = s.execute(sa.select(HumanTask.id).where(HumanTask.status == "open", HumanTask.role == "Registrator",
                                                           HumanTask.process_key == "begaran_allman_handling")
                              .order_by(HumanTask.created_at)).scalars().first()
        return {"registrar_task": registrar, "allman_done": case("begaran_allman_handling", "completed"),
                "allman_open": case("begaran_allman_handling", "active"),
                "bygglov_open": case("bygglov", "active"), "bygglov_done": case("bygglov", "completed"),
                "late_task": late, "draft": f"/processes/bygglov/versions/{draft.version}"}


def _visit(web: Web, who: str, paths: list[str], problems: list[str]) -> None:
    from playwright.sync_api import expect

    page = web.sign_in(who, demo.DEMO_PASSWORD, start=paths[0])
    for path in paths:
        response = page.goto(path)
        assert response is not None and response.status == 200, (who, path)  # the page itself, not a refusal
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

    assert world["late_task"] and world["registrar_task"], world
    _visit(web, "rebecka", ["/", "/?visa=all", f"/tasks/{world['registrar_task']}",
                            f"/cases/{world['allman_open']}", f"/cases/{world['allman_done']}", "/cases",
                            "/notifications", "/tokens"], problems)
    # the kansli's manager, to whom the late step of a request for public documents has escalated
    _visit(web, "karin", ["/", "/?visa=overdue", f"/tasks/{world['late_task']}", "/enhet"], problems)
    _visit(web, "bert", ["/", "/cases", f"/cases/{world['bygglov_open']}", f"/cases/{world['bygglov_done']}",
                         "/?visa=unit"], problems)
    _visit(web, "petra", ["/processes", "/processes/avvikelsehantering", "/matetal"], problems)
    _visit(web, "designer", ["/processes", "/processes/bygglov"], problems)
    _visit(web, "designer", ["/processes/drafts", world["draft"]], problems)
    _visit(web, "admin", ["/processes", "/processes/drafts", world["draft"], "/delegationsbeslut", "/tokens", f"/cases/{world['allman_done']}"], problems)
    _visit(web, "revisor", ["/granskning", "/sakerhetslogg", "/cases", "/delegationsbeslut",
                            f"/cases/{world['bygglov_done']}", f"/cases/{world['bygglov_done']}/akt",
                            "/processes/bygglov/versions/1"], problems)
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


def test_the_skip_link_is_the_first_stop_and_every_focus_is_visible(web: Web) -> None:
    from playwright.sync_api import expect

    web.user("hanna", ["Handläggare"])
    page = web.sign_in("hanna")
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    expect(skip).to_have_text("Hoppa till innehållet")
    expect(skip).to_be_in_viewport()
    ring = skip.evaluate("e => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth, s.boxShadow]; }")
    assert ring[0] == "solid" and float(ring[1].removesuffix("px")) >= 3 and ring[2] != "none", ring
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_id("innehall")
    page.keyboard.press("Tab")  # onwards from the content, not from the menu
    assert page.locator(":focus").evaluate("e => e.closest('main') !== null")
    # the menu's links on the dark header: their own ring too
    page.locator("header.top nav a").first.focus()
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")
    assert page.locator(":focus").evaluate("e => getComputedStyle(e).outlineStyle") == "solid"


def test_a_form_in_error_has_a_focused_summary_linking_to_each_field(web: Web) -> None:
    from playwright.sync_api import expect

    from engine.authority.identity import SYSTEM
    from engine.catalogue import processes

    processes.deploy(web.engine, SYSTEM, (WORKFLOWS / "avvikelsehantering.bpmn").read_bytes(), "avvikelsehantering.bpmn")
    web.user("maja", ["Medarbetare"])
    started = cases.start_case(web.engine, SYSTEM, "avvikelsehantering", {}, "AVV-2026-17")
    task_id = started["open_tasks"][0]["id"]
    page = web.sign_in("maja", start=f"/tasks/{task_id}")
    # the title names the case, on the task's page and the case's
    expect(page).to_have_title(re.compile(r"^Rapportera avvikelse – Ärende AVV-2026-17 – Rutin$"))
    # required fields: in markup and in words
    what = page.locator("#f-beskrivning")
    expect(what).to_have_attribute("required", "")
    expect(page.locator('label[for="f-beskrivning"]')).to_contain_text("(obligatoriskt)")
    expect(page.locator("#f-plats")).not_to_have_attribute("required", "")
    expect(page.locator('label[for="f-plats"]')).not_to_contain_text("obligatoriskt")
    expect(page.locator(".error-summary")).to_have_count(0)
    expect(what).not_to_have_attribute("aria-invalid", "true")

    page.get_by_role("button", name="Slutför").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("heading")).to_have_text("Det finns fel i formuläret")
    expect(summary.locator("#task-error")).to_have_text("Formuläret är inte korrekt ifyllt.")
    expect(summary.get_by_role("link")).to_have_count(3)  # what, when discovered (the date, the time)
    expect(what).to_have_attribute("aria-invalid", "true")
    expect(what).to_have_attribute("aria-describedby", "f-beskrivning-error")
    expect(page.locator("#f-beskrivning-error")).to_have_text("Vad har hänt? måste fyllas i")
    expect(page.locator("#f-plats")).not_to_have_attribute("aria-invalid", "true")
    problems: list[str] = []
    audit(page, "the task page with errors", problems, reflow=REFLOW)
    assert problems == [], "\n".join(problems)

    summary.get_by_role("link", name="Upptäckt datum måste fyllas i").click()
    expect(page.locator("#f-upptackt_datum")).to_be_focused()
    summary.get_by_role("link", name="Vad har hänt? måste fyllas i").click()
    expect(what).to_be_focused()

    page.goto(f"/cases/{started['id']}")
    expect(page).to_have_title(re.compile(r"^Ärende AVV-2026-17 – Rutin$"))
    assert web.errors == []


def test_the_sort_control_does_not_navigate_on_arrow_keys(web: Web) -> None:
    """The inbox sorts by its column headers, which are links: arrow keys on one leave the page
    where it is; Enter follows it, and the column then says how it is sorted (aria-sort)."""
    from conftest import fixture_bytes
    from playwright.sync_api import expect

    from engine.authority.identity import SYSTEM
    from engine.catalogue import processes

    processes.deploy(web.engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    for n in (1, 2):
        cases.start_case(web.engine, SYSTEM, "seq3", {}, f"SEQ-{n}")
    web.user("hanna", [])
    page = web.sign_in("hanna")
    page.goto("/?visa=unclaimed")
    header = page.locator("a.sort[data-sort=priority]")
    header.focus()
    before = page.url
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    expect(header).to_be_focused()  # still here: the page did not go anywhere
    assert page.url == before
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("sortera=priority"))
    expect(page.locator("th[aria-sort]")).to_contain_text("Prioritet")
    assert web.errors == []


def test_forms_in_error_and_the_remembered_view_pass_axe(web: Web) -> None:
    """The error summary on forms other than a task's (a start form, the measures' period), and
    the inbox opened on a remembered view: focused, linked, and clean for axe at both widths."""
    from playwright.sync_api import expect
    from test_pages_errors import ANSOKAN

    from engine.authority.identity import SYSTEM

    processes.deploy(web.engine, SYSTEM, ANSOKAN, "ansokan.bpmn")
    web.user("admin", ["admin"])
    problems: list[str] = []
    page = web.sign_in("admin", start="/processes/ansokan")
    page.get_by_label("Belopp").fill("5000")
    page.get_by_role("button", name="Starta ärende").click()
    summary = page.locator(".error-summary")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_count(2)
    audit(page, "the start form with errors", problems, reflow=REFLOW)
    summary.get_by_role("link").first.click()
    expect(page.locator("#f-sokande")).to_be_focused()

    page.goto("/matetal?fran=2026-03-31&till=2026-03-01")
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.locator("#period-till")).to_have_attribute("aria-invalid", "true")
    audit(page, "the measures with a backwards period", problems, reflow=REFLOW)

    page.goto("/?visa=all&sortera=due")
    page.goto("/")
    expect(page.locator("[data-saved-view]")).to_contain_text("Visar ditt senaste urval.")
    expect(page.locator('[data-view="all"]')).to_have_attribute("aria-current", "page")
    audit(page, "the inbox on a remembered view", problems, reflow=REFLOW)
    page.get_by_role("link", name="Återställ").click()
    expect(page.locator("[data-saved-view]")).to_have_count(0)
    expect(page.locator('[data-view="mine"]')).to_have_attribute("aria-current", "page")
    assert problems == [], "\n".join(problems)
