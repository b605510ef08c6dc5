"""The agent console with a username customer (docs/usernames.md): the conversation opens by its
business-scoped user id, which is shown as a username's id, never as a "+<number>", and the
agent's reply reaches them through `recipient`."""
from __future__ import annotations

import pytest

from bot.whatsapp import simulate
from tests.browser.test_agent_console import browser  # noqa: F401 - the fixture
from tests.integration.test_conversations import TOML
from tests.support.idle import wait_texts

pytestmark = pytest.mark.browser

BSUID = "BR.13491208655302741918"


def test_a_username_customer_in_the_agent_console(start_server, fake_graph, engine, browser):  # noqa: F811
    from playwright.sync_api import expect

    server = start_server(fake_graph, toml=TOML, WABOT_AGENT_TOKENS="ana:tok-ana")
    server.post(simulate.username_text_payload(BSUID, "can I talk to a human?", name="Bia", username="@bia"))
    wait_texts(fake_graph, engine, BSUID, 1)

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/agent")
    page.get_by_label("Token").fill("tok-ana")
    page.keyboard.press("Enter")
    page.get_by_role("button", name="Bia").click()
    expect(page.get_by_role("heading", name="Bia")).to_be_visible()
    expect(page.locator("#conv-wa")).to_have_text(f"username · {BSUID}")
    expect(page.get_by_role("log")).to_contain_text("can I talk to a human?")
    page.get_by_role("button", name="Claim").click()
    page.get_by_label("Reply").fill("Hi Bia, Ana here.")
    page.get_by_role("button", name="Send").click()
    assert wait_texts(fake_graph, engine, BSUID, 2)[1] == "Hi Bia, Ana here."
    assert fake_graph.messages(BSUID)[1].body["recipient"] == BSUID
    assert errors == []
