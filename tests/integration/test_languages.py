"""The customer's language through the real server (`wabot serve` against the fake Graph API):
which table and which built-in text a reply comes from, what decides the language, and that an
explicit choice sticks (docs/languages.md)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bot.core.tables import customers, inbound_messages
from bot.whatsapp import simulate
from flows.reply_texts import BUILT_IN
from segments.tables import segment_members
from tests.support.idle import wait_texts

US, BR, MX, IN, ID = "15551234567", "5511987650001", "5215512345678", "919876543210", "6281234567890"

TOML = """
[store]
name = "Acme Home"
languages = ["en", "es", "pt", "hi", "id"]

[replies]
segment_priority = ["vip"]

[replies.greet]
default = "Hi {first_name}! (en table)"
vip = "Welcome back {first_name}! (en vip)"

[replies.greet.es]
default = "¡Hola {first_name}! (tabla es)"
vip = "¡Qué gusto verte, {first_name}! (es vip)"
"""


def built_in(language: str, reply: str, **values: str) -> str:
    """The first built-in candidate of a reply, filled as the bot fills it."""
    from flows.replies import fill
    return fill(BUILT_IN[language][reply]["default"][-1], values, "Acme Home", language)


def language_of(engine, wa_id: str) -> tuple[str | None, str | None]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(customers.c.language_choice, customers.c.language_chat)
                           .where(customers.c.wa_id == wa_id)).one()
    return row.language_choice, row.language_chat


@pytest.fixture
def server(start_server, fake_graph):
    return start_server(fake_graph, toml=TOML)


def test_a_us_number_writing_spanish_gets_the_spanish_table(server, fake_graph, engine):
    server.post(simulate.text_payload(US, "hola, buenas tardes", name="Ana Lima"))
    assert wait_texts(fake_graph, engine, US, 1) == ["¡Hola Ana! (tabla es)"]
    assert language_of(engine, US) == (None, "es")
    with engine.connect() as conn:
        assert conn.execute(sa.select(inbound_messages.c.language)).scalar_one() == "es"


def test_a_brazilian_number_writing_english_gets_english(server, fake_graph, engine):
    server.post(simulate.text_payload(BR, "hello there, good morning", name="João"))
    assert wait_texts(fake_graph, engine, BR, 1) == ["Hi João! (en table)"]


def test_a_brazilian_number_sending_only_an_image_gets_portuguese(server, fake_graph, engine):
    server.post(simulate.image_payload(BR, name="João"))
    assert wait_texts(fake_graph, engine, BR, 1) == [built_in("pt", "media", first_name="João")]
    assert language_of(engine, BR) == (None, None)  # the phone's country decided


def test_english_please_sticks_over_later_portuguese(server, fake_graph, engine):
    server.post(simulate.text_payload(BR, "oi, tudo bem?", name="João"))
    [greeting] = wait_texts(fake_graph, engine, BR, 1)
    assert greeting == built_in("pt", "greet", first_name="João")
    server.post(simulate.text_payload(BR, "english please"))
    _, switched = wait_texts(fake_graph, engine, BR, 2)
    assert switched == built_in("en", "language", first_name="João")
    server.post(simulate.text_payload(BR, "oi, cadê meu pedido? obrigado"))
    *_, answer = wait_texts(fake_graph, engine, BR, 3)
    assert answer == built_in("en", "no_orders", first_name="João")
    assert language_of(engine, BR) == ("en", "pt")  # read as Portuguese, answered in the chosen English


def test_a_language_the_store_does_not_speak_is_declined_in_the_current_one(start_server, fake_graph, engine):
    server = start_server(fake_graph, toml='[store]\nlanguages = ["es", "en"]\n')
    server.post(simulate.text_payload(MX, "deutsch", name="Ana"))
    [declined] = wait_texts(fake_graph, engine, MX, 1)
    assert declined.startswith(built_in("es", "language_unavailable", languages="Español y English")[:20])
    assert "Español y English" in declined
    assert language_of(engine, MX) == (None, None)


def test_a_tapped_language_row_switches(server, fake_graph, engine):
    server.post(simulate.reply_payload(US, "language:id", "Bahasa Indonesia", list_row=True, name="Ana"))
    assert wait_texts(fake_graph, engine, US, 1) == [built_in("id", "language", first_name="Ana")]
    assert language_of(engine, US) == ("id", None)


@pytest.mark.parametrize("language, number, stop, start", [
    ("en", US, "STOP", "START"),
    ("es", MX, "darme de baja", "darme de alta"),
    ("pt", BR, "sair", "quero voltar a receber as mensagens"),
    ("hi", IN, "messages band karo", "messages phir se shuru karo"),
    ("id", ID, "berhenti", "mulai lagi"),
])
def test_stop_and_start_are_confirmed_in_the_customers_language(server, fake_graph, engine, language, number,
                                                                stop, start):
    server.post(simulate.text_payload(number, stop, name="Ana"))
    [stopped] = wait_texts(fake_graph, engine, number, 1)
    assert stopped == built_in(language, "stop", first_name="Ana")
    with engine.connect() as conn:
        assert conn.execute(sa.select(customers.c.opted_out).where(customers.c.wa_id == number)).scalar_one()
    server.post(simulate.text_payload(number, start))
    _, started = wait_texts(fake_graph, engine, number, 2)
    assert started == built_in(language, "start", first_name="Ana")


def test_stop_in_devanagari_is_confirmed_in_hindi(server, fake_graph, engine):
    server.post(simulate.text_payload(US, "मैसेज बंद करो", name="Ana"))
    assert wait_texts(fake_graph, engine, US, 1) == [built_in("hi", "stop", first_name="Ana")]


def test_segment_priority_works_inside_a_language_table(server, fake_graph, engine):
    server.post(simulate.text_payload(MX, "hola", name="Ana"))
    wait_texts(fake_graph, engine, MX, 1)
    with engine.begin() as conn:
        customer_id = conn.execute(sa.select(customers.c.id).where(customers.c.wa_id == MX)).scalar_one()
        conn.execute(sa.insert(segment_members).values(segment="vip", customer_id=customer_id,
                                                       entered_at=datetime.now(timezone.utc), reason={}))
    server.post(simulate.text_payload(MX, "buenos días"))
    assert wait_texts(fake_graph, engine, MX, 2)[1] == "¡Qué gusto verte, Ana! (es vip)"


def test_missing_tables_fall_back_as_the_contract_says(server, fake_graph, engine):
    # Portuguese has no greet table: the built-in Portuguese text, not the English table.
    server.post(simulate.text_payload(BR, "oi tudo bem", name="João"))
    assert wait_texts(fake_graph, engine, BR, 1) == [built_in("pt", "greet", first_name="João")]


def test_a_language_without_built_in_texts_falls_back_to_the_default_table(start_server, fake_graph, engine):
    server = start_server(fake_graph, toml='[store]\nlanguages = ["en", "de"]\n[replies.greet]\n'
                                           'default = "Hi {first_name}! (en table)"\n')
    server.post(simulate.text_payload("4915112345678", "hallo", name="Jonas"))  # a German number
    assert wait_texts(fake_graph, engine, "4915112345678", 1) == ["Hi Jonas! (en table)"]


def test_shopify_locales_are_evidence_of_the_language(settings_for, engine):
    """An order's customer_locale, else the Shopify customer's locale, through the real webhook."""
    import base64
    import hashlib
    import hmac
    import json
    import uuid

    from segments.language import customer_language
    from tests.conftest import load_fixture
    from webhook import create_app

    app = create_app(settings_for(toml=TOML, WABOT_SHOPIFY_SECRET="shpss_locale"))

    def deliver(topic: str, body: dict) -> None:
        raw = json.dumps(body).encode()
        signature = base64.b64encode(hmac.new(b"shpss_locale", raw, hashlib.sha256).digest()).decode()
        response = app.test_client().post("/shopify/webhooks", data=raw, headers={
            "X-Shopify-Topic": topic, "X-Shopify-Hmac-Sha256": signature, "X-Shopify-Webhook-Id": str(uuid.uuid4())})
        assert response.status_code == 200 and response.json.get("applied") == 1, response.json

    customer = load_fixture("shopify", "customers_create__shopify-docs-example__api-2026-04.json")
    deliver("customers/create", {**customer, "phone": "+1 415 555 0101", "locale": "es-419"})
    order = load_fixture("shopify", "orders_create__shopify-docs-example__api-2025-01.json")
    deliver("orders/create", {**order, "id": 7001, "phone": "+1 415 555 0202", "customer_locale": "pt-BR"})
    deliver("orders/create", {**order, "id": 7002, "phone": "+1 415 555 0303", "customer_locale": "<script>"})
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.select(customers.c.wa_id, customers.c.id)).all())
        languages = ("en", "es", "pt", "hi", "id")
        assert customer_language(conn, ids["14155550101"], languages) == ("es", "locale")
        assert customer_language(conn, ids["14155550202"], languages) == ("pt", "locale")
        assert customer_language(conn, ids["14155550303"], languages) == ("en", "country")  # not a locale: ignored
    app.extensions["wabot"].close()
