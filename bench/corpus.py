"""`make corpus`: every BPMN file of the shared corpus through Rutin, with a table per tool folder.

For each file (`*.bpmn` and `*.bpmn20.xml`): does it deploy (through the same engine function as
the API) or is it refused, and with which diagnostic kinds; and is each deployed process walked
from start to end *honestly* (`bench.honest_walk`): as users holding the roles its tasks are
offered to, with no variable injection and no retry, supplying only what a form would (its
defaults, the first option of a choice, typed samples in required fields), taking decisions by
choice among the offered flows, delivering the diagram's messages and moving the clock to the next
timer. A walk that stops is counted as *predicted* when the upload carried a warning on the
element where it stopped (or naming a variable the stop message names), else as a bug ("stopped
without warning"). A file or walk that raises anything but a Rutin refusal is a "krasch" (an
HTTP 500), counted and listed; the run goes on.

Method: one in-process engine on a temporary SQLite database and a manual clock. Many corpus
files share process ids (a tool's round trip keeps the reference's ids), so a later file makes a
new *draft* version of an existing key; the draft is approved (by a second admin, as the four-eyes
rule asks) before its case starts, so every file's own version is the one walked.

Run as `python -m bench.corpus [CORPUS_DIR] [--no-walk]`.
"""

from __future__ import annotations

import collections
import hashlib
import re
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = next((p for p in (ROOT.parent / "shared" / "corpus", Path("/work/shared/corpus")) if p.is_dir()),
              ROOT.parent / "shared" / "corpus")
SUFFIXES = (".bpmn", ".bpmn20.xml")


def bpmn_files(corpus: Path) -> list[Path]:
    """Every BPMN file under `corpus`: `*.bpmn` and Flowable's/Activiti's `*.bpmn20.xml`."""
    return sorted(p for p in corpus.rglob("*") if p.is_file() and p.name.lower().endswith(SUFFIXES))


def tool_folder(corpus: Path, path: Path) -> str:
    """The table row of a file: ``miwg/<tool>``, ``camunda7`` (all its examples), or the folder."""
    parts = path.parent.relative_to(corpus).parts
    if not parts:
        return "."
    if parts[0] == "miwg" and len(parts) > 1:
        return f"miwg/{parts[1]}"
    return parts[0]


def _new_row() -> dict[str, Any]:
    return {"files": 0, "deployed": 0, "refused": 0, "processes": 0, "walked": 0, "predicted": 0,
            "unpredicted": 0, "krasch": 0, "kinds": collections.Counter()}


# Warnings on nearly every element of an export (who does a step): they say nothing of where a
# case stops, so they never count as having foretold it.
_NOT_PREDICTING = {"no-role", "lane-unnamed", "role-source"}
_WORD = re.compile(r"[^\W\d]\w*")


def predicted(diagnostics: list[dict[str, Any]], element_id: str | None, reason: str | None,
              visited: set[str] | None = None, waiting: set[str] | None = None) -> bool:
    """Whether an upload warning foretold this stop: one on the element where the walk stopped
    (or, stuck, where the case waits), one naming (in quotes) a variable the stop's message
    names, or, for a walk that goes round without end, a data-flow warning on an element it
    passed (a condition reading what nothing writes never changes its mind)."""
    warnings = [d for d in diagnostics if d.get("severity") == "warning" and d.get("code") not in _NOT_PREDICTING]
    at = ({element_id} if element_id else set()) | (waiting or set())
    if any(d.get("element_id") in at for d in warnings):
        return True
    if any(d.get("element_id") in (visited or set()) for d in warnings if d.get("code") == "unwritten-variable"):
        return True
    words = set(_WORD.findall(reason or ""))
    for d in warnings:
        named = set(re.findall(r"[«'\"]([^\W\d]\w*)[»'\"]", d.get("message") or ""))
        if named & words:
            return True
    return False


def run(corpus: Path, walk: bool = True) -> dict[str, Any]:
    """Deploy (and walk) every file; return per-folder counts, diagnostic kinds, stops and crashes."""
    from bench.honest_walk import People, Stop
    from bench.honest_walk import walk as honest_walk
    from engine.authority import identity
    from engine.authority.identity import SYSTEM
    from engine.base.clock import ManualClock
    from engine.base.errors import RutinError
    from engine.base.settings import Settings
    from engine.catalogue import processes
    from engine.core import Engine
    from engine.service import walkthrough

    tmp = tempfile.mkdtemp(prefix="rutin-corpus-")
    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": tmp}), ManualClock())
    engine.migrate()
    identity.add_user(engine, "corpus-approver", ["admin"])
    approver = identity.get_actor(engine, "corpus-approver")
    people = People(engine)

    table: dict[str, Any] = collections.defaultdict(_new_row)
    # Byte-identical files (a tool that exported the reference unchanged) are one version: the
    # second upload returns the first's, which may no longer be the latest; its walk is reused.
    walked_before: dict[tuple[bytes, str], Stop] = {}
    refusals: list[tuple[str, list[str]]] = []
    stops: list[tuple[str, str, Stop, bool]] = []
    crashes: list[tuple[str, str, str]] = []
    for path in bpmn_files(corpus):
        row = table[tool_folder(corpus, path)]
        name = str(path.relative_to(corpus))
        row["files"] += 1
        data = path.read_bytes()
        try:
            deployed = processes.deploy(engine, SYSTEM, data, path.name)
        except RutinError as exc:
            row["refused"] += 1
            codes = [d["code"] for d in exc.extra.get("diagnostics", []) if d["severity"] == "error"]
            row["kinds"].update(f"error:{c}" for c in codes)
            refusals.append((name, sorted(set(codes))))
            continue
        except Exception as exc:  # a crash is what is being counted
            row["krasch"] += 1
            crashes.append((name, "(uppladdning)", _crash(exc)))
            continue
        row["deployed"] += 1
        for d in deployed:
            row["kinds"].update(f"{diag['severity']}:{diag['code']}" for diag in d.diagnostics)
        if not walk:
            continue
        names = walkthrough.message_names(data)
        digest = hashlib.sha256(data).digest()
        for d in deployed:
            row["processes"] += 1
            stop = walked_before.get((digest, d.key))
            if stop is None:
                try:
                    if d.status == "draft":
                        processes.approve(engine, approver, d.key, d.version)
                    start_form = [asdict(f) for f in engine.model(d.id).start_form]
                    stop = honest_walk(engine, people, d.key, names, start_form)
                except Exception as exc:  # a crash is what is being counted
                    stop = Stop("krasch", None, _crash(exc))
                walked_before[(digest, d.key)] = stop
            if stop.status == "completed":
                row["walked"] += 1
            elif stop.status == "krasch":
                row["krasch"] += 1
                crashes.append((name, d.key, stop.reason or ""))
            else:
                hit = predicted(d.diagnostics, stop.element_id, stop.reason, stop.visited, stop.waiting)
                row["predicted" if hit else "unpredicted"] += 1
                stops.append((name, d.key, stop, hit))
    engine.close()
    return {"table": dict(table), "refusals": refusals, "stops": stops, "crashes": crashes}


def _crash(exc: BaseException) -> str:
    """A crash in one line: the exception and the innermost frame of Rutin's own code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "site-packages" not in f.filename]
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {str(exc)[:200]}{where}"


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


COLUMNS = ("files", "deployed", "refused", "processes", "walked", "predicted", "unpredicted", "krasch")


def _row(folder: str, row: Any) -> str:
    """One line of the table: counts, and the share of processes walked to an end."""
    return (f"{folder[:40]:40} {row['files']:5} {row['deployed']:6} {row['refused']:6} {row['processes']:5} "
            f"{row['walked']:6} {row['predicted']:8} {row['unpredicted']:9} {row['krasch']:6} "
            f"{_rate(row['walked'], row['processes']):>6}")


def main() -> None:
    """Print the table, the diagnostic kinds per folder, refusals, stops and crashes."""
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    corpus = Path(args[0]) if args else CORPUS
    started = time.perf_counter()
    result = run(corpus, walk="--no-walk" not in sys.argv)
    table = result["table"]
    print(f"{'folder':40} {'files':>5} {'deploy':>6} {'refuse':>6} {'procs':>5} {'walked':>6} {'stop+warn':>8} "
          f"{'stop-warn':>9} {'krasch':>6} {'walk%':>6}")
    totals: collections.Counter[str] = collections.Counter()
    for folder, row in sorted(table.items()):
        print(_row(folder, row))
        for k in COLUMNS:
            totals[k] += row[k]
    print(_row("ALL", totals))
    print(f"({time.perf_counter() - started:.0f} s)")

    print("\ndiagnostic kinds per folder (errors refuse a file; warnings and infos say what Rutin assumed):")
    for folder, row in sorted(table.items()):
        kinds = ", ".join(f"{k}×{n}" for k, n in sorted(row["kinds"].items(), key=lambda kv: (-kv[1], kv[0])))
        print(f"  {folder}: {kinds or '-'}")
    if result["refusals"]:
        print("\nrefused files and their error codes:")
        for name, codes in result["refusals"]:
            print(f"  {name}: {', '.join(codes)}")
    if result["crashes"]:
        print("\nkrasch (would answer 500):")
        for name, key, what in result["crashes"]:
            print(f"  {name} {key}: {what}")
    for label, want in (("stopped WITHOUT a predicting upload warning", False),
                        ("stopped with a predicting upload warning", True)):
        chosen = [s for s in result["stops"] if s[3] is want]
        if chosen:
            print(f"\n{label}:")
            for name, key, stop, _ in chosen:
                print(f"  {name} {key} {stop.status} at {stop.element_id}: {stop.reason}")


if __name__ == "__main__":
    main()
