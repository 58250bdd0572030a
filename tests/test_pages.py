"""The pages for people, in a real browser: Chromium driven by Playwright against the app served on a
loopback port (the `live_server` fixture), on each database backend.

Chromium is Debian's (/usr/bin/chromium, installed by `make test` when run as root); Playwright's own
browser download is not used. A missing Chromium fails these tests, it does not skip them. Nothing
sleeps: Playwright's `expect` waits for what the page should come to show.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from conftest import PASSWORD, ROOT, Person, Web, fixture_bytes

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.settings import Settings
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import delegation, notifications
from engine.service import cases, tasks

WORKFLOWS = ROOT / "workflows"

# A decision the delegation ordinance governs: a gateway marked rutin:decision, its options the
# outgoing flows' names. No diagram interchange (BPMN DI), so the viewer says it cannot draw it.
BIDRAG = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="bidrag-defs" targetNamespace="https://rutin.example/test">
  <bpmn:process id="bidrag" name="Föreningsbidrag" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="lane_h" name="Handläggare">
      <bpmn:flowNodeRef>s</bpmn:flowNodeRef><bpmn:flowNodeRef>beslut</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>ja</bpmn:flowNodeRef><bpmn:flowNodeRef>nej</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="beslut"/>
    <bpmn:exclusiveGateway id="beslut" name="Bevilja bidraget?">
      <bpmn:documentation>Pröva ansökan mot kommunens bidragsregler.</bpmn:documentation>
      <bpmn:extensionElements><camunda:properties>
        <camunda:property name="rutin:decision" value="true"/>
      </camunda:properties></bpmn:extensionElements>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="f_ja" name="Bevilja" sourceRef="beslut" targetRef="ja"/>
    <bpmn:sequenceFlow id="f_nej" name="Avslå" sourceRef="beslut" targetRef="nej"/>
    <bpmn:endEvent id="ja" name="Beviljat"/>
    <bpmn:endEvent id="nej" name="Avslaget"/>
  </bpmn:process>
</bpmn:definitions>
""".encode()
BIDRAG_ITEM = {"number": "3.1", "title": "Beslut om föreningsbidrag", "process_key": "bidrag", "element_id": "beslut",
               "delegate_role": "Handläggare", "reporting": "anmals", "committee": "Kultur- och fritidsnämnden"}

# A flow pointing at an element that does not exist: it cannot run, and says where (f2, line 7).
BROKEN = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="trasig" name="Trasig" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Steg"/>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="finns_inte"/>
  </bpmn:process>
</bpmn:definitions>
"""


def _no_trace(page: Any) -> None:
    body = page.content()
    assert "Traceback" not in body and "File \"" not in body and "Werkzeug" not in body


def test_handler_signs_in_claims_fills_the_form_completes_and_sees_the_case_on_the_diagram(web: Web) -> None:
    from playwright.sync_api import expect

    processes.deploy(web.engine, SYSTEM, (WORKFLOWS / "avvikelsehantering.bpmn").read_bytes(), "avvikelsehantering.bpmn")
    web.user("maja", ["Medarbetare"])
    started = cases.start_case(web.engine, SYSTEM, "avvikelsehantering", {}, "AVV-2026-17")
    [first] = started["open_tasks"]
    assert first["element_id"] == "Task_rapportera"

    page = web.sign_in("maja")
    expect(page.get_by_role("heading", name="Mina uppgifter")).to_be_visible()
    # the inbox opens on her own tasks (none yet), and offers those of her roles
    expect(page.locator("p.empty")).to_contain_text("Inga uppgifter i det här urvalet.")
    page.get_by_role("link", name="Se otagna uppgifter i dina roller").click()
    row = page.locator(f'tr[data-task-id="{first["id"]}"]')
    expect(row).to_contain_text("Rapportera avvikelse")
    expect(row).to_contain_text("AVV-2026-17")
    expect(row).to_contain_text("Avvikelsehantering")
    expect(row).to_contain_text("Medarbetare")
    expect(row).to_contain_text("ingen")  # nobody has it yet
    expect(row.locator("time").first).to_have_text("2026-03-03 23:59")  # P1D: end of the next day, Swedish time

    row.get_by_role("link", name="Rapportera avvikelse").click()
    expect(page.get_by_role("heading", name="Rapportera avvikelse")).to_be_visible()
    expect(page.locator(".todo")).to_contain_text("Beskriv vad som hänt")  # the step's documentation
    page.get_by_role("button", name="Ta uppgiften").click()
    expect(page.get_by_role("status").filter(has_text="Du har tagit uppgiften.")).to_be_visible()
    expect(page.locator("dd.assignee")).to_have_text("du")
    expect(page.get_by_role("button", name="Lämna tillbaka")).to_be_visible()
    assert tasks.get_task(web.engine, SYSTEM, first["id"])["assignee"] == "maja"
    # "Slutför" is the first action, on screen as in the markup; "Lämna tillbaka" comes after it
    finish, give_back = page.get_by_role("button", name="Slutför"), page.get_by_role("button", name="Lämna tillbaka")
    assert finish.bounding_box()["y"] < give_back.bounding_box()["y"]
    names = page.locator("main button").all_inner_texts()
    assert names.index("Slutför") < names.index("Lämna tillbaka")

    # the fields by their types: text, date, and choices as radio buttons
    expect(page.locator('[data-field="upptackt_datum"] input')).to_have_attribute("type", "date")
    expect(page.locator('[data-field="kalla"] input[type=radio]')).to_have_count(4)
    # sent without what is required: the form comes back with each field's error, in Swedish
    page.get_by_role("button", name="Slutför").click()
    expect(page.locator("#task-error")).to_have_text("Formuläret är inte korrekt ifyllt.")
    expect(page.locator('[data-field="beskrivning"] .field-error')).to_have_text("Vad har hänt? måste fyllas i")
    expect(page.locator('[data-field="upptackt_datum"] .field-error')).to_have_text("Upptäckt datum måste fyllas i")
    expect(page.locator('[data-field="plats"] .field-error')).to_have_count(0)

    page.get_by_label("Vad har hänt?").fill("Fel läkemedel gavs till en boende.")
    page.get_by_label("Var?").fill("Solgården, avdelning 2")
    page.get_by_label("Upptäckt datum").fill("2026-03-02")
    page.get_by_label("Klagomål").check()
    page.get_by_label("Hög").check()
    page.get_by_role("button", name="Slutför").click()

    # the next step is the quality coordinator's, so the handler lands on the case
    expect(page).to_have_url(re.compile(f"/cases/{started['id']}$"))
    expect(page.get_by_role("heading", name=re.compile("Ärende AVV-2026-17"))).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="”Rapportera avvikelse” är klar.")).to_be_visible()
    expect(page.locator("dl.data")).to_contain_text("Fel läkemedel gavs till en boende.")
    # the case's data by the form's labels and choice names, not the raw variable names
    expect(page.locator('dl.data dt[data-key="beskrivning"]')).to_have_text("Vad har hänt?")
    expect(page.locator('dl.data dt[data-key="kalla"] + dd')).to_have_text("Klagomål")
    expect(page.locator("ol.timeline")).to_contain_text("Uppgift klar: Rapportera avvikelse")
    expect(page.locator("ol.timeline")).to_contain_text("maja")
    expect(page.get_by_text("Historiken är obruten")).to_be_visible()

    # the diagram: drawn by bpmn-js, the done step and the open step marked
    diagram = page.locator("#diagram")
    expect(diagram).to_have_attribute("data-state", "ready")
    expect(diagram.locator("svg").first).to_be_visible()
    expect(diagram.locator('.djs-element.rutin-done[data-element-id="Task_rapportera"]')).to_have_count(1)
    expect(diagram.locator('.djs-element.rutin-open[data-element-id="Task_registrera"]')).to_have_count(1)
    expect(diagram.locator(".rutin-done")).to_have_count(1)
    # zoomed by buttons and by keys, without a mouse
    fitted = int(diagram.get_attribute("data-zoom-level"))
    page.get_by_role("button", name="Zooma in").focus()
    page.keyboard.press("Enter")
    expect(diagram).not_to_have_attribute("data-zoom-level", str(fitted))
    zoomed = int(diagram.get_attribute("data-zoom-level"))
    assert zoomed > fitted
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(diagram).to_be_focused()  # after "Zooma ut" and "Visa hela", the drawing itself
    page.keyboard.press("-")
    expect(diagram).not_to_have_attribute("data-zoom-level", str(zoomed))
    assert int(diagram.get_attribute("data-zoom-level")) < zoomed
    page.keyboard.press("0")
    expect(diagram).to_have_attribute("data-zoom-level", str(fitted))
    # the same steps as a text list beside the drawing: name, role and state in words
    listed = page.locator(".diagram-steps li")
    expect(listed.filter(has_text="Rapportera avvikelse")).to_contain_text("klart")
    expect(listed.filter(has_text="Registrera och klassificera")).to_contain_text("pågår nu")
    assert web.errors == []
    _no_trace(page)

    done = cases.get_case(web.engine, SYSTEM, started["id"])
    [event] = [e for e in done["history"] if e["type"] == "task_completed"]
    assert event["actor"] == "maja" and event["data"]["data"]["kalla"] == "klagomal"

    page.get_by_role("button", name="Logga ut").click()
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    expect(page.get_by_text("Du är utloggad.")).to_be_visible()
    page.goto(f"/cases/{started['id']}")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_inbox_views_counts_overdue_sorting_and_paging(web: Web) -> None:
    from playwright.sync_api import expect

    engine, admin = web.engine, web.people["admin"].actor
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    ids = {}
    for n in range(1, 28):
        case = cases.start_case(engine, SYSTEM, "seq3", {}, f"SEQ-{n:02d}")
        ids[n] = case["open_tasks"][0]["id"]
        web.clock.advance(timedelta(minutes=1))
    now = engine.clock.now()
    tasks.update(engine, admin, ids[5], {"due": (now - timedelta(days=2)).isoformat()})
    tasks.update(engine, admin, ids[10], {"due": (now + timedelta(days=3)).isoformat()})
    tasks.update(engine, admin, ids[7], {"priority": 90})
    tasks.claim(engine, web.people["hanna"].actor, ids[3])
    tasks.claim(engine, web.people["hugo"].actor, ids[4])
    web.user("hanna", [])

    page = web.sign_in("hanna")
    tabs = page.locator("nav.tabs")
    expect(tabs.locator('[data-view="all"] .count')).to_have_text("27")  # hugo's too: her role's
    expect(tabs.locator('[data-view="mine"] .count')).to_have_text("1")
    expect(tabs.locator('[data-view="unclaimed"] .count')).to_have_text("25")
    expect(tabs.locator('[data-view="overdue"] .count')).to_have_text("1")

    rows = page.locator("table.tasks tbody tr")
    # the inbox opens on what is hers
    expect(tabs.locator('[data-view="mine"]')).to_have_attribute("aria-current", "page")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("SEQ-03")
    tabs.get_by_role("link", name=re.compile("Alla")).click()
    expect(rows).to_have_count(25)
    expect(rows.first).to_contain_text("SEQ-01")
    expect(page.locator(".pager")).to_contain_text("Sida 1 av 2 (27 uppgifter)")
    overdue = page.locator(f'tr[data-task-id="{ids[5]}"]')
    expect(overdue).to_have_class(re.compile(r"\boverdue\b"))
    expect(overdue.locator(".late")).to_have_text("Försenad med 2 dagar")
    expect(page.locator(f'tr[data-task-id="{ids[3]}"] td').nth(4)).to_have_text("du")
    expect(page.locator(f'tr[data-task-id="{ids[4]}"] td').nth(4)).to_have_text("hugo")

    page.get_by_role("link", name="Nästa →").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("SEQ-26")
    expect(rows.nth(1)).to_contain_text("SEQ-27")
    expect(page.locator(".pager")).to_contain_text("Sida 2 av 2")

    # sorted by a column's header: a link (arrow keys do not follow it), its order said by aria-sort
    header = page.locator("table.tasks thead")
    header.get_by_role("link", name="Förfaller").click()
    expect(page).to_have_url(re.compile(r"sortera=due"))
    expect(header.locator('th[aria-sort="ascending"]')).to_contain_text("Förfaller")
    expect(rows.nth(0)).to_contain_text("SEQ-05")
    expect(rows.nth(1)).to_contain_text("SEQ-10")
    expect(rows.nth(1).locator(".late")).to_have_count(0)
    header.get_by_role("link", name="Prioritet").click()
    expect(header.locator('th[aria-sort="descending"]')).to_contain_text("Prioritet")
    expect(rows.first).to_contain_text("SEQ-07")
    header.get_by_role("link", name=re.compile("Prioritet")).click()  # again: the other way
    expect(header.locator('th[aria-sort="ascending"]')).to_contain_text("Prioritet")
    expect(rows.first).not_to_contain_text("SEQ-07")

    tabs.get_by_role("link", name=re.compile("Försenade")).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("SEQ-05")
    tabs.get_by_role("link", name=re.compile("Mina")).click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("SEQ-03")
    assert web.errors == []


def test_a_decision_shows_its_options_and_requires_the_jav_confirmation(web: Web) -> None:
    from playwright.sync_api import expect

    engine = web.engine
    identity.add_user(engine, "admin2", ["admin"])
    delegation.import_items(engine, web.people["admin"].actor, identity.get_actor(engine, "admin2"), [BIDRAG_ITEM])
    processes.deploy(engine, SYSTEM, BIDRAG, "bidrag.bpmn")
    started = cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-2026-3")
    [decision] = started["open_tasks"]
    web.user("hanna", [])

    page = web.sign_in("hanna", start=f"/tasks/{decision['id']}")
    expect(page).to_have_url(re.compile(f"/tasks/{decision['id']}$"))  # back where the sign-in began
    expect(page.get_by_role("heading", name="Bevilja bidraget?")).to_be_visible()
    expect(page.locator(".todo")).to_contain_text("Pröva ansökan mot kommunens bidragsregler.")
    options = page.locator('fieldset.options input[type=radio][name="choice"]')
    expect(options).to_have_count(2)
    expect(page.get_by_label("Bevilja", exact=True)).to_be_visible()
    expect(page.get_by_label("Avslå")).to_be_visible()
    jav = page.get_by_label("Jag är inte jävig i ärendet")
    expect(jav).not_to_be_checked()
    expect(page.get_by_text("Anmäl jäv", exact=True)).to_be_visible()

    # no choice: asked to choose
    jav.check()
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Fatta beslut").click()
    assert sent.value.status == 422
    expect(page.locator("#task-error")).to_have_text("Välj ett av alternativen.")
    expect(page.get_by_label("Jag är inte jävig i ärendet")).to_be_checked()  # what was ticked stays so

    # a choice without the jäv confirmation: refused, the choice kept, nothing decided
    page.get_by_label("Jag är inte jävig i ärendet").uncheck()
    page.get_by_label("Bevilja", exact=True).check()
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Fatta beslut").click()
    assert sent.value.status == 422
    expect(page.locator("#task-error")).to_have_text(
        "Bekräfta att du inte är jävig, eller anmäl jäv så går beslutet till ersättaren.")
    expect(page.get_by_label("Bevilja", exact=True)).to_be_checked()
    assert tasks.get_task(engine, SYSTEM, decision["id"])["status"] == "open"

    page.get_by_label("Jag är inte jävig i ärendet").check()
    page.get_by_role("button", name="Fatta beslut").click()
    expect(page).to_have_url(re.compile(f"/cases/{started['id']}$"))
    expect(page.locator("h1 .status")).to_have_text("Avslutat")
    timeline = page.locator("ol.timeline")
    expect(timeline).to_contain_text("Beslut: Bevilja")
    expect(timeline).to_contain_text("Delegation 3.1 (delegat)")
    # a diagram without drawing information says so, in Swedish
    expect(page.locator(".diagram-status")).to_contain_text("saknar ritinformation")
    assert web.errors == []
    [event] = [e for e in cases.get_case(engine, SYSTEM, started["id"])["history"] if e["type"] == "task_completed"]
    assert event["actor"] == "hanna" and event["data"]["no_conflict_of_interest"] is True
    assert event["data"]["delegation"]["item"] == "3.1" and event["data"]["choice_name"] == "Bevilja"


def test_designer_uploads_a_broken_diagram_and_reads_the_located_diagnostics(web: Web) -> None:
    from playwright.sync_api import expect

    web.user("designer", [])
    page = web.sign_in("designer")
    page.get_by_role("link", name="Processer").click()
    expect(page.get_by_role("heading", name="Processer")).to_be_visible()

    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Ladda upp").click()
    assert sent.value.status == 400
    expect(page.locator("#upload-result .error")).to_have_text("Välj en BPMN-fil.")

    page.get_by_label("BPMN-fil").set_input_files(files=[{"name": "trasig.bpmn", "mimeType": "application/xml",
                                                         "buffer": BROKEN}])
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Ladda upp").click()
    assert sent.value.status == 422
    result = page.locator("#upload-result")
    expect(result.get_by_role("heading", name="trasig.bpmn kunde inte driftsättas")).to_be_visible()
    row = result.locator("table.diagnostics tbody tr").first
    cells = row.locator("td")
    expect(cells.nth(0)).to_have_text("Fel")
    expect(cells.nth(1)).to_have_text("f2")
    expect(cells.nth(2)).to_have_text("7")
    expect(cells.nth(3)).to_contain_text("'finns_inte' som inte finns i processen")
    _no_trace(page)

    page.get_by_label("BPMN-fil").set_input_files(str(ROOT / "tests" / "fixtures" / "seq3.bpmn"))
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Ladda upp").click()
    assert sent.value.status == 201
    expect(result.get_by_role("heading", name="seq3.bpmn är uppladdad")).to_be_visible()
    # the first version too is a draft until a process owner who did not upload it approves it
    expect(result).to_contain_text("version 1: sparad som utkast")
    assert processes.get_process(web.engine, "seq3")["published_version"] is None
    assert web.errors == []


def test_a_draft_is_approved_by_the_owner_who_then_starts_a_case(web: Web) -> None:
    from playwright.sync_api import expect

    engine = web.engine
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    changed = fixture_bytes("seq3.bpmn").replace(b"Steg tre", b"Steg tre (ny)")
    processes.deploy(engine, web.people["designer"].actor, changed)
    web.user("owner", [])
    identity.add_user(engine, "owner", ["Handläggare"])  # starting a case takes a starter role (the start's lane)

    page = web.sign_in("owner", start="/processes/seq3")
    expect(page.get_by_role("heading", name="Tre steg")).to_be_visible()
    v2 = page.locator('tr[data-version="2"]')
    expect(v2.locator(".status")).to_have_text("Utkast")
    expect(page.locator('tr[data-version="1"] .status')).to_have_text("Publicerad")
    v2.get_by_role("link", name="Granska och godkänn").click()
    expect(page.locator(".changes")).to_contain_text("Steget Steg tre heter nu Steg tre (ny)")
    page.get_by_label("Jag har granskat ändringarna").check()
    page.get_by_role("button", name="Godkänn och publicera").click()
    expect(page.get_by_text("Version 2 är godkänd och publicerad.")).to_be_visible()
    expect(v2.locator(".status")).to_have_text("Publicerad")
    expect(v2.get_by_role("link")).to_have_count(0)

    page.get_by_label("Ärendenummer (valfritt)").fill("SEQ-START-1")
    page.get_by_role("button", name="Starta ärende").click()
    expect(page.get_by_role("heading", name=re.compile("Ärende SEQ-START-1"))).to_be_visible()
    expect(page.get_by_text("Ärendet är startat.")).to_be_visible()
    expect(page.locator("dl.facts")).to_contain_text("Tre steg, version 2")
    expect(page.locator("section").filter(has_text="Öppna uppgifter")).to_contain_text("Steg ett")
    assert web.errors == []


def test_a_forged_or_expired_form_and_other_errors_are_clear_swedish_pages(web: Web) -> None:
    from playwright.sync_api import expect

    engine = web.engine
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    task_id = cases.start_case(engine, SYSTEM, "seq3", {}, "SEQ-1")["open_tasks"][0]["id"]
    web.user("hanna", [])
    page = web.page

    page.goto("/login")
    page.get_by_label("Användarnamn").fill("hanna")
    page.get_by_label("Lösenord").fill("fel-lösenord")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Logga in").click()
    assert sent.value.status == 401
    # the error summary, focused, linking to the user name
    summary = page.get_by_role("alert")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link")).to_have_text("Fel användarnamn eller lösenord.")
    expect(page.get_by_label("Användarnamn")).to_have_attribute("aria-invalid", "true")

    web.sign_in("hanna", start=f"/tasks/{task_id}")
    # a forged CSRF token
    page.locator('form[action$="/claim"] input[name="csrf"]').evaluate("e => e.value = 'förfalskad'")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Ta uppgiften").click()
    assert sent.value.status == 400
    expect(page.get_by_role("heading", name="Formuläret har gått ut")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("ladda om sidan och försök igen")
    _no_trace(page)
    assert tasks.get_task(engine, SYSTEM, task_id)["assignee"] is None
    page.get_by_role("link", name="Tillbaka").click()
    expect(page).to_have_url(re.compile(f"/tasks/{task_id}$"))
    page.wait_for_load_state()

    # an expired form: the session it was issued in is gone
    web.context.clear_cookies()
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Ta uppgiften").click()
    assert sent.value.status == 400
    expect(page.get_by_role("heading", name="Formuläret har gått ut")).to_be_visible()
    assert tasks.get_task(engine, SYSTEM, task_id)["assignee"] is None

    web.sign_in("hanna")
    # someone else takes the task while the page is open: a conflict, said on the task page
    page.goto(f"/tasks/{task_id}")
    tasks.claim(engine, web.people["hugo"].actor, task_id)
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Ta uppgiften").click()
    assert sent.value.status == 409
    expect(page.locator("#task-error")).to_have_text("Uppgiften är redan tagen av hugo.")
    expect(page.locator("dd.assignee")).to_have_text("hugo")

    response = page.goto("/tasks/finns-inte")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Finns inte")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("Uppgiften finns-inte finns inte.")
    response = page.goto("/processes/finns-inte/versions/1/diagram")
    assert response.status == 404
    _no_trace(page)
    assert web.errors == []


def test_the_notification_count_follows_without_a_reload(web: Web) -> None:
    from playwright.sync_api import expect

    web.user("hanna", [])
    page = web.page
    page.clock.install()  # the page's timers run when the test moves them, not by waiting
    web.sign_in("hanna")
    badge = page.locator("#unread .badge")
    expect(badge).to_have_count(0)
    with web.engine.db.write() as s:
        notifications.notify(s.connection(), web.engine.clock.now(), ["hanna"], kind="reminder",
                             subject="Påminnelse: Steg ett", body="Uppgiften förfaller i morgon.", dedupe="pages-test")
    with page.expect_response(re.compile(r"/notifications/badge$")):
        page.clock.run_for(61_000)
    expect(badge).to_have_text("1")
    page.locator("a.notiser").click()
    expect(page.get_by_text("Påminnelse: Steg ett")).to_be_visible()
    page.get_by_role("button", name="Markera som läst").click()
    expect(badge).to_have_count(0)
    assert web.errors == []


def test_sessions_survive_a_restart_and_their_cookie_is_httponly_and_lax(engine: Engine, people: dict[str, Person],
                                                                           tmp_path: Path) -> None:
    from webapp import create_app

    identity.set_password(engine, "hanna", PASSWORD)
    first = create_app(engine).test_client()
    page = first.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    signed_in = first.post("/login", data={"csrf": token, "name": "hanna", "password": PASSWORD})
    assert signed_in.status_code == 302
    cookie = signed_in.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    key = engine.settings.data_dir / "secret_key"
    assert key.stat().st_mode & 0o777 == 0o600
    # a restarted app (same data directory) accepts the session; another key does not
    value = first.get_cookie("session").value
    again = create_app(engine).test_client()
    again.set_cookie("session", value)
    assert again.get("/").status_code == 200
    assert Settings.from_env({"RUTIN_DATA_DIR": str(tmp_path / "elsewhere"),
                              "RUTIN_SECRET_KEY": "från-miljön"}).session_secret() == "från-miljön"
    assert Settings.from_env({"RUTIN_DATA_DIR": str(tmp_path / "other")}).session_secret() != key.read_text().strip()


def test_a_step_the_ordinance_names_asks_for_the_jav_confirmation_too(web: Web) -> None:
    from playwright.sync_api import expect

    engine = web.engine
    identity.add_user(engine, "admin2", ["admin"])
    item = {**BIDRAG_ITEM, "number": "3.2", "title": "Beslut i steg ett", "process_key": "seq3", "element_id": "a"}
    delegation.import_items(engine, web.people["admin"].actor, identity.get_actor(engine, "admin2"), [item])
    processes.deploy(engine, SYSTEM, fixture_bytes("seq3.bpmn"))
    [step] = cases.start_case(engine, SYSTEM, "seq3", {}, "SEQ-D")["open_tasks"]
    web.user("hanna", [])

    page = web.sign_in("hanna", start=f"/tasks/{step['id']}")
    # the diagram does not mark the step a decision; the ordinance does, and the page says so at once
    expect(page.locator("h1 .tag")).to_have_text("beslut")
    expect(page.locator("dd.delegation")).to_have_text("Beslut enligt delegationsordningen, punkt 3.2: Beslut i steg ett")
    jav = page.get_by_label("Jag är inte jävig i ärendet")
    expect(jav).not_to_be_checked()
    expect(page.get_by_text("Anmäl jäv", exact=True)).to_be_visible()
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Fatta beslut").click()
    assert sent.value.status == 422
    expect(page.locator("#task-error")).to_have_text(
        "Bekräfta att du inte är jävig, eller anmäl jäv så går beslutet till ersättaren.")
    assert tasks.get_task(engine, SYSTEM, step["id"])["status"] == "open"
    page.get_by_label("Jag är inte jävig i ärendet").check()
    page.get_by_role("button", name="Fatta beslut").click()
    expect(page.get_by_role("heading", name="Steg två")).to_be_visible()  # hers too: straight on to it
    done = tasks.get_task(engine, SYSTEM, step["id"])
    assert done["status"] == "completed" and done["completed_by"] == "hanna"


def test_an_expired_session_goes_back_to_the_login_page(web: Web) -> None:
    from playwright.sync_api import expect

    web.user("hanna", [])
    page = web.sign_in("hanna")
    expect(page.get_by_role("heading", name="Mina uppgifter")).to_be_visible()
    web.clock.advance(web.engine.settings.session_lifetime)  # RUTIN_SESSION_HOURS later, by the engine's clock
    page.get_by_role("link", name="Ärenden").click()
    expect(page).to_have_url(re.compile(r"/login\?next=/cases$"))
    expect(page.get_by_role("status")).to_have_text("Sessionen har gått ut eller avslutats; logga in igen.")
    page.get_by_label("Användarnamn").fill("hanna")
    page.get_by_label("Lösenord").fill(PASSWORD)
    page.get_by_role("button", name="Logga in").click()
    expect(page).to_have_url(re.compile(r"/cases$"))
    assert web.errors == []


def test_a_browser_sees_the_swedish_error_page_at_an_unknown_address(web: Web) -> None:
    from playwright.sync_api import expect

    page = web.page
    response = page.goto("/nonexistent")
    assert response.status == 404 and response.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", name="Finns inte")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_text("Sidan finns inte.")
    _no_trace(page)
    web.user("hanna", [])
    web.sign_in("hanna")
    response = page.goto("/logout")  # a POST form's address, opened
    assert response.status == 405
    expect(page.get_by_role("heading", name="Metoden stöds inte")).to_be_visible()
    expect(page.get_by_role("button", name="Logga ut")).to_be_visible()  # still signed in, the menu kept
    assert web.errors == []


def test_the_units_manager_hands_a_case_over_on_its_page(web: Web) -> None:
    """The hand-over form in the browser: the reason is required, the case leaves the manager's
    list for the new unit, whose handler then finds the step in the inbox."""
    from playwright.sync_api import expect

    from engine.service import org_data

    engine = web.engine
    org_data.import_yaml(engine, (ROOT / "tests" / "fixtures" / "org.yaml").read_text())
    processes.deploy(engine, SYSTEM, fixture_bytes("bygglov_test.bpmn"))
    case = cases.start_case(engine, SYSTEM, "bygglov_test", {"area": 100}, "BN 2026-9", org_unit="bygglov")
    for name in ("bert", "mia"):
        identity.set_password(engine, name, PASSWORD)

    page = web.sign_in("bert", start=f"/cases/{case['id']}")
    page.get_by_text("Lämna över ärendet till en annan enhet").click()
    form = page.locator("details.transfer form")
    form.get_by_label("Till enhet").select_option(label="Miljöenheten")
    form.get_by_role("button", name="Lämna över").click()
    # The browser keeps an empty reason from being sent at all.
    expect(page).to_have_url(re.compile(f"/cases/{case['id']}$"))
    assert form.get_by_label("Skäl").evaluate("e => e.validity.valueMissing") is True
    form.get_by_label("Skäl").fill("Gäller strandskydd")
    form.get_by_role("button", name="Lämna över").click()
    expect(page.get_by_text("Ärendet är överlämnat till Miljöenheten.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/cases$"))
    page.get_by_role("button", name="Logga ut").click()

    page = web.sign_in("mia", start="/?visa=all")
    expect(page.get_by_text("Granska ansökan").first).to_be_visible()
    page.goto(f"/cases/{case['id']}")
    expect(page.get_by_text("Från Bygglovsenheten till Miljöenheten. Skäl: Gäller strandskydd")).to_be_visible()
    assert web.errors == []
