"""POST /shopify/webhooks: Shopify's order, customer, product, checkout and fulfillment webhooks.

Verify (HMAC over the raw body), deduplicate (the delivery id, durably), apply, acknowledge. The
body is applied on the request path because that is one small transaction: an order is one
upsert plus its line items and its customer's aggregates, a few milliseconds, well inside
Shopify's 5-second limit, and the order is then visible at once to the flows ("where is my
order?") without a second queue. Segment membership is not touched here: the customer is marked
for the next refresh. A body we cannot apply is kept (with the error) and acknowledged, since
Shopify would otherwise redeliver it for two days and then drop the subscription.

An order update (confirmed, shipped, delivered, the cash-on-delivery question) is planned and
queued in the same transaction (bot/automations/engine.py): a few more statements, no network;
the sender sends it. A failure there is logged and costs the record nothing.
"""
from __future__ import annotations

import hashlib
import json
import logging

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request

from bot.core import safejson
from bot.core.db import dialect_insert
from bot.core.logmask import mask_text
from bot.core.signing import shopify_signature_valid
from bot.core.times import utcnow
from segments.fulfillments import apply_event
from segments.importer import write
from segments.shopify import (
    RowError,
    checkout_from_json,
    customer_from_json,
    fulfillment_event_from_json,
    fulfillment_from_json,
    order_from_json,
    product_from_json,
)
from segments.store import StoreOutcome
from segments.tables import shopify_webhooks

log = logging.getLogger(__name__)

shopify = Blueprint("shopify", __name__)

TOPICS = {
    "orders/create": "orders", "orders/updated": "orders", "orders/cancelled": "orders", "orders/paid": "orders",
    "customers/create": "customers", "customers/update": "customers",
    "products/create": "products", "products/update": "products",
    "checkouts/create": "checkouts", "checkouts/update": "checkouts",
    "fulfillments/create": "fulfillments", "fulfillments/update": "fulfillments",
    "fulfillment_events/create": "fulfillment_events",
}


def _parse(kind: str, body: object, region: str):
    if kind == "orders":
        return order_from_json(body, region)
    if kind == "customers":
        return customer_from_json(body, region)
    if kind == "checkouts":
        return checkout_from_json(body, region)
    if kind == "fulfillments":
        return fulfillment_from_json(body)
    if kind == "fulfillment_events":
        return fulfillment_event_from_json(body)
    return product_from_json(body)


def _apply(conn, kind: str, record, now):
    if kind == "fulfillment_events":
        return StoreOutcome(applied=1), apply_event(conn, record, now)
    return write(conn, kind, [record], now), None


def _automate(rt, conn, topic: str, kind: str, record, delivered: bool | None, now) -> None:
    """The automations this delivery sets off, in a savepoint of their own: a failure is logged
    and leaves the record applied."""
    automations = rt.automations
    if not automations.configured:
        return
    try:
        with conn.begin_nested():
            if topic == "orders/create":
                automations.on_order_created(conn, record, now)
            elif kind == "fulfillments":
                automations.on_fulfillments(conn, [record], now)
            elif kind == "fulfillment_events" and delivered:
                automations.on_delivered(conn, [record.fulfillment_id], now)
    except Exception:  # the record is kept whatever an automation does
        log.exception("Shopify %s: automation failed", topic)


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
    # Signed, so Shopify's: anything we cannot use is kept (quarantined, with why) and acknowledged,
    # since Shopify redelivers a failed webhook for 48 h and then drops the subscription.
    problem = None
    try:
        body = safejson.loads(raw, decimals=True)
        problem = safejson.problem(body)
    except ValueError as exc:
        body, problem = raw.decode("utf-8", "replace"), f"body is not JSON: {str(exc)[:200]}"
    delivery = (request.headers.get("X-Shopify-Webhook-Id") or request.headers.get("X-Shopify-Event-Id") or "").strip()
    if not delivery or safejson.text_problem(delivery):  # no usable id: the body is the delivery's identity
        delivery = "sha256:" + hashlib.sha256(raw).hexdigest()[:64]
    delivery = delivery[:128]
    now = utcnow()
    resource_id = body.get("id") if isinstance(body, dict) else None
    if not isinstance(resource_id, int) or isinstance(resource_id, bool):  # JSON's true is no id
        resource_id = None
    if resource_id is not None and not 0 < resource_id < 2**63:
        resource_id = None
    with rt.engine.begin() as conn:
        seen = conn.execute(_record(conn, delivery, topic, resource_id, now)).first()
        if seen is None:
            return jsonify(duplicate=True)
        if problem is None:
            try:
                with conn.begin_nested():  # a record the database refuses must not cost the delivery's row
                    record = _parse(kind, body, rt.settings.store.default_region)
                    outcome, delivered = _apply(conn, kind, record, now)
                if outcome.applied:
                    _automate(rt, conn, topic, kind, record, delivered, now)
                return jsonify(applied=outcome.applied, stale=outcome.stale)
            except (RowError, sa.exc.DataError, sa.exc.IntegrityError, ValueError, TypeError, ArithmeticError) as exc:
                # Readable but not usable (a record without its date, a value the database refuses).
                error = mask_text(str(exc).splitlines()[0])[:500]
                state, payload = "failed", json.loads(raw)  # readable, so plain JSON (no Decimal) to keep
        else:  # not even readable: kept as escaped text, which any database stores
            error, state, payload = problem, "quarantined", {"raw": safejson.dumps_for_record(body)}
        log.warning("Shopify %s %s not applied: %s", topic, resource_id or "-", error)
        conn.execute(sa.update(shopify_webhooks).where(shopify_webhooks.c.webhook_id == delivery).values(
            state=state, error=error, payload=payload))  # kept for a replay
    return jsonify(applied=0, error=error)


def _record(conn, delivery: str, topic: str, resource_id: int | None, now):
    """INSERT of the delivery id that returns it only if it was not seen before."""
    return (dialect_insert(conn, shopify_webhooks)
            .values(webhook_id=delivery, topic=topic, resource_id=resource_id, received_at=now, state="applied")
            .on_conflict_do_nothing(index_elements=["webhook_id"])
            .returning(shopify_webhooks.c.webhook_id))
