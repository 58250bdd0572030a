"""Rewrite references to moved engine modules, from the map in tools/engine_moves.txt.

    python tools/rehome_imports.py DIR_OR_FILE...

Used when engine/ was cut into sub-packages, and again when a branch written against the flat
layout is merged: it rewrites, in .py files,

- absolute imports: ``from engine.history import x``, ``import engine.history as h``,
  ``from engine import history, org`` (split into one line per new package);
- relative imports inside engine/: ``from .history import x``, ``from . import history``,
  resolved against the file's own package (or, for a file that itself moved, its old package);
- dotted names in strings and comments: monkeypatch targets ``"engine.history.now"``,
  docstrings naming ``engine.history``; and ``engine.history.x`` in code after ``import engine.history``;

and in other text files (pyproject.toml, Makefile, *.ini, *.cfg, *.md) dotted names and paths
(``engine/migrations/versions/*``). Running it twice changes nothing the second time: a new name
never matches an old one, and a relative import that already resolves to an existing module or to
a new name is left alone.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOVES_FILE = Path(__file__).resolve().parent / "engine_moves.txt"
TEXT_SUFFIXES = {".toml", ".ini", ".cfg", ".md", ".txt", ".mako"}
TEXT_NAMES = {"Makefile", "Dockerfile"}
SKIP_DIRS = {".venv", "node_modules", ".git", "__pycache__", ".mypy_cache", ".ruff_cache"}


def load_moves() -> dict[str, str]:
    moves: dict[str, str] = {}
    for line in MOVES_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            old, new = (part.strip() for part in line.split("->"))
            moves[old] = new
    return moves


MOVES = load_moves()
NEW_TO_OLD = {new: old for old, new in MOVES.items()}
# Longest first, so engine.migrations.env is seen as engine.migrations + .env.
_OLD_ALT = "|".join(re.escape(o[len("engine."):]) for o in sorted(MOVES, key=len, reverse=True))
DOTTED = re.compile(rf"(?<![\w.])engine\.({_OLD_ALT})(?![\w])")
SLASHED = re.compile(rf"(?<![\w/])engine/({_OLD_ALT})(?=/|\.py\b)")


def module_exists(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def module_of(path: Path) -> tuple[str, bool] | None:
    """The dotted name of a file under ROOT, and whether it is a package's __init__."""
    try:
        rel = path.resolve().relative_to(ROOT)
    except ValueError:
        return None
    parts = list(rel.with_suffix("").parts)
    is_pkg = parts[-1] == "__init__"
    if is_pkg:
        parts = parts[:-1]
    return ".".join(parts), is_pkg


def new_name(old: str) -> str | None:
    """The new name of a module or of a name inside one (engine.history.now), or None if not moved."""
    for o in sorted(MOVES, key=len, reverse=True):
        if old == o or old.startswith(o + "."):
            return MOVES[o] + old[len(o):]
    return None


def resolve(package: str, level: int, module: str) -> str:
    base = package.split(".")
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def relative(target: str, package: str) -> tuple[str, str]:
    """``from <dots><rest>`` that names target from inside package: (dots, rest)."""
    pkg = package.split(".")
    tgt = target.split(".")
    common = 0
    while common < len(pkg) and common < len(tgt) and pkg[common] == tgt[common]:
        common += 1
    dots = "." * (len(pkg) - common + 1)
    return dots, ".".join(tgt[common:])


FROM_IMPORT = re.compile(
    r"^(?P<indent>[ \t]*)from[ \t]+(?P<dots>\.*)(?P<mod>[\w.]*)[ \t]+import[ \t]+"
    r"(?P<names>\((?:[^)#]|#[^\n]*)*\)|[^\n#]*?(?:\\\n[^\n#]*?)*)(?P<tail>[ \t]*(?:#[^\n]*)?)$",
    re.M,
)
IMPORT = re.compile(r"^(?P<indent>[ \t]*)import[ \t]+(?P<mods>[\w. ,]+?)(?P<tail>[ \t]*(?:#[^\n]*)?)$", re.M)


def split_names(names: str) -> list[str]:
    """The imported names, each with the comment that followed it (``x  # noqa: F401``)."""
    inner = names.strip()
    if inner.startswith("("):
        inner = inner[1:-1]
    items: list[str] = []
    for line in inner.replace("\\\n", " ").splitlines():
        code, _, comment = line.partition("#")
        parts = [n.strip() for n in code.split(",") if n.strip()]
        if comment and parts:
            parts[-1] += "  #" + comment.rstrip()
        items += parts
    return items


def format_from(indent: str, source: str, names: list[str], multiline: bool) -> str:
    if any("#" in n for n in names) or (multiline and len(names) > 1):
        body = "".join(
            f"{indent}    {n.split('  #')[0]},  #{n.split('  #', 1)[1]}\n" if "  #" in n else f"{indent}    {n},\n"
            for n in names
        )
        return f"{indent}from {source} import (\n{body}{indent})"
    return f"{indent}from {source} import {', '.join(names)}"


def rewrite_python(text: str, path: Path) -> str:
    me = module_of(path)
    package = old_package = None
    if me is not None:
        name, is_pkg = me
        package = name if is_pkg else name.rsplit(".", 1)[0] if "." in name else ""
        old_self = NEW_TO_OLD.get(name)
        if old_self is not None:
            old_package = old_self if is_pkg else old_self.rsplit(".", 1)[0]

    def place(absolute: str, style_relative: bool, current: str | None) -> str:
        """How to name a (new) absolute module from here, keeping the import's style."""
        if style_relative and current is not None and absolute.split(".")[0] == current.split(".")[0]:
            dots, rest = relative(absolute, current)
            return dots + rest
        return absolute

    def moved_from_here(level: int, mod: str) -> str | None:
        """The new name of what a relative import meant, or None if it is still right."""
        assert package is not None
        target = resolve(package, level, mod)
        if module_exists(target) or target in NEW_TO_OLD:
            return None
        moved = new_name(target)
        if moved is None and old_package is not None:
            before = resolve(old_package, level, mod)
            moved = new_name(before) or (before if module_exists(before) else None)
        return moved

    def fix_from(m: re.Match[str]) -> str:
        indent, dots, mod, names, tail = m["indent"], m["dots"], m["mod"], m["names"], m["tail"]
        level = len(dots)
        if level and package is None:
            return m[0]
        multiline = names.strip().startswith("(") and "\n" in names
        if mod and (level or mod != "engine"):
            moved = moved_from_here(level, mod) if level else new_name(mod)
            if moved is None:
                return m[0]
            return format_from(indent, place(moved, bool(level), package), split_names(names), multiline) + tail
        if not level and mod != "engine":
            return m[0]
        # `from engine import a, b` / `from . import a, b`: each name may have gone elsewhere.
        source = resolve(package, level, "") if level else "engine"  # type: ignore[arg-type]
        groups: dict[str, list[str]] = {}
        changed = False
        for item in split_names(names):
            base = item.split("#")[0].split(" as ")[0].strip()
            dest = moved_from_here(level, base) if level else (
                None if module_exists(f"engine.{base}") else new_name(f"engine.{base}")
            )
            if dest is not None:
                changed = True
                src = dest.rsplit(".", 1)[0]
            else:
                src = source
            groups.setdefault(src, []).append(item)
        if not changed:
            return m[0]
        lines = [
            format_from(indent, place(src, bool(level), package), items, multiline)
            for src, items in groups.items()
        ]
        return "\n".join(lines) + tail

    def fix_import(m: re.Match[str]) -> str:
        parts = []
        for item in m["mods"].split(","):
            item = item.strip()
            name, _, alias = item.partition(" as ")
            moved = new_name(name.strip())
            parts.append(f"{moved} as {alias.strip()}" if moved and alias else (moved or item))
        return f"{m['indent']}import {', '.join(parts)}{m['tail']}"

    text = FROM_IMPORT.sub(fix_from, text)
    text = IMPORT.sub(fix_import, text)
    # Dotted names anywhere else (strings, comments, `engine.history.x` after `import engine.history`).
    # A variable called `engine` (the Engine object) is never followed by a moved module's name
    # unless that name is one of its attributes, so only rewrite those in strings and comments.
    attrs = {"settings", "clock", "db", "scheduler"}
    out = []
    for line in text.splitlines(keepends=True):
        out.append(DOTTED.sub(lambda d, line=line: _dotted(d, line, attrs), line))
    return "".join(out)


def _dotted(d: re.Match[str], line: str, attrs: set[str]) -> str:
    if d.group(1).split(".")[0] in attrs:
        # `engine.settings` in code is the Engine object's attribute (also inside an f-string or a
        # comment); only a whole quoted or backticked dotted name means the module.
        before, after = line[: d.start()], line[d.end():]
        rest = re.match(r"[\w.]*", after)
        closing = after[rest.end() if rest else 0 : (rest.end() if rest else 0) + 1]
        if not (before[-1:] in "\"'`" and before[-1:] and closing == before[-1:]):
            return d.group(0)
    return new_name("engine." + d.group(1)) or d.group(0)


def rewrite_text(text: str) -> str:
    text = DOTTED.sub(lambda d: new_name("engine." + d.group(1)) or d.group(0), text)
    return SLASHED.sub(lambda d: (new_name("engine." + d.group(1)) or "").replace(".", "/"), text)


def files(args: list[str]) -> list[Path]:
    found: list[Path] = []
    for arg in args:
        p = Path(arg)
        if p.is_file():
            found.append(p)
            continue
        for f in sorted(p.rglob("*")):
            if f.is_file() and not SKIP_DIRS.intersection(f.parts):
                found.append(f)
    return found


def main(args: list[str]) -> int:
    if not args:
        print(__doc__)
        return 2
    here = Path(__file__).resolve()
    for f in files(args):
        if f.resolve() in (here, MOVES_FILE):
            continue
        if f.suffix == ".py":
            new = rewrite_python(f.read_text(), f)
        elif f.suffix in TEXT_SUFFIXES or f.name in TEXT_NAMES:
            new = rewrite_text(f.read_text())
        else:
            continue
        if new != f.read_text():
            f.write_text(new)
            print(f"rewrote {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
