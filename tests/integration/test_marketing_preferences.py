"""WhatsApp's own "stop marketing" (the `user_preferences` webhook field): a signed webhook through
the real server pauses marketing to the customer, so a marketing campaign skips them (`opted_out`)
and the sender cancels marketing queued before; utility messages and replies still go; "resume"
makes them reachable again (docs/sending.md, opting out; docs/campaigns.md, the planner)."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bot.conversation import outbox
from bot.core.signing import meta_signature
from bot.core.tables import customers, inbound_events
from bot.core.tables import outbox as outbox_table
from bot.pipeline.sender import Sender
from bot.pipeline.worker import InboundWorker
from bot.whatsapp import graph, messages, simulate
from flows.nlu import IntentRouter
from flows.replies import ReplyBook
from segments.tables import customer_tags
from tests.conftest import APP_SECRET, ROOT, make_env
from tests.support.cli import run_cli

WA_ID = "5511987654321"
TOML = """
[store]
name = "Acme"
timezone = "America/Sao_Paulo"

[policy]
consent = "any"
quiet_hours = []
daily_unique_limit = 50

[segments.club]
rule = 'has_tag("club")'

[campaigns.winter_sale]
segment = "club"
category = "marketing"
text = "Winter sale, {first_name}!"
template = { name = "winter_sale", language = "pt_BR", body = ["{first_name}"] }
dedupe_days = 0

[campaigns.shipping_notice]
segment = "club"
category = "utility"
text = "Our warehouse is closed on Friday"
template = { name = "shipping_notice", language = "pt_BR" }
dedupe_days = 0
"""


def preference(wa_id: str, value: str, at: float | None = None) -> dict:
    """A user_preferences webhook as Meta sends it (tests/fixtures/whatsapp/user_preferences__pywa-resume.json)."""
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
        "field": "user_preferences",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "contacts": [{"profile": {"name": "Maria"}, "wa_id": wa_id}],
            "user_preferences": [{
                "wa_id": wa_id, "detail": f"User requested to {value} marketing messages",
                "category": "marketing_messages", "value": value, "timestamp": int(at or time.time()),
            }],
        },
    }]}]}


def wait_until(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
    return value


def paused(engine) -> bool | None:
    with engine.connect() as conn:
        return conn.execute(sa.select(customers.c.marketing_paused).where(customers.c.wa_id == WA_ID)).scalar()


def campaign_run(env: dict, name: str) -> dict:
    result = run_cli(["campaigns", "run", name, "--json"], env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def to_customer(fake_graph, count: int | None = None) -> list[str]:
    """What the customer got; with `count`, once that many have arrived (the served sender may be the
    one sending what a `wabot campaigns run` queued, after the command has returned)."""
    if count is not None:
        fake_graph.wait_for(lambda reqs: sum(1 for r in reqs if r.recipient == WA_ID and r.type) >= count)
    return [r.text or r.body.get("template", {}).get("name") for r in fake_graph.messages(WA_ID) if r.status == 200]


def test_stop_and_resume_marketing_through_the_served_webhook(start_server, fake_graph, engine, database_url,
                                                               tmp_path):
    server = start_server(fake_graph, toml=TOML)
    assert server.post(simulate.text_payload(WA_ID, "oi", name="Maria Souza")).status_code == 200
    fake_graph.wait_for(lambda reqs: len(reqs) >= 1)  # the greeting: the customer exists, their window is open
    with engine.begin() as conn:
        customer_id = conn.execute(sa.select(customers.c.id).where(customers.c.wa_id == WA_ID)).scalar_one()
        conn.execute(sa.insert(customer_tags).values(customer_id=customer_id, tag="club"))
    env = make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))

    assert server.post(preference(WA_ID, "stop")).status_code == 200
    wait_until(lambda: paused(engine) is True)
    before = len(to_customer(fake_graph))
    skipped = campaign_run(env, "winter_sale")
    assert (skipped["eligible"], skipped["skipped"]) == (0, {"opted_out": 1})
    utility = campaign_run(env, "shipping_notice")  # "stop marketing" is not STOP: utility still goes
    assert utility["eligible"] == 1
    assert to_customer(fake_graph, before + 1)[before:] == ["Our warehouse is closed on Friday"]

    assert server.post(preference(WA_ID, "resume")).status_code == 200
    wait_until(lambda: paused(engine) is False)
    reached = campaign_run(env, "winter_sale")
    assert (reached["eligible"], reached["freeform"]) == (1, 1)
    assert to_customer(fake_graph, before + 2)[before:] == ["Our warehouse is closed on Friday", "Winter sale, Maria!"]
    with engine.connect() as conn:
        kinds = conn.execute(sa.select(inbound_events.c.type).order_by(inbound_events.c.id)).scalars().all()
    assert [k for k in kinds if k.startswith("preference")] == ["preference_stop", "preference_resume"]


@pytest.fixture
def app(settings_for, engine, fake_graph):
    from webhook import create_app

    settings = settings_for(fake_graph, toml=TOML)
    app = create_app(settings)
    yield settings, app.test_client()
    app.extensions["wabot"].close()


def signed(client, payload: dict):
    body = json.dumps(payload).encode()
    return client.post("/webhook", data=body, headers={"Content-Type": "application/json",
                                                         "X-Hub-Signature-256": meta_signature(APP_SECRET, body)})


def test_a_stop_arriving_after_a_marketing_message_was_queued_cancels_it(app, engine, fake_graph):
    settings, client = app
    worker = InboundWorker(engine, settings, router=IntentRouter(), replies=ReplyBook.from_settings(settings))
    assert signed(client, simulate.text_payload(WA_ID, "oi", name="Maria")).status_code == 200
    worker.run_once()
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        customer_id = conn.execute(sa.select(customers.c.id).where(customers.c.wa_id == WA_ID)).scalar_one()
        ids = {category: outbox.enqueue(conn, recipient=WA_ID, customer_id=customer_id, kind="campaign",
                                        category=category, message=messages.text_message(f"a {category} message"),
                                        now=now)
               for category in ("marketing", "utility")}
    assert signed(client, preference(WA_ID, "stop")).status_code == 200
    worker.run_once()
    transport = graph.HttpTransport(fake_graph.url, fake_graph.version, fake_graph.phone_number_id, fake_graph.token)
    sender = Sender(engine, transport, rate_limit=100)
    sender.drain(timeout=10)
    sender.close()
    with engine.connect() as conn:
        rows = {r.id: (r.state, r.error_title) for r in conn.execute(sa.select(outbox_table))}
    assert rows[ids["marketing"]] == ("cancelled", "marketing_paused")
    assert rows[ids["utility"]][0] == "sent"
    assert [r.text for r in fake_graph.messages(WA_ID)][1:] == ["a utility message"]


def test_a_preference_for_someone_else_changes_nobody(app, engine):
    settings, client = app
    worker = InboundWorker(engine, settings, router=IntentRouter(), replies=ReplyBook.from_settings(settings))
    signed(client, simulate.text_payload(WA_ID, "oi"))
    worker.run_once()
    assert signed(client, preference("5511900000000", "stop")).status_code == 200
    worker.run_once()
    assert paused(engine) is False
