"""`wabot campaigns list` and `wabot campaigns run` on a terminal (CONTRACT section 12), through the
real commands: the list names every campaign and the reorder prompts with their audience, schedule,
test, languages, buttons, last run and next time; a run that costs money asks first on a terminal
(not with --yes, not without a terminal) and shows its progress on stderr, its JSON unchanged."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.campaigns.tables import campaign_runs
from bot.cli import campaigns as cli_campaigns
from bot.core.tables import customers
from segments.tables import customer_tags
from tests.conftest import ROOT, make_env
from tests.support.cli import run_cli
from tests.support.seed import add_customer

UTC = timezone.utc
NOW = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)  # a Thursday, 11:00 in New York
TOML = """
[store]
name = "Acme"
timezone = "America/New_York"
languages = ["en", "es", "pt"]
shop_domain = "acme.myshopify.com"

[policy]
consent = "any"
quiet_hours = []

[segments.audience]
rule = 'has_tag("audience")'

[segments.open]
rule = 'has_tag("open")'

[campaigns.spring]
segment = "audience"
schedule = "0 10 * * 1-5"
text = "Hi {first_name}, spring is here"
texts = { es = "¡Hola, {first_name}!" }
template = { name = "spring", language = "en_US", languages = ["es_MX"], body = ["{first_name}"] }
buttons = [{ title = "Shop covers", intent = "recommend" }, "Reorder", "Not now"]

[campaigns.welcome]
segment = "audience"
trigger = "enter"
category = "utility"
template = { name = "welcome" }

[campaigns.tested]
rule = 'has_tag("audience")'
test_fraction = 0.5
variants = [{ text = "A", template = { name = "a" } }, { text = "B", template = { name = "b" } }]

[campaigns.free]
segment = "open"
text = "Free inside the window, {first_name}"

[reorder]
default_days = 30
text = "Hi {first_name}, running low on {product_title}?"
texts = { pt = "Oi, {first_name}, acabando o {product_title}?" }
template = { name = "reorder_reminder", language = "en_US", body = ["{first_name}", "{product_title}"] }
"""


@pytest.fixture
def env(engine, database_url, tmp_path, fake_graph):
    with engine.begin() as conn:
        for i in range(6):  # every other one's window closed: those get the (charged) template
            inbound = NOW - (timedelta(days=2) if i % 2 else timedelta(hours=1))
            cid = add_customer(conn, f"1212555{i:04d}", f"Ana{i}", last_inbound_at=inbound, now=NOW)
            conn.execute(sa.insert(customer_tags).values(customer_id=cid, tag="audience"))
            if not i % 2:
                conn.execute(sa.insert(customer_tags).values(customer_id=cid, tag="open"))
                # They came from a click-to-WhatsApp ad: what they get is free (the free entry point),
                # as free-form service messages no longer are since 2026-10-01 (docs/pricing.md).
                conn.execute(sa.update(customers).where(customers.c.id == cid).values(last_referral_at=inbound))
    (tmp_path / "wabot.toml").write_text(TOML)
    return make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))


@pytest.fixture
def terminal(monkeypatch):
    """Someone at a terminal: stdin answers questions, stderr shows progress."""
    monkeypatch.setattr(cli_campaigns, "_stdin_is_terminal", lambda: True)
    monkeypatch.setattr(cli_campaigns, "_stderr_is_terminal", lambda: True)


def wabot(env: dict, *args: str, input: str | None = None):
    return run_cli(list(args), env=env, cwd=ROOT, input=input)


def listed(env: dict, now: datetime = NOW) -> dict[str, dict]:
    result = wabot(env, "campaigns", "list", "--now", now.isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["spring", "welcome", "tested", "free", "reorder"]  # wabot.toml's order
    return {r["name"]: r for r in rows}


def runs(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(campaign_runs)).scalar_one()


# ---------------------------------------------------------------- list

def test_the_list_says_what_each_campaign_sends_to_whom_and_when(env):
    rows = listed(env)
    spring = rows["spring"]
    assert (spring["kind"], spring["segment"], spring["rule"], spring["category"]) == (
        "campaign", "audience", None, "marketing")
    assert (spring["schedule"], spring["trigger"]) == ("0 10 * * 1-5", None)
    assert spring["next_run_at"] == "2026-12-04T15:00:00+00:00"  # Friday 10:00 in New York
    assert spring["languages"] == ["en", "es"] and spring["template_languages"] == ["en_US", "es_MX"]
    assert [(b["title"], b["intent"], b["source"]) for b in spring["buttons"]] == [
        ("Shop covers", "recommend", "named"), ("Reorder", "reorder", "title"), ("Not now", "recommend", "segment")]
    assert spring["last_run"] is None and spring["test_fraction"] is None and len(spring["variants"]) == 1

    welcome = rows["welcome"]
    assert (welcome["trigger"], welcome["category"], welcome["languages"]) == ("enter", "utility", [])
    assert welcome["next_run_at"] == "2026-12-03T16:00:00+00:00"  # the segment refresh of 16:00
    tested = rows["tested"]
    assert (tested["segment"], tested["rule"], tested["test_fraction"]) == (None, 'has_tag("audience")', 0.5)
    assert [v["text"] for v in tested["variants"]] == ["A", "B"] and tested["next_run_at"] is None  # by hand
    reorder = rows["reorder"]
    assert (reorder["kind"], reorder["trigger"], reorder["watch"]["default_days"]) == ("reorder", "due", 30)
    assert reorder["languages"] == ["en", "pt"] and reorder["next_run_at"] == "2026-12-03T16:00:00+00:00"
    assert listed(env, NOW + timedelta(minutes=1))["reorder"]["next_run_at"] == "2026-12-03T17:00:00+00:00"


def test_the_list_shows_the_last_run_and_the_promotion(engine, env, fake_graph):
    assert wabot(env, "campaigns", "run", "spring", "--now", NOW.isoformat()).returncode == 0
    later = NOW + timedelta(hours=1)
    assert wabot(env, "campaigns", "run", "spring", "--now", later.isoformat()).returncode == 0
    assert wabot(env, "campaigns", "run", "tested", "--now", NOW.isoformat()).returncode == 0
    rows = listed(env)
    last = rows["spring"]["last_run"]
    assert (last["run_at"], last["trigger"], last["group"], last["runs"]) == (later.isoformat(), "manual", "all", 2)
    assert (last["queued"], last["sent"], last["eligible"]) == (0, 0, 0)  # the second run: everyone had it
    assert rows["tested"]["last_run"]["sent"] == rows["tested"]["last_run"]["queued"] > 0
    assert rows["tested"]["promoted"] is None
    assert wabot(env, "campaigns", "promote", "tested", "--now", later.isoformat()).returncode == 0
    rows = listed(env)
    assert rows["tested"]["promoted"]["variant"] in (0, 1) and rows["tested"]["last_run"]["group"] == "rest"


def test_the_list_as_a_table(engine, env):
    assert wabot(env, "campaigns", "run", "spring", "--now", NOW.isoformat()).returncode == 0
    result = wabot(env, "campaigns", "list", "--now", NOW.isoformat())
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["name", "audience", "when", "category", "test", "languages", "last", "run", "next",
                                "(UTC)"]
    spring, welcome, tested, free, reorder = lines[1:6]
    assert spring.startswith("spring ") and "segment audience" in spring and "cron 0 10 * * 1-5" in spring
    assert "en es" in spring and "manual: 6 queued, 6 sent" in spring and spring.endswith("2026-12-04 15:00")
    assert "on entering audience" in welcome and "never" in welcome
    assert 'rule has_tag("audience")' in tested and "50% x 2" in tested
    assert "when due (hourly scan)" in reorder
    assert "spring buttons: [Shop covers] -> recommend; [Reorder] -> reorder (by its title); " \
           "[Not now] -> recommend (the segment's flow)" in lines


def test_no_campaigns(env, tmp_path):
    (tmp_path / "wabot.toml").write_text("[store]\nname = 'Acme'\n")
    result = wabot(env, "campaigns", "list")
    assert (result.returncode, result.stdout.strip()) == (0, "no campaigns in wabot.toml (see wabot.example.toml, "
                                                             "[campaigns.*])")
    assert json.loads(wabot(env, "campaigns", "list", "--json").stdout) == []


# ---------------------------------------------------------------- run on a terminal

def test_a_run_that_costs_money_asks_and_a_no_sends_nothing(engine, env, fake_graph, terminal):
    result = wabot(env, "campaigns", "run", "spring", "--now", NOW.isoformat(), input="n\n")
    assert result.returncode == 1 and result.stdout == ""
    assert "spring: 6 message(s) would go now (3 free-form, 3 template); estimated cost 0.0750 USD" in result.stderr
    assert "Send them? [y/N]: n" in result.stderr and result.stderr.rstrip().endswith("nothing sent")
    assert runs(engine) == 0 and fake_graph.messages() == []


def test_a_yes_sends_with_progress_and_the_json_is_unchanged(engine, env, fake_graph, terminal):
    result = wabot(env, "campaigns", "run", "spring", "--now", NOW.isoformat(), "--json", input="y\n")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["queued"], data["outbox"]) == (6, {"sent": 6})
    assert "Send them? [y/N]: y" in result.stderr
    assert "queuing" in result.stderr and "sending" in result.stderr  # the bars (drawn only on a real terminal)
    assert len(fake_graph.messages()) == 6


def test_yes_does_not_ask(engine, env, fake_graph, terminal):
    result = wabot(env, "campaigns", "run", "spring", "--now", NOW.isoformat(), "--yes")
    assert result.returncode == 0, result.stderr
    assert "Send them?" not in result.stderr and "queued 6, deferred 0; messages: sent 6" in result.stdout


def test_a_free_run_does_not_ask(engine, env, fake_graph, terminal):
    result = wabot(env, "campaigns", "run", "free", "--now", NOW.isoformat())
    assert result.returncode == 0, result.stderr
    assert "Send them?" not in result.stderr and "queued 3" in result.stdout


def test_a_dry_run_does_not_ask(engine, env, fake_graph, terminal):
    result = wabot(env, "campaigns", "run", "spring", "--now", NOW.isoformat(), "--dry-run")
    assert result.returncode == 0 and "Send them?" not in result.stderr and runs(engine) == 0


def test_without_a_terminal_it_does_not_ask(engine, env, fake_graph):
    result = wabot(env, "campaigns", "run", "spring", "--now", NOW.isoformat(), input="n\n")
    assert result.returncode == 0, result.stderr
    assert "Send them?" not in result.stderr and "queuing" not in result.stderr
    assert len(fake_graph.messages()) == 6
