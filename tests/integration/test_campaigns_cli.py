"""Campaigns end to end through the real commands (`wabot campaigns ...`, `wabot tick`) and the admin
API, with audiences from the segment engine, a generated store, and the fake Graph API refusing
free-form text outside the window (131047) as Meta does. Every decision is checked against the
independent oracle of tests/support/campaign_store.py."""
from __future__ import annotations

import json
from datetime import timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

from bot.campaigns.tables import campaign_sends
from bot.core.tables import inbound_messages, outbox
from segments.tables import customer_tags
from tests.conftest import ROOT, make_env
from tests.support.campaign_store import (
    INDIA_MORNING,
    NOW,
    POLICY_TOML,
    QUIET,
    generate,
    local_zone,
    oracle,
    quiet_end,
)
from tests.support.cli import run_cli
from tests.support.fake_graph import refuse_outside_window

UTC = timezone.utc
TOML = POLICY_TOML + """
[segments.audience]
rule = 'has_tag("audience")'

[campaigns.spring]
segment = "audience"
text = "Hi {first_name}, spring is here at {store_name}"
template = { name = "spring", language = "en_US", body = ["{first_name}"] }

[campaigns.tested]
rule = 'has_tag("audience")'
test_fraction = 0.4
variants = [{ text = "Variant A", template = { name = "a" } }, { text = "Variant B", template = { name = "b" } }]

[campaigns.welcome]
segment = "audience"
trigger = "enter"
text = "Welcome to the club, {first_name}!"
template = { name = "welcome" }
"""


@pytest.fixture
def world(engine, database_url, tmp_path, fake_graph):
    store = generate(engine, NOW, n=120)
    clock = {"now": NOW}
    fake_graph.responder = refuse_outside_window(store.last_inbound, lambda: clock["now"])
    (tmp_path / "wabot.toml").write_text(TOML)
    env = make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"),
                   WABOT_RATE_LIMIT="500", WABOT_ADMIN_TOKEN="admin-secret")
    return store, clock, env


def wabot(env: dict, *args: str) -> dict:
    result = run_cli([*args, "--json"], env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)




def of_campaign(record, template: str, text: str) -> bool:
    if record.type == "template":
        return record.body["template"]["name"] == template
    return (record.text or "").startswith(text)


def delivered(fake_graph, start: int = 0, template: str = "spring", text: str = "Hi ") -> dict[str, list[str]]:
    """What each customer got from one campaign: free-form or template, in order."""
    forms: dict[str, list[str]] = {}
    for r in fake_graph.requests[start:]:
        if r.status == 200 and r.type and of_campaign(r, template, text):
            forms.setdefault(r.recipient, []).append("template" if r.type == "template" else "freeform")
    return forms


def test_preview_run_rerun_and_quiet_hours_through_tick(engine, world, fake_graph):
    store, clock, env = world
    want = oracle(store, NOW)
    sends = {cid: how for cid, (what, how) in want.items() if what == "send"}
    skipped: dict[str, int] = {}
    for what, how in want.values():
        if what != "send":
            reason = how if what == "skip" else "quiet_hours"
            skipped[reason] = skipped.get(reason, 0) + 1

    preview = wabot(env, "campaigns", "preview", "spring", "--now", NOW.isoformat())
    assert preview["audience"] == len(want) and preview["eligible"] == len(sends)
    assert preview["freeform"] == sum(1 for how in sends.values() if how == "freeform")
    assert preview["template"] == sum(1 for how in sends.values() if how == "template")
    assert preview["skipped"] == skipped
    assert preview["audience"] == preview["eligible"] + sum(preview["skipped"].values())
    assert preview["estimated_cost"]["currency"] == "USD" and fake_graph.requests == []

    ran = wabot(env, "campaigns", "run", "spring", "--now", NOW.isoformat())
    assert ran["queued"] == len(sends) and ran["outbox"] == {"sent": len(sends)}
    got = delivered(fake_graph)
    people = {p.id: p for p in store.people}
    assert got == {people[cid].wa_id: [how] for cid, how in sends.items()}
    assert not [r for r in fake_graph.requests if r.status != 200]  # no free-form outside a window

    start = len(fake_graph.requests)
    again = wabot(env, "campaigns", "run", "spring", "--now", NOW.isoformat())
    assert again["eligible"] == 0 and len(fake_graph.requests) == start

    # Quiet-hour sends go out at 08:00 local time (India here), through the scheduler's tick.
    deferred = {cid for cid, (what, _) in want.items() if what == "defer"}
    assert deferred and {people[c].country for c in deferred} == {"IN"}
    for cid in deferred:
        assert quiet_end(NOW, local_zone(people[cid].wa_id, "America/New_York"), *QUIET) == INDIA_MORNING
    clock["now"] = INDIA_MORNING - timedelta(minutes=1)
    run_cli(["tick", "--now", clock["now"].isoformat()], env=env, cwd=ROOT, check=True)
    assert not {r.recipient for r in fake_graph.requests[start:] if r.type} & {people[c].wa_id for c in deferred}
    clock["now"] = INDIA_MORNING
    run_cli(["tick", "--now", INDIA_MORNING.isoformat()], env=env, cwd=ROOT, check=True)
    got = delivered(fake_graph, start)
    for cid in deferred:
        person = people[cid]
        is_open = person.last_inbound_at is not None and INDIA_MORNING - person.last_inbound_at < timedelta(hours=24)
        assert got.get(person.wa_id) == ["freeform" if is_open else "template"], person


def test_test_group_then_promotion_cover_the_audience_once(engine, world, fake_graph):
    store, clock, env = world
    test = wabot(env, "campaigns", "run", "tested", "--now", NOW.isoformat())
    assert test["group"] == "test" and test["held_back"] > 0
    with engine.begin() as conn:
        rows = conn.execute(sa.select(campaign_sends.c.customer_id, campaign_sends.c.variant, outbox.c.sent_at)
                            .join(outbox, outbox.c.id == campaign_sends.c.outbox_id)
                            .where(outbox.c.sent_at.is_not(None))).all()
        for i, r in enumerate(rows):
            if r.variant == 0 or i % 3 == 0:  # variant A draws more replies
                conn.execute(sa.insert(inbound_messages).values(
                    wa_message_id=f"wamid.reply.{i}", customer_id=r.customer_id, type="text", text="yes",
                    sent_at=r.sent_at + timedelta(minutes=30), received_at=r.sent_at + timedelta(minutes=30)))
    clock["now"] = NOW + timedelta(hours=1)
    promoted = wabot(env, "campaigns", "promote", "tested", "--now", clock["now"].isoformat())
    assert promoted["winner"]["variant"] == 0 and promoted["winner"]["test"]["against"] == 1
    assert promoted["rest"]["group"] == "rest"

    with engine.connect() as conn:
        ledger = conn.execute(sa.select(campaign_sends.c.customer_id, campaign_sends.c.send_group,
                                        campaign_sends.c.variant)
                              .where(campaign_sends.c.campaign == "tested")).all()
    test_ids = {r.customer_id for r in ledger if r.send_group == "test"}
    rest_ids = {r.customer_id for r in ledger if r.send_group == "rest"}
    assert not test_ids & rest_ids
    reachable = {cid for cid, (what, _) in oracle(store, NOW).items() if what in ("send", "defer")}
    assert test_ids | rest_ids == reachable
    assert {r.variant for r in ledger if r.send_group == "rest"} == {0}
    per_customer: dict[str, int] = {}
    for r in fake_graph.requests:
        if r.status == 200 and r.type and (r.type == "template" or (r.text or "").startswith("Variant")):
            per_customer[r.recipient] = per_customer.get(r.recipient, 0) + 1
    assert set(per_customer.values()) == {1}

    stats = wabot(env, "campaigns", "stats", "tested")
    groups = {(g["group"], g["variant"]): g for g in stats["groups"]}
    assert groups[("test", 0)]["rates"]["replied"] > groups[("test", 1)]["rates"]["replied"]
    assert groups[("rest", 0)]["sent"] == len([c for c in rest_ids if c not in
                                               {cid for cid, (w, _) in oracle(store, NOW).items() if w == "defer"}])
    assert stats["promotion"]["winner"]["variant"] == 0


def test_entry_trigger_sends_to_who_enters_the_segment(engine, world, fake_graph):
    store, clock, env = world
    run_cli(["tick", "--now", NOW.isoformat()], env=env, cwd=ROOT, check=True)
    welcomed = set(delivered(fake_graph, template="welcome", text="Welcome"))
    want = {p.wa_id for p in store.people if oracle(store, NOW).get(p.id, ("",))[0] == "send"}
    assert welcomed == want

    newcomer = next(p for p in store.people if not p.in_audience and p.wa_id and not p.opted_out
                    and not p.marketing_paused and (p.accepts_marketing or p.consent_at)
                    and p.state not in ("pending", "agent") and p.marketing_7d < 2 and p.country != "IN")
    with engine.begin() as conn:
        conn.execute(sa.insert(customer_tags).values(customer_id=newcomer.id, tag="audience"))
    later = NOW + timedelta(minutes=20)
    clock["now"] = later
    start = len(fake_graph.requests)
    run_cli(["tick", "--now", later.isoformat()], env=env, cwd=ROOT, check=True)
    assert list(delivered(fake_graph, start, template="welcome", text="Welcome")) == [newcomer.wa_id]


def test_admin_api_answers_as_the_cli(engine, world, start_server, fake_graph):
    store, clock, env = world
    cli = wabot(env, "campaigns", "preview", "spring", "--now", NOW.isoformat())
    server = start_server(fake_graph, toml=TOML, WABOT_ADMIN_TOKEN="admin-secret")
    url = f"{server.url}/api/campaigns/spring/preview"
    assert requests.get(url, params={"now": NOW.isoformat()}, timeout=30).status_code == 401
    assert requests.get(url, params={"now": NOW.isoformat()}, timeout=30,
                        headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": "Bearer admin-secret"}
    answer = requests.get(url, params={"now": NOW.isoformat()}, headers=auth, timeout=60)
    assert answer.status_code == 200 and answer.json() == cli
    stats = requests.get(f"{server.url}/api/campaigns/spring/stats", headers=auth, timeout=30)
    assert stats.status_code == 200 and stats.json()["campaign"] == "spring"
    missing = requests.get(f"{server.url}/api/campaigns/nope/stats", headers=auth, timeout=30)
    assert missing.status_code == 404 and "no campaign named 'nope'" in missing.json()["error"]


def test_bad_input_is_one_line(engine, world):
    store, clock, env = world
    for args, message in [
        (["campaigns", "run", "nope"], "wabot: error: no campaign named 'nope'"),
        (["campaigns", "preview", "spring", "--now", "tomorrow"], "wabot: error: --now: 'tomorrow'"),
        (["campaigns", "promote", "spring"], "wabot: error: campaign 'spring' has no test group"),
    ]:
        result = run_cli(args, env=env, cwd=ROOT)
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith(message), result.stderr
