"""No internals on the pages: a walk over every page (Flask's test client, following the pages'
own links from each person's start page), as an administrator, a designer and a handler, over
cases in several states (open, overdue, decided under the delegation ordinance, in incident), the
answers to a broken and a non-XML upload, the sign-in and the error page. The text a person reads
(and the titles, labels and placeholders they are read) must hold no BPMN element ids, no braces
of printed structures, no ISO durations or working-day periods, no ``${``, and no English word
from `ENGLISH`. Every template must be rendered by a page the walk reaches (or be listed in
`UNREACHED` with the reason).

Left out of the check, on purpose: ``<code>`` (identifiers shown as identifiers: a process key, an
element id in a designer's diagnostic) and ``<details class="technical">`` (an incident's
technical text, offered to administrators only, collapsed).
"""

from __future__ import annotations

import html
import io
import re
from datetime import timedelta
from typing import Any

import lxml.html
import pytest
from conftest import PASSWORD, ROOT, Person, sign_in
from jinja2 import BaseLoader, Environment
from test_pages import BIDRAG, BIDRAG_ITEM, BROKEN

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.base.clock import ManualClock
from engine.catalogue import processes
from engine.core import Engine
from engine.routing import delegation, drafts
from engine.service import cases, tasks

TEMPLATES = ROOT / "webapp" / "templates"
BROWSER = "text/html,application/xhtml+xml"

# A gateway whose condition names data the case does not have: the case stops in an incident.
FEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <bpmn:process id="fel" name="Anonyma synpunkter" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="lane_h" name="Handläggare"><bpmn:flowNodeRef>t</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>
    <bpmn:userTask id="t" name="Registrera synpunkten"/>
    <bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="Gateway_anonym"/>
    <bpmn:exclusiveGateway id="Gateway_anonym" name="Anonym?" default="Flow_nej"/>
    <bpmn:sequenceFlow id="Flow_ja" sourceRef="Gateway_anonym" targetRef="e">
      <bpmn:conditionExpression>anonym == True</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Flow_nej" sourceRef="Gateway_anonym" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""".encode()

LEAKS = {
    "BPMN element id": re.compile(r"\b(?:Flow|Gateway|Activity|Event|StartEvent|EndEvent|Task|Lane|Participant|"
                                  r"SequenceFlow|TimerDef|Definitions|Collaboration)_\w+"),
    "brace of a printed structure": re.compile(r"[{}]"),
    "ISO duration or working-day period": re.compile(r"\bP\d+[YMWD]\b|\bP\d+[YMWD]\d|\bPT\d+|\b\d+WD\b|duration\("),
    "expression": re.compile(r"\$\{|#\{"),
    "HTTP status code": re.compile(r"\b(?:Felkod|HTTP) \d{3}\b"),
}
ENGLISH = ["error", "Error", "None", "True", "False", "null", "rejected", "pending", "completed", "active", "draft",
           "published", "cancelled", "Traceback", "Exception", "undefined", "not defined", "expected", "found"]
ENGLISH_WORD = re.compile(r"\b(?:" + "|".join(re.escape(w) for w in ENGLISH) + r")\b")
# Templates no walk here renders, and why.
UNREACHED: dict[str, str] = {}  # (none today: every template is reached)
SKIP_LINKS = ("/static", "/logout", "/api")


class RecordingLoader(BaseLoader):
    """The app's template loader, noting each template it is asked for (pages and their includes)."""

    def __init__(self, inner: BaseLoader, seen: set[str]) -> None:
        self.inner, self.seen = inner, seen

    def get_source(self, environment: Environment, template: str) -> Any:
        """The inner loader's answer, the name noted."""
        self.seen.add(template)
        return self.inner.get_source(environment, template)


def _read_text(body: str) -> str:
    """What a person reads of a page: its text and the titles, labels and placeholders."""
    root = lxml.html.fromstring(body)
    for el in root.xpath("//script | //style | //code | //details[contains(@class, 'technical')]"):
        el.drop_tree()
    said = [root.text_content()]
    for attr in ("title", "placeholder", "aria-label", "alt"):
        said += root.xpath(f"//@{attr}")
    return "\n".join(str(s) for s in said)


def _leaks(text: str) -> list[str]:
    found = [f"{what}: {m.group(0)!r} in …{text[max(0, m.start() - 40):m.end() + 40]!r}…"
             for what, pattern in LEAKS.items() for m in pattern.finditer(text)]
    found += [f"English: {m.group(0)!r} in …{text[max(0, m.start() - 40):m.end() + 40]!r}…"
              for m in ENGLISH_WORD.finditer(text)]
    return found


def _walk(client: Any, starts: list[str], limit: int = 300) -> dict[str, str]:
    """Every page reachable from `starts` by the pages' own links (GET, same site), by address."""
    pages: dict[str, str] = {}
    queue = list(starts)
    while queue and len(pages) < limit:
        url = queue.pop(0)
        if url in pages:
            continue
        answer = client.get(url, headers={"Accept": BROWSER})
        if answer.mimetype != "text/html":
            continue
        body = answer.get_data(as_text=True)
        pages[url] = body
        for href in re.findall(r'href="([^"#]+)', body):
            href = html.unescape(href)
            if href.startswith("/") and not href.startswith(SKIP_LINKS) and "format=csv" not in href \
                    and "/diagram" not in href and href not in pages:
                queue.append(href)
    return pages


@pytest.fixture
def town(engine: Engine, people: dict[str, Person], clock: ManualClock) -> dict[str, Any]:
    """Cases in several states in the shipped processes and two of the tests'."""
    for name in ("bygglov", "allman-handling", "avvikelsehantering", "synpunkter", "registerutdrag"):
        processes.deploy(engine, SYSTEM, (ROOT / "workflows" / f"{name}.bpmn").read_bytes(), f"{name}.bpmn")
    processes.deploy(engine, SYSTEM, BIDRAG, "bidrag.bpmn")
    processes.deploy(engine, SYSTEM, FEL, "fel.bpmn")
    identity.add_user(engine, "admin2", ["admin"])
    # drafts: one waiting (a step renamed, a due time changed), one rejected with its reason
    synpunkter = (ROOT / "workflows" / "synpunkter.bpmn").read_bytes()
    processes.deploy(engine, people["designer"].actor, synpunkter.replace(b'value="P1D"', b'value="P3D"')
                     .replace(b"Ta emot och registrera", b"Ta emot, registrera"), "synpunkter.bpmn")
    drafts.reject(engine, people["admin"].actor, "synpunkter_klagomal", 2, "Fel tid i första steget.")
    processes.deploy(engine, people["designer"].actor, synpunkter.replace(b'value="P1D"', b'value="P2D"'),
                     "synpunkter.bpmn")
    delegation.import_items(engine, people["admin"].actor, identity.get_actor(engine, "admin2"), [BIDRAG_ITEM])
    for name in ("admin", "designer", "hanna"):
        identity.set_password(engine, name, PASSWORD)
    hanna = people["hanna"].actor
    # open, then overdue: a building permit received long ago, and a deviation
    cases.start_case(engine, SYSTEM, "bygglov", {"inkom": "2026-01-12"}, "BN-2026-1")
    cases.start_case(engine, SYSTEM, "avvikelsehantering", {}, "AVV-2026-3")
    cases.start_case(engine, SYSTEM, "synpunkter_klagomal", {}, "SYN-2026-9")
    cases.start_case(engine, SYSTEM, "gdpr_registerutdrag", {}, "REG-2026-2")
    cases.start_case(engine, SYSTEM, "begaran_allman_handling", {}, "AH-2026-4")
    # decided under the delegation ordinance, with a comment
    decided = cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-2026-1")
    step = decided["open_tasks"][0]["id"]
    tasks.comment(engine, hanna, task_id=step, text="Föreningen har lämnat budget.")
    tasks.complete(engine, hanna, step, {}, "f_ja", no_conflict_of_interest=True)
    cases.start_case(engine, SYSTEM, "bidrag", {}, "BID-2026-2")
    # in incident
    fel = cases.start_case(engine, SYSTEM, "fel", {}, "FEL-2026-1")
    tasks.complete(engine, SYSTEM, fel["open_tasks"][0]["id"], {}, None)
    clock.advance(timedelta(days=30))
    return {"incident": fel["id"]}


@pytest.mark.parametrize("who", ["admin", "designer", "hanna"])
def test_no_page_shows_internals(engine: Engine, town: dict[str, Any], app: Any, who: str) -> None:
    seen: set[str] = set()
    app.jinja_env.loader = RecordingLoader(app.jinja_env.loader, seen)
    client = app.test_client()
    signin = client.get("/login").get_data(as_text=True)
    token = sign_in(client, who)
    pages = _walk(client, ["/", "/cases", "/processes", "/processes/drafts", "/notifications", "/notifications/badge", "/tokens",
                           "/sakerhetslogg", "/delegationsbeslut", "/matetal", "/granskning",
                           "/granskning?kontrollera=1", f"/cases/{town['incident']}", "/finns-inte"])
    pages["/login"] = signin
    assert "rutin users" not in signin  # no command line for people who sign in
    # the answers to uploads that cannot be deployed
    for name, data in (("trasig.bpmn", BROKEN), ("inte.bpmn", "det här är ingen XML".encode())):
        answer = client.post("/processes", data={"csrf": token, "file": (io.BytesIO(data), name)},
                             content_type="multipart/form-data")
        pages[f"POST /processes {name}"] = answer.get_data(as_text=True)
    problems = {url: found for url, body in pages.items() if (found := _leaks(_read_text(body)))}
    assert problems == {}, "\n".join(f"{url}:\n  " + "\n  ".join(f) for url, f in problems.items())
    assert len(pages) > 15
    if who == "admin":  # the administrator reaches every page there is
        every = {p.name for p in TEMPLATES.glob("*.html")}
        assert every - seen - set(UNREACHED) == set(), sorted(every - seen - set(UNREACHED))
