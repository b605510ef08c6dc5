"""What the flows and the agent console read about a customer's orders: the last order with its
items and status, the cart link to buy it again, per-customer totals, and cross-sell suggestions.

All reads; set-wise SQL through SQLAlchemy Core, the same on SQLite and PostgreSQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from segments.tables import fulfillments, line_items, orders, products, variants

VOIDED = ("voided", "refunded")


@dataclass(frozen=True)
class OrderItem:
    title: str
    variant_title: str | None
    quantity: int
    variant_id: int | None
    product_id: int | None
    price: Decimal | None


@dataclass(frozen=True)
class OrderSummary:
    id: int
    name: str
    created_at: datetime
    total_price: Decimal
    currency: str | None
    financial_status: str | None
    fulfillment_status: str | None
    cancelled_at: datetime | None
    tracking_url: str | None
    tracking_number: str | None
    tracking_company: str | None
    order_status_url: str | None
    counted: bool
    items: tuple[OrderItem, ...]
    # From the newest shipment of the order (fulfillments): where it is, and when it arrived.
    shipment_status: str | None = None
    delivered_at: datetime | None = None

    @property
    def status(self) -> str:
        return order_status(self)

    @property
    def items_text(self) -> str:
        return items_text(self.items)


def order_status(order: OrderSummary) -> str:
    """Shopify's states in words a customer understands."""
    if order.cancelled_at is not None:
        return "cancelled"
    if order.financial_status == "refunded":
        return "refunded"
    if order.financial_status == "voided":
        return "cancelled"
    if order.delivered_at is not None:
        return "delivered"
    if (order.shipment_status or "").lower() == "out_for_delivery":
        return "out for delivery"
    fulfilment = (order.fulfillment_status or "").lower()
    if fulfilment == "fulfilled":
        return "on its way" if order.tracking_url or order.tracking_number else "shipped"
    if fulfilment == "partial":
        return "partly shipped"
    if fulfilment == "restocked":
        return "cancelled"
    if order.financial_status in ("pending", "authorized"):
        return "awaiting payment"
    return "being prepared"


def items_text(items: Sequence[OrderItem], limit: int = 5) -> str:
    """`2 × Dog Food (Large), 1 × Leash`, and `and 3 more` past `limit` lines."""
    parts = [f"{item.quantity} × {item.title}" + (f" ({item.variant_title})" if item.variant_title else "")
             for item in items[:limit]]
    if len(items) > limit:
        parts.append(f"and {len(items) - limit} more")
    return ", ".join(parts)


def cart_url(shop_domain: str, items: Iterable[OrderItem]) -> str | None:
    """A Shopify cart permalink, `https://{shop}/cart/{variant_id}:{qty},...`; None when nothing can go in."""
    quantities: dict[int, int] = {}
    for item in items:
        if item.variant_id and item.quantity > 0:
            quantities[item.variant_id] = quantities.get(item.variant_id, 0) + item.quantity
    domain = shop_domain.strip().removeprefix("https://").removeprefix("http://").strip("/")
    if not domain or not quantities:
        return None
    return f"https://{domain}/cart/" + ",".join(f"{variant}:{qty}" for variant, qty in quantities.items())


def _counted(now: datetime):
    o = orders.c
    return sa.and_(o.counted.is_(True), o.created_at <= now)


def _items(conn: Connection, order_ids: Sequence[int]) -> dict[int, list[OrderItem]]:
    li = line_items.c
    rows = conn.execute(sa.select(line_items).where(li.order_id.in_(order_ids))
                        .order_by(li.order_id, li.position)).mappings()
    found: dict[int, list[OrderItem]] = {}
    for r in rows:
        found.setdefault(r["order_id"], []).append(OrderItem(
            title=r["title"] or r["sku"] or "item", variant_title=_variant_title(r["variant_title"]),
            quantity=int(r["quantity"] or 1), variant_id=r["variant_id"], product_id=r["product_id"],
            price=r["price"]))
    return found


def _variant_title(title: str | None) -> str | None:
    return None if not title or title == "Default Title" else title


def _shipments(conn: Connection, order_ids: Sequence[int]) -> dict[int, sa.Row]:
    """The newest shipment of each order that is not cancelled: its tracking wins over the order's."""
    f = fulfillments.c
    newest: dict[int, sa.Row] = {}
    query = (sa.select(f.order_id, f.tracking_url, f.tracking_number, f.tracking_company, f.shipment_status,
                       f.delivered_at)
             .where(f.order_id.in_(order_ids), sa.func.coalesce(f.status, "") != "cancelled")
             .order_by(f.order_id, sa.func.coalesce(f.created_at, f.ingested_at), f.id))
    for row in conn.execute(query):
        newest[row.order_id] = row
    return newest


def _summaries(conn: Connection, query) -> list[OrderSummary]:
    rows = conn.execute(query).mappings().all()
    ids = [r["id"] for r in rows]
    items = _items(conn, ids) if rows else {}
    shipments = _shipments(conn, ids) if rows else {}
    found = []
    for r in rows:
        shipped = shipments.get(r["id"])
        tracking_url, number, company = r["tracking_url"], r["tracking_number"], r["tracking_company"]
        if shipped is not None and (shipped.tracking_url or shipped.tracking_number):
            tracking_url, number, company = shipped.tracking_url, shipped.tracking_number, shipped.tracking_company
        found.append(OrderSummary(
            id=r["id"], name=r["name"] or f"#{r['id']}", created_at=r["created_at"], total_price=r["total_price"],
            currency=r["currency"], financial_status=r["financial_status"],
            # A shipment the order's own row has not heard of yet (fulfillment webhooks come first).
            fulfillment_status=r["fulfillment_status"] or ("fulfilled" if shipped is not None else None),
            cancelled_at=r["cancelled_at"], tracking_url=tracking_url, tracking_number=number,
            tracking_company=company, order_status_url=r["order_status_url"], counted=bool(r["counted"]),
            items=tuple(items.get(r["id"], ())),
            shipment_status=shipped.shipment_status if shipped else None,
            delivered_at=shipped.delivered_at if shipped else None,
        ))
    return found


def last_order(conn: Connection, customer_id: int, now: datetime, *, counted_only: bool = False) -> OrderSummary | None:
    """The customer's newest order at `now` (any state for order status; counted ones for a reorder)."""
    o = orders.c
    query = sa.select(orders).where(o.customer_id == customer_id, o.created_at <= now)
    if counted_only:
        query = query.where(o.counted.is_(True))
    found = _summaries(conn, query.order_by(o.created_at.desc(), o.id.desc()).limit(1))
    return found[0] if found else None


def order_of(conn: Connection, customer_id: int, order_id: int) -> OrderSummary | None:
    """One order, only if it is this customer's: a tapped button cannot reveal someone else's."""
    o = orders.c
    found = _summaries(conn, sa.select(orders).where(o.id == order_id, o.customer_id == customer_id))
    return found[0] if found else None


def order_history(conn: Connection, customer_id: int, now: datetime, limit: int = 20) -> list[OrderSummary]:
    o = orders.c
    return _summaries(conn, sa.select(orders).where(o.customer_id == customer_id, o.created_at <= now)
                      .order_by(o.created_at.desc(), o.id.desc()).limit(limit))


@dataclass(frozen=True)
class Totals:
    orders_count: int
    total_spent: Decimal
    first_order_at: datetime | None
    last_order_at: datetime | None

    @property
    def aov(self) -> Decimal | None:
        return (self.total_spent / self.orders_count).quantize(Decimal("0.01")) if self.orders_count else None


def totals(conn: Connection, customer_id: int, now: datetime) -> Totals:
    """Counted orders only, as docs/segments.md (attributes) defines orders_count, total_spent and aov."""
    o = orders.c
    row = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(o.total_price), 0),
                                 sa.func.min(o.created_at), sa.func.max(o.created_at))
                       .where(o.customer_id == customer_id, _counted(now))).one()
    return Totals(int(row[0]), Decimal(str(row[1])), _aware(row[2]), _aware(row[3]))


def _aware(value):
    # min()/max() of a UTCDateTime column come back untyped on SQLite.
    from bot.core.tables import UTCDateTime

    return UTCDateTime().process_result_value(value, None) if value is not None else None


def product_title_of_variant(conn: Connection, variant_id: int) -> str | None:
    """A variant's product title from the catalogue, else from the line items that sold it."""
    v, p, li = variants.c, products.c, line_items.c
    title = conn.execute(sa.select(p.title).select_from(variants.join(products, p.id == v.product_id))
                         .where(v.id == variant_id)).scalar()
    if title:
        return title
    return conn.execute(sa.select(sa.func.max(li.title)).where(li.variant_id == variant_id)).scalar()


@dataclass(frozen=True)
class Suggestion:
    product_id: int
    title: str
    variant_id: int | None
    co_buyers: int  # buyers of the customer's products who also bought this one
    buyers: int  # everyone who bought it


def suggestions(conn: Connection, customer_id: int | None, now: datetime, limit: int = 3,
                lookback: timedelta = timedelta(days=365)) -> list[Suggestion]:
    """What buyers of this customer's products also bought, excluding what the customer has.

    One query for the cross-sell: the customer's "neighbours" (other buyers of any of their
    products in the last `lookback`) and what they bought, ranked by how many neighbours bought
    it; only the neighbours' orders are read. When that yields fewer than `limit`, the store's
    favourites fill up (a second query, for new customers and niche tastes). Archived and draft
    products are left out.
    """
    o, li, p = orders.c, line_items.c, products.c
    customer_id = customer_id if customer_id is not None else -1  # nobody: only the favourites
    recent = sa.and_(o.counted.is_(True), o.created_at <= now, o.created_at > now - lookback)
    sold = line_items.join(orders, o.id == li.order_id).outerjoin(products, p.id == li.product_id)
    listed = sa.or_(p.status.is_(None), sa.func.lower(p.status) == "active")
    owned = (sa.select(li.product_id).select_from(line_items.join(orders, o.id == li.order_id))
             .where(o.customer_id == customer_id, o.counted.is_(True), o.created_at <= now,
                    li.product_id.is_not(None))
             .distinct().cte("owned"))
    neighbours = (sa.select(o.customer_id.label("customer_id"))
                  .select_from(line_items.join(orders, o.id == li.order_id))
                  .where(recent, o.customer_id.is_not(None), o.customer_id != customer_id,
                         li.product_id.in_(sa.select(owned.c.product_id)))
                  .distinct().cte("neighbours"))
    title = sa.func.max(sa.func.coalesce(p.title, li.title)).label("title")
    variant = sa.func.max(li.variant_id).label("variant_id")
    co_buyers = sa.func.count(sa.distinct(o.customer_id))
    cross_sell = (
        sa.select(li.product_id, title, variant, co_buyers.label("buyers"))
        .select_from(sold.join(neighbours, neighbours.c.customer_id == o.customer_id))
        .where(recent, li.product_id.is_not(None), li.product_id.not_in(sa.select(owned.c.product_id)), listed)
        .group_by(li.product_id)
        .order_by(co_buyers.desc(), sa.func.count().desc(), li.product_id)
        .limit(limit)
    )
    found = [Suggestion(r.product_id, r.title or f"Product {r.product_id}", r.variant_id, int(r.buyers),
                        int(r.buyers)) for r in conn.execute(cross_sell)]
    if len(found) >= limit:
        return found
    buyers = sa.func.count(sa.distinct(sa.func.coalesce(o.customer_id, -o.id)))
    favourites = (
        sa.select(li.product_id, title, variant, buyers.label("buyers"))
        .select_from(sold)
        .where(recent, li.product_id.is_not(None), li.product_id.not_in(sa.select(owned.c.product_id)), listed,
               li.product_id.not_in([s.product_id for s in found] or [-1]))
        .group_by(li.product_id)
        .order_by(buyers.desc(), li.product_id)
        .limit(limit - len(found))
    )
    return found + [Suggestion(r.product_id, r.title or f"Product {r.product_id}", r.variant_id, 0, int(r.buyers))
                    for r in conn.execute(favourites)]
