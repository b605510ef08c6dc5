"""POST /shopify/webhooks through the real server: HMAC, topics, deduplication, and the real
Shopify payloads."""
from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa

from bot.core.signing import shopify_signature
from bot.core.tables import customers
from segments.tables import (
    customer_order_stats,
    line_items,
    orders,
    product_tags,
    products,
    segment_pending,
    shopify_webhooks,
    variants,
)
from tests.conftest import load_fixture

SECRET = "shpss_test_secret"
ORDER = "orders_create__shopify-docs-example__api-2025-01.json"
CUSTOMER = "customers_create__shopify-docs-example__api-2026-04.json"
PRODUCT = "products_create-or-update__shopify-docs-example__api-2025-01.json"


def post(url: str, topic: str, body: dict | bytes, *, secret: str | None = SECRET, delivery: str | None = "auto",
         signature: str | None = None) -> requests.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "X-Shopify-Topic": topic,
               "X-Shopify-Shop-Domain": "acme.myshopify.com", "X-Shopify-API-Version": "2025-01"}
    if delivery:
        headers["X-Shopify-Webhook-Id"] = str(uuid.uuid4()) if delivery == "auto" else delivery
    if signature is not None:
        headers["X-Shopify-Hmac-Sha256"] = signature
    elif secret:
        headers["X-Shopify-Hmac-Sha256"] = shopify_signature(secret, raw)
    return requests.post(f"{url}/shopify/webhooks", data=raw, headers=headers, timeout=10)


@pytest.fixture
def server(start_server):
    return start_server(WABOT_SHOPIFY_SECRET=SECRET)


def counts(engine) -> dict:
    with engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                for t in (orders, line_items, customers, products, shopify_webhooks)}


def small_order(order_id: int, **extra) -> dict:
    body = {"id": order_id, "name": f"#{order_id}", "phone": "+1 415 555 0101", "created_at": "2026-04-01T10:00:00Z",
            "updated_at": "2026-04-01T10:00:00Z", "total_price": "50.00", "financial_status": "paid",
            "line_items": [{"id": order_id * 10, "sku": "A", "title": "A", "quantity": 1, "price": "50.00"}]}
    body.update(extra)
    return body


def test_signatures(server, engine):
    body = load_fixture("shopify", ORDER)
    assert post(server.url, "orders/create", body, secret=None).status_code == 401
    assert post(server.url, "orders/create", body, secret="wrong-secret").status_code == 401
    assert post(server.url, "orders/create", body, signature="bm90IGEgc2lnbmF0dXJl").status_code == 401
    assert post(server.url, "app/uninstalled", body, secret="wrong-secret").status_code == 401
    assert all(v == 0 for k, v in counts(engine).items() if k != "customers")


def test_without_a_configured_secret_everything_is_refused(start_server, engine):
    server = start_server()
    assert post(server.url, "orders/create", small_order(1)).status_code == 401
    assert counts(engine)["orders"] == 0


def test_the_real_payloads(server, engine):
    order = post(server.url, "orders/create", load_fixture("shopify", ORDER))
    customer = post(server.url, "customers/create", load_fixture("shopify", CUSTOMER))
    product = post(server.url, "products/create", load_fixture("shopify", PRODUCT))
    assert [r.status_code for r in (order, customer, product)] == [200, 200, 200]
    assert order.json() == {"applied": 1, "stale": 0}
    with engine.connect() as conn:
        stored = conn.execute(sa.select(orders)).one()
        assert (stored.id, stored.name, stored.counted, stored.financial_status) == \
            (820982911946154500, "#9999", False, "voided")
        assert stored.total_price == Decimal("388.00")
        assert conn.execute(sa.select(sa.func.count()).select_from(line_items)).scalar() == 2
        assert conn.execute(sa.select(customers.c.first_name).where(
            customers.c.shopify_customer_id == 706405506930370000)).scalar() == "Bob"
        assert conn.execute(sa.select(products.c.product_type)).scalar() == "Shirts"
        assert conn.execute(sa.select(sa.func.count()).select_from(variants)).scalar() == 2
        assert conn.execute(sa.select(sa.func.count()).select_from(product_tags)).scalar() == 3
        topics = dict(conn.execute(sa.select(shopify_webhooks.c.topic, shopify_webhooks.c.state)).all())
    assert topics == {"orders/create": "applied", "customers/create": "applied", "products/create": "applied"}


def test_redeliveries_updates_and_cancellations(server, engine):
    first = post(server.url, "orders/create", small_order(7), delivery="delivery-1")
    again = post(server.url, "orders/create", small_order(7), delivery="delivery-1")
    assert first.json() == {"applied": 1, "stale": 0} and again.json() == {"duplicate": True}
    # A different delivery of the same order (Shopify's event id header) is idempotent by order id.
    third = post(server.url, "orders/paid", small_order(7), delivery=None)
    assert third.status_code == 200 and counts(engine)["orders"] == 1

    updated = small_order(7, updated_at="2026-04-02T10:00:00Z", total_price="80.00",
                          line_items=[{"id": 71, "sku": "B", "title": "B", "quantity": 2, "price": "40.00"}])
    assert post(server.url, "orders/updated", updated).json() == {"applied": 1, "stale": 0}
    late = small_order(7, updated_at="2026-04-01T12:00:00Z", total_price="1.00")  # arrives after, is older
    assert post(server.url, "orders/updated", late).json() == {"applied": 0, "stale": 1}
    with engine.connect() as conn:
        assert conn.execute(sa.select(orders.c.total_price)).scalar() == Decimal("80.00")
        assert conn.execute(sa.select(line_items.c.sku)).scalars().all() == ["B"]
        assert conn.execute(sa.select(customer_order_stats.c.total_cents)).scalar() == 8000
        assert conn.execute(sa.select(sa.func.count()).select_from(segment_pending)).scalar() == 1

    cancelled = small_order(7, updated_at="2026-04-03T10:00:00Z", cancelled_at="2026-04-03T10:00:00Z",
                            financial_status="refunded", total_price="80.00")
    assert post(server.url, "orders/cancelled", cancelled).json()["applied"] == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(orders.c.counted)).scalar() is False
        assert conn.execute(sa.select(sa.func.count()).select_from(customer_order_stats)).scalar() == 0


def test_event_id_header_deduplicates_too(server, engine):
    raw = json.dumps(small_order(9)).encode()
    headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Event-Id": "event-9",
               "X-Shopify-Hmac-Sha256": shopify_signature(SECRET, raw)}
    first = requests.post(f"{server.url}/shopify/webhooks", data=raw, headers=headers, timeout=10)
    second = requests.post(f"{server.url}/shopify/webhooks", data=raw, headers=headers, timeout=10)
    assert first.json()["applied"] == 1 and second.json() == {"duplicate": True}


def test_topics_it_does_not_use_and_bad_bodies(server, engine):
    ignored = post(server.url, "app/uninstalled", {"id": 1})
    assert ignored.status_code == 200 and ignored.json() == {"ignored": "app/uninstalled"}
    not_json = post(server.url, "orders/create", b"not json", delivery="bad-0")  # signed: kept, acknowledged
    assert not_json.status_code == 200 and not_json.json()["applied"] == 0 and "not JSON" in not_json.json()["error"]
    unusable = post(server.url, "orders/create", {"id": 5, "total_price": "1.00"}, delivery="bad-1")
    assert unusable.status_code == 200 and unusable.json() == {"applied": 0, "error": "no created_at"}
    with engine.connect() as conn:
        kept = conn.execute(sa.select(shopify_webhooks).where(shopify_webhooks.c.webhook_id == "bad-1")).one()
    assert kept.state == "failed" and kept.error == "no created_at" and kept.payload == {"id": 5, "total_price": "1.00"}
    with engine.connect() as conn:
        quarantined = conn.execute(sa.select(shopify_webhooks).where(shopify_webhooks.c.webhook_id == "bad-0")).one()
    assert quarantined.state == "quarantined" and quarantined.payload == {"raw": '"not json"'}
    assert counts(engine)["orders"] == 0
