"""The durable outbox and its sender: every outbound message is a row here before it is sent.

The sender leases due rows, sends them through the Graph transport under the rate limit with a
bounded pool of threads, and records what happened: sent (with Meta's message id), a retry later
(429/5xx/130429/131056, honouring Retry-After), a second try as the template after 131047, or a
final failure with its code. Status webhooks then move a row forward (sent < delivered < read).
"""
from __future__ import annotations

import logging
import math
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot import graph, messages
from bot.customers import mask
from bot.db import insert_ignoring_conflicts
from bot.events import STATUS_RANK, StatusUpdate
from bot.handoff import BOT
from bot.models import conversations, customers, outbox, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
SEND_LEASE = timedelta(seconds=120)
BUSINESS_INITIATED = ("campaign", "reorder")
DELIVERY_STATES = ("sent", "delivered", "read")
OPEN_STATES = ("queued", "sending")


def enqueue(conn: Connection, *, recipient: str, message: Mapping, now: datetime, kind: str = "reply",
            category: str = "service", customer_id: int | None = None, fallback: Mapping | None = None,
            source: str | None = None, dedupe_key: str | None = None,
            not_before: datetime | None = None) -> int | None:
    """Queue one message; returns its id, or None when `dedupe_key` was queued before."""
    row = {
        "customer_id": customer_id, "recipient": recipient, "kind": kind, "category": category,
        "payload": dict(message), "fallback": dict(fallback) if fallback else None,
        "preview": messages.preview_of(message) if kind != "read" else None,
        "source": source, "dedupe_key": dedupe_key, "state": "queued", "attempts": 0,
        "not_before": not_before or now, "created_at": now, "used_fallback": False,
    }
    if dedupe_key is None:
        return conn.execute(_INSERT, row).scalar_one()
    inserted = list(insert_ignoring_conflicts(conn, outbox, [row], ["dedupe_key"], returning=outbox.c.id))
    return inserted[0][0] if inserted else None


_INSERT = outbox.insert().returning(outbox.c.id)


def callback_data(outbox_id: int) -> str:
    return f"outbox:{outbox_id}"


def _outbox_id_from_callback(data: str | None) -> int | None:
    if data and data.startswith("outbox:") and data[7:].isdigit():
        return int(data[7:])
    return None


# ---------------------------------------------------------------- status webhooks

def apply_status(conn: Connection, status: StatusUpdate, now: datetime) -> dict | None:
    """Move the outbox row the status names to the furthest state seen; returns the row, or None
    when the message is not ours. Out-of-order statuses never move a row back."""
    o = outbox.c
    by_callback = _outbox_id_from_callback(status.callback_data)
    condition = o.wa_message_id == status.message_id
    if by_callback is not None:
        condition = sa.or_(condition, o.id == by_callback)
    query = sa.select(o.id, o.state, o.customer_id, o.kind, o.wa_message_id).where(condition)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query.limit(1)).first()
    if row is None:
        return None
    at = status.timestamp or now
    values: dict = {}
    if row.wa_message_id is None and not status.message_id.startswith("noid-"):
        values["wa_message_id"] = status.message_id
    if status.status in STATUS_RANK:
        column = "read_at" if status.status in ("read", "played") else f"{status.status}_at"
        values[column] = sa.func.coalesce(getattr(o, column), at)
        new_state = "read" if status.status == "played" else status.status
        if row.state not in ("failed",) and STATUS_RANK[new_state] > STATUS_RANK.get(row.state, 0):
            values["state"] = new_state
        if new_state != "sent":  # delivered or read implies it was sent
            values["sent_at"] = sa.func.coalesce(o.sent_at, at)
    elif status.status == "failed":
        first = status.errors[0] if status.errors else None
        values.update(failed_at=at, error_code=first.code if first else None,
                      error_title=((first.title or "failed") if first else "failed")[:500])
        if row.state not in ("delivered", "read"):
            values["state"] = "failed"
    if values:
        conn.execute(sa.update(outbox).where(o.id == row.id).values(**values))
    return {"id": row.id, "customer_id": row.customer_id, "kind": row.kind}


# ---------------------------------------------------------------- the sender

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

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval_ns
        if slot > now:
            self._sleep((slot - now) / 1e9)


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


def backoff(attempts: int, retry_after: float | None) -> float:
    if retry_after is not None:
        return retry_after
    return min(300.0, 2.0 ** (attempts - 1)) * (0.75 + random.random() / 2)


class Sender:
    """Leases due outbox rows and sends them; one per process is the unit of the rate limit."""

    def __init__(self, engine: Engine, transport: graph.Transport, *, rate_limit: float, concurrency: int = 8,
                 batch: int = 200, clock: Callable[[], datetime] = utcnow, metrics=None):  # noqa: ANN001
        self.engine = engine
        self.transport = transport
        self.limiter = RateLimiter(rate_limit)
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
        blocked = sa.exists().where(
            earlier.c.recipient == o.c.recipient, earlier.c.id < o.c.id,
            sa.or_(earlier.c.state == "sending", sa.and_(earlier.c.state == "queued", earlier.c.not_before <= now)),
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
                         r.attempts, r.customer_id, _blocked_reason(r)) for r in rows]

    def release_expired(self, now: datetime) -> int:
        """Rows left in `sending` by a sender that died go back to the queue."""
        t = outbox.c
        with self.engine.begin() as conn:
            return conn.execute(
                sa.update(outbox).where(t.state == "sending", t.lease_until < now)
                .values(state="queued", lease_owner=None, lease_until=None)
            ).rowcount

    # -- sending

    def _send(self, item: Outgoing) -> SendResult:
        if item.blocked_reason:
            return SendResult(item)
        self.limiter.acquire()
        try:
            if item.kind == "read":
                self.transport.mark_read(item.payload["message_id"])
                return SendResult(item, message_id=None)
            body = graph.envelope(item.recipient, item.payload, callback_data(item.id))
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
        results = list(self._pool.map(self._send, items))
        self._record(results)
        return len(items)

    def _record(self, results: list[SendResult]) -> None:
        now = self.clock()
        t = outbox.c
        with self.engine.begin() as conn:
            for result in results:
                item = result.outgoing
                mine = sa.and_(t.id == item.id, t.lease_owner == self.owner)
                done = dict(lease_owner=None, lease_until=None)
                if item.blocked_reason:
                    conn.execute(sa.update(outbox).where(mine).values(
                        state="cancelled", error_title=item.blocked_reason, **done))
                    self._count("cancelled")
                elif result.error is None:
                    conn.execute(sa.update(outbox).where(mine).values(
                        state=sa.case((t.state == "sending", "sent"), else_=t.state),
                        wa_message_id=result.message_id, sent_at=sa.func.coalesce(t.sent_at, now), **done))
                    self._count("sent")
                else:
                    self._record_error(conn, item, result.error, now)
        for result in results:
            if result.error is None and not result.outgoing.blocked_reason:
                log.info("sent outbox %s (%s) to %s", result.outgoing.id, result.outgoing.kind,
                         mask(result.outgoing.recipient))

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
            delay = backoff(item.attempts, error.retry_after)
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

    def drain(self, timeout: float = 60.0) -> None:
        """Send until nothing due is left (retries with a future not_before are left waiting)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run_once() == 0:
                return

    def run_forever(self, stop: threading.Event, idle_wait: float = 0.05, wake: threading.Event | None = None) -> None:
        while not stop.is_set():
            if wake is not None:
                wake.clear()  # before the round, so a wake-up during it is not lost
            try:
                handled = self.run_once()
            except Exception:  # keep the process alive; the next round retries
                log.exception("sender round failed")
                handled = 0
            if not handled:
                (wake or stop).wait(idle_wait)


def _blocked_reason(row) -> str | None:  # noqa: ANN001
    """A business-initiated message queued earlier may no longer be welcome when it is due."""
    if row.kind in BUSINESS_INITIATED:
        if row.opted_out:
            return "opted_out"
        if row.category == "marketing" and row.marketing_paused:
            return "marketing_paused"
        if row.conversation_state not in (None, BOT):
            return "in_handoff"
    return None


def depth(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(outbox)
                        .where(outbox.c.state.in_(OPEN_STATES))).scalar_one()
