"""The messaging tier (`[policy] daily_unique_limit`): unique customers who got a business-initiated
template in the last 24 hours. A small limit, the last day's sends seeded by hand, then a real
campaign run (`wabot campaigns run`) and `wabot tick` at the times the deferrals are due: exactly
who is sent now, who waits, and when each one goes.

The expectation is worked out here from the rule, not from the product's code:

- already counted (the 24 h before T): P1 (two templates, T-23h and T-21h: one customer, freed at
  T+3h), P2 (T-22h: freed at T+2h), P6 (an agent's template, T-10h: freed at T+14h);
- not counted: P3 (free-form text), P4 (a template 24 h and a minute ago), P5 (a template that failed);
- limit 4, so one slot is free at T.
The audience, in customer order: A B C D E (windows closed: templates) and F (window open: free
text, which the tier does not count). A takes the free slot; B, C, D wait for the slots P2, P1 and
P6 free; E waits for A's, 24 h after T.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.campaigns.tables import campaign_sends
from bot.core.tables import customers, outbox
from segments.tables import customer_tags
from tests.conftest import ROOT, make_env
from tests.support.cli import run_cli

UTC = timezone.utc
T = datetime(2026, 7, 14, 15, 0, tzinfo=UTC)
H = timedelta(hours=1)
TOML = """
[store]
name = "Acme"
timezone = "America/Chicago"

[policy]
consent = "any"
max_marketing_per_7d = 5
quiet_hours = []
daily_unique_limit = 4

[segments.tiered]
rule = 'has_tag("tiered")'

[campaigns.summer]
segment = "tiered"
category = "marketing"
text = "Hi {first_name}, summer sale"
template = { name = "summer", language = "en_US", body = ["{first_name}"] }
dedupe_days = 30
"""

PEOPLE = {  # name: (wa_id, last inbound message, in the audience)
    "P1": ("12125550101", None, False), "P2": ("5511987650102", None, False), "P3": ("4915112340103", None, False),
    "P4": ("12125550104", None, False), "P5": ("12125550105", None, False), "P6": ("919876540106", None, False),
    "A": ("12125550201", None, True), "B": ("5511987650202", None, True), "C": ("4915112340203", T - 72 * H, True),
    "D": ("447911120204", None, True), "E": ("12125550205", T - 30 * H, True), "F": ("12125550206", T - 2 * H, True),
}
TEMPLATE = {"type": "template", "template": {"name": "earlier", "language": {"code": "en_US"}}}
TEXT = {"type": "text", "text": {"body": "earlier"}}
SEEDED = [  # who, kind, payload, state, sent at
    ("P1", "campaign", TEMPLATE, "delivered", T - 23 * H),
    ("P1", "reorder", TEMPLATE, "read", T - 21 * H),
    ("P2", "campaign", TEMPLATE, "sent", T - 22 * H),
    ("P3", "campaign", TEXT, "delivered", T - 1 * H),
    ("P4", "campaign", TEMPLATE, "delivered", T - 24 * H - timedelta(minutes=1)),
    ("P5", "campaign", TEMPLATE, "failed", T - 1 * H),
    ("P6", "agent", TEMPLATE, "delivered", T - 10 * H),
]


@pytest.fixture
def world(engine, database_url, tmp_path, fake_graph):
    ids = {}
    with engine.begin() as conn:
        for name, (wa_id, last_inbound, in_audience) in PEOPLE.items():
            ids[name] = conn.execute(sa.insert(customers).values(
                wa_id=wa_id, first_name=f"Name{name}", last_inbound_at=last_inbound, first_inbound_at=last_inbound,
                created_at=T - 90 * 24 * H, updated_at=T - 24 * H).returning(customers.c.id)).scalar_one()
            if in_audience:
                conn.execute(sa.insert(customer_tags).values(customer_id=ids[name], tag="tiered"))
        for k, (name, kind, payload, state, sent_at) in enumerate(SEEDED):
            conn.execute(sa.insert(outbox).values(
                customer_id=ids[name], recipient=PEOPLE[name][0], kind=kind, category="marketing", payload=payload,
                state=state, attempts=1, not_before=sent_at, created_at=sent_at, dedupe_key=f"seeded:{k}",
                sent_at=sent_at if state != "failed" else None, failed_at=sent_at if state == "failed" else None))
    (tmp_path / "wabot.toml").write_text(TOML)
    env = make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    return ids, env


def wabot(env: dict, *args: str) -> dict | None:
    result = run_cli(list(args), env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if "--json" in args else None


def sent_to(fake_graph, start: int = 0) -> dict[str, str]:
    """Recipient name -> the form of the summer campaign message they got."""
    names = {wa_id: name for name, (wa_id, _, _) in PEOPLE.items()}
    got = {}
    for r in fake_graph.requests[start:]:
        if r.status == 200 and r.type:
            assert names[r.recipient] not in got, f"{names[r.recipient]} got two messages"
            got[names[r.recipient]] = r.type
    return got


def ledger(engine, ids) -> dict[str, tuple[str, str | None, datetime | None]]:
    by_id = {v: k for k, v in ids.items()}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(campaign_sends.c.customer_id, campaign_sends.c.status,
                                      campaign_sends.c.reason, campaign_sends.c.due_at)).all()
    return {by_id[r.customer_id]: (r.status, r.reason, r.due_at) for r in rows}


def test_a_small_tier_sends_what_fits_and_each_deferral_goes_when_its_slot_frees(engine, world, fake_graph):
    ids, env = world
    preview = wabot(env, "campaigns", "preview", "summer", "--now", T.isoformat(), "--json")
    assert (preview["audience"], preview["freeform"], preview["template"]) == (6, 1, 1)
    assert preview["skipped"] == {"tier_limit": 4}

    ran = wabot(env, "campaigns", "run", "summer", "--now", T.isoformat(), "--json")
    assert (ran["queued"], ran["deferred"]) == (2, 4)
    assert sent_to(fake_graph) == {"A": "template", "F": "text"}
    assert ledger(engine, ids) == {
        "A": ("queued", None, None), "F": ("queued", None, None),
        "B": ("deferred", "tier_limit", T + 2 * H),    # P2's slot
        "C": ("deferred", "tier_limit", T + 3 * H),    # P1's, from their later template
        "D": ("deferred", "tier_limit", T + 14 * H),   # P6's
        "E": ("deferred", "tier_limit", T + 24 * H),   # A's, taken in this run
    }

    # `wabot tick` at each due time sends exactly the customer whose slot has freed.
    steps = [(T + 2 * H - timedelta(minutes=1), {}), (T + 2 * H, {"B": "template"}),
             (T + 3 * H - timedelta(minutes=1), {}), (T + 3 * H, {"C": "template"}),
             (T + 14 * H, {"D": "template"}), (T + 24 * H - timedelta(minutes=1), {}),
             (T + 24 * H, {"E": "template"})]
    for at, expected in steps:
        start = len(fake_graph.requests)
        wabot(env, "tick", "--now", at.isoformat())
        assert sent_to(fake_graph, start) == expected, at
    assert {name: status for name, (status, _, _) in ledger(engine, ids).items()} == dict.fromkeys("ABCDEF", "queued")


def test_a_template_to_someone_already_counted_takes_no_new_slot(engine, world, fake_graph):
    """P2 got a template 22 h ago: another one now does not count twice, and A still gets the
    one free slot (P2 comes before A: customer order)."""
    ids, env = world
    with engine.begin() as conn:
        conn.execute(sa.insert(customer_tags).values(customer_id=ids["P2"], tag="tiered"))
    ran = wabot(env, "campaigns", "run", "summer", "--now", T.isoformat(), "--json")
    assert (ran["queued"], ran["deferred"]) == (3, 4)
    assert sent_to(fake_graph) == {"P2": "template", "A": "template", "F": "text"}


def test_the_day_after_the_whole_tier_is_free_again(engine, world, fake_graph):
    """24 hours after T nothing seeded counts any more, and F's window has closed too: four
    templates go (A-D), E and F wait a day."""
    ids, env = world
    later = T + 24 * H
    ran = wabot(env, "campaigns", "run", "summer", "--now", later.isoformat(), "--json")
    assert (ran["queued"], ran["deferred"]) == (4, 2)
    assert sent_to(fake_graph) == {"A": "template", "B": "template", "C": "template", "D": "template"}
    assert ledger(engine, ids)["E"] == ledger(engine, ids)["F"] == ("deferred", "tier_limit", later + 24 * H)
