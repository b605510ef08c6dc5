"""Writing Shopify records: batched upserts of orders, customers and products, the join of orders
to WhatsApp customers by phone, and the per-customer order aggregates kept up to date as they land.

Every function takes a connection inside the caller's transaction and a batch of records; each
statement works on the whole batch (executemany, IN lists, INSERT ... SELECT), never row by row.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.core.db import chunks, dialect_insert, insert_ignoring_conflicts, upsert
from bot.core.phones import country_of
from bot.core.tables import customers
from segments.phones import wa_id_spellings
from segments.shopify import CustomerRecord, OrderRecord, ProductRecord
from segments.tables import (
    customer_attributes,
    customer_order_stats,
    customer_tags,
    line_items,
    order_stats_pending,
    orders,
    product_tags,
    products,
    segment_pending,
    variants,
)


@dataclass
class StoreOutcome:
    applied: int = 0  # records written
    stale: int = 0  # older than what is stored (an out-of-order update): ignored
    customers_created: int = 0
    without_customer: int = 0  # no phone that parses: kept, joined to nobody
    customer_ids: set[int] = field(default_factory=set)

    def add(self, other: "StoreOutcome") -> None:
        self.applied += other.applied
        self.stale += other.stale
        self.customers_created += other.customers_created
        self.without_customer += other.without_customer


# -- customers by phone -------------------------------------------------------------------------

@dataclass(frozen=True)
class _Person:
    wa_id: str
    shopify_id: int | None
    first_name: str | None
    last_name: str | None
    email: str | None
    accepts_marketing: bool | None = None
    shopify_locale: str | None = None


def _resolve(conn: Connection, people: Sequence[_Person], now: datetime, *, authoritative: bool
             ) -> tuple[dict[str, int], int]:
    """Customer ids for these phones, creating the customers that do not exist yet. With
    `authoritative` (a customer import) names, email, consent and the Shopify id are overwritten;
    otherwise (an order) they only fill what is empty."""
    c = customers.c
    by_wa: dict[str, _Person] = {}
    for person in people:
        by_wa[person.wa_id] = person  # the last record of a batch wins
    spellings = {s: wa for wa in by_wa for s in wa_id_spellings(wa)}
    found: dict[str, sa.Row] = {}
    for chunk in chunks(list(spellings)):
        for row in conn.execute(sa.select(c.id, c.wa_id, c.first_name, c.last_name, c.email,
                                          c.shopify_customer_id, c.accepts_marketing, c.shopify_locale)
                                          .where(c.wa_id.in_(chunk))):
            wanted = spellings[row.wa_id]
            if wanted not in found or row.wa_id == wanted:  # the exact spelling beats the alias
                found[wanted] = row

    shopify_ids = {p.shopify_id for p in by_wa.values() if p.shopify_id}
    owners: dict[int, int] = {}
    for chunk in chunks(list(shopify_ids)):
        owners.update(conn.execute(sa.select(c.shopify_customer_id, c.id)
                                   .where(c.shopify_customer_id.in_(chunk))).all())

    created = 0
    missing = [p for wa, p in by_wa.items() if wa not in found]
    if missing:
        rows, claimed = [], set(owners)
        for person in missing:
            sid = person.shopify_id if person.shopify_id and person.shopify_id not in claimed else None
            if sid and authoritative and person.shopify_id in owners:
                sid = None  # moved below, once the new row exists
            if sid:
                claimed.add(sid)
            rows.append({"wa_id": person.wa_id, "phone_country": country_of(person.wa_id), "shopify_customer_id": sid,
                         "first_name": person.first_name, "last_name": person.last_name, "email": person.email,
                         "accepts_marketing": person.accepts_marketing, "shopify_locale": person.shopify_locale,
                         "created_at": now, "updated_at": now})
        insert_ignoring_conflicts(conn, customers, rows, ["wa_id"])
        for chunk in chunks([p.wa_id for p in missing]):
            for row in conn.execute(sa.select(c.id, c.wa_id, c.first_name, c.last_name, c.email,
                                              c.shopify_customer_id, c.accepts_marketing, c.shopify_locale)
                                          .where(c.wa_id.in_(chunk))):
                found[row.wa_id] = row
                created += 1
                if row.shopify_customer_id:  # taken by this new row: not to be given to another below
                    owners[row.shopify_customer_id] = row.id

    updates, moves = [], []
    for wa, person in by_wa.items():
        row = found.get(wa)
        if row is None:
            continue
        values = {}
        for name in ("first_name", "last_name", "email", "accepts_marketing", "shopify_locale"):
            new = getattr(person, name)
            if new is not None and (authoritative or getattr(row, name) is None) and getattr(row, name) != new:
                values[name] = new
        sid = person.shopify_id
        if sid and row.shopify_customer_id != sid:
            owner = owners.get(sid)
            if owner is None and row.shopify_customer_id is None:
                values["shopify_customer_id"] = sid
                owners[sid] = row.id
            elif authoritative and owner != row.id:
                moves.append({"_sid": sid})  # the Shopify customer's phone changed: the link follows it
                values["shopify_customer_id"] = sid
                owners[sid] = row.id
        if values:
            updates.append((row.id, values))
    if moves:
        conn.execute(sa.update(customers).where(c.shopify_customer_id == sa.bindparam("_sid"))
                     .values(shopify_customer_id=None), moves)
    for customer_id, values in updates:  # few: only rows whose data actually changed
        conn.execute(sa.update(customers).where(c.id == customer_id).values(**values, updated_at=now))
    return {wa: row.id for wa, row in found.items()}, created


def mark_segment_pending(conn: Connection, customer_ids: Iterable[int], now: datetime) -> None:
    rows = [{"customer_id": cid, "since": now} for cid in customer_ids]
    for chunk in chunks(rows, 2000):
        insert_ignoring_conflicts(conn, segment_pending, chunk, ["customer_id"])


# -- orders -------------------------------------------------------------------------------------

_ORDER_COLUMNS = [col.name for col in orders.columns if col.name not in ("id",)]


def _order_row(record: OrderRecord, customer_id: int | None, now: datetime) -> dict:
    return {
        "id": record.id, "name": record.name, "customer_id": customer_id,
        "shopify_customer_id": record.buyer.shopify_customer_id,
        "phone": record.buyer.phone.wa_id if record.buyer.phone else None, "email": record.buyer.email,
        "created_at": record.created_at, "cancelled_at": record.cancelled_at,
        "financial_status": record.financial_status, "fulfillment_status": record.fulfillment_status,
        "total_price": record.total_price, "total_discounts": record.total_discounts,
        "discount_codes": ",".join(record.discount_codes) or None, "is_discounted": record.is_discounted,
        "counted": record.counted, "currency": record.currency, "ship_country": record.ship_country,
        "ship_province": record.ship_province, "ship_city": record.ship_city,
        "tracking_company": record.tracking_company, "tracking_number": record.tracking_number,
        "tracking_url": record.tracking_url, "order_status_url": record.order_status_url,
        "customer_locale": record.customer_locale, "source_updated_at": record.updated_at, "ingested_at": now,
        "checkout_token": record.checkout_token, "checkout_id": record.checkout_id,
        "payment_gateways": ",".join(record.payment_gateways) or None,
    }


def store_orders(conn: Connection, records: Sequence[OrderRecord], now: datetime, *,
                 defer_stats: bool = False) -> StoreOutcome:
    """Insert or replace these orders (and their line items). An order older than the stored one
    (by Shopify's updated_at) is ignored. The customers concerned get their aggregates recomputed,
    now or, with `defer_stats`, by `flush_pending_stats` at the end of a bulk import."""
    outcome = StoreOutcome()
    latest: dict[int, OrderRecord] = {}
    for record in records:
        held = latest.get(record.id)
        if held is None or not (record.updated_at and held.updated_at and record.updated_at < held.updated_at):
            latest[record.id] = record
    outcome.stale += len(records) - len(latest)

    existing: dict[int, tuple[datetime | None, int | None]] = {}
    o = orders.c
    for chunk in chunks(list(latest)):
        for row in conn.execute(sa.select(o.id, o.source_updated_at, o.customer_id).where(o.id.in_(chunk))):
            existing[row.id] = (row.source_updated_at, row.customer_id)
    fresh = []
    for record in latest.values():
        stored_at = existing.get(record.id, (None, None))[0]
        if stored_at and record.updated_at and record.updated_at < stored_at:
            outcome.stale += 1
        else:
            fresh.append(record)
    if not fresh:
        return outcome

    people = [_Person(r.buyer.phone.wa_id, r.buyer.shopify_customer_id, r.buyer.first_name, r.buyer.last_name,
                      r.buyer.email, shopify_locale=r.buyer.locale) for r in fresh if r.buyer.phone]
    ids, outcome.customers_created = _resolve(conn, people, now, authoritative=False)
    rows = []
    for record in fresh:
        customer_id = ids.get(record.buyer.phone.wa_id) if record.buyer.phone else None
        if customer_id is None:
            outcome.without_customer += 1
        else:
            outcome.customer_ids.add(customer_id)
        previous = existing.get(record.id, (None, None))[1]
        if previous is not None:
            outcome.customer_ids.add(previous)  # an order that moved to another phone leaves its old owner
        rows.append(_order_row(record, customer_id, now))

    # The WHERE repeats the staleness check inside the statement, for a webhook racing an import.
    stmt = dialect_insert(conn, orders)
    stmt = stmt.on_conflict_do_update(
        index_elements=["id"], set_={name: stmt.excluded[name] for name in _ORDER_COLUMNS},
        where=sa.or_(orders.c.source_updated_at.is_(None), stmt.excluded.source_updated_at.is_(None),
                     stmt.excluded.source_updated_at >= orders.c.source_updated_at))
    conn.execute(stmt, rows)
    replaced = [r.id for r in fresh if r.id in existing]
    for chunk in chunks(replaced):
        conn.execute(sa.delete(line_items).where(line_items.c.order_id.in_(chunk)))
    items = [{"order_id": r.id, "position": li.position, "line_item_id": li.line_item_id,
              "product_id": li.product_id, "variant_id": li.variant_id, "sku": li.sku, "title": li.title,
              "variant_title": li.variant_title, "vendor": li.vendor, "product_type": li.product_type,
              "quantity": li.quantity, "price": li.price} for r in fresh for li in r.line_items]
    if items:
        conn.execute(sa.insert(line_items), items)
    outcome.applied = len(fresh)

    if defer_stats:
        pending = [{"customer_id": cid} for cid in outcome.customer_ids]
        for chunk in chunks(pending, 2000):
            insert_ignoring_conflicts(conn, order_stats_pending, chunk, ["customer_id"])
    else:
        recompute_stats(conn, outcome.customer_ids, now)
    mark_segment_pending(conn, outcome.customer_ids, now)
    return outcome


# -- order aggregates ---------------------------------------------------------------------------

def cents(amount: sa.ColumnElement) -> sa.ColumnElement:
    """Money as integer cents: sums and comparisons are exact, and the same on both databases."""
    return sa.cast(sa.func.round(amount * 100), sa.BigInteger)


def stats_select(scope: sa.ColumnElement | None, now: datetime, *, until: datetime | None = None) -> sa.Select:
    """Per-customer aggregates of counted orders, as rows for customer_order_stats. `scope` limits
    the customers (a condition on orders.customer_id); `until` counts only orders created by then."""
    o = orders
    # With a scope, no "IS NOT NULL": SQLite would take it for a range over half the index and
    # ignore the scope's IN list.
    conditions = [o.c.counted, o.c.customer_id.is_not(None) if scope is None else scope]
    if until is not None:
        conditions.append(o.c.created_at <= until)
    grouped = (
        sa.select(
            o.c.customer_id,
            sa.func.count().label("orders_count"),
            sa.func.sum(cents(o.c.total_price)).label("total_cents"),
            sa.func.sum(sa.case((o.c.is_discounted, 1), else_=0)).label("discounted_count"),
            sa.func.min(o.c.created_at).label("first_order_at"),
            sa.func.max(o.c.created_at).label("last_order_at"),
        ).where(*conditions).group_by(o.c.customer_id).subquery("grouped")
    )
    shipped = orders.alias("shipped")
    latest_shipped = (
        sa.select(shipped.c.id)
        .where(shipped.c.customer_id == grouped.c.customer_id, shipped.c.counted,
               shipped.c.ship_country.is_not(None), *([shipped.c.created_at <= until] if until else []))
        .order_by(shipped.c.created_at.desc(), shipped.c.id.desc()).limit(1).scalar_subquery()
    )
    with_ship = sa.select(grouped, latest_shipped.label("ship_order_id")).subquery("with_ship")
    address = orders.alias("address")
    return (
        sa.select(
            with_ship.c.customer_id, with_ship.c.orders_count, with_ship.c.total_cents,
            with_ship.c.discounted_count, with_ship.c.first_order_at, with_ship.c.last_order_at,
            address.c.ship_country, address.c.ship_province, address.c.ship_city,
            sa.literal(now, customer_order_stats.c.updated_at.type).label("updated_at"),
        ).select_from(with_ship.outerjoin(address, address.c.id == with_ship.c.ship_order_id))
    )


_STATS_COLUMNS = ["customer_id", "orders_count", "total_cents", "discounted_count", "first_order_at",
                  "last_order_at", "ship_country", "ship_province", "ship_city", "updated_at"]


def recompute_stats(conn: Connection, customer_ids: Iterable[int], now: datetime) -> None:
    """Recompute the aggregates of these customers from their orders (exact, whatever changed)."""
    for chunk in chunks(sorted(customer_ids)):
        conn.execute(sa.delete(customer_order_stats).where(customer_order_stats.c.customer_id.in_(chunk)))
        conn.execute(sa.insert(customer_order_stats).from_select(
            _STATS_COLUMNS, stats_select(orders.c.customer_id.in_(chunk), now)))


def flush_pending_stats(conn: Connection, now: datetime) -> int:
    """Recompute the aggregates of every customer a bulk import marked; returns how many."""
    pending = sa.select(order_stats_pending.c.customer_id)
    count = conn.execute(sa.select(sa.func.count()).select_from(order_stats_pending)).scalar_one()
    if not count:
        return 0
    conn.execute(sa.delete(customer_order_stats).where(customer_order_stats.c.customer_id.in_(pending)))
    conn.execute(sa.insert(customer_order_stats).from_select(
        _STATS_COLUMNS, stats_select(orders.c.customer_id.in_(pending), now)))
    conn.execute(sa.delete(order_stats_pending))
    return count


def rebuild_all_stats(conn: Connection, now: datetime) -> None:
    """Recompute every customer's aggregates from scratch (repair; tests compare against it)."""
    conn.execute(sa.delete(customer_order_stats))
    conn.execute(sa.insert(customer_order_stats).from_select(_STATS_COLUMNS, stats_select(None, now)))
    conn.execute(sa.delete(order_stats_pending))


# -- customers ----------------------------------------------------------------------------------

def store_customers(conn: Connection, records: Sequence[CustomerRecord], now: datetime) -> StoreOutcome:
    """Insert or update customers by phone: names, email, consent, the Shopify id, tags (replaced)
    and custom attributes (each given one set; others kept). Customers without a phone that parses
    cannot be reached on WhatsApp and are counted, not stored."""
    outcome = StoreOutcome()
    reachable = [r for r in records if r.phone]
    outcome.without_customer = len(records) - len(reachable)
    people = [_Person(r.phone.wa_id, r.shopify_id, r.first_name, r.last_name, r.email,
                      r.accepts_marketing, r.locale) for r in reachable]
    ids, outcome.customers_created = _resolve(conn, people, now, authoritative=True)
    tagged: dict[int, tuple[str, ...]] = {}
    attributes: dict[tuple[int, str], str] = {}
    for record in reachable:
        customer_id = ids.get(record.phone.wa_id)
        if customer_id is None:
            continue
        outcome.customer_ids.add(customer_id)
        if record.tags is not None:
            tagged[customer_id] = record.tags
        for name, value in record.attributes.items():
            attributes[(customer_id, name)] = value
    for chunk in chunks(list(tagged)):
        conn.execute(sa.delete(customer_tags).where(customer_tags.c.customer_id.in_(chunk)))
    tag_rows = [{"customer_id": cid, "tag": tag} for cid, tags in tagged.items() for tag in tags]
    if tag_rows:
        conn.execute(sa.insert(customer_tags), tag_rows)
    if attributes:
        upsert(conn, customer_attributes,
               [{"customer_id": cid, "name": name, "value": value, "source": "import", "updated_at": now}
                for (cid, name), value in attributes.items()],
               ["customer_id", "name"], ["value", "source", "updated_at"])
    outcome.applied = len(reachable)
    mark_segment_pending(conn, outcome.customer_ids, now)
    return outcome


# -- products -----------------------------------------------------------------------------------

def store_products(conn: Connection, records: Sequence[ProductRecord], now: datetime) -> StoreOutcome:
    """Insert or replace products with their variants and tags. A product known by its real id
    replaces a copy imported earlier from a CSV export (same handle, derived id)."""
    outcome = StoreOutcome()
    latest: dict[int, ProductRecord] = {}
    for record in records:
        latest[record.id] = record
    p = products.c
    stored: dict[int, datetime | None] = {}
    for chunk in chunks(list(latest)):
        stored.update(conn.execute(sa.select(p.id, p.updated_at).where(p.id.in_(chunk))).all())
    fresh = []
    for record in latest.values():
        held = stored.get(record.id)
        if held and record.updated_at and record.updated_at < held:
            outcome.stale += 1
        else:
            fresh.append(record)
    outcome.stale += len(records) - len(latest)
    if not fresh:
        return outcome
    handles = [r.handle for r in fresh if r.handle and not r.synthetic_id]
    for chunk in chunks(handles):
        conn.execute(sa.delete(products).where(p.handle.in_(chunk), p.id < 0))
    upsert(conn, products, [{
        "id": r.id, "title": r.title, "handle": r.handle, "product_type": r.product_type, "vendor": r.vendor,
        "tags": ", ".join(r.tags) or None, "status": r.status, "updated_at": r.updated_at,
    } for r in fresh], ["id"], ["title", "handle", "product_type", "vendor", "tags", "status", "updated_at"])
    ids = [r.id for r in fresh]
    for chunk in chunks(ids):
        conn.execute(sa.delete(product_tags).where(product_tags.c.product_id.in_(chunk)))
        conn.execute(sa.delete(variants).where(variants.c.product_id.in_(chunk)))
    tag_rows = [{"product_id": r.id, "tag": tag} for r in fresh for tag in r.tags]
    if tag_rows:
        conn.execute(sa.insert(product_tags), tag_rows)
    variant_rows = {v.id: {"id": v.id, "product_id": r.id, "title": v.title, "sku": v.sku, "price": v.price,
                           "updated_at": v.updated_at} for r in fresh for v in r.variants}
    if variant_rows:
        upsert(conn, variants, list(variant_rows.values()), ["id"],
               ["product_id", "title", "sku", "price", "updated_at"])
    outcome.applied = len(fresh)
    return outcome


def stats_pending_exist(conn: Connection) -> bool:
    return conn.execute(sa.select(order_stats_pending.c.customer_id).limit(1)).first() is not None

