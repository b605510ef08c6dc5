"""Template health and Meta's per-user marketing limit, end to end: template status webhooks posted
to the real server (`wabot serve`), campaigns planned and sent by the real commands through the fake
Graph API, which checks every template body's shape (docs/campaigns.md, "Template health",
"Per-user marketing limit", "Rich templates").

The campaigns run at a --now two days ahead of the clock: the server's own sender leaves their
messages alone (not due for it), and the command's sender sends them at that --now."""
from __future__ import annotations

import copy
import json
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

from bot.campaigns import template_health as health
from bot.campaigns.runs import Campaigns
from bot.campaigns.tables import template_health
from bot.core.tables import outbox
from bot.pipeline.sender import Sender
from bot.whatsapp import graph
from bot.whatsapp.events import parse_payload
from tests.conftest import ROOT, load_fixture, make_env
from tests.support.campaign_store import TagAudience
from tests.support.cli import run_cli
from tests.support.fake_graph import graph_error
from tests.support.seed import add_tagged_customers

UTC = timezone.utc
T = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
ADMIN = "admin-secret"
TOML = """
[store]
name = "Acme"
timezone = "UTC"

[policy]
consent = "any"
quiet_hours = []
max_marketing_per_7d = 10

[sale]
discount_code = "SAVE10"

[campaigns.tested]
rule = 'has_tag("t")'
test_fraction = 1.0
variants = [{ template = { name = "promo_a", body = ["{first_name}"] } },
            { template = { name = "promo_b", body = ["{first_name}"] } }]

[campaigns.only_a]
rule = 'has_tag("t")'
template = { name = "promo_a", body = ["{first_name}"] }

[campaigns.first]
rule = 'has_tag("l")'
template = { name = "first", body = ["{first_name}"] }

[campaigns.second]
rule = 'has_tag("l")'
template = { name = "second", body = ["{first_name}"] }

[campaigns.third]
rule = 'has_tag("l")'
template = { name = "third", body = ["{first_name}"] }

[campaigns.rich]
rule = 'has_tag("r")'
[campaigns.rich.template]
name = "spring_sale"
body = ["{first_name}", "{discount_code}"]
header = { type = "image", link = "https://cdn.example/spring.jpg" }
quick_replies = ["stop_promos"]
coupon_code = "{discount_code}"
url_suffix = "spring?code={discount_code}"
"""


@pytest.fixture
def env(database_url, tmp_path, fake_graph):
    (tmp_path / "wabot.toml").write_text(TOML)
    return make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"),
                    WABOT_RATE_LIMIT="500", WABOT_ADMIN_TOKEN=ADMIN)


def wabot(env: dict, *args: str) -> dict:
    result = run_cli([*args, "--json"], env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def status(event: str, name: str, at: datetime, **extra) -> dict:
    payload = copy.deepcopy(load_fixture("whatsapp", "template-status__pywa-approved.json"))
    payload["entry"][0]["time"] = int(at.timestamp())
    value = payload["entry"][0]["changes"][0]["value"]
    value.update(event=event, message_template_name=name, message_template_language="en_US",
                 message_template_category="MARKETING", **extra)
    return payload


def wait_health(engine, name: str, usable: bool, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            row = conn.execute(sa.select(template_health.c.usable).where(template_health.c.name == name)).first()
        if row is not None and bool(row.usable) is usable:
            return
        time.sleep(0.05)
    raise AssertionError(f"template {name} did not become {'usable' if usable else 'unusable'}")


def sent_templates(fake_graph, start: int = 0) -> list[tuple[str, str]]:
    return [(r.recipient, r.body["template"]["name"]) for r in fake_graph.requests[start:]
            if r.type == "template" and r.status == 200]


def test_a_paused_template_is_never_sent_and_is_used_again_once_reinstated(engine, start_server, fake_graph, env):
    with engine.begin() as conn:
        audience = set(add_tagged_customers(conn, 12, "t", now=T))
    server = start_server(fake_graph, TOML, WABOT_ADMIN_TOKEN=ADMIN)
    now = datetime.now(UTC)
    assert server.post(status("PAUSED", "promo_a", now, reason="NONE",
                              other_info={"title": "FIRST_PAUSE", "description": "low quality"})).status_code == 200
    assert server.post(status("FLAGGED", "promo_b", now)).status_code == 200
    wait_health(engine, "promo_a", usable=False)
    wait_health(engine, "promo_b", usable=True)

    # the paused variant is left out of the split: its customers get the other one
    preview = wabot(env, "campaigns", "preview", "tested", "--now", T.isoformat())
    assert preview["eligible"] == 12 and preview["skipped"] == {}
    assert {s["variant"] for s in preview["sample"]} == {1}
    assert any("promo_a" in w and "unusable" in w for w in preview["warnings"])
    assert any("promo_b" in w and "FLAGGED" in w for w in preview["warnings"])
    # a customer who could only get the paused template is skipped, and said why
    only_a = wabot(env, "campaigns", "preview", "only_a", "--now", T.isoformat())
    assert (only_a["eligible"], only_a["skipped"]) == (0, {"template_paused": 12})
    shown = run_cli(["campaigns", "preview", "only_a", "--now", T.isoformat()], env=env, cwd=ROOT).stdout
    assert "  template_paused: 12" in shown and "warning: template promo_a (en_US) is unusable: PAUSED" in shown

    # the console's campaign list shows what Meta said
    listed = requests.get(f"{server.url}/api/campaigns", headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10).json()
    tested = next(c for c in listed if c["name"] == "tested")
    assert {(t["name"], t["status"], t["usable"], t["flagged"]) for t in tested["template_health"]} == {
        ("promo_a", "PAUSED", False, False), ("promo_b", "FLAGGED", True, True)}

    start = len(fake_graph.requests)
    report = wabot(env, "campaigns", "run", "tested", "--now", T.isoformat(), "--yes")
    assert report["queued"] == 12
    assert sorted(sent_templates(fake_graph, start)) == sorted((wa_id, "promo_b") for wa_id in audience)
    wabot(env, "campaigns", "run", "only_a", "--now", T.isoformat(), "--yes")
    assert not any(name == "promo_a" for _, name in sent_templates(fake_graph))

    # an older event delivered late does not undo the pause
    assert server.post(status("APPROVED", "promo_a", now - timedelta(hours=1))).status_code == 200
    assert server.post(status("REINSTATED", "promo_a", now + timedelta(seconds=1))).status_code == 200
    wait_health(engine, "promo_a", usable=True)
    start = len(fake_graph.requests)
    later = (T + timedelta(minutes=5)).isoformat()
    assert wabot(env, "campaigns", "preview", "only_a", "--now", later)["skipped"] == {}
    wabot(env, "campaigns", "run", "only_a", "--now", later, "--yes")
    assert sorted(sent_templates(fake_graph, start)) == sorted((wa_id, "promo_a") for wa_id in audience)


def test_an_older_event_delivered_late_changes_nothing(engine, start_server, fake_graph):
    server = start_server(fake_graph, TOML)
    now = datetime.now(UTC)
    assert server.post(status("PAUSED", "promo_a", now)).status_code == 200
    wait_health(engine, "promo_a", usable=False)
    assert server.post(status("APPROVED", "promo_a", now - timedelta(hours=1))).status_code == 200
    assert server.post(status("FLAGGED", "promo_b", now)).status_code == 200
    wait_health(engine, "promo_b", usable=True)  # processed after the late APPROVED
    with engine.connect() as conn:
        row = conn.execute(sa.select(template_health).where(template_health.c.name == "promo_a")).one()
    assert (row.status, row.usable) == ("PAUSED", False)


def test_131049_is_tried_once_then_that_customer_gets_no_marketing_template_for_24_hours(engine, fake_graph, env):
    with engine.begin() as conn:
        limited, *others = add_tagged_customers(conn, 3, "l", now=T)

    def respond(body: dict):
        if body.get("to") == limited and body.get("type") == "template":
            return graph_error(131049, "This message was not delivered to maintain healthy ecosystem engagement.")
        return None

    fake_graph.responder = respond
    wabot(env, "campaigns", "run", "first", "--now", T.isoformat(), "--yes")
    assert [r.recipient for r in fake_graph.requests].count(limited) == 1  # final: no retry
    stats = wabot(env, "campaigns", "stats", "first")
    assert stats["total"]["failed_by_code"] == {"131049": 1} and stats["total"]["sent"] == 2
    # never twice: the same campaign does not try them again, even after the day
    again = wabot(env, "campaigns", "run", "first", "--now", (T + timedelta(hours=30)).isoformat(), "--yes")
    assert again["queued"] == 0 and again["skipped"] == {"already_sent": 3}

    fake_graph.responder = None
    soon = (T + timedelta(hours=1)).isoformat()
    preview = wabot(env, "campaigns", "preview", "second", "--now", soon)
    assert (preview["eligible"], preview["skipped"]) == (2, {"recently_limited": 1})
    start = len(fake_graph.requests)
    wabot(env, "campaigns", "run", "second", "--now", soon, "--yes")
    assert sorted(to for to, _ in sent_templates(fake_graph, start)) == sorted(others)

    # 24 hours after the refusal the limit no longer applies
    day_later = (T + timedelta(hours=24, minutes=1)).isoformat()
    assert wabot(env, "campaigns", "preview", "third", "--now", day_later)["skipped"] == {}
    start = len(fake_graph.requests)
    wabot(env, "campaigns", "run", "third", "--now", day_later, "--yes")
    assert limited in [to for to, _ in sent_templates(fake_graph, start)]


def test_a_rich_template_reaches_meta_in_its_shape(engine, fake_graph, env):
    with engine.begin() as conn:
        [wa_id] = add_tagged_customers(conn, 1, "r", now=T)
    [shown] = wabot(env, "campaigns", "preview", "rich", "--now", T.isoformat())["sample"]
    assert shown["template"] == {"name": "spring_sale", "language": "en_US", "params": ["Ana0", "SAVE10"],
                                 "header": {"type": "image", "value": "https://cdn.example/spring.jpg"},
                                 "coupon_code": "SAVE10", "url_suffix": "spring?code=SAVE10"}
    report = wabot(env, "campaigns", "run", "rich", "--now", T.isoformat(), "--yes")
    assert report["queued"] == 1
    [sent] = [r for r in fake_graph.requests if r.type == "template"]
    assert sent.status == 200 and sent.refusal is None and sent.recipient == wa_id
    assert sent.body["template"]["components"] == [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example/spring.jpg"}}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ana0"}, {"type": "text", "text": "SAVE10"}]},
        {"type": "button", "sub_type": "quick_reply", "index": "0",
         "parameters": [{"type": "payload", "payload": "stop_promos"}]},
        {"type": "button", "sub_type": "copy_code", "index": "1",
         "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}]},
        {"type": "button", "sub_type": "url", "index": "2",
         "parameters": [{"type": "text", "text": "spring?code=SAVE10"}]},
    ]


def test_a_copy_code_filled_longer_than_metas_15_is_refused_at_start(database_url, tmp_path, fake_graph):
    (tmp_path / "wabot.toml").write_text(TOML.replace('discount_code = "SAVE10"', 'discount_code = "SPRING-SALE-2026"'))
    env = make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    result = run_cli(["campaigns", "preview", "rich"], env=env, cwd=ROOT)
    assert result.returncode != 0
    [line] = result.stderr.strip().splitlines()
    assert "[campaigns.rich] template.coupon_code" in line and "15" in line


def test_the_sender_refuses_a_queued_template_that_became_unusable(engine, settings_for, fake_graph):
    # audiences by tag (TagAudience: the segment names the tag), no segment engine needed
    settings = settings_for(graph=fake_graph, toml=TOML + """
[campaigns.tagged]
segment = "l"
template = { name = "first", body = ["{first_name}"] }
""")
    with engine.begin() as conn:
        add_tagged_customers(conn, 2, "l", now=T)
        report = Campaigns(settings, TagAudience()).run(conn, "tagged", T)
    assert report["queued"] == 2
    with engine.begin() as conn:
        [change] = parse_payload(status("DISABLED", "first", T))
        health.record(conn, change, T, T)
    transport = graph.HttpTransport(settings.graph_url, settings.graph_version, settings.phone_number_id,
                                    settings.whatsapp_token or "")
    sender = Sender(engine, transport, rate_limit=100, clock=lambda: T)
    try:
        sender.drain()
    finally:
        sender.close()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(outbox.c.state, outbox.c.error_title)).all()
    assert [tuple(r) for r in rows] == [("cancelled", "template_paused")] * 2
    assert fake_graph.messages() == []


REORDER_TOML = """
[store]
name = "Paws"
timezone = "UTC"

[policy]
consent = "any"
quiet_hours = []

[reorder]
template = { name = "reorder_reminder", body = ["{first_name}", "{product_title}"] }
[reorder.days]
"type:Dog Food" = 28
"""


def test_reorder_prompts_wait_while_their_template_is_paused(engine, database_url, tmp_path, fake_graph):
    from tests.support.seed import add_customer, add_order, add_product

    with engine.begin() as conn:
        add_product(conn, 10, "Dog Food 5kg", [11], product_type="Dog Food")
        bob = add_customer(conn, "15550000002", "Bob", now=T)
        add_order(conn, 200, bob, [(10, 11, "Dog Food 5kg", 1, "30.00")], created_at=T - timedelta(days=28))
        [paused] = parse_payload(status("PAUSED", "reorder_reminder", T))
        health.record(conn, paused, T, T)
    (tmp_path / "wabot.toml").write_text(REORDER_TOML)
    env = make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    report = wabot(env, "reorder", "run", "--now", T.isoformat())
    assert (report["eligible"], report["skipped"]) == (0, {"template_paused": 1})
    assert fake_graph.messages() == []
    with engine.begin() as conn:
        [back] = parse_payload(status("REINSTATED", "reorder_reminder", T + timedelta(minutes=30)))
        health.record(conn, back, T, T)
    again = wabot(env, "reorder", "run", "--now", (T + timedelta(hours=1)).isoformat())
    assert again["eligible"] == 1
    assert [r.body["template"]["name"] for r in fake_graph.messages(to="15550000002")] == ["reorder_reminder"]


def test_an_order_update_is_not_sent_with_a_paused_template(settings_for, engine):
    from tests.integration import test_automations as automations
    from webhook import create_app

    with engine.begin() as conn:
        [paused] = parse_payload(status("PAUSED", "order_confirmed", datetime.now(UTC)))
        health.record(conn, paused, T, T)
    app = create_app(settings_for(toml=automations.TOML, WABOT_SHOPIFY_SECRET=automations.SECRET))
    try:
        automations.deliver(app, "orders/create", automations.order())
        assert automations.messages(engine, "automation:order_confirmed") == []
        [row] = [r for r in automations.ledger(engine) if r.campaign == "automation:order_confirmed"]
        assert (row.status, row.reason) == ("skipped", "template_paused")
    finally:
        app.extensions["wabot"].close()
