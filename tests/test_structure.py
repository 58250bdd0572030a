"""The code's own structure: rules a change can break without any behaviour changing.

A name starting with "_" is its module's own business: whoever changes that module may rename it,
change what it returns or drop it, and needs to look nowhere else. So no module in bpmn, engine
or webapp imports another one's private name or reaches for it as an attribute (``timers._x``);
what another module needs gets a public name, with a docstring, where it is defined.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bpmn", "engine", "webapp")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _our_modules() -> dict[str, Path]:
    return {_module_name(p): p for package in PACKAGES for p in sorted((ROOT / package).rglob("*.py"))}


def _imported_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute name of the module an import reads from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def private_uses(source: str, module: str, modules: set[str], *, is_package: bool = False) -> list[str]:
    """Where `source` (the text of `module`) uses another of `modules`' private names: imported
    (``from .timers import _x``) or as an attribute of the module (``timers._x``, ``engine.clocks.timers._x``)."""
    tree = ast.parse(source)
    bound: dict[str, str] = {}  # local name -> our module it stands for
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES:
                    # `import engine.clocks.timers` binds `engine`; `import engine.clocks.timers as t` binds `t`.
                    top = alias.name.split(".")[0]
                    bound[alias.asname or top] = alias.name if alias.asname else top
        elif isinstance(node, ast.ImportFrom):
            source_module = _imported_from(node, module, is_package)
            if source_module.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                if f"{source_module}.{alias.name}" in modules:
                    bound[alias.asname or alias.name] = f"{source_module}.{alias.name}"
                if _is_private(alias.name) and source_module != module:
                    found.append(f"{module}:{node.lineno} imports {source_module}.{alias.name}")

    def module_of(expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Name):
            return bound.get(expr.id)
        if isinstance(expr, ast.Attribute):
            base = module_of(expr.value)
            if base is not None and f"{base}.{expr.attr}" in modules:
                return f"{base}.{expr.attr}"
        return None

    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            owner = module_of(node.value)
            if owner is not None and owner != module:
                found.append(f"{module}:{node.lineno} uses {owner}.{node.attr}")
    return found


def test_no_module_uses_another_modules_private_names() -> None:
    modules = _our_modules()
    found = [use for name, path in modules.items()
             for use in private_uses(path.read_text(encoding="utf-8"), name, set(modules),
                                     is_package=path.name == "__init__.py")]
    assert found == [], "Give these a public name (with a docstring) where they are defined:\n" + "\n".join(found)


def test_the_check_sees_each_way_of_reaching_a_private_name() -> None:
    """The rule above proves nothing if the check is blind: each form is caught, a module's own
    names and public names are not."""
    modules = {"engine", "engine.clocks", "engine.clocks.timers", "engine.service", "engine.service.tasks",
               "engine.service.cases"}
    caught = {
        "from ..clocks.timers import _timers": "imports engine.clocks.timers._timers",
        "from engine.clocks.timers import _timers": "imports engine.clocks.timers._timers",
        "from ..clocks import timers\ntimers._timers": "uses engine.clocks.timers._timers",
        "import engine.clocks.timers\nengine.clocks.timers._timers": "uses engine.clocks.timers._timers",
        "import engine.clocks.timers as t\nt._timers": "uses engine.clocks.timers._timers",
        "def f():\n    from ..clocks import timers\n    return timers._timers.c": "uses engine.clocks.timers._timers",
    }
    for source, expected in caught.items():
        found = private_uses(source, "engine.service.cases", modules)
        assert len(found) == 1 and found[0].endswith(expected), (source, found)
    for fine in ("_mine = 1\n_mine", "from .timers import TIMERS", "from . import timers\ntimers.TIMERS",
                 "from engine import cases\ncases._own", "self._x", "work._x", "etree._Element"):
        assert private_uses(fine, "engine.service.cases", modules) == [], fine


def _function_imports(tree: ast.Module) -> list[ast.stmt]:
    return [node for fn in ast.walk(tree) if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
            for node in ast.walk(fn) if isinstance(node, (ast.Import, ast.ImportFrom))]


def test_imports_inside_functions_say_why() -> None:
    """An import inside a function hides a dependency from the reader and from the import contracts;
    it is allowed only where the module's docstring says why ("Imports inside functions: ..."), in
    engine/, webapp/ and bpmn/ alike."""
    unexplained = []
    for name, path in _our_modules().items():
        if ".migrations." in name:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside = _function_imports(tree)
        if inside and "Imports inside functions" not in (ast.get_docstring(tree) or ""):
            unexplained.append(f"{name}:{inside[0].lineno}")
    assert unexplained == [], "Move these imports to the module's top, or say why in its docstring:\n" + \
        "\n".join(unexplained)


def module_level_cycles(modules: dict[str, Path]) -> list[list[str]]:
    """The import cycles among `modules` through their module-level imports (``TYPE_CHECKING``
    blocks aside): each as the sorted names of one strongly connected group."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        deps: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _imported_from(node, name, path.name == "__init__.py")
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in modules and target != name:
                    deps.add(target)
        graph[name] = deps
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycle_between_modules() -> None:
    """import-linter keeps the layers one-way; this keeps modules within a layer from importing
    each other in a loop at module level."""
    assert module_level_cycles(_our_modules()) == []


def test_the_cycle_check_sees_a_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("from .a import x\n")
    (tmp_path / "c.py").write_text("from . import a\n")
    found = module_level_cycles({"pkg.a": tmp_path / "a.py", "pkg.b": tmp_path / "b.py", "pkg.c": tmp_path / "c.py"})
    assert found == [["pkg.a", "pkg.b"]]


MAX_LINES = 600


def test_no_module_is_over_600_lines() -> None:
    """A module holds one concept; past this size it holds several (migrations aside, which are
    written once and never read as code to change)."""
    over = {name: n for name, path in _our_modules().items() if ".migrations." not in name
            and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert over == {}, f"Split these by the concepts they hold: {over}"
