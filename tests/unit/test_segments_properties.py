"""Properties: the Shopify parsers never fail but with RowError; percentiles in SQL equal the
documented method (numpy's "linear") on both databases; sample positions agree between SQL and
Python; phone spellings."""
from __future__ import annotations

import string
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from segments import shopify
from segments.attributes import percentiles, percentiles_py
from segments.phones import parse_phone, wa_id_spellings
from segments.sqlutil import ensure_functions, sample_point, sample_point_py, whole_days_between
from bot.core.tables import UTCDateTime
from tests.support import storegen

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


values_lists = st.lists(st.integers(0, 500_000).map(lambda cents: cents / 100), min_size=1, max_size=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=values_lists, qs=st.lists(st.sampled_from([0.0, 0.2, 0.33, 0.5, 0.67, 0.9, 1.0]), min_size=1,
                                          max_size=3))
def test_sql_percentiles_follow_the_documented_method(engine, values, qs):
    table = sa.Table("pct_values", sa.MetaData(), sa.Column("v", sa.Float))
    with engine.begin() as conn:
        table.drop(conn, checkfirst=True)
        table.create(conn)
        conn.execute(sa.insert(table), [{"v": v} for v in values])
        got = percentiles(conn, sa.select(table.c.v), qs)
        table.drop(conn)
    assert got == percentiles_py(values, qs) == [storegen.percentile(values, q) for q in qs]


@pytest.mark.parametrize("values, q, expected", [  # numpy.percentile(values, 100 * q), method "linear"
    ([1.0, 2.0, 3.0, 4.0], 0.9, 3.7),
    ([15.0, 20.0, 35.0, 40.0, 50.0], 0.33, 24.8),
    ([15.0, 20.0, 35.0, 40.0, 50.0], 0.67, 38.4),
    ([5.0], 0.9, 5.0),
    ([3.0, 1.0, 2.0, 2.0, 2.0, 9.0], 0.5, 2.0),
    ([10.0, 20.0], 0.0, 10.0),
    ([10.0, 20.0], 1.0, 20.0),
])
def test_percentiles_match_numpy(engine, values, q, expected):
    table = sa.Table("pct_fixed", sa.MetaData(), sa.Column("v", sa.Float))
    with engine.begin() as conn:
        table.create(conn)
        conn.execute(sa.insert(table), [{"v": v} for v in values])
        assert percentiles(conn, sa.select(table.c.v), [q]) == pytest.approx([expected], abs=1e-12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keys=st.lists(st.text(string.digits, min_size=8, max_size=15), min_size=1, max_size=20),
       seed=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=10))  # as rules allow
def test_sample_positions_agree_between_sql_and_python(engine, keys, seed):
    with engine.connect() as conn:
        ensure_functions(conn)
        for key in keys:
            got = conn.execute(sa.select(sample_point(sa.cast(sa.literal(seed), sa.Text),
                                                      sa.cast(sa.literal(key), sa.Text)))).scalar()
            assert got == sample_point_py(seed, key)


@pytest.mark.parametrize("start, end, days", [
    (datetime(2026, 1, 1, 12, tzinfo=timezone.utc), datetime(2026, 7, 1, 12, tzinfo=timezone.utc), 181),
    (datetime(2026, 1, 1, 12, tzinfo=timezone.utc), datetime(2026, 6, 30, 11, 59, 59, 998000, tzinfo=timezone.utc), 179),
    (datetime(2026, 3, 1, 0, tzinfo=timezone.utc), datetime(2026, 3, 1, 23, 59, tzinfo=timezone.utc), 0),
])
def test_whole_days(engine, start, end, days):
    with engine.connect() as conn:
        assert conn.execute(sa.select(whole_days_between(sa.literal(start, UTCDateTime()),
                                                         sa.literal(end, UTCDateTime())))).scalar() == days
