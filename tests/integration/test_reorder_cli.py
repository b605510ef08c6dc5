"""`wabot reorder run --now T` end to end: the real command, a seeded store, the fake Graph API."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.core.tables import conversations, customers
from segments.tables import product_tags
from tests.conftest import ROOT, make_env
from tests.support.cli import run_cli
from tests.support.fake_graph import refuse_outside_window
from tests.support.seed import add_customer, add_order, add_product

UTC = timezone.utc
NOW = datetime(2026, 5, 12, 15, 0, tzinfo=UTC)
TOML = """
[store]
name = "Paws"
timezone = "UTC"

[policy]
consent = "any"
quiet_hours = []

[reorder]
max_overdue_days = 14
text = "Hi {first_name}, running low on {product_title}? Tap Reorder to get it again."
template = { name = "reorder_reminder", body = ["{first_name}", "{product_title}"], quick_replies = ["reorder:confirm:{order_id}"] }

[reorder.days]
"type:Dog Food" = 28
"tag:cats" = 20
"""


def day(n: float) -> datetime:
    return NOW + timedelta(days=n)


@pytest.fixture
def shop(engine):
    food = (10, 11, "Dog Food 5kg", 1, "30.00")
    people = {}
    with engine.begin() as conn:
        add_product(conn, 10, "Dog Food 5kg", [11], product_type="Dog Food")
        add_product(conn, 20, "Leash", [21], product_type="Accessories")
        add_product(conn, 30, "Cat Litter", [31], product_type="Litter")
        conn.execute(sa.insert(product_tags).values(product_id=30, tag="cats"))  # matched by "tag:cats"

        def person(key: str, wa_id: str, orders: list[float], last_inbound: datetime | None = None, **facts) -> None:
            cid = add_customer(conn, wa_id, key.title(), last_inbound_at=last_inbound, now=NOW)
            if facts:
                conn.execute(sa.update(customers).where(customers.c.id == cid).values(**facts))
            for n, at in enumerate(orders):
                add_order(conn, cid * 100 + n, cid, [food], created_at=day(at))
            people[key] = (cid, wa_id, cid * 100 + len(orders) - 1)

        # every 20 days: due now by her own rhythm (by the product's 28 days, only in 8 days)
        person("ana", "15550000001", [-40, -20], last_inbound=NOW - timedelta(hours=3))
        person("bob", "15550000002", [-28])  # product days, window closed: the template
        person("cy", "15550000003", [-10])  # not due yet
        person("dee", "15550000004", [-28], opted_out=True)
        person("eve", "15550000005", [-28])
        person("fay", "15550000006", [-50])  # 22 days overdue: too late
        conn.execute(sa.insert(conversations).values(customer_id=people["eve"][0], state="agent",
                                                     state_changed_at=NOW))
        cid = add_customer(conn, "15550000007", "Gus", now=NOW)  # bought a leash only
        add_order(conn, 9900, cid, [(20, 21, "Leash", 1, "12.00")], created_at=day(-40))
        hal = add_customer(conn, "15550000008", "Hal", now=NOW)  # cat litter every 20 days, by its tag
        add_order(conn, 9901, hal, [(30, 31, "Cat Litter", 1, "9.00")], created_at=day(-20))
        people["hal"] = (hal, "15550000008", 9901)
    return people


def wabot(args: list[str], env: dict) -> dict:
    result = run_cli(args, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_reorder_run_sends_each_due_prompt_once(engine, database_url, tmp_path, fake_graph, shop):
    (tmp_path / "wabot.toml").write_text(TOML)
    env = make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    last_inbound = {"15550000001": NOW - timedelta(hours=3)}
    fake_graph.responder = refuse_outside_window(last_inbound.get, lambda: NOW)

    report = wabot(["reorder", "run", "--now", NOW.isoformat(), "--json"], env)
    assert (report["prompts"], report["eligible"], report["freeform"], report["template"]) == (5, 3, 1, 2)
    assert report["skipped"] == {"opted_out": 1, "in_handoff": 1}
    assert report["outbox"] == {"sent": 3}
    ana_id, ana, ana_order = shop["ana"]
    _, bob, bob_order = shop["bob"]
    [to_ana] = fake_graph.messages(to=ana)
    assert to_ana.type == "interactive"
    assert to_ana.body["interactive"]["action"]["buttons"][0]["reply"] == {"id": f"reorder:confirm:{ana_order}",
                                                                          "title": "Reorder"}
    assert to_ana.text == "Hi Ana, running low on Dog Food 5kg? Tap Reorder to get it again."
    [to_bob] = fake_graph.messages(to=bob)
    template = to_bob.body["template"]
    assert template["name"] == "reorder_reminder"
    assert template["components"][0] == {"type": "body", "parameters": [{"type": "text", "text": "Bob"},
                                                                        {"type": "text", "text": "Dog Food 5kg"}]}
    assert template["components"][1] == {"type": "button", "sub_type": "quick_reply", "index": "0",
                                         "parameters": [{"type": "payload", "payload": f"reorder:confirm:{bob_order}"}]}
    [to_hal] = fake_graph.messages(to=shop["hal"][1])
    assert to_hal.body["template"]["components"][0]["parameters"][1] == {"type": "text", "text": "Cat Litter"}
    assert len(fake_graph.messages()) == 3

    again = wabot(["reorder", "run", "--now", (NOW + timedelta(hours=2)).isoformat(), "--json"], env)
    assert again["eligible"] == 0
    tomorrow = wabot(["reorder", "run", "--now", (NOW + timedelta(days=1)).isoformat(), "--json"], env)
    assert tomorrow["eligible"] == 0 and len(fake_graph.messages()) == 3  # once per purchase cycle


def test_reorder_run_dry_run_and_errors(engine, database_url, tmp_path, fake_graph, shop):
    (tmp_path / "wabot.toml").write_text(TOML)
    env = make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    dry = wabot(["reorder", "run", "--now", NOW.isoformat(), "--dry-run", "--json"], env)
    assert dry["prompts"] == 5 and "run_id" not in dry and fake_graph.messages() == []
    bad = run_cli(["reorder", "run", "--now", "yesterday"], env=env, cwd=ROOT)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "wabot: error: --now: 'yesterday' is not an ISO 8601 time, such as 2026-06-01T12:00:00Z"]
    (tmp_path / "wabot.toml").write_text("[store]\nname = 'x'\n")
    off = run_cli(["reorder", "run"], env=env, cwd=ROOT)
    assert off.returncode == 2 and off.stderr.strip().startswith("wabot: error: reorder prompts are off")
