"""SIGKILL at the moments that matter, to real processes against the fake Graph API, then a restart.

- `wabot worker` killed while it holds inbound leases, one event's transaction open: after a
  restart every acknowledged message is answered exactly once.
- `wabot serve` (gunicorn's master and its worker process) killed the same way during a burst of
  webhooks: after a restart and Meta's redeliveries, every message is answered exactly once.
- `wabot worker` killed while its sender has requests in flight (the fake Graph API holds them):
  after a restart nothing is lost and nothing is sent twice: the messages it had handed over are
  `unknown` (never sent again: marketing), and their status webhooks resolve them.
- `wabot scheduler` killed in the middle of a campaign job: after a restart the job runs once for
  its due time; no customer gets the campaign twice, none misses it.

The restarted process must see the dead one's leases as expired (60 s inbound, 120 s outbound);
instead of sleeping through them it runs with its clock that much ahead
(tests/support/shifted_clock.py). PostgreSQL table locks held by the test stop a process at a
chosen statement, so the kill lands inside a transaction, not somewhere near it.
"""
from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

from bot.campaigns.tables import campaign_runs, campaign_sends, scheduled_runs
from bot.conversation import outbox
from bot.conversation.intake import DEFAULT_LEASE
from bot.core import db
from bot.core.signing import meta_signature
from bot.core.tables import customers, inbound_events, inbound_messages
from bot.core.tables import outbox as outbox_table
from bot.pipeline.scheduler import StoredJobs, campaign_job
from bot.pipeline.sender import SEND_LEASE, concurrency_for
from bot.runtime import Runtime
from bot.whatsapp import messages, simulate
from tests.conftest import APP_SECRET, PG_URL, make_env
from tests.support.crash import NEEDS_POSTGRES, Hold, Processes, TableLock, fresh_database, tagged
from tests.support.fake_graph import FakeGraph
from tests.support.seed import add_customer, add_tagged_customers, flash_campaign_toml

pytestmark = pytest.mark.slow
UTC = timezone.utc
WORKER_UP = "wabot worker running"
SCHEDULER_UP = "wabot scheduler running"
DEFAULT_RATE_LIMIT = 80  # WABOT_RATE_LIMIT unset


def count(engine: sa.Engine, query) -> int:
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def open_outbox_rows(engine: sa.Engine) -> int:
    return count(engine, sa.select(sa.func.count()).select_from(outbox_table)
                 .where(outbox_table.c.state.in_(outbox.OPEN_STATES)))


def sends_by_outbox_id(fake: FakeGraph) -> Counter:
    """How many times the Graph API received each outbox row (by its biz_opaque_callback_data)."""
    return Counter(int(r.body["biz_opaque_callback_data"].removeprefix("outbox:")) for r in fake.messages())


# ---------------------------------------------------------------- a worker holding inbound leases

CUSTOMERS = [f"1555{i:07d}" for i in range(60)]
GREET = "Hi there! Welcome to"  # the built-in greeting, with no name to fill in
THANKS = "You're welcome"


def post_signed(session: requests.Session, url: str, payload: dict) -> int:
    body = json.dumps(payload).encode()
    return session.post(f"{url}/webhook", data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(APP_SECRET, body)}).status_code


def event_states(engine: sa.Engine) -> Counter:
    with engine.connect() as conn:
        return Counter(dict(conn.execute(sa.select(inbound_events.c.state, sa.func.count())
                                         .group_by(inbound_events.c.state)).all()))


def leased_events(engine: sa.Engine) -> int:
    """Pending events under a lease that has not run out."""
    return count(engine, sa.select(sa.func.count()).select_from(inbound_events).where(
        inbound_events.c.state == "pending", inbound_events.c.lease_until > datetime.now(UTC)))


@pytest.mark.skipif(not PG_URL, reason=NEEDS_POSTGRES + "the test stops the worker inside an event's transaction "
                    "with a table lock; SQLite has one writer and no such lock")
def test_a_worker_killed_holding_leases_answers_every_acknowledged_message_once_after_restart(
        engine, database_url, tmp_path, fake_graph):
    tag = f"crash-worker-{uuid.uuid4().hex[:8]}"
    procs = Processes(make_env(tagged(database_url, tag), tmp_path, fake_graph), tmp_path)
    first_lock = TableLock(engine, "inbound_messages", "EXCLUSIVE").acquire()
    second_lock = None
    try:
        http = procs.gunicorn("http")
        first = procs.wabot("worker-1", "worker")
        procs.healthy(http)
        # Acknowledged: every message answered 200 by the HTTP process, which only stores it.
        # Two per customer, all the greetings first; the worker claims at most one per customer.
        with requests.Session() as session:
            statuses = [post_signed(session, http.url, simulate.text_payload(wa_id, text, message_id=f"wamid.{n}.{wa_id}"))
                        for n, text in enumerate(("hi", "thanks")) for wa_id in CUSTOMERS]
        assert statuses == [200] * 2 * len(CUSTOMERS)
        procs.running(first, WORKER_UP)

        # The worker claims a batch and stops at its first event's INSERT INTO inbound_messages.
        procs.wait(first_lock.waiters, what="the worker to wait for the lock inside its first event")
        first_lock.release()
        # (Its first claim may have found only the first few messages; the next one finds them all.)
        procs.wait(lambda: event_states(engine)["done"] >= 5 and leased_events(engine) >= 10, interval=0.01,
                   what="a few events processed, and a full batch claimed")
        second_lock = TableLock(engine, "inbound_messages", "EXCLUSIVE").acquire()
        waiter = procs.wait(second_lock.waiters, what="the worker to stop inside an event's transaction")[0]
        assert waiter.application_name == tag and waiter.query.startswith("INSERT INTO inbound_messages")
        # The replies of the events done so far have left: what is in flight here is inbound only.
        procs.wait(lambda: open_outbox_rows(engine) == 0, what="the replies so far to be sent")

        leased = leased_events(engine)
        done_before = event_states(engine)["done"]
        answered_before = len(fake_graph.messages())
        first.kill()
        second_lock.release()

        # The kill landed where it matters: events done and answered, others leased to the dead worker.
        assert done_before >= 5 and answered_before == done_before
        assert leased >= 2, "the worker held no leases when it was killed"
        assert event_states(engine)["pending"] == 2 * len(CUSTOMERS) - done_before  # the open one rolled back

        # Restarted, it sees the dead worker's leases as expired, as it would DEFAULT_LEASE later.
        procs.running(procs.wabot("worker-2", "worker", clock_ahead=DEFAULT_LEASE.total_seconds() + 5), WORKER_UP)
        total = 2 * len(CUSTOMERS)
        procs.wait(lambda: event_states(engine) == Counter(done=total) and open_outbox_rows(engine) == 0
                   and len(fake_graph.messages()) >= total, what="every message to be answered")
    finally:
        first_lock.release()
        if second_lock is not None:
            second_lock.release()
        procs.kill_all()

    with engine.connect() as conn:
        handled = Counter(conn.execute(sa.select(inbound_messages.c.handled)).scalars())
        replies = conn.execute(sa.select(sa.func.count()).select_from(outbox_table)
                               .where(outbox_table.c.kind == "reply")).scalar_one()
        retried = conn.execute(sa.select(sa.func.count()).select_from(inbound_events)
                               .where(inbound_events.c.attempts == 2)).scalar_one()
    assert handled == Counter(replied=total)  # each message stored once, and answered
    assert replies == total
    assert retried == leased  # exactly the leased events were claimed again
    sent = fake_graph.messages()
    assert len(sent) == total
    for wa_id in CUSTOMERS:  # once each, and in the order the customer wrote
        texts = [r.text for r in sent if r.recipient == wa_id]
        assert len(texts) == 2 and texts[0].startswith(GREET) and texts[1].startswith(THANKS), (wa_id, texts)


# ---------------------------------------------------------------- `wabot serve` killed during a burst

BURST_CUSTOMERS = [f"1212555{i:04d}" for i in range(40)]


class Poster(threading.Thread):
    """Meta's side of a burst: posts messages one after another until told to stop or until the
    server is gone; remembers which were acknowledged (200) and which were not."""

    def __init__(self, url: str, limit: int = 150):
        super().__init__(daemon=True)
        self.url, self.limit = url, limit
        self.acknowledged: list[dict] = []
        self.unacknowledged: list[dict] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with requests.Session() as session:
            for i in range(self.limit):
                if self.stop.is_set():
                    return
                wa_id = BURST_CUSTOMERS[i % len(BURST_CUSTOMERS)]
                payload = simulate.text_payload(wa_id, "hi", message_id=f"wamid.burst.{i}")
                try:
                    ok = post_signed(session, self.url, payload) == 200
                except requests.RequestException:
                    ok = False
                (self.acknowledged if ok else self.unacknowledged).append(payload)
                if not ok:
                    return  # the server is gone; what was not posted was never sent by Meta either


def message_id(payload: dict) -> str:
    return payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]


@pytest.mark.skipif(not PG_URL, reason=NEEDS_POSTGRES + "the test stops the worker inside an event's transaction "
                    "with a table lock; SQLite has one writer and no such lock")
def test_wabot_serve_killed_during_a_burst_answers_every_acknowledged_message_once(
        engine, database_url, tmp_path, fake_graph):
    tag = f"crash-serve-{uuid.uuid4().hex[:8]}"
    procs = Processes(make_env(tagged(database_url, tag), tmp_path, fake_graph), tmp_path)
    lock = None
    poster = None
    try:
        first = procs.healthy(procs.serve("serve-1"))
        poster = Poster(first.url)
        poster.start()
        procs.wait(lambda: event_states(engine)["done"] >= 5, interval=0.01, what="a few messages answered")
        lock = TableLock(engine, "inbound_messages", "EXCLUSIVE").acquire()
        procs.wait(lambda: [w for w in lock.waiters() if w.query.startswith("INSERT INTO inbound_messages")],
                   what="the worker thread to stop inside an event's transaction")
        procs.wait(lambda: open_outbox_rows(engine) == 0, what="the replies so far to be sent")
        procs.wait(lambda: len(poster.acknowledged) >= 60, what="more of the burst to be acknowledged")
        first.kill()  # the master and its worker process, requests and leases in flight
        lock.release()
        poster.join(10)
        assert not poster.is_alive()
        leased = leased_events(engine)
        assert leased >= 1, "the worker held no leases when it was killed"

        second = procs.healthy(procs.serve("serve-2", clock_ahead=DEFAULT_LEASE.total_seconds() + 5))
        # Meta delivers again what it saw no 200 for, and now and then what it did.
        redelivered = poster.unacknowledged + poster.acknowledged[:5]
        with requests.Session() as session:
            assert [post_signed(session, second.url, p) for p in redelivered] == [200] * len(redelivered)
        written = {message_id(p): p for p in poster.acknowledged + poster.unacknowledged}
        procs.wait(lambda: event_states(engine)["pending"] == 0 and open_outbox_rows(engine) == 0
                   and len(fake_graph.messages()) >= len(written), what="every message to be answered")
    finally:
        if poster is not None:
            poster.stop.set()
        if lock is not None:
            lock.release()
        procs.kill_all()

    with engine.connect() as conn:
        stored = Counter(tuple(row) for row in conn.execute(
            sa.select(inbound_messages.c.wa_message_id, inbound_messages.c.handled)))
        replies = conn.execute(sa.select(sa.func.count()).select_from(outbox_table)
                               .where(outbox_table.c.kind == "reply")).scalar_one()
    assert stored == Counter({(mid, "replied"): 1 for mid in written})  # each stored once, and answered
    assert replies == len(written)
    expected = Counter(p["entry"][0]["changes"][0]["value"]["messages"][0]["from"] for p in written.values())
    assert Counter(r.recipient for r in fake_graph.messages()) == expected  # one reply a message


# ---------------------------------------------------------------- a sender with requests in flight

QUEUED = 40
ANSWERED_AT_ONCE = 10  # then the fake Graph API holds every request until the sender is dead


@dataclass
class KilledSender:
    queued: list[int]  # outbox ids
    in_flight: int  # requests the dead sender had open when it was killed
    states_at_kill: Counter  # outbox states when it was killed
    handed_at_kill: int  # rows `sending` with their hand-over committed
    reached_meta_before_restart: set[int]  # answered, or held and accepted after the kill
    sends: Counter  # outbox id -> times the Graph API received it, in the end
    states: Counter  # outbox states in the end


@pytest.fixture(scope="module")
def killed_sender(tmp_path_factory) -> KilledSender:
    """QUEUED campaign messages; `wabot worker` sends ANSWERED_AT_ONCE of them, then has as many
    requests in flight as its concurrency when it is killed; the held requests are accepted after
    its death (Meta had them); then a new `wabot worker` starts, its clock past the dead one's
    send lease, and sends what is left."""
    tmp = tmp_path_factory.mktemp("killed-sender")
    with fresh_database(tmp) as url:
        engine = db.make_engine(url)
        db.upgrade(engine)
        fake = FakeGraph().start()
        hold = Hold(answer_first=ANSWERED_AT_ONCE)
        fake.responder = hold
        procs = Processes(make_env(url, tmp, fake), tmp)
        try:
            now = datetime.now(UTC)
            with engine.begin() as conn:
                queued = []
                for i in range(QUEUED):
                    wa_id = f"4915123{i:05d}"
                    customer_id = add_customer(conn, wa_id, f"C{i}", now=now)
                    queued.append(outbox.enqueue(
                        conn, recipient=wa_id, customer_id=customer_id, now=now, kind="campaign",
                        category="marketing", source="campaign:flash", dedupe_key=f"campaign:flash:{customer_id}:1",
                        message=messages.text_message(f"Flash sale, C{i}!")))
            first = procs.wabot("worker-1", "worker")
            in_flight = min(concurrency_for(DEFAULT_RATE_LIMIT), QUEUED - ANSWERED_AT_ONCE)
            hold.wait_held(in_flight)
            first.kill()
            o = outbox_table.c
            with engine.connect() as conn:
                states_at_kill = Counter(conn.execute(sa.select(o.state)).scalars())
                handed_at_kill = conn.execute(sa.select(sa.func.count()).select_from(outbox_table).where(
                    o.state == "sending", o.handed_at.is_not(None))).scalar_one()
            hold.release()
            reached = fake.wait_for(lambda reqs: len(reqs) >= ANSWERED_AT_ONCE + in_flight)
            reached_ids = {int(r.body["biz_opaque_callback_data"].removeprefix("outbox:")) for r in reached}
            assert len(reached_ids) == ANSWERED_AT_ONCE + in_flight

            procs.running(procs.wabot("worker-2", "worker", clock_ahead=SEND_LEASE.total_seconds() + 5), WORKER_UP)
            procs.wait(lambda: open_outbox_rows(engine) == 0, what="the outbox to drain after the restart")
            with engine.connect() as conn:
                states = Counter(conn.execute(sa.select(outbox_table.c.state)).scalars())
            yield KilledSender(queued, in_flight, states_at_kill, handed_at_kill, reached_ids,
                               sends_by_outbox_id(fake), states)
        finally:
            hold.release()
            procs.kill_all()
            fake.stop()
            engine.dispose()


def test_a_killed_sender_had_recorded_each_answered_message_and_handed_over_only_its_in_flight_ones(killed_sender):
    k = killed_sender
    # One batch claimed; each answer recorded as it came, not at the end of the batch.
    assert k.states_at_kill == Counter(sent=ANSWERED_AT_ONCE, sending=QUEUED - ANSWERED_AT_ONCE)
    assert k.handed_at_kill == k.in_flight  # bounded by the concurrency, not the batch


def test_a_sender_killed_with_requests_in_flight_loses_nothing(killed_sender):
    k = killed_sender
    assert set(k.sends) == set(k.queued)  # every queued message reached the Graph API
    # What the dead sender had in flight may have left: `unknown`, until a status says.
    assert k.states == Counter(sent=QUEUED - k.in_flight, unknown=k.in_flight)


def test_a_sender_killed_with_requests_in_flight_sends_nothing_twice(killed_sender, record_property):
    duplicated = {i: n for i, n in killed_sender.sends.items() if n > 1}
    record_property("duplicates", sum(n - 1 for n in duplicated.values()))
    assert duplicated == {}, f"{len(duplicated)} of {QUEUED} messages sent twice"


# ---------------------------------------------------------------- the scheduler in the middle of a campaign job

CAMPAIGN_TOML = flash_campaign_toml(schedule="0 3 1 1 *")  # once a year: the test makes it due itself
AUDIENCE = 30


def make_campaign_due(engine: sa.Engine, settings, at: datetime) -> None:
    """Store the configuration's jobs as a scheduler would at its first start, with the campaign's
    next run moved to `at` (as if its hour had come while no scheduler ran)."""
    service = Runtime.from_settings(settings, engine=engine).scheduler()
    jobs = service._make_scheduler(StoredJobs)  # as `wabot tick` does: the scheduler's job defaults, no loop
    jobs.start(paused=True)
    try:
        service.sync_jobs(jobs, at)
        jobs.modify_job(campaign_job("flash"), next_run_time=at)
    finally:
        jobs.shutdown(wait=False)


def ledger_marks(engine: sa.Engine) -> list[tuple]:
    r = scheduled_runs.c
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.select(r.scheduled_at, r.state, r.attempts)
                                                   .where(r.job_id == campaign_job("flash")))]


@pytest.mark.skipif(not PG_URL, reason=NEEDS_POSTGRES + "the test stops the job inside its transaction with a "
                    "table lock; SQLite has one writer and no such lock")
def test_a_scheduler_killed_in_the_middle_of_a_campaign_job_runs_it_once_after_restart(
        engine, database_url, tmp_path, fake_graph, settings_for):
    settings = settings_for(fake_graph, toml=CAMPAIGN_TOML)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        audience = add_tagged_customers(conn, AUDIENCE, "flash", now=now)
    due = now.replace(microsecond=0) - timedelta(seconds=1)
    make_campaign_due(engine, settings, due)

    tag = f"crash-scheduler-{uuid.uuid4().hex[:8]}"
    env = make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(settings.config_path))
    procs = Processes(env, tmp_path)
    lock = TableLock(engine, "outbox", "EXCLUSIVE").acquire()
    try:
        sender = procs.wabot("worker", "worker")  # sends what the job queues; waits for the lock meanwhile
        first = procs.wabot("scheduler-1", "scheduler", WABOT_DATABASE_URL=tagged(database_url, tag))

        # The job has recorded its run, planned, written its campaign run, and waits to queue the messages.
        def job_inside_its_transaction():
            return [w for w in lock.waiters() if w.application_name == tag and w.query.startswith("INSERT INTO outbox")]
        procs.wait(job_inside_its_transaction, what="the campaign job to wait inside its transaction")
        assert [m[1:] for m in ledger_marks(engine)] == [("running", 1)]
        first.kill()
        lock.release()
        assert count(engine, sa.select(sa.func.count()).select_from(campaign_runs)) == 0  # rolled back with it

        procs.running(procs.wabot("scheduler-2", "scheduler"), SCHEDULER_UP)
        procs.wait(lambda: [m[1:] for m in ledger_marks(engine)] == [("done", 2)], what="the interrupted run to be done")
        procs.wait(lambda: open_outbox_rows(engine) == 0 and len(fake_graph.messages()) >= AUDIENCE,
                   what="the campaign to be sent")
        procs.running(sender, WORKER_UP)
    finally:
        lock.release()
        procs.kill_all()

    assert ledger_marks(engine) == [(due, "done", 2)]  # one run owed for its due time, done by the second attempt
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(campaign_runs)).scalar_one() == 1
        ledger = Counter(conn.execute(sa.select(customers.c.wa_id).select_from(
            campaign_sends.join(customers, customers.c.id == campaign_sends.c.customer_id))).scalars())
    assert ledger == Counter(audience)  # one ledger row each
    received = Counter(r.recipient for r in fake_graph.messages())
    assert received == Counter(audience)  # the campaign once each, nobody missing
    assert {r.body["template"]["name"] for r in fake_graph.messages()} == {"flash_sale"}  # window closed: the template
