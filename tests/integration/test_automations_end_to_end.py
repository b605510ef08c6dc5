"""The automations through the real server (`wabot serve` as a process), the fake Graph API and
the fake Shopify Admin API over HTTP: a cash-on-delivery order's question reaches the customer in
Meta's shape, their tap tags the order in Shopify, and a shipping update goes once however often
Shopify redelivers (docs/automations.md)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timezone

import pytest
import requests
import sqlalchemy as sa

from bot.automations.tables import cod_confirmations
from bot.whatsapp import simulate
from tests.support.fake_shopify import FakeShopify
from tests.support.idle import wait_idle

SECRET = "shpss_end_to_end"
WA_ID = "919812345678"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
TOML = """
[store]
name = "Acme"
timezone = "Asia/Kolkata"

[policy]
quiet_hours = []

[automations.order_shipped]
template = { name = "order_shipped", language = "en_US", body = ["{order_name}", "{tracking_url}"] }
[automations.cod_confirmation]
confirm_tag = "cod-confirmed"
cancel_tag = "cod-cancelled"
[automations.cod_confirmation.template]
name = "cod_confirm"
body = ["{first_name}", "{order_name}", "{order_total}"]
quick_replies = ["Confirm", "Cancel"]
"""
ORDER = {"id": 5501, "name": "#5501", "phone": "+91 98123 45678", "created_at": NOW.isoformat(),
         "updated_at": NOW.isoformat(), "total_price": "799.00", "currency": "INR", "financial_status": "pending",
         "payment_gateway_names": ["Cash on Delivery (COD)"], "customer": {"id": 77, "first_name": "Priya"},
         "line_items": [{"id": 1, "title": "Masala Chai", "quantity": 1, "price": "799.00"}]}


@pytest.fixture
def shop():
    fake = FakeShopify(restore_rate=100_000).start()
    fake.load(orders=[{"id": ORDER["id"], "name": ORDER["name"], "tags": "", "created_at": ORDER["created_at"],
                       "updated_at": ORDER["updated_at"], "total_price": "799.00"}])
    yield fake
    fake.stop()


def to_shopify(url: str, topic: str, body: dict) -> None:
    raw = json.dumps(body).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    response = requests.post(f"{url}/shopify/webhooks", data=raw, timeout=10, headers={
        "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "Content-Type": "application/json"})
    assert response.status_code == 200, response.text


def tap(payload: str, title: str) -> dict:
    envelope = simulate.text_payload(WA_ID, "x")
    message = envelope["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message.update(type="button", button={"payload": payload, "text": title})
    return envelope


def test_a_cod_tap_tags_the_order_in_shopify(start_server, fake_graph, engine, shop):
    server = start_server(fake_graph, TOML, WABOT_SHOPIFY_SECRET=SECRET, **shop.env())
    to_shopify(server.url, "orders/create", ORDER)
    fake_graph.wait_for(lambda reqs: any(r.body.get("type") == "template" for r in reqs), timeout=30)
    wait_idle(engine, graph=fake_graph)
    [question] = [r.body for r in fake_graph.messages() if r.body.get("type") == "template"]
    assert question["to"] == WA_ID and question["template"]["name"] == "cod_confirm"
    components = question["template"]["components"]
    assert components[0] == {"type": "body", "parameters": [{"type": "text", "text": t}
                                                          for t in ("Priya", "#5501", "799.00 INR")]}
    assert components[1] == {"type": "button", "sub_type": "quick_reply", "index": "0",
                             "parameters": [{"type": "payload", "payload": "cod:confirm:5501"}]}

    assert server.post(tap("cod:confirm:5501", "Confirm")).status_code == 200
    deadline = time.monotonic() + 30
    while shop.tags_of(5501) != ["cod-confirmed"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert shop.tags_of(5501) == ["cod-confirmed"]
    wait_idle(engine, graph=fake_graph)
    texts = [r.body["text"]["body"] for r in fake_graph.messages() if r.body.get("type") == "text"]
    assert texts == ["Thank you, Priya! Your order #5501 is confirmed: we'll ship it soon and you pay on delivery."]
    with engine.connect() as conn:
        row = conn.execute(sa.select(cod_confirmations)).one()
    assert (row.state, row.tag_state, row.answer_source) == ("confirmed", "done", "button")
    assert shop.tag_calls.get(5501) == 1


def test_a_redelivered_fulfillment_is_one_shipping_update(start_server, fake_graph, engine):
    server = start_server(fake_graph, TOML, WABOT_SHOPIFY_SECRET=SECRET)
    paid = {**ORDER, "id": 5502, "name": "#5502", "financial_status": "paid", "payment_gateway_names": ["razorpay"]}
    to_shopify(server.url, "orders/create", paid)
    shipped = {"id": 9902, "order_id": 5502, "status": "success", "tracking_company": "Delhivery",
               "tracking_number": "DL1", "tracking_url": "https://track.example/DL1",
               "created_at": NOW.isoformat(), "updated_at": NOW.isoformat()}
    for topic in ("fulfillments/create", "fulfillments/create", "fulfillments/update", "fulfillments/update"):
        to_shopify(server.url, topic, shipped)
    fake_graph.wait_for(lambda reqs: any(r.body.get("type") == "template" for r in reqs), timeout=30)
    wait_idle(engine, graph=fake_graph)
    updates = [r.body for r in fake_graph.messages() if r.body.get("type") == "template"]
    assert len(updates) == 1 and updates[0]["template"]["name"] == "order_shipped"
    assert [p["text"] for p in updates[0]["template"]["components"][0]["parameters"]] == \
        ["#5502", "https://track.example/DL1"]
