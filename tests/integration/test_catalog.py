"""The catalog (docs/catalog.md): recommendations as product messages when [store] catalog_id is
set, today's text list without one; a cart sent from the catalog answered with a Shopify cart link,
the items we cannot map named. In process against a real database, then the real server against
the fake Graph API (which refuses product bodies outside Meta's shape)."""
from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.config import Settings, parse_file_config
from bot.core.tables import inbound_events
from bot.core.tables import outbox as outbox_table
from bot.whatsapp import graph, simulate
from flows import runner
from flows.context import FlowServices
from flows.nlu import IntentDecision
from flows.replies import ReplyBook
from segments.membership import current_segments
from segments.tables import line_items, variants
from tests.conftest import free_port, fuzz_examples, load_fixture
from tests.integration import test_flow_actions
from tests.integration.test_flow_actions import CONFIG, body, run
from tests.integration.test_hostile_input import answered, post
from tests.support.fake_graph import check_body
from tests.support.idle import wait_idle, wait_texts
from tests.support.seed import NOW, add_customer, add_order, add_product, set_language_evidence
from webhook import create_app

CATALOG = "354160437058781"
ANA = "15550000001"
SKUS = {31: "CUP-31", 41: "HONEY", 61: "DOGBED"}
shop = test_flow_actions.shop  # the fixture: Ana, her neighbours and what they bought


def settings_with(**store) -> Settings:
    config = {**CONFIG, "store": {**CONFIG["store"], **store}}
    return Settings(file=parse_file_config(config))


def with_skus(engine, skus=SKUS) -> None:
    with engine.begin() as conn:
        for variant_id, sku in skus.items():
            conn.execute(sa.update(variants).where(variants.c.id == variant_id).values(sku=sku))


def interactive(message: dict) -> dict:
    assert message["type"] == "interactive"
    return message["interactive"]


def sections(message: dict) -> list[tuple[str, list[str]]]:
    return [(s["title"], [p["product_retailer_id"] for p in s["product_items"]])
            for s in interactive(message)["action"]["sections"]]


def cart(engine, settings, wa_id, items, catalog_id=CATALOG):
    """An inbound cart through the flow the worker runs for it."""
    with engine.begin() as conn:
        services = FlowServices.bound(settings, ReplyBook.from_settings(settings), conn, NOW, current_segments)
        outcome = runner.run_intent(IntentDecision("cart", 1.0, "order"), services, wa_id, "", None,
                                    order={"catalog_id": catalog_id, "items": items})
    assert outcome.action == "action_cart" and outcome.events == []
    [message] = outcome.messages
    return message


# ---------------------------------------------------------------- recommendations

def test_with_a_catalog_recommendations_are_a_product_list_of_catalog_skus(engine, shop):
    with_skus(engine)
    [message] = run(engine, settings_with(catalog_id=CATALOG), ANA, "recommend").messages
    inner = interactive(message)
    assert inner["type"] == "product_list" and inner["action"]["catalog_id"] == CATALOG
    assert inner["header"] == {"type": "text", "text": "Picked for you"}
    # What buyers like Ana bought first, the store's favourites after: the order of the text list.
    assert sections(message) == [("Customers like you", ["CUP-31", "HONEY"]), ("Our favourites", ["DOGBED"])]
    assert body(message) == "Customers who bought what you have also loved Tea Cups, Honey and Dog Bed."


def test_shopifys_own_catalog_ids_need_no_sku(engine, shop):
    settings = settings_with(catalog_id=CATALOG, catalog_retailer_id="shopify_US_{product_id}_{variant_id}")
    [message] = run(engine, settings, ANA, "recommend").messages
    assert sections(message) == [("Customers like you", ["shopify_US_3_31", "shopify_US_4_41"]),
                                 ("Our favourites", ["shopify_US_6_61"])]


def test_products_without_a_sku_are_left_out_and_one_left_is_a_single_product(engine, shop):
    with_skus(engine, {41: "HONEY"})
    [message] = run(engine, settings_with(catalog_id=CATALOG), ANA, "recommend").messages
    inner = interactive(message)
    assert inner["type"] == "product" and "header" not in inner
    assert inner["action"] == {"catalog_id": CATALOG, "product_retailer_id": "HONEY"}
    assert body(message) == "Customers who bought what you have also loved Honey."


def test_a_sku_known_only_from_the_line_items_that_sold_it(engine, shop):
    with engine.begin() as conn:
        conn.execute(sa.update(line_items).where(line_items.c.variant_id == 61).values(sku="BED-L"))
    [message] = run(engine, settings_with(catalog_id=CATALOG), ANA, "recommend").messages
    assert interactive(message)["action"]["product_retailer_id"] == "BED-L"


def test_no_sku_at_all_falls_back_to_the_text_list(engine, shop):
    with_skus(engine, {})
    with_catalog = run(engine, settings_with(catalog_id=CATALOG), ANA, "recommend").messages
    assert with_catalog == run(engine, settings_with(), ANA, "recommend").messages
    assert interactive(with_catalog[0])["type"] == "list"


def test_without_a_catalog_recommendations_are_todays_text_list(engine, shop):
    with_skus(engine)
    [message] = run(engine, settings_with(), ANA, "recommend").messages
    inner = interactive(message)
    assert inner["type"] == "list" and "catalog_id" not in inner["action"]
    rows = inner["action"]["sections"][0]["rows"]
    assert [(r["id"], r["title"]) for r in rows] == [("recommend:cart:31", "Tea Cups"), ("recommend:cart:41", "Honey"),
                                                    ("recommend:cart:61", "Dog Bed")]


def test_a_product_list_in_the_customers_language(engine, shop):
    with_skus(engine)
    with engine.begin() as conn:
        set_language_evidence(conn, shop["Ana"], choice="es")
    [message] = run(engine, settings_with(catalog_id=CATALOG, languages=["en", "es"]), ANA, "recommend").messages
    inner = interactive(message)
    assert inner["header"]["text"] == "Elegidos para ti"
    assert [title for title, _ in sections(message)] == ["Clientes como tú", "Nuestros favoritos"]


# ---------------------------------------------------------------- carts

def test_a_cart_is_answered_with_a_cart_link_unknown_items_named_quantities_kept(engine, shop):
    with_skus(engine)
    message = cart(engine, settings_with(catalog_id=CATALOG), ANA, [
        {"product_retailer_id": "CUP-31", "quantity": 2}, {"product_retailer_id": "HONEY", "quantity": 5},
        {"product_retailer_id": "GIFT-BOX", "quantity": 1}, {"product_retailer_id": "CUP-31", "quantity": 1.0}])
    assert message["type"] == "text" and message["text"]["preview_url"] is True
    assert body(message) == ("I couldn't find GIFT-BOX in our shop. The rest of your cart is ready to check out: "
                             "https://acme.myshopify.com/cart/31:3,41:5")


def test_a_cart_through_shopifys_catalog_ids_and_a_product_id_format(engine, shop):
    settings = settings_with(catalog_retailer_id="shopify_US_{product_id}_{variant_id}")
    message = cart(engine, settings, ANA, [{"product_retailer_id": "shopify_US_3_31", "quantity": 4},
                                           {"product_retailer_id": "CUP-31", "quantity": 1}])
    assert body(message).endswith("https://acme.myshopify.com/cart/31:4") and "CUP-31" in body(message)
    with engine.begin() as conn:
        add_product(conn, 7, "Rug", [72, 71])
    by_product = cart(engine, settings_with(catalog_retailer_id="P{product_id}"), ANA,
                      [{"product_retailer_id": "P7", "quantity": 1}, {"product_retailer_id": "P8", "quantity": 1}])
    # A product-level id names the product: its first variant goes in the cart; P8 is no product of ours.
    assert body(by_product) == ("I couldn't find P8 in our shop. The rest of your cart is ready to check out: "
                                "https://acme.myshopify.com/cart/71:1")


def test_a_cart_of_nothing_we_know_names_the_items_and_offers_a_person(engine, shop):
    with_skus(engine)
    items = [{"product_retailer_id": f"X-{i}", "quantity": 1} for i in range(7)] + [{"quantity": 2}]
    message = cart(engine, settings_with(catalog_id=CATALOG), ANA, items)
    assert body(message) == ("Sorry Ana, I couldn't find X-0, X-1, X-2, X-3, X-4 and 3 more in our shop. "
                             "Type HUMAN and our team will help you order.")
    empty = cart(engine, settings_with(catalog_id=CATALOG), ANA, [])
    assert "couldn't read the items in your cart" in body(empty)


def test_without_a_shop_domain_a_cart_gets_a_clear_answer_without_a_link(engine, shop):
    with_skus(engine)
    message = cart(engine, settings_with(catalog_id=CATALOG, shop_domain=""), ANA,
                   [{"product_retailer_id": "CUP-31", "quantity": 2}])
    assert body(message).startswith("Thanks for your cart, Ana! I can't turn it into a checkout link here")
    assert "http" not in body(message)


def test_a_cart_answered_in_the_customers_language(engine, shop):
    with_skus(engine)
    with engine.begin() as conn:
        set_language_evidence(conn, shop["Ana"], choice="pt")
    message = cart(engine, settings_with(languages=["en", "pt"]), ANA,
                   [{"product_retailer_id": "HONEY", "quantity": 2}, {"product_retailer_id": "NOPE", "quantity": 1}])
    assert body(message) == ("Não encontrei na nossa loja: NOPE. O resto do seu carrinho está pronto para finalizar a "
                             "compra: https://acme.myshopify.com/cart/41:2")


# ---------------------------------------------------------------- the real server, the fake Graph API

CATALOG_TOML = f"""
[store]
name = "Acme Home"
shop_domain = "acme.myshopify.com"
catalog_id = "{CATALOG}"
"""


def seed_shop(engine) -> None:
    """Ana bought tea; Bo bought tea and cups; Cy honey: cups cross-sell, honey is a favourite."""
    with engine.begin() as conn:
        ana, bo, cy = (add_customer(conn, wa, name) for wa, name in ((ANA, "Ana"), ("15550000002", "Bo"),
                                                                     ("15550000003", "Cy")))
        for product_id, title, variant_id in ((1, "Green Tea", 11), (3, "Tea Cups", 31), (4, "Honey", 41)):
            add_product(conn, product_id, title, [variant_id])
        add_order(conn, 1001, ana, [(1, 11, "Green Tea", 1, "8.00")], created_at=NOW)
        add_order(conn, 1002, bo, [(1, 11, "Green Tea", 1, "8.00"), (3, 31, "Tea Cups", 1, "12.00")], created_at=NOW)
        add_order(conn, 1003, cy, [(4, 41, "Honey", 1, "6.00")], created_at=NOW)
    with_skus(engine, {31: "CUP-31", 41: "HONEY"})


def test_served_a_recommendation_is_a_product_list_meta_accepts(start_server, fake_graph, engine):
    seed_shop(engine)
    server = start_server(fake_graph, CATALOG_TOML)
    server.post(simulate.text_payload(ANA, "any recommendations?", name="Ana"))
    wait_idle(engine, graph=fake_graph)
    [sent] = fake_graph.messages(ANA)
    assert sent.status == 200 and sent.body["to"] == ANA
    assert sections(sent.body) == [("Customers like you", ["CUP-31"]), ("Our favourites", ["HONEY"])]
    assert sent.body["interactive"]["action"]["catalog_id"] == CATALOG


def test_served_one_product_with_a_sku_is_a_single_product_and_no_catalog_the_text_list(start_server, fake_graph,
                                                                                        engine):
    seed_shop(engine)
    with_skus(engine, {31: None})
    server = start_server(fake_graph, CATALOG_TOML)
    server.post(simulate.text_payload(ANA, "any recommendations?", name="Ana"))
    wait_idle(engine, graph=fake_graph)
    [sent] = fake_graph.messages(ANA)
    assert sent.body["interactive"]["type"] == "product"
    assert sent.body["interactive"]["action"] == {"catalog_id": CATALOG, "product_retailer_id": "HONEY"}
    server.stop()
    plain = start_server(fake_graph, CATALOG_TOML.replace(f'catalog_id = "{CATALOG}"\n', ""))
    plain.post(simulate.text_payload(ANA, "any recommendations?", name="Ana"))
    wait_idle(engine, graph=fake_graph)
    [_, text_list] = fake_graph.messages(ANA)
    assert text_list.body["interactive"]["type"] == "list"
    assert simulate.choices_of(text_list.body) == [("recommend:cart:31", "Tea Cups"), ("recommend:cart:41", "Honey")]


def test_served_an_inbound_cart_is_answered_with_its_cart_link(start_server, fake_graph, engine):
    seed_shop(engine)
    server = start_server(fake_graph, CATALOG_TOML)
    payload = load_fixture("whatsapp", "order__pywa-order.json")  # Meta's shape, as pywa records it
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Ana"}, "wa_id": ANA}]
    message = value["messages"][0]
    message.update({"from": ANA, "timestamp": str(int(time.time()))})
    message["order"]["catalog_id"] = CATALOG
    message["order"]["product_items"][:2] = [
        {"product_retailer_id": "CUP-31", "quantity": 3, "item_price": 12, "currency": "USD"},
        {"product_retailer_id": "HONEY", "quantity": 2, "item_price": 6, "currency": "USD"}]
    server.post(payload)
    wait_idle(engine, graph=fake_graph)
    [sent] = fake_graph.messages(ANA)
    assert sent.body["type"] == "text"
    assert sent.body["text"]["body"] == ("I couldn't find SODA in our shop. The rest of your cart is ready to check "
                                         "out: https://acme.myshopify.com/cart/31:3,41:2")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("select intent, handled from inbound_messages where type = 'order'")).one()
    assert tuple(stored) == ("cart", "replied")


# ---------------------------------------------------------------- hostile carts, through the webhook and worker

# Storable text: a NUL or a lone surrogate quarantines the message at the webhook (test_hostile_input.py).
TEXT = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
HOSTILE_ITEM = st.fixed_dictionaries({}, optional={
    "product_retailer_id": st.one_of(
        st.text(TEXT, max_size=120), st.integers(-10**19, 10**19), st.none(),  # 21 digits: quarantined
        st.builds("shopify_US_{}_{}".format, st.integers(0, 10**25), st.integers(0, 10**25)),
        st.sampled_from(["CUP-31", "HONEY", "shopify_US_3_31", "'; drop table variants; --", "%", "_"])),
    "quantity": st.one_of(st.integers(-10, 10**6), st.floats(allow_nan=False, allow_infinity=False),
                          st.text(TEXT, max_size=5), st.none(), st.booleans())})


@pytest.fixture
def catalog_app(settings_for, engine):
    app = create_app(settings_for(toml=CATALOG_TOML + 'catalog_retailer_id = "shopify_US_{product_id}_{variant_id}"\n'))
    yield app
    app.extensions["wabot"].close()


@settings(max_examples=fuzz_examples(300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(items=st.lists(HOSTILE_ITEM, max_size=150), case=st.uuids())
def test_a_hostile_cart_gets_one_answer_and_nothing_fails(catalog_app, engine, items, case):
    """Whatever a cart holds (ids past BIGINT, SQL in a SKU, odd quantities, 150 lines), the
    customer gets one answer and no event fails or dies."""
    wa_id = f"1556{case.int % 10**7:07d}"
    payload = simulate.text_payload(wa_id, "x", name="Ana", message_id=f"wamid.cart.{case.hex}")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update({"type": "order", "order": {"catalog_id": CATALOG, "product_items": items}})
    del message["text"]
    assert post(catalog_app, json.dumps(payload).encode()).status_code == 200
    assert answered(catalog_app).get(wa_id) == 1
    with engine.connect() as conn:
        failed = conn.execute(sa.select(sa.func.count()).select_from(inbound_events)
                              .where(inbound_events.c.state.in_(("pending", "dead")))).scalar()
        [reply] = conn.execute(sa.select(outbox_table.c.payload).where(outbox_table.c.recipient == wa_id)).scalars()
    assert failed == 0
    assert check_body(graph.envelope(wa_id, reply, None)) is None


def test_with_rasa_a_cart_and_its_note_stay_with_wabot(start_server, fake_graph, engine):
    """Rasa is down (nothing listens): a cart is still answered at once, by action_cart."""
    seed_shop(engine)
    server = start_server(fake_graph, CATALOG_TOML, WABOT_RASA_URL=f"http://127.0.0.1:{free_port()}")
    payload = simulate.text_payload(ANA, "x", name="Ana")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message.update({"type": "order", "order": {"catalog_id": CATALOG, "text": "where is my order? hurry please",
                                               "product_items": [{"product_retailer_id": "HONEY", "quantity": 2}]}})
    del message["text"]
    server.post(payload)
    [reply] = wait_texts(fake_graph, engine, ANA, 1)
    assert reply == "Here's your cart, ready to check out: https://acme.myshopify.com/cart/41:2"
