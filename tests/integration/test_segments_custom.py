"""Custom segments and audience rules: the rule language's functions as the engine gives them
meaning (bought selectors through line items and the catalogue, in_segment, sample, asked,
has_tag, orders_in_months, attr), and the configuration checks at start."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.conversation import customers as customer_store
from bot.core.config import Settings, parse_file_config
from bot.core.errors import ConfigError
from bot.core.tables import customers, inbound_messages
from segments.engine import SegmentEngine, UnknownSegment
from segments.importer import import_file
from segments.rules import RuleError
from segments.sqlutil import sample_point_py
from segments.tables import customer_attributes, segment_members

NOW = datetime(2026, 6, 15, 15, 0, tzinfo=timezone.utc)  # 11:00 in New York


def engine_for(segments: dict | None = None, **store) -> SegmentEngine:
    data = {"store": {"timezone": "America/New_York", **store}}
    if segments:
        data["segments"] = segments
    return SegmentEngine(Settings(file=parse_file_config(data)))


def order(order_id: int, wa_id: str, created: datetime, items: list[dict], total: str = "20.00", **extra) -> dict:
    return {"id": order_id, "phone": "+" + wa_id, "created_at": created.isoformat(), "total_price": total,
            "financial_status": "paid", "line_items": items, **extra}


def item(**fields) -> dict:
    return {"quantity": 1, "price": "10.00", **fields}


@pytest.fixture
def shop(engine, tmp_path: Path):
    """A small catalogue, customers who bought from it, chat history, tags and custom attributes."""
    products = [
        {"id": 1, "title": "Linen Cushion", "product_type": "Cushions", "vendor": "Acme", "tags": "Home, Linen",
         "handle": "linen-cushion", "variants": [{"id": 11, "sku": "CUSH-L", "price": "30.00"}]},
        {"id": 2, "title": "Cushion Cover", "product_type": "Cushion Covers", "vendor": "Acme", "tags": "home",
         "handle": "cushion-cover", "variants": [{"id": 21, "sku": "COV-1", "price": "10.00"}]},
        {"id": 3, "title": "Dog Food 2kg", "product_type": "Dog Food", "vendor": "Woof & Co", "tags": "Pets",
         "handle": "dog-food", "variants": [{"id": 31, "sku": "DOG-2", "price": "20.00"}]},
    ]
    (tmp_path / "products.jsonl").write_text("\n".join(json.dumps(p) for p in products))
    assert import_file(engine, "products", tmp_path / "products.jsonl", region="US").bad == 0
    orders = [
        # A: a cushion (by product id), no cover
        order(1, "14155550001", NOW - timedelta(days=10), [item(product_id=1, variant_id=11, sku="CUSH-L",
                                                                title="Linen Cushion")]),
        # B: cushion and cover
        order(2, "14155550002", NOW - timedelta(days=200), [item(product_id=1, sku="CUSH-L", title="Linen Cushion"),
                                                            item(product_id=2, sku="COV-1", title="Cushion Cover")]),
        # C: dog food, known only by SKU (a CSV-style line without ids), in December and November
        order(3, "14155550003", datetime(2025, 12, 20, 12, tzinfo=timezone.utc), [item(sku="DOG-2", title="Dog Food")]),
        order(4, "14155550003", datetime(2025, 11, 30, 12, tzinfo=timezone.utc), [item(sku="DOG-2", title="Dog Food")]),
        # C again: 1 December 03:00 UTC is still 30 November in New York
        order(5, "14155550003", datetime(2025, 12, 1, 3, tzinfo=timezone.utc), [item(sku="DOG-2", title="Dog Food")]),
        # D: a vendor and a title only on the line item; cancelled cushion order does not count
        order(6, "14155550004", NOW - timedelta(days=3), [item(title="Handmade Mug", vendor="Potter")]),
        order(7, "14155550004", NOW - timedelta(days=3), [item(product_id=1, sku="CUSH-L")],
              cancelled_at=(NOW - timedelta(days=2)).isoformat()),
        # E: bought a cushion yesterday morning in store time, 27 hours ago: days=1 covers all of yesterday
        order(8, "14155550005", datetime(2026, 6, 14, 12, tzinfo=timezone.utc), [item(product_id=1, sku="CUSH-L")]),
        # F: two days ago in store time, although less than 48 hours ago in UTC: outside days=1
        order(9, "14155550007", datetime(2026, 6, 14, 3, tzinfo=timezone.utc), [item(product_id=1, sku="CUSH-L")]),
    ]
    (tmp_path / "orders.jsonl").write_text("\n".join(json.dumps(o) for o in orders))
    assert import_file(engine, "orders", tmp_path / "orders.jsonl", region="US", now=NOW).bad == 0
    with engine.begin() as conn:
        for k, (wa_id, intent, days) in enumerate([("14155550001", "order_status", 3), ("14155550002", "sale", 40),
                                                   ("14155550006", "order_status", 50)]):
            sent = NOW - timedelta(days=days)
            row = customer_store.touch_inbound(conn, wa_id=wa_id, user_id=None, profile_name=None, sent_at=sent, now=NOW)
            conn.execute(sa.insert(inbound_messages).values(wa_message_id=f"m{k}", customer_id=row.id, type="text",
                                                            intent=intent, sent_at=sent, received_at=sent))
    customers_csv = ("Customer ID,First Name,Last Name,Phone,Tags,Accepts SMS Marketing,Birthday,Preferred Language\n"
                     "'9001,Ann,A,+1 415-555-0001,\"Wholesale, VIP list\",yes,1990-04-01,es\n"
                     "'9002,Bob,B,(415) 555-0002,,no,,en\n")
    (tmp_path / "customers.csv").write_text(customers_csv)
    assert import_file(engine, "customers", tmp_path / "customers.csv", region="US").bad == 0
    with engine.begin() as conn:
        bob = customer_store.find(conn, "14155550002")
        conn.execute(sa.insert(customer_attributes).values(customer_id=bob.id, name="interest", value="outdoors",
                                                           source="chat", updated_at=NOW))
    return engine


def members(segments: SegmentEngine, conn: sa.Connection, rule: str, now: datetime = NOW) -> set[str]:
    ids = segments.member_ids(conn, now, rule=rule)
    return set(conn.execute(sa.select(customers.c.wa_id).where(customers.c.id.in_(ids))).scalars())


@pytest.mark.parametrize("rule, expected", [
    ('bought("type:Cushions")', {"14155550001", "14155550002", "14155550005", "14155550007"}),
    ('bought("type:cushions") and not bought("type:Cushion Covers")', {"14155550001", "14155550005", "14155550007"}),
    ('bought("product:1", days=30)', {"14155550001", "14155550005", "14155550007"}),
    ('bought("sku:CUSH-L", days=1)', {"14155550005"}),
    ('bought("sku:CUSH-L", days=2)', {"14155550005", "14155550007"}),
    ('bought("variant:11")', {"14155550001", "14155550002", "14155550005", "14155550007"}),
    ('bought("vendor:woof & co")', {"14155550003"}),  # by SKU through the catalogue
    ('bought("vendor:Potter")', {"14155550004"}),  # from the line item itself
    ('bought("tag:PETS")', {"14155550003"}),
    ('bought("tag:linen")', {"14155550001", "14155550002", "14155550005", "14155550007"}),
    ('bought("title:mug")', {"14155550004"}),
    ('bought("title:cover")', {"14155550002"}),
    ('asked("order_status", days=7)', {"14155550001"}),
    ('asked("order_status")', {"14155550001", "14155550006"}),
    ('has_tag("wholesale")', {"14155550001"}),
    ('has_tag("VIP list")', {"14155550001"}),
    ('tags == "vip list,wholesale"', {"14155550001"}),
    ('orders_in_months(12) >= 1', {"14155550003"}),
    ('orders_in_months(11) == 2', {"14155550003"}),
    ('orders_in_months(11, 12) == 3', {"14155550003"}),
    ('attr("birthday") == "1990-04-01"', {"14155550001"}),
    ('attr("preferred language") == "en"', {"14155550002"}),
    ('attr("interest") == "outdoors"', {"14155550002"}),
    ('consent', {"14155550001"}),
    ('orders_count >= 2 and days_since_last_order < 365', {"14155550003"}),
    ('country == "US" and in_segment("first_time_buyer")', {"14155550001", "14155550002", "14155550004",
                                                             "14155550005", "14155550007"}),
])
def test_rule_functions(shop, rule, expected):
    segments = engine_for()
    with shop.begin() as conn:
        assert members(segments, conn, rule) == expected


def test_custom_segments_are_refreshed_with_their_rule_as_reason(shop):
    segments = engine_for({
        "cushion_cross_sell": {"rule": 'bought("type:Cushions") and not bought("type:Cushion Covers")',
                               "description": "Bought cushions, never covers"},
        "cross_sell_recent": {"rule": 'in_segment("cushion_cross_sell") and days_since_last_order <= 30'},
    })
    assert segments.names()[-2:] == ["cushion_cross_sell", "cross_sell_recent"]
    with shop.begin() as conn:
        result = segments.refresh(conn, NOW)
        rows = conn.execute(sa.select(customers.c.wa_id, segment_members.c.reason)
                            .join(customers, customers.c.id == segment_members.c.customer_id)
                            .where(segment_members.c.segment == "cross_sell_recent")).all()
    assert result.counts["cushion_cross_sell"] == 3 and result.counts["cross_sell_recent"] == 3
    reason = dict(rows)["14155550001"]
    assert reason["rule"] == 'in_segment("cushion_cross_sell") and days_since_last_order <= 30'
    assert reason["days_since_last_order"] == 10


def test_sample_is_stable_as_the_audience_grows(engine):
    segments = engine_for()
    with engine.begin() as conn:
        for i in range(400):
            customer_store.touch_inbound(conn, wa_id=f"4477009{i:05d}", user_id=None, profile_name=None,
                                         sent_at=NOW - timedelta(days=1), now=NOW)
        first = members(segments, conn, "sample(0.1)")
        nested = members(segments, conn, "sample(0.2)")
        seeded = members(segments, conn, 'sample(0.1, "spring")')
        for i in range(400, 2000):
            customer_store.touch_inbound(conn, wa_id=f"4477009{i:05d}", user_id=None, profile_name=None,
                                         sent_at=NOW - timedelta(days=1), now=NOW)
        grown = members(segments, conn, "sample(0.1)")
    assert first <= grown  # nobody leaves the sample when others join
    assert first <= nested  # a larger share contains the smaller one
    assert 0.05 < len(grown) / 2000 < 0.15
    assert seeded != first
    assert first == {f"4477009{i:05d}" for i in range(400) if sample_point_py("default", f"4477009{i:05d}") < 0.1}


def test_explain_shows_custom_segments(shop):
    segments = engine_for({"dogs": {"rule": 'bought("type:Dog Food") and orders_count >= 2'}})
    with shop.begin() as conn:
        customer = customer_store.find(conn, "14155550003")
        explained = {e["segment"]: e["reason"] for e in segments.explain(conn, customer.id, NOW)}
    assert explained["dogs"] == {"rule": 'bought("type:Dog Food") and orders_count >= 2', "orders_count": 3}


@pytest.mark.parametrize("segments_config, message", [
    ({"x": {"rule": "orders_count >="}}, "[segments.x] rule: rule error at column"),
    ({"x": {"rule": 'in_segment("nope")'}}, "[segments.x] rule: unknown segment 'nope'"),
    ({"a": {"rule": 'in_segment("b")'}, "b": {"rule": 'in_segment("c")'}, "c": {"rule": 'in_segment("a")'}},
     "in_segment() cycle a -> b -> c -> a"),
    ({"x": {"rule": 'in_segment("x")'}}, "in_segment() cycle x -> x"),
    ({"vip": {"rule": "orders_count > 1"}}, "[segments.vip]: 'vip' is a built-in segment"),
])
def test_bad_custom_segments_are_refused_at_start(segments_config, message):
    with pytest.raises(ConfigError) as error:
        engine_for(segments_config)
    assert message in str(error.value)


def test_bad_parameters_are_refused_at_start():
    with pytest.raises(ConfigError, match=r"\[segment_params\] aov_thresholds"):
        SegmentEngine(Settings(file=parse_file_config({"segment_params": {"aov_thresholds": [100, 50]}})))
    with pytest.raises(ConfigError, match="unknown key 'segment_params.loyal_orders'"):
        parse_file_config({"segment_params": {"loyal_orders": 3}})


def test_audience_rules_are_checked(engine):
    segments = engine_for()
    with engine.begin() as conn:
        with pytest.raises(RuleError) as error:
            segments.member_ids(conn, NOW, rule="orders_count >>= 2")
        assert error.value.position == 15
        with pytest.raises(UnknownSegment):
            segments.member_ids(conn, NOW, rule='in_segment("nope")')
        with pytest.raises(UnknownSegment):
            segments.member_ids(conn, NOW, segment="nope")
