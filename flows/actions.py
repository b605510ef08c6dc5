"""The flows, written once as rasa-sdk actions.

An action decides what to say and which state changes follow; it never sends and never writes.
Messages go to the CollectingDispatcher (text, and buttons whose payloads are our reply ids);
state changes come back as Rasa events (SlotSet, ConversationPaused). In process the worker
applies them to our store; served to Rasa, `wabot actions` applies them too (flows/effects.py).

Reply ids are `<intent>:<step>:<argument>` (`reorder:confirm:1001`, `recommend:cart:4711`,
`preferences:interest:Tea`) or `intent:<name>`, so the router maps every tap to its intent and the
action reads the rest from the tracker.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.automations import cod
from bot.conversation import handoff
from bot.core import languages as langs
from bot.whatsapp import commerce, messages
from flows.context import CustomerContext, FlowData, FlowServices
from flows.nlu import language_named
from flows.replies import Values, joined, label
from segments import catalog
from segments import orders as store

OPTED_OUT_SLOT = "opted_out"
COD_ANSWER_SLOT = "cod_answer"
LANGUAGE_SLOT = "language"
INTEREST_SLOT = "interest"
FALLBACK_STREAK_SLOT = "fallback_streak"

# A button payload of ours, when it arrives as the message text (Rasa channels do that).
REPLY_ID = re.compile(r"(?:intent:)?[a-z_]+(?::[^\s]+)+")

Button = tuple[str, str]  # (reply id, title)


def reply_id_of(tracker: Tracker) -> str | None:
    """The id of the button or list row the customer tapped, wherever the channel put it."""
    latest = tracker.latest_message or {}
    metadata = latest.get("metadata")
    if isinstance(metadata, dict) and metadata.get("reply_id"):
        return str(metadata["reply_id"])
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            metadata = event.get("metadata")
            if isinstance(metadata, dict) and metadata.get("reply_id"):
                return str(metadata["reply_id"])
            break
    text = (latest.get("text") or "").strip()
    return text if REPLY_ID.fullmatch(text) else None


def reply_args(tracker: Tracker, intent: str) -> list[str]:
    """`reorder:confirm:1001` -> ["confirm", "1001"] for the reorder action; [] otherwise."""
    reply_id = reply_id_of(tracker)
    if not reply_id:
        return []
    parts = reply_id.split(":")
    if parts[0] == "intent":
        parts = parts[1:]
    return parts[1:] if parts and parts[0] == intent else []


@dataclass
class Turn:
    """One action call: who is talking, what we know, and where messages go."""

    action: "WabotAction"
    dispatcher: CollectingDispatcher
    tracker: Tracker
    data: FlowData
    customer: CustomerContext

    def say(self, reply: str, buttons: Sequence[Button] = (), values: Values | None = None,
            **extra: Any) -> None:
        rendered = self.action.services.replies.render(reply, self.customer.segments, values or self.customer.values,
                                                       self.customer.language)
        if rendered is None:
            return
        kwargs: dict[str, Any] = dict(extra)
        if buttons:
            kwargs["buttons"] = [{"title": title, "payload": reply_id} for reply_id, title in buttons]
        if rendered.segment:
            # The segment rides along so transcripts can show which variant was used.
            kwargs["segment"] = rendered.segment
        self.dispatcher.utter_message(text=rendered.text, **kwargs)


class WabotAction(Action):
    """An action bound to the services of one deployment (replies, settings, store)."""

    action_name = ""
    reply = ""

    def __init__(self, services: FlowServices):
        self.services = services

    def name(self) -> Text:
        return self.action_name

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        with self.services.reading() as data:
            turn = Turn(self, dispatcher, tracker, data, data.context(tracker.sender_id))
            return list(self.act(turn) or [])

    def act(self, turn: Turn) -> list[dict]:
        turn.say(self.reply)
        return []


class ActionGreet(WabotAction):
    action_name = "action_greet"
    reply = "greet"


class ActionOrderStatus(WabotAction):
    """The last order: what is in it, where it is, and the tracking link."""

    action_name = "action_order_status"

    def act(self, turn: Turn) -> list[dict]:
        customer = turn.customer
        order = store.last_order(turn.data.conn, customer.customer_id, turn.data.now) \
            if customer.customer_id is not None else None
        if order is None:
            turn.say("no_orders")
            return []
        # Plain text, so the tracking link gets its preview.
        turn.say("order_status", (), customer.values.with_values(
            last_order_name=order.name, last_order_items=order.items_text, order_status=order.status,
            tracking_url=order.tracking_url or order.order_status_url))
        return []


class ActionReorder(WabotAction):
    """The last order with a Reorder button; the button answers with a cart link of the same items."""

    action_name = "action_reorder"

    def act(self, turn: Turn) -> list[dict]:
        customer, conn, now = turn.customer, turn.data.conn, turn.data.now
        if customer.customer_id is None:
            turn.say("no_orders")
            return []
        args = reply_args(turn.tracker, "reorder")
        if len(args) >= 2 and args[0] == "confirm" and args[1].isdigit():
            order = store.order_of(conn, customer.customer_id, int(args[1]))
            if order is not None:
                link = store.cart_url(self.services.settings.store.shop_domain, order.items)
                values = customer.values.with_values(last_order_name=order.name,
                                                     last_order_items=order.items_text, cart_url=link)
                turn.say("reorder_link" if link else "reorder_unavailable", (), values)
                return []
        order = store.last_order(conn, customer.customer_id, now, counted_only=True)
        if order is None:
            turn.say("no_orders")
            return []
        turn.say("reorder", [(f"reorder:confirm:{order.id}", label(customer.language, "reorder_button"))],
                 customer.values.with_values(
            last_order_name=order.name, last_order_items=order.items_text,
            cart_url=store.cart_url(self.services.settings.store.shop_domain, order.items)))
        return []


def _counted(language: str, key: str, count: int) -> str:
    """A row's description with a count of customers, singular for one."""
    return label(language, f"{key}_one") if count == 1 else label(language, key, count=count)


class ActionRecommend(WabotAction):
    """Cross-sell: what buyers of the customer's products also bought; a tap puts one in a cart."""

    action_name = "action_recommend"

    def act(self, turn: Turn) -> list[dict]:
        customer, conn, now = turn.customer, turn.data.conn, turn.data.now
        shop = self.services.settings.store.shop_domain
        args = reply_args(turn.tracker, "recommend")
        if len(args) >= 2 and args[0] == "cart" and args[1].isdigit():
            variant_id = int(args[1])
            title = store.product_title_of_variant(conn, variant_id)
            link = store.cart_url(shop, [store.OrderItem(title or "", None, 1, variant_id, None, None)])
            if title and link:
                turn.say("recommend_cart", (), customer.values.with_values(product_title=title, cart_url=link))
                return []
        found = store.suggestions(conn, customer.customer_id, now, limit=3)
        if not found:
            turn.say("no_recommendations")
            return []
        language = customer.language
        rows = [{"title": s.title, "payload": f"recommend:cart:{s.variant_id}",
                 "description": _counted(language, "bought_by", s.co_buyers) if s.co_buyers
                 else _counted(language, "favourite_of", s.buyers)}
                for s in found if s.variant_id and shop]
        if self.services.settings.store.catalog_id and self._from_catalog(turn, found):
            return []
        reply = "recommend" if found[0].co_buyers else "recommend_popular"
        values = customer.values.with_values(product_title=joined(language, [s.title for s in found]))
        rendered = self.services.replies.render(reply, customer.segments, values, language)
        if rendered is None:
            return []
        extra: dict[str, Any] = {"segment": rendered.segment} if rendered.segment else {}
        if rows:
            extra.update(buttons=rows, list_button=label(language, "see_suggestions"))
        turn.dispatcher.utter_message(text=rendered.text, **extra)
        return []

    def _from_catalog(self, turn: Turn, found: Sequence[store.Suggestion]) -> bool:
        """The suggestions as catalog products (docs/catalog.md): one product message, or a product
        list in two sections (bought by customers like you, the store's favourites). Suggestions
        whose retailer id cannot be spelled (no SKU for `{sku}`) are left out; False when none is left,
        and the caller answers with the text list."""
        store_config = self.services.settings.store
        ids = commerce.RetailerIds(store_config.catalog_retailer_id)
        known = catalog.variants_by_id(turn.data.conn, [s.variant_id for s in found if s.variant_id])
        chosen: dict[str, store.Suggestion] = {}
        for suggestion in found:
            variant = known.get(suggestion.variant_id) if suggestion.variant_id else None
            rid = ids.render(variant) if variant is not None else None
            if rid is not None:
                chosen.setdefault(rid, suggestion)
        if not chosen:
            return False
        customer, language = turn.customer, turn.customer.language
        first = next(iter(chosen.values()))
        values = customer.values.with_values(product_title=joined(language, [s.title for s in chosen.values()]))
        rendered = self.services.replies.render("recommend" if first.co_buyers else "recommend_popular",
                                                customer.segments, values, language)
        if rendered is None:
            return True
        body = messages.shorten(rendered.text, messages.MAX_BODY)
        if len(chosen) == 1:
            message = messages.product_message(store_config.catalog_id, next(iter(chosen)), body)
        else:
            sections = [(label(language, key), [rid for rid, s in chosen.items() if bool(s.co_buyers) == cross_sell])
                        for key, cross_sell in (("like_you_section", True), ("favourites_section", False))]
            message = messages.product_list_message(store_config.catalog_id, label(language, "catalog_header"), body,
                                                    [(title, rids) for title, rids in sections if rids])
        extra: dict[str, Any] = {"segment": rendered.segment} if rendered.segment else {}
        turn.dispatcher.utter_message(json_message=message, **extra)
        return True


ORDER_METADATA = "order"  # where an `order` message's items ride in the tracker (flows/runner.py)


class ActionCart(WabotAction):
    """A cart sent from the catalog (an `order` message): answered with a Shopify cart link of its
    items, each retailer id read back through [store] catalog_retailer_id; items that name nothing
    of ours are named in the reply (docs/catalog.md)."""

    action_name = "action_cart"

    def act(self, turn: Turn) -> list[dict]:
        store_config, language = self.services.settings.store, turn.customer.language
        latest = turn.tracker.latest_message or {}
        metadata = latest.get("metadata") if isinstance(latest.get("metadata"), dict) else {}
        order = metadata.get(ORDER_METADATA)
        items = order.get("items") if isinstance(order, dict) else None
        cart = commerce.read_cart(items if isinstance(items, list) else [])
        ids = commerce.RetailerIds(store_config.catalog_retailer_id)
        retailer_ids = [line.retailer_id for line in cart.lines]
        known = catalog.variants_for(turn.data.conn, commerce.lookup_for(ids, retailer_ids))
        mapped = commerce.resolve(ids, retailer_ids, known)
        unknown = [line.retailer_id for line in cart.lines if line.retailer_id not in mapped] + list(cart.unreadable)
        missing = joined(language, commerce.named(unknown, lambda count: label(language, "and_more", count=count)))
        values = turn.customer.values.with_values(missing_items=missing)
        if not store_config.shop_domain.strip():
            turn.say("cart_unavailable", (), values)
            return []
        link = store.cart_url(store_config.shop_domain, [store.OrderItem("", None, line.quantity,
                                                                         mapped[line.retailer_id], None, None)
                                                         for line in cart.lines if line.retailer_id in mapped])
        turn.say("cart_link" if link else "cart_unknown", (), values.with_values(cart_url=link))
        return []


class ActionSale(WabotAction):
    """Sale news; early access (the discount code) for the segments in [sale] early_access."""

    action_name = "action_sale"
    reply = "sale"


class ActionPreferences(WabotAction):
    """A list of interests from [preferences] and, when the store answers in more than one, of its
    languages; a tapped interest becomes the attribute `interest`, a tapped language (`language:es`)
    goes to action_language."""

    action_name = "action_preferences"

    def act(self, turn: Turn) -> list[dict]:
        interests = self.services.settings.file.preferences.interests
        args = reply_args(turn.tracker, "preferences")
        if len(args) >= 2 and args[0] == "interest":
            answer = ":".join(args[1:]).strip().casefold()
            chosen = next((i for i in interests if i.casefold() == answer), None)
            if chosen is not None:
                turn.say("preferences_saved")
                return [SlotSet(INTEREST_SLOT, chosen)]
        if not interests and len(self.services.settings.store.languages) < 2:
            turn.say("preferences_unavailable")
            return []
        ask_interests(self, turn)
        return []


def ask_interests(action: WabotAction, turn: Turn) -> None:
    """The list of [preferences] interests and of the store's languages; each row's id carries its
    answer. A list holds ten rows: interests first, the languages after them."""
    interests = action.services.settings.file.preferences.interests
    languages = action.services.settings.store.languages
    language = turn.customer.language
    rows = [{"title": interest, "payload": f"preferences:interest:{interest}"} for interest in interests]
    if len(languages) > 1:
        rows = rows[:10 - len(languages)]
        rows += [{"title": langs.ENDONYMS[code], "payload": f"language:{code}"} for code in languages]
    rendered = action.services.replies.render("preferences", turn.customer.segments, turn.customer.values, language)
    if rendered is not None:
        extra = {"segment": rendered.segment} if rendered.segment else {}
        turn.dispatcher.utter_message(text=rendered.text, buttons=rows, list_button=label(language, "choose"), **extra)


def _chosen_language(tracker: Tracker) -> str | None:
    """The language code a `language` turn names: a tapped `language:es`, or the router's reading
    of the text (kept in the message's metadata, else read again)."""
    args = reply_args(tracker, "language")
    if args:
        return args[0].strip().lower() or None
    latest = tracker.latest_message or {}
    metadata = latest.get("metadata") if isinstance(latest.get("metadata"), dict) else {}
    return str(metadata["language"]) if metadata.get("language") else language_named(latest.get("text"))


class ActionLanguage(WabotAction):
    """The customer chose a language ("español", "english please", a tapped `language:pt`): kept
    as their explicit choice, which no guess overrides, and confirmed in the new language. A
    language the store does not answer in is declined in the current one (docs/languages.md)."""

    action_name = "action_language"

    def act(self, turn: Turn) -> list[dict]:
        code = _chosen_language(turn.tracker)
        replies = self.services.replies
        if code is None or code not in self.services.settings.store.languages:
            turn.say("language_unavailable")
            return []
        rendered = replies.render("language", turn.customer.segments, turn.customer.values, code)
        if rendered is not None:
            extra = {"segment": rendered.segment} if rendered.segment else {}
            turn.dispatcher.utter_message(text=rendered.text, **extra)
        return [SlotSet(LANGUAGE_SLOT, code)]


class ActionCod(WabotAction):
    """The answer to the cash-on-delivery question: a tap on Confirm or Cancel
    (`cod:confirm:<order id>`), or a typed yes or no while an order waits for one. Recorded
    through the cod_answer slot (flows/effects.py), which queues the order's tag in Shopify."""

    action_name = "action_cod"

    def act(self, turn: Turn) -> list[dict]:
        customer, conn = turn.customer, turn.data.conn
        settings = self.services.settings.file.automations.cod_confirmation
        args = reply_args(turn.tracker, "cod")
        latest = turn.tracker.latest_message or {}
        metadata = latest.get("metadata") if isinstance(latest.get("metadata"), dict) else {}
        answer = args[0] if args and args[0] in cod.STATES else metadata.get("answer")
        order = None
        if customer.customer_id is not None and answer in cod.STATES:
            if len(args) >= 2 and args[1].isdigit():
                order = cod.of_order(conn, customer.customer_id, int(args[1]))
            else:
                order = cod.awaiting(conn, customer.customer_id)
        if order is None or settings is None:
            turn.say("cod_unknown")
            return []
        values = customer.values.with_values(last_order_name=order.order_name or f"#{order.order_id}")
        turn.say("cod_confirmed" if answer == "confirm" else "cod_cancelled", (), values)
        if order.state == cod.STATES[answer]:
            return []  # the same answer again: already recorded
        tag = settings.confirm_tag if answer == "confirm" else settings.cancel_tag
        return [SlotSet(COD_ANSWER_SLOT, {"order_id": order.order_id, "answer": answer, "tag": tag,
                                          "source": "button" if args else "reply"})]


class ActionOptOut(WabotAction):
    """STOP: opted out at once, and told so (the confirmation is a service message, not marketing)."""

    action_name = "action_opt_out"
    reply = "stop"

    def act(self, turn: Turn) -> list[dict]:
        turn.say(self.reply)
        return [SlotSet(OPTED_OUT_SLOT, True)]


class ActionOptIn(WabotAction):
    action_name = "action_opt_in"
    reply = "start"

    def act(self, turn: Turn) -> list[dict]:
        turn.say(self.reply)
        return [SlotSet(OPTED_OUT_SLOT, False)]


class ActionHandoff(WabotAction):
    """Hand the conversation to a person: the bot says so once, then stays silent."""

    action_name = "action_handoff"
    reply = "human"

    def act(self, turn: Turn) -> list[dict]:
        turn.say(self.reply)
        return [ConversationPaused()]


class ActionFallback(WabotAction):
    """Not understood. The second time in a row, a person takes over (docs/flows.md, handoff).

    The one place the rule is applied, in process and served to Rasa alike: from the streak
    stored with the conversation; flows/effects.py stores the new streak, or ends it.
    """

    action_name = "action_fallback"
    reply = "fallback"

    def act(self, turn: Turn) -> list[dict]:
        streak = handoff.fallback_streak_after("fallback", turn.customer.fallback_streak)
        if turn.customer.conversation_state == handoff.BOT and handoff.wants_human("fallback", streak):
            turn.say("human")
            return [ConversationPaused()]
        turn.say(self.reply)
        return [SlotSet(FALLBACK_STREAK_SLOT, streak)]


ACTIONS: tuple[type[WabotAction], ...] = (
    ActionGreet, ActionOrderStatus, ActionReorder, ActionRecommend, ActionSale, ActionPreferences,
    ActionOptOut, ActionOptIn, ActionHandoff, ActionFallback, ActionLanguage, ActionCod, ActionCart,
)

# Which action answers which intent; intents without one are answered from their reply table.
INTENT_ACTIONS = {
    "greet": "action_greet",
    "order_status": "action_order_status",
    "reorder": "action_reorder",
    "recommend": "action_recommend",
    "sale": "action_sale",
    "preferences": "action_preferences",
    "human": "action_handoff",
    "stop": "action_opt_out",
    "start": "action_opt_in",
    "fallback": "action_fallback",
    "language": "action_language",
    "cod": "action_cod",
    "cart": "action_cart",  # decided by the message type (an `order`), never by words or a tap
}


def registry(services: FlowServices) -> dict[str, WabotAction]:
    return {cls.action_name: cls(services) for cls in ACTIONS}
