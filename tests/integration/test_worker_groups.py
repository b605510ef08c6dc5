"""The inbound worker applies several events in one transaction (bot/pipeline/worker.py, run_once):
one commit for the group, yet a bad event is given back alone, and a worker that dies mid-group
leaves the whole group to be applied again, once."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.conversation import intake
from bot.core.tables import inbound_events, outbox
from bot.core.times import utcnow
from bot.pipeline import worker as worker_module
from bot.pipeline.worker import InboundWorker
from bot.whatsapp import simulate
from bot.whatsapp.events import parse_payload
from flows.nlu import IntentRouter
from flows.replies import ReplyBook

CUSTOMERS = [f"1555000{n:04d}" for n in range(6)]
POISON = "wamid.group.3"


class Died(BaseException):
    """The process going away mid-group (what SIGKILL does, as far as the database can tell)."""


class FlakyWorker(InboundWorker):
    """A worker with a bug that one message sets off, or that dies on it."""

    def __init__(self, *args, fail_on: str | None = None, die_on: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fail_on, self.die_on = fail_on, die_on

    def process(self, conn, event, received_at, now, *, reading=False):
        if getattr(event, "message_id", None) == self.fail_on:
            raise RuntimeError("a bug in a flow")
        if getattr(event, "message_id", None) == self.die_on:
            raise Died()
        return super().process(conn, event, received_at, now, reading=reading)


@pytest.fixture
def stored(engine, settings_for):
    settings = settings_for()
    with engine.begin() as conn:
        for n, wa_id in enumerate(CUSTOMERS):
            intake.store(conn, parse_payload(simulate.text_payload(wa_id, "hi", message_id=f"wamid.group.{n}")),
                         utcnow())
    return settings


def make(engine, settings, **options) -> FlakyWorker:
    return FlakyWorker(engine, settings, router=IntentRouter(), replies=ReplyBook.from_settings(settings), **options)


def replies_per_customer(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(outbox.c.recipient, sa.func.count()).group_by(outbox.c.recipient)).all())


def states(engine) -> dict[str, tuple[str, int]]:
    with engine.connect() as conn:
        return {key: (state, attempts) for key, state, attempts in conn.execute(
            sa.select(inbound_events.c.wa_id, inbound_events.c.state, inbound_events.c.attempts))}


def test_a_group_of_events_costs_one_commit(engine, stored, monkeypatch):
    monkeypatch.setattr(worker_module, "GROUP_SECONDS", 60.0)  # a cold first run may take longer than the usual
    commits = []

    def count(conn):
        commits.append(1)

    sa.event.listen(engine, "commit", count)
    try:
        assert make(engine, stored).run_once() == len(CUSTOMERS)
    finally:
        sa.event.remove(engine, "commit", count)
    # the claim, then every event of the group together
    assert len(commits) == 2
    assert replies_per_customer(engine) == {wa_id: 1 for wa_id in CUSTOMERS}
    assert {state for state, _ in states(engine).values()} == {"done"}


def test_a_bad_event_is_given_back_alone_and_the_others_are_applied_once(engine, stored):
    worker = make(engine, stored, fail_on=POISON)
    worker.run_once()
    bad = CUSTOMERS[3]
    assert replies_per_customer(engine) == {wa_id: 1 for wa_id in CUSTOMERS if wa_id != bad}
    found = states(engine)
    assert found.pop(bad) == ("pending", 1)
    assert {state for state, _ in found.values()} == {"done"}
    with engine.connect() as conn:
        error = conn.execute(sa.select(inbound_events.c.error).where(inbound_events.c.wa_id == bad)).scalar_one()
    assert error == "RuntimeError: a bug in a flow"
    # Fixed and retried after its backoff: answered once, nobody else twice.
    worker.fail_on = None
    later = utcnow() + timedelta(minutes=5)
    worker.clock = lambda: later
    worker.drain()
    assert replies_per_customer(engine) == {wa_id: 1 for wa_id in CUSTOMERS}


def test_a_worker_dying_mid_group_leaves_the_whole_group_to_be_applied_once(engine, stored, monkeypatch):
    monkeypatch.setattr(worker_module, "GROUP_SECONDS", 60.0)  # one group, however cold the first event
    with pytest.raises(Died):
        make(engine, stored, die_on=POISON).run_once()
    # Nothing of the group is stored: the events before the one it died on were not committed either.
    assert replies_per_customer(engine) == {}
    assert {state for state, _ in states(engine).values()} == {"pending"}
    # Their lease runs out; another worker applies every one of them, once.
    later = utcnow() + intake.DEFAULT_LEASE + timedelta(seconds=1)
    successor = make(engine, stored)
    successor.clock = lambda: later
    successor.drain()
    assert replies_per_customer(engine) == {wa_id: 1 for wa_id in CUSTOMERS}
    assert {state for state, _ in states(engine).values()} == {"done"}


def test_a_group_is_closed_when_its_time_is_up(engine, stored, monkeypatch):
    monkeypatch.setattr(worker_module, "GROUP_SECONDS", 0.0)  # every event in a transaction of its own
    commits = []

    def count(conn):
        commits.append(1)

    sa.event.listen(engine, "commit", count)
    try:
        make(engine, stored).run_once()
    finally:
        sa.event.remove(engine, "commit", count)
    assert len(commits) == 1 + len(CUSTOMERS)
    assert replies_per_customer(engine) == {wa_id: 1 for wa_id in CUSTOMERS}
