"""The outbox's sender: leases due rows and sends them through the Graph transport.

Under the rate limit, with a bounded pool of threads; it records what happened: sent (with
Meta's message id), a retry later (429/5xx/130429/131056, honouring Retry-After), a second try
as the template after 131047, or a final failure with its code. See docs/sending.md.
"""
from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.conversation.customers import mask
from bot.conversation.handoff import BOT
from bot.conversation.outbox import BUSINESS_INITIATED, OPEN_STATES, callback_data
from bot.core.retry import Backoff
from bot.core.tables import conversations, customers, outbox
from bot.core.times import utcnow
from bot.whatsapp import graph, messages

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
DEFAULT_BACKOFF = Backoff()
# The limit holds where Meta counts: at arrival. Sends are paced slightly under it, and a send
# that got to run more than SLOT_TOLERANCE after its slot takes a new one, so that scheduling
# delays between pacing and the socket never bunch more than the limit into a second
# (bench/campaign_fanout.py checks this from the receiving side).
PACING = 0.98
SLOT_TOLERANCE_NS = 5_000_000
SEND_LEASE = timedelta(seconds=120)

class RateLimiter:
    """Spaces sends evenly so that no second ever holds more than `rate` of them.

    Integer nanoseconds, so that float drift can never squeeze one send too many into a second.
    """

    def __init__(self, rate: float, clock: Callable[[], int] = time.monotonic_ns,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval_ns = math.ceil(1e9 / rate)
        self._clock, self._sleep = clock, sleep
        self._next = 0
        self._lock = threading.Lock()

    def acquire(self, max_late_ns: int | None = None) -> int:
        """Wait for the next free slot. With `max_late_ns`, a caller that gets to run more than
        that long after its slot (a thread descheduled on a busy machine) gives the slot up and
        takes a new one: sent late, it would arrive bunched with the sends of the slots after
        it, and the receiver would count more than `rate` in a second. Returns the slot taken
        (nanoseconds of the limiter's clock)."""
        while True:
            with self._lock:
                now = self._clock()
                slot = max(now, self._next)
                self._next = slot + self.interval_ns
            if slot > now:
                self._sleep((slot - now) / 1e9)
            if max_late_ns is None or self._clock() - slot <= max_late_ns:
                return slot


@dataclass(frozen=True)
class Outgoing:
    id: int
    recipient: str
    kind: str
    category: str
    payload: dict
    fallback: dict | None
    used_fallback: bool
    attempts: int
    customer_id: int | None
    blocked_reason: str | None  # set when the customer may no longer receive this message


@dataclass(frozen=True)
class SendResult:
    outgoing: Outgoing
    message_id: str | None = None
    error: graph.GraphError | None = None
    blocked_reason: str | None = None  # found unwelcome at the moment of sending: cancelled, not sent

    @property
    def cancelled_because(self) -> str | None:
        return self.blocked_reason or self.outgoing.blocked_reason


# Who the customer is now, read again for each business-initiated message just before it leaves.
_STILL_WELCOME = (
    sa.select(customers.c.opted_out, customers.c.marketing_paused,
              conversations.c.state.label("conversation_state"))
    .select_from(customers.outerjoin(conversations, conversations.c.customer_id == customers.c.id))
    .where(customers.c.id == sa.bindparam("customer_id"))
)


def concurrency_for(rate_limit: float) -> int:
    """Sends in flight needed to sustain the rate: Meta answers in roughly 100-300 ms, so R
    messages a second take about R x 0.15 s of requests open at once (at least 8, at most 128)."""
    return max(8, min(128, math.ceil(rate_limit * 0.15)))


class Sender:
    """Leases due outbox rows and sends them; one per process is the unit of the rate limit."""

    def __init__(self, engine: Engine, transport: graph.Transport, *, rate_limit: float, concurrency: int = 8,
                 batch: int = 500, clock: Callable[[], datetime] = utcnow, metrics=None,
                 backoff: Backoff = DEFAULT_BACKOFF):
        self.engine = engine
        self.backoff = backoff
        self.transport = transport
        self.limiter = RateLimiter(rate_limit * PACING)
        self.concurrency = concurrency
        self.batch = batch
        self.clock = clock
        self.metrics = metrics
        self.owner = f"sender-{uuid.uuid4().hex[:12]}"
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="wabot-send")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # -- claiming

    def claim(self, now: datetime) -> list[Outgoing]:
        o = outbox.alias("o")
        earlier = outbox.alias("earlier")
        due = sa.and_(o.c.state == "queued", o.c.not_before <= now)
        # One customer's messages leave in the order they were queued.
        # (The state IN (...) lets both databases find earlier rows through the recipient index;
        # an OR of two states made SQLite scan every due row once per candidate.)
        blocked = sa.exists().where(
            earlier.c.recipient == o.c.recipient, earlier.c.state.in_(OPEN_STATES), earlier.c.id < o.c.id,
            sa.or_(earlier.c.state == "sending", earlier.c.not_before <= now),
        )
        candidates = sa.select(o.c.id).where(due, ~blocked).order_by(o.c.id).limit(self.batch)
        t = outbox.c
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                candidates = candidates.with_for_update(skip_locked=True, of=o)
            ids = [r[0] for r in conn.execute(candidates)]
            if not ids:
                return []
            conn.execute(
                sa.update(outbox).where(t.id.in_(ids), t.state == "queued")
                .values(state="sending", lease_owner=self.owner, lease_until=now + SEND_LEASE,
                        attempts=t.attempts + 1)
            )
            rows = conn.execute(
                sa.select(t.id, t.recipient, t.kind, t.category, t.payload, t.fallback, t.used_fallback,
                          t.attempts, t.customer_id, customers.c.opted_out, customers.c.marketing_paused,
                          conversations.c.state.label("conversation_state"))
                .select_from(outbox.outerjoin(customers, customers.c.id == t.customer_id)
                             .outerjoin(conversations, conversations.c.customer_id == t.customer_id))
                .where(t.id.in_(ids), t.lease_owner == self.owner, t.state == "sending").order_by(t.id)
            ).all()
        return [Outgoing(r.id, r.recipient, r.kind, r.category, r.payload, r.fallback, r.used_fallback,
                         r.attempts, r.customer_id,
                         _blocked_reason(r.kind, r.category, r.opted_out, r.marketing_paused, r.conversation_state))
                for r in rows]

    def release_expired(self, now: datetime) -> int:
        """Rows left in `sending` by a sender that died go back to the queue."""
        t = outbox.c
        with self.engine.begin() as conn:
            return conn.execute(
                sa.update(outbox).where(t.state == "sending", t.lease_until < now)
                .values(state="queued", lease_owner=None, lease_until=None)
            ).rowcount

    # -- sending

    def _blocked_now(self, item: Outgoing) -> str | None:
        """A STOP, a marketing pause or an agent's claim processed since the batch was claimed
        cancels the message: checked per message, as it is handed to the Graph API (docs/sending.md)."""
        if item.kind not in BUSINESS_INITIATED or item.customer_id is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(_STILL_WELCOME, {"customer_id": item.customer_id}).first()
        if row is None:
            return None
        return _blocked_reason(item.kind, item.category, row.opted_out, row.marketing_paused, row.conversation_state)

    def _send(self, item: Outgoing) -> SendResult:
        if item.blocked_reason:
            return SendResult(item)
        try:
            if item.kind == "read":
                self.limiter.acquire(SLOT_TOLERANCE_NS)
                self.transport.mark_read(item.payload["message_id"])
                return SendResult(item, message_id=None)
            body = graph.envelope(item.recipient, item.payload, callback_data(item.id))
            self.limiter.acquire(SLOT_TOLERANCE_NS)
            blocked = self._blocked_now(item)
            if blocked:
                return SendResult(item, blocked_reason=blocked)
            return SendResult(item, message_id=self.transport.send(body))
        except graph.GraphError as exc:
            return SendResult(item, error=exc)
        except Exception as exc:  # a bug or an odd transport failure: retry, and say so
            log.exception("outbox %s: unexpected error while sending", item.id)
            return SendResult(item, error=graph.ServerError(None, f"unexpected {exc.__class__.__name__}", str(exc)))

    def run_once(self) -> int:
        """Send one batch of due messages; returns how many rows it handled."""
        now = self.clock()
        self.release_expired(now)
        items = self.claim(now)
        if not items:
            return 0
        self._record(list(self._pool.map(self._send, items)))
        return len(items)

    def _record(self, results: list[SendResult]) -> None:
        """Write a batch's outcomes in one transaction; the sent ones (nearly all) in one statement."""
        now = self.clock()
        t = outbox.c
        sent = [r for r in results if r.error is None and not r.cancelled_because]
        with self.engine.begin() as conn:
            if sent:
                conn.execute(
                    sa.update(outbox).where(t.id == sa.bindparam("_id"), t.lease_owner == self.owner).values(
                        state=sa.case((t.state == "sending", "sent"), else_=t.state),
                        wa_message_id=sa.bindparam("_wamid"), sent_at=sa.func.coalesce(t.sent_at, now),
                        lease_owner=None, lease_until=None),
                    [{"_id": r.outgoing.id, "_wamid": r.message_id} for r in sent])
            for result in results:
                item = result.outgoing
                if result.cancelled_because:
                    conn.execute(sa.update(outbox).where(t.id == item.id, t.lease_owner == self.owner).values(
                        state="cancelled", error_title=result.cancelled_because, lease_owner=None, lease_until=None))
                    self._count("cancelled")
                elif result.error is not None:
                    self._record_error(conn, item, result.error, now)
        if sent:
            if self.metrics is not None:
                self.metrics.outbound.labels(status="sent").inc(len(sent))
            for result in sent:  # one line a message would cost more than sending it at 1,000/s
                log.debug("sent outbox %s (%s) to %s", result.outgoing.id, result.outgoing.kind,
                          mask(result.outgoing.recipient))
            log.info("sent %d message(s), outbox %s..%s", len(sent), sent[0].outgoing.id, sent[-1].outgoing.id)

    def _record_error(self, conn: Connection, item: Outgoing, error: graph.GraphError, now: datetime) -> None:
        t = outbox.c
        mine = sa.and_(t.id == item.id, t.lease_owner == self.owner)
        done = dict(lease_owner=None, lease_until=None, error_code=error.code, error_title=str(error)[:500])
        if isinstance(error, graph.WindowClosedError) and item.fallback and not item.used_fallback:
            # Meta refused free-form text outside the window; the template may still go, once.
            conn.execute(sa.update(outbox).where(mine).values(
                state="queued", payload=item.fallback, used_fallback=True, not_before=now,
                preview=messages.preview_of(item.fallback), **done))
            self._count("fallback")
            return
        if error.transient and item.attempts < MAX_ATTEMPTS:
            delay = self.backoff.delay(item.attempts, error.retry_after)
            conn.execute(sa.update(outbox).where(mine).values(
                state="queued", not_before=now + timedelta(seconds=delay), **done))
            self._count("retry")
            log.warning("outbox %s: %s; retrying in %.1fs", item.id, error, delay)
            return
        conn.execute(sa.update(outbox).where(mine).values(state="failed", failed_at=now, **done))
        self._count("failed")
        log.warning("outbox %s to %s failed for good: %s", item.id, mask(item.recipient), error)
        if isinstance(error, graph.MarketingStoppedError) and item.customer_id is not None:
            conn.execute(sa.update(customers).where(customers.c.id == item.customer_id)
                         .values(marketing_paused=True, updated_at=now))

    def _count(self, status: str) -> None:
        if self.metrics is not None:
            self.metrics.outbound.labels(status=status).inc()

    # -- loops

    def _pump(self, *, stop: threading.Event | None = None, wake: threading.Event | None = None,
              idle_wait: float = 0.05, deadline: float | None = None) -> None:
        """Send continuously, with up to two batches in flight: the next batch is claimed and
        queued on the connections, and the oldest one recorded, while the sends go on, so the
        connections never wait for the database.

        Claiming while a batch is in flight keeps each customer's order: their later messages
        stay blocked behind the rows still `sending`. Returns when `stop` is set, or, without a
        `stop`, when nothing due is left (or the deadline passes)."""
        in_flight: deque[list] = deque()
        last_release = 0.0
        while True:
            if (stop is not None and stop.is_set()) or (deadline is not None and time.monotonic() > deadline):
                break
            if wake is not None:
                wake.clear()  # before the round, so a wake-up during it is not lost
            try:
                now = self.clock()
                if time.monotonic() - last_release > 1.0:
                    self.release_expired(now)
                    last_release = time.monotonic()
                items = self.claim(now)
            except Exception:  # keep the process alive; the next round retries
                log.exception("sender round failed")
                items = []
            if items:
                in_flight.append([self._pool.submit(self._send, item) for item in items])
            recorded = False
            if len(in_flight) > 1 or (in_flight and not items):
                self._record([future.result() for future in in_flight.popleft()])
                recorded = True
            if items or recorded:
                continue  # what was just recorded may have unblocked (or re-queued) rows: look again
            if stop is None:
                break
            (wake or stop).wait(idle_wait)
        while in_flight:
            self._record([future.result() for future in in_flight.popleft()])

    def drain(self, timeout: float = 60.0) -> None:
        """Send until nothing due is left (retries with a future not_before are left waiting)."""
        self._pump(deadline=time.monotonic() + timeout)

    def run_forever(self, stop: threading.Event, idle_wait: float = 0.05, wake: threading.Event | None = None) -> None:
        self._pump(stop=stop, wake=wake, idle_wait=idle_wait)


def _blocked_reason(kind: str, category: str, opted_out: bool | None, marketing_paused: bool | None,
                    conversation_state: str | None) -> str | None:
    """A business-initiated message queued earlier may no longer be welcome when it is due."""
    if kind in BUSINESS_INITIATED:
        if opted_out:
            return "opted_out"
        if category == "marketing" and marketing_paused:
            return "marketing_paused"
        if conversation_state not in (None, BOT):
            return "in_handoff"
    return None
