"""A campaign's reply buttons lead where they say (CONTRACT section 12), through the real path: the
campaign is planned by the real planner (audience from the segment engine), its free-form message
with buttons sent inside the window by the real sender to the fake Graph API, and a tap on each
button (the id WhatsApp returns) goes through the webhook's intake and the inbound worker to the
flow's reply, never the fallback."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.conversation import intake
from bot.core.tables import inbound_messages
from bot.core.times import utcnow
from bot.runtime import Runtime
from bot.whatsapp import simulate
from bot.whatsapp.events import parse_payload
from flows import reply_texts
from segments.store import recompute_stats
from segments.tables import customer_tags
from tests.support.seed import add_customer, add_order, add_product

TOML = """
[store]
name = "Acme"
timezone = "UTC"
shop_domain = "acme.myshopify.com"

[policy]
consent = "any"
quiet_hours = []

[segments.audience]
rule = 'has_tag("audience")'

[campaigns.covers]
segment = "audience"
text = "Hi {first_name}, new cushion covers are in!"
template = { name = "covers", language = "en_US", body = ["{first_name}"] }
buttons = [{ title = "Shop covers", intent = "recommend" }, "Reorder", { title = "Talk to us", intent = "human" }]

[campaigns.come_back]
segment = "lapsed"
text = "We miss you, {first_name}!"
buttons = ["Shop now", "Track my order"]
"""
ANA = "5511987000001"
FALLBACKS = {text for table in reply_texts.BUILT_IN.values() for text in table["fallback"]["default"]}


@pytest.fixture
def world(engine, settings_for, fake_graph):
    settings = settings_for(graph=fake_graph, toml=TOML)
    runtime = Runtime.from_settings(settings, engine=engine)
    now = utcnow()
    with engine.begin() as conn:
        ana = add_customer(conn, ANA, "Ana", last_inbound_at=now - timedelta(hours=1), now=now)
        conn.execute(sa.insert(customer_tags).values(customer_id=ana, tag="audience"))
        add_product(conn, 501, "Linen cushion cover", [5011])
        # one order, long ago: Ana is lapsed too, and the reorder flow has an order to offer again
        add_order(conn, 9001, ana, [(501, 5011, "Linen cushion cover", 2, "19.00")],
                  created_at=now - timedelta(days=200), name="#9001")
        # what the store sells most lately: the recommend flow's suggestion for Ana
        add_product(conn, 502, "Velvet cushion cover", [5021])
        bea = add_customer(conn, "5511987000002", "Bea", now=now)
        add_order(conn, 9002, bea, [(502, 5021, "Velvet cushion cover", 1, "24.00")],
                  created_at=now - timedelta(days=3), name="#9002")
        recompute_stats(conn, [ana, bea], now)  # the aggregates an import maintains
    sender = runtime.sender()
    yield runtime, sender
    runtime.stop()


def send_campaign(runtime, sender, fake_graph, name: str) -> list[dict]:
    """Run the campaign now and send it; the reply buttons of what Ana got."""
    with runtime.engine.begin() as conn:
        report = runtime.campaigns.run(conn, name, utcnow())
    assert report["queued"] == 1 and report["freeform"] == 1, report
    sender.drain(timeout=30)
    [message] = [m for m in fake_graph.messages(to=ANA) if m.status == 200 and m.type == "interactive"]
    return [b["reply"] for b in message.body["interactive"]["action"]["buttons"]]


def tap(runtime, sender, fake_graph, button: dict) -> tuple[str, str, list]:
    """Ana taps the button: (the intent the worker decided, the bot's answer, its buttons or rows)."""
    before = len(fake_graph.messages(to=ANA))
    payload = simulate.reply_payload(ANA, button["id"], button["title"], name="Ana")
    with runtime.engine.begin() as conn:
        intake.store(conn, parse_payload(payload), utcnow())
    runtime.worker().drain()
    sender.drain(timeout=30)
    with runtime.engine.connect() as conn:
        row = conn.execute(sa.select(inbound_messages.c.intent, inbound_messages.c.intent_source)
                           .where(inbound_messages.c.button_id == button["id"])).one()
    assert row.intent_source == "button"
    [answer] = [m for m in fake_graph.messages(to=ANA)[before:] if m.status == 200]
    action = answer.body.get("interactive", {}).get("action", {})
    return row.intent, answer.text or "", action.get("buttons") or action.get("sections") or []


def test_each_button_of_a_campaign_leads_to_its_flow(world, fake_graph):
    runtime, sender = world
    buttons = send_campaign(runtime, sender, fake_graph, "covers")
    assert [(b["id"], b["title"]) for b in buttons] == [
        ("recommend:campaign:covers:0", "Shop covers"),  # the intent it names
        ("reorder:campaign:covers:1", "Reorder"),  # the intent its title names
        ("human:campaign:covers:2", "Talk to us"),
    ]

    intent, text, offered = tap(runtime, sender, fake_graph, buttons[1])
    assert intent == "reorder" and text not in FALLBACKS
    assert "#9001" in text  # the reorder flow offers the last order again, with its Reorder button
    assert [b["reply"]["id"] for b in offered] == ["reorder:confirm:9001"]

    intent, text, _ = tap(runtime, sender, fake_graph, buttons[0])
    assert intent == "recommend" and text not in FALLBACKS
    assert "Velvet cushion cover" in text  # what the recommend flow suggests (the store's favourite)

    intent, text, _ = tap(runtime, sender, fake_graph, buttons[2])
    assert intent == "human" and text not in FALLBACKS


def test_a_title_that_names_no_intent_leads_to_the_segments_flow(world, fake_graph):
    runtime, sender = world
    buttons = send_campaign(runtime, sender, fake_graph, "come_back")
    # "Shop now" names no intent: the lapsed segment's flow is reorder; "Track my order" names one.
    assert [b["id"] for b in buttons] == ["reorder:campaign:come_back:0", "order_status:campaign:come_back:1"]
    intent, text, offered = tap(runtime, sender, fake_graph, buttons[0])
    assert intent == "reorder" and text not in FALLBACKS and "#9001" in text
    intent, text, _ = tap(runtime, sender, fake_graph, buttons[1])
    assert intent == "order_status" and text not in FALLBACKS and "#9001" in text
