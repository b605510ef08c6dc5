"""The flows run in process against a real database: what they say, which buttons they offer,
and the events (and their effects) they return."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.conversation import handoff
from bot.core.config import Settings, parse_file_config
from flows import effects, runner
from flows.context import FlowServices
from flows.nlu import IntentDecision
from flows.replies import ReplyBook
from segments import orders as store
from segments.membership import current_segments
from segments.tables import customer_attributes
from tests.support.seed import NOW, add_customer, add_order, add_product, add_segment

CONFIG = {
    "store": {"name": "Acme Home", "shop_domain": "acme.myshopify.com"},
    "preferences": {"interests": ["Home decor", "Pets", "Cycling", "Tea"]},
    "sale": {"discount_code": "EARLY20"},
}


@pytest.fixture
def settings() -> Settings:
    return Settings(file=parse_file_config(CONFIG))


@pytest.fixture
def shop(engine):
    """Ana bought tea and a teapot twice; Bo and Cy bought tea too, and also cups and honey."""
    with engine.begin() as conn:
        ids = {name: add_customer(conn, wa, name, last_inbound_at=NOW - timedelta(minutes=5))
               for name, wa in (("Ana", "15550000001"), ("Bo", "15550000002"), ("Cy", "15550000003"),
                                ("Dee", "15550000004"))}
        add_product(conn, 1, "Green Tea", [11])
        add_product(conn, 2, "Teapot", [21])
        add_product(conn, 3, "Tea Cups", [31])
        add_product(conn, 4, "Honey", [41])
        add_product(conn, 5, "Old Kettle", [51], status="archived")
        add_product(conn, 6, "Dog Bed", [61])
        add_order(conn, 1001, ids["Ana"], [(1, 11, "Green Tea", 2, "8.00")], created_at=NOW - timedelta(days=40),
                  fulfillment_status="fulfilled")
        add_order(conn, 1002, ids["Ana"], [(1, 11, "Green Tea", 3, "8.00"), (2, 21, "Teapot", 1, "30.00")],
                  created_at=NOW - timedelta(days=3), fulfillment_status="fulfilled",
                  tracking_url="https://track.example/1002", tracking_number="1Z999")
        add_order(conn, 1003, ids["Ana"], [(6, 61, "Dog Bed", 1, "50.00")], created_at=NOW - timedelta(days=1),
                  cancelled=True)
        for order_id, who, extra in ((2001, "Bo", (3, 31, "Tea Cups", 1, "12.00")),
                                     (2002, "Cy", (3, 31, "Tea Cups", 2, "12.00")),
                                     (2003, "Cy", (4, 41, "Honey", 1, "6.00")),
                                     (2004, "Bo", (5, 51, "Old Kettle", 1, "20.00"))):
            add_order(conn, order_id, ids[who], [(1, 11, "Green Tea", 1, "8.00"), extra],
                      created_at=NOW - timedelta(days=10))
        add_order(conn, 3001, ids["Dee"], [(6, 61, "Dog Bed", 1, "50.00")], created_at=NOW - timedelta(days=10))
        add_order(conn, 3002, None, [(6, 61, "Dog Bed", 1, "50.00")], created_at=NOW - timedelta(days=9))
        add_segment(conn, ids["Ana"], "sale_shopper", {"discount_share": 1.0})
    return ids


def run(engine, settings, wa_id, intent, reply_id=None, text=None):
    with engine.begin() as conn:
        services = FlowServices.bound(settings, ReplyBook.from_settings(settings), conn, NOW, current_segments)
        outcome = runner.run_intent(IntentDecision(intent, 1.0, "button" if reply_id else "phrase"),
                                    services, wa_id, text, reply_id)
        customer_id = conn.execute(sa.text("select id from customers where wa_id = :w"), {"w": wa_id}).scalar()
        if customer_id is not None:
            effects.apply_events(conn, customer_id, outcome.events, now=NOW)
    return outcome


def body(message: dict) -> str:
    return message["text"]["body"] if message["type"] == "text" else message["interactive"]["body"]["text"]


def choices(message: dict) -> list[tuple[str, str]]:
    from bot.whatsapp.simulate import choices_of

    return choices_of(message)


def test_order_status_names_the_newest_order_its_state_and_tracking(engine, settings, shop):
    outcome = run(engine, settings, "15550000001", "order_status")
    text = body(outcome.messages[0])
    # The cancelled dog bed is the newest order; order status reports it honestly.
    assert "#1003" in text and "cancelled" in text and "Dog Bed" in text


def test_order_status_with_tracking(engine, settings, shop):
    with engine.begin() as conn:
        conn.execute(sa.text("delete from orders where id = 1003"))
    message = run(engine, settings, "15550000001", "order_status").messages[0]
    assert body(message) == ("Your last order #1002 (3 × Green Tea, 1 × Teapot) is on its way. "
                             "Track it here: https://track.example/1002")
    assert message["type"] == "text" and message["text"]["preview_url"] is True


def test_no_orders(engine, settings):
    with engine.begin() as conn:
        add_customer(conn, "15559999999", "Eve")
    message = run(engine, settings, "15559999999", "order_status").messages[0]
    assert "couldn't find an order" in body(message)


def test_reorder_offers_the_last_counted_order_and_the_button_builds_the_cart(engine, settings, shop):
    summary = run(engine, settings, "15550000001", "reorder").messages[0]
    assert body(summary) == "Your last order #1002: 3 × Green Tea, 1 × Teapot. Tap Reorder to get it again."
    assert choices(summary) == [("reorder:confirm:1002", "Reorder")]
    link = run(engine, settings, "15550000001", "reorder", reply_id="reorder:confirm:1002").messages[0]
    assert body(link) == ("Here's your cart with the same items, ready to check out: "
                          "https://acme.myshopify.com/cart/11:3,21:1")
    assert link["text"]["preview_url"] is True


def test_a_tapped_reorder_id_cannot_reveal_another_customers_order(engine, settings, shop):
    message = run(engine, settings, "15550000002", "reorder", reply_id="reorder:confirm:1002").messages[0]
    assert "#1002" not in body(message) and "Teapot" not in body(message)
    assert choices(message) == [("reorder:confirm:2004", "Reorder")]


def test_cart_url_merges_variants_and_needs_a_shop():
    items = [store.OrderItem("Tea", None, 2, 11, 1, None), store.OrderItem("Tea", None, 1, 11, 1, None),
             store.OrderItem("Gift card", None, 1, None, None, None)]
    assert store.cart_url("https://acme.myshopify.com/", items) == "https://acme.myshopify.com/cart/11:3"
    assert store.cart_url("", items) is None


def test_recommend_cross_sells_what_neighbours_bought(engine, settings, shop):
    outcome = run(engine, settings, "15550000001", "recommend")
    message = outcome.messages[0]
    assert message["interactive"]["type"] == "list"
    rows = message["interactive"]["action"]["sections"][0]["rows"]
    # Cups (Bo and Cy) before Honey (Cy); the archived kettle and what Ana owns are left out;
    # the dog bed (bought by Dee and a guest) only after the co-purchases.
    assert [r["title"] for r in rows] == ["Tea Cups", "Honey", "Dog Bed"]
    assert rows[0]["id"] == "recommend:cart:31" and rows[0]["description"] == "Bought by 2 customers like you"
    assert "Tea Cups, Honey and Dog Bed" in body(message)
    cart = run(engine, settings, "15550000001", "recommend", reply_id="recommend:cart:31").messages[0]
    assert body(cart) == "Here's Tea Cups in your cart, ready to check out: https://acme.myshopify.com/cart/31:1"


def test_recommend_falls_back_to_favourites_for_a_new_customer(engine, settings, shop):
    with engine.begin() as conn:
        add_customer(conn, "15559999999", "Eve")
    message = run(engine, settings, "15559999999", "recommend").messages[0]
    assert body(message).startswith("Our customers' favourites right now include Green Tea")


def test_sale_early_access_for_sale_shoppers_only(engine, settings, shop):
    early = run(engine, settings, "15550000001", "sale")
    assert "EARLY20" in body(early.messages[0]) and early.segment == "sale_shopper"
    other = run(engine, settings, "15550000002", "sale")
    assert "EARLY20" not in body(other.messages[0])


def test_preferences_list_and_answer_becomes_the_interest_attribute(engine, settings, shop):
    message = run(engine, settings, "15550000002", "preferences").messages[0]
    assert message["interactive"]["type"] == "list"
    assert choices(message)[1] == ("preferences:interest:Pets", "Pets")
    outcome = run(engine, settings, "15550000002", "preferences", reply_id="preferences:interest:Pets")
    assert outcome.events[0]["name"] == "interest" and "Got it" in body(outcome.messages[0])
    with engine.connect() as conn:
        row = conn.execute(sa.select(customer_attributes)).mappings().one()
    assert (row["customer_id"], row["name"], row["value"], row["source"]) == (shop["Bo"], "interest", "Pets", "chat")
    # A made-up answer is not stored; the list comes again.
    again = run(engine, settings, "15550000002", "preferences", reply_id="preferences:interest:Knitting")
    assert again.events == [] and again.messages[0]["interactive"]["type"] == "list"


def test_opt_out_and_in_are_applied(engine, settings, shop):
    run(engine, settings, "15550000001", "stop")
    with engine.connect() as conn:
        assert conn.execute(sa.text("select opted_out from customers where wa_id='15550000001'")).scalar()
    run(engine, settings, "15550000001", "start")
    with engine.connect() as conn:
        assert not conn.execute(sa.text("select opted_out from customers where wa_id='15550000001'")).scalar()


def test_fallback_twice_hands_off_when_the_action_counts(engine, settings, shop):
    first = run(engine, settings, "15550000003", "fallback")
    assert first.events == [{"event": "slot", "timestamp": None, "name": "fallback_streak", "value": 1}]
    second = run(engine, settings, "15550000003", "fallback")
    assert second.events[0]["event"] == "pause" and "member of our team" in body(second.messages[0])
    with engine.connect() as conn:
        assert handoff.get(conn, shop["Cy"]).state == handoff.PENDING
