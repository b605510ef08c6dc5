"""The dated rate card through the real commands: `wabot campaigns preview --now T --json` on both
sides of a change configured in wabot.toml and of Meta's 1 October 2026 rules, and `wabot campaigns
stats --json` of messages sent (through the outbox, to the fake Graph API) before and after a change,
each priced by the rate in effect when it was sent."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.core.tables import customers, inbound_messages
from segments.tables import customer_tags
from tests.conftest import ROOT, make_env
from tests.support.cli import run_cli
from tests.support.seed import add_customer, flash_campaign_toml

UTC = timezone.utc
CHANGE = datetime(2026, 12, 10, tzinfo=UTC)
METAS_CHANGE = datetime(2026, 10, 1, tzinfo=UTC)  # service and in-window utility charged from then
# The configured card (the numbers the expectations below are computed from).
BR_BEFORE, BR_AFTER = {"marketing": 0.05, "utility": 0.01}, {"marketing": 0.08, "utility": 0.02, "service": 0.004}
OTHER_BEFORE, OTHER_AFTER = {"marketing": 0.03, "utility": 0.005}, {"marketing": 0.04, "utility": 0.006}
RATES = f"""
[[rates.markets.BR]]
marketing = {BR_BEFORE["marketing"]}
utility = {BR_BEFORE["utility"]}

[[rates.markets.BR]]
effective = 2026-12-10
marketing = {BR_AFTER["marketing"]}
utility = {BR_AFTER["utility"]}
service = {BR_AFTER["service"]}

[[rates.default]]
effective = 2026-01-01
marketing = {OTHER_BEFORE["marketing"]}
utility = {OTHER_BEFORE["utility"]}

[[rates.default]]
effective = 2026-12-10
marketing = {OTHER_AFTER["marketing"]}
utility = {OTHER_AFTER["utility"]}
"""
NOTICE = """
[campaigns.notice]
rule = 'has_tag("flash")'
category = "utility"
template = { name = "order_notice", language = "en_US", body = ["{first_name}"] }
"""


@pytest.fixture
def env(database_url, tmp_path, fake_graph):
    (tmp_path / "wabot.toml").write_text(flash_campaign_toml() + NOTICE + RATES)
    return make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"),
                    WABOT_RATE_LIMIT="500")


def wabot(env: dict, *args: str) -> dict:
    result = run_cli([*args, "--json"], env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def seed(engine, at: datetime, *, brazil: int = 0, other: int = 0, in_window: int = 0, ad_entry: int = 0,
         start: int = 0) -> None:
    """Customers tagged "flash" as seen at `at`: Brazilians with their window closed, customers of a
    market the card does not list, Brazilians who wrote an hour before (a free-form reply goes), and
    Brazilians who came from a click-to-WhatsApp ad five hours before (free entry point)."""
    kinds = [("BR", None, None)] * brazil + [(None, None, None)] * other \
        + [("BR", at - timedelta(hours=1), None)] * in_window + [("BR", None, at - timedelta(hours=5))] * ad_entry
    with engine.begin() as conn:
        for i, (country, wrote, referral) in enumerate(kinds, start=start):
            wa_id = (f"5511987{i:05d}" if country else f"8525551{i:04d}")
            customer_id = add_customer(conn, wa_id, f"Ana{i}", last_inbound_at=wrote, now=at - timedelta(days=30))
            conn.execute(sa.update(customers).where(customers.c.id == customer_id)
                         .values(phone_country=country, last_referral_at=referral))
            if wrote is not None:
                conn.execute(sa.insert(inbound_messages).values(
                    wa_message_id=f"wamid.in{i}", customer_id=customer_id, type="text", text="hi",
                    sent_at=wrote, received_at=wrote))
            conn.execute(sa.insert(customer_tags).values(customer_id=customer_id, tag="flash"))


def test_a_configured_change_prices_a_preview_on_each_side_of_its_date(engine, env, fake_graph):
    seed(engine, CHANGE, brazil=3, other=2, in_window=1, ad_entry=1)
    before = wabot(env, "campaigns", "preview", "flash", "--now", (CHANGE - timedelta(seconds=1)).isoformat())
    after = wabot(env, "campaigns", "preview", "flash", "--now", CHANGE.isoformat())
    for preview in (before, after):
        assert (preview["eligible"], preview["freeform"], preview["template"]) == (7, 1, 6)
    cost_before, cost_after = before["estimated_cost"], after["estimated_cost"]
    # The free-form reply is a service message: charged since October (at BR's utility rate, then its own rate).
    want_before = {"BR": 3 * BR_BEFORE["marketing"] + BR_BEFORE["utility"], "HK": 2 * OTHER_BEFORE["marketing"]}
    want_after = {"BR": 3 * BR_AFTER["marketing"] + BR_AFTER["service"], "HK": 2 * OTHER_AFTER["marketing"]}
    assert cost_before["by_country"] == {k: round(v, 4) for k, v in want_before.items()}
    assert cost_after["by_country"] == {k: round(v, 4) for k, v in want_after.items()}
    assert cost_before["total"] == round(sum(want_before.values()), 4)
    assert cost_after["total"] == round(sum(want_after.values()), 4)
    for cost in (cost_before, cost_after):
        assert (cost["charged"], cost["free"]) == (6, 1) and cost["currency"] == "USD"
        assert cost["free_by_reason"] == {"in_window_utility": 0, "free_entry_point": 1, "service": 0,
                                          "zero_rate": 0}
        assert set(cost) >= {"currency", "total", "charged", "free", "by_category", "by_country"}
    assert cost_before["rates_effective"]["HK"] == ["2026-01-01"]
    assert cost_after["rates_effective"] == {"BR": ["2026-12-10"], "HK": ["2026-12-10"]}
    assert fake_graph.requests == []  # a preview sends nothing


def test_meta_october_rules_price_in_window_utility_and_service_on_each_side(engine, env):
    seed(engine, METAS_CHANGE, brazil=2, in_window=2, ad_entry=1)
    just_before = (METAS_CHANGE - timedelta(seconds=1)).isoformat()
    notice_before = wabot(env, "campaigns", "preview", "notice", "--now", just_before)["estimated_cost"]
    notice_after = wabot(env, "campaigns", "preview", "notice", "--now", METAS_CHANGE.isoformat())["estimated_cost"]
    assert notice_before["free_by_reason"] == {"in_window_utility": 2, "free_entry_point": 1, "service": 0,
                                               "zero_rate": 0}
    assert notice_before["total"] == round(2 * BR_BEFORE["utility"], 4)
    assert notice_after["free_by_reason"]["in_window_utility"] == 0
    assert notice_after["total"] == round(4 * BR_BEFORE["utility"], 4)
    assert notice_after["rates_effective"]["BR"] == [None, "2026-10-01"]  # the entry's date, the rule's

    flash_before = wabot(env, "campaigns", "preview", "flash", "--now", just_before)["estimated_cost"]
    flash_after = wabot(env, "campaigns", "preview", "flash", "--now", METAS_CHANGE.isoformat())["estimated_cost"]
    assert flash_before["free_by_reason"]["service"] == 2
    assert flash_before["total"] == round(2 * BR_BEFORE["marketing"], 4)
    assert flash_after["free_by_reason"]["service"] == 0
    assert flash_after["total"] == round(2 * BR_BEFORE["marketing"] + 2 * BR_BEFORE["utility"], 4)


def test_stats_price_each_message_by_the_rates_in_effect_when_it_was_sent(engine, env, fake_graph):
    early, late = CHANGE - timedelta(hours=1), CHANGE + timedelta(hours=1)
    seed(engine, early, brazil=2, other=1, in_window=1)
    first = wabot(env, "campaigns", "run", "flash", "--now", early.isoformat())
    assert first["queued"] == 4
    seed(engine, late, brazil=2, other=1, in_window=1, ad_entry=1, start=100)  # new members, reached later
    second = wabot(env, "campaigns", "run", "flash", "--now", late.isoformat())
    assert second["queued"] == 5
    assert len([r for r in fake_graph.requests if r.status == 200]) == 9

    stats = wabot(env, "campaigns", "stats", "flash")
    cost = stats["total"]["estimated_cost"]
    want = {"BR": 2 * BR_BEFORE["marketing"] + BR_BEFORE["utility"] + 2 * BR_AFTER["marketing"] + BR_AFTER["service"],
            "HK": OTHER_BEFORE["marketing"] + OTHER_AFTER["marketing"]}
    assert cost["by_country"] == {k: round(v, 4) for k, v in want.items()}
    assert cost["total"] == round(sum(want.values()), 4)
    assert (cost["charged"], cost["free"], cost["free_by_reason"]["free_entry_point"]) == (8, 1, 1)
    # templates: BR's undated entry, then its 2026-12-10 one; the early service reply: Meta's 2026-10-01 rule
    assert cost["rates_effective"]["BR"] == [None, "2026-10-01", "2026-12-10"]
    assert stats["groups"][0]["estimated_cost"] == cost  # one group (all), one variant
    text = run_cli(["campaigns", "stats", "flash"], env=env, cwd=ROOT)
    assert text.returncode == 0, text.stderr
    assert f"estimated cost of what was sent: {cost['total']:.4f} USD for 8 charged message(s), 1 free" in text.stdout
    assert "free: free entry point 1" in text.stdout and "rates in effect since: 2026-01-01, 2026-10-01, 2026-12-10, always" \
        in text.stdout


def test_stats_see_the_window_each_utility_message_went_in(engine, env):
    """A utility template inside the window was free before 1 October 2026 and charged after: the
    window is read from the inbound messages before each send, not from the customer's latest."""
    early, late = METAS_CHANGE - timedelta(hours=2), METAS_CHANGE + timedelta(hours=2)
    seed(engine, early, brazil=1, in_window=1)
    assert wabot(env, "campaigns", "run", "notice", "--now", early.isoformat())["queued"] == 2
    seed(engine, late, in_window=1, start=100)
    assert wabot(env, "campaigns", "run", "notice", "--now", late.isoformat())["queued"] == 1
    cost = wabot(env, "campaigns", "stats", "notice")["total"]["estimated_cost"]
    assert cost["free_by_reason"]["in_window_utility"] == 1
    assert (cost["charged"], cost["total"]) == (2, round(2 * BR_BEFORE["utility"], 4))
