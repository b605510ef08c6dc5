"""POST /shopify/webhooks: Shopify's order, customer and product webhooks.

Verify (HMAC over the raw body), deduplicate (the delivery id, durably), apply, acknowledge. The
body is applied on the request path because that is one small transaction: an order is one
upsert plus its line items and its customer's aggregates, a few milliseconds, well inside
Shopify's 5-second limit, and the order is then visible at once to the flows ("where is my
order?") without a second queue. Segment membership is not touched here: the customer is marked
for the next refresh. A body we cannot apply is kept (with the error) and acknowledged, since
Shopify would otherwise redeliver it for two days and then drop the subscription.
"""
from __future__ import annotations

import json
import logging
from decimal import Decimal

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request

from bot.core.db import dialect_insert
from bot.core.signing import shopify_signature_valid
from bot.core.times import utcnow
from segments.importer import write
from segments.shopify import RowError, customer_from_json, order_from_json, product_from_json
from segments.tables import shopify_webhooks

log = logging.getLogger(__name__)

shopify = Blueprint("shopify", __name__)

TOPICS = {
    "orders/create": "orders", "orders/updated": "orders", "orders/cancelled": "orders", "orders/paid": "orders",
    "customers/create": "customers", "customers/update": "customers",
    "products/create": "products", "products/update": "products",
}


def _parse(kind: str, body: object, region: str):
    if kind == "orders":
        return order_from_json(body, region)
    if kind == "customers":
        return customer_from_json(body, region)
    return product_from_json(body)


@shopify.post("/shopify/webhooks")
def receive():
    rt = current_app.extensions["wabot"]
    raw = request.get_data(cache=False)
    if not shopify_signature_valid(rt.settings.shopify_secret, raw, request.headers.get("X-Shopify-Hmac-Sha256")):
        return jsonify(error="missing or wrong X-Shopify-Hmac-Sha256"), 401
    topic = (request.headers.get("X-Shopify-Topic") or "").strip().lower()
    kind = TOPICS.get(topic)
    if kind is None:
        return jsonify(ignored=topic or None)
    try:
        body = json.loads(raw, parse_float=Decimal)
    except ValueError:
        return jsonify(error="body is not JSON"), 400
    delivery = (request.headers.get("X-Shopify-Webhook-Id") or request.headers.get("X-Shopify-Event-Id") or "").strip()
    now = utcnow()
    resource_id = body.get("id") if isinstance(body, dict) and isinstance(body.get("id"), int) else None
    with rt.engine.begin() as conn:
        if delivery:
            seen = conn.execute(_record(conn, delivery[:128], topic, resource_id, now)).first()
            if seen is None:
                return jsonify(duplicate=True)
        try:
            record = _parse(kind, body, rt.settings.store.default_region)
        except RowError as exc:
            log.warning("Shopify %s %s not applied: %s", topic, resource_id or "-", exc)
            if delivery:
                conn.execute(sa.update(shopify_webhooks).where(shopify_webhooks.c.webhook_id == delivery[:128])
                             .values(state="failed", error=str(exc), payload=json.loads(raw)))  # kept for a replay
            return jsonify(applied=0, error=str(exc))
        outcome = write(conn, kind, [record], now)
    return jsonify(applied=outcome.applied, stale=outcome.stale)


def _record(conn, delivery: str, topic: str, resource_id: int | None, now):
    """INSERT of the delivery id that returns it only if it was not seen before."""
    return (dialect_insert(conn, shopify_webhooks)
            .values(webhook_id=delivery, topic=topic, resource_id=resource_id, received_at=now, state="applied")
            .on_conflict_do_nothing(index_elements=["webhook_id"])
            .returning(shopify_webhooks.c.webhook_id))
