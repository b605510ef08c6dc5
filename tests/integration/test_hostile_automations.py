"""Hostile bodies on the automations' webhook topics (checkouts, fulfillments, their events, a
cash-on-delivery order), signed as Shopify signs them: always acknowledged (200, never a 5xx),
kept when unusable, and the scheduler's pass over whatever got stored never fails."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import fixture_paths, fuzz_examples
from tests.support.mutate import paths, replace
from webhook import create_app

SECRET = "shpss_hostile_automations"
NOW = datetime.now(timezone.utc).replace(microsecond=0)
CHECKOUT = json.loads(next(p for p in fixture_paths("shopify") if p.name.startswith("checkouts_create")).read_text())
CHECKOUT.update(phone="+1 415 555 0101", updated_at=NOW.isoformat(), created_at=NOW.isoformat())
ORDER = json.loads(next(p for p in fixture_paths("shopify") if p.name.startswith("orders_create")).read_text())
ORDER.update(phone="+1 415 555 0101", created_at=NOW.isoformat(), updated_at=NOW.isoformat(),
             financial_status="pending", payment_gateway_names=["Cash on Delivery (COD)"], cancelled_at=None)
FULFILLMENT = {"id": 801, "order_id": ORDER["id"], "status": "success", "tracking_company": "UPS",
               "tracking_number": "1Z", "tracking_urls": ["https://track.example/1Z"], "shipment_status": "delivered",
               "created_at": NOW.isoformat(), "updated_at": NOW.isoformat(), "line_items": []}
EVENT = {"id": 9, "fulfillment_id": 801, "order_id": ORDER["id"], "status": "delivered", "happened_at": NOW.isoformat()}
BODIES = {"checkouts/create": CHECKOUT, "checkouts/update": CHECKOUT, "orders/create": ORDER,
          "fulfillments/create": FULFILLMENT, "fulfillments/update": FULFILLMENT, "fulfillment_events/create": EVENT}
TOML = """
[policy]
consent = "any"
quiet_hours = []
[automations.abandoned_checkout]
after_minutes = [30]
texts = ["{checkout_items}: {checkout_url}"]
[automations.order_confirmed]
text = "Thanks for {order_name}, {order_total}"
[automations.order_shipped]
text = "{order_name} with {carrier}: {tracking_url} ({tracking_number})"
[automations.order_delivered]
text = "{order_name} arrived"
[automations.cod_confirmation]
text = "Confirm {order_name} for {order_total}?"
"""
FUZZ = {"cases": 0, "applied": 0}

hostile = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=30), st.just("\x00"), st.just("x" * 5000), st.just("1e1000000"),
                    st.just("javascript:alert(1)"), st.just("2026-13-45T99:99:99Z"),
                    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@pytest.fixture
def app(settings_for, engine):
    app = create_app(settings_for(toml=TOML, WABOT_SHOPIFY_SECRET=SECRET))
    yield app
    app.extensions["wabot"].close()


def deliver(app, topic: str, raw: bytes):
    signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    return app.test_client().post("/shopify/webhooks", data=raw, headers={
        "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "Content-Type": "application/json"})


@st.composite
def mutated(draw):
    topic = draw(st.sampled_from(sorted(BODIES)))
    body = json.loads(json.dumps(BODIES[topic]))
    for _ in range(draw(st.integers(1, 3))):
        body = replace(body, draw(st.sampled_from(paths(body))), draw(hostile))
    return topic, body


@settings(max_examples=fuzz_examples(600), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutated())
def test_mutated_automation_bodies_are_never_a_5xx(app, case):
    topic, body = case
    response = deliver(app, topic, json.dumps(body, allow_nan=True).encode("utf-8", "surrogatepass"))
    FUZZ["cases"] += 1
    assert response.status_code == 200, response.get_data(as_text=True)
    FUZZ["applied"] += bool(response.json.get("applied"))


def test_the_pass_over_what_the_fuzz_stored_never_fails(app):
    for topic, body in BODIES.items():
        for field in ("tracking_url", "abandoned_checkout_url", "name", "total_price"):
            if field in body:
                assert deliver(app, topic, json.dumps({**body, field: "x" * 3000}).encode()).status_code == 200
    rt = app.extensions["wabot"]
    results, failures = rt.scheduler().tick(NOW + timedelta(minutes=31))
    assert not failures, failures


def test_a_link_that_is_not_http_never_reaches_a_message(app, engine):
    import sqlalchemy as sa

    from segments.tables import checkouts
    raw = json.dumps({**CHECKOUT, "abandoned_checkout_url": "javascript:alert(1)"}).encode()
    assert deliver(app, "checkouts/create", raw).json["applied"] == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(checkouts.c.abandoned_checkout_url)).scalar() is None


def test_automation_fuzz_figures(capsys):
    if FUZZ["cases"]:
        with capsys.disabled():
            print(f"\nautomation webhook fuzz: {FUZZ['cases']} cases, {FUZZ['applied']} applied, no 5xx")
