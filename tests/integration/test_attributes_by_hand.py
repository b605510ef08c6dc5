"""Every attribute of the rule language on a small store whose answers are worked out by hand here:
the values `SegmentEngine.attributes` gives, and each attribute in a rule through `member_ids`.
The data goes in through the real importers (orders, customers) and the chat's customer store.

NOW is 2026-09-15 12:00 UTC. Orders are placed two hours past a whole number of days, so
days_since_last_order is that number of days.

| who | phone | counted orders (days ago: total) | where the latest counted order with a shipping address went |
| --- | --- | --- | --- |
| A | +34 Spain | 1: 50.00 | ES, M, Madrid (its billing address is in Barcelona: not used) |
| B | +1 US | 10: 20.00 (a refunded order to Brooklyn half a day ago does not count) | CA, "Ontario" (no code), Ottawa |
| C | +49 Germany | 30: 300.00, no shipping address (billed to Berlin; default address Hamburg) | none: the phone's DE |
| D | +55 Brazil | 200: 30.00, 150: 20.00 (code VOLTA10), 100: 40.00 without shipping; a cancelled one | BR, RJ, Rio de Janeiro |
| E | +44 UK | 400, 430, ..., 610 (8 orders): 7 x 100.00 + 300.00; two discounted | GB, no province, London |
| F | +91 India | none; 6 messages in the last 30 days (the last 2 h ago), one 40 days ago; tags; START | the phone's IN |
| G | +1 US | none; one message 31 days ago; read a message 3 days ago; opted out | the phone's US |

RFM among the five buyers (docs/segments.md: 1 + the quintile boundaries beaten strictly; linear
interpolation, position h = (n - 1) q = 4q for q = 0.2, 0.4, 0.6, 0.8, so h = 0.8, 1.6, 2.4, 3.2):
- R, days since the last order, fewer is better: 1, 10, 30, 100, 400 -> boundaries 8.2, 22, 58, 160;
  A (1) is below all four: 5; B (10): 4; C (30): 3; D (100): 2; E (400): 1.
- F, orders: 1, 1, 1, 3, 8 -> boundaries 1, 1, 1.8, 4; A, B, C: 1; D (3): 4; E (8): 5.
- M, total spent: 20, 50, 90, 300, 1000 -> boundaries 44, 74, 174, 440; B (20): 1; A (50): 2;
  D (90): 3; C (300): 4; E (1000): 5.
So A 512, B 411, C 314, D 243, E 155; F and G have none.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.conversation import customers as customer_store
from bot.core.config import Settings, parse_file_config
from bot.core.tables import customers, inbound_messages
from segments.engine import SegmentEngine
from segments.importer import import_file
from segments.rules import ATTRIBUTES

UTC = timezone.utc
NOW = datetime(2026, 9, 15, 12, 0, tzinfo=UTC)
PHONES = {"A": "34612000001", "B": "12125550002", "C": "4915112340003", "D": "5511987650004",
          "E": "447911120005", "F": "919876540006", "G": "12125550007"}


def ago(days: float, hours: float = 2) -> str:
    return (NOW - timedelta(days=days, hours=hours)).isoformat()


def order(order_id: int, who: str, days: float, total: str, *, shipping: dict | None = None,
          billing: dict | None = None, hours: float = 2, **extra) -> dict:
    body = {"id": order_id, "name": f"#{order_id}", "phone": "+" + PHONES[who], "created_at": ago(days, hours),
            "total_price": total, "financial_status": "paid", "currency": "EUR",
            "line_items": [{"id": order_id * 10, "sku": "SKU", "title": "Thing", "quantity": 1, "price": total}],
            **extra}
    if shipping is not None:
        body["shipping_address"] = shipping
    if billing is not None:
        body["billing_address"] = billing
    return body


ORDERS = [
    order(101, "A", 1, "50.00", shipping={"country_code": "ES", "province_code": "M", "city": "Madrid"},
          billing={"country_code": "ES", "province_code": "B", "city": "Barcelona"}),
    order(201, "B", 10, "20.00", shipping={"country": "Canada", "country_code": "CA", "province": "Ontario",
                                           "city": "Ottawa"}),
    order(202, "B", 0, "75.00", hours=12, financial_status="refunded",
          shipping={"country_code": "US", "province_code": "NY", "city": "Brooklyn"}),
    order(301, "C", 30, "300.00", billing={"country_code": "DE", "province_code": "BE", "city": "Berlin"}),
    order(401, "D", 200, "30.00", shipping={"country_code": "BR", "province_code": "SP", "city": "São Paulo"}),
    order(402, "D", 150, "20.00", discount_codes=[{"code": "VOLTA10", "amount": "2.00", "type": "fixed_amount"}],
          shipping={"country_code": "BR", "province_code": "RJ", "city": "Rio de Janeiro"}),
    order(403, "D", 100, "40.00"),
    order(404, "D", 5, "999.00", cancelled_at=ago(4),
          shipping={"country_code": "BR", "province_code": "MG", "city": "Belo Horizonte"}),
    *[order(500 + k, "E", 400 + 30 * k, "300.00" if k == 7 else "100.00",
            total_discounts="5.00" if k in (1, 3) else "0.00",
            shipping={"country_code": "GB", "city": "London", "zip": "SW1A 1AA"}) for k in range(8)],
]
CUSTOMERS = [
    {"id": 9001, "phone": "+34612000001", "first_name": "Ana", "accepts_marketing": True},
    {"id": 9003, "phone": "+4915112340003", "first_name": "Carl", "accepts_marketing": False,
     "default_address": {"country_code": "DE", "province_code": "HH", "city": "Hamburg"}},
    {"id": 9006, "phone": "+919876540006", "first_name": "Farah", "tags": "Wholesale, VIP"},
]

EXPECTED = {
    "A": {"orders_count": 1, "total_spent": 50.0, "aov": 50.0, "first_order_at": "2026-09-14T10:00:00Z",
          "last_order_at": "2026-09-14T10:00:00Z", "days_since_last_order": 1, "orders_count_180d": 1,
          "discount_share": 0.0, "country": "ES", "province": "M", "city": "Madrid", "consent": True, "rfm": "512"},
    "B": {"orders_count": 1, "total_spent": 20.0, "aov": 20.0, "first_order_at": "2026-09-05T10:00:00Z",
          "last_order_at": "2026-09-05T10:00:00Z", "days_since_last_order": 10, "orders_count_180d": 1,
          "discount_share": 0.0, "country": "CA", "province": "Ontario", "city": "Ottawa", "rfm": "411"},
    "C": {"orders_count": 1, "total_spent": 300.0, "aov": 300.0, "first_order_at": "2026-08-16T10:00:00Z",
          "last_order_at": "2026-08-16T10:00:00Z", "days_since_last_order": 30, "orders_count_180d": 1,
          "discount_share": 0.0, "country": "DE", "rfm": "314"},
    "D": {"orders_count": 3, "total_spent": 90.0, "aov": 30.0, "first_order_at": "2026-02-27T10:00:00Z",
          "last_order_at": "2026-06-07T10:00:00Z", "days_since_last_order": 100, "orders_count_180d": 2,
          "discount_share": pytest.approx(1 / 3), "country": "BR", "province": "RJ", "city": "Rio de Janeiro",
          "rfm": "243"},
    "E": {"orders_count": 8, "total_spent": 1000.0, "aov": 125.0, "first_order_at": "2025-01-13T10:00:00Z",
          "last_order_at": "2025-08-11T10:00:00Z", "days_since_last_order": 400, "orders_count_180d": 0,
          "discount_share": 0.25, "country": "GB", "city": "London", "rfm": "155"},
    "F": {"orders_count": 0, "total_spent": 0.0, "country": "IN", "tags": "vip,wholesale",
          "last_inbound_at": "2026-09-15T10:00:00Z", "days_since_last_inbound": 0, "inbound_count_30d": 6,
          "consent": True, "window_open": True},
    "G": {"orders_count": 0, "total_spent": 0.0, "country": "US", "last_inbound_at": "2026-08-15T11:00:00Z",
          "days_since_last_inbound": 31, "last_read_at": "2026-09-12T12:00:00Z", "opted_out": True},
}
DEFAULTS = {  # what everyone not named above has
    "orders_count_180d": 0, "inbound_count_30d": 0, "opted_out": False, "consent": False, "window_open": False,
    "language": "en",  # the store answers in English only
    **dict.fromkeys(["aov", "first_order_at", "last_order_at", "days_since_last_order", "discount_share",
                     "province", "city", "tags", "last_inbound_at", "days_since_last_inbound", "last_read_at",
                     "rfm"]),
}

# Each attribute in a rule, with the customers it selects, by hand from the table above.
RULES = [
    ("orders_count", "orders_count == 1", "ABC"),
    ("orders_count", "orders_count >= 3", "DE"),
    ("total_spent", "total_spent >= 90", "CDE"),
    ("total_spent", "total_spent < 50", "BFG"),
    ("aov", "aov > 100", "CE"),
    ("aov", "aov <= 30", "BD"),
    ("first_order_at", 'first_order_at < "2026-03-01"', "DE"),
    ("last_order_at", 'last_order_at >= "2026-09-05T10:00:00Z"', "AB"),
    ("last_order_at", 'last_order_at > "2026-09-05T10:00:00Z"', "A"),
    ("days_since_last_order", "days_since_last_order >= 30", "CDE"),
    ("days_since_last_order", "days_since_last_order == 10", "B"),
    ("orders_count_180d", "orders_count_180d == 2", "D"),
    ("orders_count_180d", "orders_count_180d == 0", "EFG"),
    ("discount_share", "discount_share > 0", "DE"),
    ("discount_share", "discount_share == 0", "ABC"),
    ("country", 'country == "CA"', "B"),
    ("country", 'country in ("DE", "IN", "US")', "CFG"),
    ("province", 'province == "RJ"', "D"),
    ("province", 'province in ("M", "Ontario", "NY", "HH", "BE", "MG")', "AB"),
    ("city", 'city == "London"', "E"),
    ("city", 'city in ("Madrid", "Ottawa", "Berlin", "Hamburg", "Brooklyn", "Barcelona")', "AB"),
    ("tags", 'tags == "vip,wholesale"', "F"),
    ("last_inbound_at", 'last_inbound_at > "2026-09-14T12:00:00Z"', "F"),
    ("days_since_last_inbound", "days_since_last_inbound > 30", "G"),
    ("inbound_count_30d", "inbound_count_30d >= 6", "F"),
    ("inbound_count_30d", "inbound_count_30d == 0", "ABCDEG"),
    ("last_read_at", 'last_read_at >= "2026-09-12"', "G"),
    ("opted_out", "opted_out", "G"),
    ("opted_out", "not opted_out", "ABCDEF"),
    ("consent", "consent", "AF"),
    ("window_open", "window_open", "F"),
    ("rfm", 'rfm == "512"', "A"),
    ("rfm", 'rfm in ("411", "314", "243", "155")', "BCDE"),
    ("rfm", 'rfm >= "3"', "ABC"),  # text order: R of 3 and more
    ("language", 'language == "en"', "ABCDEFG"),  # the store's only language, whatever the country
    ("language", 'language != "en"', ""),
]


@pytest.fixture
def store(engine, tmp_path: Path) -> dict[str, int]:
    (tmp_path / "orders.jsonl").write_text("\n".join(json.dumps(o) for o in ORDERS))
    report = import_file(engine, "orders", tmp_path / "orders.jsonl", region="US", now=NOW)
    assert (report.bad, report.imported) == (0, len(ORDERS))
    (tmp_path / "customers.jsonl").write_text("\n".join(json.dumps(c) for c in CUSTOMERS))
    assert import_file(engine, "customers", tmp_path / "customers.jsonl", region="US").bad == 0
    with engine.begin() as conn:
        def chat(who: str, *hours_ago: float) -> int:
            row = None
            for k, hours in enumerate(hours_ago):
                sent = NOW - timedelta(hours=hours)
                row = customer_store.touch_inbound(conn, wa_id=PHONES[who], user_id=None, profile_name=None,
                                                   sent_at=sent, now=NOW)
                conn.execute(sa.insert(inbound_messages).values(
                    wa_message_id=f"wamid.{who}.{k}", customer_id=row.id, type="text", text="hi", intent="greet",
                    sent_at=sent, received_at=sent))
            return row.id

        farah = chat("F", 40 * 24, 29 * 24, 20 * 24, 10 * 24, 3 * 24, 24, 2)
        customer_store.set_opted_out(conn, farah, False, NOW - timedelta(days=2))  # START: consent
        gil = chat("G", 31 * 24 + 1)
        customer_store.set_opted_out(conn, gil, True, NOW - timedelta(days=1))
        customer_store.record_read(conn, gil, NOW - timedelta(days=3))
        ids = dict(conn.execute(sa.select(customers.c.wa_id, customers.c.id)).all())
    assert set(ids) == set(PHONES.values())
    return {who: ids[phone] for who, phone in PHONES.items()}


def engine_for() -> SegmentEngine:
    return SegmentEngine(Settings(file=parse_file_config({"store": {"timezone": "Europe/Madrid"}})))


def test_every_attribute_of_every_customer(engine, store):
    segments = engine_for()
    with engine.connect() as conn:
        got = {who: segments.attributes(conn, customer_id, NOW) for who, customer_id in store.items()}
    for who, values in EXPECTED.items():
        want = {**DEFAULTS, **values}
        assert set(got[who]) == set(ATTRIBUTES) | {"language_source"}, who
        assert {k: got[who][k] for k in want} == want, who


def test_each_attribute_in_a_rule_through_the_engine(engine, store):
    segments = engine_for()
    wrong = []
    with engine.connect() as conn:
        for attribute, rule, expected in RULES:
            assert attribute in rule
            ids = set(conn.execute(segments.member_ids(conn, NOW, rule=rule)).scalars())
            got = "".join(sorted(who for who, customer_id in store.items() if customer_id in ids))
            if got != expected:
                wrong.append(f"{rule}: {got or '-'}, expected {expected}")
    assert not wrong, f"{len(wrong)} of {len(RULES)} rules select the wrong customers:\n" + "\n".join(wrong)


def test_every_attribute_of_the_language_is_checked_here():
    assert {attribute for attribute, _, _ in RULES} == set(ATTRIBUTES)
    assert set(DEFAULTS) | {k for values in EXPECTED.values() for k in values} == set(ATTRIBUTES)


def test_rfm_looks_back_from_the_time_asked(engine, store):
    """Twenty days earlier (2026-08-26 12:00) A's and B's orders had not happened: three buyers.
    R: C 10, D 80, E 380 days -> h = 2q = 0.4, 0.8, 1.2, 1.6 -> 38, 66, 140, 260: C 5, D 3, E 1.
    F: 1, 3, 8 -> 1.8, 2.6, 4, 6: C 1, D 3, E 5.  M: 90, 300, 1000 -> 174, 258, 440, 720: D 1, C 3, E 5."""
    segments = engine_for()
    earlier = NOW - timedelta(days=20)
    with engine.connect() as conn:
        got = {who: segments.attributes(conn, store[who], earlier)["rfm"] for who in "ABCDE"}
    assert got == {"A": None, "B": None, "C": "513", "D": "331", "E": "155"}
