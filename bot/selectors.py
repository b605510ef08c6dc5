"""Product selectors (`type:Dog Food`, `sku:X`, ...), as the contract defines them for `bought()`
and `[reorder.days]`: parsed once, matched against a product's facts. Pure.

`sku`, `type`, `vendor` and `tag` match exactly, ignoring case; `title` matches a substring,
ignoring case; `product` and `variant` match Shopify ids.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

KINDS = ("sku", "product", "variant", "type", "vendor", "tag", "title")


@dataclass(frozen=True)
class Selector:
    kind: str
    value: str  # folded to lower case for the text kinds

    def matches(self, item: "ProductFacts") -> bool:
        if self.kind == "product":
            return item.product_id is not None and str(item.product_id) == self.value
        if self.kind == "variant":
            return item.variant_id is not None and str(item.variant_id) == self.value
        if self.kind == "sku":
            return (item.sku or "").strip().lower() == self.value
        if self.kind == "type":
            return (item.product_type or "").strip().lower() == self.value
        if self.kind == "vendor":
            return (item.vendor or "").strip().lower() == self.value
        if self.kind == "tag":
            return self.value in item.tags
        return self.value in (item.title or "").lower()  # title


@dataclass(frozen=True)
class ProductFacts:
    """What a line item (with its catalogue product, when known) says about the product bought."""

    product_id: int | None
    variant_id: int | None = None
    sku: str | None = None
    title: str | None = None
    product_type: str | None = None
    vendor: str | None = None
    tags: frozenset[str] = frozenset()  # lower case, trimmed


def parse(text: str) -> Selector:
    kind, sep, value = text.partition(":")
    kind = kind.strip().lower()
    if not sep or kind not in KINDS:
        raise ValueError(f"{text!r} is not a product selector; use one of "
                         + ", ".join(f"{k}:..." for k in KINDS))
    value = value.strip()
    if not value:
        raise ValueError(f"{text!r}: the selector has no value")
    if kind in ("product", "variant") and not value.isdigit():
        raise ValueError(f"{text!r}: a {kind} selector takes a numeric id")
    return Selector(kind, value if kind in ("product", "variant") else value.lower())


def tags_of(raw: str | Iterable[str] | None) -> frozenset[str]:
    """Shopify's comma-separated tags (or a list of them), folded as selectors compare them."""
    if raw is None:
        return frozenset()
    parts = raw.split(",") if isinstance(raw, str) else raw
    return frozenset(p.strip().lower() for p in parts if p and p.strip())
