"""tests/support/idle.py itself: what counts as busy, what is left for later, and a change after the
queues looked idle failing the wait."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from bot.conversation import intake, outbox
from bot.pipeline.sender import Sender
from bot.whatsapp import graph, messages, simulate
from bot.whatsapp.events import parse_payload
from tests.support.fake_graph import FakeGraph
from tests.support.idle import wait_idle

WA_ID = "15551234567"


def now() -> datetime:
    return datetime.now(timezone.utc)


def queue(engine, text: str = "Hello", delay: float = 0.0) -> int:
    with engine.begin() as conn:
        return outbox.enqueue(conn, recipient=WA_ID, message=messages.text_message(text), now=now(),
                              not_before=now() + timedelta(seconds=delay))


@pytest.fixture
def sender(engine, fake_graph) -> Iterator[Sender]:
    """The product's sender on a thread, as `wabot serve` runs it."""
    transport = graph.HttpTransport(fake_graph.url, fake_graph.version, fake_graph.phone_number_id, fake_graph.token)
    running = Sender(engine, transport, rate_limit=100)
    stop = threading.Event()
    thread = threading.Thread(target=running.run_forever, args=(stop,), daemon=True)
    thread.start()
    yield running
    stop.set()
    thread.join(5)
    running.close()


def test_nothing_to_do_returns_after_the_quiet_moment(engine):
    started = time.monotonic()
    snapshot = wait_idle(engine, settle=0.3)
    assert 0.3 <= time.monotonic() - started < 2
    assert snapshot.idle and (snapshot.outbox_rows, snapshot.later) == (0, 0)


def test_a_pending_inbound_event_is_busy(engine):
    with engine.begin() as conn:
        intake.store(conn, parse_payload(simulate.text_payload(WA_ID, "hi")), now())
    with pytest.raises(AssertionError, match=r"still busy after 0.3s:\ninbound event 1 message/text pending"):
        wait_idle(engine, timeout=0.3)


def test_a_row_due_now_is_busy_until_sent(engine, fake_graph, sender):
    queue(engine)
    snapshot = wait_idle(engine, graph=fake_graph, settle=0.2)
    assert (snapshot.outbox_rows, snapshot.requests) == (1, 1)


def test_a_copy_due_a_little_later_is_waited_for_and_counted(engine, fake_graph, sender):
    queue(engine, "once")
    queue(engine, "once", delay=1.5)
    started = time.monotonic()
    wait_idle(engine, graph=fake_graph, settle=0.2)
    assert time.monotonic() - started >= 1.4
    assert [r.text for r in fake_graph.messages()] == ["once", "once"]


def test_a_row_due_after_the_deadline_is_left_for_later(engine):
    queue(engine, "tomorrow morning", delay=3600)
    snapshot = wait_idle(engine, timeout=2, settle=0.2)
    assert (snapshot.later, snapshot.outbox_rows) == (1, 1)


def test_without_a_sender_a_due_row_times_out_with_the_reason(engine):
    row = queue(engine)
    with pytest.raises(AssertionError, match=rf"outbox {row} reply to {WA_ID} queued"):
        wait_idle(engine, timeout=0.3)


def test_a_row_queued_during_the_quiet_moment_fails_the_wait(engine):
    timer = threading.Timer(0.2, lambda: queue(engine, "late", delay=3600))
    timer.start()
    try:
        with pytest.raises(AssertionError, match="something happened after the queues were idle .*outbox_rows 0 -> 1"):
            wait_idle(engine, timeout=2, settle=1.0)
    finally:
        timer.join()


def test_a_request_during_the_quiet_moment_fails_the_wait(engine):
    fake = FakeGraph().start()
    try:
        client = graph.HttpTransport(fake.url, fake.version, fake.phone_number_id, fake.token)
        timer = threading.Timer(0.2, lambda: client.mark_read("wamid.x"))
        timer.start()
        with pytest.raises(AssertionError, match="requests 0 -> 1"):
            wait_idle(engine, graph=fake, settle=1.0)
        timer.join()
    finally:
        fake.stop()
