"""Group commit for the webhook: the events of concurrent deliveries stored in one transaction
(bot/core/batching.py). A delivery is acknowledged only after its events are committed."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from bot.conversation import intake
from bot.core.batching import Batcher
from bot.whatsapp.events import Event

GROUP_COMMIT = "wabot.group_commit"  # its key in app.extensions

Delivery = tuple[list[Event], datetime]


class GroupCommit:
    def __init__(self, engine: Engine):
        self._batcher: Batcher[Delivery, list[Event]] = Batcher(engine, intake.store_many, name="webhook store")

    def store(self, events: list[Event], received_at: datetime) -> list[Event]:
        """Store one delivery's events with whatever else is waiting; the new ones (as intake.store)."""
        return self._batcher.submit((events, received_at))
