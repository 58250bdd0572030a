"""Uploaded bytes are never active content in Rutin's origin.

A diagram or form is written by a designer and read by everyone else, process owners among them;
if its bytes ran as a page in Rutin's origin, a script in them would act with the reader's
session (a process owner's approves the designer's own draft). So the routes that hand out an
uploaded diagram send it as a download that cannot run (attachment, nosniff, a sandboxing
Content-Security-Policy), every response carries the security headers (`webapp/headers.py`),
every page a policy that runs no inline script, and everything an upload names is escaped where a
page shows it.

Each probe asserts the neutralisation and the absence of an effect: the draft is still a draft,
the process history has no approval, no table changed.
"""

from __future__ import annotations

import html
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

import pytest
from conftest import PASSWORD, Person, Web, sign_in
from markupsafe import escape
from probes import assert_no_effect, db_state

from engine.authority import identity
from engine.authority.identity import SYSTEM
from engine.catalogue import processes
from engine.core import Engine
from engine.service import cases, tasks

KEY = "aktiv"

# What a hostile diagram's script does when it runs in a process owner's session: leaves a
# marker, then fetches the process page for its CSRF token and approves its own draft (with
# synchronous requests, so the approval is done before the page has loaded).
ATTACK_JS = (
    "(function(tag){"
    "localStorage.setItem('rutin-pwned-'+tag,'1');"
    "var x=new XMLHttpRequest();x.open('GET','/processes/" + KEY + "?pwned='+tag,false);x.send();"
    "var m=/name=.csrf. value=.([^\\x22]+)./.exec(x.responseText);"
    "var y=new XMLHttpRequest();y.open('POST','/processes/" + KEY + "/versions/2/approve?pwned='+tag,false);"
    "y.setRequestHeader('Content-Type','application/x-www-form-urlencoded');"
    "y.send('csrf='+encodeURIComponent(m?m[1]:''));"
    "})"
)
SCRIPT = "<script>alert('rutin')</script>"
IMG = "<img src=x onerror=alert(1)>"
HOSTILE_NAME = f"{IMG}Steg"
HOSTILE_LANE = f"Handläggare {IMG}"
FORM_ID = "farlig"
# A Camunda Form whose labels, choices and limits are markup: shown on the task page, they must
# stay text (and values attribute values).
HOSTILE_FORM = json.dumps({"id": FORM_ID, "type": "default", "components": [
    {"key": "kommentar", "label": f"{IMG}Kommentar", "type": "textfield", "validate": {"maxLength": 100}},
    {"key": "antal", "label": "Antal", "type": "number", "validate": {"min": '1" autofocus onfocus="alert(1)'}},
    {"key": "val", "label": f"{SCRIPT}Val", "type": "radio",
     "values": [{"label": SCRIPT, "value": 'a"><script>alert(2)</script>'}, {"label": "Nej", "value": "nej"}]},
    {"text": SCRIPT, "type": "text"},
]}).encode()

_DI = """
  <bpmndi:BPMNDiagram id="dia"><bpmndi:BPMNPlane id="plane" bpmnElement="{key}">
    <bpmndi:BPMNShape id="s_di" bpmnElement="s"><dc:Bounds x="100" y="100" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="a_di" bpmnElement="a"><dc:Bounds x="200" y="78" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="e_di" bpmnElement="e"><dc:Bounds x="360" y="100" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1"><di:waypoint x="136" y="118"/><di:waypoint x="200" y="118"/></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2"><di:waypoint x="300" y="118"/><di:waypoint x="360" y="118"/></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>"""


def diagram(key: str = KEY, *, name: str = "Aktivt innehåll", step_name: str = "Steg ett", documentation: str = "",
            extension: str = "", form_ref: str | None = None, lane: str | None = None) -> bytes:
    """A small drawable diagram (one user task) carrying the given hostile parts."""
    form = f' camunda:formRef="{form_ref}"' if form_ref else ""
    lanes = (f'<bpmn:laneSet id="ls"><bpmn:lane id="l" name={quoteattr(lane)}><bpmn:flowNodeRef>s</bpmn:flowNodeRef>'
             "<bpmn:flowNodeRef>a</bpmn:flowNodeRef><bpmn:flowNodeRef>e</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>"
             if lane else "")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
    xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
    xmlns:html="http://www.w3.org/1999/xhtml" xmlns:svg="http://www.w3.org/2000/svg"
    id="defs" targetNamespace="https://rutin.example/test">
  <bpmn:process id="{key}" name={quoteattr(name)} isExecutable="true">
    <bpmn:documentation>{documentation}</bpmn:documentation>
    <bpmn:extensionElements>{extension}</bpmn:extensionElements>{lanes}
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
    <bpmn:userTask id="a" name={quoteattr(step_name)}{form}/>
    <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>{_DI.format(key=key)}
</bpmn:definitions>
""".encode()


def _runs(tag: str) -> str:
    return f"{ATTACK_JS}('{tag}')"


XHTML_SCRIPT = f"<html:script><![CDATA[{_runs('xhtml')};]]></html:script>"
SVG_ONLOAD = f'<svg:svg width="1" height="1" onload={quoteattr(_runs("svg"))}/>'
META_REFRESH = f'<html:meta http-equiv="refresh" content="0;url=/processes/{KEY}?pwned=meta"/>'
# The kinds of active content an upload can carry: (diagram, forms uploaded with it).
PAYLOADS: dict[str, tuple[bytes, dict[str, bytes] | None]] = {
    "xhtml-script": (diagram(documentation="Läs noga.", extension=XHTML_SCRIPT), None),
    "svg-onload": (diagram(extension=SVG_ONLOAD), None),
    "html-meta-refresh": (diagram(extension=(
        f"<html:html><html:head>{META_REFRESH}</html:head><html:body>Omdirigeras …</html:body></html:html>")), None),
    "form-json-with-html": (diagram(form_ref=FORM_ID), {f"{FORM_ID}.form": HOSTILE_FORM}),
}
ALL_PAYLOADS = diagram(step_name=HOSTILE_NAME, documentation=f"Läs noga. {XHTML_SCRIPT}",
                       extension=SVG_ONLOAD + META_REFRESH)


def _draft(engine: Engine, people: dict[str, Person], payload: bytes, forms: dict[str, bytes] | None = None) -> None:
    """Version 1 published at set-up, version 2 (the payload) a draft uploaded by the designer."""
    processes.deploy(engine, SYSTEM, diagram())
    [d] = processes.deploy(engine, people["designer"].actor, payload, "aktiv.bpmn", forms)
    assert (d.version, d.status) == (2, "draft")


def _still_a_draft(engine: Engine) -> None:
    """Version 2 is still a draft and the process history records no approval of it."""
    version = processes.get_version(engine, KEY, 2)
    assert (version["status"], version["approved_by"]) == ("draft", None)
    assert [e["type"] for e in version["history"]] == ["version_uploaded"]
    assert not [e for e in processes.get_process(engine, KEY)["history"] if e["type"] == "version_approved"
                and e["version"] == 2]


def _signed_in(app: Any, engine: Engine, name: str) -> Any:
    """A test client with `name` signed in to the pages."""
    identity.set_password(engine, name, PASSWORD)
    browser = app.test_client()
    sign_in(browser, name)
    return browser


def _policy(response: Any) -> dict[str, str]:
    """The response's Content-Security-Policy as {directive: sources}."""
    out = {}
    for part in response.headers.get("Content-Security-Policy", "").split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            out[name] = value.strip()
    return out


# -- nothing runs: a process owner opens the hostile draft in Chromium ----------------------------


def test_a_process_owner_opening_a_hostile_diagram_runs_nothing_and_approves_nothing(web: Web) -> None:
    """The designer's draft carries an XHTML script, an SVG onload and a meta refresh, each of
    which (run as a page in Rutin's origin) would fetch the process page's CSRF token and approve
    the draft with the owner's session. The owner opens the diagram's addresses and the process
    page that draws it: the addresses are downloads, the page draws the diagram, nothing ran."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    engine = web.engine
    _draft(engine, web.people, ALL_PAYLOADS)
    web.user("owner", [])
    requests: list[str] = []
    web.context.on("request", lambda r: requests.append(f"{r.method} {r.url}"))
    page = web.sign_in("owner", start=f"/processes/{KEY}")

    # the diagram's addresses, followed as links or typed: each a download, never a page (the API's
    # with the owner's token too, as a browser that adds it would send it)
    api_page = web.context.new_page()
    api_page.set_extra_http_headers(web.people["owner"].headers)
    for tab, url in ((page, f"/processes/{KEY}/versions/2/diagram"), (api_page, f"/api/processes/{KEY}/versions/2/bpmn")):
        with tab.expect_download() as download:
            try:
                tab.goto(url)
            except PlaywrightError as exc:  # a navigation that ends in a download is no page load
                assert "Download is starting" in str(exc)
        assert download.value.suggested_filename == f"{KEY}-v2.bpmn"
        assert Path(download.value.path()).read_bytes() == ALL_PAYLOADS
    api_page.close()

    # the process page draws the draft with bpmn-js (which fetches the same address), its step's
    # name as text
    page.goto(f"/processes/{KEY}")
    expect(page.locator("#diagram")).to_have_attribute("data-state", "ready")
    expect(page.locator('#diagram .djs-element[data-element-id="a"]')).to_contain_text(HOSTILE_NAME)
    expect(page.locator('tr[data-version="2"] .status')).to_have_text("Utkast")
    # bpmn-js's own markup (its bpmn.io notice) is styled by its stylesheet, not inline style
    page.locator(".bjs-powered-by").click()
    expect(page.locator(".bjs-powered-by-lightbox")).to_be_visible()

    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('rutin-pwned'))") == []
    assert [r for r in requests if "pwned" in r or "approve" in r] == []
    assert f"GET {web.base}/processes/{KEY}/versions/2/diagram" in requests  # the viewer's fetch
    _still_a_draft(engine)
    assert web.errors == []


# -- every route that serves an upload's bytes sends a download that cannot run --------------------

ROUTES = {
    "api": f"/api/processes/{KEY}/versions/2/bpmn",
    "page": f"/processes/{KEY}/versions/2/diagram",
}


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_an_uploaded_diagram_is_only_ever_a_sandboxed_download(app: Any, engine: Engine, people: dict[str, Person],
                                                               route: str, payload: str) -> None:
    data, forms = PAYLOADS[payload]
    _draft(engine, people, data, forms)
    owner = _signed_in(app, engine, "owner") if route == "page" else app.test_client()
    before = db_state(engine)

    r = owner.get(ROUTES[route], headers=people["owner"].headers if route == "api" else {})

    assert r.status_code == 200 and r.data == data  # byte for byte, as uploaded
    assert r.headers["Content-Disposition"] == f'attachment; filename="{KEY}-v2.bpmn"'
    assert r.headers["Content-Type"] == "application/xml"  # not HTML, and no charset the XML does not declare
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    policy = _policy(r)
    assert "sandbox" in policy and policy["sandbox"] == ""  # no allow-scripts, no allow-same-origin
    assert policy["default-src"] == "'none'"
    assert_no_effect(before, db_state(engine))
    _still_a_draft(engine)


@pytest.mark.parametrize("key, expected", [
    ('x&quot;; filename=&quot;evil.html', "x_filenameevil.html-v1.bpmn"),
    ("ärende&lt;script&gt;", "arendescript-v1.bpmn"),
])
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_the_download_name_is_sanitized(app: Any, engine: Engine, people: dict[str, Person], route: str, key: str,
                                        expected: str) -> None:
    """A process id is the uploader's text: the download's file name is made of safe characters
    only (no quote to end the header's value early and name an .html file, no markup)."""
    [d] = processes.deploy(engine, SYSTEM, diagram(key=key))
    url = quote(ROUTES[route].replace(KEY, d.key).replace("/versions/2/", "/versions/1/"))
    browser = _signed_in(app, engine, "owner") if route == "page" else app.test_client()
    before = db_state(engine)
    r = browser.get(url, headers=people["owner"].headers if route == "api" else {})
    assert r.status_code == 200
    assert r.headers.getlist("Content-Disposition") == [f'attachment; filename="{expected}"']
    assert_no_effect(before, db_state(engine))


# -- the security headers, on every kind of response -------------------------------------------------

# kind: (who asks, method, address, Accept, status, whether it is a page)
KINDS = {
    "page": ("owner", "GET", f"/processes/{KEY}", None, 200, True),
    "sign-in page": ("anonymous", "GET", "/login", None, 200, True),
    "redirect to sign in": ("anonymous", "GET", "/", None, 302, True),
    "error page": ("owner", "GET", "/finns-inte", "text/html", 404, True),
    "refused form (no CSRF token)": ("owner", "POST", f"/processes/{KEY}/versions/2/approve", None, 400, True),
    "API JSON": ("owner token", "GET", f"/api/processes/{KEY}", None, 200, False),
    "problem details": ("anonymous", "GET", "/api/me", None, 401, False),
    "static file": ("anonymous", "GET", "/static/rutin.js", None, 200, False),
    "vendor file": ("anonymous", "GET", "/static/vendor/htmx.min.js", None, 200, False),
    "diagram download (API)": ("owner token", "GET", f"/api/processes/{KEY}/versions/2/bpmn", None, 200, False),
    "diagram download (page)": ("owner", "GET", f"/processes/{KEY}/versions/2/diagram", None, 200, False),
    "CSV download": ("admin token", "GET", "/api/measures?format=csv", None, 200, False),
}
PAGE_KINDS = [k for k, v in KINDS.items() if v[5]]


@pytest.fixture
def responses(app: Any, engine: Engine, people: dict[str, Person]) -> dict[str, Any]:
    """One response of each kind, around a hostile draft; none of the requests changed anything
    (the refused form did not approve the draft)."""
    _draft(engine, people, ALL_PAYLOADS)
    owner, anonymous = _signed_in(app, engine, "owner"), app.test_client()
    before = db_state(engine)
    out = {}
    for kind, (who, method, url, accept, status, page) in KINDS.items():
        headers = {"Accept": accept} if accept else {}
        if who.endswith(" token"):
            headers.update(people[who.split()[0]].headers)
        r = (owner if who == "owner" else anonymous).open(url, method=method, headers=headers)
        assert (r.status_code, r.mimetype == "text/html") == (status, page), (kind, r.data[:300])
        out[kind] = r
    assert_no_effect(before, db_state(engine))
    _still_a_draft(engine)
    return out


def test_every_response_is_taken_for_the_type_it_is_sent_as(responses: dict[str, Any]) -> None:
    assert {k: r.headers.get("X-Content-Type-Options") for k, r in responses.items()} == \
        dict.fromkeys(KINDS, "nosniff")


def test_every_response_keeps_its_address_within_the_site(responses: dict[str, Any]) -> None:
    assert {k: r.headers.get("Referrer-Policy") for k, r in responses.items()} == dict.fromkeys(KINDS, "same-origin")


def test_no_response_can_be_framed(responses: dict[str, Any]) -> None:
    assert {k: r.headers.get("X-Frame-Options") for k, r in responses.items()} == dict.fromkeys(KINDS, "DENY")
    assert {k: _policy(r).get("frame-ancestors") for k, r in responses.items()} == dict.fromkeys(KINDS, "'none'")


def test_every_page_runs_only_rutins_own_script_files(responses: dict[str, Any]) -> None:
    wanted = {"default-src": "'self'", "script-src": "'self'", "style-src": "'self'", "object-src": "'none'",
              "base-uri": "'none'", "form-action": "'self'"}
    for kind in PAGE_KINDS:
        policy = _policy(responses[kind])
        assert {d: policy.get(d) for d in wanted} == wanted, kind
        # no 'unsafe-inline', 'unsafe-eval', 'unsafe-hashes', no host or scheme beyond 'self'
        assert all(v in ("'self'", "'none'") for v in policy.values()), (kind, policy)


def test_every_other_response_may_load_and_run_nothing(responses: dict[str, Any]) -> None:
    for kind in set(KINDS) - set(PAGE_KINDS):
        policy = _policy(responses[kind])
        assert (policy.get("default-src"), policy.get("sandbox")) == ("'none'", ""), kind


# -- the pages' markup: no inline script, no handler attributes, htmx without eval ---------------------


class _Markup(HTMLParser):
    """What in a page would run as script, or need an inline-style or eval exception."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self.htmx_config: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name, value in attrs:
            if name.startswith("on") or name.startswith("hx-on") or name == "style":
                self.found.append(f"<{tag} {name}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")
        if tag == "script" and not a.get("src") and a.get("type") != "application/json":
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        if tag == "meta" and a.get("name") == "htmx-config":
            self.htmx_config = json.loads(a.get("content") or "{}")


def test_no_page_carries_inline_script_or_lets_htmx_eval(app: Any, engine: Engine, people: dict[str, Person]) -> None:
    """Every page, on a case of a hostile version: nothing the policy would refuse is in the
    markup (so the policy breaks nothing), and htmx is configured to evaluate nothing."""
    _draft(engine, people, ALL_PAYLOADS)
    processes.approve(engine, people["owner"].actor, KEY, 2)
    started = cases.start_case(engine, SYSTEM, KEY, {}, "AKT-1")
    admin = _signed_in(app, engine, "admin")
    pages = ["/", "/cases", "/processes", f"/processes/{KEY}", "/notifications", "/matetal", "/delegationsbeslut",
             "/finns-inte", f"/tasks/{started['open_tasks'][0]['id']}", f"/cases/{started['id']}"]
    before = db_state(engine)
    for path in [*pages, "/login"]:
        r = (app.test_client() if path == "/login" else admin).get(path, headers={"Accept": "text/html"})
        assert (r.status_code, r.mimetype) == (404 if path == "/finns-inte" else 200, "text/html"), path
        markup = _Markup()
        markup.feed(r.get_data(as_text=True))
        assert markup.found == [], path
        assert markup.htmx_config == {"allowEval": False, "allowScriptTags": False,
                                      "includeIndicatorStyles": False}, path
    assert_no_effect(before, db_state(engine))


# -- what an upload names is text on every page that shows it --------------------------------------------


def _escaped(body: str, *texts: str) -> None:
    """Each text appears escaped, never as markup."""
    for text in texts:
        assert text not in body, f"unescaped: {text}"
        assert str(escape(text)) in body, f"missing: {text}"


@pytest.fixture
def shown(app: Any, engine: Engine, people: dict[str, Person]) -> dict[str, Any]:
    """A published hostile process (names, lane, documentation and form all markup), a case of it
    with data its handler (lena, of the lane's role) entered as markup, an open task, and test
    clients signed in to the pages as an admin and as lena."""
    data = diagram(name=f"{SCRIPT}Process", step_name=HOSTILE_NAME, lane=HOSTILE_LANE, form_ref=FORM_ID,
                   documentation=html.escape(f"Läs {SCRIPT} noga."))
    processes.deploy(engine, SYSTEM, data, "aktiv.bpmn", {f"{FORM_ID}.form": HOSTILE_FORM})
    identity.add_user(engine, "lena", [HOSTILE_LANE])
    lena = identity.get_actor(engine, "lena")
    done = cases.start_case(engine, SYSTEM, KEY, {}, "AKT-1")
    tasks.complete(engine, lena, done["open_tasks"][0]["id"], {"kommentar": SCRIPT, "antal": 2, "val": "nej"})
    open_case = cases.start_case(engine, SYSTEM, KEY, {}, "AKT-2")
    return {"browser": _signed_in(app, engine, "admin"), "done": done["id"], "task": open_case["open_tasks"][0]["id"],
            "lena": _signed_in(app, engine, "lena")}


@pytest.mark.parametrize("page", ["processes", "process", "task", "case", "inbox"])
def test_uploaded_names_are_text_on_the_pages(engine: Engine, shown: dict[str, Any], page: str) -> None:
    url = {"processes": "/processes", "process": f"/processes/{KEY}", "task": f"/tasks/{shown['task']}",
           "case": f"/cases/{shown['done']}", "inbox": "/?visa=all"}[page]
    browser = shown["lena"] if page == "inbox" else shown["browser"]
    before = db_state(engine)
    body = browser.get(url).get_data(as_text=True)
    expected = {
        "processes": [f"{SCRIPT}Process", HOSTILE_LANE],
        "process": [f"{SCRIPT}Process", f"Läs {SCRIPT} noga.", HOSTILE_NAME],
        "task": [HOSTILE_NAME, f"{IMG}Kommentar", f"{SCRIPT}Val", SCRIPT, HOSTILE_LANE],
        "case": [f"{SCRIPT}Process", HOSTILE_NAME, f"{IMG}Kommentar", SCRIPT],
        "inbox": [HOSTILE_NAME, f"{SCRIPT}Process"],
    }[page]
    _escaped(body, *expected)
    assert "<script>alert" not in body and "<img src=x" not in body
    if page == "task":  # a choice's value and a limit stay inside their attribute
        assert 'value="a&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;"' in body
        assert 'min="1&#34; autofocus onfocus=&#34;alert(1)"' in body
    assert_no_effect(before, db_state(engine))


def test_an_uploaded_file_name_and_its_diagnostics_are_text_on_the_upload_page(
        app: Any, engine: Engine, people: dict[str, Person]) -> None:
    designer = _signed_in(app, engine, "designer")
    found = re.search(r'name="csrf" value="([^"]+)"', designer.get("/processes").get_data(as_text=True))
    assert found is not None
    csrf = found.group(1)
    name = f"{IMG}.bpmn"
    r = designer.post("/processes", data={"csrf": csrf, "file": (io.BytesIO(diagram(step_name=HOSTILE_NAME)), name)},
                      content_type="multipart/form-data")
    assert r.status_code == 201
    body = r.get_data(as_text=True)
    _escaped(body, name, HOSTILE_NAME)  # the heading, and the diagnostic naming the step
    assert "<img src=x" not in body
    # the upload is a draft; showing it approved nothing
    version = processes.get_version(engine, KEY, 1)
    assert (version["status"], version["approved_by"]) == ("draft", None)
