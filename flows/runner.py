"""Runs the flows in-process: a Tracker built from our own store, the action, and its output
turned into Graph message bodies and Rasa events for the worker to apply."""
from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot import graph
from flows.actions import ACTIONS, INTENT_ACTIONS
from flows.context import FlowServices
from flows.nlu import IntentDecision


@dataclass(frozen=True)
class FlowOutcome:
    decision: IntentDecision
    action: str | None
    messages: list[dict] = field(default_factory=list)  # Graph message bodies, in order
    events: list[dict] = field(default_factory=list)  # Rasa events the action returned
    segment: str | None = None  # which segment's reply variant was used


def build_tracker(sender_id: str, text: str | None, decision: IntentDecision,
                  slots: Mapping[str, Any] | None = None) -> Tracker:
    latest = {
        "text": text or "",
        "intent": {"name": decision.intent, "confidence": decision.confidence},
        "intent_ranking": [{"name": decision.intent, "confidence": decision.confidence}],
        "entities": [],
    }
    return Tracker(sender_id=sender_id, slots=dict(slots or {}), latest_message=latest, events=[],
                   paused=False, followup_action=None, active_loop={}, latest_action_name="action_listen")


def to_graph_message(dispatched: Mapping[str, Any]) -> dict | None:
    """A message a rasa-sdk dispatcher collected -> a Graph API message body."""
    custom = dispatched.get("custom")
    if isinstance(custom, dict) and custom.get("type") in ("text", "interactive", "template"):
        return dict(custom)
    text = dispatched.get("text")
    buttons = dispatched.get("buttons") or []
    if not text:
        return None
    if buttons:
        pairs = [(str(b.get("payload") or b.get("title")), str(b.get("title") or b.get("payload"))) for b in buttons]
        if len(pairs) <= graph.MAX_BUTTONS:
            return graph.buttons_message(graph.shorten(text, graph.MAX_BODY),
                                         [(pid, graph.shorten(title, graph.MAX_BUTTON_TITLE)) for pid, title in pairs])
        rows = [graph.ListRow(pid, graph.shorten(title, graph.MAX_ROW_TITLE)) for pid, title in pairs[: graph.MAX_LIST_ROWS]]
        return graph.list_message(graph.shorten(text, graph.MAX_BODY), "Choose", [(None, rows)])
    return graph.text_message(graph.shorten(text, graph.MAX_TEXT))


def _run(action, dispatcher, tracker, domain):  # noqa: ANN001
    result = action.run(dispatcher, tracker, domain)
    if inspect.isawaitable(result):
        result = asyncio.run(result)
    return list(result or [])


def action_registry(services: FlowServices, extra: Iterable[type] = ()) -> dict[str, Any]:
    return {cls.action_name: cls(services) for cls in (*ACTIONS, *extra)}


def run_intent(decision: IntentDecision, services: FlowServices, sender_id: str, text: str | None,
               slots: Mapping[str, Any] | None = None) -> FlowOutcome:
    """Answer one decided intent: its action if it has one, else its reply table."""
    registry = action_registry(services)
    dispatcher = CollectingDispatcher()
    action_name = INTENT_ACTIONS.get(decision.intent)
    events: list[dict] = []
    if action_name in registry:
        tracker = build_tracker(sender_id, text, decision, slots)
        events = _run(registry[action_name], dispatcher, tracker, {})
    else:
        action_name = None
        context = services.context(sender_id)
        rendered = services.replies.render(decision.intent, context.segments, context.values())
        if rendered is not None:
            dispatcher.utter_message(text=rendered.text, **({"segment": rendered.segment} if rendered.segment else {}))
    messages = [m for m in (to_graph_message(d) for d in dispatcher.messages) if m is not None]
    segment = next((d.get("segment") for d in dispatcher.messages if d.get("segment")), None)
    return FlowOutcome(decision, action_name, messages, events, segment)
