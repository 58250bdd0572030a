"""Engine and diagram code never read the wall clock: time comes from the injected clock."""

from __future__ import annotations

import ast

from conftest import ROOT

# (object, attribute) calls that read the wall clock
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
              ("time", "time"), ("time", "time_ns")}


def _reads(path: str, source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else None
            if (name, node.func.attr) in WALL_CLOCK:
                found.append(f"{path}:{node.lineno}: {name}.{node.func.attr}()")
    return found


def test_no_direct_wall_clock_reads_outside_the_clock() -> None:
    reads = []
    for package in ("engine", "bpmn"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == "engine/base/clock.py":
                continue
            reads += _reads(rel, path.read_text(encoding="utf-8"))
    assert reads == []


def test_the_check_sees_a_wall_clock_read() -> None:
    assert _reads("x.py", "import datetime\nx = datetime.datetime.now()\ny = time.time()\n") == [
        "x.py:2: datetime.now()", "x.py:3: time.time()"]
