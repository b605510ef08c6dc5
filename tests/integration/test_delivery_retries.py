"""What the sender does when a send does not go: Meta's server errors without any header, the network
failing (nothing listening, a connection reset), running out of attempts, and 131047's template
fallback, which happens once (docs/sending.md, Meta's errors and retries).

The sender's clock is the test's: a retry is due at exactly `retry_base_seconds` x 2^(attempt - 1)
(without jitter), so each test moves the clock to that moment instead of waiting for it. The
delays and the number of attempts (8) are written here from docs/sending.md.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.conversation import customers, outbox
from bot.core.retry import Backoff
from bot.core.tables import outbox as outbox_table
from bot.pipeline.sender import Sender
from bot.whatsapp import graph, messages
from tests.conftest import free_port
from tests.support.fake_graph import (
    CONNECTION_RESET,
    DEFAULT_PHONE_NUMBER_ID,
    DEFAULT_TOKEN,
    DEFAULT_VERSION,
    graph_error,
)

T = datetime(2026, 5, 4, 9, 30, tzinfo=timezone.utc)
SECOND = timedelta(seconds=1)
WA_ID = "4915112345678"


class Clock:
    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def server_error(status: int = 500) -> tuple:
    """A bare 5xx: no Retry-After, and not even Meta's JSON (a proxy's page)."""
    return status, f"<html><body><h1>{status} Server Error</h1></body></html>", {}


@pytest.fixture
def clock() -> Clock:
    return Clock(T)


def sender_for(engine, url: str, clock: Clock, base: float = 1.0, cap: float = 300.0) -> Sender:
    transport = graph.HttpTransport(url, DEFAULT_VERSION, DEFAULT_PHONE_NUMBER_ID, DEFAULT_TOKEN, connect_timeout=2,
                                    read_timeout=5)
    return Sender(engine, transport, rate_limit=500, concurrency=2, clock=clock,
                  backoff=Backoff(base, cap, jitter=False))


def queue(engine, *, kind: str = "reply", fallback: dict | None = None, text: str = "Your order shipped") -> int:
    with engine.begin() as conn:
        c = customers.touch_inbound(conn, wa_id=WA_ID, user_id=None, profile_name="Lena", sent_at=T, now=T)
        return outbox.enqueue(conn, recipient=WA_ID, customer_id=c.id, message=messages.text_message(text), now=T,
                              kind=kind, category="marketing" if kind == "campaign" else "service", fallback=fallback)


def row(engine, outbox_id: int):
    with engine.connect() as conn:
        return conn.execute(sa.select(outbox_table).where(outbox_table.c.id == outbox_id)).one()


def retry_schedule(engine, sender: Sender, clock: Clock, outbox_id: int, rounds: int) -> list[float]:
    """Drain, then move the clock to the moment the row is due again (checking that it does not go a
    moment earlier), `rounds` times; returns the delays the sender chose, in seconds."""
    delays = []
    for _ in range(rounds):
        sender.drain(timeout=10)
        r = row(engine, outbox_id)
        if r.state != "queued":
            break
        delays.append((r.not_before - clock.now).total_seconds())
        clock.now = r.not_before - timedelta(milliseconds=1)
        assert sender.run_once() == 0, "sent before its retry was due"
        clock.now = r.not_before
    return delays


def test_a_bare_5xx_is_retried_with_the_documented_backoff(engine, fake_graph, clock):
    oid = queue(engine)
    fake_graph.queued.extend([server_error(500), server_error(502), server_error(503)])
    sender = sender_for(engine, fake_graph.url, clock)
    assert retry_schedule(engine, sender, clock, oid, rounds=5) == [1.0, 2.0, 4.0]
    sent = row(engine, oid)
    assert (sent.state, sent.attempts) == ("sent", 4)
    assert [r.status for r in fake_graph.messages()] == [500, 502, 503, 200]
    sender.close()


def test_a_5xx_with_metas_error_body_and_no_header_is_retried(engine, fake_graph, clock):
    oid = queue(engine)
    fake_graph.queued.append(graph_error(2, "Service temporarily unavailable", status=503))
    sender = sender_for(engine, fake_graph.url, clock, base=0.25)
    assert retry_schedule(engine, sender, clock, oid, rounds=3) == [0.25]
    assert row(engine, oid).state == "sent"
    sender.close()


def test_nothing_listening_is_a_network_error_retried_until_the_api_answers(engine, fake_graph, clock):
    oid = queue(engine)
    sender = sender_for(engine, f"http://127.0.0.1:{free_port()}", clock)  # a closed port
    assert retry_schedule(engine, sender, clock, oid, rounds=2) == [1.0, 2.0]
    waiting = row(engine, oid)
    assert (waiting.state, waiting.attempts, waiting.error_code) == ("queued", 2, None)
    assert "network error" in waiting.error_title
    sender.close()
    sender = sender_for(engine, fake_graph.url, clock)  # the API is reachable again
    sender.drain(timeout=10)
    sent = row(engine, oid)
    assert (sent.state, sent.attempts) == ("sent", 3)
    assert len(fake_graph.messages()) == 1
    sender.close()


def test_a_connection_reset_is_retried(engine, fake_graph, clock):
    oid = queue(engine)
    fake_graph.queued.extend([CONNECTION_RESET, CONNECTION_RESET])
    sender = sender_for(engine, fake_graph.url, clock, base=0.5)
    assert retry_schedule(engine, sender, clock, oid, rounds=4) == [0.5, 1.0]
    sent = row(engine, oid)
    assert (sent.state, sent.attempts) == ("sent", 3)
    assert [r.status for r in fake_graph.messages()] == [-1, -1, 200]
    sender.close()


def test_after_eight_attempts_the_row_fails_for_good(engine, fake_graph, clock):
    oid = queue(engine)
    fake_graph.responder = lambda body: server_error(503)
    sender = sender_for(engine, fake_graph.url, clock, cap=10.0)
    assert retry_schedule(engine, sender, clock, oid, rounds=20) == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]
    failed = row(engine, oid)
    assert (failed.state, failed.attempts, failed.failed_at) == ("failed", 8, clock.now)
    assert "503" in failed.error_title
    assert len(fake_graph.messages()) == 8
    clock.now += timedelta(days=1)
    sender.drain(timeout=10)
    assert len(fake_graph.messages()) == 8  # nothing more, ever
    sender.close()


def test_131047_falls_back_to_the_template_once_and_a_second_refusal_is_final(engine, fake_graph, clock):
    template = messages.template_message("spring", "en_US", ["Lena"])
    oid = queue(engine, kind="campaign", fallback=template, text="Spring is here")
    # This fake refuses everything outside the window, templates too: the sender must not loop.
    fake_graph.responder = lambda body: graph_error(131047, "Re-engagement message")
    sender = sender_for(engine, fake_graph.url, clock)
    sender.drain(timeout=5)
    failed = row(engine, oid)
    assert (failed.state, failed.error_code, failed.used_fallback, failed.attempts) == ("failed", 131047, True, 2)
    assert [r.type for r in fake_graph.messages()] == ["text", "template"]
    clock.now += timedelta(hours=1)
    sender.drain(timeout=5)
    assert len(fake_graph.messages()) == 2
    sender.close()


def test_the_fallback_template_keeps_its_form_through_a_retry(engine, fake_graph, clock):
    template = messages.template_message("spring", "en_US", ["Lena"])
    oid = queue(engine, kind="campaign", fallback=template, text="Spring is here")
    fake_graph.queued.extend([graph_error(131047, "Re-engagement message"), server_error(500)])
    sender = sender_for(engine, fake_graph.url, clock)
    assert retry_schedule(engine, sender, clock, oid, rounds=3) == [2.0]  # the template was attempt 2
    sent = row(engine, oid)
    assert (sent.state, sent.used_fallback, sent.attempts) == ("sent", True, 3)
    assert [(r.type, r.status) for r in fake_graph.messages()] == [("text", 400), ("template", 500), ("template", 200)]
    sender.close()


# ---------------------------------------------------------------- the same, configured, in `wabot serve`

FAST_RETRIES = """
[delivery]
retry_base_seconds = 0.02
retry_max_seconds = 0.1
"""


def outbox_rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(outbox_table).order_by(outbox_table.c.id)).all()


def final_row(engine, state: str, timeout: float = 15.0):
    """The one outbox row once the sender has recorded `state` (polled: the fake has answered, the
    sender may still be writing down the answer)."""
    deadline = time.monotonic() + timeout
    while (rows := outbox_rows(engine))[0].state != state:
        assert time.monotonic() < deadline, rows
        time.sleep(0.02)
    [only] = rows
    return only


def test_the_served_sender_retries_bare_5xx_at_the_configured_pace(start_server, fake_graph, engine):
    from bot.whatsapp import simulate

    fake_graph.queued.extend([server_error(500), server_error(503)])
    server = start_server(fake_graph, toml=FAST_RETRIES)
    server.post(simulate.text_payload(WA_ID, "hi"))
    answered = fake_graph.wait_for(lambda reqs: any(r.status == 200 for r in reqs), timeout=15)
    assert [r.status for r in answered] == [500, 503, 200]
    assert final_row(engine, "sent").attempts == 3


def test_the_served_sender_gives_up_after_eight_attempts(start_server, fake_graph, engine):
    from bot.whatsapp import simulate

    fake_graph.responder = lambda body: server_error(502)
    server = start_server(fake_graph, toml=FAST_RETRIES)
    server.post(simulate.text_payload(WA_ID, "hi"))
    fake_graph.wait_for(lambda reqs: len(reqs) >= 8, timeout=15)
    assert final_row(engine, "failed").attempts == 8
    assert len(fake_graph.messages()) == 8  # the row is final: nothing can send it again
