"""The /sandbox page in a real browser: chat as a customer, see the bot's replies."""
from __future__ import annotations

import re

import pytest
import requests
import sqlalchemy as sa

from bot.core.tables import sandbox_messages
from tests.browser.screens import viewport_screenshot
from tests.support.browser import page, screenshot  # noqa: F401  (fixture)
from tests.support.idle import wait_idle

pytestmark = pytest.mark.browser


def test_chat_as_a_new_customer(start_server, engine, page):  # noqa: F811
    server = start_server()  # no token: the sandbox transport
    page.goto(f"{server.url}/sandbox")
    page.get_by_label("New number").fill("+1 555 010 9999")
    page.get_by_role("button", name="Add").click()
    page.get_by_label("Message").fill("hi")
    page.get_by_role("button", name="Send").click()
    log = page.get_by_role("log")
    log.get_by_text(re.compile(r"Welcome to")).wait_for(timeout=10000)
    assert "hi" in log.inner_text()
    assert page.get_by_label("Customer").input_value() == "15550109999"
    wait_idle(engine)
    with engine.connect() as conn:
        recorded = conn.execute(sa.select(sandbox_messages.c.recipient)).scalars().all()
    assert recorded == ["15550109999"]  # exactly one reply, recorded by the sandbox transport
    screenshot(page, "sandbox-new-customer")


def test_sandbox_is_not_served_with_a_real_transport(start_server, fake_graph, engine):
    server = start_server(fake_graph)
    assert requests.get(f"{server.url}/sandbox", timeout=5).status_code == 404
    assert requests.post(f"{server.url}/sandbox/api/send", json={"wa_id": "15550000000", "text": "hi"},
                         timeout=5).status_code == 404
    wait_idle(engine, graph=fake_graph)
    assert fake_graph.requests == []


def test_sandbox_send_validates_its_input(start_server, engine):
    server = start_server()
    bad = requests.post(f"{server.url}/sandbox/api/send", json={"wa_id": "abc", "text": "hi"}, timeout=5)
    assert bad.status_code == 400 and "digits" in bad.json()["error"]
    empty = requests.post(f"{server.url}/sandbox/api/send", json={"wa_id": "15550000000"}, timeout=5)
    assert empty.status_code == 400
    snapshot = wait_idle(engine)
    assert snapshot.outbox_rows == 0  # nothing refused was answered


def test_a_vip_chats_in_the_sandbox_and_gets_answers_of_their_own(start_server, engine, page):  # noqa: F811
    """The picture of the sandbox in docs/: a VIP with an order on its way is greeted as one and told
    where the order is."""
    from datetime import datetime, timedelta, timezone

    from playwright.sync_api import expect

    from tests.integration.test_conversations import TOML
    from tests.support.seed import add_customer, add_order, add_product, add_segment

    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        lena = add_customer(conn, "15550003333", "Lena", last_name="Park", now=now)
        add_product(conn, 1, "Linen cushion cover", [11])
        add_order(conn, 9001, lena, [(1, 11, "Linen cushion cover", 2, "35.00")], name="#9001",
                  created_at=now - timedelta(days=2), fulfillment_status="fulfilled",
                  tracking_url="https://track.example/9001")
        add_segment(conn, lena, "vip", {"total_spent": 70.0, "vip_min_spent": 60.0})
    server = start_server(toml=TOML)  # no token: the sandbox transport
    page.set_viewport_size({"width": 900, "height": 640})
    page.goto(f"{server.url}/sandbox")
    page.get_by_label("Customer").select_option("15550003333")
    log = page.get_by_role("log")
    for text, answer in [("hi", "Welcome back Lena! As one of our best customers"), ("where is my order?", "#9001")]:
        page.get_by_label("Message").fill(text)
        page.get_by_role("button", name="Send").click()
        expect(log).to_contain_text(answer, timeout=10000)
    viewport_screenshot(page, "sandbox")


def test_the_demos_vip_and_first_time_buyer_get_different_greetings_in_the_sandbox(start_server, engine, page,  # noqa: F811
                                                                                  database_url, tmp_path):
    """The first run, as a newcomer sees it: `wabot demo` seeded, its sandbox page, "hi" as the VIP
    and as the first-time buyer the demo names: two greetings of their own."""
    from playwright.sync_api import expect

    from bot.cli.demo import DEMO_CONFIG
    from tests.integration.test_demo import hints, run_demo

    seeded = run_demo(database_url, tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    by_segment = {h["segment"]: h for h in hints(seeded.stdout)}
    server = start_server(toml=DEMO_CONFIG.read_text())
    page.goto(f"{server.url}/sandbox")
    greetings = {}
    for segment in ("vip", "first_time_buyer"):
        hint = by_segment[segment]
        page.get_by_label("Customer").select_option(hint["wa_id"])
        log = page.get_by_role("log")
        before = log.inner_text()
        page.get_by_label("Message").fill("hi")
        page.get_by_role("button", name="Send").click()
        first_name = hint["name"].split()[0]
        expect(log).to_contain_text(first_name, timeout=15000)
        expect(log).not_to_have_text(before, timeout=15000)
        page.wait_for_timeout(500)  # the reply rendered in full
        greetings[segment] = log.inner_text()[len(before):] if log.inner_text().startswith(before) else log.inner_text()
    assert greetings["vip"] != greetings["first_time_buyer"]
    assert "best customers" in greetings["vip"], greetings["vip"]
    assert "first order" in greetings["first_time_buyer"], greetings["first_time_buyer"]
