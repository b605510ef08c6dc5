"""A customer's answer to the cash-on-delivery question: which order it is about, and recording
it so that the tag reaches Shopify (bot/pipeline/tagger.py adds it) and the agent console and
`segments explain` show it (docs/automations.md)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.automations.tables import cod_confirmations

STATES = {"confirm": "confirmed", "cancel": "cancelled"}


@dataclass(frozen=True)
class CodOrder:
    order_id: int
    order_name: str | None
    state: str  # awaiting | confirmed | cancelled
    asked_at: datetime
    answered_at: datetime | None
    tag: str | None
    tag_state: str | None


def _row(r) -> CodOrder:
    return CodOrder(r.order_id, r.order_name, r.state, r.asked_at, r.answered_at, r.tag, r.tag_state)


def awaiting(conn: Connection, customer_id: int) -> CodOrder | None:
    """The customer's newest order still waiting for their answer."""
    c = cod_confirmations.c
    row = conn.execute(sa.select(cod_confirmations).where(c.customer_id == customer_id, c.state == "awaiting")
                       .order_by(c.asked_at.desc(), c.order_id.desc()).limit(1)).first()
    return _row(row) if row else None


def of_order(conn: Connection, customer_id: int, order_id: int) -> CodOrder | None:
    """The question about this order, only if it is this customer's: a tap cannot answer for another."""
    c = cod_confirmations.c
    row = conn.execute(sa.select(cod_confirmations).where(c.order_id == order_id, c.customer_id == customer_id)).first()
    return _row(row) if row else None


def of_customer(conn: Connection, customer_id: int, limit: int = 5) -> list[CodOrder]:
    """The customer's cash-on-delivery orders, newest first (the agent console, segments explain)."""
    c = cod_confirmations.c
    return [_row(r) for r in conn.execute(sa.select(cod_confirmations).where(c.customer_id == customer_id)
                                          .order_by(c.asked_at.desc(), c.order_id.desc()).limit(limit))]


def record_answer(conn: Connection, customer_id: int, order_id: int, answer: str, tag: str, source: str,
                  now: datetime) -> bool:
    """Record the answer and queue its tag. A repeated answer changes nothing; a changed mind
    (Confirm, then Cancel) is recorded, and its tag queued too. True when something changed."""
    state = STATES[answer]
    c = cod_confirmations.c
    return bool(conn.execute(
        sa.update(cod_confirmations)
        .where(c.order_id == order_id, c.customer_id == customer_id, c.state != state)
        .values(state=state, answered_at=now, answer_source=source[:16], tag=tag, tag_state="pending",
                tag_attempts=0, tag_error=None, tag_next_at=now)).rowcount)
