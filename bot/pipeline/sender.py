"""The outbox's sender: leases due rows and sends them through the Graph transport.

Under the rate limit, with a bounded pool of threads. Each message is marked handed over
(`handed_at`, committed) just before it leaves and its result recorded right after: sent (with
Meta's message id), a retry later (429/5xx/130429/131056, honouring Retry-After), a second try
as the template after 131047, or a final failure with its code. A sender that dies leaves at
most its concurrency of rows handed over and unrecorded; they become `unknown`, never sent again
blindly. See docs/sending.md.
"""
from __future__ import annotations

import logging
import math
import threading
import time
import uuid
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.campaigns.tables import template_health
from bot.conversation.customers import mask
from bot.conversation.handoff import BOT
from bot.conversation.outbox import BUSINESS_INITIATED, OPEN_STATES, callback_data
from bot.core.batching import Batcher
from bot.core.retry import Backoff
from bot.core.tables import conversations, customers, outbox
from bot.core.times import utcnow
from bot.pipeline.ratelimit import Limiter, RateLimiter
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
# The hand-over (a database write) is done this long before the message's slot, not after it:
# done after, it made the send late whenever it took more than SLOT_TOLERANCE, and the slot was
# wasted (on a busy machine, half the limit). A crash in between leaves it `unknown` having not
# left, bounded as before by the concurrency.
HAND_OVER_LEAD_NS = 50_000_000
SEND_LEASE = timedelta(seconds=120)
# A non-marketing message left `unknown` with no status after this long is sent again (docs/sending.md).
DEFAULT_UNKNOWN_RESEND = timedelta(minutes=10)


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
    lease_lost: bool = False  # the row is no longer this sender's: nothing sent, nothing to record
    returned: bool = False  # the sender is stopping: not sent, back to the queue

    @property
    def cancelled_because(self) -> str | None:
        return self.blocked_reason or self.outgoing.blocked_reason

    @property
    def status(self) -> str:
        if self.lease_lost:
            return "lease_lost"
        if self.returned:
            return "returned"
        if self.cancelled_because:
            return "cancelled"
        return "sent" if self.error is None else "error"


# Who the customer is now, read again for each business-initiated message just before it leaves.
_STILL_WELCOME = (
    sa.select(customers.c.opted_out, customers.c.marketing_paused,
              conversations.c.state.label("conversation_state"))
    .select_from(customers.outerjoin(conversations, conversations.c.customer_id == customers.c.id))
    .where(customers.c.id == sa.bindparam("customer_id"))
)

# The same rules as _blocked_reason, in SQL, so that the check and the hand-over are one statement.
_UNWELCOME = sa.or_(
    sa.exists().where(customers.c.id == outbox.c.customer_id, sa.or_(
        customers.c.opted_out.is_(True),
        sa.and_(outbox.c.category == "marketing", customers.c.marketing_paused.is_(True)))),
    sa.exists().where(conversations.c.customer_id == outbox.c.customer_id, conversations.c.state != BOT),
)


# A template Meta paused, disabled, rejected or rated RED after it was queued does not leave: Meta
# would refuse it (132015, 132016); it is cancelled as `template_paused` (docs/sending.md).
_TEMPLATE_UNUSABLE = sa.exists().where(
    template_health.c.name == outbox.c.payload[("template", "name")].as_string(),
    template_health.c.language == outbox.c.payload[("template", "language", "code")].as_string(),
    template_health.c.usable.is_(False))
TEMPLATE_PAUSED = "template_paused"


def concurrency_for(rate_limit: float) -> int:
    """Sends in flight needed to sustain the rate: Meta answers in roughly 100-300 ms, so R
    messages a second take about R x 0.15 s of requests open at once (at least 8, at most 128)."""
    return max(8, min(128, math.ceil(rate_limit * 0.15)))


class Sender:
    """Leases due outbox rows and sends them, each handed over and recorded on its own."""

    def __init__(self, engine: Engine, transport: graph.Transport, *, rate_limit: float, concurrency: int = 8,
                 batch: int | None = None, clock: Callable[[], datetime] = utcnow, metrics=None,
                 backoff: Backoff = DEFAULT_BACKOFF, limiter: Limiter | None = None,
                 unknown_resend: timedelta | None = DEFAULT_UNKNOWN_RESEND):
        self.engine = engine
        self.backoff = backoff
        self.transport = transport
        self.limiter = limiter or RateLimiter(rate_limit * PACING)
        self.concurrency = concurrency
        # A batch is about two seconds of sends at the limit: claimed rows wait for their turn
        # under the lease, and a batch claimed is a batch other senders cannot take.
        self.batch = batch or max(concurrency, min(500, math.ceil(rate_limit * 2)))
        self.clock = clock
        self.metrics = metrics
        self.unknown_resend = unknown_resend
        self.owner = f"sender-{uuid.uuid4().hex[:12]}"
        self._stopping = threading.Event()  # set by run_forever's stop: what has not left goes back
        self._hand_overs = Batcher(engine, self._hand_over_all, name="outbox hand-over")
        self._records = Batcher(engine, self._record_all, name="outbox results")
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
                        attempts=t.attempts + 1, handed_at=None)
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
        """Rows a dead sender left in `sending`: those it never handed over go back to the queue;
        those it handed over may have reached Meta, and become `unknown` (a status webhook
        resolves them). Non-marketing rows `unknown` for longer than `unknown_resend` with no
        status go again; marketing rows never do (docs/sending.md)."""
        t = outbox.c
        with self.engine.begin() as conn:
            released = conn.execute(
                sa.update(outbox).where(t.state == "sending", t.lease_until < now)
                .values(state=sa.case((t.handed_at.is_(None), "queued"), else_="unknown"),
                        lease_owner=None, lease_until=None)
            ).rowcount
            if self.unknown_resend is not None:
                resent = conn.execute(
                    sa.update(outbox).where(t.state == "unknown", t.category != "marketing",
                                            t.handed_at < now - self.unknown_resend, t.attempts < MAX_ATTEMPTS)
                    .values(state="queued", handed_at=None, not_before=now)
                ).rowcount
                if resent:
                    log.warning("%d message(s) left unknown by a dead sender had no status for %s: sending again",
                                resent, self.unknown_resend)
        return released

    # -- sending

    def _blocked_now(self, item: Outgoing) -> str | None:
        """A STOP, a marketing pause or an agent's claim processed since the batch was claimed
        cancels the message: checked per message, as it is handed to the Graph API (docs/sending.md).
        So does a template that became unusable."""
        if item.payload.get("type") == "template":
            with self.engine.connect() as conn:
                paused = conn.execute(sa.select(_TEMPLATE_UNUSABLE.where(outbox.c.id == item.id))).scalar()
            if paused:
                return TEMPLATE_PAUSED
        if item.kind not in BUSINESS_INITIATED or item.customer_id is None:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(_STILL_WELCOME, {"customer_id": item.customer_id}).first()
        if row is None:
            return None
        return _blocked_reason(item.kind, item.category, row.opted_out, row.marketing_paused, row.conversation_state)

    def _hand_over(self, item: Outgoing) -> bool:
        """Commit that this message is leaving now, if it is still ours and still welcome. From
        here until its result is recorded, a crash leaves it `unknown`, not queued. Concurrent
        hand-overs share a transaction (bot/core/batching.py)."""
        return self._hand_overs.submit(item)

    def _hand_over_all(self, conn: Connection, items: list[Outgoing]) -> list[bool]:
        t = outbox.c
        handing = (sa.update(outbox).where(t.lease_owner == self.owner, t.state == "sending")
                   .values(handed_at=self.clock()).returning(t.id))
        answers = [i.id for i in items if i.kind not in BUSINESS_INITIATED]
        initiated = [i.id for i in items if i.kind in BUSINESS_INITIATED]
        handed: set[int] = set()
        if answers:
            handed.update(conn.execute(handing.where(t.id.in_(answers), ~_TEMPLATE_UNUSABLE)).scalars())
        if initiated:  # ours, and still welcome: the same rules as _blocked_reason
            handed.update(conn.execute(handing.where(t.id.in_(initiated), ~_UNWELCOME, ~_TEMPLATE_UNUSABLE)).scalars())
        return [item.id in handed for item in items]

    def _attempt(self, item: Outgoing) -> SendResult:
        if item.blocked_reason:
            return SendResult(item)
        if self._stopping.is_set():
            return SendResult(item, returned=True)
        try:
            if item.kind == "read":  # a blue tick twice is harmless: no hand-over to record
                self.limiter.acquire(SLOT_TOLERANCE_NS)
                if "typing_indicator" in item.payload:  # a reply that takes a while is coming (docs/usernames.md)
                    self.transport.mark_read(item.payload["message_id"], typing=True)
                else:
                    self.transport.mark_read(item.payload["message_id"])
                return SendResult(item, message_id=None)
            body = graph.envelope(item.recipient, item.payload, callback_data(item.id))
            slot = self.limiter.reserve()
            self.limiter.wait(slot, HAND_OVER_LEAD_NS)
            if not self._hand_over(item):
                blocked = self._blocked_now(item)
                return SendResult(item, blocked_reason=blocked) if blocked else SendResult(item, lease_lost=True)
            self.limiter.wait(slot)
            if self.limiter.late(slot, SLOT_TOLERANCE_NS):  # the hand-over took long: wait for a new slot
                self.limiter.acquire(SLOT_TOLERANCE_NS)
            return SendResult(item, message_id=self.transport.send(body))
        except graph.GraphError as exc:
            return SendResult(item, error=exc)
        except Exception as exc:  # a bug or an odd transport failure: retry, and say so
            log.exception("outbox %s: unexpected error while sending", item.id)
            return SendResult(item, error=graph.ServerError(None, f"unexpected {exc.__class__.__name__}", str(exc)))

    def _send(self, item: Outgoing) -> SendResult:
        """Send one message and record its result at once, so that a crash can leave at most the
        messages in flight (the pool's size) unrecorded."""
        result = self._attempt(item)
        if result.lease_lost:
            return result
        try:
            counted = self._records.submit(result)
        except Exception:  # the row stays `sending` under our lease: released as unknown/queued when it ends
            log.exception("outbox %s: recording the result failed", item.id)
            return SendResult(item, lease_lost=True)
        self._count(counted)
        return result

    def run_once(self) -> int:
        """Send one batch of due messages; returns how many rows it handled."""
        now = self.clock()
        self.release_expired(now)
        items = self.claim(now)
        if not items:
            return 0
        self._summarise(list(self._pool.map(self._send, items)))
        return len(items)

    def _ours(self, item: Outgoing):
        """The row is still ours to record: under our lease, or `unknown` because our lease ran out
        while it was in flight (nobody else touches an unknown row, and now we know)."""
        t = outbox.c
        return sa.and_(t.id == item.id, sa.or_(t.lease_owner == self.owner, t.state == "unknown"))

    def _record_all(self, conn: Connection, results: list[SendResult]) -> list[str | None]:
        """The sent ones (nearly all) in one statement; the rest one by one."""
        self._record_sent(conn, [r for r in results if r.status == "sent"])
        return ["sent" if r.status == "sent" else self._record(conn, r) for r in results]

    def _record_sent(self, conn: Connection, sent: list[SendResult]) -> None:
        """Also over `unknown`: our lease ran out while it was in flight, and now we know."""
        if not sent:
            return
        t = outbox.c
        ours = sa.and_(t.id == sa.bindparam("_id"), sa.or_(t.lease_owner == self.owner, t.state == "unknown"))
        conn.execute(
            sa.update(outbox).where(ours)
            .values(state=sa.case((sa.or_(t.state == "sending", t.state == "unknown"), "sent"), else_=t.state),
                    wa_message_id=sa.func.coalesce(t.wa_message_id, sa.bindparam("_wamid")),
                    sent_at=sa.func.coalesce(t.sent_at, self.clock()), lease_owner=None, lease_until=None),
            [{"_id": r.outgoing.id, "_wamid": r.message_id} for r in sent])

    def _record(self, conn: Connection, result: SendResult) -> str | None:
        """Write what happened to one message; returns the outcome to count in the metrics."""
        now = self.clock()
        t = outbox.c
        item = result.outgoing
        mine = self._ours(item)
        if result.returned:
            conn.execute(sa.update(outbox).where(mine, t.state == "sending").values(
                state="queued", attempts=t.attempts - 1, lease_owner=None, lease_until=None, handed_at=None))
            return None
        if result.cancelled_because:
            conn.execute(sa.update(outbox).where(mine).values(
                state="cancelled", error_title=result.cancelled_because, lease_owner=None, lease_until=None,
                handed_at=None))
            return "cancelled"
        if result.error is not None:
            return self._record_error(conn, item, result.error, now)
        self._record_sent(conn, [result])
        return "sent"

    def _summarise(self, results: list[SendResult]) -> None:
        sent = [r for r in results if r.status == "sent"]
        for result in sent:  # one line a message would cost more than sending it at 1,000/s
            log.debug("sent outbox %s (%s) to %s", result.outgoing.id, result.outgoing.kind,
                      mask(result.outgoing.recipient))
        if sent:
            others = Counter(r.status for r in results if r.status != "sent")
            extra = "".join(f", {n} {status}" for status, n in sorted(others.items()))
            log.info("sent %d message(s), outbox %s..%s%s", len(sent), sent[0].outgoing.id, sent[-1].outgoing.id,
                     extra)

    def _record_error(self, conn: Connection, item: Outgoing, error: graph.GraphError, now: datetime) -> str:
        mine = self._ours(item)
        done = dict(lease_owner=None, lease_until=None, handed_at=None, error_code=error.code,
                    error_title=str(error)[:500])
        if isinstance(error, graph.WindowClosedError) and item.fallback and not item.used_fallback:
            # Meta refused free-form text outside the window; the template may still go, once.
            conn.execute(sa.update(outbox).where(mine).values(
                state="queued", payload=item.fallback, used_fallback=True, not_before=now,
                preview=messages.preview_of(item.fallback), **done))
            return "fallback"
        if error.transient and item.attempts < MAX_ATTEMPTS:
            delay = self.backoff.delay(item.attempts, error.retry_after)
            conn.execute(sa.update(outbox).where(mine).values(
                state="queued", not_before=now + timedelta(seconds=delay), **done))
            log.warning("outbox %s: %s; retrying in %.1fs", item.id, error, delay)
            return "retry"
        conn.execute(sa.update(outbox).where(mine).values(state="failed", failed_at=now, **done))
        log.warning("outbox %s to %s failed for good: %s", item.id, mask(item.recipient), error)
        if isinstance(error, graph.MarketingStoppedError) and item.customer_id is not None:
            conn.execute(sa.update(customers).where(customers.c.id == item.customer_id)
                         .values(marketing_paused=True, updated_at=now))
        return "failed"

    def _count(self, status: str | None) -> None:
        if status is not None and self.metrics is not None:
            self.metrics.outbound.labels(status=status).inc()

    # -- loops

    def _pump(self, *, stop: threading.Event | None = None, wake: threading.Event | None = None,
              idle_wait: float = 0.05, deadline: float | None = None) -> None:
        """Send continuously, with up to two batches in flight: the next batch is claimed and
        queued on the connections while the sends of the last one go on, so the connections
        never wait for the database. Each send records its own result.

        Claiming while a batch is in flight keeps each customer's order: their later messages
        stay blocked behind the rows still `sending`. Returns when `stop` is set, or, without a
        `stop`, when nothing due is left (or the deadline passes)."""
        in_flight: deque[list[Future]] = deque()
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
            finished = False
            if len(in_flight) > 1 or (in_flight and not items):
                self._summarise([future.result() for future in in_flight.popleft()])
                finished = True
            if items or finished:
                continue  # what just finished may have unblocked (or re-queued) rows: look again
            if stop is None:
                break
            (wake or stop).wait(idle_wait)
        if stop is not None:
            self._stopping.set()  # the claimed rows not yet handed over go back at once
        while in_flight:
            batch = in_flight.popleft()
            wait_all(batch)
            self._summarise([future.result() for future in batch])

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
