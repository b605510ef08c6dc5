"""Rows for the flow and handoff tests, written straight into a test database: customers, the
catalogue, orders with line items, and segment membership as the segment engine would store it."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.core.tables import customers
from segments.tables import line_items, orders, products, segment_members, variants

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def add_customer(conn: Connection, wa_id: str, first_name: str | None = None, *, last_name: str | None = None,
                 last_inbound_at: datetime | None = None, now: datetime = NOW) -> int:
    return conn.execute(sa.insert(customers).values(
        wa_id=wa_id, first_name=first_name, last_name=last_name, profile_name=None,
        first_inbound_at=last_inbound_at, last_inbound_at=last_inbound_at, created_at=now, updated_at=now,
    ).returning(customers.c.id)).scalar_one()


def flash_campaign_toml(schedule: str | None = None) -> str:
    """wabot.toml with one marketing campaign, `flash`, to the customers tagged "flash" (any
    consent, no quiet hours); with `schedule`, on that cron."""
    when = f'schedule = "{schedule}"\n' if schedule else ""
    return (
        '[store]\nname = "Acme"\ntimezone = "UTC"\n\n[policy]\nconsent = "any"\nquiet_hours = []\n\n'
        f'[campaigns.flash]\nrule = \'has_tag("flash")\'\n{when}category = "marketing"\n'
        'text = "Flash sale today, {first_name}!"\n'
        'template = { name = "flash_sale", language = "en_US", body = ["{first_name}"] }\n'
    )


def add_tagged_customers(conn: Connection, count: int, tag: str, *, prefix: str = "5511987",
                         now: datetime = NOW) -> list[str]:
    """`count` customers tagged `tag` (a campaign's audience); their wa_ids."""
    from segments.tables import customer_tags

    wa_ids = [f"{prefix}{i:05d}" for i in range(count)]
    for i, wa_id in enumerate(wa_ids):
        customer_id = add_customer(conn, wa_id, f"Ana{i}", now=now)
        conn.execute(sa.insert(customer_tags).values(customer_id=customer_id, tag=tag))
    return wa_ids


def add_product(conn: Connection, product_id: int, title: str, variant_ids: Sequence[int], *,
                product_type: str | None = None, status: str = "active") -> None:
    conn.execute(sa.insert(products).values(id=product_id, title=title, product_type=product_type, status=status))
    for variant_id in variant_ids:
        conn.execute(sa.insert(variants).values(id=variant_id, product_id=product_id, title="Default Title",
                                                price=Decimal("10.00")))


Item = tuple[int, int, str, int, str]  # product id, variant id, title, quantity, price


def add_order(conn: Connection, order_id: int, customer_id: int | None, items: Iterable[Item], *,
              created_at: datetime, name: str | None = None, total: str | None = None,
              fulfillment_status: str | None = None, financial_status: str = "paid",
              tracking_url: str | None = None, tracking_number: str | None = None,
              cancelled: bool = False, discounted: bool = False) -> None:
    items = list(items)
    amount = Decimal(total) if total is not None else sum(Decimal(p) * q for _, _, _, q, p in items)
    conn.execute(sa.insert(orders).values(
        id=order_id, name=name or f"#{order_id}", customer_id=customer_id, created_at=created_at,
        cancelled_at=created_at + timedelta(hours=1) if cancelled else None, financial_status=financial_status,
        fulfillment_status=fulfillment_status, total_price=amount, total_discounts=Decimal("0"),
        is_discounted=discounted, counted=not cancelled and financial_status not in ("voided", "refunded"),
        currency="USD", tracking_url=tracking_url, tracking_number=tracking_number, ingested_at=created_at,
    ))
    for position, (product_id, variant_id, title, quantity, price) in enumerate(items, start=1):
        conn.execute(sa.insert(line_items).values(
            order_id=order_id, position=position, product_id=product_id, variant_id=variant_id, title=title,
            quantity=quantity, price=Decimal(price)))


def add_segment(conn: Connection, customer_id: int, segment: str, reason: dict | None = None,
                at: datetime = NOW) -> None:
    conn.execute(sa.insert(segment_members).values(segment=segment, customer_id=customer_id, entered_at=at,
                                                   reason=reason or {}))


def set_language_evidence(conn: Connection, customer_id: int, *, choice: str | None = None, chat: str | None = None,
                          shopify_locale: str | None = None, phone_country: str | None = None,
                          order_locale: str | None = None) -> None:
    """Write the evidence a customer's language is decided from (docs/languages.md), as the flows and
    Shopify imports would have stored it; `order_locale` becomes the storefront locale of their orders."""
    conn.execute(sa.update(customers).where(customers.c.id == customer_id).values(
        language_choice=choice, language_chat=chat, shopify_locale=shopify_locale, phone_country=phone_country))
    if order_locale is not None:
        conn.execute(sa.update(orders).where(orders.c.customer_id == customer_id).values(customer_locale=order_locale))
