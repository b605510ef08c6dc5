"""Group commit for the webhook: the events of concurrent requests stored in one transaction.

A `POST /webhook` that finds no other request storing becomes the writer: it stores its events
and answers. Requests that arrive while a writer is busy wait; when it is done, the first of
them becomes the next writer and stores everything that waits, with one INSERT and one commit,
and wakes the others. A request is still acknowledged only after its events are committed, so
nothing acknowledged is lost; what changes is that N requests arriving together cost one
transaction, one commit (one fsync on PostgreSQL) and, on SQLite, one turn of the write lock,
instead of N; alone, a request pays nothing for it (no thread hand-over). Measured in
docs/performance.md. A batch that fails is stored again request by request, so one bad delivery
cannot fail the others; a database that is down fails each request (5xx, and Meta redelivers).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from bot.conversation import intake
from bot.whatsapp.events import Event

log = logging.getLogger(__name__)

MAX_BATCH = 256  # deliveries in one transaction
GROUP_COMMIT = "wabot.group_commit"  # its key in app.extensions


@dataclass
class _Delivery:
    events: list[Event]
    received_at: datetime
    done: bool = False
    new: list[Event] | None = None
    error: BaseException | None = None


class GroupCommit:
    def __init__(self, engine: Engine, max_batch: int = MAX_BATCH):
        self.engine = engine
        self.max_batch = max_batch
        self._waiting: list[_Delivery] = []
        self._writing = False
        self._turn = threading.Condition()

    def store(self, events: list[Event], received_at: datetime) -> list[Event]:
        """Store one delivery's events with whatever else is waiting; the new ones (as intake.store)."""
        delivery = _Delivery(events, received_at)
        with self._turn:
            self._waiting.append(delivery)
            while self._writing and not delivery.done:
                self._turn.wait()
            if not delivery.done:  # our turn to write, for everyone waiting
                self._writing = True
                batch, self._waiting = self._waiting[:self.max_batch], self._waiting[self.max_batch:]
        if not delivery.done:
            try:
                self._write(batch)
            finally:
                with self._turn:
                    self._writing = False
                    self._turn.notify_all()
        if delivery.error is not None:
            raise delivery.error
        return delivery.new

    def _write(self, batch: list[_Delivery]) -> None:
        try:
            with self.engine.begin() as conn:
                results = intake.store_many(conn, [(d.events, d.received_at) for d in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error, batch[0].done = exc, True
                return
            log.warning("storing %d webhook deliveries together failed (%s); storing them one by one",
                        len(batch), exc.__class__.__name__)
            for delivery in batch:
                self._write([delivery])
            return
        except BaseException as exc:  # the writer's thread is going away: nobody may wait for it forever
            for delivery in batch:
                delivery.error, delivery.done = exc, True
            raise
        for delivery, new in zip(batch, results):
            delivery.new, delivery.done = new, True
