"""The designer's words for Python constructs the sandbox refuses, instead of AST class names.

A refusal reads ``del är inte tillåtet (rad 3)``, not ``Delete är inte tillåtet``: the designer
wrote ``del``, never saw the parser's class for it.
"""

from __future__ import annotations

import ast

WORDS: dict[type[ast.AST], str] = {
    ast.Import: "import", ast.ImportFrom: "from ... import", ast.Global: "global", ast.Nonlocal: "nonlocal",
    ast.ClassDef: "class (klassdefinition)", ast.FunctionDef: "def (funktionsdefinition)",
    ast.AsyncFunctionDef: "async def", ast.AsyncFor: "async for", ast.AsyncWith: "async with",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield from", ast.With: "with",
    ast.Try: "try/except", ast.TryStar: "try/except*", ast.Raise: "raise", ast.Delete: "del",
    ast.NamedExpr: "tilldelning i uttryck (:=)", ast.Starred: "stjärnuttryck (*x)",
    ast.ListComp: "list comprehension ([x for x in ...])", ast.SetComp: "set comprehension ({x for x in ...})",
    ast.DictComp: "dict comprehension ({k: v for ...})", ast.Lambda: "lambda",
    ast.For: "for-loop", ast.While: "while-loop",
}


def word(node: ast.AST) -> str:
    """What the designer wrote for `node`, in their words."""
    return WORDS.get(type(node), type(node).__name__)
