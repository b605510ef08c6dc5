"""The flows, written once as rasa-sdk actions.

An action decides what to say and which state changes follow; it never sends. Messages go to the
CollectingDispatcher, state changes come back as Rasa events (SlotSet, ConversationPaused) that
the runner applies to our store, or that Rasa keeps when `wabot actions` serves a Rasa assistant.
"""
from __future__ import annotations

from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from flows.context import CustomerContext, FlowServices

OPTED_OUT_SLOT = "opted_out"


class WabotAction(Action):
    """An action bound to the services of one deployment (replies, store, customer lookup)."""

    action_name = ""
    reply_intent = ""

    def __init__(self, services: FlowServices):
        self.services = services

    def name(self) -> Text:
        return self.action_name

    def customer(self, tracker: Tracker) -> CustomerContext:
        return self.services.context(tracker.sender_id)

    def say(self, dispatcher: CollectingDispatcher, intent: str, context: CustomerContext,
            **extra: Any) -> None:
        rendered = self.services.replies.render(intent, context.segments, {**context.values(), **extra})
        if rendered is not None:
            # The segment rides along in the message so transcripts can show which variant was used.
            dispatcher.utter_message(text=rendered.text, **({"segment": rendered.segment} if rendered.segment else {}))

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
            domain: Dict[Text, Any]) -> List[Dict[Text, Any]]:
        self.say(dispatcher, self.reply_intent, self.customer(tracker))
        return []


class ActionGreet(WabotAction):
    action_name = "action_greet"
    reply_intent = "greet"


class ActionFallback(WabotAction):
    action_name = "action_fallback"
    reply_intent = "fallback"


class ActionOptOut(WabotAction):
    """STOP: opted out at once, and told so (the confirmation is a service message, not marketing)."""

    action_name = "action_opt_out"
    reply_intent = "stop"

    def run(self, dispatcher, tracker, domain):  # noqa: ANN001
        super().run(dispatcher, tracker, domain)
        return [SlotSet(OPTED_OUT_SLOT, True)]


class ActionOptIn(WabotAction):
    action_name = "action_opt_in"
    reply_intent = "start"

    def run(self, dispatcher, tracker, domain):  # noqa: ANN001
        super().run(dispatcher, tracker, domain)
        return [SlotSet(OPTED_OUT_SLOT, False)]


class ActionHandoff(WabotAction):
    """Hand the conversation to a person: the bot says so once, then stays silent."""

    action_name = "action_handoff"
    reply_intent = "human"

    def run(self, dispatcher, tracker, domain):  # noqa: ANN001
        super().run(dispatcher, tracker, domain)
        return [ConversationPaused()]


ACTIONS: tuple[type[WabotAction], ...] = (ActionGreet, ActionFallback, ActionOptOut, ActionOptIn, ActionHandoff)

# Which action answers which intent; intents without one are answered from their reply table.
INTENT_ACTIONS = {
    "greet": "action_greet",
    "order_status": "action_order_status",
    "reorder": "action_reorder",
    "recommend": "action_recommend",
    "sale": "action_sale",
    "human": "action_handoff",
    "stop": "action_opt_out",
    "start": "action_opt_in",
    "fallback": "action_fallback",
}
