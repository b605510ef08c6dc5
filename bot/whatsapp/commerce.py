"""The catalog's retailer ids and an inbound cart's items, for commerce messages (docs/catalog.md). Pure.

A product in the store's Meta catalog is named by its retailer id, spelled from a Shopify variant
by `[store] catalog_retailer_id` (a format over {sku}, {variant_id} and {product_id}; Shopify's own
catalog sync writes `shopify_US_{product_id}_{variant_id}`). Recommendations render it; a cart the
customer sends from the catalog (an `order` message) is read back through it: each line's retailer
id parsed by the format, the variants it may name looked up by the caller (segments/catalog.py),
and only a variant whose own rendering is that retailer id taken (or, when the format spells
{variant_id}, the variant it names). So a SKU or a product id is never taken for another's.
"""
from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

FIELDS = ("sku", "variant_id", "product_id")
NUMERIC = ("variant_id", "product_id")
# Meta's catalog items take ids of up to 100 characters; a longer one names nothing of ours.
MAX_RETAILER_ID = 100
# What one inbound cart is read for: a cart beyond these bounds is hostile, not a customer's.
MAX_CART_LINES = 100
MAX_QUANTITY = 999
# Unknown items named in a reply: at most this many, each shortened (they are the sender's text).
MAX_NAMED = 5
MAX_NAME = 40
_NUMBER = r"[1-9][0-9]{0,18}"  # a Shopify id as str(int) spells it
MAX_ID = 2**63 - 1  # what a BIGINT column holds: a larger number names nothing (and no query gets it)


@dataclass(frozen=True)
class Variant:
    """What a retailer id can be spelled from: a variant we know (catalogue or line items)."""

    variant_id: int
    product_id: int | None = None
    sku: str | None = None


class RetailerIds:
    """One `catalog_retailer_id` format (checked at start by bot/core/config.py), both ways."""

    def __init__(self, template: str):
        self.template = template
        parts = list(string.Formatter().parse(template))
        self.fields = tuple(dict.fromkeys(name for _, name, _, _ in parts if name is not None))
        pattern, seen = [], set()
        for literal, name, _, _ in parts:
            pattern.append(re.escape(literal))
            if name is None:
                continue
            if name in seen:
                pattern.append(f"(?P={name})")
            else:
                seen.add(name)
                pattern.append(f"(?P<{name}>{_NUMBER if name in NUMERIC else '.+'})")
        self._pattern = re.compile("".join(pattern), re.DOTALL)

    def render(self, variant: Variant) -> str | None:
        """The variant's retailer id; None when the format needs what the variant lacks (no SKU)."""
        values: dict[str, str] = {}
        for name in self.fields:
            value = getattr(variant, name)
            if value is None or (isinstance(value, str) and not value.strip()):
                return None
            values[name] = str(value)
        rendered = self.template.format(**values)
        return rendered if len(rendered) <= MAX_RETAILER_ID else None

    def read(self, retailer_id: str) -> dict[str, str] | None:
        """The fields a retailer id spells, or None when it is not one of this format's."""
        if not isinstance(retailer_id, str) or not 0 < len(retailer_id) <= MAX_RETAILER_ID:
            return None
        found = self._pattern.fullmatch(retailer_id)
        if found is None or any(int(found.group(name)) > MAX_ID for name in self.fields if name in NUMERIC):
            return None
        return {name: found.group(name) for name in self.fields}


@dataclass(frozen=True)
class Lookup:
    """What to look variants up by, for a set of retailer ids: the caller's one query."""

    variant_ids: frozenset[int]
    product_ids: frozenset[int]
    skus: frozenset[str]


def lookup_for(ids: RetailerIds, retailer_ids: Iterable[str]) -> Lookup:
    """The variant ids, product ids and SKUs the retailer ids spell (the most selective field only)."""
    key = next(name for name in ("variant_id", "sku", "product_id") if name in ids.fields)
    values = {read[key] for rid in retailer_ids if (read := ids.read(rid)) is not None}
    if key == "sku":
        return Lookup(frozenset(), frozenset(), frozenset(values))
    numbers = frozenset(int(v) for v in values)
    return Lookup(numbers if key == "variant_id" else frozenset(), numbers if key == "product_id" else frozenset(),
                  frozenset())


def resolve(ids: RetailerIds, retailer_ids: Iterable[str], known: Iterable[Variant]) -> dict[str, int]:
    """Retailer id -> the variant it names: a known variant whose rendering is that id (the lowest
    variant id when several are, as a {product_id} format gives for a product's variants); else,
    when the format spells {variant_id}, the variant id it reads (Shopify's cart page then decides
    whether it is on sale)."""
    rendered: dict[str, int] = {}
    for variant in sorted(known, key=lambda v: v.variant_id):
        rid = ids.render(variant)
        if rid is not None:
            rendered.setdefault(rid, variant.variant_id)
    found: dict[str, int] = {}
    for rid in retailer_ids:
        if rid in rendered:
            found[rid] = rendered[rid]
        elif "variant_id" in ids.fields and (read := ids.read(rid)) is not None:
            found[rid] = int(read["variant_id"])
    return found


@dataclass(frozen=True)
class CartLine:
    retailer_id: str
    quantity: int


@dataclass(frozen=True)
class Cart:
    """An inbound cart as we can use it: its readable lines, and what could not be read."""

    lines: tuple[CartLine, ...]
    unreadable: tuple[str, ...]  # retailer ids (or a stand-in) of lines we cannot use


def _quantity(raw: object) -> int | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        return None
    if raw != int(raw) or not 1 <= raw <= MAX_QUANTITY:
        return None
    return int(raw)


def read_cart(items: Sequence[Mapping[str, object]]) -> Cart:
    """An `order` message's product_items -> lines (retailer id, whole quantity 1..999). A line
    without a retailer id, with an odd quantity, or past the first MAX_CART_LINES is unreadable."""
    lines: list[CartLine] = []
    unreadable: list[str] = []
    for index, item in enumerate(items):
        rid = item.get("product_retailer_id") if isinstance(item, Mapping) else None
        rid = rid.strip() if isinstance(rid, str) else ""
        quantity = _quantity(item.get("quantity")) if isinstance(item, Mapping) else None
        if index >= MAX_CART_LINES or not rid or quantity is None:
            unreadable.append(rid or "?")
        else:
            lines.append(CartLine(rid, quantity))
    return Cart(tuple(lines), tuple(unreadable))


def safe_name(retailer_id: str) -> str:
    """A retailer id as a reply may quote it: printable, one line, shortened."""
    text = " ".join("".join(c if c.isprintable() else " " for c in retailer_id).split())
    return (text if len(text) <= MAX_NAME else text[: MAX_NAME - 1] + "…") or "?"


def named(retailer_ids: Sequence[str], more: Callable[[int], str]) -> list[str]:
    """The ids to name in a reply, once each, at most MAX_NAMED; then `more(count)` ("3 more")."""
    unique = list(dict.fromkeys(safe_name(rid) for rid in retailer_ids))
    shown = unique[:MAX_NAMED]
    if len(unique) > MAX_NAMED:
        shown.append(more(len(unique) - MAX_NAMED))
    return shown

