"""The outbox's rules at their edges (bot/conversation/outbox.py, docs/sending.md): what a queued row
holds, the dedupe key, and how status webhooks move a row (found by Meta's id or our callback
data, forward only, failed with its code). Kills the mutants docs/mutation.md lists for the outbox."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.conversation import customers, outbox
from bot.core.tables import customers as customers_table
from bot.core.tables import outbox as outbox_table
from bot.whatsapp import messages
from bot.whatsapp.events import ErrorInfo, StatusUpdate

T = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
WA_ID = "15551234567"
TEMPLATE = messages.template_message("we_miss_you", "en_US", ["Ana"])


def customer(engine, wa_id=WA_ID):
    with engine.begin() as conn:
        return customers.touch_inbound(conn, wa_id=wa_id, user_id=None, profile_name="Ana", sent_at=T, now=T)


def enqueue(engine, c=None, text="Hello", **kw):
    kw.setdefault("now", T)
    with engine.begin() as conn:
        return outbox.enqueue(conn, recipient=c.wa_id if c else WA_ID, customer_id=c.id if c else None,
                              message=messages.text_message(text), **kw)


def row(engine, outbox_id):
    with engine.connect() as conn:
        return conn.execute(sa.select(outbox_table).where(outbox_table.c.id == outbox_id)).one()


def set_row(engine, outbox_id, **values):
    with engine.begin() as conn:
        conn.execute(sa.update(outbox_table).where(outbox_table.c.id == outbox_id).values(**values))


def apply(engine, message_id, status, at=None, *, callback=None, errors=(), now=T):
    update = StatusUpdate(message_id, status, at, WA_ID, tuple(errors), callback, None, None)
    with engine.begin() as conn:
        return outbox.apply_status(conn, update, now)


def sent_row(engine, c=None, wamid="wamid.1", **kw):
    oid = enqueue(engine, c, **kw)
    set_row(engine, oid, state="sent", wa_message_id=wamid, sent_at=T)
    return oid


# ---------------------------------------------------------------- queueing

def test_a_queued_row_holds_everything_the_sender_needs(engine):
    c = customer(engine)
    text = messages.text_message("Your order shipped")
    with engine.begin() as conn:
        oid = outbox.enqueue(conn, recipient=WA_ID, customer_id=c.id, message=text, now=T, kind="campaign",
                             category="marketing", fallback=TEMPLATE, source="campaign:x", dedupe_key="campaign:x:1",
                             not_before=T + timedelta(hours=9))
    queued = row(engine, oid)
    assert (queued.customer_id, queued.recipient, queued.kind, queued.category) == (c.id, WA_ID, "campaign", "marketing")
    assert (queued.payload, queued.fallback, queued.preview) == (text, TEMPLATE, "Your order shipped")
    assert (queued.source, queued.dedupe_key, queued.state, queued.attempts) == ("campaign:x", "campaign:x:1",
                                                                                 "queued", 0)
    assert (queued.not_before, queued.created_at, queued.used_fallback) == (T + timedelta(hours=9), T, False)
    assert (queued.wa_message_id, queued.lease_owner, queued.error_code) == (None, None, None)


def test_a_reply_is_due_at_once_and_has_no_fallback(engine):
    oid = enqueue(engine)
    queued = row(engine, oid)
    assert (queued.kind, queued.category, queued.not_before, queued.fallback, queued.dedupe_key) == (
        "reply", "service", T, None, None)


def test_outbox_row_copies_the_message_and_gives_a_read_receipt_no_preview():
    text = messages.text_message("Hi")
    made = outbox.outbox_row(recipient=WA_ID, message=text, now=T)
    assert made["payload"] == text and made["payload"] is not text
    assert made["preview"] == "Hi" and made["fallback"] is None and made["not_before"] == T
    assert (made["kind"], made["category"]) == ("reply", "service")
    receipt = outbox.outbox_row(recipient=WA_ID, message={"message_id": "wamid.in"}, now=T, kind="read")
    assert receipt["preview"] is None


def test_rows_without_a_dedupe_key_are_all_queued(engine):
    first, second = enqueue(engine), enqueue(engine)
    assert first is not None and second == first + 1


def test_a_dedupe_key_queues_once_and_keeps_the_first_row(engine):
    first = enqueue(engine, text="first", dedupe_key="reorder:7:2026-11")
    assert enqueue(engine, text="second", dedupe_key="reorder:7:2026-11") is None
    other = enqueue(engine, text="other", dedupe_key="reorder:7:2026-12")
    assert other is not None and other > first  # PostgreSQL's sequence also moves on the refused insert
    assert row(engine, first).preview == "first"


def test_enqueue_many_returns_every_keys_row_old_or_new(engine, monkeypatch):
    monkeypatch.setattr(outbox, "KEY_CHUNK", 2)  # the ids are read back in chunks: make there be several
    before = enqueue(engine, text="before", dedupe_key="k2")
    made = [outbox.outbox_row(recipient=WA_ID, message=messages.text_message(f"m{i}"), now=T, dedupe_key=f"k{i}")
            for i in range(1, 6)]
    with engine.begin() as conn:
        ids = outbox.enqueue_many(conn, made)
        assert outbox.enqueue_many(conn, []) == {}
    assert set(ids) == {"k1", "k2", "k3", "k4", "k5"}
    assert ids["k2"] == before and row(engine, before).preview == "before"
    assert [row(engine, ids[f"k{i}"]).preview for i in (1, 3, 4, 5)] == ["m1", "m3", "m4", "m5"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox_table)).scalar() == 5


def test_depth_counts_queued_and_sending_rows(engine):
    ids = [enqueue(engine, text=str(i)) for i in range(5)]
    set_row(engine, ids[1], state="sending")
    set_row(engine, ids[2], state="sent")
    set_row(engine, ids[3], state="failed")
    with engine.connect() as conn:
        assert outbox.depth(conn) == 3  # ids[0], ids[1] (sending) and ids[4]


# ---------------------------------------------------------------- finding the row of a status

def test_callback_data_names_the_row(engine):
    oid = enqueue(engine)
    assert outbox.callback_data(oid) == f"outbox:{oid}"
    found = apply(engine, "wamid.early", "sent", T, callback=f"outbox:{oid}")
    assert found == {"id": oid, "customer_id": None, "kind": "reply"}
    assert row(engine, oid).wa_message_id == "wamid.early"


@pytest.mark.parametrize("callback", ["outbox:", "outbox:abc", "outbox:1x", "inbox:1", "1", "", None])
def test_other_callback_data_names_no_row(engine, callback):
    enqueue(engine)
    assert apply(engine, "wamid.unknown", "delivered", T, callback=callback) is None
    assert row(engine, 1).state == "queued"


def test_metas_id_finds_the_row_and_the_status_returns_it(engine):
    c = customer(engine)
    oid = sent_row(engine, c, kind="campaign", category="marketing")
    assert apply(engine, "wamid.1", "delivered", T) == {"id": oid, "customer_id": c.id, "kind": "campaign"}
    assert apply(engine, "wamid.other", "delivered", T) is None


def test_metas_id_finds_the_row_even_when_the_callback_names_another(engine):
    oid = sent_row(engine, wamid="wamid.1")
    assert apply(engine, "wamid.1", "delivered", T, callback="outbox:999")["id"] == oid
    assert row(engine, oid).state == "delivered"


def test_a_status_without_a_message_id_does_not_become_the_rows_id(engine):
    oid = enqueue(engine)
    apply(engine, "noid-0123abcd", "sent", T, callback=f"outbox:{oid}")
    assert row(engine, oid).wa_message_id is None
    assert row(engine, oid).state == "sent"


def test_metas_id_is_not_replaced_once_known(engine):
    oid = sent_row(engine, wamid="wamid.1")
    apply(engine, "wamid.2", "delivered", T, callback=f"outbox:{oid}")
    assert row(engine, oid).wa_message_id == "wamid.1"


# ---------------------------------------------------------------- moving forward only

def test_each_status_sets_its_time_once(engine):
    oid = sent_row(engine)
    apply(engine, "wamid.1", "delivered", T + timedelta(seconds=3))
    apply(engine, "wamid.1", "delivered", T + timedelta(seconds=9))  # Meta redelivers the webhook
    apply(engine, "wamid.1", "read", T + timedelta(seconds=20))
    apply(engine, "wamid.1", "read", T + timedelta(seconds=40))
    done = row(engine, oid)
    assert (done.state, done.sent_at, done.delivered_at, done.read_at) == (
        "read", T, T + timedelta(seconds=3), T + timedelta(seconds=20))


def test_delivered_or_read_first_implies_it_was_sent_then(engine):
    delivered = enqueue(engine)
    apply(engine, "wamid.d", "delivered", T + timedelta(seconds=3), callback=f"outbox:{delivered}")
    d = row(engine, delivered)
    assert (d.state, d.sent_at, d.delivered_at) == ("delivered", T + timedelta(seconds=3), T + timedelta(seconds=3))
    read = enqueue(engine)
    apply(engine, "wamid.r", "read", T + timedelta(seconds=5), callback=f"outbox:{read}")
    r = row(engine, read)
    assert (r.state, r.sent_at, r.delivered_at, r.read_at) == ("read", T + timedelta(seconds=5), None,
                                                               T + timedelta(seconds=5))


def test_sent_after_delivered_sets_only_the_missing_sent_time(engine):
    oid = enqueue(engine)
    set_row(engine, oid, state="delivered", wa_message_id="wamid.1", delivered_at=T + timedelta(seconds=2))
    apply(engine, "wamid.1", "sent", T + timedelta(seconds=1))
    done = row(engine, oid)
    assert (done.state, done.sent_at, done.delivered_at) == ("delivered", T + timedelta(seconds=1),
                                                             T + timedelta(seconds=2))


def test_a_sending_row_moves_to_sent_on_the_sent_status(engine):
    oid = enqueue(engine)
    set_row(engine, oid, state="sending")
    apply(engine, "wamid.1", "sent", T + timedelta(seconds=1), callback=f"outbox:{oid}")
    assert (row(engine, oid).state, row(engine, oid).sent_at) == ("sent", T + timedelta(seconds=1))


def test_played_counts_as_read(engine):
    oid = sent_row(engine)
    apply(engine, "wamid.1", "played", T + timedelta(seconds=7))
    done = row(engine, oid)
    assert (done.state, done.read_at, done.delivered_at) == ("read", T + timedelta(seconds=7), None)


def test_a_status_without_a_timestamp_is_dated_now(engine):
    oid = sent_row(engine)
    apply(engine, "wamid.1", "delivered", None, now=T + timedelta(minutes=1))
    assert row(engine, oid).delivered_at == T + timedelta(minutes=1)


def test_a_failed_row_stays_failed_whatever_comes_later(engine):
    oid = sent_row(engine)
    apply(engine, "wamid.1", "failed", T + timedelta(seconds=2), errors=[ErrorInfo(131026, "Undeliverable")])
    apply(engine, "wamid.1", "delivered", T + timedelta(seconds=3))
    done = row(engine, oid)
    assert (done.state, done.error_code, done.delivered_at) == ("failed", 131026, T + timedelta(seconds=3))


# ---------------------------------------------------------------- failed statuses

def test_a_failed_status_records_when_code_and_title(engine):
    oid = sent_row(engine)
    apply(engine, "wamid.1", "failed", T + timedelta(seconds=4),
          errors=[ErrorInfo(131049, "Marketing limit"), ErrorInfo(1, "second")])
    done = row(engine, oid)
    assert (done.state, done.failed_at, done.error_code, done.error_title) == (
        "failed", T + timedelta(seconds=4), 131049, "Marketing limit")


def test_a_failed_status_without_errors_or_title_says_failed(engine):
    bare = sent_row(engine, wamid="wamid.1")
    apply(engine, "wamid.1", "failed", T)
    assert (row(engine, bare).state, row(engine, bare).error_code, row(engine, bare).error_title) == (
        "failed", None, "failed")
    untitled = sent_row(engine, wamid="wamid.2")
    apply(engine, "wamid.2", "failed", T, errors=[ErrorInfo(131000, None)])
    assert (row(engine, untitled).error_code, row(engine, untitled).error_title) == (131000, "failed")


def test_a_failed_title_is_kept_to_500_characters(engine):
    oid = sent_row(engine)
    apply(engine, "wamid.1", "failed", T, errors=[ErrorInfo(131000, "y" * 499 + "z" + "!" * 100)])
    assert row(engine, oid).error_title == "y" * 499 + "z"


@pytest.mark.parametrize("state", ["delivered", "read"])
def test_failed_after_delivery_keeps_the_state_but_records_the_error(engine, state):
    oid = sent_row(engine)
    set_row(engine, oid, state=state)
    apply(engine, "wamid.1", "failed", T + timedelta(seconds=5), errors=[ErrorInfo(131026, "Undeliverable")])
    done = row(engine, oid)
    assert (done.state, done.error_code, done.failed_at) == (state, 131026, T + timedelta(seconds=5))


def test_131050_pauses_that_customers_marketing(engine):
    c, other = customer(engine), customer(engine, "15557654321")
    oid = sent_row(engine, c)
    apply(engine, "wamid.1", "failed", T, errors=[ErrorInfo(131050, "User stopped marketing")],
          now=T + timedelta(minutes=2))
    assert row(engine, oid).state == "failed"
    with engine.connect() as conn:
        paused = dict(conn.execute(sa.select(customers_table.c.id, customers_table.c.marketing_paused)).all())
        updated_at = conn.execute(sa.select(customers_table.c.updated_at)
                                  .where(customers_table.c.id == c.id)).scalar_one()
    assert paused == {c.id: True, other.id: False}
    assert updated_at == T + timedelta(minutes=2)


def test_other_failures_pause_nothing(engine):
    c = customer(engine)
    sent_row(engine, c)
    apply(engine, "wamid.1", "failed", T, errors=[ErrorInfo(131049, "Marketing limit")])
    with engine.connect() as conn:
        assert not customers.get(conn, c.id).marketing_paused


def test_131050_for_a_row_without_a_customer_changes_no_customer(engine):
    c = customer(engine)
    oid = sent_row(engine)  # queued without a customer id (an agent's message to a bare number)
    apply(engine, "wamid.1", "failed", T, errors=[ErrorInfo(131050, "User stopped marketing")])
    assert row(engine, oid).state == "failed"
    with engine.connect() as conn:
        assert not customers.get(conn, c.id).marketing_paused
