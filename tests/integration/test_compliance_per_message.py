"""Opt-out, paused marketing and handoff are checked for each message as it is handed to the
Graph API, not once for the batch: a STOP or an agent's claim processed while a campaign is
sending stops that customer's message (docs/sending.md)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bot.conversation import customers, handoff, outbox
from bot.core.tables import outbox as outbox_table
from bot.pipeline.sender import Sender
from bot.whatsapp import graph, messages

T = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
FIRST, LAST = "15550002000", "15550002049"


def campaign_to_fifty(engine) -> dict[str, int]:
    ids = {}
    with engine.begin() as conn:
        for n in range(50):
            wa_id = f"155500020{n:02d}"
            c = customers.touch_inbound(conn, wa_id=wa_id, user_id=None, profile_name="Ana", sent_at=T, now=T)
            ids[wa_id] = c.id
            outbox.enqueue(conn, recipient=wa_id, customer_id=c.id, message=messages.text_message("Spring sale"),
                           now=T, kind="campaign", category="marketing", dedupe_key=f"spring:{wa_id}")
    return ids


def states(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(outbox_table.c.recipient, outbox_table.c.state)).all())


def sender(engine, fake_graph) -> Sender:
    transport = graph.HttpTransport(fake_graph.url, fake_graph.version, fake_graph.phone_number_id, fake_graph.token)
    # one batch holds all fifty; one request at a time, so "meanwhile" is well defined
    return Sender(engine, transport, rate_limit=1000.0, concurrency=1, clock=lambda: T)


@pytest.mark.parametrize("what, change, reason", [
    ("STOP", lambda conn, cid: customers.set_opted_out(conn, cid, True, T), "opted_out"),
    ("marketing paused", lambda conn, cid: conn.execute(
        sa.update(customers.customers).where(customers.customers.c.id == cid).values(marketing_paused=True)),
     "marketing_paused"),
    ("an agent's claim", lambda conn, cid: handoff.transition(conn, cid, handoff.AGENT, actor="agent:ana", now=T,
                                                              reason="claimed", agent="ana"), "in_handoff"),
])
def test_a_change_while_the_batch_is_sending_stops_that_customers_message(engine, fake_graph, what, change, reason):
    ids = campaign_to_fifty(engine)

    def meanwhile(body: dict):
        if body.get("to") == FIRST:  # the batch's first send: the customer last in it changes now
            with engine.begin() as conn:
                change(conn, ids[LAST])
        return None

    fake_graph.responder = meanwhile
    sender(engine, fake_graph).drain()
    result = states(engine)
    assert result[LAST] == "cancelled", what
    assert [wa for wa, state in result.items() if state != "sent"] == [LAST]
    assert LAST not in {r.recipient for r in fake_graph.requests}
    with engine.connect() as conn:
        title = conn.execute(sa.select(outbox_table.c.error_title).where(outbox_table.c.recipient == LAST)).scalar()
    assert title == reason


def test_replies_are_not_held_back_by_an_opt_out(engine, fake_graph):
    """The STOP confirmation itself (a service reply) still goes."""
    with engine.begin() as conn:
        c = customers.touch_inbound(conn, wa_id=FIRST, user_id=None, profile_name="Ana", sent_at=T, now=T)
        customers.set_opted_out(conn, c.id, True, T)
        outbox.enqueue(conn, recipient=FIRST, customer_id=c.id, message=messages.text_message("You're unsubscribed"),
                       now=T, kind="reply", category="service")
    sender(engine, fake_graph).drain()
    assert states(engine) == {FIRST: "sent"}
