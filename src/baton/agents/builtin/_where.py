"""The small, safe expression language of ``data.filter``: parsed here, never `eval`-ed.

```
expr       := and ("or" and)*
and        := not ("and" not)*
not        := "not" not | comparison
comparison := "(" expr ")" | operand (OP operand)?
OP         := == | = | != | < | <= | > | >= | contains
operand    := NUMBER | "text" | 'text' | true | false | null | column | `column name`
```

An operand alone is true when the value is truthy. Values compare as written, except that a
number compared with text that reads as a number compares as numbers ("100" > 50), and an
ordering between values that cannot be ordered (text and a number, anything and null) is false
rather than an error, so rows with a missing value simply do not match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from baton.agents.parsing.text import quoted_spans
from baton.errors import AgentInputError


@dataclass(frozen=True, slots=True)
class Value:
    """A literal: number, text, boolean or null."""

    value: Any
    """The literal's value, already typed."""


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the row."""

    name: str
    """The column's name (a missing column reads as null)."""


@dataclass(frozen=True, slots=True)
class Compare:
    """``left OP right``."""

    op: str
    """One of ``== != < <= > >= contains``."""
    left: Value | Column
    """Left operand."""
    right: Value | Column
    """Right operand."""


@dataclass(frozen=True, slots=True)
class Not:
    """``not operand``."""

    operand: Node
    """The negated expression."""


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``a and b and ...`` or ``a or b or ...``."""

    op: str
    """``and`` or ``or``."""
    operands: tuple[Node, ...]
    """Two or more expressions."""


Node = Value | Column | Compare | Not | BoolOp

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<num>-?\d+(?:\.\d+)?(?![\w.]))
    |(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    |(?P<col>`[^`]+`)
    |(?P<op>==|!=|<=|>=|<|>|=)
    |(?P<paren>[()])
    |(?P<word>[A-Za-z_][\w.]*)""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "contains"})
_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None, "none": None}
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "contains"})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    pos: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            raise _error(source, pos, "a value, a column, an operator or a parenthesis")
        kind = m.lastgroup or ""
        text = m.group(0)
        if kind == "word" and text.lower() in _KEYWORDS:
            kind, text = "kw", text.lower()
        if kind == "op" and text == "=":
            text = "=="  # people write `status = "paid"`
        if kind != "ws":
            tokens.append(_Token(kind, text, pos))
        pos = m.end()
    return tokens


def _error(source: str, pos: int, expected: str) -> AgentInputError:
    found = repr(source[pos : pos + 12]) if pos < len(source) else "the end"
    return AgentInputError(
        f"bad filter {source!r}: at position {pos} expected {expected}, found {found}",
        hint='write comparisons like: amount > 100 and status == "paid"',
    )


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def fail(self, expected: str) -> AgentInputError:
        token = self.peek()
        return _error(self.source, token.pos if token else len(self.source), expected)

    def take_kw(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.kind == "kw" and token.text == word:
            self.i += 1
            return True
        return False

    def parse(self) -> Node:
        if not self.tokens:
            raise self.fail("an expression")
        node = self.parse_bool("or")
        if self.peek() is not None:
            raise self.fail("'and', 'or' or the end of the expression")
        return node

    def parse_bool(self, op: str) -> Node:
        parts = [self.parse_bool("and") if op == "or" else self.parse_not()]
        while self.take_kw(op):
            parts.append(self.parse_bool("and") if op == "or" else self.parse_not())
        return parts[0] if len(parts) == 1 else BoolOp(op, tuple(parts))

    def parse_not(self) -> Node:
        if self.take_kw("not"):
            return Not(self.parse_not())
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        token = self.peek()
        if token is not None and token.text == "(":
            self.i += 1
            inner = self.parse_bool("or")
            closing = self.peek()
            if closing is None or closing.text != ")":
                raise self.fail("')'")
            self.i += 1
            return inner
        left = self.parse_operand()
        token = self.peek()
        if token is None or token.text not in _COMPARISONS:
            return left
        self.i += 1
        return Compare(token.text, left, self.parse_operand())

    def parse_operand(self) -> Value | Column:
        token = self.peek()
        expected = 'a value (a number, "text" or a column name)'
        if token is None or token.kind not in ("num", "str", "col", "word"):
            raise self.fail(expected)
        self.i += 1
        if token.kind == "num":
            return Value(float(token.text) if "." in token.text else int(token.text))
        if token.kind == "str":
            return Value(re.sub(r"\\(.)", r"\1", token.text[1:-1]))
        if token.kind == "col":
            return Column(token.text[1:-1])
        if token.text.lower() in _CONSTANTS:
            return Value(_CONSTANTS[token.text.lower()])
        return Column(token.text)


def parse(source: str) -> Node:
    """Parse a filter expression.

    Raises:
        AgentInputError: The expression is malformed; the message names the position and
            what was expected there.
    """
    return _Parser(source).parse()


def columns(node: Node) -> list[str]:
    """Column names the expression reads, in order of appearance."""
    if isinstance(node, Column):
        return [node.name]
    if isinstance(node, Compare):
        return columns(node.left) + columns(node.right)
    if isinstance(node, Not):
        return columns(node.operand)
    if isinstance(node, BoolOp):
        return [c for part in node.operands for c in columns(part)]
    return []


def matches(node: Node, row: Mapping[str, Any]) -> bool:
    """Whether `row` satisfies the expression."""
    if isinstance(node, BoolOp):
        results = (matches(part, row) for part in node.operands)
        return all(results) if node.op == "and" else any(results)
    if isinstance(node, Not):
        return not matches(node.operand, row)
    if isinstance(node, Compare):
        return _compare(node.op, _value(node.left, row), _value(node.right, row))
    return bool(_value(node, row))


def _value(node: Value | Column, row: Mapping[str, Any]) -> Any:
    return row.get(node.name) if isinstance(node, Column) else node.value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value.replace(",", ""))
        except ValueError:
            return value
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "contains":
        if isinstance(left, str):
            return str(right).lower() in left.lower()
        return isinstance(left, list | tuple | set | dict) and right in left
    if _is_number(left) and isinstance(right, str):
        right = _as_number(right)
    elif _is_number(right) and isinstance(left, str):
        left = _as_number(left)
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False


# --- from plain language (for the planner's extractor) ---------------------------------

# Plain-language comparisons, longest phrases first so "is not" wins over "is".
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"is not equal to|not equal to|does not equal|is not|isn't|is different from", "!="),
    (r"is greater than or equal to|is at least|at least", ">="),
    (r"is less than or equal to|is at most|at most", "<="),
    (r"(?:is )?(?:greater|more|bigger|higher|larger) than|(?:is )?(?:over|above)|exceeds", ">"),
    (r"(?:is )?(?:less|fewer|smaller|lower) than|(?:is )?(?:under|below)", "<"),
    (r"is equal to|equals|is", "=="),
    (r"includes|mentions", "contains"),
)
_BARE_VALUE = re.compile(r"(==|!=|contains)\s+([A-Za-z_][\w-]*)\b(?!\s*(?:==|!=|[<>]|contains))")


def from_words(condition: str) -> str:
    """Turn "status is paid and amount over 100" into ``status == "paid" and amount > 100``."""
    out: list[str] = []
    last = 0
    for _, start, end in [*quoted_spans(condition), ("", len(condition), len(condition))]:
        segment = condition[last:start]
        for phrase, op in _PHRASES:
            segment = re.sub(rf"\b(?:{phrase})(?=\s)", f" {op} ", segment, flags=re.I)
        out += [segment, condition[start:end]]
        last = end
    expr = " ".join("".join(out).split())

    def quote(m: re.Match[str]) -> str:
        word = m.group(2)
        keep = word.lower() in {"and", "or", "not", "true", "false", "null", "none"}
        return m.group(0) if keep else f'{m.group(1)} "{word}"'

    return _BARE_VALUE.sub(quote, expr)
