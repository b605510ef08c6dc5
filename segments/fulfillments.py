"""Writing fulfillments and their events: what the order updates and "where is my order?" read.

A fulfillment is upserted by Shopify's id (an older update than the stored one is ignored); the
order's row keeps the latest tracking too, since flows read the order first. An event with status
`delivered` marks its fulfillment delivered (docs/automations.md).
"""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.core.db import dialect_insert
from segments.shopify import FulfillmentEventRecord, FulfillmentRecord
from segments.store import StoreOutcome
from segments.tables import fulfillments, orders

DELIVERED = "delivered"
_UPDATED = ("order_id", "status", "shipment_status", "tracking_company", "tracking_number", "tracking_url",
            "created_at", "source_updated_at", "ingested_at")


def store_fulfillments(conn: Connection, records: Sequence[FulfillmentRecord], now: datetime) -> StoreOutcome:
    outcome = StoreOutcome()
    latest: dict[int, FulfillmentRecord] = {}
    for record in records:
        held = latest.get(record.id)
        if held is None or not (record.updated_at and held.updated_at and record.updated_at < held.updated_at):
            latest[record.id] = record
    if not latest:
        return outcome
    rows = [{"id": r.id, "order_id": r.order_id, "status": r.status, "shipment_status": r.shipment_status,
             "tracking_company": r.tracking_company, "tracking_number": r.tracking_number,
             "tracking_url": r.tracking_url, "created_at": r.created_at,
             "delivered_at": (r.updated_at or now) if (r.shipment_status or "").lower() == DELIVERED else None,
             "source_updated_at": r.updated_at, "ingested_at": now} for r in latest.values()]
    f = fulfillments.c
    stmt = dialect_insert(conn, fulfillments)
    set_ = {name: stmt.excluded[name] for name in _UPDATED}
    set_["delivered_at"] = sa.func.coalesce(f.delivered_at, stmt.excluded.delivered_at)  # delivered stays so
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"], set_=set_,
        where=sa.or_(f.source_updated_at.is_(None), stmt.excluded.source_updated_at.is_(None),
                     stmt.excluded.source_updated_at >= f.source_updated_at))
    conn.execute(stmt, rows)
    tracked = [r for r in latest.values() if r.has_tracking]
    if tracked:  # the order shows its newest shipment's tracking
        conn.execute(sa.update(orders).where(orders.c.id == sa.bindparam("_order")).values(
            tracking_company=sa.bindparam("_company"), tracking_number=sa.bindparam("_number"),
            tracking_url=sa.bindparam("_url")),
            [{"_order": r.order_id, "_company": r.tracking_company, "_number": r.tracking_number,
              "_url": r.tracking_url} for r in sorted(tracked, key=lambda r: (r.created_at is not None, r.created_at, r.id))])
    outcome.applied = len(rows)
    return outcome


def apply_event(conn: Connection, event: FulfillmentEventRecord, now: datetime) -> bool:
    """Record a shipment event on its fulfillment (created bare when its webhook has not come yet).
    True when the event says the fulfillment is delivered."""
    delivered = (event.status or "").lower() == DELIVERED
    f = fulfillments.c
    stmt = dialect_insert(conn, fulfillments).values(
        id=event.fulfillment_id, order_id=event.order_id, shipment_status=event.status,
        delivered_at=(event.happened_at or now) if delivered else None, ingested_at=now)
    set_ = {"shipment_status": stmt.excluded.shipment_status, "ingested_at": stmt.excluded.ingested_at}
    if delivered:
        set_["delivered_at"] = sa.func.coalesce(f.delivered_at, stmt.excluded.delivered_at)
    else:  # a late "in_transit" after "delivered" does not undo it
        set_["shipment_status"] = sa.case((f.delivered_at.is_not(None), f.shipment_status),
                                          else_=stmt.excluded.shipment_status)
    conn.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=set_))
    return delivered
