"""Who the customer is, as the flows see it: name, segments, window, and reply placeholders.

Actions never query the database themselves; they ask a FlowServices for a CustomerContext. In
process the worker binds the services to its open transaction; the Rasa action server binds
them to the engine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping

from sqlalchemy.engine import Connection

from bot import customers as customer_store
from bot.config import Settings
from bot.customers import Customer
from bot.window import window_expires_at, window_open
from flows.replies import ReplyBook


@dataclass(frozen=True)
class CustomerContext:
    customer_id: int | None
    wa_id: str
    first_name: str | None
    name: str | None
    segments: tuple[str, ...] = ()
    window_open: bool = False
    window_expires_at: datetime | None = None
    opted_out: bool = False
    placeholders: Mapping[str, Any] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        return {"first_name": self.first_name, **self.placeholders}


# A hook so segments (a later layer) can say which segments a customer is in, without flows
# importing the segment engine's internals: (conn, customer_id, now) -> segment names.
SegmentLookup = Callable[[Connection, int, datetime], tuple[str, ...]]


def no_segments(conn: Connection, customer_id: int, now: datetime) -> tuple[str, ...]:
    return ()


def build_context(customer: Customer, *, conn: Connection, now: datetime,
                  segment_lookup: SegmentLookup = no_segments) -> CustomerContext:
    return CustomerContext(
        customer_id=customer.id,
        wa_id=customer.wa_id or "",
        first_name=customer.first_name,
        name=customer.name,
        segments=segment_lookup(conn, customer.id, now),
        window_open=window_open(customer.last_inbound_at, now),
        window_expires_at=window_expires_at(customer.last_inbound_at),
        opted_out=customer.opted_out,
    )


@dataclass
class FlowServices:
    """What an action may use: replies, the store's settings, and the customer's context."""

    settings: Settings
    replies: ReplyBook
    conn: Connection
    now: datetime
    segment_lookup: SegmentLookup = no_segments
    customer: Customer | None = None  # already loaded by the caller: saves a lookup per message

    def context(self, sender_id: str) -> CustomerContext:
        known = self.customer
        if known is not None and sender_id in (known.wa_id, known.user_id):
            customer = known
        else:
            customer = customer_store.find(self.conn, sender_id)
        if customer is None:
            return CustomerContext(customer_id=None, wa_id=sender_id, first_name=None, name=None)
        return build_context(customer, conn=self.conn, now=self.now, segment_lookup=self.segment_lookup)
