"""Segment-aware replies in the customer's language: one table per intent in [replies], a key per
segment plus `default`, and a sub-table per other language of the store ([replies.greet.es]).

Within a table, a reply is chosen from the first segment in `segment_priority` that the customer
belongs to and that the table names; else the table's `default`. Across languages, first that
exists (docs/languages.md): the customer's language's table; the built-in text of their language;
the default language's table; the default language's built-in text (flows/reply_texts.py).

Built-in texts are lists of candidates: the first whose placeholders all have a value is used,
so "Track it here: {tracking_url}" is never sent without a link. A store's own text is used as
written (an empty placeholder becomes nothing).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from bot.core import languages as langs
from bot.core.errors import ConfigError
from bot.core.text import placeholder_problem, placeholders_in
from flows import reply_texts as texts
from segments.rules import And, InSegment, RuleError, parse_rule

if TYPE_CHECKING:  # pragma: no cover
    from bot.core.config import Settings

PLACEHOLDERS = ("first_name", "store_name", "last_order_name", "last_order_items", "order_status",
                "tracking_url", "cart_url", "product_title", "discount_code",
                "missing_items",  # a catalog cart's items we could not map (docs/catalog.md)
                "languages")  # the store's languages, by their own names (for language_unavailable)

# The built-in segments (docs/segments.md, built-in segments). Custom ones come from [segments.*].
BUILT_IN_SEGMENTS = ("first_time_buyer", "repeat_buyer", "loyal", "lapsed", "aov_low", "aov_mid", "aov_high",
                     "sale_shopper", "vip", "former_vip", "chat_engaged", "chat_unengaged", "window_open",
                     "opted_out")

# Intents a customer can express, each with a reply table of the same name.
INTENT_REPLIES = ("greet", "thanks", "order_status", "reorder", "recommend", "sale", "human", "stop", "start",
                  "fallback", "media", "preferences", "language")

# Replies that are steps of a flow rather than answers to an intent; configurable the same way.
STEP_REPLIES = ("no_orders", "reorder_link", "reorder_unavailable", "recommend_popular", "recommend_cart",
                "no_recommendations", "preferences_saved", "preferences_unavailable", "handoff_timeout",
                "assistant_unavailable", "language_unavailable", "cod_confirmed", "cod_cancelled", "cod_unknown",
                "cart_link", "cart_unknown", "cart_unavailable")

REPLY_NAMES = INTENT_REPLIES + STEP_REPLIES

# Built-in segments whose every member is also in another (docs/segments.md): a former VIP is
# still a VIP, a sale shopper has two orders or more. Those that hold only for some parameters
# are added by segment_supersets.
ALWAYS_WITHIN = {"former_vip": ("vip",), "sale_shopper": ("repeat_buyer",)}

@dataclass(frozen=True)
class Rendered:
    intent: str
    segment: str | None  # the segment whose variant was used, None for a default
    text: str
    language: str = "en"  # the language of the text


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

    def localise(self, key: str, translate: Callable[[str], str]) -> None:
        """Pass the value of `key` (computed now or later) through `translate`."""
        if dict.__contains__(self, key):
            self[key] = translate(dict.__getitem__(self, key))
        elif key in self._lazy:
            compute = self._lazy[key]
            self._lazy[key] = lambda: None if (value := compute()) is None else translate(str(value))

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


def segment_supersets(settings: "Settings") -> dict[str, frozenset[str]]:
    """Segment -> the segments every one of its members is also in, as far as the definitions
    say: the built-ins' (with the store's [segment_params]) and custom rules that are
    `in_segment("x")` or a conjunction with it; transitively."""
    params = settings.file.segment_params
    within: dict[str, set[str]] = {name: set(names) for name, names in ALWAYS_WITHIN.items()}
    if params.loyal_min_orders >= 2:
        within.setdefault("loyal", set()).add("repeat_buyer")
    if params.former_vip_days >= params.lapsed_days:
        within.setdefault("former_vip", set()).add("lapsed")
    if params.engaged_days >= 1:
        within.setdefault("window_open", set()).add("chat_engaged")

    def conjuncts(node) -> list:
        return [leaf for part in node.operands for leaf in conjuncts(part)] if isinstance(node, And) else [node]

    for name, custom in settings.file.segments.items():
        try:
            expression = parse_rule(custom.rule).expression
        except RuleError:
            continue  # refused at start by the segment engine, with its position
        named = {leaf.name for leaf in conjuncts(expression) if isinstance(leaf, InSegment) and leaf.name != name}
        if named:
            within.setdefault(name, set()).update(named)
    closed: dict[str, frozenset[str]] = {}
    for name in within:
        seen: set[str] = set()
        todo = list(within[name])
        while todo:
            other = todo.pop()
            if other not in seen and other != name:
                seen.add(other)
                todo.extend(within.get(other, ()))
        closed[name] = frozenset(seen)
    return closed


class ReplyBook:
    def __init__(self, replies: Mapping[str, Any], store_name: str, languages: Sequence[str] = ("en",)):
        self.languages = tuple(languages)
        self.default_language = self.languages[0]
        self.priority: tuple[str, ...] = tuple(replies.get("segment_priority", ()))
        # language -> intent -> segment -> text; top-level keys are the default language's.
        self.tables: dict[str, dict[str, dict[str, str]]] = {code: {} for code in self.languages}
        for intent, table in replies.items():
            if intent == "segment_priority":
                continue
            for key, entry in table.items():
                if isinstance(entry, Mapping):
                    if key not in self.tables:
                        raise ConfigError(f"[replies.{intent}.{key}]: {key!r} is not one of [store] languages "
                                          f"({', '.join(self.languages)})")
                    self.tables[key].setdefault(intent, {}).update(entry)
                else:
                    self.tables[self.default_language].setdefault(intent, {})[key] = entry
        self.store_name = store_name
        # Replies that can never be chosen, for the start warnings (bot/runtime.py); set by from_settings.
        self.warnings: tuple[str, ...] = ()
        self._check_names()
        self._check_placeholders()

    @classmethod
    def from_settings(cls, settings: "Settings") -> "ReplyBook":
        """The store's replies, checked against the placeholders and the segments that exist.

        Raises ConfigError naming the first bad entry, so `serve`, `worker` and `actions` refuse
        to start rather than send a reply with a hole in it.
        """
        book = cls(settings.file.replies, settings.store.name, settings.store.languages)
        book.check_segments(known_segments(settings))
        book.warnings = tuple(book.shadowed(segment_supersets(settings)))
        return book

    def _entries(self) -> Iterable[tuple[str, str, dict[str, str]]]:
        for code, tables in self.tables.items():
            for intent, table in tables.items():
                yield code, intent, table

    @staticmethod
    def _where(code: str, default: str, intent: str) -> str:
        return f"[replies.{intent}]" if code == default else f"[replies.{intent}.{code}]"

    def _check_names(self) -> None:
        for code, intent, _ in self._entries():
            if intent not in REPLY_NAMES:
                raise ConfigError(f"{self._where(code, self.default_language, intent)} is not a reply this bot "
                                  f"sends; known: {', '.join(REPLY_NAMES)}")

    def _check_placeholders(self) -> None:
        for code, intent, table in self._entries():
            for segment, template in table.items():
                problem = placeholder_problem(template, PLACEHOLDERS)
                if problem:
                    raise ConfigError(f"{self._where(code, self.default_language, intent)} {segment}: {problem}")

    def check_segments(self, known: Iterable[str]) -> None:
        """Raise naming the first reply or priority entry that names a segment that does not exist."""
        known = set(known)
        for name in self.priority:
            if name not in known:
                raise ConfigError(f"[replies] segment_priority names unknown segment {name!r}")
        for code, intent, table in self._entries():
            for segment in table:
                if segment != "default" and segment not in known:
                    raise ConfigError(f"{self._where(code, self.default_language, intent)} names unknown "
                                      f"segment {segment!r}")

    def shadowed(self, supersets: Mapping[str, Iterable[str]]) -> list[str]:
        """Replies never chosen because a segment listed before theirs in segment_priority holds
        every one of their customers and the same table has a reply for it: one line each, naming
        the key. (Segments missing from segment_priority are Settings.warnings'.)"""
        priority = list(dict.fromkeys(self.priority))
        found = []
        for code, intent, table in self._entries():
            named = [segment for segment in priority if segment in table]
            for index, segment in enumerate(named):
                wider = next((s for s in named[:index] if s in set(supersets.get(segment, ()))), None)
                if wider is not None:
                    found.append(f"{self._where(code, self.default_language, intent)} {segment}: never chosen: every "
                                 f"{segment} customer is also {wider}, listed before it in [replies] "
                                 f"segment_priority (list {segment} first)")
        return found

    def language_of(self, language: str | None) -> str:
        """`language` when the store answers in it, else the default."""
        return language if language in self.tables else self.default_language

    def choose(self, intent: str, segments: Iterable[str], language: str | None = None
               ) -> list[tuple[str | None, str, str]]:
        """Candidate (segment or None, template, language) triples for an intent, best first; []
        when there is none."""
        member = set(segments)
        wanted = self.language_of(language)
        order = [(wanted, "table"), (wanted, "built_in")]
        if wanted != self.default_language:
            order += [(self.default_language, "table"), (self.default_language, "built_in")]
        for code, kind in order:
            found = (self._configured(code, intent, member) if kind == "table"
                     else self._built_in(code, intent, member))
            if found:
                return [(segment, text, code) for segment, text in found]
        return []

    def _configured(self, code: str, intent: str, member: set[str]) -> list[tuple[str | None, str]]:
        table = self.tables.get(code, {}).get(intent, {})
        for segment in self.priority:
            if segment in member and segment in table:
                return [(segment, table[segment])]
        return [(None, table["default"])] if "default" in table else []

    def _built_in(self, code: str, intent: str, member: set[str]) -> list[tuple[str | None, str]]:
        built_in = texts.BUILT_IN.get(code, {}).get(intent, {})
        candidates: list[tuple[str | None, str]] = []
        for segment in (*self.priority, *sorted(built_in)):
            if segment != "default" and segment in member and segment in built_in:
                candidates.extend((segment, text) for text in built_in[segment])
                break
        candidates.extend((None, text) for text in built_in.get("default", ()))
        return candidates

    def render(self, intent: str, segments: Iterable[str], values: Mapping[str, Any],
               language: str | None = None) -> Rendered | None:
        candidates = self.choose(intent, segments, language)
        if not candidates:
            return None
        code = candidates[0][2]
        filled = with_defaults(values, self.store_name, code)
        if "languages" in "".join(t for _, t, _ in candidates):
            filled = filled.with_values(languages=joined(code, [langs.ENDONYMS[c] for c in self.languages]))
        # A store's own text is a single candidate; of the built-ins, the first whose every
        # placeholder has a value (a missing first name has its stand-in, even when that is nothing).
        segment, template, code = next(
            ((s, t, c) for s, t, c in candidates
             if all(filled[name] for name in placeholders_in(t) if name != "first_name")), candidates[-1])
        return Rendered(intent, segment, fill(template, filled, self.store_name, code), code)


def with_defaults(values: Mapping[str, Any], store_name: str, language: str = "en") -> Values:
    """The values with the store's name, a word for a missing first name, and the order status in
    `language`."""
    filled = values if isinstance(values, Values) else Values(values)
    if not filled.get("store_name"):
        filled["store_name"] = store_name
    if not filled.get("first_name"):
        # "Hi there!" in English; the other languages read best with the name left out ("¡Hola!").
        filled["first_name"] = label(language, "no_name")
    if language != "en":
        filled.localise("order_status", lambda status: texts.ORDER_STATUS.get(language, {}).get(status, status))
    return filled


def label(language: str, key: str, **values: Any) -> str:
    """An interface word (a button's title, a list's) in `language`, else in English."""
    return texts.LABELS.get(language, texts.LABELS["en"]).get(key, texts.LABELS["en"][key]).format(**values)


def joined(language: str, items: Sequence[str]) -> str:
    """"a, b and c" in `language`."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + label(language, "and") + items[-1]


def fill(template: str, values: Mapping[str, Any], store_name: str, language: str = "en") -> str:
    """A text with its placeholders filled (an empty value becomes nothing, and the spaces around
    it go, and the comma before it: "¡Hola, {first_name}!" -> "¡Hola!"). Replies, campaigns and
    reorder prompts all fill their text here."""
    text = re.sub(r"[ \t]{2,}", " ", template.format_map(with_defaults(values, store_name, language))).strip()
    text = re.sub(r"[ \t]+([.,!?:;।])", r"\1", text)
    return re.sub(r",([.,!?:;।])", r"\1", text)
