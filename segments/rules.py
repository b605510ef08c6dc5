"""The segment rule language (docs/segments.md, the rule language): parse a rule, check it, compile it to SQLAlchemy.

Pure: no database, no clock. What an attribute or `bought(...)` means in SQL is the segment engine's
business, reached through a `RuleEnv`; this module only decides the shape of the expression and binds
every literal of the rule as a parameter, so no text of a rule ever reaches SQL as text.

Grammar (keywords `and or not in true false` in any case; names and functions are case-sensitive):

    rule       := or_expr END
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := operand [ OP operand | ["not"] "in" "(" literal ("," literal)* [","] ")" ]
    OP         := "==" | "!=" | "<" | "<=" | ">" | ">="
    operand    := literal | ATTRIBUTE | call | "(" or_expr ")"
    call       := FUNCTION "(" [argument ("," argument)* [","]] ")"
    argument   := literal | "days" "=" NUMBER
    literal    := NUMBER | "-" NUMBER | STRING | "true" | "false"

Chained comparisons (`1 < orders_count < 5`) are rejected: join two comparisons with `and`.

Meaning: an absent value (a NULL attribute, a customer without `attr("x")`) makes every comparison
with it false, whatever the operator (`==`, `!=`, `<`, `in`, `not in`); `not` then negates that
definite answer, so `not attr("interest") == "outdoors"` includes customers without an interest.
A yes/no attribute that is unknown counts as no.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Protocol, Union

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from bot.core.errors import WabotError
from bot.core.tables import UTCDateTime

MAX_RULE_LENGTH = 10_000
MAX_NESTING = 50  # parentheses and `not`s inside one another
MAX_DAYS = 36_500
MAX_NUMBER = 10**15
MAX_NAME_LENGTH = 128  # segment and custom attribute names, as the tables store them
DEFAULT_SAMPLE_SEED = "default"

ATTRIBUTES: Mapping[str, str] = MappingProxyType({
    "orders_count": "number",
    "total_spent": "number",
    "aov": "number",
    "first_order_at": "time",
    "last_order_at": "time",
    "days_since_last_order": "number",
    "orders_count_180d": "number",
    "discount_share": "number",
    "country": "text",
    "province": "text",
    "city": "text",
    "tags": "text",
    "last_inbound_at": "time",
    "days_since_last_inbound": "number",
    "inbound_count_30d": "number",
    "last_read_at": "time",
    "opted_out": "bool",
    "consent": "bool",
    "window_open": "bool",
    "rfm": "text",
    "language": "text",  # one of [store] languages (docs/languages.md)
})

FUNCTIONS = ("bought", "in_segment", "sample", "asked", "has_tag", "orders_in_months", "attr")
SELECTOR_KINDS = ("sku", "product", "variant", "type", "vendor", "tag", "title")
_NUMERIC_SELECTOR_KINDS = ("product", "variant")
_MAX_SHOPIFY_ID = 2**63 - 1
_KEYWORDS = ("and", "or", "not", "in", "true", "false")
_COMPARISON_OPERATORS = ("==", "!=", "<", "<=", ">", ">=")
# Python words people reach for; named so the error says what to write instead.
_FOREIGN_WORDS = {
    "is": "use == or != to compare",
    "none": "there is no null: a comparison with an absent value is simply false",
    "null": "there is no null: a comparison with an absent value is simply false",
    "like": "use bought(\"title:...\") for a substring of a product title",
}
_PYTHON_KEYWORDS = frozenset((
    "lambda if else elif for while def class return yield import from as with try except finally raise "
    "assert del global nonlocal pass break continue async await"
).split())


class RuleError(WabotError):
    """A rule that cannot be parsed or checked. `position` is the 1-based character offset in the rule
    text (the column, for a one-line rule); `reason` is the message without the location."""

    def __init__(self, reason: str, position: int, text: str | None = None):
        self.reason = reason
        self.position = max(1, position)
        self.line, self.column = _line_and_column(text, self.position)
        where = f"column {self.column}" if self.line == 1 else f"line {self.line}, column {self.column}"
        super().__init__(f"rule error at {where}: {reason}")


def _line_and_column(text: str | None, position: int) -> tuple[int, int]:
    if not text:
        return 1, position
    before = text[: position - 1]
    line = before.count("\n") + 1
    return line, position - (before.rfind("\n") + 1)


def _suggest(name: str, candidates: Collection[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.7)
    return f" (did you mean {close[0]}?)" if close else ""


# ---------------------------------------------------------------------------------------------
# Selectors


@dataclass(frozen=True)
class Selector:
    """Which line items `bought` and the reorder rules look at: `kind:value`."""

    kind: str  # one of SELECTOR_KINDS
    value: str  # as written, trimmed; product and variant ids as digits

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


def parse_selector(text: str) -> Selector:
    """`sku:X`, `product:ID`, `variant:ID`, `type:X`, `vendor:X`, `tag:X` or `title:X`.

    Kinds are case-insensitive; product and variant ids are numeric (a Shopify GID such as
    `gid://shopify/Product/123` is accepted for its number). Raises RuleError with the column."""
    if not isinstance(text, str):
        raise RuleError("a product selector is text such as \"sku:ABC-1\"", 1)
    kind_part, colon, value_part = text.partition(":")
    kind = kind_part.strip().lower()
    kind_at = len(kind_part) - len(kind_part.lstrip()) + 1
    kinds = ", ".join(f"{k}:" for k in SELECTOR_KINDS)
    if not colon:
        raise RuleError(f"product selector {text!r} needs a kind: one of {kinds}", kind_at, text)
    if kind not in SELECTOR_KINDS:
        raise RuleError(f"unknown selector kind {kind_part.strip()!r}{_suggest(kind, SELECTOR_KINDS)}; "
                        f"use one of {kinds}", kind_at, text)
    value = value_part.strip()
    value_at = len(kind_part) + 2 + len(value_part) - len(value_part.lstrip())
    if not value:
        raise RuleError(f"product selector {text.strip()!r} has nothing after '{kind}:'", len(text) + 1, text)
    if kind in _NUMERIC_SELECTOR_KINDS:
        digits = _shopify_id(value, kind)
        if digits is None:
            raise RuleError(f"{kind}: takes a numeric Shopify {kind} id, got {value!r}", value_at, text)
        value = digits
    return Selector(kind, value)


def _shopify_id(value: str, kind: str) -> str | None:
    gid = f"gid://shopify/{'Product' if kind == 'product' else 'ProductVariant'}/"
    digits = value[len(gid):] if value.startswith(gid) else value
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or int(digits) > _MAX_SHOPIFY_ID:
        return None
    return str(int(digits))


# ---------------------------------------------------------------------------------------------
# The syntax tree. `position` is the 1-based offset of the node's first character.


@dataclass(frozen=True)
class Literal:
    value: int | float | str | bool | datetime
    type: str  # number | text | bool | time (a text literal becomes time when compared with a time)
    position: int


@dataclass(frozen=True)
class Attribute:
    name: str
    position: int


@dataclass(frozen=True)
class CustomAttribute:
    name: str  # lower case, trimmed: as customer_attributes stores names
    position: int


@dataclass(frozen=True)
class Bought:
    selector: Selector
    days: int | None
    position: int


@dataclass(frozen=True)
class InSegment:
    name: str
    position: int


@dataclass(frozen=True)
class Sample:
    fraction: float
    seed: str
    position: int


@dataclass(frozen=True)
class Asked:
    intent: str  # lower case
    days: int | None
    position: int


@dataclass(frozen=True)
class HasTag:
    tag: str  # lower case, trimmed: as customer_tags stores tags
    position: int


@dataclass(frozen=True)
class OrdersInMonths:
    months: tuple[int, ...]  # sorted, distinct, 1-12
    position: int


@dataclass(frozen=True)
class Comparison:
    op: str
    left: "Node"
    right: "Node"
    position: int  # of the operator


@dataclass(frozen=True)
class Membership:
    left: "Node"
    values: tuple[Literal, ...]
    negated: bool
    position: int  # of `in` / `not`


@dataclass(frozen=True)
class Not:
    operand: "Node"
    position: int


@dataclass(frozen=True)
class And:
    operands: tuple["Node", ...]
    position: int


@dataclass(frozen=True)
class Or:
    operands: tuple["Node", ...]
    position: int


Node = Union[Literal, Attribute, CustomAttribute, Bought, InSegment, Sample, Asked, HasTag, OrdersInMonths,
             Comparison, Membership, Not, And, Or]


def type_of(node: Node) -> str:
    """number | text | time | bool."""
    if isinstance(node, Literal):
        return node.type
    if isinstance(node, Attribute):
        return ATTRIBUTES[node.name]
    if isinstance(node, CustomAttribute):
        return "text"
    if isinstance(node, OrdersInMonths):
        return "number"
    return "bool"


@dataclass(frozen=True)
class Rule:
    """A parsed, checked rule. `segments`: the names it reads through in_segment(), for the engine's
    dependency order; `attributes`: the built-in attributes it reads, for explanations."""

    text: str
    segments: frozenset[str]
    attributes: frozenset[str]
    expression: Node


# ---------------------------------------------------------------------------------------------
# Tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # number | string | name | keyword | op | end
    text: str  # as written (keywords lower-cased)
    value: object
    start: int  # 0-based


_SPACE = re.compile(r"[ \t\r\n\f\v]+")
_OPENING_PARENTHESIS = re.compile(r"[ \t\r\n\f\v]*\(")
_SEGMENT_CALL = re.compile(r"in_segment[ \t\r\n\f\v]*\([ \t\r\n\f\v]*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[A-Za-z0-9_.]*")
_WELL_FORMED_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+|[0-9]+\.")
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">", "(", ")", ",", "=", "-")
_HINTS = {
    "<>": "use != for 'not equal'", ":=": "assignment is not supported", "&&": "use 'and'", "||": "use 'or'",
    "**": "arithmetic is not supported", "//": "arithmetic is not supported",
    "&": "use 'and'", "|": "use 'or'", "!": "use 'not'", "[": "subscripts are not supported",
    "]": "subscripts are not supported", ".": "attribute access is not supported",
    "+": "arithmetic is not supported", "*": "arithmetic is not supported", "/": "arithmetic is not supported",
    "%": "arithmetic is not supported", ":": "':' belongs inside a quoted selector such as \"sku:ABC\"",
    "{": "braces are not supported", "}": "braces are not supported", "#": "comments are not supported",
    ";": "write one expression; join conditions with 'and' or 'or'",
}
_ESCAPES = {"\\": "\\", "'": "'", '"': '"'}


def _tokens(text: str) -> Iterator[_Token]:
    """Tokens left to right, lazily: the first error a reader would meet is the one reported."""
    i, n = 0, len(text)
    while i < n:
        space = _SPACE.match(text, i)
        if space:
            i = space.end()
            continue
        ch = text[i]
        if ch in "\"'":
            token = _string_token(text, i)
        elif number := _NUMBER.match(text, i):
            token = _number_token(text, number.group(), i)
        elif name := _NAME.match(text, i):
            word = name.group()
            if name.end() < n and text[name.end()] in "\"'":
                raise RuleError(f"unexpected {word!r} before a string: string prefixes are not supported",
                                i + 1, text)
            lowered = word.lower()
            token = _Token("keyword", lowered, None, i) if lowered in _KEYWORDS else _Token("name", word, None, i)
        else:
            token = _operator_token(text, i)
        yield token
        i += len(token.text)
    yield _Token("end", "", None, n)


def _operator_token(text: str, i: int) -> _Token:
    hinted = next((w for w in _HINTS if len(w) > 1 and text.startswith(w, i)), None)
    op = None if hinted else next((o for o in _OPERATORS if text.startswith(o, i)), None)
    if op is not None:
        return _Token("op", op, None, i)
    hinted = hinted or (text[i] if text[i] in _HINTS else None)
    if hinted:
        raise RuleError(f"unexpected {hinted!r}: {_HINTS[hinted]}", i + 1, text)
    ch = text[i]
    shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
    raise RuleError(f"unexpected character {shown!r}", i + 1, text)


def _string_token(text: str, start: int) -> _Token:
    """The quoted string that opens at `start`; its value is the contents, escapes resolved."""
    quote, i, parts = text[start], start + 1, []
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return _Token("string", text[start: i + 1], "".join(parts), start)
        if ch == "\\":
            escaped = text[i + 1: i + 2]
            if escaped not in _ESCAPES:
                raise RuleError("unsupported escape in a string: only \\\\, \\' and \\\" are allowed", i + 1, text)
            parts.append(_ESCAPES[escaped])
            i += 2
            continue
        if ch in "\r\n":
            break
        if _is_control(ch):
            raise RuleError(f"control character U+{ord(ch):04X} in a string", i + 1, text)
        parts.append(ch)
        i += 1
    raise RuleError("unterminated string: close it with the same quote it opens with", start + 1, text)


def _is_control(ch: str) -> bool:
    # C0/C1 controls and lone surrogates: databases refuse them or cannot encode them
    code = ord(ch)
    return code < 0x20 or 0x7F <= code < 0xA0 or 0xD800 <= code < 0xE000


def _number_token(text: str, written: str, start: int) -> _Token:
    if not _WELL_FORMED_NUMBER.fullmatch(written):
        raise RuleError(f"malformed number {written!r}", start + 1, text)
    if len(written) > 20:
        raise RuleError(f"number {written[:20]}... is too long", start + 1, text)
    value: int | float = float(written) if "." in written else int(written)
    if abs(value) > MAX_NUMBER:
        raise RuleError(f"number {written} is too large (at most {MAX_NUMBER:,})", start + 1, text)
    return _Token("number", written, value, start)


def _describe(token: _Token) -> str:
    return "the end of the rule" if token.kind == "end" else repr(token.text)


# ---------------------------------------------------------------------------------------------
# Parser: recursive descent; nesting is counted so hostile input fails cleanly, not with RecursionError.


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.stream = _tokens(text)
        self.tokens: list[_Token] = []
        self.index = 0
        self.depth = 0
        self.segments: set[str] = set()
        self.attributes: set[str] = set()

    def fail(self, reason: str, start: int) -> RuleError:
        return RuleError(reason, start + 1, self.text)

    def peek(self, ahead: int = 0) -> _Token:
        wanted = self.index + ahead
        while len(self.tokens) <= wanted and (not self.tokens or self.tokens[-1].kind != "end"):
            self.tokens.append(next(self.stream))
        return self.tokens[min(wanted, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.index += 1
        return token

    def at(self, kind: str, text: str | None = None, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token.kind == kind and (text is None or token.text == text)

    def expect_op(self, text: str, context: str) -> _Token:
        token = self.peek()
        if not self.at("op", text):
            raise self.fail(f"expected '{text}' {context}, found {_describe(token)}", token.start)
        return self.advance()

    def nest(self, start: int) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.fail(f"the rule nests too deeply (more than {MAX_NESTING} levels)", start)

    # rule := or_expr END
    def rule(self) -> Node:
        node = self.or_expr()
        token = self.peek()
        if token.kind != "end":
            raise self.fail(self.unexpected_after_expression(token), token.start)
        self.require_condition(node)
        return node

    def unexpected_after_expression(self, token: _Token) -> str:
        if token.kind == "op" and token.text == "=":
            return "unexpected '=': use == to compare"
        if token.kind == "op" and token.text == ")":
            return "unexpected ')' without a matching '('"
        if token.kind == "keyword" and token.text == "not":
            return "unexpected 'not' here: write 'not in (...)' or put 'not' before a condition"
        if token.kind == "name" and (token.text.lower() in _FOREIGN_WORDS or token.text in _PYTHON_KEYWORDS):
            return _unknown_name(token.text, "word")
        return f"unexpected {_describe(token)}: join conditions with 'and' or 'or'"

    def or_expr(self) -> Node:
        first = self.and_expr()
        operands = [first]
        while self.at("keyword", "or"):
            self.advance()
            operands.append(self.and_expr())
        if len(operands) == 1:
            return first
        for operand in operands:
            self.require_condition(operand)
        return Or(tuple(operands), _position(first))

    def and_expr(self) -> Node:
        first = self.not_expr()
        operands = [first]
        while self.at("keyword", "and"):
            self.advance()
            operands.append(self.not_expr())
        if len(operands) == 1:
            return first
        for operand in operands:
            self.require_condition(operand)
        return And(tuple(operands), _position(first))

    def not_expr(self) -> Node:
        if not self.at("keyword", "not"):
            return self.comparison()
        token = self.advance()
        self.nest(token.start)
        operand = self.not_expr()
        self.depth -= 1
        self.require_condition(operand)
        return Not(operand, token.start + 1)

    def comparison(self) -> Node:
        left = self.operand()
        token = self.peek()
        if token.kind == "op" and token.text in _COMPARISON_OPERATORS:
            self.advance()
            right = self.operand()
            following = self.peek()
            if (following.kind == "op" and following.text in _COMPARISON_OPERATORS) or self.at_membership():
                raise self.fail("chained comparisons are not supported: join two comparisons with 'and'",
                                following.start)
            return self.checked_comparison(token, left, right)
        if self.at_membership():
            return self.membership(left)
        if token.kind == "op" and token.text == "=":
            raise self.fail("unexpected '=': use == to compare", token.start)
        return left

    def at_membership(self) -> bool:
        return self.at("keyword", "in") or (self.at("keyword", "not") and self.at("keyword", "in", ahead=1))

    def membership(self, left: Node) -> Node:
        token = self.advance()
        negated = token.text == "not"
        if negated:
            self.advance()
        if isinstance(left, Literal):
            raise self.fail("'in' needs an attribute or attr(\"...\") on its left", left.position - 1)
        kind = type_of(left)
        if kind == "bool":
            raise self.fail(f"{_name_of(left)} is yes/no: 'in' tests numbers, text or times", token.start)
        self.expect_op("(", "after 'in'")
        values: list[Literal] = []
        while not self.at("op", ")"):
            item = self.literal("a list of values")
            values.append(self.coerced(item, kind, left))
            if not self.at("op", ","):
                break
            self.advance()
        close = self.expect_op(")", "to close the list")
        if not values:
            raise self.fail("'in ()' needs at least one value", close.start)
        following = self.peek()
        if (following.kind == "op" and following.text in _COMPARISON_OPERATORS) or self.at_membership():
            raise self.fail("chained comparisons are not supported: join two comparisons with 'and'",
                            following.start)
        return Membership(left, tuple(values), negated, token.start + 1)

    def checked_comparison(self, op: _Token, left: Node, right: Node) -> Comparison:
        if isinstance(left, Literal) and isinstance(right, Literal):
            raise self.fail("this compares two constants: one side must be an attribute or a function",
                            op.start)
        if isinstance(right, Literal):
            right = self.coerced(right, type_of(left), left)
        elif isinstance(left, Literal):
            left = self.coerced(left, type_of(right), right)
        elif type_of(left) != type_of(right):
            raise self.fail(f"{_name_of(left)} is {_article(type_of(left))} and {_name_of(right)} is "
                            f"{_article(type_of(right))}: they cannot be compared", op.start)
        if type_of(left) == "bool" and op.text not in ("==", "!="):
            raise self.fail(f"yes/no values can only be compared with == or !=, not {op.text}", op.start)
        return Comparison(op.text, left, right, op.start + 1)

    def coerced(self, literal: Literal, wanted: str, other: Node) -> Literal:
        """The literal as a value of the other side's type, or an error naming both."""
        if literal.type == wanted:
            return literal
        if wanted == "time" and literal.type == "text":
            return Literal(self.iso_time(literal), "time", literal.position)
        examples = {"number": "a number such as 3", "text": "a quoted string such as \"US\"",
                    "time": "a quoted ISO 8601 time such as \"2024-01-31\" or \"2024-01-31T09:00:00Z\"",
                    "bool": "true or false"}
        shown = {"number": "a number", "text": "a string", "bool": f"{str(literal.value).lower()}",
                 "time": "a time"}[literal.type]
        raise self.fail(f"{_name_of(other)} is {_article(wanted)}: compare it with {examples[wanted]}, "
                        f"not {shown}", literal.position - 1)

    def iso_time(self, literal: Literal) -> datetime:
        try:
            moment = datetime.fromisoformat(str(literal.value).strip())
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            return moment.astimezone(timezone.utc)
        except (ValueError, OverflowError):
            raise self.fail(f"{literal.value!r} is not an ISO 8601 time such as \"2024-01-31\" or "
                            f"\"2024-01-31T09:00:00+02:00\"", literal.position - 1) from None

    def literal(self, wanted: str) -> Literal:
        token = self.advance()
        if token.kind == "number":
            return Literal(token.value, "number", token.start + 1)  # type: ignore[arg-type]
        if token.kind == "op" and token.text == "-":
            number = self.peek()
            if number.kind != "number":
                raise self.fail("arithmetic is not supported: '-' only makes a negative number", token.start)
            self.advance()
            return Literal(-number.value, "number", token.start + 1)  # type: ignore[operator]
        if token.kind == "string":
            return Literal(token.value, "text", token.start + 1)  # type: ignore[arg-type]
        if token.kind == "keyword" and token.text in ("true", "false"):
            return Literal(token.text == "true", "bool", token.start + 1)
        raise self.fail(f"expected {wanted} (a number, a quoted string, true or false), found "
                        f"{_describe(token)}", token.start)

    def operand(self) -> Node:
        token = self.peek()
        if token.kind == "op" and token.text == "(":
            self.advance()
            self.nest(token.start)
            inner = self.or_expr()
            self.expect_op(")", f"to close the '(' at column {token.start + 1}")
            self.depth -= 1
            return inner
        if token.kind == "name":
            self.advance()
            # Decided on the raw text, so an unknown name is reported before whatever follows it.
            if _OPENING_PARENTHESIS.match(self.text, token.start + len(token.text)):
                return self.call(token)
            return self.attribute(token)
        if token.kind in ("number", "string") or (token.kind == "keyword" and token.text in ("true", "false")) \
                or (token.kind == "op" and token.text == "-"):
            return self.literal("a value")
        if token.kind == "end":
            raise self.fail("the rule ends where a condition or value should follow", token.start)
        raise self.fail(f"expected a condition or a value, found {_describe(token)}", token.start)

    def attribute(self, token: _Token) -> Node:
        name = token.text
        if name in ATTRIBUTES:
            self.attributes.add(name)
            return Attribute(name, token.start + 1)
        if name in FUNCTIONS:
            raise self.fail(f"{name} is a function: call it, e.g. {_example_call(name)}", token.start)
        raise self.fail(_unknown_name(name, "attribute"), token.start)

    def call(self, name_token: _Token) -> Node:
        name = name_token.text
        if name not in FUNCTIONS:
            if name in ATTRIBUTES:
                raise self.fail(f"{name} is an attribute, not a function: write it without ()", name_token.start)
            raise self.fail(_unknown_name(name, "function"), name_token.start)
        self.expect_op("(", f"after {name}")
        positional: list[Literal] = []
        keywords: dict[str, Literal] = {}
        while not self.at("op", ")"):
            if self.at("name") and self.at("op", "=", ahead=1):
                keyword = self.advance()
                self.advance()
                if keyword.text in keywords:
                    raise self.fail("days= is given twice", keyword.start)
                if keyword.text != "days" or name not in ("bought", "asked"):
                    allowed = " (did you mean days?)" if name in ("bought", "asked") and \
                        difflib.get_close_matches(keyword.text, ["days"], cutoff=0.6) else ""
                    raise self.fail(f"{name}() takes no keyword argument {keyword.text!r}{allowed}", keyword.start)
                keywords[keyword.text] = self.literal("a number of days")
            else:
                if keywords:
                    raise self.fail("a value after days= : put days= last", self.peek().start)
                token = self.peek()
                if token.kind == "name":
                    raise self.fail(f"arguments are constants: put {token.text!r} in quotes "
                                    f"(e.g. {_example_call(name)})", token.start)
                positional.append(self.literal(f"an argument of {name}()"))
            if not self.at("op", ","):
                break
            self.advance()
        close = self.expect_op(")", f"to close {name}(")
        return _build_call(self, name, name_token.start, positional, keywords, close.start)

    def require_condition(self, node: Node) -> None:
        kind = type_of(node)
        if kind == "bool":
            return
        if isinstance(node, Literal):
            raise self.fail(f"{'a string' if kind == 'text' else 'a ' + kind} is not a condition",
                            node.position - 1)
        example = {"number": f"{_name_of(node)} >= 1", "text": f"{_name_of(node)} == \"...\"",
                   "time": f"{_name_of(node)} >= \"2024-01-31\""}[kind]
        raise self.fail(f"{_name_of(node)} is {_article(kind)}, not a condition: compare it, e.g. {example}",
                        node.position - 1)


def _build_call(parser: _Parser, name: str, start: int, args: list[Literal], keywords: dict[str, Literal],
                close: int) -> Node:
    position = start + 1

    def argument(index: int, kind: str, what: str) -> Literal:
        if index >= len(args):
            raise parser.fail(f"{name}() needs {what}, e.g. {_example_call(name)}", close)
        arg = args[index]
        if arg.type != kind:
            raise parser.fail(f"{name}() needs {what}, not {_kind_name(arg)}", arg.position - 1)
        return arg

    def at_most(count: int, hint: str = "") -> None:
        if len(args) > count:
            raise parser.fail(f"{name}() takes {count} argument{'s' if count > 1 else ''}{hint}, got {len(args)}",
                              args[count].position - 1)

    def days() -> int | None:
        given = keywords.get("days")
        if given is None:
            return None
        if given.type != "number" or not isinstance(given.value, int) or not 1 <= given.value <= MAX_DAYS:
            raise parser.fail(f"days= takes a whole number of days from 1 to {MAX_DAYS}", given.position - 1)
        return given.value

    def text(index: int, what: str, lower: bool = False) -> str:
        arg = argument(index, "text", what)
        value = str(arg.value).strip()
        if lower:
            value = value.lower()
        if not value:
            raise parser.fail(f"{name}() needs {what}, not an empty string", arg.position - 1)
        if len(value) > MAX_NAME_LENGTH:
            raise parser.fail(f"{what} is longer than {MAX_NAME_LENGTH} characters", arg.position - 1)
        return value

    if name == "bought":
        at_most(1, " (write days=N for a period)")
        arg = argument(0, "text", "a product selector in quotes")
        return Bought(_selector_in_rule(parser, arg), days(), position)
    if name == "asked":
        at_most(1, " (write days=N for a period)")
        return Asked(text(0, "an intent name in quotes", lower=True), days(), position)
    if name == "in_segment":
        at_most(1)
        segment = text(0, "a segment name in quotes")
        parser.segments.add(segment)
        return InSegment(segment, position)
    if name == "has_tag":
        at_most(1)
        return HasTag(text(0, "a customer tag in quotes", lower=True), position)
    if name == "attr":
        at_most(1)
        return CustomAttribute(text(0, "an attribute name in quotes", lower=True), position)
    if name == "sample":
        at_most(2, " (a fraction and an optional seed)")
        fraction = argument(0, "number", "a fraction above 0 and at most 1")
        if not 0 < fraction.value <= 1:  # type: ignore[operator]
            raise parser.fail("sample() takes a fraction above 0 and at most 1, such as 0.1",
                              fraction.position - 1)
        seed = text(1, "a seed in quotes") if len(args) > 1 else DEFAULT_SAMPLE_SEED
        return Sample(float(fraction.value), seed, position)  # type: ignore[arg-type]
    # orders_in_months
    argument(0, "number", "at least one month number (1-12)")
    months = set()
    for arg in args:
        if arg.type != "number" or not isinstance(arg.value, int) or not 1 <= arg.value <= 12:
            raise parser.fail("orders_in_months() takes month numbers from 1 to 12", arg.position - 1)
        months.add(arg.value)
    return OrdersInMonths(tuple(sorted(months)), position)


def _selector_in_rule(parser: _Parser, arg: Literal) -> Selector:
    try:
        return parse_selector(str(arg.value))
    except RuleError as exc:
        # Point into the string when it was written without escapes, else at its opening quote.
        written = parser.text[arg.position: arg.position + len(str(arg.value))]
        offset = exc.position if written == arg.value else 0
        raise parser.fail(exc.reason, arg.position - 1 + offset) from None


def _position(node: Node) -> int:
    return node.position if not isinstance(node, (Comparison, Membership)) else _position(node.left)


def _article(kind: str) -> str:
    return {"number": "a number", "text": "text", "time": "a time", "bool": "yes/no"}[kind]


def _kind_name(literal: Literal) -> str:
    return {"number": "a number", "text": "a string", "bool": str(literal.value).lower(), "time": "a time"}[literal.type]


def _name_of(node: Node) -> str:
    if isinstance(node, Attribute):
        return node.name
    if isinstance(node, CustomAttribute):
        return f"attr({node.name!r})"
    if isinstance(node, OrdersInMonths):
        return f"orders_in_months({', '.join(map(str, node.months))})"
    if isinstance(node, Literal):
        return _kind_name(node)
    return "this condition"


def _example_call(name: str) -> str:
    return {
        "bought": 'bought("type:Cushions", days=90)', "in_segment": 'in_segment("vip")',
        "sample": "sample(0.1)", "asked": 'asked("order_status", days=30)', "has_tag": 'has_tag("wholesale")',
        "orders_in_months": "orders_in_months(11, 12) >= 1", "attr": 'attr("interest") == "outdoors"',
    }[name]


def _unknown_name(name: str, what: str) -> str:
    lowered = name.lower()
    if lowered in _FOREIGN_WORDS:
        return f"unknown word {name!r}: {_FOREIGN_WORDS[lowered]}"
    if name in _PYTHON_KEYWORDS:
        return f"{name!r} is not part of the rule language"
    candidates = (*ATTRIBUTES, *FUNCTIONS, *_KEYWORDS) if what == "attribute" else (*FUNCTIONS, *ATTRIBUTES)
    suggestion = _suggest(name, candidates)
    if not suggestion and what == "attribute":
        suggestion = f" (for a segment, write in_segment(\"{name}\"))"
    return f"unknown {what} {name!r}{suggestion}"


def parse_rule(text: str) -> Rule:
    """Parse and check a rule: syntax, names, argument values and the types compared. Raises RuleError."""
    if not isinstance(text, str):
        raise RuleError("a rule is text", 1)
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(f"the rule is too long ({len(text)} characters; at most {MAX_RULE_LENGTH})",
                        MAX_RULE_LENGTH + 1, text)
    if not text.strip():
        raise RuleError("the rule is empty", 1, text)
    parser = _Parser(text)
    expression = parser.rule()
    return Rule(text, frozenset(parser.segments), frozenset(parser.attributes), expression)


# ---------------------------------------------------------------------------------------------
# Compilation


class RuleEnv(Protocol):
    """What the names of the language mean in SQL, for one query over customers; implemented by the
    segment engine. Every method returns a SQLAlchemy ColumnElement correlated to the customer row and
    must bind the values it is given as parameters. Booleans may be NULL (taken as false)."""

    def attribute(self, name: str) -> ColumnElement: ...  # one of ATTRIBUTES

    def bought(self, selector: Selector, days: int | None) -> ColumnElement: ...  # boolean

    def in_segment(self, name: str) -> ColumnElement: ...  # boolean

    def sample(self, fraction: float, seed: str) -> ColumnElement: ...  # boolean, stable per wa_id

    def asked(self, intent: str, days: int | None) -> ColumnElement: ...  # boolean

    def has_tag(self, tag: str) -> ColumnElement: ...  # boolean

    def orders_in_months(self, months: tuple[int, ...]) -> ColumnElement: ...  # integer count

    def custom_attribute(self, name: str) -> ColumnElement: ...  # text or NULL


def compile_rule(rule: Rule | str, env: RuleEnv, known_segments: Collection[str] | None = None) -> ColumnElement:
    """The rule as a boolean SQL expression over the env's customer row; never NULL.

    With `known_segments`, every in_segment() name must be one of them (RuleError naming it)."""
    if not isinstance(rule, Rule):
        rule = parse_rule(rule)
    if known_segments is not None:
        known = set(known_segments)
        unknown = {name: _first_position(rule.expression, name) for name in rule.segments - known}
        if unknown:
            name = min(unknown, key=unknown.__getitem__)
            call = _SEGMENT_CALL.match(rule.text, unknown[name] - 1)
            position = call.end() + 1 if call else unknown[name]  # at the quoted name
            raise RuleError(f"unknown segment {name!r}{_suggest(name, known)}", position, rule.text)
    return _condition(rule.expression, env)


def _first_position(node: Node, segment: str) -> int:
    stack: list[Node] = [node]
    found: list[int] = []
    while stack:
        current = stack.pop()
        if isinstance(current, InSegment) and current.name == segment:
            found.append(current.position)
        elif isinstance(current, (And, Or)):
            stack.extend(current.operands)
        elif isinstance(current, Not):
            stack.append(current.operand)
        elif isinstance(current, Comparison):
            stack.extend((current.left, current.right))
        elif isinstance(current, Membership):
            stack.append(current.left)
    return min(found, default=1)


def _definite(expression: ColumnElement) -> ColumnElement:
    """NULL -> false, so `not` and `or` read the way a person reads them."""
    return sa.func.coalesce(expression, sa.false(), type_=sa.Boolean())


def _condition(node: Node, env: RuleEnv) -> ColumnElement:
    if isinstance(node, Or):
        return sa.or_(*(_condition(operand, env) for operand in node.operands))
    if isinstance(node, And):
        return sa.and_(*(_condition(operand, env) for operand in node.operands))
    if isinstance(node, Not):
        return sa.not_(_condition(node.operand, env))
    if isinstance(node, Comparison):
        return _comparison(node, env)
    if isinstance(node, Membership):
        left = _value(node.left, env)
        values = [_bound(v) for v in node.values]
        return _definite(left.not_in(values) if node.negated else left.in_(values))
    if isinstance(node, Literal):
        return sa.true() if node.value else sa.false()
    return _definite(_value(node, env))


def _comparison(node: Comparison, env: RuleEnv) -> ColumnElement:
    left, right, op = node.left, node.right, node.op
    if type_of(left) == "bool":
        # Yes/no sides are definite already; compare truth values, not SQL booleans.
        if isinstance(right, Literal) or isinstance(left, Literal):
            literal, other = (right, left) if isinstance(right, Literal) else (left, right)
            condition = _condition(other, env)
            return condition if (op == "==") == bool(literal.value) else sa.not_(condition)
        a, b = _condition(left, env), _condition(right, env)
        return sa.or_(sa.and_(a, b), sa.and_(sa.not_(a), sa.not_(b))) if op == "==" else \
            sa.or_(sa.and_(a, sa.not_(b)), sa.and_(sa.not_(a), b))
    a, b = _value(left, env), _value(right, env)
    compared = {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    return _definite(compared)


def _value(node: Node, env: RuleEnv) -> ColumnElement:
    if isinstance(node, Literal):
        return _bound(node)
    if isinstance(node, Attribute):
        return env.attribute(node.name)
    if isinstance(node, CustomAttribute):
        return env.custom_attribute(node.name)
    if isinstance(node, OrdersInMonths):
        return env.orders_in_months(node.months)
    if isinstance(node, Bought):
        return env.bought(node.selector, node.days)
    if isinstance(node, InSegment):
        return env.in_segment(node.name)
    if isinstance(node, Sample):
        return env.sample(node.fraction, node.seed)
    if isinstance(node, Asked):
        return env.asked(node.intent, node.days)
    if isinstance(node, HasTag):
        return env.has_tag(node.tag)
    return _condition(node, env)


def _bound(literal: Literal) -> ColumnElement:
    """Every constant of a rule reaches the database as a bound parameter."""
    if literal.type == "time":
        return sa.literal(literal.value, UTCDateTime())
    if literal.type == "text":
        return sa.literal(literal.value, sa.String())
    if literal.type == "bool":
        return sa.literal(literal.value, sa.Boolean())
    if isinstance(literal.value, int):
        return sa.literal(literal.value, sa.BigInteger())
    return sa.literal(literal.value, sa.Float())
