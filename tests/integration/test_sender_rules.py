"""The sender's rules at their edges (bot/pipeline/sender.py, docs/sending.md): which rows are due
and claimed, in what order, what is cancelled and why, and what a send, a retry, the template
fallback and a final failure write to the row. The transport is an in-process script of the
Graph API's answers, so each test says exactly what Meta answered; kills the mutants
docs/mutation.md lists for the sender."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.conversation import customers, handoff, outbox
from bot.core.retry import Backoff
from bot.core.tables import customers as customers_table
from bot.core.tables import outbox as outbox_table
from bot.pipeline.metrics import Metrics
from bot.pipeline.sender import MAX_ATTEMPTS, SEND_LEASE, Sender
from bot.whatsapp import graph, messages
from bot.whatsapp.events import StatusUpdate

T = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
TICK = timedelta(microseconds=1)
TEMPLATE = messages.template_message("we_miss_you", "en_US", ["Ana"])


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Steps:
    """A clock read once to claim and once to record: the record's time differs from the claim's."""

    def __init__(self, *times: datetime):
        self.times = list(times)

    def __call__(self) -> datetime:
        return self.times.pop(0) if len(self.times) > 1 else self.times[0]


class Script:
    """A transport that answers from a script: an exception is raised, anything else sends."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.bodies: list[dict] = []
        self.reads: list[str] = []
        self.on_send = None
        self._lock = threading.Lock()
        self._count = 0

    def _next(self):
        with self._lock:
            self._count += 1
            return self._count, (self.answers.pop(0) if self.answers else None)

    def send(self, body: dict) -> str:
        self.bodies.append(body)
        if self.on_send is not None:
            self.on_send(body)
        n, answer = self._next()
        if isinstance(answer, Exception):
            raise answer
        return f"wamid.s{n}"

    def mark_read(self, message_id: str) -> None:
        self.reads.append(message_id)
        _, answer = self._next()
        if isinstance(answer, Exception):
            raise answer


@pytest.fixture
def clock():
    return Clock(T)


@pytest.fixture
def metrics():
    return Metrics()


def make(engine, transport, clock, metrics=None, **kw):
    kw.setdefault("backoff", Backoff(base=1.0, cap=300.0, jitter=False))
    return Sender(engine, transport, rate_limit=1000.0, concurrency=2, clock=clock, metrics=metrics, **kw)


def customer(engine, wa_id="15551234567", *, opted_out=False, marketing_paused=False, state=None):
    with engine.begin() as conn:
        c = customers.touch_inbound(conn, wa_id=wa_id, user_id=None, profile_name="Ana", sent_at=T, now=T)
        if opted_out:
            customers.set_opted_out(conn, c.id, True, T)
        if marketing_paused:
            customers.set_marketing_paused(conn, wa_id, True, T)
        if state is not None:
            handoff.transition(conn, c.id, state, actor="test", now=T)
    return c


def enqueue(engine, c, text="Hello", **kw):
    kw.setdefault("now", T)
    with engine.begin() as conn:
        return outbox.enqueue(conn, recipient=c.wa_id, customer_id=c.id, message=messages.text_message(text), **kw)


def row(engine, outbox_id):
    with engine.connect() as conn:
        return conn.execute(sa.select(outbox_table).where(outbox_table.c.id == outbox_id)).one()


def counted(metrics, status):
    return metrics.registry.get_sample_value("wabot_outbound_messages_total", {"status": status}) or 0


# ---------------------------------------------------------------- claiming

def test_a_row_is_due_from_its_not_before_on(engine, clock):
    c = customer(engine)
    due = enqueue(engine, c, not_before=T)
    sender = make(engine, Script(), clock)
    other = customer(engine, "15557654321")
    later = enqueue(engine, other, not_before=T + TICK)
    assert [o.id for o in sender.claim(T)] == [due]
    assert [o.id for o in sender.claim(T + TICK)] == [later]


def test_a_claim_leases_the_row_for_120_seconds_and_counts_the_attempt(engine, clock):
    oid = enqueue(engine, customer(engine))
    sender = make(engine, Script(), clock)
    (item,) = sender.claim(T)
    assert (item.id, item.attempts, item.kind, item.category, item.blocked_reason) == (oid, 1, "reply", "service", None)
    leased = row(engine, oid)
    assert (leased.state, leased.lease_owner, leased.lease_until, leased.attempts) == (
        "sending", sender.owner, T + timedelta(seconds=120), 1)
    assert SEND_LEASE == timedelta(seconds=120)
    assert sender.claim(T) == []  # leased rows are not claimed twice


def test_a_dead_senders_lease_returns_only_after_it_ends(engine, clock):
    oid = enqueue(engine, customer(engine))
    crashed = make(engine, Script(), clock)
    crashed.claim(T)
    sender = make(engine, Script(), clock)
    assert sender.release_expired(T + SEND_LEASE) == 0
    assert row(engine, oid).state == "sending"
    assert sender.release_expired(T + SEND_LEASE + TICK) == 1
    back = row(engine, oid)
    assert (back.state, back.lease_owner, back.lease_until) == ("queued", None, None)


def test_run_once_releases_expired_leases_before_claiming(engine, clock):
    oid = enqueue(engine, customer(engine))
    make(engine, Script(), clock).claim(T)
    transport = Script()
    assert make(engine, transport, Clock(T + SEND_LEASE + TICK)).run_once() == 1
    assert row(engine, oid).state == "sent" and row(engine, oid).attempts == 2


def test_a_batch_takes_the_oldest_rows_first(engine, clock):
    ids = [enqueue(engine, customer(engine, f"1555000000{i}")) for i in range(3)]
    sender = make(engine, Script(), clock, batch=2)
    assert [o.id for o in sender.claim(T)] == ids[:2]
    assert [o.id for o in sender.claim(T)] == ids[2:]


def test_a_later_row_waits_for_an_earlier_due_or_sending_one_of_the_same_customer(engine, clock):
    c = customer(engine)
    first, _second = enqueue(engine, c, text="1"), enqueue(engine, c, text="2")
    someone_else = enqueue(engine, customer(engine, "15557654321"))
    sender = make(engine, Script(), clock)
    assert [o.id for o in sender.claim(T)] == [first, someone_else]
    assert sender.claim(T) == []  # the first is sending: the second waits


def test_a_sending_row_holds_the_next_one_even_by_a_clock_that_is_behind(engine, clock):
    # two sender processes, the second one's clock a little behind the first's
    c = customer(engine)
    first = enqueue(engine, c, text="1", not_before=T)
    enqueue(engine, c, text="2", not_before=T - timedelta(seconds=5))
    assert [o.id for o in make(engine, Script(), clock).claim(T)] == [first]
    assert make(engine, Script(), clock).claim(T - timedelta(seconds=2)) == []


def test_an_earlier_row_waiting_for_its_retry_does_not_hold_the_next_one(engine, clock):
    c = customer(engine)
    waiting = enqueue(engine, c, text="1", not_before=T + timedelta(minutes=5))
    nxt = enqueue(engine, c, text="2")
    assert [o.id for o in make(engine, Script(), clock).claim(T)] == [nxt]
    assert row(engine, waiting).state == "queued"


def test_finished_rows_hold_nothing_back(engine, clock):
    c = customer(engine)
    transport = Script(graph.RecipientError(131026, "Message undeliverable"))
    sender = make(engine, transport, clock)
    failed = enqueue(engine, c, text="1")
    sender.drain()
    assert row(engine, failed).state == "failed"
    sent = enqueue(engine, c, text="2")
    sender.drain()
    later = enqueue(engine, c, text="3")
    assert row(engine, sent).state == "sent"
    assert [o.id for o in sender.claim(T)] == [later]


# ---------------------------------------------------------------- checked at send time

@pytest.mark.parametrize("kind, category, facts, reason", [
    ("campaign", "marketing", {"opted_out": True}, "opted_out"),
    ("reorder", "utility", {"opted_out": True}, "opted_out"),
    ("campaign", "marketing", {"opted_out": True, "marketing_paused": True}, "opted_out"),
    ("campaign", "marketing", {"marketing_paused": True}, "marketing_paused"),
    ("reorder", "marketing", {"marketing_paused": True}, "marketing_paused"),
    ("campaign", "utility", {"marketing_paused": True}, None),
    ("campaign", "marketing", {"state": handoff.PENDING}, "in_handoff"),
    ("reorder", "utility", {"state": handoff.AGENT}, "in_handoff"),
    ("campaign", "marketing", {"state": handoff.BOT}, None),
    ("campaign", "marketing", {}, None),
    ("reply", "service", {"opted_out": True, "state": handoff.AGENT}, None),
    ("agent", "service", {"opted_out": True, "marketing_paused": True, "state": handoff.AGENT}, None),
])
def test_what_is_cancelled_at_send_time(engine, clock, metrics, kind, category, facts, reason):
    c = customer(engine, **facts)
    oid = enqueue(engine, c, kind=kind, category=category)
    transport = Script()
    assert [o.blocked_reason for o in make(engine, transport, clock).claim(T)] == [reason]
    make(engine, transport, Clock(T + SEND_LEASE + TICK), metrics).drain()  # after that claim's lease
    done = row(engine, oid)
    if reason is None:
        assert done.state == "sent" and len(transport.bodies) == 1
        assert counted(metrics, "sent") == 1 and counted(metrics, "cancelled") == 0
    else:
        assert (done.state, done.error_title, done.lease_owner, done.lease_until) == ("cancelled", reason, None, None)
        assert transport.bodies == []
        assert counted(metrics, "cancelled") == 1 and counted(metrics, "sent") == 0


# ---------------------------------------------------------------- what a send records

def test_a_send_records_metas_id_and_the_time(engine, clock, metrics):
    c = customer(engine)
    oid = enqueue(engine, c)
    transport = Script()
    assert make(engine, transport, Steps(T, T + timedelta(seconds=2)), metrics).run_once() == 1
    sent = row(engine, oid)
    assert (sent.state, sent.wa_message_id, sent.sent_at, sent.lease_owner, sent.lease_until) == (
        "sent", "wamid.s1", T + timedelta(seconds=2), None, None)
    (body,) = transport.bodies
    assert body["to"] == c.wa_id and body["biz_opaque_callback_data"] == f"outbox:{oid}"
    assert body["type"] == "text" and body["text"]["body"] == "Hello"
    assert counted(metrics, "sent") == 1


def test_a_status_that_arrives_during_the_send_is_not_undone(engine, clock):
    c = customer(engine)
    oid = enqueue(engine, c)
    transport = Script()
    delivered_at = T + timedelta(milliseconds=300)

    def meta_reports_delivery_first(body):
        with engine.begin() as conn:
            outbox.apply_status(conn, StatusUpdate("wamid.s1", "delivered", delivered_at, c.wa_id, (),
                                                   body["biz_opaque_callback_data"], None, None), T)

    transport.on_send = meta_reports_delivery_first
    clock.now = T + timedelta(seconds=1)
    make(engine, transport, clock).drain()
    done = row(engine, oid)
    assert (done.state, done.wa_message_id, done.sent_at, done.delivered_at) == (
        "delivered", "wamid.s1", delivered_at, delivered_at)


def test_a_read_receipt_is_marked_not_sent(engine, clock):
    c = customer(engine)
    with engine.begin() as conn:
        oid = outbox.enqueue(conn, recipient=c.wa_id, customer_id=c.id, kind="read",
                             message={"message_id": "wamid.in.1"}, now=T)
    transport = Script()
    make(engine, transport, clock).drain()
    assert transport.reads == ["wamid.in.1"] and transport.bodies == []
    done = row(engine, oid)
    assert (done.state, done.wa_message_id) == ("sent", None)


# ---------------------------------------------------------------- retries

def test_a_transient_error_is_retried_after_the_backoff_with_its_error_kept(engine, clock, metrics):
    oid = enqueue(engine, customer(engine))
    transport = Script(graph.ServerError(None, "HTTP 503"), graph.ServerError(None, "HTTP 502"))
    sender = make(engine, transport, clock, metrics)
    sender.drain()
    first = row(engine, oid)
    assert (first.state, first.attempts, first.not_before) == ("queued", 1, T + timedelta(seconds=1))
    assert (first.error_code, first.error_title, first.lease_owner, first.lease_until) == (
        None, "(None) HTTP 503", None, None)
    assert counted(metrics, "retry") == 1
    clock.now = T + timedelta(seconds=1)
    sender.drain()
    second = row(engine, oid)
    assert (second.state, second.attempts, second.not_before) == ("queued", 2, clock.now + timedelta(seconds=2))
    assert second.error_title == "(None) HTTP 502"
    clock.now += timedelta(seconds=2)
    sender.drain()
    assert row(engine, oid).state == "sent" and len(transport.bodies) == 3


def test_retry_after_wins_over_the_backoff(engine, clock):
    oid = enqueue(engine, customer(engine))
    transport = Script(graph.RateLimitedError(131056, "Pair rate limit", http_status=400, retry_after=30.0))
    make(engine, transport, clock).drain()
    waiting = row(engine, oid)
    assert (waiting.state, waiting.not_before, waiting.error_code) == ("queued", T + timedelta(seconds=30), 131056)


def test_the_eighth_failed_attempt_is_final(engine, clock, metrics):
    assert MAX_ATTEMPTS == 8
    oid = enqueue(engine, customer(engine))
    errors = [graph.ServerError(None, f"HTTP 500 #{n}", retry_after=0.0) for n in range(1, 9)]
    transport = Script(*errors)
    make(engine, transport, clock, metrics).drain()
    failed = row(engine, oid)
    assert (failed.state, failed.attempts, failed.failed_at, failed.error_title) == ("failed", 8, T, "(None) HTTP 500 #8")
    assert len(transport.bodies) == 8
    assert (counted(metrics, "retry"), counted(metrics, "failed")) == (7, 1)


def test_seven_failed_attempts_still_end_in_a_send(engine, clock):
    oid = enqueue(engine, customer(engine))
    transport = Script(*[graph.ServerError(None, "HTTP 500", retry_after=0.0) for _ in range(7)])
    make(engine, transport, clock).drain()
    sent = row(engine, oid)
    assert (sent.state, sent.attempts) == ("sent", 8)


def test_an_unexpected_transport_failure_is_retried_as_a_server_error(engine, clock):
    oid = enqueue(engine, customer(engine))
    make(engine, Script(RuntimeError("socket closed")), clock).drain()
    retried = row(engine, oid)
    assert (retried.state, retried.error_code, retried.error_title) == (
        "queued", None, "(None) unexpected RuntimeError: socket closed")


# ---------------------------------------------------------------- the template fallback and final failures

def test_131047_requeues_the_template_once_now(engine, clock, metrics):
    c = customer(engine)
    oid = enqueue(engine, c, kind="campaign", category="marketing", fallback=TEMPLATE)
    transport = Script(graph.WindowClosedError(131047, "Re-engagement message"))
    sender = make(engine, transport, Steps(T, T + timedelta(seconds=3)), metrics)
    assert sender.run_once() == 1
    requeued = row(engine, oid)
    assert (requeued.state, requeued.payload, requeued.used_fallback, requeued.not_before) == (
        "queued", TEMPLATE, True, T + timedelta(seconds=3))
    assert requeued.preview == messages.preview_of(TEMPLATE)
    assert (requeued.error_code, requeued.lease_owner, requeued.lease_until) == (131047, None, None)
    assert counted(metrics, "fallback") == 1
    sender.drain()
    assert row(engine, oid).state == "sent"
    assert [b["type"] for b in transport.bodies] == ["text", "template"]


def test_the_fallback_is_used_only_once(engine, clock):
    oid = enqueue(engine, customer(engine), kind="campaign", category="marketing", fallback=TEMPLATE)
    transport = Script(graph.WindowClosedError(131047, "Re-engagement message"),
                       graph.WindowClosedError(131047, "Re-engagement message"))
    make(engine, transport, clock).drain()
    failed = row(engine, oid)
    assert (failed.state, failed.error_code, failed.used_fallback) == ("failed", 131047, True)
    assert len(transport.bodies) == 2


def test_a_permanent_error_fails_at_once_with_its_code_and_title(engine, clock, metrics):
    c = customer(engine)
    oid = enqueue(engine, c, kind="campaign", category="marketing", fallback=TEMPLATE)
    long_title = "Template paused " + "x" * 600
    transport = Script(graph.TemplateError(132015, long_title))
    assert make(engine, transport, Steps(T, T + timedelta(seconds=4)), metrics).run_once() == 1
    failed = row(engine, oid)
    assert (failed.state, failed.attempts, failed.failed_at, failed.error_code) == (
        "failed", 1, T + timedelta(seconds=4), 132015)
    assert failed.error_title == f"(132015) {long_title}"[:500] and len(failed.error_title) == 500
    assert (failed.lease_owner, failed.lease_until, failed.used_fallback) == (None, None, False)
    assert counted(metrics, "failed") == 1
    with engine.connect() as conn:
        assert not customers.get(conn, c.id).marketing_paused  # only 131050 pauses marketing


def test_131050_fails_and_pauses_the_customers_marketing(engine, clock):
    c = customer(engine)
    other = customer(engine, "15557654321")
    oid = enqueue(engine, c, kind="campaign", category="marketing")
    clock.now = T + timedelta(seconds=5)
    make(engine, Script(graph.MarketingStoppedError(131050, "User stopped marketing messages")), clock).drain()
    assert (row(engine, oid).state, row(engine, oid).error_code) == ("failed", 131050)
    with engine.connect() as conn:
        paused, updated_at = conn.execute(sa.select(customers_table.c.marketing_paused, customers_table.c.updated_at)
                                          .where(customers_table.c.id == c.id)).one()
        assert paused and updated_at == T + timedelta(seconds=5)
        assert not customers.get(conn, other.id).marketing_paused


# ---------------------------------------------------------------- a batch, and a sender that was too slow

def test_run_once_with_nothing_due_handles_nothing(engine, clock):
    enqueue(engine, customer(engine), not_before=T + timedelta(seconds=1))
    assert make(engine, Script(), clock).run_once() == 0


def test_each_row_of_a_batch_gets_its_own_outcome(engine, clock):
    a, b, c = (customer(engine, f"1555000000{i}") for i in range(3))
    failed, retried, sent = enqueue(engine, a), enqueue(engine, b), enqueue(engine, c)
    answers = {a.wa_id: graph.RecipientError(131026, "Message undeliverable"), b.wa_id: graph.ServerError(None, "HTTP 503")}

    class ByRecipient(Script):
        def send(self, body):
            self.bodies.append(body)
            if body["to"] in answers:
                raise answers[body["to"]]
            return "wamid.ok"

    assert make(engine, ByRecipient(), clock).run_once() == 3
    assert [row(engine, i).state for i in (failed, retried, sent)] == ["failed", "queued", "sent"]
    assert [row(engine, i).error_code for i in (failed, retried, sent)] == [131026, None, None]


def test_a_sender_whose_lease_ran_out_before_the_hand_over_sends_nothing(engine, clock):
    c = customer(engine)
    oid = enqueue(engine, c)
    slow, transport = make(engine, Script(), clock), Script()
    [item] = slow.claim(T)
    later = T + SEND_LEASE + TICK
    takeover = make(engine, transport, Clock(later))
    takeover.release_expired(later)  # never handed over: back to the queue...
    assert [o.id for o in takeover.claim(later)] == [oid]  # ...and claimed by another sender
    result = slow._send(item)
    assert result.lease_lost and slow.transport.bodies == []
    now_owned = row(engine, oid)
    assert (now_owned.state, now_owned.lease_owner, now_owned.attempts) == ("sending", takeover.owner, 2)


@pytest.mark.parametrize("answer, kind, state", [
    (None, "reply", "sent"),  # Meta accepted it
    (graph.RecipientError(131026, "Message undeliverable"), "reply", "failed"),
    (graph.ServerError(None, "HTTP 503"), "reply", "queued"),  # to be retried
    (graph.WindowClosedError(131047, "Re-engagement message"), "campaign", "queued"),  # as the template
])
def test_a_send_slower_than_the_lease_goes_unknown_and_its_answer_then_resolves_it(engine, clock, answer, kind,
                                                                                   state):
    c = customer(engine)
    oid = enqueue(engine, c, kind=kind, fallback=TEMPLATE if kind == "campaign" else None)
    later = T + SEND_LEASE + TICK
    takeover = make(engine, Script(), Clock(later))
    slow = Script(*([answer] if answer else []))
    seen = []

    def lease_runs_out_during_the_send(body):  # another sender looks at the row meanwhile
        takeover.release_expired(later)
        seen.append((row(engine, oid).state, [o.id for o in takeover.claim(later)]))

    slow.on_send = lease_runs_out_during_the_send
    make(engine, slow, clock).run_once()
    assert seen == [("unknown", [])]  # handed over: it may have left, so nobody sends it again
    resolved = row(engine, oid)
    assert (resolved.state, resolved.lease_owner) == (state, None)
    assert resolved.used_fallback == (kind == "campaign")
    assert (resolved.wa_message_id is not None) == (answer is None)


def test_a_cancelled_row_in_a_batch_cancels_only_itself(engine, clock):
    stopped, other = customer(engine, opted_out=True), customer(engine, "15557654321")
    cancelled = enqueue(engine, stopped, kind="campaign", category="marketing")
    failed = enqueue(engine, other)
    sent = enqueue(engine, customer(engine, "15550001111"))

    class FailsForOther(Script):
        def send(self, body):
            self.bodies.append(body)
            if body["to"] == other.wa_id:
                raise graph.RecipientError(131026, "Message undeliverable")
            return "wamid.ok"

    assert make(engine, FailsForOther(), clock).run_once() == 3
    assert [row(engine, i).state for i in (cancelled, failed, sent)] == ["cancelled", "failed", "sent"]


def test_a_slow_sender_cancels_nothing_the_new_owner_holds(engine, clock):
    stopped, other = customer(engine, opted_out=True), customer(engine, "15557654321")
    blocked = enqueue(engine, stopped, kind="campaign", category="marketing")
    normal = enqueue(engine, other)
    slow = make(engine, Script(), clock)
    items = slow.claim(T)
    later = T + SEND_LEASE + TICK
    takeover = make(engine, Script(), Clock(later))
    takeover.release_expired(later)
    assert sorted(o.id for o in takeover.claim(later)) == [blocked, normal]
    results = [slow._send(item) for item in items]
    assert [r.outgoing.id for r in results] == [blocked, normal]
    assert slow.transport.bodies == []  # the normal one lost its lease before its hand-over
    for oid in (blocked, normal):
        assert (row(engine, oid).state, row(engine, oid).lease_owner) == ("sending", takeover.owner)
