"""Which expressions the sandbox may evaluate in the web process, and which variables code reads.

Sending an expression to an evaluator process (`bpmn.evaluator`) costs a round trip between
processes; most gateway conditions, delegation limits and timer constants are a few names,
constants and comparisons, which cannot loop or allocate. Such an expression runs in the calling
process: it reads its variables and compares them, a time linear in the data it reads (at most
`INLINE_NODES` times over). Anything else (arithmetic, which can build a string from a number;
a call other than a lookup; a slice; a generator) goes to an evaluator process. The list of what
is allowed is short on purpose: each kind of node on it is one whose worst case is known.
"""

from __future__ import annotations

import ast
from typing import Any

from . import nulls

# Most AST nodes an expression evaluated in the calling process may have.
INLINE_NODES = 48

_ALLOWED: tuple[type[ast.AST], ...] = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt,
    ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.Name,
    ast.Load, ast.Constant, ast.Subscript, ast.List, ast.Tuple,
)


def runs_inline(tree: ast.AST) -> bool:
    """Whether an expression (already accepted by the sandbox's policy) may run in process."""
    nodes = list(ast.walk(tree))
    if len(nodes) > INLINE_NODES:
        return False
    for node in nodes:
        if isinstance(node, ast.Subscript) and not isinstance(node.slice, (ast.Constant, ast.Name)):
            return False
        if isinstance(node, ast.Call):
            # `d.get('k')` and `rutin_variable('namn')`: a lookup, with constant arguments only
            lookup = (isinstance(node.func, ast.Attribute) and node.func.attr == "get") or \
                (isinstance(node.func, ast.Name) and node.func.id in {"rutin_variable", "rutin_value"})
            if isinstance(node.func, ast.Name) and node.func.id in nulls.COMBINATORS and not node.keywords:
                continue  # combines its arguments' values (FEEL's null logic): they are walked as any node
            if not lookup or node.keywords or not all(isinstance(a, ast.Constant) for a in node.args):
                return False
            continue
        if isinstance(node, ast.Attribute) and node.attr == "get":
            continue
        if not isinstance(node, _ALLOWED):
            return False
    return True


def value_names(tree: ast.AST) -> set[str]:
    """The variables ``rutin_value('name')`` calls in a tree read (their constant arguments)."""
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "rutin_value"
            and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)}


def code_names(code: Any) -> set[str]:
    """Every global name a compiled code object (and the code nested in it) may read."""
    found = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            found |= code_names(const)
    return found
