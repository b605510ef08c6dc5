"""Who the customer is, as the flows see it: name, segments, window, conversation, and the reply
placeholders (computed only when a reply names them).

Actions never open connections themselves; they ask their FlowServices for a reading scope. In
process the worker binds the services to its open transaction; the Rasa action server binds them
to the engine, and each action call reads in its own short transaction.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, ContextManager, Iterator

from sqlalchemy.engine import Connection, Engine

from bot.conversation import customers as customer_store
from bot.conversation import handoff
from bot.conversation.customers import Customer
from bot.conversation.handoff import Conversation
from bot.core import db
from bot.core.config import Settings
from bot.core.times import utcnow
from bot.whatsapp.window import window_expires_at, window_open
from flows.replies import ReplyBook, Values
from segments import orders as store
from segments.language import customer_language

# A hook so the segment layer says which segments a customer is in, without flows importing the
# segment engine's internals: (conn, customer_id, now) -> segment names.
SegmentLookup = Callable[[Connection, int, datetime], tuple[str, ...]]


def no_segments(conn: Connection, customer_id: int, now: datetime) -> tuple[str, ...]:
    return ()


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
    conversation_state: str = handoff.BOT
    fallback_streak: int = 0
    values: Values = field(default_factory=Values)
    language: str = "en"  # one of the store's (docs/languages.md)
    language_source: str = "default"


@dataclass
class FlowData:
    """One reading scope: a connection, the time, and the lookups the actions need."""

    conn: Connection
    now: datetime
    services: "FlowServices"

    def context(self, sender_id: str) -> CustomerContext:
        known = self.services.customer
        if known is not None and sender_id in (known.wa_id, known.user_id):
            customer: Customer | None = known
        else:
            customer = customer_store.find(self.conn, sender_id) if sender_id else None
        languages = self.services.settings.store.languages
        if customer is None:
            return CustomerContext(customer_id=None, wa_id=sender_id, first_name=None, name=None,
                                   values=self._values(None, ()), language=languages[0])
        segments = self.services.segment_lookup(self.conn, customer.id, self.now)
        language, language_source = customer_language(self.conn, customer.id, languages)
        conversation = self.services.conversation if customer is known and self.services.conversation else \
            handoff.get(self.conn, customer.id)
        return CustomerContext(
            customer_id=customer.id, wa_id=customer.wa_id or sender_id, first_name=customer.first_name,
            name=customer.name, segments=segments,
            window_open=window_open(customer.last_inbound_at, self.now),
            window_expires_at=window_expires_at(customer.last_inbound_at),
            opted_out=customer.opted_out, conversation_state=conversation.state,
            fallback_streak=conversation.fallback_streak, values=self._values(customer, segments),
            language=language, language_source=language_source,
        )

    def _values(self, customer: Customer | None, segments: tuple[str, ...]) -> Values:
        settings = self.services.settings
        fixed = {"first_name": customer.first_name if customer else None, "store_name": settings.store.name,
                 "discount_code": settings.file.sale.discount_code
                 if set(segments) & set(settings.file.sale.early_access) else ""}
        if customer is None:
            return Values(fixed)
        latest: list[store.OrderSummary | None] = []

        def last() -> store.OrderSummary | None:
            if not latest:
                latest.append(store.last_order(self.conn, customer.id, self.now))
            return latest[0]

        def last_counted_cart() -> str | None:
            order = store.last_order(self.conn, customer.id, self.now, counted_only=True)
            return store.cart_url(settings.store.shop_domain, order.items) if order else None

        def top_suggestion() -> str | None:
            found = store.suggestions(self.conn, customer.id, self.now, limit=1)
            return found[0].title if found else None

        return Values(fixed, lazy={
            "last_order_name": lambda: last().name if last() else None,
            "last_order_items": lambda: last().items_text if last() else None,
            "order_status": lambda: last().status if last() else None,
            "tracking_url": lambda: (last().tracking_url or last().order_status_url) if last() else None,
            "cart_url": last_counted_cart,
            "product_title": top_suggestion,
        })


@dataclass
class FlowServices:
    """What an action may use: the replies, the store's settings, and reading scopes."""

    settings: Settings
    replies: ReplyBook
    segment_lookup: SegmentLookup = no_segments
    _scope: Callable[[], ContextManager[tuple[Connection, datetime]]] | None = None
    customer: Customer | None = None  # already loaded by the caller: saves a lookup per message
    conversation: Conversation | None = None  # the known customer's, likewise

    @classmethod
    def bound(cls, settings: Settings, replies: ReplyBook, conn: Connection, now: datetime,
              segment_lookup: SegmentLookup = no_segments, customer: Customer | None = None,
              conversation: Conversation | None = None) -> "FlowServices":
        """In process: every read happens in the caller's transaction, at the caller's `now`."""
        @contextlib.contextmanager
        def scope() -> Iterator[tuple[Connection, datetime]]:
            yield conn, now
        return cls(settings, replies, segment_lookup, scope, customer, conversation)

    @classmethod
    def on_engine(cls, settings: Settings, replies: ReplyBook, engine: Engine,
                  segment_lookup: SegmentLookup = no_segments,
                  clock: Callable[[], datetime] = utcnow) -> "FlowServices":
        """Served to Rasa: each action call reads in a short transaction of its own."""
        @contextlib.contextmanager
        def scope() -> Iterator[tuple[Connection, datetime]]:
            with db.reading(engine) as conn:
                yield conn, clock()
        return cls(settings, replies, segment_lookup, scope)

    @contextlib.contextmanager
    def reading(self) -> Iterator[FlowData]:
        if self._scope is None:
            raise RuntimeError("FlowServices has no database to read from")
        with self._scope() as (conn, now):
            yield FlowData(conn, now, self)
