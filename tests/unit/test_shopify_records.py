"""bot/shopify/records.py: a GraphQL node is the same record as its REST twin, and hostile values
in a node are a RowError, never anything else."""
from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.shopify import queries, records
from segments import shopify
from segments.shopify import RowError
from tests.conftest import FIXTURES
from tests.support import fake_shopify, storegen
from tests.support.mutate import paths, replace

# An order as the Admin API's GraphQL returns it (shapes of shopify.dev's Order object), with its
# REST twin written by hand: the mapping is checked against Shopify's two spellings, not against
# our fake's conversion alone.
GRAPHQL_ORDER = {
    "id": "gid://shopify/Order/5501", "name": "#1001", "createdAt": "2026-03-01T10:00:00Z",
    "updatedAt": "2026-03-02T08:30:00Z", "processedAt": "2026-03-01T10:00:00Z", "cancelledAt": None,
    "displayFinancialStatus": "PARTIALLY_REFUNDED", "displayFulfillmentStatus": "PARTIALLY_FULFILLED",
    "email": "ana@example.com", "phone": None, "currencyCode": "BRL", "customerLocale": "pt-BR",
    "statusPageUrl": "https://acme.myshopify.com/55/orders/abc/authenticate?key=k", "discountCodes": ["SPRING"],
    "totalPriceSet": {"shopMoney": {"amount": "129.90", "currencyCode": "BRL"}},
    "totalDiscountsSet": {"shopMoney": {"amount": "10.0", "currencyCode": "BRL"}},
    "customer": {"id": "gid://shopify/Customer/77", "firstName": "Ana", "lastName": "Souza", "locale": "pt-BR",
                 "defaultEmailAddress": {"emailAddress": "ana@example.com"},
                 "defaultPhoneNumber": {"phoneNumber": "+5511987654321"}},
    "billingAddress": None,
    "shippingAddress": {"phone": None, "firstName": "Ana", "lastName": "Souza", "countryCodeV2": "BR",
                        "provinceCode": "SP", "province": "São Paulo", "city": "Campinas"},
    "fulfillments": [{"trackingInfo": [{"company": "Correios", "number": "BR123", "url": "https://t.example/BR123"}]}],
    "lineItems": [
        {"id": "gid://shopify/LineItem/9001", "sku": "TEA-500", "title": "Green tea", "name": "Green tea - 500 g",
         "variantTitle": "500 g", "vendor": "Acme", "quantity": 2,
         "originalUnitPriceSet": {"shopMoney": {"amount": "59.95", "currencyCode": "BRL"}},
         "product": {"id": "gid://shopify/Product/301"}, "variant": {"id": "gid://shopify/ProductVariant/3011"}},
        {"id": "gid://shopify/LineItem/9002", "sku": None, "title": "Gift wrap", "name": "Gift wrap",
         "variantTitle": None, "vendor": None, "quantity": 1, "originalUnitPriceSet": None,
         "product": None, "variant": None},
    ],
}
REST_ORDER = {
    "id": 5501, "name": "#1001", "created_at": "2026-03-01T07:00:00-03:00", "updated_at": "2026-03-02T05:30:00-03:00",
    "cancelled_at": None, "financial_status": "partially_refunded", "fulfillment_status": "partial",
    "email": "ana@example.com", "phone": None, "currency": "BRL", "customer_locale": "pt-BR",
    "order_status_url": "https://acme.myshopify.com/55/orders/abc/authenticate?key=k",
    "discount_codes": [{"code": "SPRING", "amount": "10.00", "type": "fixed_amount"}],
    "total_price": "129.90", "total_discounts": "10.00",
    "customer": {"id": 77, "first_name": "Ana", "last_name": "Souza", "email": "ana@example.com",
                 "phone": "+55 11 98765-4321", "locale": "pt-BR"},
    "shipping_address": {"first_name": "Ana", "last_name": "Souza", "country_code": "BR", "province_code": "SP",
                         "province": "São Paulo", "city": "Campinas"},
    "fulfillments": [{"tracking_company": "Correios", "tracking_number": "BR123",
                      "tracking_url": "https://t.example/BR123"}],
    "line_items": [
        {"id": 9001, "product_id": 301, "variant_id": 3011, "sku": "TEA-500", "title": "Green tea",
         "name": "Green tea - 500 g", "variant_title": "500 g", "vendor": "Acme", "quantity": 2, "price": "59.95"},
        {"id": 9002, "product_id": None, "variant_id": None, "sku": None, "title": "Gift wrap", "quantity": 1,
         "price": None},
    ],
}


def test_a_graphql_order_is_the_record_of_its_rest_twin():
    record = records.order_from_graphql(GRAPHQL_ORDER, "US")
    assert record == shopify.order_from_json(REST_ORDER, "US")
    assert record.id == 5501 and record.buyer.shopify_customer_id == 77
    assert record.buyer.phone.wa_id == "5511987654321"
    assert record.total_price == Decimal("129.90") and record.total_discounts == Decimal("10.00")
    assert record.financial_status == "partially_refunded" and record.fulfillment_status == "partial"
    assert (record.ship_country, record.ship_province, record.ship_city) == ("BR", "SP", "Campinas")
    assert (record.tracking_company, record.tracking_number) == ("Correios", "BR123")
    assert [(li.line_item_id, li.product_id, li.variant_id) for li in record.line_items] == \
        [(9001, 301, 3011), (9002, None, None)]


def test_children_read_as_a_list_or_as_a_connection():
    paged = {**GRAPHQL_ORDER, "lineItems": {"edges": [{"node": li} for li in GRAPHQL_ORDER["lineItems"]],
                                           "pageInfo": {"hasNextPage": False, "endCursor": None}}}
    assert records.order_from_graphql(paged, "US") == records.order_from_graphql(GRAPHQL_ORDER, "US")


@pytest.mark.parametrize("status, expected", [("FULFILLED", "fulfilled"), ("UNFULFILLED", None), ("ON_HOLD", None),
                                              ("RESTOCKED", "restocked"), (None, None)])
def test_fulfillment_status_is_rests(status, expected):
    node = {**GRAPHQL_ORDER, "displayFulfillmentStatus": status}
    assert records.order_from_graphql(node, "US").fulfillment_status == expected


def as_graphql(typename: str, rest: dict) -> dict:
    """The REST object through the fake's own conversion, with only the fields our queries name,
    children attached as a reassembled export has them."""
    kind = queries.KINDS[{"Order": "orders", "Customer": "customers", "Product": "products"}[typename]]
    words = fake_shopify._words(queries.bulk_query(kind))
    node, children = fake_shopify.CONVERT[typename](rest)
    node = fake_shopify.select(node, words)
    if kind.children:
        node[kind.children.field] = [fake_shopify.select(c, words) for c in children]
    return json.loads(json.dumps(node))


def test_shopifys_sample_webhooks_map_to_the_same_records():
    order = json.loads((FIXTURES / "shopify" / "orders_create__shopify-docs-example__api-2025-01.json").read_text())
    assert records.order_from_graphql(as_graphql("Order", order), "US") == shopify.order_from_json(order, "US")
    product = json.loads((FIXTURES / "shopify" / "products_create-or-update__shopify-docs-example__api-2025-01.json")
                         .read_text())
    assert records.product_from_graphql(as_graphql("Product", product)) == shopify.product_from_json(product)
    customer = json.loads((FIXTURES / "shopify" / "customers_create__shopify-docs-example__api-2026-04.json")
                          .read_text())
    from_rest = shopify.customer_from_json(customer, "US")
    # The sample has no `tags` (REST: nothing said); GraphQL always lists them (here: none).
    assert records.customer_from_graphql(as_graphql("Customer", customer), "US") == \
        dataclasses.replace(from_rest, tags=())
    assert from_rest.attributes == {"note": "This customer loves ice cream"}


def test_every_generated_order_maps_to_the_same_record():
    for order in storegen.generate(seed=3, buyers=80, chat_only=0).all_orders():
        rest = json.loads(json.dumps(order.as_json()))
        assert records.order_from_graphql(as_graphql("Order", rest), "US") == shopify.order_from_json(rest, "US")


def test_consent_and_tags_of_a_customer():
    node = {"id": "gid://shopify/Customer/5", "firstName": "Li", "tags": ["VIP", "Wholesale"],
            "updatedAt": "2026-01-01T00:00:00Z",
            "defaultEmailAddress": {"emailAddress": "li@example.com", "marketingState": "NOT_SUBSCRIBED"},
            "defaultPhoneNumber": {"phoneNumber": "+14155550100", "marketingState": "SUBSCRIBED"}}
    record = records.customer_from_graphql(node, "US")
    assert record.accepts_marketing is True and record.tags == ("vip", "wholesale")
    assert record.phone.wa_id == "14155550100" and record.attributes == {}
    unsubscribed = {**node, "defaultPhoneNumber": {"phoneNumber": "+14155550100", "marketingState": "UNSUBSCRIBED"}}
    assert records.customer_from_graphql(unsubscribed, "US").accepts_marketing is False
    assert records.customer_from_graphql({"id": "gid://shopify/Customer/5"}, "US").accepts_marketing is None


# An abandoned checkout as GraphQL has it (shopify.dev's AbandonedCheckout: no token, phone, email
# or locale of its own) and the checkouts/create body Shopify would send for it.
GRAPHQL_CHECKOUT = {
    "id": "gid://shopify/AbandonedCheckout/35550298931313", "createdAt": "2026-03-01T10:00:00Z",
    "updatedAt": "2026-03-01T10:20:00Z", "completedAt": None,
    "abandonedCheckoutUrl": "https://acme.myshopify.com/59026964593/checkouts/84ad78572dae52a8cbea7d55371afe89"
                            "/recover?key=0385163be3875d3a2117e982d9cc3517&locale=pt-BR",
    "totalPriceSet": {"presentmentMoney": {"amount": "266.0", "currencyCode": "BRL"}},
    "customer": {"id": "gid://shopify/Customer/77", "firstName": "Ana", "lastName": "Lima", "locale": "pt-BR",
                 "defaultEmailAddress": {"emailAddress": "ana@example.com"},
                 "defaultPhoneNumber": {"phoneNumber": "+5511987654321"}},
    "shippingAddress": {"phone": None, "firstName": "Ana", "lastName": "Lima"}, "billingAddress": None,
    "lineItems": {"nodes": [{"title": "Dog Food", "quantity": 2}, {"title": "Leash", "quantity": 1}]},
}
REST_CHECKOUT = {
    "id": 35550298931313, "token": "84ad78572dae52a8cbea7d55371afe89", "email": "ana@example.com",
    "created_at": "2026-03-01T07:00:00-03:00", "updated_at": "2026-03-01T07:20:00-03:00", "completed_at": None,
    "abandoned_checkout_url": GRAPHQL_CHECKOUT["abandonedCheckoutUrl"], "total_price": "266.00",
    "presentment_currency": "BRL", "currency": "BRL",
    "customer": {"id": 77, "first_name": "Ana", "last_name": "Lima", "email": "ana@example.com",
                 "phone": "+5511987654321", "locale": "pt-BR"},
    "shipping_address": {"first_name": "Ana", "last_name": "Lima", "phone": None},
    "line_items": [{"title": "Dog Food", "quantity": 2, "price": "100.00"}, {"title": "Leash", "quantity": 1}],
}


def test_a_graphql_checkout_is_the_record_of_its_rest_twin():
    record = records.checkout_from_graphql(GRAPHQL_CHECKOUT, "US")
    assert record == shopify.checkout_from_json(REST_CHECKOUT, "US")
    assert record.token == "84ad78572dae52a8cbea7d55371afe89" and record.shopify_id == 35550298931313
    assert record.buyer.phone.wa_id == "5511987654321" and record.items == "2 × Dog Food, Leash"
    assert record.total_price == Decimal("266.00") and record.currency == "BRL"


def test_a_phone_on_an_address_only_is_the_checkouts_phone():
    node = {**GRAPHQL_CHECKOUT, "customer": None, "shippingAddress": {"phone": "+5511912345678", "firstName": "Bia"}}
    record = records.checkout_from_graphql(node, "US")
    assert record.buyer.phone.wa_id == "5511912345678" and record.buyer.first_name == "Bia"


@pytest.mark.parametrize("url, token", [
    ("https://acme.myshopify.com/548380009/checkouts/b1946ac9249/recover?key=k", "b1946ac9249"),
    ("https://acme.myshopify.com/checkouts/b1946ac9249", "b1946ac9249"),
    # The new checkout's URL names the cart's token, which no checkouts/* webhook sends as the token.
    ("https://acme.myshopify.com/59026964593/checkouts/ac/Z2NwLXVzLWVhc3Qx/recover?key=k&locale=en-US", "gid:42"),
    ("https://acme.myshopify.com/checkouts/cn/Z2NwLXVzLWVhc3Qx", "gid:42"),
    ("https://acme.myshopify.com/cart", "gid:42"), (None, "gid:42"), ("http://[::1", "gid:42"),
])
def test_the_checkout_token_is_read_off_the_url_or_is_the_id(url, token):
    assert records.checkout_token({"id": "gid://shopify/AbandonedCheckout/42", "abandonedCheckoutUrl": url}) == token


def test_a_checkout_without_url_or_id_has_no_token():
    with pytest.raises(RowError, match="no checkout token"):
        records.checkout_from_graphql({**GRAPHQL_CHECKOUT, "id": None, "abandonedCheckoutUrl": None}, "US")


def test_every_shape_of_the_fakes_checkouts_maps_to_the_rest_record():
    rest = {**REST_CHECKOUT, "completed_at": "2026-03-02T10:00:00Z",
            "line_items": [{"title": f"Item {k}", "quantity": k} for k in range(1, 6)]}
    node, _ = fake_shopify.checkout_node(rest)
    words = fake_shopify._words(queries.page_query(queries.KINDS["checkouts"]))
    assert records.checkout_from_graphql(fake_shopify.select(node, words), "US") == \
        shopify.checkout_from_json(rest, "US")


hostile = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text(max_size=30), st.just("\x00"), st.just("x" * 5000), st.just("1e1000000"),
                    st.just("gid://shopify/Order/"), st.just("gid://shopify/Order/99999999999999999999999"),
                    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))

SAMPLES = {"orders": GRAPHQL_ORDER,
           "customers": {"id": "gid://shopify/Customer/5", "firstName": "Li", "tags": ["VIP"],
                         "defaultEmailAddress": {"emailAddress": "li@example.com", "marketingState": "SUBSCRIBED"},
                         "defaultPhoneNumber": {"phoneNumber": "+14155550100", "marketingState": "PENDING"},
                         "defaultAddress": {"phone": "+14155550101"}, "updatedAt": "2026-01-01T00:00:00Z"},
           "products": {"id": "gid://shopify/Product/301", "title": "Tea", "handle": "tea", "productType": "Tea",
                        "vendor": "Acme", "tags": ["green"], "status": "ACTIVE", "updatedAt": "2026-01-01T00:00:00Z",
                        "variants": [{"id": "gid://shopify/ProductVariant/3011", "title": "500 g", "sku": "TEA-500",
                                      "price": "12.50", "updatedAt": "2026-01-01T00:00:00Z"}]},
           "checkouts": GRAPHQL_CHECKOUT}


@st.composite
def mutated(draw):
    kind = draw(st.sampled_from(sorted(SAMPLES)))
    node = SAMPLES[kind]
    for _ in range(draw(st.integers(1, 3))):
        node = replace(node, draw(st.sampled_from(paths(node))), draw(hostile))
    return kind, node


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated())
def test_hostile_values_are_a_row_error_or_a_record(case):
    kind, node = case
    try:
        record = records.parse(kind, node, "US")
    except RowError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(record, (shopify.OrderRecord, shopify.CustomerRecord, shopify.ProductRecord,
                               shopify.CheckoutRecord))
