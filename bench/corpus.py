"""`make corpus`: every BPMN file of the shared corpus through Rutin, with a table per tool folder.

For each file: does it deploy (through the same engine function as the API) or is it refused,
and with which diagnostic kinds; does each deployed process with a start event walk from start
to end (`engine.service.walkthrough`: complete whatever task is open, take the least-taken option at
decisions, deliver the messages the diagram defines, move the clock to the next timer)?

Method: one in-process engine on a temporary SQLite database and a manual clock. Many corpus
files share process ids (a tool's round trip keeps the reference's ids), so a later file makes a
new *draft* version of an existing key; the draft is approved (by a second admin, as the four-eyes
rule asks) before its case starts, so every file's own version is the one walked.

Run as `python -m bench.corpus [CORPUS_DIR] [--no-walk]`.
"""

from __future__ import annotations

import collections
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = next((p for p in (ROOT.parent / "shared" / "corpus", Path("/work/shared/corpus")) if p.is_dir()),
              ROOT.parent / "shared" / "corpus")


def tool_folder(corpus: Path, path: Path) -> str:
    """The table row of a file: ``miwg/<tool>``, ``camunda7`` (all its examples), or the folder."""
    parts = path.parent.relative_to(corpus).parts
    if not parts:
        return "."
    if parts[0] == "miwg" and len(parts) > 1:
        return f"miwg/{parts[1]}"
    return parts[0]


def _new_row() -> dict[str, Any]:
    return {"files": 0, "deployed": 0, "refused": 0, "processes": 0, "walked": 0,
            "kinds": collections.Counter()}


def run(corpus: Path, walk: bool = True) -> dict[str, Any]:
    """Deploy (and walk) every file; return per-folder counts, diagnostic kinds and failures."""
    from engine.authority import identity
    from engine.authority.identity import SYSTEM
    from engine.base.clock import ManualClock
    from engine.base.errors import RutinError
    from engine.base.settings import Settings
    from engine.catalogue import processes
    from engine.core import Engine
    from engine.service import cases, walkthrough

    tmp = tempfile.mkdtemp(prefix="rutin-corpus-")
    engine = Engine(Settings.from_env({"RUTIN_DATA_DIR": tmp}), ManualClock())
    engine.migrate()
    identity.add_user(engine, "corpus-approver", ["admin"])
    approver = identity.get_actor(engine, "corpus-approver")

    table: dict[str, Any] = collections.defaultdict(_new_row)
    # Byte-identical files (a tool that exported the reference unchanged) are one version: the
    # second upload returns the first's, which may no longer be the latest; its walk is reused.
    walked_before: dict[tuple[bytes, str], tuple[str, str | None]] = {}
    refusals: list[tuple[str, list[str]]] = []
    failures: list[tuple[str, str, str, str | None]] = []
    for path in sorted(corpus.rglob("*.bpmn")):
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
        row["deployed"] += 1
        for d in deployed:
            row["kinds"].update(f"{diag['severity']}:{diag['code']}" for diag in d.diagnostics)
        if not walk:
            continue
        names = walkthrough.message_names(data)
        digest = hashlib.sha256(data).digest()
        for d in deployed:
            row["processes"] += 1
            if (digest, d.key) in walked_before:
                status, reason = walked_before[(digest, d.key)]
                row["walked"] += status == "completed"
                if status != "completed":
                    failures.append((name, d.key, status, reason))
                continue
            try:
                if d.status == "draft":
                    processes.approve(engine, approver, d.key, d.version)
                case = cases.start_case(engine, SYSTEM, d.key)
            except RutinError as exc:
                failures.append((name, d.key, "not-started", exc.detail))
                continue
            result = walkthrough.walk(engine, SYSTEM, case["id"], message_names=names)
            walked_before[(digest, d.key)] = (result.status, result.reason)
            if result.status == "completed":
                row["walked"] += 1
            else:
                failures.append((name, d.key, result.status, result.reason))
    engine.close()
    return {"table": dict(table), "refusals": refusals, "failures": failures}


def _rate(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}" if whole else "-"


def _row(folder: str, row: Any) -> str:
    """One line of the table: counts, the share of files deployed and of processes walked."""
    return (f"{folder[:44]:44} {row['files']:5} {row['deployed']:6} {row['refused']:6} "
            f"{_rate(row['deployed'], row['files']):>7} {row['processes']:5} {row['walked']:6} "
            f"{_rate(row['walked'], row['processes']):>6}")


def main() -> None:
    """Print the table, the diagnostic kinds per folder, refusals and walks that did not end."""
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    corpus = Path(args[0]) if args else CORPUS
    started = time.perf_counter()
    result = run(corpus, walk="--no-walk" not in sys.argv)
    table = result["table"]
    print(f"{'folder':44} {'files':>5} {'deploy':>6} {'refuse':>6} {'deploy%':>7} {'procs':>5} {'walked':>6} "
          f"{'walk%':>6}")
    totals: collections.Counter[str] = collections.Counter()
    for folder, row in sorted(table.items()):
        print(_row(folder, row))
        for k in ("files", "deployed", "refused", "processes", "walked"):
            totals[k] += row[k]
    print(_row("ALL", totals))
    print(f"({time.perf_counter() - started:.0f} s)")

    print("\ndiagnostic kinds per folder (errors refuse a file; warnings and infos say what Rutin assumed):")
    for folder, row in sorted(table.items()):
        kinds = ", ".join(f"{k}×{n}" for k, n in sorted(row["kinds"].items(), key=lambda kv: (-kv[1], kv[0])))
        print(f"  {folder}: {kinds or '-'}")
    everything: collections.Counter[str] = collections.Counter()
    for row in table.values():
        everything.update(row["kinds"])
    print("\ndiagnostic kinds, all folders:")
    for kind, n in sorted(everything.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {n:5}  {kind}")
    if result["refusals"]:
        print("\nrefused files and their error codes:")
        for name, codes in result["refusals"]:
            print(f"  {name}: {', '.join(codes)}")
    if result["failures"]:
        print("\nprocesses that deployed but did not walk to an end:")
        for name, key, status, reason in result["failures"]:
            print(f"  {name} {key} {status}: {reason}")


if __name__ == "__main__":
    main()
