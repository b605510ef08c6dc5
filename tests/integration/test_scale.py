"""The scaled topology on PostgreSQL, as real processes, at volume:
- 10,000 inbound messages, each delivered twice (as Meta does), spread over gunicorn's 3 HTTP
  workers and answered by two `wabot worker`s: exactly 10,000 replies, one per customer;
- a campaign to 20,000 customers sent by two `wabot worker`s, one killed with SIGKILL halfway and
  restarted: nobody gets it twice, and everybody not left `unknown` (at most the dead sender's
  requests in flight) gets it once.
"""
from __future__ import annotations

import http.client
import json
import random
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from bot.core.signing import meta_signature
from bot.core.tables import customers, outbox
from bot.pipeline.sender import SEND_LEASE, concurrency_for
from bot.whatsapp import simulate
from segments.tables import customer_tags
from tests.conftest import APP_SECRET, PG_URL, make_env
from tests.support.crash import NEEDS_POSTGRES, Processes
from tests.support.seed import flash_campaign_toml

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not PG_URL, reason=NEEDS_POSTGRES + "the scaled topology")]
UTC = timezone.utc
WORKER_UP = "wabot worker running"
RATE = 1000  # the sandbox of a test is not Meta: a high limit keeps the test short


def post_all(url: str, bodies: list[bytes], connections: int = 6) -> Counter:
    """POST each body to /webhook over `connections` keep-alive connections; the answers' statuses."""
    target = urlparse(url)
    statuses: Counter = Counter()
    lock = threading.Lock()

    def run(part: list[bytes]) -> None:
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        seen: Counter = Counter()
        for body in part:
            conn.request("POST", "/webhook", body=body, headers={
                "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(APP_SECRET, body)})
            response = conn.getresponse()
            response.read()
            seen[response.status] += 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        conn.close()
        with lock:
            statuses.update(seen)

    threads = [threading.Thread(target=run, args=(bodies[i::connections],)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def count(engine, query) -> int:
    with engine.connect() as conn:
        return conn.execute(query).scalar_one()


def test_ten_thousand_messages_delivered_twice_get_exactly_ten_thousand_replies(engine, database_url, tmp_path,
                                                                              fake_graph):
    fake_graph.other_tokens = ("token-a", "token-b")
    procs = Processes(make_env(database_url, tmp_path, fake_graph, WABOT_RATE_LIMIT=str(RATE)), tmp_path)
    messages = 10_000
    wa_ids = [f"4917{i:08d}" for i in range(messages)]
    bodies = [json.dumps(simulate.text_payload(wa_id, "hi", message_id=f"wamid.scale.{i}")).encode()
              for i, wa_id in enumerate(wa_ids)]
    deliveries = bodies + bodies
    random.Random(12).shuffle(deliveries)  # the second delivery of a message may come before the first ends
    try:
        front = procs.healthy(procs.gunicorn("http", workers=3))
        for side in ("a", "b"):
            procs.running(procs.wabot(f"worker-{side}", "worker", WABOT_WHATSAPP_TOKEN=f"token-{side}"), WORKER_UP)
        assert post_all(front.url, deliveries) == Counter({200: 2 * messages})
        replies = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.kind == "reply")
        procs.wait(lambda: count(engine, replies.where(outbox.c.state == "sent")) >= messages, timeout=240,
                   interval=0.5, what="every message answered")
        procs.wait(lambda: len(fake_graph.messages()) >= messages, what="every reply at the Graph API")
    finally:
        procs.kill_all()
    assert count(engine, replies) == messages
    assert Counter(r.recipient for r in fake_graph.messages()) == Counter({wa_id: 1 for wa_id in wa_ids})
    tokens = Counter(r.headers["Authorization"].removeprefix("Bearer ") for r in fake_graph.messages())
    assert set(tokens) == {"token-a", "token-b"}  # both workers answered


def seed_audience(engine, n: int) -> list[str]:
    now = datetime.now(UTC)
    recent = now - timedelta(hours=1)  # in the window: free-form text
    wa_ids = [f"5521{i:08d}" for i in range(n)]
    with engine.begin() as conn:
        for start in range(0, n, 5_000):
            conn.execute(sa.insert(customers), [{
                "wa_id": wa_id, "first_name": f"C{start + k}", "accepts_marketing": True, "opted_out": False,
                "marketing_paused": False, "last_inbound_at": recent, "first_inbound_at": recent,
                "created_at": now, "updated_at": now} for k, wa_id in enumerate(wa_ids[start:start + 5_000])])
        ids = conn.execute(sa.select(customers.c.id)).scalars().all()
        for start in range(0, len(ids), 5_000):
            conn.execute(sa.insert(customer_tags), [{"customer_id": i, "tag": "flash"} for i in ids[start:start + 5_000]])
    return wa_ids


def test_a_campaign_to_twenty_thousand_with_a_sender_killed_halfway_sends_nobody_two(engine, database_url,
                                                                                   tmp_path, fake_graph,
                                                                                   record_property):
    audience = seed_audience(engine, 20_000)
    (tmp_path / "wabot.toml").write_text(flash_campaign_toml())
    fake_graph.other_tokens = ("token-a", "token-b", "token-c")
    procs = Processes(make_env(database_url, tmp_path, fake_graph, WABOT_RATE_LIMIT=str(RATE),
                               WABOT_CONFIG=str(tmp_path / "wabot.toml")), tmp_path)
    try:
        run = procs.wabot("campaign", "campaigns", "run", "flash", "--json", one_shot=True)
        procs.wait(lambda: not run.alive, what="the campaign to be planned and queued", timeout=120)
        assert run.process.returncode == 0, run.log()
        assert count(engine, sa.select(sa.func.count()).select_from(outbox)) == len(audience)

        killed = procs.running(procs.wabot("worker-a", "worker", WABOT_WHATSAPP_TOKEN="token-a"), WORKER_UP)
        procs.running(procs.wabot("worker-b", "worker", WABOT_WHATSAPP_TOKEN="token-b"), WORKER_UP)
        procs.wait(lambda: len(fake_graph.messages()) >= len(audience) // 2, what="half the campaign sent",
                   timeout=120, interval=0.2)
        killed.kill()
        # Restarted, its clock past the dead one's lease (tests/support/shifted_clock.py).
        procs.running(procs.wabot("worker-c", "worker", WABOT_WHATSAPP_TOKEN="token-c",
                                  clock_ahead=SEND_LEASE.total_seconds() + 5), WORKER_UP)
        open_rows = sa.select(sa.func.count()).select_from(outbox).where(outbox.c.state.in_(("queued", "sending")))
        procs.wait(lambda: count(engine, open_rows) == 0, what="the campaign to finish", timeout=180, interval=0.5)
    finally:
        procs.kill_all()

    with engine.connect() as conn:
        states = Counter(conn.execute(sa.select(outbox.c.state)).scalars())
        unknown = set(conn.execute(sa.select(outbox.c.recipient).where(outbox.c.state == "unknown")).scalars())
    received = Counter(r.recipient for r in fake_graph.messages())
    record_property("unknown", states["unknown"])
    print(f"\ncampaign to {len(audience)}, a sender killed halfway: {len(received)} reached, "
          f"{sum(n - 1 for n in received.values())} twice, {states['unknown']} unknown")
    assert [wa for wa, n in received.items() if n > 1] == []  # nobody twice
    assert set(audience) - set(received) <= unknown  # everybody not unknown reached...
    assert set(states) <= {"sent", "unknown"}  # ...and recorded as sent
    assert states["unknown"] <= concurrency_for(RATE)  # at most what the dead sender had in flight
