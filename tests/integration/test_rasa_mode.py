"""WABOT_RASA_URL: inbound text goes to a Rasa server's REST channel, whose assistant calls our
flows through `wabot actions`; its answers go out through our outbox, and Rasa being down loses
no message."""
from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from bot.conversation import handoff
from bot.core.tables import customers, inbound_events, outbox
from bot.whatsapp import simulate
from tests.conftest import free_port
from tests.integration.test_action_server import start_actions  # noqa: F401 - the fixture
from tests.support.fake_rasa import FakeRasa
from tests.support.idle import wait_idle, wait_texts
from tests.support.seed import add_customer, add_order, add_product

pytestmark = pytest.mark.database_agnostic  # conftest.py: runs in the SQLite pass only

TOML = """
[store]
name = "Acme Home"
shop_domain = "acme.myshopify.com"
"""
WA_ID = "15550002222"


def fast_retries(base: float) -> str:
    """The inbound queue's retries after `base` x 2, x 4, ... seconds instead of 2, 4, ... (docs/sending.md)."""
    return TOML + f"\n[delivery]\nretry_base_seconds = {base}\n"


@pytest.fixture
def start_rasa():
    """Start fake Rasa servers; the test fails at teardown if one was sent a request Rasa's REST
    channel would not serve as a message."""
    started: list[FakeRasa] = []

    def start(action_server: str, port: int = 0) -> FakeRasa:
        rasa = FakeRasa(action_server, port=port).start()
        started.append(rasa)
        return rasa

    yield start
    for rasa in started:
        rasa.stop()
    refused = "\n".join(rasa.refusal_report() for rasa in started if rasa.refusals)
    if refused:
        pytest.fail("the fake Rasa refused what Rasa's REST channel would not take:\n" + refused, pytrace=False)


@pytest.fixture
def buyer(engine) -> int:
    from datetime import datetime, timedelta, timezone

    with engine.begin() as conn:
        customer_id = add_customer(conn, WA_ID, "Rosa")
        add_product(conn, 1, "Coffee", [11])
        add_order(conn, 8001, customer_id, [(1, 11, "Coffee", 2, "9.00")], name="#8001",
                  created_at=datetime.now(timezone.utc) - timedelta(days=5))
    return customer_id


def test_text_and_taps_go_through_rasa_and_its_answers_through_our_outbox(start_server, start_actions,  # noqa: F811 - the imported fixture
                                                                         start_rasa, fake_graph, engine, buyer):
    actions = start_actions(TOML)
    rasa = start_rasa(actions.url)
    server = start_server(fake_graph, toml=TOML, WABOT_RASA_URL=rasa.url)
    server.post(simulate.text_payload(WA_ID, "hi", name="Rosa"))
    assert wait_texts(fake_graph, engine, WA_ID, 1) == ["Hi Rosa! Welcome to Acme Home. How can we help today?"]
    assert rasa.received[0]["sender"] == WA_ID and rasa.received[0]["message"] == "hi"

    server.post(simulate.text_payload(WA_ID, "reorder"))
    wait_texts(fake_graph, engine, WA_ID, 2)
    assert simulate.choices_of(fake_graph.messages(WA_ID)[1].body) == [("reorder:confirm:8001", "Reorder")]
    server.post(simulate.reply_payload(WA_ID, "reorder:confirm:8001", "Reorder"))
    assert wait_texts(fake_graph, engine, WA_ID, 3)[2].endswith("https://acme.myshopify.com/cart/11:2")
    tap = rasa.received[2]
    assert tap["message"] == "/reorder" and tap["metadata"]["reply_id"] == "reorder:confirm:8001"
    assert len(rasa.received) == 3  # one request a customer message

    # The handoff happens in the action server; the worker then stops asking Rasa.
    server.post(simulate.text_payload(WA_ID, "human please"))
    assert "member of our team" in wait_texts(fake_graph, engine, WA_ID, 4)[3]
    with engine.connect() as conn:
        assert handoff.get(conn, buyer).state == handoff.PENDING
    asked = len(rasa.received)
    server.post(simulate.text_payload(WA_ID, "hello?"))
    wait_idle(engine, graph=fake_graph)
    assert len(rasa.received) == asked and len(fake_graph.messages(WA_ID)) == 4


def test_stop_is_ours_even_with_rasa(start_server, fake_graph, engine, buyer):
    server = start_server(fake_graph, toml=TOML, WABOT_RASA_URL=f"http://127.0.0.1:{free_port()}")
    server.post(simulate.text_payload(WA_ID, "STOP"))
    assert "unsubscribed" in wait_texts(fake_graph, engine, WA_ID, 1)[0]
    with engine.connect() as conn:
        assert conn.execute(sa.select(customers.c.opted_out).where(customers.c.id == buyer)).scalar() is True


def test_a_message_waits_for_rasa_to_come_back(start_server, start_actions, start_rasa, fake_graph, engine,  # noqa: F811
                                               buyer):
    actions = start_actions(TOML)
    port = free_port()
    server = start_server(fake_graph, toml=fast_retries(0.5), WABOT_RASA_URL=f"http://127.0.0.1:{port}")
    server.post(simulate.text_payload(WA_ID, "where is my order"))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            attempts = conn.execute(sa.select(inbound_events.c.attempts)).scalar()
        if attempts and attempts >= 2:
            break
        time.sleep(0.05)
    with engine.connect() as conn:
        # Messages: the read receipt with the typing indicator goes before Rasa is asked (docs/usernames.md).
        queued = conn.execute(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.kind != "read")).scalar()
    assert attempts >= 2 and queued == 0 and fake_graph.messages(WA_ID) == []
    start_rasa(actions.url, port=port)
    assert "#8001" in wait_texts(fake_graph, engine, WA_ID, 1, timeout=20)[0]


@pytest.mark.slow
def test_rasa_down_for_good_gets_a_polite_answer_and_a_person(start_server, fake_graph, engine, buyer):
    server = start_server(fake_graph, toml=fast_retries(0.1), WABOT_RASA_URL=f"http://127.0.0.1:{free_port()}")
    server.post(simulate.text_payload(WA_ID, "do you ship to Canada?"))
    text = wait_texts(fake_graph, engine, WA_ID, 1, timeout=30)[0]
    assert text == ("Sorry Rosa, our assistant is briefly unavailable. I've passed your message to our team "
                    "and they'll answer here.")
    with engine.connect() as conn:
        assert handoff.get(conn, buyer).state == handoff.PENDING
        assert conn.execute(sa.select(inbound_events.c.state, inbound_events.c.attempts)).one() == ("done", 5)
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("text", ["yes", None])
def test_the_answer_to_a_cod_question_is_ours_even_with_rasa(start_server, fake_graph, engine, buyer, text):
    """Rasa is unreachable here: the answer is recorded and confirmed by wabot, so it never asks Rasa."""
    from datetime import datetime, timezone

    from bot.automations.tables import cod_confirmations
    from segments.tables import orders

    toml = TOML + '\n[automations.cod_confirmation]\ntext = "Confirm {order_name}?"\n'
    with engine.begin() as conn:
        conn.execute(sa.insert(orders).values(id=777, name="#777", customer_id=buyer, created_at=datetime.now(timezone.utc),
                                              total_price=10, ingested_at=datetime.now(timezone.utc)))
        conn.execute(sa.insert(cod_confirmations).values(order_id=777, customer_id=buyer, order_name="#777",
                                                         state="awaiting", asked_at=datetime.now(timezone.utc)))
    server = start_server(fake_graph, toml=toml, WABOT_RASA_URL=f"http://127.0.0.1:{free_port()}")
    if text:
        server.post(simulate.text_payload(WA_ID, text))
    else:
        server.post(simulate.reply_payload(WA_ID, "cod:confirm:777", "Confirm"))
    assert "is confirmed" in wait_texts(fake_graph, engine, WA_ID, 1)[0]
    with engine.connect() as conn:
        assert conn.execute(sa.select(cod_confirmations.c.state)).scalar() == "confirmed"
