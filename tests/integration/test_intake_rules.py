"""The inbound queue's rules at their edges (bot/conversation/intake.py): what a stored row holds,
when a lease frees, who may claim or fail what, how long a failed event waits and when it is set
aside. Written from docs/architecture.md (hops 3-4) and the module's docstrings; kills the mutants
docs/mutation.md lists for intake."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from bot.conversation import intake
from bot.core import db
from bot.core.tables import inbound_events
from bot.whatsapp import simulate
from bot.whatsapp.events import parse_payload

T = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
SENT = datetime(2026, 11, 28, 11, 59, 30, tzinfo=timezone.utc)  # Meta's timestamp of the message
TICK = timedelta(microseconds=1)


def message(wa_id: str, body: str, message_id: str):
    return parse_payload(simulate.text_payload(wa_id, body, message_id=message_id, timestamp=SENT.timestamp()))


def store(engine, events, at=T):
    with engine.begin() as conn:
        return intake.store(conn, events, at)


def rows(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(inbound_events).order_by(inbound_events.c.id)).all()


def claim_one(engine, owner, now, **kw):
    claimed = intake.claim(engine, owner, now, **kw)
    assert len(claimed) == 1, claimed
    return claimed[0]


# ---------------------------------------------------------------- store

def test_the_stored_row_records_the_event(engine):
    (event,) = message("1555", "hi", "wamid.1")
    assert store(engine, [event], at=T) == [event]
    (row,) = rows(engine)
    assert (row.event_key, row.kind, row.type, row.wa_id) == ("msg:wamid.1", "message", "text", "1555")
    assert (row.occurred_at, row.received_at) == (SENT, T)
    assert (row.state, row.attempts, row.lease_owner, row.lease_until, row.processed_at) == ("pending", 0, None,
                                                                                            None, None)
    assert row.payload == event.raw


def test_store_builds_its_statement_on_a_processes_first_call(engine, monkeypatch):
    monkeypatch.setattr(db, "_BUILT", {})  # as in a process that has stored nothing yet
    (event,) = message("1555", "hi", "wamid.1")
    assert store(engine, [event]) == [event]
    built = dict(db._BUILT)
    assert store(engine, [event]) == []  # the statement built once, then reused
    assert db._BUILT == built
    assert [key[2] for key in built] == [inbound_events]
    assert [r.event_key for r in rows(engine)] == ["msg:wamid.1"]


def test_a_redelivery_with_its_fields_in_another_order_is_the_same_event(engine):
    (event,) = message("1555", "hi", "wamid.1")
    store(engine, [event])
    reordered = replace(event, raw=dict(reversed(list(event.raw.items()))))
    assert list(reordered.raw) != list(event.raw)
    assert store(engine, [reordered]) == []
    assert [r.event_key for r in rows(engine)] == ["msg:wamid.1"]


def test_other_content_under_a_used_key_is_kept_done_and_never_processed(engine):
    (first,) = message("1555", "hi", "wamid.1")
    (other,) = message("1555", "something else", "wamid.1")
    store(engine, [first])
    assert store(engine, [other], at=T + timedelta(minutes=1)) == []
    original, kept = rows(engine)
    assert original.state == "pending" and original.payload == first.raw
    assert kept.event_key.startswith("msg:wamid.1#") and len(kept.event_key) == len("msg:wamid.1#") + 24
    assert kept.payload == other.raw
    assert (kept.state, kept.processed_at, kept.received_at) == ("done", T + timedelta(minutes=1),
                                                                 T + timedelta(minutes=1))
    assert kept.error == "an earlier event had this key: kept, not processed"
    # the same clash again adds nothing, and only the original is ever handed out
    store(engine, [other], at=T + timedelta(minutes=2))
    assert len(rows(engine)) == 2
    assert [c.event.text for c in intake.claim(engine, "w", T + timedelta(minutes=3))] == ["hi"]


# ---------------------------------------------------------------- claim

def test_a_claim_hands_out_the_event_with_its_attempt_and_arrival(engine):
    store(engine, message("1555", "hi", "wamid.1"), at=T)
    claimed = claim_one(engine, "w1", T + timedelta(seconds=5))
    assert (claimed.attempts, claimed.received_at, claimed.event.message_id) == (1, T, "wamid.1")
    (row,) = rows(engine)
    assert (row.lease_owner, row.lease_until, row.attempts) == ("w1", T + timedelta(seconds=65), 1)


def test_a_lease_frees_only_after_it_ends(engine):
    store(engine, message("1555", "hi", "wamid.1"))
    claim_one(engine, "w1", T, lease=timedelta(seconds=60))
    assert intake.claim(engine, "w2", T + timedelta(seconds=60)) == []  # still held at its last instant
    assert claim_one(engine, "w2", T + timedelta(seconds=60) + TICK).attempts == 2


def test_a_held_event_does_not_take_a_place_in_the_limit(engine):
    store(engine, message("1555", "first", "wamid.1"))
    claim_one(engine, "w1", T, limit=1)
    store(engine, message("1666", "second", "wamid.2"))
    # the older event is leased: the next claim of one gets the other customer's, not nothing
    assert claim_one(engine, "w2", T, limit=1).event.message_id == "wamid.2"


def test_the_owner_claiming_again_gets_nothing_it_already_holds(engine):
    store(engine, message("1555", "hi", "wamid.1"))
    claim_one(engine, "w1", T)
    assert intake.claim(engine, "w1", T + timedelta(seconds=1)) == []


def test_a_claim_returns_only_what_it_leased_now(engine):
    store(engine, message("1555", "a", "wamid.1"))
    done = claim_one(engine, "w1", T)
    with engine.begin() as conn:
        assert intake.complete(conn, done.id, "w1", T)
    store(engine, message("1666", "b", "wamid.2"))
    assert [c.event.message_id for c in intake.claim(engine, "w1", T)] == ["wamid.2"]


def test_the_limit_takes_the_oldest_first(engine):
    store(engine, message("1555", "a", "wamid.1") + message("1666", "b", "wamid.2") + message("1777", "c", "wamid.3"))
    assert [c.event.message_id for c in intake.claim(engine, "w1", T, limit=2)] == ["wamid.1", "wamid.2"]
    assert [c.event.message_id for c in intake.claim(engine, "w2", T, limit=2)] == ["wamid.3"]


def test_complete_needs_the_lease_owner_and_a_pending_event(engine):
    store(engine, message("1555", "hi", "wamid.1"))
    claimed = claim_one(engine, "w1", T)
    with engine.begin() as conn:
        assert not intake.complete(conn, claimed.id, "w2", T)
        assert intake.complete(conn, claimed.id, "w1", T + timedelta(seconds=3))
    (row,) = rows(engine)
    assert (row.state, row.processed_at, row.lease_until, row.error) == ("done", T + timedelta(seconds=3), None, None)


# ---------------------------------------------------------------- fail

def test_a_failed_event_waits_2_then_4_seconds(engine):
    store(engine, message("1555", "hi", "wamid.1"))
    first = claim_one(engine, "w", T)
    intake.fail(engine, first, "w", T, "boom")
    assert intake.claim(engine, "w", T + timedelta(seconds=2)) == []
    second = claim_one(engine, "w", T + timedelta(seconds=2) + TICK)
    assert second.attempts == 2
    at = T + timedelta(seconds=3)
    intake.fail(engine, second, "w", at, "boom")
    assert intake.claim(engine, "w", at + timedelta(seconds=4)) == []
    assert claim_one(engine, "w", at + timedelta(seconds=4) + TICK).attempts == 3


def test_the_fifth_failure_sets_the_event_aside(engine):
    store(engine, message("1555", "hi", "wamid.1"))
    now = T
    for attempt in range(1, 5):
        claimed = claim_one(engine, "w", now)
        intake.fail(engine, claimed, "w", now, f"boom {attempt}")
        (row,) = rows(engine)
        assert row.state == "pending" and row.error == f"boom {attempt}"
        now = row.lease_until + TICK
    last = claim_one(engine, "w", now)
    assert last.attempts == intake.MAX_ATTEMPTS == 5
    intake.fail(engine, last, "w", now, "boom 5")
    (row,) = rows(engine)
    assert (row.state, row.lease_until, row.processed_at, row.error) == ("dead", None, now, "boom 5")


def test_fail_touches_only_that_event_and_only_for_its_owner(engine):
    store(engine, message("1555", "a", "wamid.1") + message("1666", "b", "wamid.2"))
    a, b = intake.claim(engine, "w1", T)
    intake.fail(engine, a, "w1", T, "boom")
    first, second = rows(engine)
    assert first.error == "boom" and first.lease_until == T + timedelta(seconds=2)
    assert second.error is None and second.lease_until == T + intake.DEFAULT_LEASE
    # a worker whose lease ran out and was taken over cannot fail the new owner's claim
    taken = intake.claim(engine, "w2", T + intake.DEFAULT_LEASE + TICK)
    assert b.id in [c.id for c in taken]
    intake.fail(engine, b, "w1", T + intake.DEFAULT_LEASE + TICK, "late")
    assert rows(engine)[1].error is None and rows(engine)[1].lease_owner == "w2"


def test_a_long_error_is_kept_to_2000_characters(engine):
    store(engine, message("1555", "hi", "wamid.1"))
    intake.fail(engine, claim_one(engine, "w", T), "w", T, "x" * 1999 + "yz" + "!" * 500)
    assert rows(engine)[0].error == "x" * 1999 + "y"


def test_pending_count_counts_only_pending_events(engine):
    store(engine, message("1555", "a", "wamid.1") + message("1666", "b", "wamid.2") + message("1777", "c", "wamid.3"))
    claimed = intake.claim(engine, "w", T)
    with engine.begin() as conn:
        intake.complete(conn, claimed[0].id, "w", T)
        assert intake.pending_count(conn) == 2
