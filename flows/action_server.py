"""`wabot actions`: the flows served as a Rasa action server, with rasa-sdk's own endpoint.

rasa-sdk's Sanic app and ActionExecutor do the protocol (404 for an unknown action, 449 when the
domain is missing so Rasa resends it, the response format); we register our action instances and
add what a Rasa assistant talking to our customers needs:

- the customer is the request's `sender_id` (a wa_id), else the tracker's;
- the effects of the events an action returns (opt-out, handoff, preference answers, the fallback
  streak) are applied to our database here too, not only handed back to Rasa;
- actions run on worker threads, so a database wait never stalls Sanic's event loop.

One process (the domain digest rasa-sdk keeps lives in memory; a second worker would answer 449
for every first call it sees).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, Callable, Optional

from rasa_sdk.executor import ActionExecutor, ActionExecutorRunResult
from sqlalchemy.engine import Engine

from bot.conversation import customers
from bot.conversation.customers import mask
from bot.core.config import Settings
from bot.core.times import utcnow
from flows import effects
from flows.actions import WabotAction, registry
from flows.context import FlowServices, SegmentLookup, no_segments
from flows.replies import ReplyBook

log = logging.getLogger(__name__)


def _on_thread(action: WabotAction) -> Callable:
    async def run(dispatcher, tracker, domain):
        return await asyncio.to_thread(action.run, dispatcher, tracker, domain)
    return run


class WabotExecutor(ActionExecutor):
    def __init__(self, engine: Engine, settings: Settings, replies: ReplyBook, *,
                 segment_lookup: SegmentLookup = no_segments, clock: Callable[[], datetime] = utcnow):
        super().__init__()
        self.engine = engine
        self.clock = clock
        services = FlowServices.on_engine(settings, replies, engine, segment_lookup, clock)
        for name, action in registry(services).items():
            self.register_function(name, _on_thread(action))

    async def run(self, action_call: dict[str, Any], sink: Optional[asyncio.Queue] = None,
                  dispatcher=None) -> Optional[ActionExecutorRunResult]:
        tracker = action_call.get("tracker")
        sender = action_call.get("sender_id") or (tracker.get("sender_id") if isinstance(tracker, dict) else None)
        if isinstance(tracker, dict) and sender:
            tracker["sender_id"] = str(sender)
        result = await super().run(action_call, sink=sink, dispatcher=dispatcher)
        action_name = action_call.get("next_action")
        if result is not None and sender:
            await asyncio.to_thread(self.apply, str(action_name), str(sender), result.events)
        return result

    def apply(self, action_name: str, sender: str, events: list[dict]) -> effects.Applied | None:
        """Apply an action's events to our store, as the worker does for the flows it runs."""
        now = self.clock()
        with self.engine.begin() as conn:
            found = customers.find(conn, sender)
            if found is None and not events:
                return None  # nothing to remember about someone we do not know
            customer_id = found.id if found is not None else effects.ensure_customer(conn, sender, now)
            applied = effects.apply_action(conn, customer_id, action_name, events, now=now,
                                           reason=f"{action_name} (rasa)")
        if applied.paused or applied.opted_out is not None:
            log.info("%s for %s: %s", action_name, mask(sender),
                     "handed off" if applied.paused else f"opted_out={applied.opted_out}")
        return applied


def serve(engine: Engine, settings: Settings, replies: ReplyBook, *, host: str, port: int,
          segment_lookup: SegmentLookup = no_segments) -> None:
    from rasa_sdk.endpoint import create_app

    executor = WabotExecutor(engine, settings, replies, segment_lookup=segment_lookup)
    app = create_app(executor, cors_origins=[])
    app.config.KEEP_ALIVE_TIMEOUT = 5
    app.run(host=host, port=port, single_process=True, motd=False, access_log=False)
