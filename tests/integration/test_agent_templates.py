"""The agent API and marketing: no marketing template to an opted-out customer (409 opted_out),
and a template's category from the config where it is named there, else the request's, else
marketing (docs/sending.md)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bot.conversation import customers
from bot.core.tables import outbox
from webhook import create_app

TOML = """
[campaigns.restock]
segment = "vip"
category = "utility"
template = { name = "restock_notice", language = "en_US", body = ["{first_name}"] }
"""
HEADERS = {"Authorization": "Bearer tok-ana"}


@pytest.fixture
def client(settings_for, engine):
    app = create_app(settings_for(toml=TOML, WABOT_AGENT_TOKENS="ana:tok-ana"))
    yield app.test_client()
    app.extensions["wabot"].close()


def customer(engine, wa_id: str, *, opted_out: bool = False) -> None:
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        c = customers.touch_inbound(conn, wa_id=wa_id, user_id=None, profile_name="Ana", sent_at=now, now=now)
        if opted_out:
            customers.set_opted_out(conn, c.id, True, now)


def template(name: str, **extra) -> dict:
    return {"template": {"name": name, "language": "en_US", "body": ["Ana"], **extra}}


def queued(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(outbox.c.recipient, outbox.c.category))]


def test_no_marketing_template_to_an_opted_out_customer(client, engine):
    customer(engine, "15550003001", opted_out=True)
    refused = client.post("/api/conversations/15550003001/messages", json=template("spring_sale"), headers=HEADERS)
    assert refused.status_code == 409 and refused.json["error"] == "opted_out"
    assert refused.json["category"] == "marketing"  # neither the config nor the request said
    also = client.post("/api/conversations/15550003001/messages",
                       json=template("spring_sale", category="marketing"), headers=HEADERS)
    assert also.status_code == 409 and also.json["error"] == "opted_out"
    assert queued(engine) == []


def test_a_utility_template_still_reaches_an_opted_out_customer(client, engine):
    customer(engine, "15550003002", opted_out=True)
    named = client.post("/api/conversations/15550003002/messages", json=template("restock_notice"), headers=HEADERS)
    assert named.status_code == 200 and named.json["category"] == "utility"  # the config's category
    asked = client.post("/api/conversations/15550003002/messages",
                        json=template("order_update", category="utility"), headers=HEADERS)
    assert asked.status_code == 200 and asked.json["category"] == "utility"  # the request's
    assert queued(engine) == [("15550003002", "utility"), ("15550003002", "utility")]


def test_the_config_wins_over_the_request(client, engine):
    customer(engine, "15550003003")
    sent = client.post("/api/conversations/15550003003/messages",
                       json=template("restock_notice", category="marketing"), headers=HEADERS)
    assert sent.status_code == 200 and sent.json["category"] == "utility"


def test_a_template_meta_paused_is_refused_and_sent_again_once_reinstated(client, engine):
    from bot.campaigns import template_health
    from bot.whatsapp.events import AccountChange

    customer(engine, "15550003004")
    now = datetime.now(timezone.utc)

    def report(event: str) -> None:
        value = {"event": event, "message_template_name": "restock_notice", "message_template_language": "en_US"}
        with engine.begin() as conn:
            template_health.record(conn, AccountChange(template_health.STATUS_FIELD, event, datetime.now(timezone.utc),
                                                       {"field": template_health.STATUS_FIELD, "value": value}), now, now)

    report("PAUSED")
    refused = client.post("/api/conversations/15550003004/messages", json=template("restock_notice"), headers=HEADERS)
    assert refused.status_code == 409 and refused.json["error"] == "template_paused"
    assert queued(engine) == []
    report("REINSTATED")
    sent = client.post("/api/conversations/15550003004/messages", json=template("restock_notice"), headers=HEADERS)
    assert sent.status_code == 200
