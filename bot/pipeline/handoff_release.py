"""Auto-release: conversations whose agent has been silent for `[policy] handoff_timeout_minutes`
go back to the bot. Runs on a timer beside the inbound worker (`serve`, `worker`).

A customer who asked for a person and never got one is told the bot is back, inside the window.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy.engine import Connection, Engine

from bot.conversation import customers, handoff, outbox
from bot.core.config import Settings
from bot.core.times import utcnow
from bot.whatsapp.window import window_open
from flows import runner
from flows.context import FlowServices, SegmentLookup, no_segments
from flows.replies import ReplyBook

log = logging.getLogger(__name__)


class HandoffReleaser:
    def __init__(self, engine: Engine, settings: Settings, *, replies: ReplyBook,
                 clock: Callable[[], datetime] = utcnow, segment_lookup: SegmentLookup = no_segments,
                 on_enqueued: Callable[[], None] | None = None, interval: float = 30.0):
        self.engine = engine
        self.settings = settings
        self.replies = replies
        self.clock = clock
        self.segment_lookup = segment_lookup
        self.on_enqueued = on_enqueued or (lambda: None)
        self.interval = interval

    @property
    def timeout(self) -> timedelta:
        return timedelta(minutes=self.settings.policy.handoff_timeout_minutes)

    def run_once(self, now: datetime | None = None) -> list[handoff.Released]:
        now = now or self.clock()
        with self.engine.begin() as conn:
            released, notified = self._release(conn, now)
        if notified:
            self.on_enqueued()
        return released

    def release(self, conn: Connection, now: datetime) -> list[handoff.Released]:
        """Release the silent conversations in the caller's transaction (the scheduler's job runs
        it there, together with its record of the run), and tell waiting customers."""
        return self._release(conn, now)[0]

    def _release(self, conn: Connection, now: datetime) -> tuple[list[handoff.Released], int]:
        notified = 0
        released = handoff.release_timed_out(conn, now, self.timeout)
        for item in released:
            customer = customers.get(conn, item.customer_id)
            if (item.from_state != handoff.PENDING or customer is None or not customer.wa_id
                    or not window_open(customer.last_inbound_at, now)):
                continue
            services = FlowServices.bound(self.settings, self.replies, conn, now, self.segment_lookup)
            with services.reading() as data:
                context = data.context(customer.wa_id)
            rendered = self.replies.render("handoff_timeout", context.segments, context.values, context.language)
            for message in runner.to_graph_messages([{"text": rendered.text}] if rendered else []):
                outbox.enqueue(conn, recipient=customer.wa_id, customer_id=customer.id, message=message,
                               now=now, kind="reply", category="service", source="reply:handoff_timeout")
                notified += 1
        for item in released:
            log.info("conversation of customer %s returned to the bot after %s of agent silence (%s)",
                     item.customer_id, self.timeout, item.from_state)
        if notified:
            log.info("%d waiting customer(s) told the bot is back", notified)
        return released, notified

    def run_forever(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # the next round retries; a timer must not die
                log.exception("handoff auto-release failed")
            stop.wait(self.interval)
