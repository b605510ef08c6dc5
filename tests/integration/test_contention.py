"""Two of everything at once, on PostgreSQL, as real processes: two `wabot worker`s on one inbound
queue, two senders on one outbox, two runs of one campaign at the same moment.

Left to themselves, two processes rarely claim at the same instant, and a test that waits for it
proves nothing when it does not happen. So the test holds a lock that stops both inside their
claim (or before their plan) at once, checks that each got there without waiting for the other,
and lets them go: FOR UPDATE SKIP LOCKED, the planning lock and the ledger are then contended
every run, and each message must still go out once.
"""
from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bot.campaigns.runs import PLANNING_LOCK
from bot.campaigns.tables import campaign_runs, campaign_sends
from bot.conversation import intake, outbox
from bot.core.tables import customers, inbound_events
from bot.core.tables import outbox as outbox_table
from bot.whatsapp import messages, simulate
from bot.whatsapp.events import parse_payload
from segments.tables import customer_tags
from tests.conftest import PG_URL, make_env
from tests.support.crash import NEEDS_POSTGRES, AdvisoryLock, Processes, TableLock, tagged
from tests.support.fake_graph import FakeGraph
from tests.support.seed import add_customer, flash_campaign_toml

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PG_URL, reason=NEEDS_POSTGRES + "SQLite runs one writer at a time: nothing to contend"),
]
UTC = timezone.utc
WORKER_UP = "wabot worker running"


def token_of(record) -> str:
    return record.headers["Authorization"].removeprefix("Bearer ")


def open_outbox_rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(outbox_table)
                            .where(outbox_table.c.state.in_(outbox.OPEN_STATES))).scalar_one()


def pending_events(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return intake.pending_count(conn)


def outbox_ids(records) -> Counter:
    return Counter(int(r.body["biz_opaque_callback_data"].removeprefix("outbox:")) for r in records)


class Pair:
    """Two processes of one kind, told apart by their application_name (pg_stat_activity) and their
    Graph API token (what the fake Graph API records)."""

    def __init__(self, procs: Processes, database_url: str, kind: str, fake_graph: FakeGraph | None = None):
        suffix = uuid.uuid4().hex[:8]
        if fake_graph is not None:  # the number accepts both processes' tokens
            fake_graph.other_tokens = ("token-a", "token-b")
        self.procs = procs
        self.names = {side: f"{kind}-{side}-{suffix}" for side in ("a", "b")}
        self.env = {side: {"WABOT_DATABASE_URL": tagged(database_url, name), "WABOT_WHATSAPP_TOKEN": f"token-{side}"}
                    for side, name in self.names.items()}

    def start(self, *args: str, one_shot: bool = False) -> list:
        return [self.procs.wabot(self.names[side], *args, one_shot=one_shot, **self.env[side]) for side in ("a", "b")]

    def waiting(self, lock: TableLock, statement: str, only_for_the_lock: bool = True) -> set[str]:
        """Which of the two wait for `lock` at `statement` (and, unless told otherwise, for no
        other session: not for each other)."""
        found = set()
        for waiter in lock.waiters():
            side = next((s for s, name in self.names.items() if name == waiter.application_name), None)
            if side is not None and waiter.query.lstrip().startswith(statement):
                if only_for_the_lock:
                    assert waiter.blockers == (lock.pid,), f"{self.names[side]} also waits for another session: {waiter}"
                found.add(side)
        return found


# ---------------------------------------------------------------- two workers, one inbound queue

CUSTOMERS = [f"1555{i:07d}" for i in range(60)]


def test_two_workers_share_the_inbound_queue_and_answer_each_message_once(engine, database_url, tmp_path, fake_graph):
    now = datetime.now(UTC)
    with engine.begin() as conn:  # acknowledged: stored as the webhook stores them
        for n, text in enumerate(("hi", "thanks")):
            for wa_id in CUSTOMERS:
                intake.store(conn, parse_payload(simulate.text_payload(wa_id, text, message_id=f"wamid.{n}.{wa_id}")), now)
    total = 2 * len(CUSTOMERS)
    procs = Processes(make_env(database_url, tmp_path, fake_graph), tmp_path)
    workers = Pair(procs, database_url, "worker", fake_graph)
    # SHARE admits the claims' SELECT ... FOR UPDATE SKIP LOCKED and stops their UPDATE: each
    # worker holds the rows it selected, in an open transaction, when the other selects.
    lock = TableLock(engine, "inbound_events", "SHARE").acquire()
    try:
        workers.start("worker", "--inbound-threads", "1")  # one claim each: the pair is what is observed
        procs.wait(lambda: workers.waiting(lock, "UPDATE inbound_events") == {"a", "b"},
                   what="both workers to have selected their batch")
        lock.release()
        procs.wait(lambda: pending_events(engine) == 0 and open_outbox_rows(engine) == 0
                   and len(fake_graph.messages()) >= total, what="every message to be answered")
    finally:
        lock.release()
        procs.kill_all()

    with engine.connect() as conn:
        by_worker = Counter(conn.execute(sa.select(inbound_events.c.lease_owner)
                                         .where(inbound_events.c.state == "done")).scalars())
    assert sum(by_worker.values()) == total
    assert len(by_worker) == 2 and min(by_worker.values()) > 0, by_worker  # both did work
    sent = fake_graph.messages()
    assert len(sent) == total
    for wa_id in CUSTOMERS:  # each message answered once, and in the customer's order
        texts = [r.text for r in sent if r.recipient == wa_id]
        assert len(texts) == 2 and texts[0].startswith("Hi") and texts[1].startswith("You're welcome"), (wa_id, texts)


# ---------------------------------------------------------------- two senders, one outbox

BATCH = 50


def queue(engine: sa.Engine, first: int, n: int) -> list[int]:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        return [outbox.enqueue(conn, recipient=f"4915123{i:05d}", now=now, kind="reply", category="service",
                               message=messages.text_message(f"message {i}")) for i in range(first, first + n)]


def test_two_senders_share_the_outbox_and_send_each_row_once(engine, database_url, tmp_path, fake_graph):
    procs = Processes(make_env(database_url, tmp_path, fake_graph), tmp_path)
    senders = Pair(procs, database_url, "sender", fake_graph)
    # A claim selects and leases its rows, then reads who they go to (joining conversations):
    # with conversations locked, a sender that has claimed stops there, its rows locked.
    lock = None
    try:
        for proc in senders.start("worker"):
            procs.running(proc, WORKER_UP)
        lock = TableLock(engine, "conversations", "ACCESS EXCLUSIVE").acquire()
        queued = queue(engine, 0, BATCH)
        first = procs.wait(lambda: senders.waiting(lock, "SELECT"), what="a sender to claim the first rows")
        queued += queue(engine, BATCH, BATCH)
        # The other one selects too, skipping the locked rows instead of waiting for them.
        procs.wait(lambda: senders.waiting(lock, "SELECT") == {"a", "b"}, what="the other sender to claim the rest")
        lock.release()
        procs.wait(lambda: open_outbox_rows(engine) == 0 and len(fake_graph.messages()) >= 2 * BATCH,
                   what="the outbox to drain")
    finally:
        if lock is not None:
            lock.release()
        procs.kill_all()

    sent = fake_graph.messages()
    assert outbox_ids(sent) == Counter(queued)  # each row once
    by_sender = Counter(f"token-{side}" for side in ("a", "b") for r in sent if token_of(r) == f"token-{side}")
    assert sorted(by_sender.values()) == [BATCH, BATCH], by_sender  # each sent the rows it claimed
    (early,) = first  # the rows it had locked first were sent by it alone
    first_rows = set(queued[:BATCH])
    assert {token_of(r) for r in sent if set(outbox_ids([r])) <= first_rows} == {f"token-{early}"}


# ---------------------------------------------------------------- two runs of one campaign

CAMPAIGN_TOML = flash_campaign_toml()
AUDIENCE = 40


def test_two_runs_of_one_campaign_at_the_same_moment_send_each_customer_one_message(
        engine, database_url, tmp_path, fake_graph):
    now = datetime.now(UTC)
    with engine.begin() as conn:
        audience = []
        for i in range(AUDIENCE):
            customer_id = add_customer(conn, f"5511987{i:05d}", f"Ana{i}", now=now)
            conn.execute(sa.insert(customer_tags).values(customer_id=customer_id, tag="flash"))
            audience.append(f"5511987{i:05d}")
    (tmp_path / "wabot.toml").write_text(CAMPAIGN_TOML)
    procs = Processes(make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml")), tmp_path)
    planners = Pair(procs, database_url, "planner", fake_graph)
    # Both commands take `now` when they start (a few ms apart: different cycles, so the dedupe
    # keys do not make the second run harmless by themselves), then wait for the planning lock.
    lock = AdvisoryLock(engine, PLANNING_LOCK).acquire()
    try:
        runs = planners.start("campaigns", "run", "flash", "--json", one_shot=True)
        # (the second in the lock's queue waits for the first as well as for us)
        procs.wait(lambda: planners.waiting(lock, "SELECT pg_advisory_xact_lock", only_for_the_lock=False) == {"a", "b"},
                   what="both runs to wait for the planning lock")
        lock.release()
        # Each plans, then sends with its own sender until the outbox is drained, and exits.
        procs.wait(lambda: not any(run.alive for run in runs), what="both runs to finish", timeout=60)
        assert [run.process.returncode for run in runs] == [0, 0], [run.log() for run in runs]
    finally:
        lock.release()
        procs.kill_all()

    with engine.connect() as conn:
        recorded = conn.execute(sa.select(campaign_runs.c.eligible, campaign_runs.c.skipped)
                                .order_by(campaign_runs.c.id)).all()
        ledger = Counter(conn.execute(sa.select(customers.c.wa_id).select_from(
            campaign_sends.join(customers, customers.c.id == campaign_sends.c.customer_id))).scalars())
        rows = Counter(conn.execute(sa.select(outbox_table.c.recipient).where(outbox_table.c.kind == "campaign")).scalars())
    assert [r[0] for r in recorded] == [AUDIENCE, 0]  # the first planned everyone, the second nobody ...
    assert recorded[1][1] == {"already_sent": AUDIENCE}  # ... because the ledger showed them reached
    assert ledger == Counter(audience) and rows == Counter(audience)
    sent = fake_graph.messages()
    assert Counter(r.recipient for r in sent) == Counter(audience)  # one message each, though two senders drained
    assert len(outbox_ids(sent)) == AUDIENCE
