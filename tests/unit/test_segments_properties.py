"""Properties: the Shopify parsers never fail but with RowError; phone spellings. (The SQL
properties, percentiles and sample positions, are in tests/integration/test_segments_sql.py.)"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segments import shopify
from segments.phones import parse_phone, wa_id_spellings

json_scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | \
    st.text(max_size=30) | st.sampled_from(["2026-01-01T00:00:00Z", "12.50", "-1", "1e400", "gid://shopify/Order/5"])
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4) |
                           st.dictionaries(st.text(max_size=12), inner, max_size=5), max_leaves=20)
order_keys = st.sampled_from(["id", "created_at", "total_price", "phone", "customer", "line_items", "cancelled_at",
                              "financial_status", "discount_codes", "shipping_address", "billing_address",
                              "fulfillments", "total_discounts", "updated_at", "variants", "tags", "metafields",
                              "email_marketing_consent", "addresses", "default_address"])
shopish = st.dictionaries(order_keys, json_values, max_size=12)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(body=shopish | json_values)
def test_json_parsers_raise_only_row_errors(body):
    for parse in (lambda b: shopify.order_from_json(b, "US"), lambda b: shopify.customer_from_json(b, "US"),
                  shopify.product_from_json):
        try:
            parse(body)
        except shopify.RowError:
            pass


csv_keys = st.sampled_from(["name", "id", "created at", "total", "lineitem quantity", "lineitem name",
                            "lineitem price", "phone", "cancelled at", "discount amount", "handle", "title",
                            "variant sku", "variant price", "customer id", "tags", "accepts sms marketing"])


@settings(max_examples=300)
@given(rows=st.lists(st.dictionaries(csv_keys, st.text(max_size=20), max_size=10), min_size=1, max_size=3))
def test_csv_parsers_raise_only_row_errors(rows):
    for parse in (lambda r: shopify.order_from_csv(r, "US"), shopify.product_from_csv,
                  lambda r: shopify.customer_from_csv(r[0], {}, "US")):
        try:
            parse(rows)
        except shopify.RowError:
            pass


@given(st.text(max_size=40), st.sampled_from(["US", "GB", "IN", "BR", "", "XX"]))
def test_phone_parsing_never_raises(raw, region):
    phone = parse_phone(raw, region)
    assert phone is None or (phone.wa_id.isdigit() and 7 <= len(phone.wa_id) <= 17)


def test_whatsapp_spellings():
    assert wa_id_spellings("5215512345678") == ("5215512345678", "525512345678")
    assert wa_id_spellings("525512345678") == ("525512345678", "5215512345678")
    assert wa_id_spellings("5511987654321") == ("5511987654321", "551187654321")
    assert wa_id_spellings("551187654321") == ("551187654321", "5511987654321")
    assert wa_id_spellings("14155550101") == ("14155550101",)


def test_numbers_in_common_notations():
    assert parse_phone("(415) 555-0101", "US").wa_id == "14155550101"
    assert parse_phone("'+44 20 7946 0958", "US").wa_id == "442079460958"
    assert parse_phone("020 7946 0958", "GB").wa_id == "442079460958"
    assert parse_phone("call me", "US") is None and parse_phone("12", "US") is None
    assert parse_phone("+44 20 7946 0958", "US").country == "GB"
