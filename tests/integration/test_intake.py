"""The durable inbound queue: idempotent storage, leases, per-customer order, crash recovery."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from bot.conversation import intake
from bot.core.tables import inbound_events
from bot.whatsapp import simulate
from bot.whatsapp.events import parse_payload

T = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def text(wa_id: str, body: str, message_id: str):
    return parse_payload(simulate.text_payload(wa_id, body, message_id=message_id, timestamp=T.timestamp()))


def store(engine, events):
    with engine.begin() as conn:
        return intake.store(conn, events, T)


def test_store_is_idempotent_by_event_key(engine):
    assert len(store(engine, text("1555", "hi", "wamid.1"))) == 1
    assert store(engine, text("1555", "hi", "wamid.1")) == []
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(inbound_events)).scalar() == 1


def test_duplicates_inside_one_payload_are_stored_once(engine):
    events = text("1555", "hi", "wamid.1") + text("1555", "hi", "wamid.1")
    assert len(store(engine, events)) == 1


def test_claim_leases_and_completes_once(engine):
    store(engine, text("1555", "a", "wamid.a") + text("1666", "b", "wamid.b"))
    claimed = intake.claim(engine, "w1", T)
    assert [c.event.message_id for c in claimed] == ["wamid.a", "wamid.b"]
    assert intake.claim(engine, "w2", T) == []  # leased
    with engine.begin() as conn:
        assert intake.complete(conn, claimed[0].id, "w1", T)
        assert not intake.complete(conn, claimed[0].id, "w1", T)  # exactly once


def test_one_customer_is_served_in_order(engine):
    store(engine, text("1555", "first", "wamid.1") + text("1555", "second", "wamid.2") + text("1666", "x", "wamid.3"))
    first_round = intake.claim(engine, "w1", T)
    assert [c.event.message_id for c in first_round] == ["wamid.1", "wamid.3"]
    with engine.begin() as conn:
        intake.complete(conn, first_round[0].id, "w1", T)
    assert [c.event.message_id for c in intake.claim(engine, "w2", T)] == ["wamid.2"]


def test_an_expired_lease_returns_the_event(engine):
    store(engine, text("1555", "hi", "wamid.1"))
    assert len(intake.claim(engine, "crashed", T)) == 1
    assert intake.claim(engine, "w2", T + timedelta(seconds=30)) == []
    again = intake.claim(engine, "w2", T + intake.DEFAULT_LEASE + timedelta(seconds=1))
    assert len(again) == 1 and again[0].attempts == 2


def test_failures_back_off_then_are_set_aside(engine):
    store(engine, text("1555", "hi", "wamid.1"))
    now = T
    for attempt in range(1, intake.MAX_ATTEMPTS + 1):
        claimed = intake.claim(engine, "w", now)
        assert len(claimed) == 1 and claimed[0].attempts == attempt
        intake.fail(engine, claimed[0], "w", now, "boom")
        now += timedelta(seconds=2 ** attempt + 1)
    assert intake.claim(engine, "w", now + timedelta(days=1)) == []
    with engine.connect() as conn:
        state, error = conn.execute(sa.select(inbound_events.c.state, inbound_events.c.error)).one()
    assert (state, error) == ("dead", "boom")
