"""Whole conversations through the real server (`wabot serve`), the signed webhook and the fake
Graph API: segment-aware replies, order status, reorder, and the human handoff with the agent API."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

from bot.conversation import handoff
from bot.core.tables import conversations, customers, handoff_log, inbound_messages, outbox
from bot.pipeline.handoff_release import HandoffReleaser
from bot.whatsapp import simulate
from flows.replies import ReplyBook
from tests.support.idle import wait_idle, wait_texts
from tests.support.seed import add_customer, add_order, add_product, add_segment

TOML = """
[store]
name = "Acme Home"
shop_domain = "acme.myshopify.com"

[replies]
segment_priority = ["vip", "former_vip", "loyal", "first_time_buyer"]

[replies.greet]
default = "Hi {first_name}! How can we help today?"
vip = "Welcome back {first_name}! As one of our best customers you get free express shipping."
first_time_buyer = "Hi {first_name}, thanks for your first order with {store_name}!"

[policy]
handoff_timeout_minutes = 60

[campaigns.we_miss_you]
segment = "lapsed"
schedule = "0 10 * * *"
text = "Hi {first_name}, we miss you!"
template = { name = "we_miss_you", language = "en_US", body = ["{first_name}"] }
"""

AGENTS = {"WABOT_AGENT_TOKENS": "ana:tok-ana,ben:tok-ben"}
VIP, NEWBIE, PLAIN, BUYER = "15550000001", "15550000002", "15550000003", "15550000004"


def now() -> datetime:
    return datetime.now(timezone.utc)


def say(server, wa_id: str, text: str, name: str | None = None) -> None:
    assert server.post(simulate.text_payload(wa_id, text, name=name)).status_code == 200


def api(server, method: str, path: str, token: str = "tok-ana", **kwargs) -> requests.Response:
    return requests.request(method, f"{server.url}{path}", headers={"Authorization": f"Bearer {token}"},
                            timeout=10, **kwargs)


@pytest.fixture
def store(engine):
    with engine.begin() as conn:
        vip = add_customer(conn, VIP, "Vera")
        newbie = add_customer(conn, NEWBIE, "Finn")
        add_customer(conn, PLAIN, "Pat")
        buyer = add_customer(conn, BUYER, "Bea", last_name="Stone")
        add_product(conn, 1, "Dog Food", [11])
        add_product(conn, 2, "Leash", [21])
        add_order(conn, 5001, vip, [(1, 11, "Dog Food", 10, "50.00")], created_at=now() - timedelta(days=20))
        add_order(conn, 5002, newbie, [(2, 21, "Leash", 1, "15.00")], created_at=now() - timedelta(days=2))
        add_order(conn, 6001, buyer, [(2, 21, "Leash", 1, "15.00")], created_at=now() - timedelta(days=60),
                  name="#6001", fulfillment_status="fulfilled")
        add_order(conn, 6002, buyer, [(1, 11, "Dog Food", 2, "40.00"), (2, 21, "Leash", 1, "15.00")],
                  created_at=now() - timedelta(days=4), name="#6002", fulfillment_status="fulfilled",
                  tracking_url="https://track.example/6002", tracking_number="1Z6002")
        add_segment(conn, vip, "vip", {"total_spent": 500.0, "vip_min_spent": 300.0})
        add_segment(conn, vip, "loyal", {"orders_count_180d": 12})
        add_segment(conn, newbie, "first_time_buyer", {"orders_count": 1})
        add_segment(conn, buyer, "repeat_buyer", {"orders_count": 2})
    return {"vip": vip, "newbie": newbie, "buyer": buyer}


def test_the_same_hi_gets_each_segments_variant(start_server, fake_graph, engine, store):
    server = start_server(fake_graph, toml=TOML)
    for wa_id in (VIP, NEWBIE, PLAIN):
        say(server, wa_id, "hi")
    assert wait_texts(fake_graph, engine, VIP, 1) == [
        "Welcome back Vera! As one of our best customers you get free express shipping."]
    assert wait_texts(fake_graph, engine, NEWBIE, 1) == ["Hi Finn, thanks for your first order with Acme Home!"]
    assert wait_texts(fake_graph, engine, PLAIN, 1) == ["Hi Pat! How can we help today?"]


def test_order_status_and_reorder_with_the_cart_link(start_server, fake_graph, engine, store):
    server = start_server(fake_graph, toml=TOML)
    say(server, BUYER, "where is my order?")
    status = wait_texts(fake_graph, engine, BUYER, 1)[0]
    assert status == ("Your last order #6002 (2 × Dog Food, 1 × Leash) is on its way. "
                      "Track it here: https://track.example/6002")

    say(server, BUYER, "reorder")
    wait_texts(fake_graph, engine, BUYER, 2)
    offer = fake_graph.messages(BUYER)[1].body
    assert offer["type"] == "interactive" and "Your last order #6002: 2 × Dog Food, 1 × Leash" in \
        offer["interactive"]["body"]["text"]
    assert simulate.choices_of(offer) == [("reorder:confirm:6002", "Reorder")]

    assert server.post(simulate.reply_payload(BUYER, "reorder:confirm:6002", "Reorder")).status_code == 200
    assert wait_texts(fake_graph, engine, BUYER, 3)[2] == (
        "Here's your cart with the same items, ready to check out: https://acme.myshopify.com/cart/11:2,21:1")


def test_human_handoff_claim_reply_release(start_server, fake_graph, engine, store):
    server = start_server(fake_graph, toml=TOML, **AGENTS)
    say(server, BUYER, "I want to talk to a human please")
    assert "member of our team" in wait_texts(fake_graph, engine, BUYER, 1)[0]

    queue = api(server, "GET", "/api/conversations?state=pending").json()
    assert [(c["wa_id"], c["name"], c["state"], c["segments"], c["priority"]) for c in queue] == \
        [(BUYER, "Bea Stone", "pending", ["repeat_buyer"], 1)]
    assert queue[0]["last_message"] and queue[0]["window_expires_at"]

    # Pending: the bot stays silent, whatever the customer writes.
    say(server, BUYER, "hello?")
    say(server, BUYER, "where is my order")
    wait_idle(engine, graph=fake_graph)
    assert len(fake_graph.messages(BUYER)) == 1
    with engine.connect() as conn:
        handled = conn.execute(sa.select(inbound_messages.c.handled).order_by(inbound_messages.c.id)).scalars().all()
    assert handled[-2:] == ["silent_handoff", "silent_handoff"]

    assert api(server, "POST", f"/api/conversations/{BUYER}/claim").json() == {"state": "agent", "agent": "ana"}
    second = api(server, "POST", f"/api/conversations/{BUYER}/claim", token="tok-ben")
    assert second.status_code == 409 and second.json()["agent"] == "ana"
    assert api(server, "GET", "/api/conversations?state=agent").json()[0]["wa_id"] == BUYER

    sent = api(server, "POST", f"/api/conversations/{BUYER}/messages", json={"text": "Hi Bea, Ana here. Checking!"})
    assert sent.status_code == 200 and sent.json()["form"] == "freeform"
    assert wait_texts(fake_graph, engine, BUYER, 2)[1] == "Hi Bea, Ana here. Checking!"
    # Claimed: still silent.
    say(server, BUYER, "thanks!")
    wait_idle(engine, graph=fake_graph)
    assert len(fake_graph.messages(BUYER)) == 2

    # The window closes: free text is refused (bot/whatsapp/window.py decides), a template goes.
    with engine.begin() as conn:
        conn.execute(sa.update(customers).where(customers.c.wa_id == BUYER)
                     .values(last_inbound_at=now() - timedelta(hours=25)))
    closed = api(server, "POST", f"/api/conversations/{BUYER}/messages", json={"text": "Still there?"})
    assert closed.status_code == 409 and closed.json()["error"] == "window_closed"
    template = api(server, "POST", f"/api/conversations/{BUYER}/messages",
                   json={"template": {"name": "we_miss_you", "language": "en_US", "body": ["Bea"]}})
    assert template.status_code == 200 and template.json()["form"] == "template"
    wait_texts(fake_graph, engine, BUYER, 3)
    assert fake_graph.messages(BUYER)[-1].body["template"]["name"] == "we_miss_you"

    assert api(server, "POST", f"/api/conversations/{BUYER}/release", token="tok-ben").status_code == 409
    assert api(server, "POST", f"/api/conversations/{BUYER}/release").json()["state"] == "bot"
    say(server, BUYER, "hi")
    assert wait_texts(fake_graph, engine, BUYER, 4)[3] == "Hi Bea! How can we help today?"

    with engine.connect() as conn:
        log = conn.execute(sa.select(handoff_log.c.from_state, handoff_log.c.to_state, handoff_log.c.actor)
                           .order_by(handoff_log.c.id)).all()
    assert [tuple(r) for r in log] == [("bot", "pending", "bot"), ("pending", "agent", "agent:ana"),
                                       ("agent", "bot", "agent:ana")]

    detail = api(server, "GET", f"/api/conversations/{BUYER}").json()
    directions = [(t["direction"], t.get("kind")) for t in detail["transcript"]]
    assert directions[:2] == [("in", None), ("out", "reply")] and ("out", "agent") in directions
    assert detail["segments"] == [{"segment": "repeat_buyer", "reason": {"orders_count": 2},
                                   "entered_at": detail["segments"][0]["entered_at"]}]
    assert detail["aov"] == "55.00" and [o["name"] for o in detail["orders"]] == ["#6002", "#6001"]


def test_two_fallbacks_in_a_row_go_to_a_person(start_server, fake_graph, engine, store):
    server = start_server(fake_graph, toml=TOML)
    say(server, PLAIN, "qwzx vbnm")
    assert "didn't quite get that" in wait_texts(fake_graph, engine, PLAIN, 1)[0]
    say(server, PLAIN, "plmk oijn")
    assert "member of our team" in wait_texts(fake_graph, engine, PLAIN, 2)[1]
    with engine.connect() as conn:
        customer_id = conn.execute(sa.select(customers.c.id).where(customers.c.wa_id == PLAIN)).scalar_one()
        assert handoff.get(conn, customer_id).state == handoff.PENDING


def test_silent_agents_hand_the_conversation_back(start_server, fake_graph, engine, settings_for, store):
    server = start_server(fake_graph, toml=TOML, **AGENTS)
    say(server, NEWBIE, "human")
    wait_texts(fake_graph, engine, NEWBIE, 1)
    say(server, VIP, "agent please")
    wait_texts(fake_graph, engine, VIP, 1)
    assert api(server, "POST", f"/api/conversations/{VIP}/claim").status_code == 200
    settings = settings_for(fake_graph, toml=TOML)
    releaser = HandoffReleaser(engine, settings, replies=ReplyBook.from_settings(settings))
    assert releaser.run_once(now() + timedelta(minutes=59)) == []

    # Both have waited 50 minutes; then Vera's agent writes, which restarts her clock.
    with engine.begin() as conn:
        conn.execute(sa.update(conversations).values(state_changed_at=now() - timedelta(minutes=50),
                                                     agent_last_active_at=sa.case(
                                                         (conversations.c.state == "agent",
                                                          now() - timedelta(minutes=50)), else_=None)))
    assert api(server, "POST", f"/api/conversations/{VIP}/messages", json={"text": "On it!"}).status_code == 200
    released = releaser.run_once(now() + timedelta(minutes=15))
    assert [(r.customer_id, r.from_state) for r in released] == [(store["newbie"], "pending")]
    # Nobody ever answered Finn: he is told, inside his window (queued at the releaser's `now`).
    with engine.connect() as conn:
        told = conn.execute(sa.select(outbox.c.recipient, outbox.c.preview)
                            .where(outbox.c.source == "reply:handoff_timeout")).all()
    assert [(r.recipient, r.preview.startswith("Sorry for the wait, Finn")) for r in told] == [(NEWBIE, True)]
    assert [r.customer_id for r in releaser.run_once(now() + timedelta(minutes=61))] == [store["vip"]]

    say(server, VIP, "hi")
    assert wait_texts(fake_graph, engine, VIP, 3)[2].startswith("Welcome back Vera!")
    with engine.connect() as conn:
        actors = conn.execute(sa.select(handoff_log.c.actor).where(handoff_log.c.to_state == "bot")).scalars().all()
    assert actors == ["timeout", "timeout"]


def test_the_agent_api_needs_a_known_token(start_server, fake_graph, engine, store):
    without_tokens = start_server(fake_graph, toml=TOML)
    assert api(without_tokens, "GET", "/api/conversations").status_code == 401
    without_tokens.stop()
    server = start_server(fake_graph, toml=TOML, **AGENTS)
    assert api(server, "GET", "/api/conversations", token="nope").status_code == 401
    assert requests.get(f"{server.url}/api/conversations", timeout=5).status_code == 401
    assert api(server, "GET", "/api/conversations?state=lost").status_code == 400
    assert api(server, "GET", "/api/conversations/19999999999").status_code == 404
    for method, path, body in [("GET", "", None), ("POST", "/claim", None), ("POST", "/release", None),
                               ("POST", "/messages", {"text": "hello"})]:
        unknown = api(server, method, f"/api/conversations/19999999999{path}", json=body)
        assert unknown.status_code == 404 and unknown.json()["error"] == "not_found", (method, path)
    bad = api(server, "POST", f"/api/conversations/{VIP}/messages", json={"text": " "})
    assert bad.status_code == 400
    assert api(server, "GET", "/api/agent").json() == {"agent": "ana"}
    assert [t["name"] for t in api(server, "GET", "/api/templates").json()] == ["we_miss_you"]
    bots = api(server, "GET", "/api/conversations?state=bot").json()
    assert {c["wa_id"] for c in bots} == {VIP, NEWBIE, PLAIN, BUYER}
    assert requests.get(f"{server.url}/agent", timeout=5).status_code == 200
    wait_idle(engine, graph=fake_graph)
    assert fake_graph.requests == []  # nothing refused above was queued


def test_preferences_list_tap_becomes_the_interest_attribute(start_server, fake_graph, engine, store):
    from segments.tables import customer_attributes

    toml = TOML + '\n[preferences]\ninterests = ["Dogs", "Cats", "Birdwatching and long walks"]\n'
    server = start_server(fake_graph, toml=toml)
    server.post(simulate.reply_payload(PLAIN, "intent:preferences", "My interests"))
    wait_texts(fake_graph, engine, PLAIN, 1)
    offer = fake_graph.messages(PLAIN)[0].body
    assert offer["interactive"]["type"] == "list"
    assert simulate.choices_of(offer) == [("preferences:interest:Dogs", "Dogs"), ("preferences:interest:Cats", "Cats"),
                                          ("preferences:interest:Birdwatching and long walks",
                                           "Birdwatching and long w…")]
    server.post(simulate.reply_payload(PLAIN, "preferences:interest:Cats", "Cats", list_row=True))
    assert wait_texts(fake_graph, engine, PLAIN, 2)[1] == "Got it, thanks Pat! We'll keep that in mind."
    with engine.connect() as conn:
        row = conn.execute(sa.select(customer_attributes.c.name, customer_attributes.c.value,
                                     customer_attributes.c.source)).one()
    assert tuple(row) == ("interest", "Cats", "chat")
