"""Segment-aware replies: one table per intent in [replies], a key per segment plus `default`.

A reply is chosen from the first segment in `segment_priority` that the customer belongs to and
that the intent's table names; else the table's `default`; else the built-in text below.

Built-in texts are lists of candidates: the first whose placeholders all have a value is used,
so "Track it here: {tracking_url}" is never sent without a link. A store's own text is used as
written (an empty placeholder becomes nothing).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from bot.core.errors import ConfigError
from bot.core.text import placeholder_problem, placeholders_in

if TYPE_CHECKING:  # pragma: no cover
    from bot.core.config import Settings

PLACEHOLDERS = ("first_name", "store_name", "last_order_name", "last_order_items", "order_status",
                "tracking_url", "cart_url", "product_title", "discount_code")

# The built-in segments (docs/segments.md, built-in segments). Custom ones come from [segments.*].
BUILT_IN_SEGMENTS = ("first_time_buyer", "repeat_buyer", "loyal", "lapsed", "aov_low", "aov_mid", "aov_high",
                     "sale_shopper", "vip", "former_vip", "chat_engaged", "chat_unengaged", "window_open",
                     "opted_out")

# Intents a customer can express, each with a reply table of the same name.
INTENT_REPLIES = ("greet", "thanks", "order_status", "reorder", "recommend", "sale", "human", "stop", "start",
                  "fallback", "media", "preferences")

# Replies that are steps of a flow rather than answers to an intent; configurable the same way.
STEP_REPLIES = ("no_orders", "reorder_link", "reorder_unavailable", "recommend_popular", "recommend_cart",
                "no_recommendations", "preferences_saved", "preferences_unavailable", "handoff_timeout",
                "assistant_unavailable")

REPLY_NAMES = INTENT_REPLIES + STEP_REPLIES

BUILT_IN: dict[str, dict[str, tuple[str, ...]]] = {
    "greet": {"default": ("Hi {first_name}! Welcome to {store_name}. How can we help today?",)},
    "thanks": {"default": ("You're welcome, {first_name}! Anything else we can do for you?",)},
    "stop": {"default": ("You're unsubscribed: {store_name} won't send you offers or reminders any more. "
                         "Reply START at any time to opt back in.",)},
    "start": {"default": ("Welcome back, {first_name}! You'll hear from {store_name} again. "
                          "Reply STOP at any time to opt out.",)},
    "human": {"default": ("Thanks, {first_name}. I've asked a member of our team to take over; "
                          "they'll answer here shortly.",)},
    "fallback": {"default": ("Sorry, I didn't quite get that. You can ask about your order status, reorder, "
                             "get a recommendation, or type HUMAN to talk to our team.",)},
    "media": {"default": ("Thanks! I can only read text messages for now. Could you type your question?",)},
    "order_status": {"default": (
        "Your last order {last_order_name} ({last_order_items}) is {order_status}. Track it here: {tracking_url}",
        "Your last order {last_order_name} ({last_order_items}) is {order_status}.",
    )},
    "no_orders": {"default": ("I couldn't find an order for this number yet, {first_name}. If you ordered with "
                              "another phone number, type HUMAN and our team will look it up.",)},
    "reorder": {"default": ("Your last order {last_order_name}: {last_order_items}. Tap Reorder to get it again.",)},
    "reorder_link": {"default": ("Here's your cart with the same items, ready to check out: {cart_url}",)},
    "reorder_unavailable": {"default": ("Sorry {first_name}, I can't rebuild that order as a cart. Type HUMAN "
                                        "and our team will help you reorder.",)},
    # No "tap one" here: the list of suggestions says that itself, and without a shop domain there is none.
    "recommend": {"default": ("Customers who bought what you have also loved {product_title}.",)},
    "recommend_popular": {"default": ("Our customers' favourites right now include {product_title}.",)},
    "recommend_cart": {"default": ("Here's {product_title} in your cart, ready to check out: {cart_url}",)},
    "no_recommendations": {"default": ("I don't have a suggestion for you yet, {first_name}. Type HUMAN and our "
                                       "team will gladly help.",)},
    "sale": {
        "default": ("We'll tell you here first when our next sale starts, {first_name}.",),
        "sale_shopper": ("Early access for you, {first_name}: use {discount_code} at checkout before our sale "
                         "opens to everyone.",),
    },
    "preferences": {"default": ("What are you into, {first_name}? Pick one and we'll send you the things "
                                "you care about.",)},
    "preferences_saved": {"default": ("Got it, thanks {first_name}! We'll keep that in mind.",)},
    "preferences_unavailable": {"default": ("Thanks {first_name}! There's nothing to choose from just yet.",)},
    "handoff_timeout": {"default": ("Sorry for the wait, {first_name}: our team couldn't get to you just now. "
                                    "I'm back to help, or type HUMAN to ask for a person again.",)},
    "assistant_unavailable": {"default": ("Sorry {first_name}, our assistant is briefly unavailable. I've passed "
                                          "your message to our team and they'll answer here.",)},
}


@dataclass(frozen=True)
class Rendered:
    intent: str
    segment: str | None  # the segment whose variant was used, None for a default
    text: str


class Values(dict):
    """Placeholder values, some computed only when a reply names them (an order lookup, a query)."""

    def __init__(self, fixed: Mapping[str, Any] | None = None,
                 lazy: Mapping[str, Callable[[], Any]] | None = None):
        super().__init__({k: "" if v is None else str(v) for k, v in (fixed or {}).items()})
        self._lazy = dict(lazy or {})

    def __missing__(self, key: str) -> str:
        compute = self._lazy.pop(key, None)
        value = compute() if compute is not None else None
        self[key] = "" if value is None else str(value)
        return self[key]

    def with_values(self, **values: Any) -> "Values":
        merged = Values(lazy=self._lazy)
        dict.update(merged, self)
        dict.update(merged, {k: "" if v is None else str(v) for k, v in values.items()})
        for key in values:
            merged._lazy.pop(key, None)
        return merged


def known_segments(settings: "Settings") -> tuple[str, ...]:
    """The built-in segments (docs/segments.md) plus the store's own [segments.*]."""
    return BUILT_IN_SEGMENTS + tuple(name for name in settings.file.segments if name not in BUILT_IN_SEGMENTS)


class ReplyBook:
    def __init__(self, replies: Mapping[str, Any], store_name: str):
        self.priority: tuple[str, ...] = tuple(replies.get("segment_priority", ()))
        self.tables: dict[str, dict[str, str]] = {
            intent: dict(table) for intent, table in replies.items() if intent != "segment_priority"
        }
        self.store_name = store_name
        self._check_names()
        self._check_placeholders()

    @classmethod
    def from_settings(cls, settings: "Settings") -> "ReplyBook":
        """The store's replies, checked against the placeholders and the segments that exist.

        Raises ConfigError naming the first bad entry, so `serve`, `worker` and `actions` refuse
        to start rather than send a reply with a hole in it.
        """
        book = cls(settings.file.replies, settings.store.name)
        book.check_segments(known_segments(settings))
        return book

    def _check_names(self) -> None:
        for name in self.tables:
            if name not in REPLY_NAMES:
                raise ConfigError(f"[replies.{name}] is not a reply this bot sends; known: {', '.join(REPLY_NAMES)}")

    def _check_placeholders(self) -> None:
        for intent, table in self.tables.items():
            for segment, template in table.items():
                problem = placeholder_problem(template, PLACEHOLDERS)
                if problem:
                    raise ConfigError(f"[replies.{intent}] {segment}: {problem}")

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

    def choose(self, intent: str, segments: Iterable[str]) -> list[tuple[str | None, str]]:
        """Candidate (segment or None, template) pairs for an intent, best first; [] when there is none."""
        table = self.tables.get(intent, {})
        member = set(segments)
        for segment in self.priority:
            if segment in member and segment in table:
                return [(segment, table[segment])]
        if "default" in table:
            return [(None, table["default"])]
        built_in = BUILT_IN.get(intent, {})
        candidates: list[tuple[str | None, str]] = []
        for segment in (*self.priority, *sorted(built_in)):
            if segment != "default" and segment in member and segment in built_in:
                candidates.extend((segment, text) for text in built_in[segment])
                break
        candidates.extend((None, text) for text in built_in.get("default", ()))
        return candidates

    def render(self, intent: str, segments: Iterable[str], values: Mapping[str, Any]) -> Rendered | None:
        candidates = self.choose(intent, segments)
        if not candidates:
            return None
        filled = with_defaults(values, self.store_name)
        # A store's own text is a single candidate; of the built-ins, the first whose every
        # placeholder has a value.
        segment, template = next(
            ((s, t) for s, t in candidates if all(filled[name] for name in placeholders_in(t))), candidates[-1])
        return Rendered(intent, segment, fill(template, filled, self.store_name))


def with_defaults(values: Mapping[str, Any], store_name: str) -> Values:
    """The values with the store's name, and "there" for a missing first name."""
    filled = values if isinstance(values, Values) else Values(values)
    if not filled.get("store_name"):
        filled["store_name"] = store_name
    if not filled.get("first_name"):
        filled["first_name"] = "there"
    return filled


def fill(template: str, values: Mapping[str, Any], store_name: str) -> str:
    """A text with its placeholders filled (an empty value becomes nothing, and the spaces around
    it go). Replies, campaigns and reorder prompts all fill their text here."""
    text = re.sub(r"[ \t]{2,}", " ", template.format_map(with_defaults(values, store_name))).strip()
    return re.sub(r"[ \t]+([.,!?])", r"\1", text)
