"""The restricted evaluator for everything an uploaded diagram asks us to run.

Scripts, gateway conditions, timer expressions and message correlation expressions all come from
untrusted uploads. Stock SpiffWorkflow hands them to plain ``eval``/``exec``; Rutin hands them here.

Policy, in layers:

1. RestrictedPython (the maintained library for exactly this) rewrites the code: names and
   attributes starting with ``_`` are refused at compile time, attribute access goes through
   ``_getattr_``, item access through ``_getitem_``, iteration through ``_getiter_``.
2. Our own AST check on top refuses imports, ``exec``/``eval``/``open`` and the other builtins
   that reach outside the data, function and class definitions, ``global``/``nonlocal``, ``with``
   and async constructs. Expressions (conditions, timers, correlations) are stricter still: no
   comprehensions or lambdas, so they cannot loop.
3. At run time only a whitelisted set of builtins exists; ``_getattr_`` allows public attributes
   of plain data values only (strings, numbers, lists, dicts, dates), never of functions, types or
   modules; ``*``, ``**`` and ``<<`` refuse results larger than a bound; ``range`` is bounded.
4. Scripts run under a tracer that stops them when they exceed a time budget or grow the
   process's memory beyond a bound.
5. The tracer sees bytecodes only: one C call (``sum`` of lists, ``str`` of a huge list, bytes
   times a number) runs to its end however long it takes and however much it allocates. So the
   code runs in a separate evaluator process with a kernel-enforced memory limit, killed when
   it overruns its time (`bpmn.evaluator`, whose docstring says why it is built that way); only
   data crosses back (`bpmn.wire`). An expression made of nothing but names, constants,
   comparisons, ``and``/``or``/``not``, subscripts and lookups (most gateway conditions,
   delegation limits, timer constants) cannot loop or allocate: it runs here, without the round
   trip (`bpmn.inline` says exactly which).

`evaluate` and `execute` are the one entry point for all of it; `run_expression` and
`run_script` are the in-process layers 1-4 the evaluator process runs.

What we do not claim: scripts come from approved, versioned diagrams; the sandbox guards against
accidents and hostile uploads, not against a hostile approver with unlimited time.

Imports inside functions: `bpmn.evaluator` (the evaluator processes) imports this module, and
`evaluate` and `execute` here hand it what runs out of process; the import of the evaluator is
inside them so the two modules do not import each other at load.
"""

from __future__ import annotations

import ast
import datetime as _dt
import decimal
import functools
import itertools
import math
import re
import sys
import time
import types
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from RestrictedPython import compile_restricted
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence
from RestrictedPython.transformer import RestrictingNodeTransformer

from . import inline, nulls, script_builtins, script_words, wire

MAX_SEQUENCE = 100_000
MAX_INT_BITS = 4096
# The budgets of one evaluation; `configure` sets them from the engine's settings.
SCRIPT_TIMEOUT_S = 1.0
MEMORY_LIMIT_BYTES = 256 * 1024 * 1024


class SandboxError(Exception):
    """A script or expression was refused by the sandbox policy or stopped while running."""


class PolicyViolation(SandboxError):
    """The source was refused before running (compile-time policy)."""


class ScriptTimeout(SandboxError):
    """The code ran longer than its time budget."""


class ResourceLimit(SandboxError):
    """The code tried to build a value or use memory beyond the sandbox's bounds."""


_FORBIDDEN_NAMES = frozenset(
    {
        "exec", "eval", "open", "compile", "globals", "locals", "vars", "getattr", "setattr",
        "delattr", "hasattr", "type", "object", "super", "breakpoint", "input", "help",
        "memoryview", "bytearray", "classmethod", "staticmethod", "property", "dir", "id",
        "exit", "quit", "copyright", "credits", "license", "print", "printed", "aiter", "anext",
        "iter", "next", "callable", "issubclass", "format", "frozenset",
    }
)

_FORBIDDEN_NODES: tuple[type[ast.AST], ...] = (
    ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.ClassDef, ast.AsyncFunctionDef,
    ast.AsyncFor, ast.AsyncWith, ast.Await, ast.Yield, ast.YieldFrom, ast.With, ast.FunctionDef,
    ast.Try, ast.Raise, ast.Delete, ast.NamedExpr, ast.Starred,
)
_LOOP_NODES: tuple[type[ast.AST], ...] = (
    ast.ListComp, ast.SetComp, ast.DictComp, ast.Lambda, ast.For, ast.While,
)
_FORBIDDEN_NODES = (*_FORBIDDEN_NODES, ast.TryStar)

# Attributes that allocate in proportion to an argument, format strings (which reach attributes
# through the format mini-language), or hand out internals.
_FORBIDDEN_ATTRIBUTES = frozenset(
    {"format", "format_map", "ljust", "rjust", "center", "zfill", "expandtabs", "translate", "maketrans",
     "mro", "gi_frame",
     "gi_code", "cr_frame", "f_globals", "f_locals", "f_back", "tb_frame", "func_globals"}
)
_DATA_TYPES: tuple[type, ...] = (
    str, int, float, bool, list, dict, tuple, set, _dt.date, _dt.datetime, _dt.timedelta,
    decimal.Decimal, type(None),
)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus Rutin's: guarded size-growing operators, no `print`."""

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        if isinstance(node.op, (ast.Mult, ast.Pow, ast.LShift, ast.Add, ast.Mod)):
            op = {ast.Mult: "*", ast.Pow: "**", ast.LShift: "<<", ast.Add: "+", ast.Mod: "%"}[type(node.op)]
            call = ast.Call(
                func=ast.Name("_rutin_binop_", ast.Load()),
                args=[ast.Constant(op), node.left, node.right],
                keywords=[],
            )
            for new in (call, call.func, call.args[0]):
                ast.copy_location(new, node)
            return call
        return node

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        if isinstance(node.op, (ast.Mult, ast.Pow, ast.LShift)):
            self.error(node, "augmented *=, **= and <<= are not allowed; write x = x * y")
        return super().visit_AugAssign(node)


def _check_tree(tree: ast.AST, *, expression: bool) -> None:
    for node in ast.walk(tree):
        if isinstance(node, _FORBIDDEN_NODES):
            raise PolicyViolation(
                f"{script_words.word(node)} är inte tillåtet (rad {getattr(node, 'lineno', '?')})"
            )
        if expression and isinstance(node, _LOOP_NODES):
            raise PolicyViolation(f"{script_words.word(node)} är inte tillåtet i ett uttryck")
        if isinstance(node, ast.Name) and (node.id in _FORBIDDEN_NAMES or node.id.startswith("_")):
            raise PolicyViolation(f"namnet {node.id!r} är inte tillåtet")
        if isinstance(node, ast.Attribute) and (
            node.attr.startswith("_") or node.attr in _FORBIDDEN_ATTRIBUTES
        ):
            raise PolicyViolation(f"attributet {node.attr!r} är inte tillåtet")
        if isinstance(node, ast.Constant) and isinstance(node.value, bytes):
            raise PolicyViolation("bytes-literaler är inte tillåtna")
        if isinstance(node, ast.keyword) and node.arg is None:
            raise PolicyViolation("**kwargs är inte tillåtet")
        if isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            _check_format_spec(node.format_spec)


def _check_format_spec(spec: ast.AST) -> None:
    # A width in an f-string's format spec allocates that many characters at once, before any
    # run-time check could see the result: only literal specs with modest widths are allowed.
    for part in ast.walk(spec):
        if isinstance(part, ast.FormattedValue):
            raise PolicyViolation("formatbredd från en variabel är inte tillåten")
        if isinstance(part, ast.Constant) and isinstance(part.value, str) and _TOO_WIDE.search(part.value):
            raise PolicyViolation("för bred formatering")


_TOO_WIDE = re.compile(r"\d{6,}")


@functools.lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> Any:
    expression = mode == "eval"
    if "\x00" in source:
        raise PolicyViolation("NUL-tecken är inte tillåtna")
    if len(source) > 100_000:
        raise PolicyViolation("koden är för lång")
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise PolicyViolation(f"syntaxfel: {exc.msg} (rad {exc.lineno})") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise PolicyViolation(f"koden kan inte tolkas: {type(exc).__name__}") from None
    _check_tree(tree, expression=expression)
    try:
        return compile_restricted(tree, filename="<rutin>", mode=mode, policy=_Policy)  # type: ignore[arg-type]
    except SyntaxError as exc:
        raise PolicyViolation(str(exc.msg if hasattr(exc, "msg") else exc)) from None


def configure(*, timeout_s: float | None = None, memory_mb: int | None = None) -> None:
    """Set the time and memory budget of every later evaluation in this process."""
    global SCRIPT_TIMEOUT_S, MEMORY_LIMIT_BYTES
    if timeout_s is not None:
        SCRIPT_TIMEOUT_S = float(timeout_s)
    if memory_mb is not None:
        MEMORY_LIMIT_BYTES = int(memory_mb) * 1024 * 1024


class Plan(NamedTuple):
    """How a checked source runs: its code, the case variables it can read (None: any, through
    `rutin_variable`), and whether it may run in this process (layer 5 in the module doc)."""

    code: Any
    names: frozenset[str] | None
    inline: bool


@functools.lru_cache(maxsize=4096)
def plan(source: str, mode: str) -> Plan:
    """The checked code of `source` (``"eval"`` or ``"exec"``) and how it runs; `PolicyViolation`
    when the sandbox refuses it."""
    code = _compile(source, mode)
    names = inline.code_names(code)
    runs_here = mode == "eval" and inline.runs_inline(ast.parse(source, mode="eval"))
    if "rutin_value" in names:  # the variables a null-safe condition reads are its calls' arguments
        names |= inline.value_names(ast.parse(source, mode=mode))
    return Plan(code, None if "rutin_variable" in names else frozenset(names), runs_here)


def check_expression(source: str) -> None:
    """Raise `PolicyViolation` if the expression would be refused (used at upload)."""
    _compile(source.strip(), "eval")


def check_script(source: str) -> None:
    """Raise `PolicyViolation` if the script would be refused (used at upload)."""
    _compile(source, "exec")


# --- run-time guards -------------------------------------------------------------------------


def _guarded_getattr(obj: Any, name: str, default: Any = None) -> Any:
    if not isinstance(name, str) or name.startswith("_") or name in _FORBIDDEN_ATTRIBUTES:
        raise SandboxError(f"attributet {name!r} är inte tillåtet")
    if isinstance(obj, script_builtins.Namespace):  # datetime.now, date.today: only the members it lists
        try:
            return obj.member(name)
        except script_builtins.BuiltinError as exc:
            raise SandboxError(str(exc)) from None
    if not isinstance(obj, _DATA_TYPES):
        raise SandboxError(f"attribut på {type(obj).__name__} är inte tillåtna")
    value = getattr(obj, name)
    if isinstance(obj, str) and name in ("replace", "join"):
        return functools.partial(_bounded_replace if name == "replace" else _bounded_join, obj)
    if isinstance(obj, list) and name == "extend":
        return functools.partial(_bounded_extend, obj)
    return value


# Methods whose result can be many times larger than their arguments allocate it in one call,
# before the memory budget (checked between lines) could stop them: their size is checked first.

def _too_large() -> ResourceLimit:
    return ResourceLimit(f"resultatet blir längre än {MAX_SEQUENCE} tecken eller värden")


def _bounded_replace(text: str, old: str, new: str, count: int = -1) -> str:
    if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
        hits = text.count(old) if old else len(text) + 1
        if count >= 0:
            hits = min(hits, count)
        if len(text) + hits * (len(new) - len(old)) > MAX_SEQUENCE:
            raise _too_large()
    return text.replace(old, new, count)


def _bounded_join(separator: str, parts: Any) -> str:
    items = list(itertools.islice(_guarded_getiter(parts), MAX_SEQUENCE + 1))
    if len(items) > MAX_SEQUENCE:
        raise _too_large()
    size = len(separator) * max(len(items) - 1, 0) + sum(len(p) for p in items if isinstance(p, str))
    if size > MAX_SEQUENCE:
        raise _too_large()
    return separator.join(items)


def _bounded_extend(target: list[Any], values: Any) -> None:
    if _size_of(target) + _size_of(values) > MAX_SEQUENCE:
        raise _too_large()
    target.extend(values)


def _guarded_getitem(obj: Any, index: Any) -> Any:
    if isinstance(index, str) and index.startswith("_") and not isinstance(obj, dict):
        raise SandboxError("index som börjar med _ är inte tillåtna")
    return obj[index]


def _guarded_getiter(obj: Any) -> Any:
    if isinstance(obj, nulls.Null):
        return iter(())  # a FEEL quantifier over a missing list: over nothing
    if not isinstance(obj, (*_DATA_TYPES, range, map, filter, zip, enumerate, reversed)):
        raise SandboxError(f"iteration över {type(obj).__name__} är inte tillåten")
    return iter(obj)  # type: ignore[call-overload]


def _size_of(value: Any) -> int:
    try:
        return len(value)
    except TypeError:
        return 1


_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _binop(op: str, left: Any, right: Any) -> Any:
    if op == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)) and \
                len(left) + len(right) > MAX_SEQUENCE:
            raise _too_large()
        return left + right
    if op == "%":
        if isinstance(left, str):
            # printf-style widths allocate at once, like an f-string's
            for width, precision in _PERCENT_FIELD.findall(left):
                for value in (width, precision):
                    if value == "*" or (value and int(value) > MAX_SEQUENCE):
                        raise ResourceLimit("för bred formatering")
        return left % right
    if op == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and \
                    _size_of(seq) * max(times, 0) > MAX_SEQUENCE:
                raise ResourceLimit("resultatet blir för stort")
        result = left * right
    elif op == "**":
        if isinstance(left, int) and isinstance(right, int) and not isinstance(left, bool) and \
                right > 0 and abs(left) > 1 and right * max(abs(left).bit_length(), 1) > MAX_INT_BITS:
            raise ResourceLimit("talet blir för stort")
        result = left**right
    else:
        if isinstance(right, int) and right > MAX_INT_BITS:
            raise ResourceLimit("talet blir för stort")
        result = left << right
    if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
        raise ResourceLimit("talet blir för stort")
    return result


def _bounded_range(*args: int) -> range:
    r = range(*args)
    if len(r) > MAX_SEQUENCE:
        raise ResourceLimit(f"range med fler än {MAX_SEQUENCE} värden är inte tillåten")
    return r


def _write_guard(obj: Any) -> Any:
    if isinstance(obj, (dict, list, set)):
        return obj
    raise SandboxError(f"ändring av {type(obj).__name__} är inte tillåten")


def _inplace(op: str, x: Any, y: Any) -> Any:
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "+=": lambda a, b: a + b,
        "-=": lambda a, b: a - b,
        "/=": lambda a, b: a / b,
        "//=": lambda a, b: a // b,
        "%=": lambda a, b: a % b,
        "|=": lambda a, b: a | b,
        "&=": lambda a, b: a & b,
        "^=": lambda a, b: a ^ b,
        ">>=": lambda a, b: a >> b,
    }
    if op not in ops:
        raise SandboxError(f"operatorn {op} är inte tillåten")
    result = ops[op](x, y)
    if _size_of(result) > MAX_SEQUENCE:
        raise ResourceLimit("resultatet blir för stort")
    return result


def _safe_str(value: Any = "") -> str:
    return str(value)


_BUILTINS: dict[str, Any] = {
    "None": None, "True": True, "False": False,
    "abs": abs, "all": all, "any": any, "bool": bool, "dict": dict, "divmod": divmod,
    "enumerate": enumerate, "filter": filter, "float": float, "int": int, "isinstance": isinstance,
    "len": len, "list": list, "map": map, "max": max, "min": min, "reversed": reversed,
    "round": round, "set": set, "sorted": sorted, "str": _safe_str, "sum": sum, "tuple": tuple,
    "zip": zip, "range": _bounded_range, "chr": chr, "ord": ord,
}

_GUARDS: dict[str, Any] = {
    "_getattr_": _guarded_getattr,
    "_getitem_": _guarded_getitem,
    "_getiter_": _guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": _write_guard,
    "_inplacevar_": _inplace,
    "_rutin_binop_": _binop,
}

_HELPERS: dict[str, Any] = {
    "floor": math.floor,
    "ceil": math.ceil,
}


def _variable_reader(data: dict[str, Any]) -> Callable[[str], Any]:
    """``rutin_variable(name)``: a case variable whose name is not an identifier ("Vacation
    Approval", from a FEEL condition or a form). It reads only what the expression could already
    read by name: the case's data, never a name starting with ``_``."""
    def rutin_variable(name: str) -> Any:
        if not isinstance(name, str) or name.startswith("_") or name not in data:
            raise NameError(f"name {name!r} is not defined")
        return data[name]

    return rutin_variable


def _globals(context: Mapping[str, Any]) -> dict[str, Any]:
    # The scripting built-ins first: a case variable of the same name (a form field "date") wins.
    g: dict[str, Any] = {"__builtins__": _BUILTINS, **_GUARDS, **_HELPERS,
                         **script_builtins.helpers(context.get(script_builtins.ENV_KEY), SandboxError)}
    data: dict[str, Any] = {}
    for key, value in context.items():
        if isinstance(key, str) and not key.startswith("_"):
            g[key] = value
            data[key] = value
    # Set last, so a variable of the same name cannot replace it.
    g["rutin_variable"] = _variable_reader(data)
    g["rutin_value"] = nulls.value_reader(data)
    g["rutin_truth"] = nulls.truth
    g["rutin_not"], g["rutin_and"], g["rutin_or"] = nulls.feel_not, nulls.feel_and, nulls.feel_or
    g["rutin_compare"] = nulls.feel_compare
    return g


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * 4096
    except OSError:  # pragma: no cover - non-Linux
        return 0


class _Budget:
    """A tracer that stops sandboxed code on time or memory; installed only around scripts."""

    def __init__(self, timeout: float) -> None:
        self.deadline = time.monotonic() + timeout
        self.baseline = _rss_bytes()
        self.events = 0

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise ScriptTimeout("skriptet tog för lång tid")
        if self.baseline and _rss_bytes() - self.baseline > MEMORY_LIMIT_BYTES:
            raise ResourceLimit("skriptet använde för mycket minne")

    def trace(self, frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename != "<rutin>":
            return None
        return self.local

    def local(self, frame: Any, event: str, arg: Any) -> Any:
        self.events += 1
        if self.events % 64 == 0:
            self.check()
        return self.local


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """Evaluate an expression over `context` (task data); raise `SandboxError` when refused or
    stopped by its time or memory budget.

    Everything that evaluates an uploaded expression comes here: gateway conditions, timer
    expressions, correlations, delegation limits.
    """
    source = source.strip()
    if plan(source, "eval").inline:
        return run_expression(source, context)
    from . import evaluator

    return evaluator.shared().evaluate(source, _readable(source, "eval", context),
                                       timeout=SCRIPT_TIMEOUT_S, memory=MEMORY_LIMIT_BYTES)


def execute(source: str, context: dict[str, Any], *, timeout: float | None = None) -> None:
    """Run a script over `context`, writing the variables it assigns (or changes) back into
    `context`; raise `SandboxError` when refused or stopped by its time or memory budget."""
    from . import evaluator

    changed = evaluator.shared().execute(source, _readable(source, "exec", context),
                                         timeout=SCRIPT_TIMEOUT_S if timeout is None else timeout,
                                         memory=MEMORY_LIMIT_BYTES)
    context.update(changed)


def _readable(source: str, mode: str, context: Mapping[str, Any]) -> dict[str, Any]:
    """The part of `context` the code can read: only it is sent to the evaluator process."""
    names = plan(source, mode).names
    env = {script_builtins.ENV_KEY: context[script_builtins.ENV_KEY]} if script_builtins.ENV_KEY in context else {}
    if names is None:  # any variable, through `rutin_variable`: what is not data stays behind
        return {**env, **{k: v for k, v in context.items()
                          if isinstance(k, str) and not k.startswith("_") and wire.sendable(v)}}
    return {**env, **{k: context[k] for k in names if k in context and not k.startswith("_")}}


def run_expression(source: str, context: Mapping[str, Any]) -> Any:
    """Evaluate an expression in this process (layers 1-4 of the module doc; see `evaluate`).

    An expression cannot loop, except through a generator over data (FEEL's ``some``/``every``
    becomes ``any``/``all`` over one); one that has a generator runs under the time budget.
    """
    code = plan(source.strip(), "eval").code
    budget = _Budget(SCRIPT_TIMEOUT_S) if ".0" in code.co_varnames or _has_generator(code) else None
    previous = sys.gettrace()
    if budget is not None:
        sys.settrace(budget.trace)
    try:
        return eval(code, _globals(context))  # noqa: S307 - restricted code object, see module doc
    except SandboxError:
        raise
    except RecursionError:
        raise ResourceLimit("för djup rekursion") from None
    except MemoryError:
        raise ResourceLimit("för mycket minne") from None
    finally:
        if budget is not None:
            sys.settrace(previous)


def _has_generator(code: Any) -> bool:
    return any(hasattr(c, "co_code") and (c.co_name == "<genexpr>" or _has_generator(c)) for c in code.co_consts)


def run_script(source: str, context: dict[str, Any], *, timeout: float | None = None) -> None:
    """Run a script in this process (layers 1-4 of the module doc; see `execute`), writing the
    variables it assigns back into `context`."""
    code = plan(source, "exec").code
    scope = _globals(context)
    budget = _Budget(SCRIPT_TIMEOUT_S if timeout is None else timeout)
    previous = sys.gettrace()
    sys.settrace(budget.trace)
    try:
        exec(code, scope)  # noqa: S102 - restricted code object, see module doc
    except RecursionError:
        raise ResourceLimit("för djup rekursion") from None
    except MemoryError:
        raise ResourceLimit("för mycket minne") from None
    finally:
        sys.settrace(previous)
    reserved = set(_GUARDS) | set(_HELPERS) | {"__builtins__", "rutin_variable"} | nulls.HELPERS
    for key, value in scope.items():
        if key in reserved or key.startswith("_"):
            continue
        if callable(value) or isinstance(value, type(sys)):
            continue
        context[key] = as_data(key, value)


_LAZY = (range, map, filter, zip, enumerate, reversed, types.GeneratorType)


def as_data(name: str, value: Any) -> Any:
    """A script's variable as case data can hold it: a range or an iterator left behind becomes a
    list; a number that is not finite or text that is not Unicode is refused, naming the variable,
    instead of failing when the case is saved."""
    if isinstance(value, _LAZY):
        items = list(itertools.islice(value, MAX_SEQUENCE + 1))
        if len(items) > MAX_SEQUENCE:
            raise ResourceLimit(f"{name}: fler än {MAX_SEQUENCE} värden")
        value = items
    if isinstance(value, float) and not math.isfinite(value):
        raise SandboxError(f"variabeln {name} är inte ett ändligt tal ({value})")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SandboxError(f"variabeln {name} innehåller tecken som inte är giltig Unicode") from None
        return value
    if isinstance(value, list):
        return [as_data(name, v) for v in value]
    if isinstance(value, tuple):
        return tuple(as_data(name, v) for v in value)
    if isinstance(value, dict):
        return {k: as_data(name, v) for k, v in value.items()}
    return value
