"""Writing checkouts: batched upserts keyed by Shopify's token, joined to customers by phone like
orders (segments/store.py). A checkout older than the stored one (by updated_at) is ignored, and
what the abandoned-checkout sequence recorded (why it stopped) is never overwritten by an update.
A completed checkout, or one an order names, is marked completed (docs/automations.md)."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.core.db import dialect_insert
from segments.shopify import CheckoutRecord
from segments.store import StoreOutcome, _Person, _resolve
from segments.tables import checkouts

_UPDATED = ("shopify_id", "customer_id", "phone", "email", "abandoned_checkout_url", "items", "total_price",
            "currency", "customer_locale", "source_updated_at", "completed_at", "ingested_at")


def store_checkouts(conn: Connection, records: Sequence[CheckoutRecord], now: datetime) -> StoreOutcome:
    outcome = StoreOutcome()
    latest: dict[str, CheckoutRecord] = {}
    for record in records:
        held = latest.get(record.token)
        if held is None or record.updated_at >= held.updated_at:
            latest[record.token] = record
    outcome.stale += len(records) - len(latest)
    if not latest:
        return outcome
    for r in latest.values():
        # A new-style checkout synced before its webhook came is stored as "gid:<id>" (the Admin
        # API does not say its token; bot/shopify/records.py): the webhook's token takes it over.
        if r.shopify_id and not r.token.startswith("gid:"):
            conn.execute(sa.update(checkouts).where(
                checkouts.c.token == f"gid:{r.shopify_id}",
                ~sa.exists().where(checkouts.alias("same").c.token == r.token)).values(token=r.token))
    people = [_Person(r.buyer.phone.wa_id, r.buyer.shopify_customer_id, r.buyer.first_name, r.buyer.last_name,
                      r.buyer.email, shopify_locale=r.buyer.locale) for r in latest.values() if r.buyer.phone]
    ids, outcome.customers_created = _resolve(conn, people, now, authoritative=False)
    rows = []
    for r in latest.values():
        customer_id = ids.get(r.buyer.phone.wa_id) if r.buyer.phone else None
        if customer_id is None:
            outcome.without_customer += 1
        rows.append({"token": r.token, "shopify_id": r.shopify_id, "customer_id": customer_id,
                     "phone": r.buyer.phone.wa_id if r.buyer.phone else None, "email": r.buyer.email,
                     "abandoned_checkout_url": r.abandoned_checkout_url, "items": r.items,
                     "total_price": r.total_price, "currency": r.currency, "customer_locale": r.customer_locale,
                     "created_at": r.created_at, "source_updated_at": r.updated_at,
                     "completed_at": r.completed_at, "ingested_at": now})
    stmt = dialect_insert(conn, checkouts)
    stmt = stmt.on_conflict_do_update(
        index_elements=["token"], set_={name: stmt.excluded[name] for name in _UPDATED},
        where=stmt.excluded.source_updated_at >= checkouts.c.source_updated_at)
    result = conn.execute(stmt, rows)
    outcome.applied = len(rows)
    if result.rowcount is not None and 0 <= result.rowcount < len(rows):
        outcome.stale += len(rows) - result.rowcount
        outcome.applied = result.rowcount
    return outcome


def complete_by_orders(conn: Connection, tokens: Sequence[str], checkout_ids: Sequence[int], now: datetime) -> None:
    """Orders that name a checkout complete it: its sequence has nothing left to recover."""
    c = checkouts.c
    if tokens:
        conn.execute(sa.update(checkouts).where(c.token.in_(list(tokens)), c.completed_at.is_(None))
                     .values(completed_at=now))
    if checkout_ids:
        conn.execute(sa.update(checkouts).where(c.shopify_id.in_(list(checkout_ids)), c.completed_at.is_(None))
                     .values(completed_at=now))
