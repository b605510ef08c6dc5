"""Every built-in segment on a generated store, against membership computed independently from the
raw generated orders (tests/support/storegen.py), on SQLite and PostgreSQL alike."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.conversation import customers as customer_store
from bot.core.config import Settings, parse_file_config
from bot.core.tables import customers, inbound_messages
from segments import store
from segments.engine import SegmentEngine
from segments.importer import import_file
from segments.shopify import order_from_json
from segments.tables import customer_order_stats, segment_events, segment_members
from tests.support import storegen
from tests.support.storegen import NOW


def load(engine: sa.Engine, tmp_path: Path, generated: storegen.GenStore, batch_size: int = 97) -> None:
    """Chat facts through the customer store, orders through the real importer (odd batch size, so
    customers' orders span batches)."""
    with engine.begin() as conn:
        for k, (wa_id, c) in enumerate(generated.customers.items()):
            if c.last_inbound_at:
                row = customer_store.touch_inbound(conn, wa_id=wa_id, user_id=None, profile_name=f"P{wa_id[-4:]}",
                                                   sent_at=c.last_inbound_at, now=NOW)
                conn.execute(sa.insert(inbound_messages).values(
                    wa_message_id=f"wamid.{k}", customer_id=row.id, type="text", text="hi",
                    intent="order_status" if k % 2 else "greet", sent_at=c.last_inbound_at, received_at=c.last_inbound_at))
    report = import_file(engine, "orders", generated.write_jsonl(tmp_path / "orders.jsonl"), region="US",
                         now=NOW, batch_size=batch_size)
    assert report.bad == 0 and report.imported == len(generated.all_orders())
    assert report.without_customer == len(generated.orphan_orders)
    with engine.begin() as conn:
        for wa_id, c in generated.customers.items():
            found = customer_store.find(conn, wa_id)
            if found is None:
                found = customer_store.touch_inbound(conn, wa_id=wa_id, user_id=None, profile_name=None,
                                                     sent_at=NOW - timedelta(days=999), now=NOW)
                conn.execute(sa.update(customers).where(customers.c.id == found.id)
                             .values(first_inbound_at=None, last_inbound_at=None))
            if c.last_read_at:
                customer_store.record_read(conn, found.id, c.last_read_at)
            if c.opted_out:
                customer_store.set_opted_out(conn, found.id, True, NOW)


def stored_members(conn: sa.Connection) -> dict[str, set[str]]:
    rows = conn.execute(sa.select(segment_members.c.segment, customers.c.wa_id)
                        .join(customers, customers.c.id == segment_members.c.customer_id))
    out: dict[str, set[str]] = {}
    for segment, wa_id in rows:
        out.setdefault(segment, set()).add(wa_id)
    return out


def live_members(segments: SegmentEngine, conn: sa.Connection, now) -> dict[str, set[str]]:
    out = {}
    for name in segments.names():
        ids = segments.member_ids(conn, now, segment=name)
        out[name] = set(conn.execute(sa.select(customers.c.wa_id).where(customers.c.id.in_(ids))).scalars())
    return out


def assert_same(actual: dict[str, set[str]], expected: dict[str, set[str]]) -> None:
    for name, members in expected.items():
        got = actual.get(name, set())
        assert got == members, (f"{name}: missing {sorted(members - got)[:5]}, unexpected {sorted(got - members)[:5]}"
                                f" ({len(got)} vs {len(members)})")


@pytest.fixture
def generated() -> storegen.GenStore:
    return storegen.generate()


def test_the_generated_store_exercises_every_segment(generated):
    expected = storegen.expected_segments(generated, NOW)
    for name, members in expected.items():
        assert members, f"the generator leaves {name} empty: the test would prove nothing"
    later = storegen.expected_segments(generated, NOW + timedelta(days=40))
    assert later != expected


def test_every_builtin_segment_matches_the_contract(engine, tmp_path, generated):
    load(engine, tmp_path, generated)
    segments = SegmentEngine(Settings())
    expected = storegen.expected_segments(generated, NOW)
    with engine.begin() as conn:
        result = segments.refresh(conn, NOW)
        assert_same(stored_members(conn), expected)
        assert_same(live_members(segments, conn, NOW), expected)
    assert result.counts == {name: len(members) for name, members in expected.items()}
    assert result.entered == {name: len(m) for name, m in expected.items() if m}
    assert result.exited == {}


def test_a_later_now_moves_customers_and_records_entries_and_exits(engine, tmp_path, generated):
    load(engine, tmp_path, generated)
    segments = SegmentEngine(Settings())
    later = NOW + timedelta(days=40)  # orders created after NOW count now; time has passed for everyone
    before = storegen.expected_segments(generated, NOW)
    after = storegen.expected_segments(generated, later)
    with engine.begin() as conn:
        segments.refresh(conn, NOW)
        result = segments.refresh(conn, later)
        assert_same(stored_members(conn), after)
        events = conn.execute(sa.select(segment_events.c.segment, customers.c.wa_id, segment_events.c.change,
                                        segment_events.c.at)
                              .join(customers, customers.c.id == segment_events.c.customer_id)).all()
    for name in before:
        entered_now = {w for s, w, change, at in events if s == name and change == "enter" and at == NOW}
        entered_later = {w for s, w, change, at in events if s == name and change == "enter" and at == later}
        exited_later = {w for s, w, change, at in events if s == name and change == "exit" and at == later}
        assert entered_now == before[name]
        assert entered_later == after[name] - before[name], name
        assert exited_later == before[name] - after[name], name
        assert result.entered.get(name, 0) == len(after[name] - before[name])
        assert result.exited.get(name, 0) == len(before[name] - after[name])
    assert not any(change == "exit" and at == NOW for _, _, change, at in events)


def test_a_refresh_into_the_past_ignores_later_orders_and_messages(engine, tmp_path, generated):
    load(engine, tmp_path, generated)
    segments = SegmentEngine(Settings())
    earlier = NOW - timedelta(days=60)
    with engine.begin() as conn:
        segments.refresh(conn, earlier)
        assert_same(stored_members(conn), storegen.expected_segments(generated, earlier))


def test_parameters_override_the_defaults(engine, tmp_path, generated, settings_for):
    load(engine, tmp_path, generated)
    params = dict(loyal_min_orders=4, lapsed_days=90, sale_share=0.5, former_vip_days=60, engaged_days=7,
                  aov_thresholds=(50.0, 150.0), vip_min_spent=800.0)
    toml = "[segment_params]\n" + "\n".join(
        f"{k} = {list(v) if isinstance(v, tuple) else v}" for k, v in params.items()) + "\n"
    segments = SegmentEngine(settings_for(toml=toml))
    with engine.begin() as conn:
        result = segments.refresh(conn, NOW)
        assert_same(stored_members(conn), storegen.expected_segments(generated, NOW, **params))
    assert result.thresholds["aov_t1"] == 50.0 and result.thresholds["vip_min_spent"] == 800.0


def test_incremental_aggregates_and_membership_agree_with_a_full_recompute(engine, tmp_path, generated):
    load(engine, tmp_path, generated)
    fixed = parse_file_config({"segment_params": {"aov_thresholds": [60, 160], "vip_min_spent": 900}})
    segments = SegmentEngine(Settings(file=fixed))
    at = NOW + timedelta(days=1)
    with engine.begin() as conn:
        segments.refresh(conn, at)
    # New orders arrive one by one (as webhooks), one is updated later, one cancelled.
    new = []
    wa_ids = sorted(generated.customers)[::9]
    for k, wa_id in enumerate(wa_ids):
        order = storegen.GenOrder(id=900_000 + k, wa_id=wa_id, phone_fields={"phone": "+" + wa_id},
                                  created_at=at - timedelta(hours=k % 20 + 1), total=storegen.Decimal(f"{50 + k}.25"))
        generated.customers[wa_id].orders.append(order)
        new.append(order)
    with engine.begin() as conn:
        for order in new:
            store.store_orders(conn, [order_from_json(order.as_json(), "US")], at)
        cancelled = new[0].as_json() | {"cancelled_at": at.isoformat(), "updated_at": (at + timedelta(minutes=5)).isoformat()}
        store.store_orders(conn, [order_from_json(cancelled, "US")], at)
        new[0].cancelled = True
        incremental_stats = conn.execute(sa.select(customer_order_stats).order_by(customer_order_stats.c.customer_id)).all()
        partial = segments.refresh_changed(conn, at)
        incremental = stored_members(conn)
        store.rebuild_all_stats(conn, at)
        rebuilt_stats = conn.execute(sa.select(customer_order_stats).order_by(customer_order_stats.c.customer_id)).all()
    assert partial.kind == "partial" and 0 < partial.customers <= len(new) + 1
    strip = [tuple(v for k, v in row._mapping.items() if k != "updated_at") for row in incremental_stats]
    assert strip == [tuple(v for k, v in row._mapping.items() if k != "updated_at") for row in rebuilt_stats]
    expected = storegen.expected_segments(generated, at, aov_thresholds=(60, 160), vip_min_spent=900)
    assert_same(incremental, expected)
    with engine.begin() as conn:
        full = segments.refresh(conn, at)
        assert_same(stored_members(conn), expected)
    assert full.changed == 0 and full.entered == {} and full.exited == {}


def test_a_second_refresh_at_the_same_time_changes_nothing(engine, tmp_path, generated):
    load(engine, tmp_path, generated)
    segments = SegmentEngine(Settings())
    with engine.begin() as conn:
        segments.refresh(conn, NOW)
        events = conn.execute(sa.select(sa.func.count()).select_from(segment_events)).scalar()
        again = segments.refresh(conn, NOW)
        assert conn.execute(sa.select(sa.func.count()).select_from(segment_events)).scalar() == events
    assert again.changed == 0


def test_explain_gives_the_values_behind_each_membership(engine, tmp_path, generated):
    load(engine, tmp_path, generated)
    segments = SegmentEngine(Settings())
    expected = storegen.expected_segments(generated, NOW)
    wa_id = sorted(expected["former_vip"])[0]
    with engine.begin() as conn:
        customer = customer_store.find(conn, wa_id)
        explained = {e["segment"]: e for e in segments.explain(conn, customer.id, NOW)}
        attributes = segments.attributes(conn, customer.id, NOW)
        segments.refresh(conn, NOW)
        stored = {r.segment: r.reason for r in conn.execute(
            sa.select(segment_members).where(segment_members.c.customer_id == customer.id))}
    assert set(explained) == {name for name, members in expected.items() if wa_id in members}
    counted = [o for o in generated.customers[wa_id].orders if o.counts_at(NOW)]
    total = float(sum(o.total for o in counted))
    assert explained["vip"]["reason"]["total_spent"] == pytest.approx(total)
    assert explained["vip"]["reason"]["vip_min_spent"] <= total
    assert explained["former_vip"]["reason"]["days_since_last_order"] > 90
    assert explained["former_vip"]["reason"]["last_order_at"] == \
        max(o.created_at for o in counted).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert attributes["orders_count"] == len(counted) and attributes["total_spent"] == pytest.approx(total)
    country, province, city = storegen.expected_location(generated.customers[wa_id], NOW)
    assert (attributes["country"], attributes["province"], attributes["city"]) == (country, province, city)
    assert len(attributes["rfm"]) == 3
    assert stored["vip"] == explained["vip"]["reason"]


def test_country_province_and_city_come_from_the_latest_shipping_address(engine, tmp_path, generated):
    """Every customer's location against storegen's: shipping addresses of a dozen countries, with
    missing cities and provinces and digital orders without one; billing and default addresses that
    must not count; refunded and cancelled orders that do not count. At NOW, and 60 days earlier."""
    load(engine, tmp_path, generated)
    segments = SegmentEngine(Settings())
    for at in (NOW, NOW - timedelta(days=60)):
        expected = {wa_id: storegen.expected_location(c, at) for wa_id, c in generated.customers.items()}
        with engine.connect() as conn:
            for position, attribute in enumerate(("country", "province", "city")):
                values = {want[position] for want in expected.values()} - {None}
                assert len(values) >= (10 if attribute == "country" else 12), values  # the store varies
                for value in sorted(values):
                    ids = segments.member_ids(conn, at, rule=f'{attribute} == "{value}"')
                    got = set(conn.execute(sa.select(customers.c.wa_id).where(customers.c.id.in_(ids))).scalars())
                    want = {w for w, location in expected.items() if location[position] == value}
                    assert got == want, (at, attribute, value, sorted(got ^ want)[:5])


def test_the_lookups_of_the_flows_and_the_agent_console_read_the_refresh(engine, tmp_path, generated):
    from segments.membership import current_segments, segments_with_reasons

    load(engine, tmp_path, generated)
    expected = storegen.expected_segments(generated, NOW)
    wa_id = sorted(expected["vip"] & expected["chat_unengaged"])[0]
    with engine.begin() as conn:
        SegmentEngine(Settings()).refresh(conn, NOW)
        customer = customer_store.find(conn, wa_id)
        names = current_segments(conn, customer.id, NOW)
        reasons = {r["segment"]: r for r in segments_with_reasons(conn, customer.id)}
    assert set(names) == {name for name, members in expected.items() if wa_id in members}
    assert reasons["vip"]["entered_at"] == NOW and reasons["vip"]["reason"]["total_spent"] > 0
