"""Expressions from any dialect translated to the one language the sandbox evaluates.

Camunda 7, Flowable and Activiti write JUEL (``${amount > 1000 && approved}``), Camunda 8 writes
FEEL (``= amount > 1000 and approved``), SpiffWorkflow writes Python. Rutin accepts the common
subset of all three (literals, variable paths, comparisons, boolean operators, arithmetic,
``empty``, string equality) and rewrites it to Python at upload, so that anything outside the
subset is a located error then, not a failure at run time. No library translates JUEL or FEEL
to Python, so this small tokenizer is our own.
"""

from __future__ import annotations

import ast
import re

from . import nulls, sandbox

_JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.DOTALL)
# A variable or a path into one, alone: ${initiator}, #{ansokan.handlaggare}, =user.name
_PATH = r"[^\W\d]\w*(?:\.[^\W\d]\w*)*"
_VARIABLE_REFERENCE = re.compile(rf"^\s*(?:[$#]\{{\s*({_PATH})\s*\}}|=\s*({_PATH}))\s*$")
_TOKEN = re.compile(
    r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<op>&&|\|\||==|!=|<=|>=|!|<|>|\+|-|\*|/|%|\(|\)|\[|\]|,|\.|\?|:|=)
  | (?P<name>[^\W\d]\w*)
  | (?P<space>\s+)
    """,
    re.VERBOSE,
)

_JUEL_WORDS = {
    "and": "and", "or": "or", "not": "not", "eq": "==", "ne": "!=", "lt": "<", "gt": ">",
    "le": "<=", "ge": ">=", "div": "/", "mod": "%", "true": "True", "false": "False", "null": "None",
}
_FEEL_WORDS = {"and": "and", "or": "or", "not": "not", "true": "True", "false": "False", "null": "None"}
# FEEL's reserved words never join a multi-word name ("Vacation Approval = ..." is one name).
_FEEL_KEYWORDS = {"and", "or", "not", "in", "between", "instance", "of", "satisfies", "some", "every", "if",
                  "then", "else", "for", "return", "true", "false", "null", "function"}
# Camunda Spin's JSON accessors in JUEL (``customer.prop("age").numberValue()``): a variable path
# and its value; the case holds JSON as plain data, so they read the data directly.
_SPIN_VALUES = {"value", "numberValue", "stringValue", "boolValue"}
# The helper the sandbox offers for a variable whose name is not a Python identifier.
VARIABLE_HELPER = "rutin_variable"


class ExpressionError(ValueError):
    """The expression is outside the subset Rutin can evaluate safely."""


def _tokens(text: str) -> list[tuple[str, str]]:
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ExpressionError(f"oväntat tecken {text[pos]!r} på position {pos + 1}")
        kind = m.lastgroup or ""
        if kind != "space":
            out.append((kind, m.group()))
        pos = m.end()
    return out


def variable(name: str) -> str:
    """Python for reading the variable `name`: the name itself, or the sandbox helper."""
    if name.isidentifier() and not name.startswith("_"):
        return name
    return f"{VARIABLE_HELPER}({name!r})"


def _feel_names(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Join adjacent plain names into FEEL multi-word names (``Vacation Approval``)."""
    out: list[tuple[str, str]] = []
    for kind, value in tokens:
        prev = out[-1] if out else ("", "")
        if kind == "name" and value not in _FEEL_KEYWORDS and prev[0] in {"name", "names"} and \
                prev[1] not in _FEEL_KEYWORDS and not (len(out) > 1 and out[-2] == ("op", ".")):
            out[-1] = ("names", f"{prev[1]} {value}")
        else:
            out.append((kind, value))
    return out


def _spin(tokens: list[tuple[str, str]], i: int) -> tuple[str, int] | None:
    """A Spin or execution accessor at token i (the '.'); its Python and the next index."""
    def at(n: int) -> tuple[str, str]:
        return tokens[n] if n < len(tokens) else ("", "")

    method = at(i + 1)[1]
    if method == "prop" and at(i + 2)[1] == "(" and at(i + 3)[0] == "string" and at(i + 4)[1] == ")":
        return f"[{at(i + 3)[1]}]", i + 5
    if method in _SPIN_VALUES and at(i + 2)[1] == "(" and at(i + 3)[1] == ")":
        return "", i + 4
    return None


def _translate(text: str, words: dict[str, str], feel: bool) -> str:
    out: list[str] = []
    tokens = _tokens(text)
    if feel:
        tokens = _feel_names(tokens)
    i = 0
    while i < len(tokens):
        kind, value = tokens[i]
        if kind == "names":
            out.append(variable(value))
        elif kind == "name" and not feel and value == "execution" and tokens[i + 1:i + 3] == [
                ("op", "."), ("name", "getVariable")] and len(tokens) > i + 5 and tokens[i + 4][0] == "string" \
                and tokens[i + 3] == ("op", "(") and tokens[i + 5] == ("op", ")"):
            # Camunda's execution.getVariable("x") reads a variable of the case.
            out.append(variable(_unquote(tokens[i + 4][1])))
            i += 6
            continue
        elif kind == "name":
            if value == "empty" and not feel:
                # JUEL `empty x` -> `not x`
                out.append("not")
            elif value in words:
                out.append(words[value])
            else:
                out.append(value)
        elif kind == "op":
            if value == "&&":
                out.append("and")
            elif value == "||":
                out.append("or")
            elif value == "!":
                out.append("not")
            elif value == "=" and feel:
                out.append("==")
            elif value == "." and tokens[i + 1:i + 2] == [("op", ".")]:
                raise ExpressionError("intervall (som [1..5]) stöds inte; skriv x >= 1 and x <= 5")
            elif value == ".":
                nxt = tokens[i + 1] if i + 1 < len(tokens) else ("", "")
                after = tokens[i + 2] if i + 2 < len(tokens) else ("", "")
                spin = None if feel else _spin(tokens, i)
                if spin is not None:
                    if spin[0]:
                        out.append(spin[0])
                    i = spin[1]
                    continue
                if nxt[0] != "name" or after[1] == "(":
                    raise ExpressionError("metodanrop stöds inte; använd variabler och jämförelser")
                if nxt[1].startswith("_"):
                    # As the sandbox refuses such attributes in Python: no path reaches the engine's.
                    raise ExpressionError(f"attributet {nxt[1]!r} är inte tillåtet")
                out.append(f"[{nxt[1]!r}]")
                i += 2
                continue
            elif value in {"?", ":"}:
                raise ExpressionError("villkorsoperatorn ?: stöds inte; skriv om uttrycket")
            elif value == "=":
                raise ExpressionError("tilldelning är inte tillåten i ett uttryck")
            else:
                out.append(value)
        else:
            out.append(value)
        i += 1
    return _join(out)


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _join(parts: list[str]) -> str:
    text = ""
    for part in parts:
        glued = (
            part in {".", ")", "]", ","}
            or part.startswith(("['", '["'))
            or text.endswith(("(", "[", "."))
            or (part in {"(", "["} and re.search(r"[\w\])]$", text) is not None)
        )
        text = part if not text else text + part if glued else f"{text} {part}"
    return text


_GET_DATA_OBJECT = re.compile(r"(?:bpmn:)?getDataObject\(\s*['\"]([^'\"]+)['\"]\s*\)")
_XPATH_BOOLEANS = {"true": "True", "true()": "True", "false": "False", "false()": "False"}


def _feel_name(name: str) -> str:
    """A data object's name as FEEL source: as it is when it reads as a name, else quoted for
    the variable helper."""
    if all(part.isidentifier() for part in name.split()):
        return name
    return f"{VARIABLE_HELPER}({name!r})"


# Each part matched on its own with single-character separators: one regex over the whole
# ``(.+?)\s+satisfies\s+(.+)`` backtracks quadratically on a long run of spaces.
_QUANTIFIER_HEAD = re.compile(r"(some|every)\s+([^\W\d]\w*)\s+in\s")
_SATISFIES = re.compile(r"\ssatisfies\s")


def _feel(text: str) -> str:
    """FEEL's subset, with ``some x in xs satisfies c`` and ``every ...`` as any/all over xs."""
    m = _QUANTIFIER_HEAD.match(text)
    found = _SATISFIES.search(text, m.end() - 1) if m else None
    if m and found:
        quantifier, var = m.groups()
        items, condition = text[m.end():found.start()].strip(), text[found.end():].strip()
        if items and condition:
            inner = _subset(_translate(condition, _FEEL_WORDS, feel=True))
            source = _subset(_translate(items, _FEEL_WORDS, feel=True))
            return f"{'any' if quantifier == 'some' else 'all'}(({inner}) for {var} in {source})"
    return _subset(_translate(text, _FEEL_WORDS, feel=True))


def _subset(python: str) -> str:
    """Refuse what JUEL or FEEL wrote outside the common subset once it reads as Python: a
    function call (``count(items)``, ``string length(name)``, ``today()``) would pass the
    sandbox's checks and fail when the case runs. Only the variable helper Rutin writes itself
    is called."""
    try:
        tree = ast.parse(python, mode="eval")
    except SyntaxError:
        return python  # the sandbox's check says what is wrong with it
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id == VARIABLE_HELPER and len(node.args) == 1 \
                and isinstance(node.args[0], ast.Constant) and not node.keywords:
            continue
        if isinstance(func, ast.Call) and isinstance(func.func, ast.Name) and func.func.id == VARIABLE_HELPER \
                and func.args and isinstance(func.args[0], ast.Constant):
            name = str(func.args[0].value)
        elif isinstance(func, ast.Name):
            name = func.id
        else:
            name = ast.unparse(func)
        raise ExpressionError(
            f"funktionen {name!r} stöds inte; uttryck i JUEL och FEEL får använda variabler, jämförelser, "
            "and/or/not, aritmetik, empty och strängjämförelser, men inga funktioner")
    return python


# An expression longer than this is refused before any pattern is matched against it: no
# condition a person writes is that long, and every later step stays cheap.
MAX_EXPRESSION_LENGTH = 4096


def shown(text: str, limit: int = 120) -> str:
    """An expression as a diagnostic quotes it: in quotes, shortened when it is long."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def check_length(text: str) -> None:
    """Raise `ExpressionError` for an expression longer than `MAX_EXPRESSION_LENGTH`."""
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"uttrycket är {len(text)} tecken långt; högst {MAX_EXPRESSION_LENGTH} tillåts")


def variable_reference(text: str | None) -> str | None:
    """The variable path an expression consisting of one variable names (``ansokan.handlaggare``
    for ``${ansokan.handlaggare}``, ``#{...}`` or ``=ansokan.handlaggare``), else None."""
    m = _VARIABLE_REFERENCE.match(text or "")
    return (m.group(1) or m.group(2)) if m else None


def to_python(text: str, language: str | None = None) -> str:
    """Translate a condition or mapping expression to Python, checked by the sandbox.

    `language` is the element's declared language (a URI or short name) when there is one.
    Raises `ExpressionError` when the expression is outside the supported subset.
    """
    check_length(text or "")
    source = (text or "").strip()
    lang = (language or "").lower()
    if "getDataObject" in source:
        # BPMN's default language is XPath; its data-object accessor is the only part maps use,
        # and their comparisons (=, not(...)) read as FEEL's.
        source = _GET_DATA_OBJECT.sub(lambda m: _feel_name(m.group(1)), source)
        lang = "feel"
    if (not lang or "xpath" in lang or "python" in lang) and source.lower() in _XPATH_BOOLEANS:
        # XPath's true()/false(), and the bare words modelers write for them.
        return _XPATH_BOOLEANS[source.lower()]
    m = _JUEL.match(source)
    if m:
        python = _subset(_translate(m.group(1), _JUEL_WORDS, feel=False))
    elif source.startswith("=") or "feel" in lang:
        python = _feel(source.lstrip("=").strip())
    elif lang and "python" not in lang and lang not in {"", "http://www.w3.org/1999/xpath"}:
        if "juel" in lang or lang == "el":
            python = _subset(_translate(source, _JUEL_WORDS, feel=False))
        else:
            raise ExpressionError(f"uttrycksspråket {language!r} stöds inte")
    else:
        python = source
    try:
        sandbox.check_expression(python)
    except sandbox.PolicyViolation as exc:
        raise ExpressionError(str(exc)) from None
    return python


def dialect(text: str, language: str | None = None) -> str:
    """The language an expression is written in, as `to_python` reads it: ``"juel"`` (``${...}``,
    ``#{...}``, a JUEL language), ``"feel"`` (``= ...``, a FEEL language) or ``"python"``."""
    source = (text or "").strip()
    lang = (language or "").lower()
    if _JUEL.match(source) or "juel" in lang or lang == "el":
        return "juel"
    if source.startswith("=") or "feel" in lang:
        return "feel"
    return "python"


_NULL_SAFE_SKIP = {"True", "False", "None", "rutin_beslut", VARIABLE_HELPER, *nulls.HELPERS}
_ORDERING = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def _call(name: str, args: list[ast.expr], node: ast.AST) -> ast.Call:
    return ast.copy_location(ast.Call(ast.Name(name, ast.Load()), args, []), node)


def null_safe(python: str, condition: bool = True) -> str:
    """A translated FEEL condition that reads a missing variable as null, as FEEL does: each
    variable it reads becomes ``rutin_value('name')`` (null when the case does not hold it,
    `bpmn.sandbox`), a path into a record that lacks the field is null too, ``not``, ``and``, ``or``
    and ordering comparisons become FEEL's three-valued ones (`bpmn.nulls`: ``not(null)`` is null,
    ``null and false`` false, ``null or true`` true), and the whole is read as false when it is null
    (``rutin_truth``); a mapping's (`condition` False) as None. A variable a FEEL quantifier binds
    (``some x in xs``) stays itself; ``=`` and ``!=`` stay comparisons (null equals only null).

    Camunda 8 documents FEEL's null for a missing variable (a comparison with null is null, and a
    condition that is not true is not taken, so the default flow is). JUEL does not: Camunda 7,
    Flowable and Activiti refuse an identifier the case does not hold ("Unknown property used in
    expression ... Cannot resolve identifier"), so JUEL and Python conditions are not passed
    through here and a missing name stops the case with an incident naming it."""
    tree = ast.parse(python, mode="eval")
    bound = {n.id for c in ast.walk(tree) if isinstance(c, ast.comprehension)
             for n in ast.walk(c.target) if isinstance(n, ast.Name)}

    class Reads(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            if node.id in _NULL_SAFE_SKIP or node.id in bound or not isinstance(node.ctx, ast.Load):
                return node
            return ast.copy_location(ast.Call(ast.Name("rutin_value", ast.Load()), [ast.Constant(node.id)], []), node)

        def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
            # A path into a variable (``order.id``): null where a record on it lacks the field.
            self.generic_visit(node)
            value = node.slice
            if isinstance(value, ast.Constant) and type(value.value) is int and value.value > 0:
                node.slice = ast.copy_location(ast.Constant(value.value - 1), value)  # FEEL counts from 1
            value = node.value
            if isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Constant) and \
                    isinstance(node.slice.value, str) and isinstance(value, ast.Call) and \
                    isinstance(value.func, ast.Name) and value.func.id == "rutin_value":
                return ast.copy_location(ast.Call(ast.Name("rutin_value", ast.Load()), [node.slice, value], []), node)
            return node

        def visit_Call(self, node: ast.Call) -> ast.AST:
            if isinstance(node.func, ast.Name) and node.func.id == VARIABLE_HELPER:
                node.func = ast.Name("rutin_value", ast.Load())
                return node
            if isinstance(node.func, ast.Name):  # any/all of a FEEL quantifier: a function, not data
                node.args = [self.visit(a) for a in node.args]
                return node
            return self.generic_visit(node)

        def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return _call("rutin_not", [operand], node)
            node.operand = operand
            return node

        def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
            values = [self.visit(v) for v in node.values]
            return _call("rutin_and" if isinstance(node.op, ast.And) else "rutin_or", values, node)

        def visit_Compare(self, node: ast.Compare) -> ast.AST:
            left, rights = self.visit(node.left), [self.visit(c) for c in node.comparators]
            if not all(type(op) in _ORDERING for op in node.ops):
                node.left, node.comparators = left, rights
                return node
            # a < b < c is (a < b) and (b < c), each of FEEL's kind
            parts: list[ast.expr] = []
            prev = left
            for op, right in zip(node.ops, rights, strict=True):
                parts.append(_call("rutin_compare", [ast.Constant(_ORDERING[type(op)]), prev, right], node))
                prev = right
            return parts[0] if len(parts) == 1 else _call("rutin_and", parts, node)

    body = Reads().visit(tree.body)
    last = [] if condition else [ast.Constant(None)]
    wrapped = ast.Expression(ast.Call(ast.Name("rutin_truth", ast.Load()), [body, *last], []))
    return ast.unparse(ast.fix_missing_locations(wrapped))


def multiword_comparison(text: str) -> str | None:
    """Python for a comparison that names variables with spaces and says nothing of its language
    (``Service Level == 'Premium'``), read as FEEL reads names; None unless it is such a
    comparison. Prose ("Ansökan godkänd") is not: it has no operator."""
    source = (text or "").strip()
    if len(source) > MAX_EXPRESSION_LENGTH:
        return None
    try:
        tokens = _feel_names(_tokens(source))
    except ExpressionError:
        return None
    has_names = any(kind == "names" for kind, _ in tokens)
    compares = any(kind == "op" and value in {"==", "!=", "<", ">", "<=", ">=", "="} for kind, value in tokens)
    if not (has_names and compares):
        return None
    try:
        python = _translate(source, _FEEL_WORDS, feel=True)
        sandbox.check_expression(python)
    except (ExpressionError, sandbox.PolicyViolation):
        return None
    return python
