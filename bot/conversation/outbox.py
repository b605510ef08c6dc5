"""The durable outbox: every outbound message is a row here before it is sent.

Rows are queued here (one per recipient and dedupe key) and moved forward by Meta's status
webhooks (sent < delivered < read, or failed with its code). Sending them is the sender's work
(bot/pipeline/sender.py).
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.core.db import insert_ignoring_conflicts
from bot.core.tables import customers, outbox
from bot.whatsapp import messages
from bot.whatsapp.events import STATUS_RANK, StatusUpdate, effective_time

log = logging.getLogger(__name__)

DELIVERY_STATES = ("sent", "delivered", "read")
BUSINESS_INITIATED = ("campaign", "reorder", "automation")  # kinds of message we start, not answers
OPEN_STATES = ("queued", "sending")
# `unknown`: a sender died after handing the message to the Graph API and before it heard back.
STATES = ("queued", "sending", "sent", "delivered", "read", "failed", "cancelled", "unknown")
MARKETING_STOPPED = 131050
KEY_CHUNK = 10_000  # ids looked up by dedupe key in chunks: SQLite binds at most 32,766 values


def outbox_row(*, recipient: str, message: Mapping, now: datetime, kind: str = "reply", category: str = "service",
               customer_id: int | None = None, fallback: Mapping | None = None, source: str | None = None,
               dedupe_key: str | None = None, not_before: datetime | None = None) -> dict:
    """The row `enqueue` stores, for callers that queue many messages at once."""
    return {
        "customer_id": customer_id, "recipient": recipient, "kind": kind, "category": category,
        "payload": dict(message), "fallback": dict(fallback) if fallback else None,
        "preview": messages.preview_of(message) if kind != "read" else None,
        "source": source, "dedupe_key": dedupe_key, "state": "queued", "attempts": 0,
        "not_before": not_before or now, "created_at": now, "used_fallback": False,
    }


def enqueue(conn: Connection, *, recipient: str, message: Mapping, now: datetime, kind: str = "reply",
            category: str = "service", customer_id: int | None = None, fallback: Mapping | None = None,
            source: str | None = None, dedupe_key: str | None = None,
            not_before: datetime | None = None) -> int | None:
    """Queue one message; returns its id, or None when `dedupe_key` was queued before."""
    row = outbox_row(recipient=recipient, message=message, now=now, kind=kind, category=category,
                     customer_id=customer_id, fallback=fallback, source=source, dedupe_key=dedupe_key,
                     not_before=not_before)
    if dedupe_key is None:
        return conn.execute(_INSERT, row).scalar_one()
    inserted = list(insert_ignoring_conflicts(conn, outbox, [row], ["dedupe_key"], returning=outbox.c.id))
    return inserted[0][0] if inserted else None


def enqueue_many(conn: Connection, rows: list[dict]) -> dict[str, int]:
    """Queue many rows of `outbox_row`, each with a dedupe_key; returns {dedupe_key: id} for all of
    them (a key queued before keeps its row). One multi-row INSERT, then the ids by key: RETURNING
    from a many-row insert costs three times the insert itself on PostgreSQL."""
    if not rows:
        return {}
    insert_ignoring_conflicts(conn, outbox, rows, ["dedupe_key"])
    keys = [row["dedupe_key"] for row in rows]
    ids: dict[str, int] = {}
    for start in range(0, len(keys), KEY_CHUNK):
        chunk = keys[start:start + KEY_CHUNK]
        ids.update((key, row_id) for row_id, key in conn.execute(
            sa.select(outbox.c.id, outbox.c.dedupe_key).where(outbox.c.dedupe_key.in_(chunk))))
    return ids


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
    at = effective_time(status.timestamp, now) or now
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
        if first is not None and first.code == MARKETING_STOPPED and row.customer_id is not None:
            # 131050 usually arrives here, after Meta accepted the send: the customer stopped
            # marketing messages from us; treated like a user_preferences "stop".
            conn.execute(sa.update(customers).where(customers.c.id == row.customer_id)
                         .values(marketing_paused=True, updated_at=now))
    if values:
        conn.execute(sa.update(outbox).where(o.id == row.id).values(**values))
    return {"id": row.id, "customer_id": row.customer_id, "kind": row.kind}


def depth(conn: Connection) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(outbox)
                        .where(outbox.c.state.in_(OPEN_STATES))).scalar_one()


def listed(conn: Connection, state: str | None, limit: int) -> list:
    """Outbox rows, newest first, for `wabot outbox list`."""
    o = outbox.c
    query = sa.select(o.id, o.state, o.kind, o.category, o.source, o.recipient, o.customer_id, o.attempts,
                      o.created_at, o.handed_at, o.sent_at, o.wa_message_id, o.error_code, o.error_title,
                      o.preview)
    if state is not None:
        query = query.where(o.state == state)
    return conn.execute(query.order_by(o.id.desc()).limit(limit)).all()
