"""Segment-aware replies: one table per intent in [replies], a key per segment plus `default`.

A reply is chosen from the first segment in `segment_priority` that the customer belongs to and
that the intent's table names; else the table's `default`; else the built-in text below.
"""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from bot.errors import ConfigError

PLACEHOLDERS = ("first_name", "store_name", "last_order_name", "last_order_items", "order_status",
                "tracking_url", "cart_url", "product_title", "discount_code")

BUILT_IN: dict[str, str] = {
    "greet": "Hi {first_name}! Welcome to {store_name}. How can we help today?",
    "thanks": "You're welcome, {first_name}! Anything else we can do for you?",
    "stop": "You're unsubscribed: {store_name} won't send you offers or reminders any more. "
            "Reply START at any time to opt back in.",
    "start": "Welcome back, {first_name}! You'll hear from {store_name} again. Reply STOP at any time to opt out.",
    "human": "Thanks, {first_name}. I've asked a member of our team to take over; they'll answer here shortly.",
    "fallback": "Sorry, I didn't quite get that. You can ask about your order status, reorder, get a "
                "recommendation, or type HUMAN to talk to our team.",
    "media": "Thanks! I can only read text messages for now. Could you type your question?",
    "order_status": "Your last order {last_order_name} is {order_status}. {tracking_url}",
    "no_orders": "I couldn't find an order for this number yet, {first_name}. If you ordered with another "
                 "phone number, type HUMAN and our team will look it up.",
    "reorder": "Your last order {last_order_name}: {last_order_items}. Tap Reorder to get it again.",
    "reorder_link": "Here's your cart with the same items, ready to check out: {cart_url}",
    "recommend": "Customers who bought what you have also loved {product_title}.",
    "sale": "Our sale is on! Use {discount_code} at checkout.",
}


@dataclass(frozen=True)
class Rendered:
    intent: str
    segment: str | None  # the segment whose variant was used, None for the default
    text: str


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def placeholders_in(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]


class ReplyBook:
    def __init__(self, replies: Mapping[str, Any], store_name: str):
        self.priority: tuple[str, ...] = tuple(replies.get("segment_priority", ()))
        self.tables: dict[str, dict[str, str]] = {
            intent: dict(table) for intent, table in replies.items() if intent != "segment_priority"
        }
        self.store_name = store_name
        self._check_placeholders()

    def _check_placeholders(self) -> None:
        for intent, table in self.tables.items():
            for segment, template in table.items():
                try:
                    names = placeholders_in(template)
                except ValueError as exc:
                    raise ConfigError(f"[replies.{intent}] {segment}: {exc}") from None
                for name in names:
                    if name not in PLACEHOLDERS:
                        raise ConfigError(f"[replies.{intent}] {segment}: unknown placeholder {{{name}}}; "
                                          f"known: {', '.join(PLACEHOLDERS)}")

    def check_segments(self, known: Iterable[str]) -> None:
        """Raise naming the first reply or priority entry that names a segment that does not exist."""
        known = set(known)
        for name in self.priority:
            if name not in known:
                raise ConfigError(f"[replies] segment_priority names unknown segment {name!r}")
        for intent, table in self.tables.items():
            for segment in table:
                if segment != "default" and segment not in known:
                    raise ConfigError(f"[replies.{intent}] names unknown segment {segment!r}")

    def choose(self, intent: str, segments: Iterable[str]) -> tuple[str | None, str | None]:
        """(segment used or None, template) for an intent; template None when there is none at all."""
        table = self.tables.get(intent, {})
        member = set(segments)
        for segment in self.priority:
            if segment in member and segment in table:
                return segment, table[segment]
        if "default" in table:
            return None, table["default"]
        return None, BUILT_IN.get(intent)

    def render(self, intent: str, segments: Iterable[str], values: Mapping[str, Any]) -> Rendered | None:
        segment, template = self.choose(intent, segments)
        if template is None:
            return None
        return Rendered(intent, segment, fill(template, values, self.store_name))


def fill(template: str, values: Mapping[str, Any], store_name: str) -> str:
    """Placeholders filled: a missing value is blank, a missing first name is "there". Replies,
    campaigns and reorder prompts all fill their text here."""
    filled = _Blank({k: "" if v is None else str(v) for k, v in values.items()})
    filled.setdefault("store_name", store_name)
    if not filled.get("first_name"):
        filled["first_name"] = "there"
    return re.sub(r"[ \t]{2,}", " ", template.format_map(filled)).strip()
