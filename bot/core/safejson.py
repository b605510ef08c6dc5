"""Reading JSON from outside within bounds: a hostile or broken body never costs the valid parts.

`loads` parses what the standard library parses, but a value it cannot keep safely becomes an
`Invalid` marker in place instead of failing the whole body: a number out of range (1e400, NaN,
a 5,000-digit integer), a subtree nested deeper than MAX_DEPTH. `problem` then says why one part
(an event) cannot be stored as it is: a marker, text PostgreSQL refuses (NUL, lone surrogates),
or a string or structure too large. The caller quarantines that part and keeps the rest
(docs/architecture.md, intake).
"""
from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any, Callable

import ijson

MAX_DEPTH = 32  # Meta's payloads are about 8 deep
MAX_STRING = 65_536  # characters of one string (a text message is at most 4,096)
MAX_INT_DIGITS = 20


class Invalid(str):
    """A value replaced on reading: the text says what it was. A str, so the part it sits in can
    still be kept as JSON (for the quarantine's record)."""


MAX_EXPONENT = 30  # of a decimal kept as Decimal: money and quantities never come near it


def _float(text: str) -> float | Invalid:
    value = float(text)
    return value if math.isfinite(value) else Invalid(f"number out of range: {text[:40]}")


def _decimal(text: str) -> Decimal | Invalid:
    value = Decimal(text)
    if not value.is_finite() or abs(value.adjusted()) > MAX_EXPONENT:
        return Invalid(f"number out of range: {text[:40]}")
    return value


def _int(text: str) -> int | Invalid:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= MAX_INT_DIGITS else Invalid(f"number out of range: {digits} digits")


def _constant(name: str) -> Invalid:
    return Invalid(f"number out of range: {name}")


def loads(raw: bytes | str, decimals: bool = False) -> Any:
    """The JSON value of `raw`, with out-of-range numbers and over-deep subtrees as Invalid;
    with `decimals`, non-integers as Decimal (Shopify's money).

    Raises ValueError only when `raw` is not JSON at all."""
    real = _decimal if decimals else _float
    try:
        return json.loads(raw, parse_float=real, parse_int=_int, parse_constant=_constant)
    except RecursionError:
        return _loads_deep(raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass"), real)


def _number(value: Any, real: Callable[[str], Any]) -> Any:
    if isinstance(value, Decimal):  # ijson's non-integers
        return real(str(value))
    if isinstance(value, int) and not isinstance(value, bool):
        return _int(str(value))
    return value


def _loads_deep(raw: bytes, real: Callable[[str], Any]) -> Any:
    """A body too deep for the standard parser (which recurses): built from ijson's event stream,
    with every subtree below MAX_DEPTH replaced by one marker."""
    root: list[Any] = []
    stack: list[Any] = [root]  # containers being filled; a dict's pending key sits in `keys`
    keys: list[str | None] = [None]
    skipped = 0  # depth inside a subtree being dropped
    try:
        for _prefix, event, value in ijson.parse(raw, use_float=False):
            if skipped:
                if event in ("start_map", "start_array"):
                    skipped += 1
                elif event in ("end_map", "end_array"):
                    skipped -= 1
                continue
            if event == "map_key":
                keys[-1] = value
                continue
            if event in ("start_map", "start_array"):
                if len(stack) > MAX_DEPTH:
                    _put(stack, keys, Invalid(f"nested deeper than {MAX_DEPTH}"))
                    skipped = 1
                    continue
                container: Any = {} if event == "start_map" else []
                _put(stack, keys, container)
                stack.append(container)
                keys.append(None)
            elif event in ("end_map", "end_array"):
                stack.pop()
                keys.pop()
            else:
                _put(stack, keys, _number(value, real))
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not root:
        raise ValueError("not JSON: empty body")
    return root[0]


def _put(stack: list[Any], keys: list[str | None], value: Any) -> None:
    target = stack[-1]
    if isinstance(target, dict):
        target[keys[-1]] = value
    else:
        target.append(value)


def problem(value: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why `value` cannot be stored and processed as it is, or None. Iterative: any depth."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Invalid):
            return str(item)
        if isinstance(item, str):
            reason = text_problem(item)
            if reason:
                return reason
        elif isinstance(item, (float, Decimal)) and not (math.isfinite(item) if isinstance(item, float)
                                                         else item.is_finite()):
            return "number out of range"
        elif isinstance(item, (dict, list)):
            if depth >= max_depth:
                return f"nested deeper than {max_depth}"
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str):
                    reason = text_problem(key)
                    if reason:
                        return reason
                pending.append((child, depth + 1))
    return None


def text_problem(text: str) -> str | None:
    """Text PostgreSQL would refuse, or longer than any field of ours could need."""
    if len(text) > MAX_STRING:
        return f"text of {len(text)} characters (at most {MAX_STRING})"
    if "\x00" in text:
        return "text contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text is not valid Unicode (a lone surrogate)"
    return None


def dumps_for_record(value: Any) -> str:
    """`value` as JSON text that any database stores, whatever it holds (escaped, ASCII only)."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True, default=str)
