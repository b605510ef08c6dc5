"""The agent console in Debian's chromium: sign in with the token, claim a waiting conversation,
reply (the reply reaches the fake Graph API), release; the queue says who wrote the last message
(the bot's words are the bot's, the agent's own are "You"); at 390 px wide nothing scrolls sideways
and Send and Release are on screen. Screenshots: tests/browser/screens.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.whatsapp import simulate
from tests.browser.screens import viewport_screenshot
from tests.conftest import ROOT
from tests.integration.test_conversations import TOML
from tests.support.idle import wait_texts
from tests.support.seed import add_customer, add_order, add_product, add_segment

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"
WA_ID = "15550003333"


@pytest.fixture
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not __import__("os").path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def test_an_agent_signs_in_claims_replies_and_releases(start_server, fake_graph, engine, browser):
    from playwright.sync_api import expect

    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        customer_id = add_customer(conn, WA_ID, "Lena", last_name="Park")
        add_product(conn, 1, "Linen Cushion", [11])
        add_order(conn, 9001, customer_id, [(1, 11, "Linen Cushion", 2, "35.00")], name="#9001",
                  created_at=now - timedelta(days=12), fulfillment_status="fulfilled",
                  tracking_url="https://track.example/9001")
        add_order(conn, 9002, customer_id, [(1, 11, "Linen Cushion", 1, "35.00")], name="#9002",
                  created_at=now - timedelta(days=2))
        add_segment(conn, customer_id, "vip", {"total_spent": 105.0, "vip_min_spent": 90.0})
        add_segment(conn, customer_id, "repeat_buyer", {"orders_count": 2})
    server = start_server(fake_graph, toml=TOML, WABOT_AGENT_TOKENS="ana:tok-ana")
    server.post(simulate.text_payload(WA_ID, "can I talk to a human? my cushion cover is torn"))
    wait_texts(fake_graph, engine, WA_ID, 1)

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/agent")
    page.get_by_label("Token").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    page.get_by_label("Token").fill("tok-ana")
    page.keyboard.press("Enter")

    expect(page.locator(".conv-item .last")).to_contain_text("Bot: ")  # the bot's handoff answer, not "You:"
    page.get_by_role("button", name="Lena Park").click()
    expect(page.get_by_role("heading", name="Lena Park")).to_be_visible()
    expect(page.get_by_role("log")).to_contain_text("my cushion cover is torn")
    expect(page.get_by_role("timer")).to_contain_text("Window closes in")
    expect(page.locator("#segments")).to_contain_text("total spent: 105")
    expect(page.locator("#orders")).to_contain_text("#9001")
    expect(page.locator("#facts")).to_contain_text("52.50")

    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("status")).to_contain_text("You have this conversation")
    page.get_by_label("Reply").fill("Hi Lena, I'm sorry about the cover! A replacement is on its way.")
    page.get_by_role("button", name="Send").click()
    sent = wait_texts(fake_graph, engine, WA_ID, 2)
    assert sent[1] == "Hi Lena, I'm sorry about the cover! A replacement is on its way."
    expect(page.get_by_role("log")).to_contain_text("A replacement is on its way")
    expect(page.locator(".conv-item .last")).to_contain_text("You: Hi Lena", timeout=10000)

    viewport_screenshot(page, "agent-console")

    page.get_by_role("button", name="Release").click()
    expect(page.get_by_role("status")).to_contain_text("the bot answers again")
    server.post(simulate.text_payload(WA_ID, "thanks"))
    assert "You're welcome" in wait_texts(fake_graph, engine, WA_ID, 3)[2]
    assert errors == []


def test_with_the_window_closed_the_reply_box_is_a_template_picker(start_server, fake_graph, engine, browser):
    from playwright.sync_api import expect

    from bot.conversation import handoff

    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        customer_id = add_customer(conn, WA_ID, "Omar", last_inbound_at=now - timedelta(hours=30))
        handoff.transition(conn, customer_id, handoff.PENDING, actor="bot", now=now - timedelta(minutes=3))
    server = start_server(fake_graph, toml=TOML, WABOT_AGENT_TOKENS="ana:tok-ana")

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{server.url}/agent")
    page.get_by_label("Token").fill("tok-ana")
    page.get_by_role("button", name="Sign in").click()
    # Keyboard only: the first conversation has the focus after signing in.
    expect(page.get_by_role("button", name="Omar")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("timer")).to_contain_text("Window closed")
    expect(page.get_by_label("Reply")).to_be_hidden()
    expect(page.get_by_label("Template")).to_have_value("0")
    expect(page.get_by_label("Parameter 1")).to_have_value("Omar")
    page.get_by_role("button", name="Claim").click()
    page.get_by_role("button", name="Send").click()
    wait_texts(fake_graph, engine, WA_ID, 1)
    sent = fake_graph.messages(WA_ID)[0].body
    assert sent["to"] == WA_ID and sent["template"]["name"] == "we_miss_you"
    assert sent["template"]["components"][0]["parameters"] == [{"type": "text", "text": "Omar"}]
    expect(page.get_by_role("log")).to_contain_text("[template we_miss_you] Omar")
    expect(page.locator(".conv-item .last")).to_contain_text("You: [template we_miss_you] Omar")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "agent-console-window-closed.png"))


def test_the_console_shows_the_customers_language_and_where_it_came_from(start_server, fake_graph, engine, browser):
    from playwright.sync_api import expect

    server = start_server(fake_graph, toml='[store]\nlanguages = ["en", "es"]\n', WABOT_AGENT_TOKENS="ana:tok-ana")
    server.post(simulate.text_payload(WA_ID, "hola, quiero hablar con una persona por favor", name="Lena Park"))
    [handed_off] = wait_texts(fake_graph, engine, WA_ID, 1)
    assert handed_off.startswith("Gracias")  # the built-in Spanish handoff text

    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/agent")
    page.get_by_label("Token").fill("tok-ana")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Lena Park").click()
    expect(page.locator("#facts")).to_contain_text("Español (from their messages)")
    assert errors == []


def test_at_390_px_send_and_release_are_on_screen(start_server, fake_graph, engine, browser):
    from playwright.sync_api import expect

    with engine.begin() as conn:
        customer_id = add_customer(conn, WA_ID, "Lena", last_name="Park")
        add_segment(conn, customer_id, "vip", {"total_spent": 105.0, "vip_min_spent": 90.0})
    server = start_server(fake_graph, toml=TOML, WABOT_AGENT_TOKENS="ana:tok-ana")
    server.post(simulate.text_payload(WA_ID, "can I talk to a human? my cushion cover is torn"))
    wait_texts(fake_graph, engine, WA_ID, 1)

    page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/agent")
    page.get_by_label("Token").fill("tok-ana")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Lena Park").click()
    expect(page.get_by_role("log")).to_contain_text("my cushion cover is torn")
    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("status")).to_contain_text("You have this conversation")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for name in ("Claim", "Release", "Send"):
        button = page.get_by_role("button", name=name, exact=True)
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (name, box)
        expect(button).to_be_in_viewport()
    page.get_by_label("Reply").fill("On it, Lena!")
    page.get_by_role("button", name="Send").click()
    assert wait_texts(fake_graph, engine, WA_ID, 2)[1] == "On it, Lena!"
    page.get_by_role("button", name="Release").click()
    expect(page.get_by_role("status")).to_contain_text("the bot answers again")
    page.evaluate("document.getElementById('conv').scrollIntoView({block: 'start'})")
    viewport_screenshot(page, "agent-console-mobile")
    assert errors == []
