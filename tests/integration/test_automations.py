"""The store automations through signed Shopify webhooks and the scheduler's pass (`tick`):
abandoned-checkout steps at their times and once, the three stop conditions, quiet hours, order
updates once however often Shopify redelivers, utility rules (docs/automations.md)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.automations.tables import cod_confirmations
from bot.campaigns.tables import campaign_sends
from bot.core.tables import customers, outbox
from bot.whatsapp import simulate
from segments.tables import checkouts, fulfillments
from tests.conftest import APP_SECRET
from webhook import create_app

SECRET = "shpss_automations"
PHONE = "+55 11 91234 5678"
WA_ID = "5511912345678"
# Webhooks are processed at the wall clock's now, so the checkouts and orders are made at it; the
# scheduler's passes are at explicit times. Quiet hours are off but in their own test.
T0 = datetime.now(timezone.utc).replace(second=0, microsecond=0)

TOML = """
[store]
name = "Acme"
timezone = "America/Sao_Paulo"
shop_domain = "acme.myshopify.com"

[policy]
consent = "any"
quiet_hours = []

[automations.abandoned_checkout]
after_minutes = [30, 1440]
texts = ["You left {checkout_items} in your cart: {checkout_url}", "Still thinking? {checkout_url}"]
discount_code = "COMEBACK10"
[[automations.abandoned_checkout.templates]]
name = "cart_1"
body = ["{first_name}", "{checkout_url}"]
[[automations.abandoned_checkout.templates]]
name = "cart_2"
body = ["{first_name}", "{discount_code}", "{checkout_url}"]

[automations.order_confirmed]
template = { name = "order_confirmed", language = "en_US", body = ["{first_name}", "{order_name}"] }
[automations.order_shipped]
text = "Your order {order_name} is on its way with {carrier}: {tracking_url}"
template = { name = "order_shipped", language = "en_US", body = ["{order_name}", "{tracking_url}"] }
[automations.order_delivered]
template = { name = "order_delivered", language = "en_US", body = ["{first_name}", "{order_name}"] }
[automations.cod_confirmation]
confirm_tag = "cod-confirmed"
cancel_tag = "cod-cancelled"
reminder_after_minutes = 360
[automations.cod_confirmation.template]
name = "cod_confirm"
body = ["{first_name}", "{order_name}", "{order_total}"]
quick_replies = ["Confirm", "Cancel"]
"""


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


@pytest.fixture
def app(settings_for, engine):
    app = create_app(settings_for(toml=TOML, WABOT_SHOPIFY_SECRET=SECRET))
    yield app
    app.extensions["wabot"].close()


def deliver(app, topic: str, body: dict, delivery: str | None = None):
    raw = json.dumps(body).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    response = app.test_client().post("/shopify/webhooks", data=raw, headers={
        "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Webhook-Id": delivery or str(uuid.uuid4()), "Content-Type": "application/json"})
    assert response.status_code == 200, response.data
    return response.json


def checkout(token: str = "tok-1", updated: datetime = T0, **extra) -> dict:
    body = {"id": 7001, "token": token, "created_at": iso(updated - timedelta(minutes=5)), "updated_at": iso(updated),
            "phone": PHONE, "completed_at": None, "currency": "BRL", "total_price": "120.00",
            "abandoned_checkout_url": f"https://acme.myshopify.com/checkouts/{token}/recover?key=k",
            "customer": {"id": 501, "first_name": "Ana", "last_name": "Lima"},
            "line_items": [{"title": "Dog Food", "quantity": 2}, {"title": "Leash", "quantity": 1}]}
    body.update(extra)
    return body


def order(order_id: int = 9001, created: datetime = T0, **extra) -> dict:
    body = {"id": order_id, "name": f"#{order_id}", "phone": PHONE, "created_at": iso(created),
            "updated_at": iso(created), "total_price": "120.00", "currency": "BRL", "financial_status": "paid",
            "customer": {"id": 501, "first_name": "Ana"}, "payment_gateway_names": ["shopify_payments"],
            "line_items": [{"id": 1, "title": "Dog Food", "quantity": 2, "price": "60.00"}]}
    body.update(extra)
    return body


def fulfillment(fulfillment_id: int = 801, order_id: int = 9001, **extra) -> dict:
    body = {"id": fulfillment_id, "order_id": order_id, "status": "success", "created_at": iso(T0),
            "updated_at": iso(T0), "tracking_company": "Correios", "tracking_number": "BR123",
            "tracking_url": "https://track.example/BR123", "shipment_status": None}
    body.update(extra)
    return body


def tick(app, now: datetime) -> dict:
    results, failures = app.extensions["wabot"].scheduler(clock=lambda: now).tick(now)
    assert not failures, failures
    return results


def messages(engine, source: str | None = None) -> list:
    with engine.connect() as conn:
        query = sa.select(outbox).where(outbox.c.kind == "automation").order_by(outbox.c.id)
        if source:
            query = query.where(outbox.c.source == source)
        return conn.execute(query).all()


def ledger(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(campaign_sends).order_by(campaign_sends.c.id)).all()


def customer_says(app, text: str, at: datetime) -> None:
    rt = app.extensions["wabot"]
    payload = simulate.text_payload(WA_ID, text, timestamp=int(at.timestamp()))
    raw = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    response = app.test_client().post("/webhook", data=raw, headers={
        "X-Hub-Signature-256": signature, "Content-Type": "application/json"})
    assert response.status_code == 200
    rt.worker(clock=lambda: at).drain()


# ---------------------------------------------------------------- abandoned checkouts

def test_each_step_goes_at_its_time_and_once(app, engine):
    deliver(app, "checkouts/create", checkout())
    with engine.connect() as conn:
        stored = conn.execute(sa.select(checkouts)).one()
    assert stored.items == "2 × Dog Food, Leash" and stored.customer_id is not None

    tick(app, T0 + timedelta(minutes=29))
    assert messages(engine) == []
    tick(app, T0 + timedelta(minutes=30))
    first = messages(engine)
    assert len(first) == 1
    body = first[0].payload
    # outside the window: the step's template, filled
    assert body["type"] == "template" and body["template"]["name"] == "cart_1"
    params = [p["text"] for p in body["template"]["components"][0]["parameters"]]
    assert params == ["Ana", "https://acme.myshopify.com/checkouts/tok-1/recover?key=k"]
    assert first[0].category == "marketing" and first[0].source == "automation:abandoned_checkout"
    for minutes in (31, 60, 600):
        tick(app, T0 + timedelta(minutes=minutes))
    assert len(messages(engine)) == 1
    tick(app, T0 + timedelta(minutes=1440))
    both = messages(engine)
    assert len(both) == 2 and both[1].payload["template"]["name"] == "cart_2"
    assert [p["text"] for p in both[1].payload["template"]["components"][0]["parameters"]][1] == "COMEBACK10"
    for minutes in (1441, 2000, 3000):
        tick(app, T0 + timedelta(minutes=minutes))
    assert len(messages(engine)) == 2
    steps = sorted((row.variant, row.status) for row in ledger(engine))
    assert steps == [(0, "queued"), (1, "queued")]


def test_redelivered_checkout_webhooks_do_not_repeat_a_step(app, engine):
    deliver(app, "checkouts/create", checkout())
    tick(app, T0 + timedelta(minutes=30))
    deliver(app, "checkouts/update", checkout())  # the same update, delivered again
    tick(app, T0 + timedelta(minutes=45))
    assert len(messages(engine)) == 1


def test_the_sequence_stops_for_good_when_the_customer_orders(app, engine):
    deliver(app, "checkouts/create", checkout())
    tick(app, T0 + timedelta(minutes=30))
    deliver(app, "orders/create", order(created=T0 + timedelta(minutes=40), checkout_token="tok-1"))
    tick(app, T0 + timedelta(minutes=1440))
    assert [m.source for m in messages(engine)].count("automation:abandoned_checkout") == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(checkouts.c.completed_at)).scalar() is not None


def test_an_order_without_the_token_stops_it_too(app, engine):
    deliver(app, "checkouts/create", checkout())
    deliver(app, "orders/create", order(created=T0 + timedelta(minutes=10)))
    tick(app, T0 + timedelta(minutes=30))
    assert messages(engine, "automation:abandoned_checkout") == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(checkouts.c.stopped_reason)).scalar() == "ordered"


def test_the_sequence_stops_for_good_when_the_customer_writes(app, engine):
    deliver(app, "checkouts/create", checkout())
    tick(app, T0 + timedelta(minutes=30))
    customer_says(app, "is the leash in red too?", T0 + timedelta(minutes=50))
    tick(app, T0 + timedelta(minutes=1440))
    assert len(messages(engine, "automation:abandoned_checkout")) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(checkouts.c.stopped_reason)).scalar() == "replied"


def test_the_sequence_stops_for_good_on_opt_out(app, engine):
    deliver(app, "checkouts/create", checkout())
    customer_says(app, "STOP", T0 - timedelta(minutes=1))  # a message, but an opt-out first
    tick(app, T0 + timedelta(minutes=30))
    with engine.connect() as conn:
        assert conn.execute(sa.select(checkouts.c.stopped_reason)).scalar() == "opted_out"
    customer_says(app, "START", T0 + timedelta(minutes=40))
    tick(app, T0 + timedelta(minutes=1440))
    assert messages(engine, "automation:abandoned_checkout") == []


def test_a_step_due_in_quiet_hours_is_deferred_not_dropped(settings_for, engine):
    app = create_app(settings_for(toml=TOML.replace("quiet_hours = []", 'quiet_hours = ["21:00", "09:00"]'),
                                  WABOT_SHOPIFY_SECRET=SECRET))
    try:
        late = datetime(2027, 1, 6, 0, 0, tzinfo=timezone.utc)  # 21:00 in São Paulo
        deliver(app, "checkouts/create", checkout(updated=late))
        tick(app, late + timedelta(minutes=30))  # 21:30 local: quiet
        assert messages(engine) == []
        tick(app, late + timedelta(hours=6))  # 03:00 local: still quiet
        assert messages(engine) == []
        morning = datetime(2027, 1, 6, 12, 0, tzinfo=timezone.utc)  # 09:00 local
        tick(app, morning)
        sent = messages(engine)
        assert len(sent) == 1 and sent[0].payload["template"]["name"] == "cart_1"
        tick(app, morning + timedelta(minutes=5))
        assert len(messages(engine)) == 1
    finally:
        app.extensions["wabot"].close()


def test_marketing_consent_is_needed_for_checkouts(settings_for, engine):
    app = create_app(settings_for(toml=TOML.replace('consent = "any"', 'consent = "opt_in"'),
                                  WABOT_SHOPIFY_SECRET=SECRET))
    try:
        deliver(app, "checkouts/create", checkout())
        tick(app, T0 + timedelta(minutes=30))
        assert messages(engine, "automation:abandoned_checkout") == []
        assert [(r.status, r.reason) for r in ledger(engine)] == [("skipped", "no_consent")]
        # utility messages need none
        deliver(app, "orders/create", order(created=T0 + timedelta(minutes=31)))
        assert len(messages(engine, "automation:order_confirmed")) == 1
    finally:
        app.extensions["wabot"].close()


# ---------------------------------------------------------------- order updates

def test_order_confirmed_once_however_often_shopify_redelivers(app, engine):
    deliver(app, "orders/create", order(), delivery="d-1")
    deliver(app, "orders/create", order(), delivery="d-1")  # the same delivery
    deliver(app, "orders/create", order())  # a new delivery of the same order
    sent = messages(engine, "automation:order_confirmed")
    assert len(sent) == 1 and sent[0].category == "utility"
    assert [p["text"] for p in sent[0].payload["template"]["components"][0]["parameters"]] == ["Ana", "#9001"]


def test_a_redelivered_fulfillment_sends_once(app, engine):
    deliver(app, "orders/create", order())
    for topic in ("fulfillments/create", "fulfillments/create", "fulfillments/update"):
        deliver(app, topic, fulfillment())
    sent = messages(engine, "automation:order_shipped")
    assert len(sent) == 1
    params = [p["text"] for p in sent[0].payload["template"]["components"][0]["parameters"]]
    assert params == ["#9001", "https://track.example/BR123"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(fulfillments.c.tracking_number)).scalar() == "BR123"


def test_a_fulfillment_without_tracking_is_not_a_shipping_update(app, engine):
    deliver(app, "orders/create", order())
    deliver(app, "fulfillments/create", fulfillment(tracking_number=None, tracking_url=None, tracking_company=None))
    assert messages(engine, "automation:order_shipped") == []
    deliver(app, "fulfillments/update", fulfillment(updated_at=iso(T0 + timedelta(hours=1))))
    assert len(messages(engine, "automation:order_shipped")) == 1


def test_delivered_once_per_fulfillment(app, engine):
    deliver(app, "orders/create", order())
    deliver(app, "fulfillments/create", fulfillment())
    event = {"id": 55, "fulfillment_id": 801, "order_id": 9001, "status": "delivered", "happened_at": iso(T0)}
    deliver(app, "fulfillment_events/create", event)
    deliver(app, "fulfillment_events/create", {**event, "id": 56})
    deliver(app, "fulfillments/update", fulfillment(shipment_status="delivered",
                                                    updated_at=iso(T0 + timedelta(hours=2))))
    assert len(messages(engine, "automation:order_delivered")) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(fulfillments.c.delivered_at)).scalar() is not None


def test_an_opted_out_customer_gets_no_order_update(app, engine):
    customer_says(app, "STOP", T0 - timedelta(minutes=5))
    deliver(app, "orders/create", order())
    assert messages(engine, "automation:order_confirmed") == []


def test_inside_the_window_an_update_is_free_form_text(app, engine):
    customer_says(app, "hi", T0 - timedelta(minutes=5))
    deliver(app, "orders/create", order())
    deliver(app, "fulfillments/create", fulfillment())
    sent = messages(engine, "automation:order_shipped")
    assert len(sent) == 1 and sent[0].payload["type"] == "text"
    assert sent[0].payload["text"]["body"] == ("Your order #9001 is on its way with Correios: "
                                               "https://track.example/BR123")


# ---------------------------------------------------------------- cash on delivery

def cod_order(order_id: int = 9101, **extra) -> dict:
    return order(order_id, financial_status="pending", payment_gateway_names=["Cash on Delivery (COD)"], **extra)


def test_a_cod_order_gets_the_question_not_the_confirmation(app, engine):
    deliver(app, "orders/create", cod_order())
    deliver(app, "orders/create", cod_order())
    assert messages(engine, "automation:order_confirmed") == []
    asked = messages(engine, "automation:cod_confirmation")
    assert len(asked) == 1
    components = asked[0].payload["template"]["components"]
    assert [p["text"] for p in components[0]["parameters"]] == ["Ana", "#9101", "120.00 BRL"]
    assert [c["parameters"][0]["payload"] for c in components[1:]] == ["cod:confirm:9101", "cod:cancel:9101"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(cod_confirmations.c.state)).scalar() == "awaiting"


def test_one_reminder_at_most(app, engine):
    deliver(app, "orders/create", cod_order())
    tick(app, T0 + timedelta(minutes=359))
    assert len(messages(engine, "automation:cod_confirmation")) == 1
    tick(app, T0 + timedelta(minutes=360))
    tick(app, T0 + timedelta(minutes=720))
    tick(app, T0 + timedelta(days=2))
    assert len(messages(engine, "automation:cod_confirmation")) == 2
    assert sorted(r.variant for r in ledger(engine)) == [0, 1]


def test_an_order_placed_long_ago_gets_no_update(app, engine):
    deliver(app, "orders/create", order(created=datetime(2026, 1, 1, tzinfo=timezone.utc)))
    assert messages(engine) == []


def test_customers_without_a_phone_are_left_alone(app, engine):
    deliver(app, "checkouts/create", checkout(phone=None, customer={"id": 9}))
    tick(app, T0 + timedelta(minutes=30))
    assert messages(engine) == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar() == 0


def quick_reply_payload(payload: str, text: str, at: datetime) -> dict:
    """A tap on a template's quick-reply button, as Meta delivers it (type "button")."""
    envelope = simulate.text_payload(WA_ID, "x", timestamp=int(at.timestamp()))
    message = envelope["entry"][0]["changes"][0]["value"]["messages"][0]
    message.pop("text")
    message.update(type="button", button={"payload": payload, "text": text})
    return envelope


def customer_sends(app, payload: dict, at: datetime) -> None:
    raw = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    response = app.test_client().post("/webhook", data=raw, headers={
        "X-Hub-Signature-256": signature, "Content-Type": "application/json"})
    assert response.status_code == 200
    app.extensions["wabot"].worker(clock=lambda: at).drain()


def cod_row(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(cod_confirmations)).one()


def replies(engine) -> list[str]:
    with engine.connect() as conn:
        return [r.preview for r in conn.execute(sa.select(outbox.c.preview).where(outbox.c.kind == "reply")
                                                .order_by(outbox.c.id))]


def test_a_tap_on_confirm_records_the_answer_and_queues_the_tag(app, engine):
    deliver(app, "orders/create", cod_order())
    customer_sends(app, quick_reply_payload("cod:confirm:9101", "Confirm", T0 + timedelta(minutes=2)),
                   T0 + timedelta(minutes=2))
    row = cod_row(engine)
    assert (row.state, row.answer_source, row.tag, row.tag_state) == ("confirmed", "button", "cod-confirmed", "pending")
    assert replies(engine)[-1].startswith("Thank you, Ana! Your order #9101 is confirmed")
    # the same tap again: answered, nothing queued twice
    customer_sends(app, quick_reply_payload("cod:confirm:9101", "Confirm", T0 + timedelta(minutes=3)),
                   T0 + timedelta(minutes=3))
    assert cod_row(engine).answered_at == row.answered_at
    tick(app, T0 + timedelta(minutes=400))
    assert len(messages(engine, "automation:cod_confirmation")) == 1  # answered: no reminder


@pytest.mark.parametrize("text, state", [("sim", "confirmed"), ("Sí, confirmo", "confirmed"), ("yes", "confirmed"),
                                         ("não, cancela", "cancelled"), ("batal", "cancelled")])
def test_a_typed_yes_or_no_answers_a_waiting_question(settings_for, engine, text, state):
    app = create_app(settings_for(toml=TOML.replace('name = "Acme"', 'name = "Acme"\nlanguages = ["en", "es", "pt", "id"]'),
                                  WABOT_SHOPIFY_SECRET=SECRET))
    try:
        deliver(app, "orders/create", cod_order())
        customer_says(app, text, T0 + timedelta(minutes=2))
        row = cod_row(engine)
        assert (row.state, row.answer_source) == (state, "reply")
        assert row.tag == ("cod-confirmed" if state == "confirmed" else "cod-cancelled")
    finally:
        app.extensions["wabot"].close()


def test_stop_still_opts_out_while_a_question_waits(app, engine):
    deliver(app, "orders/create", cod_order())
    customer_says(app, "STOP", T0 + timedelta(minutes=2))
    assert cod_row(engine).state == "awaiting"
    with engine.connect() as conn:
        assert conn.execute(sa.select(customers.c.opted_out)).scalar() is True


def test_a_yes_without_a_waiting_question_is_an_ordinary_message(app, engine):
    customer_says(app, "yes", T0)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cod_confirmations)).scalar() == 0
    assert not replies(engine)[-1].startswith("I couldn't find")


def test_a_tap_for_someone_elses_order_answers_nothing(app, engine):
    deliver(app, "orders/create", cod_order())
    customer_sends(app, quick_reply_payload("cod:confirm:424242", "Confirm", T0 + timedelta(minutes=2)),
                   T0 + timedelta(minutes=2))
    assert cod_row(engine).state == "awaiting"
    assert replies(engine)[-1].startswith("I couldn't find an order waiting")


def test_order_status_answers_from_the_fulfillments_tracking(app, engine):
    deliver(app, "orders/create", order())
    deliver(app, "fulfillments/create", fulfillment(tracking_url="https://track.example/NEW"))
    customer_says(app, "where is my order?", T0 + timedelta(minutes=5))
    assert replies(engine)[-1] == ("Your last order #9001 (2 × Dog Food) is on its way. "
                                   "Track it here: https://track.example/NEW")
    event = {"id": 57, "fulfillment_id": 801, "order_id": 9001, "status": "delivered", "happened_at": iso(T0)}
    deliver(app, "fulfillment_events/create", event)
    customer_says(app, "where is my order?", T0 + timedelta(minutes=6))
    assert "is delivered" in replies(engine)[-1]


def test_the_answer_shows_in_segments_explain_and_the_agent_console(app, engine, database_url, tmp_path):
    from bot.conversation import customers as customer_store
    from bot.conversation.inbox import conversation
    from tests.conftest import make_env
    from tests.support.cli import run_cli

    deliver(app, "orders/create", cod_order())
    env = {**make_env(database_url, tmp_path), "WABOT_CONFIG": str(tmp_path / "wabot.toml")}
    (tmp_path / "wabot.toml").write_text(TOML)
    shown = run_cli(["segments", "explain", WA_ID], env=env, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "cash on delivery #9101: asked" in shown.stdout and "no answer yet" in shown.stdout
    customer_sends(app, quick_reply_payload("cod:cancel:9101", "Cancel", T0 + timedelta(minutes=2)),
                   T0 + timedelta(minutes=2))
    shown = run_cli(["segments", "explain", WA_ID, "--json"], env=env, cwd=tmp_path)
    answer = json.loads(shown.stdout)["cash_on_delivery"][0]
    assert (answer["order_name"], answer["state"], answer["tag"], answer["tag_state"]) == \
        ("#9101", "cancelled", "cod-cancelled", "pending")
    assert "cash on delivery #9101: cancelled" in run_cli(["segments", "explain", WA_ID], env=env, cwd=tmp_path).stdout
    with engine.connect() as conn:
        customer = customer_store.find(conn, WA_ID)
        shown_to_agents = conversation(conn, customer, T0 + timedelta(minutes=3), "BRL", ("en",))
    assert shown_to_agents["orders"][0]["cod"]["state"] == "cancelled"
