"""How the store automations did (bot/automations/stats.py, `wabot automations stats`): ledger,
outbox, inbound messages and orders written straight into the database as the automations engine
and the sender would leave them, and every count checked by hand: planned, sent, delivered, read,
replied (24 h after delivery), converted (a counted order within 7 days after sending, the
boundary included), revenue (each order once per step, once per automation), failed, deferred,
skipped and cancelled; configured automations without a message still listed, with zeros."""
from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from itertools import count

import pytest
import sqlalchemy as sa

from bot.automations.stats import Step, automation_stats, configured_stats, steps_of
from bot.campaigns.pricing import RateCard
from bot.campaigns.tables import campaign_sends
from bot.core.config import parse_file_config
from bot.core.tables import inbound_messages, outbox
from tests.conftest import ROOT, make_env
from tests.support.cli import run_cli
from tests.support.seed import NOW as T
from tests.support.seed import add_customer, add_order

MIN, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
TOML = """
[store]
name = "Acme"
timezone = "UTC"
currency = "EUR"

[automations.abandoned_checkout]
after_minutes = [30, 1440, 4320]
texts = ["You left {checkout_items}: {checkout_url}", "Still thinking? {checkout_url}", "Last call: {checkout_url}"]

[automations.order_confirmed]
template = { name = "order_confirmed", language = "en_US", body = ["{first_name}", "{order_name}"] }

[automations.order_shipped]
template = { name = "order_shipped", language = "en_US", body = ["{order_name}", "{tracking_url}"] }

[automations.cod_confirmation]
template = { name = "cod_confirm", language = "en_US", body = ["{first_name}", "{order_name}", "{order_total}"] }
"""
NONE_TOML = '[store]\nname = "Acme"\ntimezone = "UTC"\n'
NAMES = ["abandoned_checkout", "order_confirmed", "order_shipped", "cod_confirmation"]
_ids = count(1)


def message(conn, automation: str | None, step: int, customer_id: int, *, status: str = "queued",
            state: str | None = None, sent_at=None, delivered_at=None, read_at=None, error_code: int | None = None,
            campaign: str | None = None, kind: str = "automation") -> None:
    """One ledger row, and its outbox row when `state` is given (as the sender left it)."""
    n = next(_ids)
    outbox_id = None
    if state is not None:
        outbox_id = conn.execute(sa.insert(outbox).values(
            customer_id=customer_id, recipient=f"wa{customer_id}", kind=kind, category="utility",
            payload={"type": "text", "text": {"body": "hi"}}, source=campaign or f"automation:{automation}",
            dedupe_key=f"seeded:{n}", state=state, attempts=1, not_before=T - DAY, created_at=T - DAY,
            sent_at=sent_at, delivered_at=delivered_at, read_at=read_at, error_code=error_code,
            failed_at=T if state == "failed" else None, wa_message_id=f"wamid.{n}" if sent_at else None,
        ).returning(outbox.c.id)).scalar_one()
    conn.execute(sa.insert(campaign_sends).values(
        campaign=campaign or f"automation:{automation}", kind=kind, customer_id=customer_id,
        recipient=f"wa{customer_id}", cycle=f"cycle-{n}", send_group="all", variant=step, category="utility",
        status=status, form="freeform", outbox_id=outbox_id, planned_at=T - DAY,
        queued_at=T - DAY if status == "queued" else None))


def inbound(conn, customer_id: int, at) -> None:
    n = next(_ids)
    conn.execute(sa.insert(inbound_messages).values(wa_message_id=f"wamid.in.{n}", customer_id=customer_id,
                                                    type="text", text="hello", sent_at=at, received_at=at))


def order(conn, order_id: int, customer_id: int, at, total: str, cancelled: bool = False) -> None:
    add_order(conn, order_id, customer_id, [(1, 1, "Linen cushion cover", 1, total)], created_at=at, total=total,
              cancelled=cancelled)


@pytest.fixture
def ledger(engine):
    """Six customers and the automations' messages to them (see the expectations below)."""
    with engine.begin() as conn:
        ana, bea, cai, dan, eve, fay = (add_customer(conn, f"1555000000{i}", name) for i, name in
                                        enumerate(("Ana", "Bea", "Cai", "Dan", "Eve", "Fay")))
        # abandoned checkout, step 1
        message(conn, "abandoned_checkout", 0, ana, state="sent", sent_at=T, delivered_at=T + MIN, read_at=T + 5 * MIN)
        message(conn, "abandoned_checkout", 0, ana, state="sent", sent_at=T + 10 * MIN)  # a second checkout, no status
        message(conn, "abandoned_checkout", 0, bea, state="sent", sent_at=T, delivered_at=T + MIN)
        message(conn, "abandoned_checkout", 0, cai, state="failed", error_code=131049)
        message(conn, "abandoned_checkout", 0, eve, status="skipped")
        message(conn, "abandoned_checkout", 0, dan, state="queued")  # not sent yet
        # abandoned checkout, step 2
        message(conn, "abandoned_checkout", 1, ana, state="sent", sent_at=T + DAY, delivered_at=T + DAY + MIN,
                read_at=T + DAY + 2 * MIN)
        message(conn, "abandoned_checkout", 1, dan, status="deferred")
        message(conn, "abandoned_checkout", 1, eve, status="cancelled")
        # order confirmed, after ana's first order
        message(conn, "order_confirmed", 0, ana, state="sent", sent_at=T - 50 * MIN, delivered_at=T - 49 * MIN)
        # cash on delivery: the question and the reminder
        message(conn, "cod_confirmation", 0, dan, state="sent", sent_at=T + 2 * DAY, delivered_at=T + 2 * DAY + MIN)
        message(conn, "cod_confirmation", 1, dan, state="sent", sent_at=T + 2 * DAY + 12 * HOUR)
        # not counted: an automation no longer configured, and a campaign
        message(conn, "order_delivered", 0, ana, state="sent", sent_at=T, delivered_at=T + MIN)
        message(conn, None, 0, ana, state="sent", sent_at=T, delivered_at=T + MIN, campaign="flash", kind="campaign")

        inbound(conn, ana, T + HOUR)  # replies to both step-1 messages
        inbound(conn, ana, T + DAY + 30 * MIN)  # replies to step 2
        inbound(conn, bea, T + MIN + DAY + MIN)  # a minute past 24 h after delivery: no reply
        order(conn, 9000, ana, T - HOUR, "70.00")  # before every message but order_confirmed's: its trigger
        order(conn, 9001, ana, T + 2 * DAY, "50.00")  # after three abandoned-checkout messages and order_confirmed
        order(conn, 9002, bea, T + 7 * DAY, "20.00")  # exactly 7 days after: counted
        order(conn, 9003, bea, T + 7 * DAY + MIN, "999.00")  # a minute late
        order(conn, 9004, bea, T + 3 * DAY, "500.00", cancelled=True)  # does not count
        order(conn, 9005, fay, T + DAY, "300.00")  # someone else's
    return {"ana": ana, "bea": bea, "dan": dan}


def steps() -> dict[str, list[Step]]:
    return {"abandoned_checkout": [Step(0, "step 1", 30), Step(1, "step 2", 1440), Step(2, "step 3", 4320)],
            "order_confirmed": [Step(0, "message")], "order_shipped": [Step(0, "message")],
            "cod_confirmation": [Step(0, "question"), Step(1, "reminder", 720)]}


def by_name(data: dict) -> dict[str, dict]:
    return {entry["automation"]: entry for entry in data["automations"]}


def counts(entry: dict, *keys: str) -> tuple:
    return tuple(entry[k] for k in keys)


KEYS = ("planned", "sent", "delivered", "read", "replied", "converted", "orders", "revenue", "failed", "pending",
        "deferred", "skipped", "cancelled")


def test_each_count_per_step_and_the_total(engine, ledger):
    with engine.connect() as conn:
        data = automation_stats(conn, NAMES, steps(), "EUR")
    assert data["currency"] == "EUR"
    assert data["windows"] == {"replied_hours": 24, "converted_days": 7}
    assert [e["automation"] for e in data["automations"]] == NAMES  # order_delivered is not configured
    cart = by_name(data)["abandoned_checkout"]
    first, second, third = cart["steps"]
    assert counts(first, "step", "name", "after_minutes") == (0, "step 1", 30)
    assert counts(first, *KEYS) == (5, 3, 2, 1, 2, 3, 2, "70.00", 1, 1, 0, 1, 0)
    assert first["failed_by_code"] == {"131049": 1}
    assert first["rates"] == {"delivered": 0.6667, "read": 0.3333, "replied": 0.6667, "converted": 1.0,
                              "failed": 0.25}
    assert counts(second, *KEYS) == (1, 1, 1, 1, 1, 1, 1, "50.00", 0, 0, 1, 0, 1)
    assert counts(third, "step", "name", "after_minutes") == (2, "step 3", 4320)
    assert counts(third, *KEYS) == (0,) * 7 + ("0.00",) + (0,) * 5
    assert third["rates"]["delivered"] is None
    # Order 9001 followed both steps: once per step, once in the total (not 120.00).
    assert counts(cart["total"], *KEYS) == (6, 4, 3, 2, 3, 4, 2, "70.00", 1, 1, 1, 1, 1)
    assert cart["total"]["rates"]["replied"] == 0.75

    confirmed = by_name(data)["order_confirmed"]
    assert [s["name"] for s in confirmed["steps"]] == ["message"]
    # its trigger (9000) came before it; the next order (9001) within 7 days is its conversion; ana's
    # message an hour later is a reply to it too
    assert counts(confirmed["steps"][0], "sent", "delivered", "replied", "converted", "orders", "revenue") == \
        (1, 1, 1, 1, 1, "50.00")
    assert confirmed["total"]["revenue"] == "50.00"

    question, reminder = by_name(data)["cod_confirmation"]["steps"]
    assert counts(question, "name", "sent", "delivered", "converted", "revenue") == ("question", 1, 1, 0, "0.00")
    assert counts(reminder, "name", "after_minutes", "sent", "delivered") == ("reminder", 720, 1, 0)


def test_the_seven_day_boundary(engine, ledger):
    """Bea's order exactly 7 days after the message converts it; the one a minute later does not."""
    with engine.begin() as conn:
        conn.execute(sa.delete(campaign_sends).where(campaign_sends.c.customer_id != ledger["bea"]))
        only_bea = automation_stats(conn, ["abandoned_checkout"])["automations"][0]["total"]
        assert counts(only_bea, "sent", "converted", "orders", "revenue") == (1, 1, 1, "20.00")
        conn.execute(sa.update(outbox).values(sent_at=T - MIN).where(outbox.c.customer_id == ledger["bea"]))
        earlier = automation_stats(conn, ["abandoned_checkout"])["automations"][0]["total"]
        assert counts(earlier, "converted", "orders", "revenue") == (0, 0, "0.00")  # now 7 days and a minute
        conn.execute(sa.update(outbox).values(sent_at=T + MIN).where(outbox.c.customer_id == ledger["bea"]))
        later = automation_stats(conn, ["abandoned_checkout"])["automations"][0]["total"]
        assert counts(later, "converted", "orders", "revenue") == (1, 2, "1019.00")  # both orders inside


def test_configured_automations_without_messages_have_zeros(engine, settings_for):
    settings = settings_for(toml=TOML)
    with engine.connect() as conn:
        data = configured_stats(conn, settings.file.automations, settings.store.currency)
    assert data["currency"] == "EUR"
    shape = {e["automation"]: [(s["step"], s["name"], s["after_minutes"]) for s in e["steps"]]
             for e in data["automations"]}
    assert shape == {"abandoned_checkout": [(0, "step 1", 30), (1, "step 2", 1440), (2, "step 3", 4320)],
                     "order_confirmed": [(0, "message", None)], "order_shipped": [(0, "message", None)],
                     "cod_confirmation": [(0, "question", None), (1, "reminder", 720)]}
    for entry in data["automations"]:
        for row in [*entry["steps"], entry["total"]]:
            assert counts(row, *KEYS) == (0,) * 7 + ("0.00",) + (0,) * 5
            assert set(row["rates"].values()) == {None}
    assert steps_of(settings.file.automations) == steps()
    with engine.connect() as conn:
        assert automation_stats(conn, [])["automations"] == []


def test_a_step_no_longer_configured_is_still_listed(engine, ledger):
    with engine.connect() as conn:
        data = automation_stats(conn, ["abandoned_checkout"], {"abandoned_checkout": [Step(0, "step 1", 30)]})
    listed = data["automations"][0]["steps"]
    assert [(s["step"], s["name"], s["sent"]) for s in listed] == [(0, "step 1", 3), (1, "step 2", 1)]
    assert data["automations"][0]["total"]["sent"] == 4


def test_revenue_is_exact_to_the_cent(engine):
    with engine.begin() as conn:
        customer = add_customer(conn, "15550009999", "Gil")
        for n in range(3):
            message(conn, "order_shipped", 0, customer, state="sent", sent_at=T + n * HOUR)
            order(conn, 9100 + n, customer, T + n * HOUR + MIN, "0.10")
        data = automation_stats(conn, ["order_shipped"])
    step = data["automations"][0]["steps"][0]
    assert counts(step, "sent", "converted", "orders", "revenue") == (3, 3, 3, "0.30")
    assert Decimal(step["revenue"]) == Decimal("0.30")


# ---------------------------------------------------------------- the command

def test_the_command_prints_a_table_and_json(engine, ledger, database_url, tmp_path):
    (tmp_path / "wabot.toml").write_text(TOML)
    env = make_env(database_url, tmp_path, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    result = run_cli(["automations", "stats"], env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["automation", "step", "planned", "sent", "delivered", "read", "replied", "converted",
                                "revenue", "EUR", "failed", "deferred", "reply", "rate", "cost", "EUR"]
    rows = {tuple(line.split()[:6]) for line in lines[1:]}
    assert ("abandoned", "checkout", "step", "1", "(after", "30") in rows
    first = next(line for line in lines if "step 1 (after 30 min)" in line)
    # cost: three free-form messages at the built-in rest-of-world rate (no [rates]; no country known)
    assert first.split()[7:] == ["5", "3", "2", "1", "2", "3", "70.00", "1", "0", "66.7%", "0.0231"]
    total = next(line for line in lines if line.split()[:1] == ["total"])
    assert total.split()[1:] == ["6", "4", "3", "2", "3", "4", "70.00", "1", "1", "75.0%", "0.0308"]
    assert any(line.startswith("cash on delivery") and "question" in line for line in lines)
    assert any("reminder (after 12 h)" in line for line in lines)
    assert any(line.startswith("order shipped") and line.split()[3:] == ["0"] * 6 + ["0.00", "0", "0", "-", "0.0000"]
               for line in lines)
    assert "failed by code: 131049: 1" in result.stdout

    as_json = run_cli(["automations", "stats", "--json"], env=env, cwd=ROOT)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    with engine.connect() as conn:
        card = RateCard.from_config(parse_file_config({}).rates)
        assert data == json.loads(json.dumps(automation_stats(conn, NAMES, steps(), "EUR", card)))


def test_without_automations_the_command_says_so(engine, database_url, tmp_path):
    (tmp_path / "wabot.toml").write_text(NONE_TOML)
    env = make_env(database_url, tmp_path, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    result = run_cli(["automations", "stats"], env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["no automations configured in wabot.toml (see docs/automations.md, "
                                          "[automations.*])"]
    as_json = run_cli(["automations", "stats", "--json"], env=env, cwd=ROOT)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["automations"] == []


# ---------------------------------------------------------------- what the messages cost

# The seeded recipients have no country (their outbox rows say "wa<id>"): the default market's rates.
RATES = {"rates": {"currency": "EUR", "default": [
    {"effective": date(2026, 11, 1), "marketing": 0.05, "utility": 0.01, "service": 0.01},
    {"effective": date(2026, 11, 29), "marketing": 0.05, "utility": 0.01, "service": 0.02},  # between the steps
]}}


def test_each_step_costs_what_its_messages_cost_when_they_were_sent(engine, ledger):
    card = RateCard.from_config(parse_file_config(RATES).rates)
    with engine.connect() as conn:
        data = by_name(automation_stats(conn, NAMES, steps(), "EUR", card))
    checkout = data["abandoned_checkout"]
    first, second, third = (step["estimated_cost"] for step in checkout["steps"])
    # Step 1: three free-form messages sent on the 28th at the old service rate; the failed one
    # and the one still queued cost nothing. Step 2: one, sent on the 29th, at the new rate.
    assert (first["charged"], first["total"], first["rates_effective"]) == (3, 0.03, {"unknown": ["2026-11-01"]})
    assert (second["charged"], second["total"], second["rates_effective"]) == (1, 0.02, {"unknown": ["2026-11-29"]})
    assert (third["charged"], third["total"]) == (0, 0.0)
    assert (checkout["total"]["estimated_cost"]["charged"], checkout["total"]["estimated_cost"]["total"]) == (4, 0.05)
    assert data["order_confirmed"]["total"]["estimated_cost"]["total"] == 0.01
    cod = [step["estimated_cost"]["total"] for step in data["cod_confirmation"]["steps"]]
    assert cod == [0.02, 0.02]
    assert data["order_shipped"]["total"]["estimated_cost"]["charged"] == 0
    # The campaign sent beside them and the automation no longer configured are not in any step.
    assert sum(entry["total"]["estimated_cost"]["charged"] for entry in data.values()) == 4 + 1 + 2


def test_without_a_rate_card_there_is_no_cost(engine, ledger):
    with engine.connect() as conn:
        data = automation_stats(conn, NAMES, steps(), "EUR")
    assert all("estimated_cost" not in step for entry in data["automations"] for step in entry["steps"])
