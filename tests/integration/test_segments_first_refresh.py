"""A store's first full refresh writes memberships, entry events and signatures straight from the
evaluation (segments/engine.py, `_write_first_membership`); every other refresh compares signatures
and rewrites what changed. Both must store the same rows, and what follows them (a refresh a day
later, an incremental one after new orders) must come out the same, on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from bot.core.config import Settings, parse_file_config
from bot.core.tables import customers
from segments import store
from segments.engine import SegmentEngine
from segments.shopify import order_from_json
from segments.tables import segment_events, segment_members, segment_refreshes, segment_state
from tests.integration.test_segments_builtin import load
from tests.support import storegen
from tests.support.storegen import NOW


def snapshot(conn: sa.Connection) -> dict:
    """Everything a refresh stores, by customer phone (ids of events are left out: their order is kept)."""
    c = customers.c
    m, e, s = segment_members.c, segment_events.c, segment_state.c
    members = sorted(conn.execute(sa.select(m.segment, c.wa_id, m.entered_at, m.reason)
                                  .join(customers, c.id == m.customer_id)).all(), key=lambda r: (r[0], r[1]))
    events = [tuple(r) for r in conn.execute(sa.select(e.segment, c.wa_id, e.change, e.at)
                                             .join(customers, c.id == e.customer_id).order_by(e.id))]
    state = dict(conn.execute(sa.select(c.wa_id, s.signature).join(customers, c.id == s.customer_id)).all())
    return {"members": [tuple(r) for r in members], "events": events, "state": state}


def forget(conn: sa.Connection) -> None:
    for table in (segment_events, segment_members, segment_state, segment_refreshes):
        conn.execute(sa.delete(table))


def test_the_first_refresh_stores_what_the_comparing_refresh_stores(engine, tmp_path):
    generated = storegen.generate()
    load(engine, tmp_path, generated)
    segments = SegmentEngine(Settings())
    later = NOW + timedelta(days=40)
    runs = []
    for compare in (False, True):
        with engine.begin() as conn:
            forget(conn)
            if compare:  # one stale signature: the refresh compares, and finds every customer changed
                someone = conn.execute(sa.select(customers.c.id).order_by(customers.c.id).limit(1)).scalar_one()
                conn.execute(sa.insert(segment_state).values(customer_id=someone, signature="stale"))
            first = segments.refresh(conn, NOW)
            after_first = snapshot(conn)
            second = segments.refresh(conn, later)
            runs.append((first, after_first, second, snapshot(conn)))
    (first, after_first, second, after_second), (first_c, after_first_c, second_c, after_second_c) = runs
    assert after_first["members"] and after_first["events"], "the store gives the segments members"
    assert {change for _, _, change, _ in after_first["events"]} == {"enter"}
    assert after_first == after_first_c
    assert (first.customers, first.changed, first.counts, first.entered, first.exited, first.thresholds) == (
        first_c.customers, first_c.changed, first_c.counts, first_c.entered, first_c.exited, first_c.thresholds)
    assert first.entered == {name: n for name, n in first.counts.items() if n}
    assert after_second == after_second_c and second.exited and second.exited == second_c.exited
    assert second.entered == second_c.entered


def test_an_incremental_refresh_after_the_first_agrees_with_a_full_one(engine, tmp_path):
    generated = storegen.generate()
    load(engine, tmp_path, generated)
    # Fixed thresholds: a partial refresh keeps the last full refresh's percentiles, a full one moves them.
    fixed = parse_file_config({"segment_params": {"aov_thresholds": [60, 160], "vip_min_spent": 900}})
    segments = SegmentEngine(Settings(file=fixed))
    at = NOW + timedelta(days=1)
    with engine.begin() as conn:
        assert segments.refresh(conn, at).kind == "full"
    wa_ids = sorted(generated.customers)[::7]
    with engine.begin() as conn:
        for k, wa_id in enumerate(wa_ids):
            order = storegen.GenOrder(id=910_000 + k, wa_id=wa_id, phone_fields={"phone": "+" + wa_id},
                                      created_at=at - timedelta(hours=k % 20 + 1),
                                      total=storegen.Decimal(f"{400 + k}.50"))
            store.store_orders(conn, [order_from_json(order.as_json(), "US")], at)
        partial = segments.refresh_changed(conn, at)
        incremental = snapshot(conn)
    assert partial.kind == "partial" and partial.changed > 0
    with engine.begin() as conn:  # the same store refreshed in full from nothing, at the same time
        full = segments.refresh(conn, at)
        assert full.changed == 0
        forget(conn)
        segments.refresh(conn, at)
        rebuilt = snapshot(conn)
    assert rebuilt["state"] == incremental["state"]
    assert [(s, w, r) for s, w, _, r in rebuilt["members"]] == [(s, w, r) for s, w, _, r in incremental["members"]]
