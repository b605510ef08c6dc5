"""The `unknown` outbox state: a sender that dies after handing messages to the Graph API.

A "dead" sender here is one that claimed a batch and committed the hand-over of some of its rows,
then never recorded anything (as after SIGKILL; tests/integration/test_crashes.py kills a real
process). A second sender, its clock past the dead one's lease, finds what it left.
"""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.conversation import outbox
from bot.core.tables import outbox as outbox_table
from bot.pipeline.sender import DEFAULT_UNKNOWN_RESEND, SEND_LEASE, Sender
from bot.whatsapp import graph, messages, simulate
from tests.conftest import make_env
from tests.integration.test_outbox import Clock, T, customer, row
from tests.support.cli import run_cli
from tests.support.crash import wait_until

AFTER_LEASE = T + SEND_LEASE + timedelta(seconds=1)


def make_sender(engine, fake_graph, now, **kw) -> Sender:
    transport = graph.HttpTransport(fake_graph.url, fake_graph.version, fake_graph.phone_number_id, fake_graph.token)
    return Sender(engine, transport, rate_limit=1000.0, concurrency=4, clock=Clock(now), **kw)


def queue(engine, count: int, *, kind: str = "campaign", category: str = "marketing") -> list[int]:
    ids = []
    for i in range(count):
        c = customer(engine, wa_id=f"4915100000{i:02d}")
        with engine.begin() as conn:
            ids.append(outbox.enqueue(conn, recipient=c.wa_id, customer_id=c.id, now=T, kind=kind, category=category,
                                      source="campaign:flash" if kind == "campaign" else None,
                                      message=messages.text_message(f"Hello {i}")))
    return ids


def die_after_handing_over(engine, fake_graph, handed: int) -> list[int]:
    """A sender claims every due row and commits the hand-over of the first `handed`, then dies."""
    dead = make_sender(engine, fake_graph, T)
    items = dead.claim(T)
    for item in items[:handed]:
        assert dead._hand_over(item)
    dead.close()
    return [item.id for item in items[:handed]]


def states(engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(outbox_table.c.id, outbox_table.c.state)).all())


def sent_ids(fake_graph) -> list[int]:
    return [int(r.body["biz_opaque_callback_data"].removeprefix("outbox:")) for r in fake_graph.messages()]


def test_rows_handed_over_by_a_dead_sender_become_unknown_and_the_rest_is_sent_once(engine, fake_graph):
    ids = queue(engine, 6)
    handed = die_after_handing_over(engine, fake_graph, 2)
    make_sender(engine, fake_graph, AFTER_LEASE).drain()
    assert states(engine) == {i: ("unknown" if i in handed else "sent") for i in ids}
    assert sorted(sent_ids(fake_graph)) == sorted(set(ids) - set(handed))  # the unknown ones did not go again


def test_an_unknown_marketing_message_is_never_sent_again(engine, fake_graph):
    ids = queue(engine, 1)
    die_after_handing_over(engine, fake_graph, 1)
    for later in (AFTER_LEASE, AFTER_LEASE + DEFAULT_UNKNOWN_RESEND * 2, AFTER_LEASE + timedelta(days=30)):
        make_sender(engine, fake_graph, later).drain()
    assert states(engine) == {ids[0]: "unknown"}
    assert fake_graph.messages() == []


@pytest.mark.parametrize("kind, category", [("reply", "service"), ("campaign", "utility")])
def test_an_unknown_reply_or_utility_message_goes_again_once_after_ten_minutes_without_a_status(
        engine, fake_graph, kind, category):
    ids = queue(engine, 1, kind=kind, category=category)
    die_after_handing_over(engine, fake_graph, 1)
    make_sender(engine, fake_graph, AFTER_LEASE).drain()
    make_sender(engine, fake_graph, T + DEFAULT_UNKNOWN_RESEND - timedelta(seconds=1)).drain()
    assert states(engine) == {ids[0]: "unknown"} and fake_graph.messages() == []  # not yet
    later = T + DEFAULT_UNKNOWN_RESEND + timedelta(seconds=1)
    make_sender(engine, fake_graph, later).drain()
    make_sender(engine, fake_graph, later + timedelta(hours=1)).drain()
    assert states(engine) == {ids[0]: "sent"}
    assert sent_ids(fake_graph) == ids


def test_resending_unknown_messages_can_be_turned_off(engine, fake_graph):
    ids = queue(engine, 1, kind="reply", category="service")
    die_after_handing_over(engine, fake_graph, 1)
    make_sender(engine, fake_graph, T + timedelta(days=1), unknown_resend=None).drain()
    assert states(engine) == {ids[0]: "unknown"} and fake_graph.messages() == []


def test_a_message_not_yet_handed_over_goes_back_to_the_queue_not_to_unknown(engine, fake_graph):
    ids = queue(engine, 3)
    die_after_handing_over(engine, fake_graph, 0)
    assert make_sender(engine, fake_graph, AFTER_LEASE).release_expired(AFTER_LEASE) == 3
    assert set(states(engine).values()) == {"queued"}
    make_sender(engine, fake_graph, AFTER_LEASE).drain()
    assert sorted(sent_ids(fake_graph)) == ids


def test_the_hand_over_refuses_a_row_whose_customer_stopped_since_the_claim(engine, fake_graph):
    from bot.conversation import customers

    [oid] = queue(engine, 1)
    sender = make_sender(engine, fake_graph, T)
    [item] = sender.claim(T)
    with engine.begin() as conn:
        customers.set_opted_out(conn, item.customer_id, True, T)
    assert not sender._hand_over(item)
    result = sender._send(item)
    assert result.cancelled_because == "opted_out"
    assert row(engine, oid).state == "cancelled" and row(engine, oid).handed_at is None
    assert fake_graph.messages() == []


def test_a_status_webhook_naming_the_callback_data_resolves_an_unknown_row(
        engine, fake_graph, start_server, database_url):
    [oid] = queue(engine, 1)
    die_after_handing_over(engine, fake_graph, 1)
    make_sender(engine, fake_graph, AFTER_LEASE).release_expired(AFTER_LEASE)
    assert row(engine, oid).state == "unknown"
    server = start_server(fake_graph)
    recipient = row(engine, oid).recipient
    # Meta's id for the message is new to us: the dead sender never heard it.
    payload = simulate.status_payload("wamid.HBgLNDkxNTE", "delivered", recipient,
                                      callback_data=outbox.callback_data(oid))
    assert server.post(payload).status_code == 200
    wait_until(lambda: row(engine, oid).state == "delivered", what="the status to resolve the unknown row")
    resolved = row(engine, oid)
    assert resolved.wa_message_id == "wamid.HBgLNDkxNTE" and resolved.delivered_at is not None
    assert fake_graph.messages() == []


def test_a_failed_status_resolves_an_unknown_row_as_failed(engine, fake_graph, start_server):
    [oid] = queue(engine, 1)
    die_after_handing_over(engine, fake_graph, 1)
    make_sender(engine, fake_graph, AFTER_LEASE).release_expired(AFTER_LEASE)
    server = start_server(fake_graph)
    payload = simulate.status_payload("wamid.failed1", "failed", row(engine, oid).recipient,
                                      callback_data=outbox.callback_data(oid),
                                      errors=[{"code": 131026, "title": "Message undeliverable"}])
    assert server.post(payload).status_code == 200
    wait_until(lambda: row(engine, oid).state == "failed", what="the failed status")
    assert row(engine, oid).error_code == 131026


def test_wabot_outbox_list_shows_the_unknown_rows(engine, fake_graph, database_url, tmp_path):
    ids = queue(engine, 4)
    handed = die_after_handing_over(engine, fake_graph, 2)
    make_sender(engine, fake_graph, AFTER_LEASE).drain()
    env = make_env(database_url, tmp_path)

    listed = run_cli(["outbox", "list", "--state", "unknown", "--json"], env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted(r["id"] for r in rows) == sorted(handed)
    assert all(r["state"] == "unknown" and r["category"] == "marketing" and r["handed_at"] for r in rows)
    assert all(not r["recipient"].lstrip("…").startswith("49151") for r in rows)  # never a whole number

    text = run_cli(["outbox", "list", "--state", "unknown"], env=env, cwd=tmp_path)
    assert text.returncode == 0 and len(text.stdout.splitlines()) == 2
    assert all(str(i) in text.stdout for i in handed)

    everything = json.loads(run_cli(["outbox", "list", "--json"], env=env, cwd=tmp_path).stdout)
    assert sorted(r["id"] for r in everything) == sorted(ids)

    bad = run_cli(["outbox", "list", "--state", "lost"], env=env, cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "lost" in bad.stderr


def test_campaign_stats_count_the_unknown_messages(engine, fake_graph):
    from bot.campaigns.stats import campaign_stats
    from bot.campaigns.tables import campaign_sends

    ids = queue(engine, 5)
    handed = die_after_handing_over(engine, fake_graph, 2)
    make_sender(engine, fake_graph, AFTER_LEASE).drain()
    with engine.begin() as conn:
        for oid in ids:
            r = conn.execute(sa.select(outbox_table.c.customer_id, outbox_table.c.recipient)
                             .where(outbox_table.c.id == oid)).one()
            conn.execute(sa.insert(campaign_sends).values(
                campaign="flash", kind="campaign", customer_id=r.customer_id, recipient=r.recipient, cycle="1",
                send_group="all", variant=0, category="marketing", status="queued", form="freeform",
                outbox_id=oid, planned_at=T, queued_at=T))
        stats = campaign_stats(conn, "flash")
    assert (stats["total"]["unknown"], stats["total"]["sent"], stats["total"]["pending"]) == (len(handed), 3, 0)
