"""Runs the flows in-process: a Tracker built from our own store, the action, and its output
turned into Graph message bodies and Rasa events for the worker to apply.

The same conversion turns a Rasa server's answers (REST channel) into Graph message bodies, so a
button is a button whichever side decided to send it.
"""
from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.whatsapp import messages
from bot.whatsapp.events import CatalogOrder
from flows.actions import INTENT_ACTIONS, ORDER_METADATA, registry
from flows.context import FlowServices
from flows.nlu import IntentDecision


@dataclass(frozen=True)
class FlowOutcome:
    decision: IntentDecision
    action: str | None
    messages: list[dict] = field(default_factory=list)  # Graph message bodies, in order
    events: list[dict] = field(default_factory=list)  # Rasa events the action returned
    segment: str | None = None  # which segment's reply variant was used


def order_of(content: Any) -> dict | None:
    """A catalog cart (an `order` message's content) as the tracker carries it to action_cart;
    None for any other message."""
    if not isinstance(content, CatalogOrder):
        return None
    return {"catalog_id": content.catalog_id,
            "items": [{"product_retailer_id": item.product_retailer_id, "quantity": item.quantity}
                      for item in content.items]}


def build_tracker(sender_id: str, text: str | None, decision: IntentDecision, reply_id: str | None = None,
                  slots: Mapping[str, Any] | None = None, order: Mapping[str, Any] | None = None) -> Tracker:
    """A tracker as Rasa would send it: the latest message with its intent and, for a tapped
    button or list row, its id in the message metadata; a catalog cart's items too (`order`)."""
    metadata: dict[str, Any] = {"source": decision.source}
    if order is not None:
        metadata[ORDER_METADATA] = dict(order)
    if decision.intent == "language" and decision.matched:
        metadata["language"] = decision.matched  # the code the router read (flows/nlu.py)
    if decision.intent == "cod" and decision.matched in ("confirm", "cancel"):
        metadata["answer"] = decision.matched  # a typed yes or no (flows/answers.py)
    if reply_id:
        metadata["reply_id"] = reply_id
    latest = {
        "text": text or "",
        "intent": {"name": decision.intent, "confidence": decision.confidence},
        "intent_ranking": [{"name": decision.intent, "confidence": decision.confidence}],
        "entities": [],
        "metadata": metadata,
    }
    return Tracker(sender_id=sender_id, slots=dict(slots or {}), latest_message=latest, events=[],
                   paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen")


def to_graph_message(dispatched: Mapping[str, Any]) -> dict | None:
    """A message a rasa-sdk dispatcher collected (or a Rasa REST answer) -> a Graph message body.

    Up to three plain buttons become reply buttons; more, buttons with a description, or a message
    that names its `list_button`, become a list (ten rows at most). Titles are shortened to Meta's limits; ids are the payloads.
    """
    custom = dispatched.get("custom")
    if isinstance(custom, dict) and custom.get("type") in ("text", "interactive", "template"):
        return dict(custom)
    text = dispatched.get("text")
    image = dispatched.get("image")
    if not text and image:
        text = str(image)
    if not text:
        return None
    buttons = [b for b in (dispatched.get("buttons") or []) if isinstance(b, Mapping)]
    pairs = [(str(b.get("payload") or b.get("title")), str(b.get("title") or b.get("payload")),
              str(b["description"]) if b.get("description") else None) for b in buttons]
    pairs = [(pid[: messages.MAX_REPLY_ID], title, description) for pid, title, description in pairs if pid]
    # Meta refuses two buttons (or rows) with one id: a repeated payload is one choice, shown once.
    unique: dict[str, tuple[str, str, str | None]] = {}
    for pid, title, description in pairs:
        unique.setdefault(pid[: messages.MAX_ROW_ID], (pid, title, description))
    pairs = list(unique.values())
    if not pairs:
        return messages.text_message(messages.shorten(str(text), messages.MAX_TEXT), preview_url="http" in str(text))
    body = messages.shorten(str(text), messages.MAX_BODY)
    # Reply buttons' titles must differ too; titles that meet once shortened to 20 go in a list,
    # whose rows may share a title (and get 24 characters).
    short_titles = {messages.shorten(title, messages.MAX_BUTTON_TITLE) for _, title, _ in pairs}
    wants_list = (bool(dispatched.get("list_button")) or any(description for _, _, description in pairs)
                  or len(short_titles) < len(pairs))
    if len(pairs) <= messages.MAX_BUTTONS and not wants_list:
        return messages.buttons_message(body, [(pid, messages.shorten(title, messages.MAX_BUTTON_TITLE))
                                            for pid, title, _ in pairs])
    rows = [messages.ListRow(pid[: messages.MAX_ROW_ID], messages.shorten(title, messages.MAX_ROW_TITLE),
                          messages.shorten(description, messages.MAX_ROW_DESCRIPTION) if description else None)
            for pid, title, description in pairs[: messages.MAX_LIST_ROWS]]
    label = messages.shorten(str(dispatched.get("list_button") or "Choose"), messages.MAX_BUTTON_TITLE)
    return messages.list_message(body, label, [(None, rows)])


def to_graph_messages(dispatched: Iterable[Mapping[str, Any]]) -> list[dict]:
    return [m for m in (to_graph_message(d) for d in dispatched) if m is not None]


def _run(action, dispatcher, tracker, domain):
    result = action.run(dispatcher, tracker, domain)
    if inspect.isawaitable(result):
        result = asyncio.run(result)
    return list(result or [])


def run_intent(decision: IntentDecision, services: FlowServices, sender_id: str, text: str | None,
               reply_id: str | None = None, slots: Mapping[str, Any] | None = None,
               order: Mapping[str, Any] | None = None) -> FlowOutcome:
    """Answer one decided intent: its action if it has one, else its reply table. `order`: the
    items of a catalog cart (`{"catalog_id", "items": [{"product_retailer_id", "quantity"}]}`)."""
    actions = registry(services)
    dispatcher = CollectingDispatcher()
    action_name = INTENT_ACTIONS.get(decision.intent)
    events: list[dict] = []
    if action_name in actions:
        tracker = build_tracker(sender_id, text, decision, reply_id, slots, order)
        events = _run(actions[action_name], dispatcher, tracker, {})
    else:
        action_name = None
        with services.reading() as data:
            context = data.context(sender_id)
            rendered = services.replies.render(decision.intent, context.segments, context.values, context.language)
        if rendered is not None:
            dispatcher.utter_message(text=rendered.text, **({"segment": rendered.segment} if rendered.segment else {}))
    segment = next((d.get("segment") for d in dispatcher.messages if d.get("segment")), None)
    return FlowOutcome(decision, action_name, to_graph_messages(dispatcher.messages), events, segment)
