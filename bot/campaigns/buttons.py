"""What a tap on a campaign's reply button does (docs/campaigns.md, "Buttons").

A button leads to an intent, decided once at start, in this order:

1. the intent it names: `buttons = [{ title = "Shop covers", intent = "recommend" }]`;
2. else the intent its title names when the router reads it as a message ("Reorder" -> reorder,
   "Track my order" -> order_status, "See the sale" -> sale);
3. else the flow of the campaign's segment (SEGMENT_FLOWS: lapsed -> reorder, sale_shopper -> sale,
   ...), recommend for every other segment and for a campaign with a rule.

Never the fallback: a tap is a customer asking for what we offered. The button's id is
`<intent>:campaign:<campaign>:<index>` (bot.campaigns.planner.button_id): the router routes a
tapped id by its first part (flows/nlu.py, intent_of_reply_id), the flows read only their own
arguments after it (`reorder:confirm:<order>`, `recommend:cart:<variant>`) and answer these like
the intent asked in words, and the rest keeps a message's ids distinct and says which campaign
the tap answered.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Mapping

from bot.campaigns.planner import button_id
from bot.core.config import CampaignConfig, Settings
from bot.core.errors import ConfigError
from flows.nlu import INTENTS, IntentRouter

# Intents a button may not lead to, and why.
NOT_FOR_BUTTONS = {
    "fallback": "it is what the bot says when it did not understand",
    "media": "it answers photos and voice notes",
    "language": "a tap names no language to switch to (the preferences list offers them)",
}
BUTTON_INTENTS = tuple(intent for intent in INTENTS if intent not in NOT_FOR_BUTTONS)

# The flow that serves a segment best, for a button whose title names no intent: customers who
# have bought and stopped, or buy often, are offered their last order again; sale shoppers the
# sale; everyone else (first-time buyers, VIPs, AOV bands, chat segments, custom segments, rules)
# recommendations.
SEGMENT_FLOWS: Mapping[str, str] = {
    "lapsed": "reorder",
    "former_vip": "reorder",
    "repeat_buyer": "reorder",
    "loyal": "reorder",
    "sale_shopper": "sale",
}
DEFAULT_FLOW = "recommend"

Source = Literal["named", "title", "segment"]


@dataclass(frozen=True)
class Button:
    title: str
    intent: str
    source: Source  # named: the button's intent; title: the router's reading of it; segment: SEGMENT_FLOWS
    id: str

    def as_dict(self) -> dict:
        return {"title": self.title, "intent": self.intent, "source": self.source, "id": self.id}


def segment_flow(segment: str | None) -> str:
    return SEGMENT_FLOWS.get(segment or "", DEFAULT_FLOW)


def resolve(name: str, config: CampaignConfig, route: Callable[[str], str]) -> tuple[Button, ...]:
    """The campaign's buttons with their intents; `route` reads a title as a message and answers
    an intent name. ConfigError names a button whose intent a tap cannot lead to."""
    found = []
    for index, button in enumerate(config.buttons):
        source: Source
        if button.intent is not None:
            intent, source = button.intent.strip(), "named"
            if intent not in BUTTON_INTENTS:
                why = f" ({NOT_FOR_BUTTONS[intent]})" if intent in NOT_FOR_BUTTONS else ""
                raise ConfigError(f"[campaigns.{name}] buttons[{index}] intent: {intent!r} is not an intent a tap "
                                  f"can lead to{why}; use one of {', '.join(BUTTON_INTENTS)}")
        else:
            routed = route(button.title)
            if routed in BUTTON_INTENTS:
                intent, source = routed, "title"
            else:
                intent, source = segment_flow(config.segment), "segment"
        found.append(Button(button.title, intent, source, button_id(name, intent, index)))
    return tuple(found)


def resolve_all(settings: Settings, router: Callable[[], IntentRouter]) -> dict[str, tuple[Button, ...]]:
    """Every campaign's buttons: the start check of [campaigns.*] buttons. `router` gives the
    router that reads plain titles (asked only when there is one)."""
    def route(title: str) -> str:
        return router().route(title).intent

    return {name: resolve(name, config, route) for name, config in settings.file.campaigns.items()}
