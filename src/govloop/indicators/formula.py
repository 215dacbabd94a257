"""The indicator formula language: arithmetic over named measures, never ``eval``.

Grammar (a small recursive-descent parser)::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := "-" unary | atom
    atom   := NUMBER | NAME | NAME "(" args ")" | "(" expr ")"

A bare ``NAME`` is a measure from the registry (``served``, ``wait_s_sum`` …). A call is
either a parametrised measure with numeric literal arguments (``wait_within(20)``,
``wait_quantile(0.9)``) or one of the functions ``min``/``max`` over expressions.
Division by zero gives "no data" (SQL ``NULL``, ``NaN`` in numpy), never an error.

A parsed formula compiles to a DuckDB SQL expression over measure columns and can be
evaluated on numpy arrays (the pandas baseline does that): both paths walk the same tree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

FUNCTIONS = ("min", "max")


class FormulaError(ValueError):
    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message if position is None else f"{message} (at column {position + 1})")
        self.position = position


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class MeasureRef:
    name: str
    params: tuple[float, ...] = ()

    @property
    def key(self) -> str:
        """Column-safe key: ``wait_within(20)`` → ``wait_within__20``."""
        if not self.params:
            return self.name
        parts = [_param_text(p).replace(".", "_").replace("-", "m") for p in self.params]
        return self.name + "__" + "__".join(parts)


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg:
    operand: Node


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple[Node, ...]


Node = Num | MeasureRef | BinOp | Neg | Func


def _param_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/(),]))"
)


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            bad = len(text[pos:]) - len(text[pos:].lstrip()) + pos
            raise FormulaError(f"unexpected character {text[bad]!r}", bad)
        kind = match.lastgroup
        assert kind is not None
        value = match.group(kind)
        tokens.append((kind, value, match.start(kind)))
        pos = match.end()
    tokens.append(("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str, int]:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, value: str) -> None:
        _kind, got, pos = self.take()
        if got != value:
            raise FormulaError(f"expected {value!r}, found {got or 'end of formula'!r}", pos)

    def parse(self) -> Node:
        if self.peek()[0] == "end":
            raise FormulaError("empty formula", 0)
        node = self.expr()
        kind, value, pos = self.peek()
        if kind != "end":
            raise FormulaError(f"unexpected {value!r}", pos)
        return node

    def expr(self) -> Node:
        node = self.term()
        while self.peek()[1] in ("+", "-") and self.peek()[0] == "op":
            op = self.take()[1]
            node = BinOp(op, node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek()[1] in ("*", "/") and self.peek()[0] == "op":
            op = self.take()[1]
            node = BinOp(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.peek()[1] == "-" and self.peek()[0] == "op":
            self.take()
            return Neg(self.unary())
        return self.atom()

    def atom(self) -> Node:
        kind, value, pos = self.take()
        if kind == "num":
            return Num(float(value))
        if kind == "name":
            if self.peek()[1] == "(":
                self.take()
                args = [self.expr()]
                while self.peek()[1] == ",":
                    self.take()
                    args.append(self.expr())
                self.expect(")")
                if value in FUNCTIONS:
                    if len(args) < 2:
                        raise FormulaError(f"{value}() needs at least two arguments", pos)
                    return Func(value, tuple(args))
                params = []
                for arg in args:
                    if isinstance(arg, Num):
                        params.append(arg.value)
                    elif isinstance(arg, Neg) and isinstance(arg.operand, Num):
                        params.append(-arg.operand.value)
                    else:
                        raise FormulaError(f"arguments of measure {value}() must be numbers", pos)
                return MeasureRef(value, tuple(params))
            return MeasureRef(value)
        if value == "(":
            node = self.expr()
            self.expect(")")
            return node
        raise FormulaError(f"unexpected {value or 'end of formula'!r}", pos)


def parse(text: str) -> Node:
    """Parse a formula; :class:`FormulaError` names the column of the first problem."""
    return _Parser(text).parse()


def measures_of(node: Node) -> list[MeasureRef]:
    """Every measure the formula uses, in order of appearance, without duplicates."""
    found: list[MeasureRef] = []

    def walk(n: Node) -> None:
        if isinstance(n, MeasureRef):
            if n not in found:
                found.append(n)
        elif isinstance(n, BinOp):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, Neg):
            walk(n.operand)
        elif isinstance(n, Func):
            for a in n.args:
                walk(a)

    walk(node)
    return found


def to_sql(node: Node, column: Callable[[MeasureRef], str]) -> str:
    """DuckDB SQL for the formula; ``column`` names the column holding a measure."""
    if isinstance(node, Num):
        if not math.isfinite(node.value):
            raise FormulaError("numbers must be finite")
        return f"CAST({node.value!r} AS DOUBLE)"
    if isinstance(node, MeasureRef):
        return f"CAST({column(node)} AS DOUBLE)"
    if isinstance(node, Neg):
        return f"(-{to_sql(node.operand, column)})"
    if isinstance(node, BinOp):
        left, right = to_sql(node.left, column), to_sql(node.right, column)
        if node.op == "/":
            return f"({left} / NULLIF({right}, 0))"
        return f"({left} {node.op} {right})"
    args = [to_sql(a, column) for a in node.args]
    pick = "least" if node.name == "min" else "greatest"
    any_null = " OR ".join(f"{a} IS NULL" for a in args)
    return f"(CASE WHEN {any_null} THEN NULL ELSE {pick}({', '.join(args)}) END)"


def evaluate(node: Node, columns: Mapping[str, np.ndarray], length: int) -> np.ndarray:
    """Evaluate on numpy float arrays keyed by measure key; NaN is "no data"."""
    if isinstance(node, Num):
        return np.full(length, node.value, dtype=float)
    if isinstance(node, MeasureRef):
        return np.asarray(columns[node.key], dtype=float)
    if isinstance(node, Neg):
        return -evaluate(node.operand, columns, length)
    if isinstance(node, BinOp):
        left = evaluate(node.left, columns, length)
        right = evaluate(node.right, columns, length)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        with np.errstate(divide="ignore", invalid="ignore"):
            out = left / np.where(right == 0, np.nan, right)
        return np.where(right == 0, np.nan, out)
    stacked = np.vstack([evaluate(a, columns, length) for a in node.args])
    picked = stacked.min(axis=0) if node.name == "min" else stacked.max(axis=0)
    return np.where(np.isnan(stacked).any(axis=0), np.nan, picked)
