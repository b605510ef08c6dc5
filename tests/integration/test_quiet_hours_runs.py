"""Quiet hours through a real campaign run and `wabot tick` on the nights the clocks change: the
ledger's due time and the moment the message actually goes, written in UTC by hand (EST UTC-5,
EDT UTC-4, CET UTC+1, CEST UTC+2). The planner's own cases are in tests/unit/test_quiet_hours_dst.py."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.campaigns.tables import campaign_sends
from bot.core.tables import customers
from segments.tables import customer_tags
from tests.conftest import ROOT, make_env
from tests.support.cli import run_cli

UTC = timezone.utc
NEW_YORK, BERLIN = "12125550123", "4915112340123"
TOML = """
[store]
name = "Acme"
timezone = "Asia/Tokyo"

[policy]
consent = "any"
quiet_hours = ["21:00", "09:00"]
daily_unique_limit = 1000

[segments.night]
rule = 'has_tag("night")'

[campaigns.night]
segment = "night"
template = { name = "night", language = "en_US" }
"""


@pytest.fixture
def env(engine, database_url, tmp_path, fake_graph):
    with engine.begin() as conn:
        for wa_id in (NEW_YORK, BERLIN):
            customer_id = conn.execute(sa.insert(customers).values(
                wa_id=wa_id, created_at=datetime(2026, 1, 1, tzinfo=UTC), updated_at=datetime(2026, 1, 1, tzinfo=UTC),
            ).returning(customers.c.id)).scalar_one()
            conn.execute(sa.insert(customer_tags).values(customer_id=customer_id, tag="night"))
    (tmp_path / "wabot.toml").write_text(TOML)
    return make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))


def wabot(env, *args: str) -> None:
    result = run_cli(list(args), env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def due(engine) -> dict[str, datetime | None]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(customers.c.wa_id, campaign_sends.c.status, campaign_sends.c.due_at)
                            .join(customers, customers.c.id == campaign_sends.c.customer_id)).all()
    return {r.wa_id: r.due_at if r.status == "deferred" else r.status for r in rows}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("run_at, waits, goes", [
    # 21:00 EST on 7 March in New York (03:00 CET in Berlin): New York waits for 09:00 EDT, 13:00 UTC;
    # Berlin for 09:00 CET, 08:00 UTC.
    ("2026-03-08T02:00", {NEW_YORK: "2026-03-08T13:00", BERLIN: "2026-03-08T08:00"}, None),
    # 21:00 CEST on 24 October in Berlin (15:00 EDT in New York: it goes at once); Berlin waits
    # for 09:00 CET, 08:00 UTC.
    ("2026-10-24T19:00", {BERLIN: "2026-10-25T08:00"}, NEW_YORK),
    # 21:00 EDT on 31 October in New York (02:00 CET in Berlin): 09:00 EST is 14:00 UTC, and
    # Berlin's 09:00 CET is 08:00 UTC.
    ("2026-11-01T01:00", {NEW_YORK: "2026-11-01T14:00", BERLIN: "2026-11-01T08:00"}, None),
])
def test_deferred_to_the_end_of_quiet_hours_across_the_change_and_sent_then(engine, env, fake_graph, run_at, waits,
                                                                          goes):
    wabot(env, "campaigns", "run", "night", "--now", utc(run_at).isoformat(), "--json")
    assert due(engine) == {**{w: utc(at) for w, at in waits.items()}, **({goes: "queued"} if goes else {})}
    assert [r.recipient for r in fake_graph.messages()] == ([goes] if goes else [])
    for wa_id, at in sorted(waits.items(), key=lambda kv: kv[1]):
        before = len(fake_graph.messages())
        wabot(env, "tick", "--now", (utc(at) - timedelta(minutes=1)).isoformat())
        assert len(fake_graph.messages()) == before, f"{wa_id} went before {at}"
        wabot(env, "tick", "--now", utc(at).isoformat())
        assert [r.recipient for r in fake_graph.messages()[before:]] == [wa_id]
    assert set(due(engine).values()) == {"queued"}
    assert json.dumps(sorted(r.recipient for r in fake_graph.messages())) == json.dumps(sorted([NEW_YORK, BERLIN]))
