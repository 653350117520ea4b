"""Dimension relations: a dim whose name is an expression of other dims' names.

Exporters write relations into dim names: Hugging Face Optimum names an attention mask's length
``past_sequence_length + sequence_length``; the dynamo exporter writes ``s0 + s1``, ``2*s0`` or
``floor(s0/2)``; Optimum's Whisper decoder ``encoder_sequence_length / 2``. Such a dim is not free: a
profile that gives it its own range lets no real (seq, past) pair fit. ``parse_relation`` reads the
expression (a small, safe arithmetic grammar — never ``eval``) and ``DimRelation.value`` computes it
from the values of the dims it names. Expressions are monotone in their symbols (sums, positive
multiples, floor/ceil divisions), so a profile's min, opt and max are the expression at the symbols'
min, opt and max.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

# The functions take one (floor, ceil) or two (max, min, FloorDiv) numbers.
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "floor": math.floor, "ceil": math.ceil, "ceiling": math.ceil, "max": max, "min": min, "Max": max, "Min": min,
    "FloorDiv": lambda a, b: a // b}
# A plain name is never a relation, only a name with an operator or a function call in it.
_OPERATOR = re.compile(r"[-+*/()]")


@dataclass(frozen=True)
class DimRelation:
    """``label`` (the dim's own name, as written) = ``text`` evaluated over ``symbols``."""

    label: str
    symbols: tuple[str, ...]
    tree: ast.Expression

    def value(self, values: dict[str, int]) -> int:
        result = _evaluate(self.tree.body, values)
        return max(0, int(math.floor(result + 1e-9)))

    def factor(self) -> int:
        """The constant the expression multiplies by (``14*h14`` → 14: every value is a multiple), else 1."""
        body = self.tree.body
        if isinstance(body, ast.BinOp) and isinstance(body.op, ast.Mult):
            constant = next((float(side.value) for side in (body.left, body.right)
                             if isinstance(side, ast.Constant) and isinstance(side.value, (int, float))), 1.0)
            return int(constant) if constant.is_integer() and constant > 1 else 1
        return 1


def parse_relation(name: object) -> DimRelation | None:
    """The relation a dim name states, or None for a plain name or anything outside the grammar."""
    if not isinstance(name, str) or not _OPERATOR.search(name):
        return None
    try:
        tree = ast.parse(name.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None
    symbols: list[str] = []
    if not _allowed(tree.body, symbols) or not symbols:
        return None
    return DimRelation(name, tuple(dict.fromkeys(symbols)), tree)


def _allowed(node: ast.AST, symbols: list[str]) -> bool:
    if isinstance(node, ast.Name):
        symbols.append(node.id)
        return True
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (int, float)) and not isinstance(node.value, bool) and node.value >= 0
    if isinstance(node, ast.BinOp):
        # Subtraction would make the expression decrease in a symbol: min/max could no longer be computed
        # from the symbols' min/max, so it is only allowed with a constant on the right (``s0 - 1``).
        if isinstance(node.op, ast.Sub):
            return isinstance(node.right, ast.Constant) and _allowed(node.left, symbols) and \
                _allowed(node.right, symbols)
        return isinstance(node.op, (ast.Add, ast.Mult, ast.Div, ast.FloorDiv)) and \
            _allowed(node.left, symbols) and _allowed(node.right, symbols) and \
            (not isinstance(node.op, (ast.Div, ast.FloorDiv)) or isinstance(node.right, ast.Constant))
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS and not node.keywords and \
            all(_allowed(argument, symbols) for argument in node.args)
    return False


def _evaluate(node: ast.AST, values: dict[str, int]) -> float:
    if isinstance(node, ast.Name):
        return values[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):  # _allowed let no other through
        return node.value
    if isinstance(node, ast.BinOp):
        left, right = _evaluate(node.left, values), _evaluate(node.right, values)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.FloorDiv):
            return left // right
        return left / right
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return _FUNCTIONS[node.func.id](*(_evaluate(argument, values) for argument in node.args))
