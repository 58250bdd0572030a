"""Checks every browser test can run on the page it is on: axe-core's accessibility rules and the
page's reflow (no horizontal scrolling of the page itself).

axe-core comes from npm (package.json, like bpmn-js) and is evaluated in the page through the
DevTools protocol, which the page's Content-Security-Policy does not govern: the pages serve no
script for the tests' sake, and the policy stays as strict as in use.
"""

from __future__ import annotations

from typing import Any

from conftest import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = {"dator": (1366, 900), "mobil": (390, 844)}
BLOCKING = ("serious", "critical")
_source: list[str] = []


def axe_source() -> str:
    """axe-core's script, read once; a clear failure when `npm install` has not been run."""
    if not _source:
        if not AXE.is_file():
            raise AssertionError(f"axe-core is missing at {AXE}: run `make .venv/.installed` (npm ci).")
        _source.append(AXE.read_text(encoding="utf-8"))
    return _source[0]


def axe_violations(page: Any) -> list[str]:
    """The serious and critical axe-core violations of the page as it is now, one line each."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source() + "\n;undefined")
    found = page.evaluate(
        """async () => {
             const r = await window.axe.run(document, {resultTypes: ['violations']});
             return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
           }""")
    return [f"{v['impact']}: {v['id']} ({v['help']}) at {', '.join(v['nodes'])}"
            for v in found if v["impact"] in BLOCKING]


def overflow(page: Any) -> int:
    """By how many pixels the page is wider than the viewport (0: no horizontal scrolling)."""
    return int(page.evaluate(
        "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - window.innerWidth"))


def audit(page: Any, where: str, problems: list[str], *, reflow: tuple[int, ...] = ()) -> None:
    """Run axe-core on the page at each of `WIDTHS`, and check at the widths in `reflow` that the
    page does not scroll sideways; every finding is appended to `problems`, named by `where`."""
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        problems.extend(f"{where} [{label} {width}px] {v}" for v in axe_violations(page))
    for width in reflow:
        page.set_viewport_size({"width": width, "height": 800})
        extra = overflow(page)
        if extra > 0:
            problems.append(f"{where} [{width}px] the page scrolls sideways by {extra}px")
    page.set_viewport_size({"width": WIDTHS["dator"][0], "height": WIDTHS["dator"][1]})
