"""wabot.toml's [campaigns.*], [reorder], [policy] and [rates]: bad values are refused naming the key."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from apscheduler.triggers.cron import CronTrigger
from hypothesis import given
from hypothesis import strategies as st

from bot.core.config import Settings, crontab_for_apscheduler, parse_file_config
from bot.core.errors import ConfigError
from bot.runtime import check_configuration


def campaign(**fields):
    return parse_file_config({"campaigns": {"promo": fields}}).campaigns["promo"]


def refused(data: dict) -> str:
    """The one-line error of a configuration, whether its shape (on reading) or its meaning (at
    start) is wrong."""
    with pytest.raises(ConfigError) as caught:
        check_configuration(Settings(file=parse_file_config(data)))
    return str(caught.value)


@pytest.mark.parametrize("fields, message", [
    ({"text": "x"}, "campaigns.promo: give exactly one of segment or rule"),
    ({"segment": "a", "rule": "b", "text": "x"}, "exactly one of segment or rule"),
    ({"segment": "a"}, "nothing to send"),
    ({"segment": "a", "text": "x", "schedule": "0 10 * * *", "trigger": "enter"}, "schedule or trigger, not both"),
    ({"rule": "orders_count > 1", "text": "x", "trigger": "enter"}, 'trigger = "enter" needs a segment'),
    ({"segment": "a", "text": "x", "schedule": "0 10 * *"},
     "campaigns.promo.schedule: not a valid cron expression: '0 10 * *' has 4 fields"),
    ({"segment": "a", "text": "x", "schedule": "0 25 * * *"}, "campaigns.promo.schedule: not a valid cron"),
    ({"segment": "a", "text": "x", "schedule": "0 10 * * 9"}, "day of week '9'"),
    ({"segment": "a", "text": "Hi {name}"}, "text: unknown placeholder {name}"),
    ({"segment": "a", "template": {"name": "t", "body": ["{product_title}"]}}, "template.body[0]: unknown placeholder"),
    ({"segment": "a", "text": "x", "variants": [{"text": "y"}], "test_fraction": 0.1}, "not both"),
    ({"segment": "a", "variants": [{"text": "y"}, {"text": "z"}]}, "variants need test_fraction"),
    ({"segment": "a", "variants": [{"text": "y"}, {}], "test_fraction": 0.1}, "needs text, template or both"),
    ({"segment": "a", "text": "x", "test_fraction": 0}, "test_fraction"),
    ({"segment": "a", "text": "x", "dedupe_days": -1}, "dedupe_days"),
    ({"segment": "a", "text": "x", "buttons": ["a", "b", "c", "d"]}, "at most 3 reply buttons"),
    ({"segment": "a", "text": "x", "colour": "red"}, "unknown key 'campaigns.promo.colour'"),
    ({"segment": "a", "category": "utility", "template": {"name": "t", "category": "marketing"}}, "differs"),
])
def test_bad_campaigns_are_refused_naming_the_key(fields, message):
    assert message in refused({"campaigns": {"promo": fields}})


def test_a_good_campaign():
    config = campaign(segment="lapsed", schedule="0 10 * * 1-5", discount_code="BACK10",
                      text="Hi {first_name}, {discount_code}",
                      template={"name": "we_miss_you", "body": ["{first_name}", "{discount_code}"]})
    assert config.message_variants[0].template.body == ("{first_name}", "{discount_code}")
    manual = campaign(rule='has_tag("vip")', text="x")  # neither schedule nor trigger: run by hand
    assert manual.schedule is None and manual.trigger is None


@pytest.mark.parametrize("data, message", [
    ({"reorder": {"days": {"colour:red": 3}}}, "reorder.days: 'colour:red': unknown selector kind 'colour'"),
    ({"reorder": {"days": {"product:abc": 3}}}, "reorder.days: 'product:abc': product: takes a numeric"),
    ({"reorder": {"days": {"type:Dog Food": 0}}}, "must be a positive number of days"),
    ({"reorder": {"text": "{discount_code}"}}, "reorder: text: unknown placeholder {discount_code}"),
    ({"policy": {"blocked_marketing_countries": ["USA"]}}, "'USA' is not a two-letter country code"),
    ({"policy": {"quiet_hours": ["21:00"]}}, "quiet_hours takes two times"),
    ({"policy": {"quiet_hours": ["9:00", "9:00"]}}, "the same time"),
    ({"policy": {"daily_unique_limit": 0}}, "policy.daily_unique_limit"),
    ({"rates": {"markets": {"USA": {"marketing": 1, "utility": 1}}}}, "rates.markets: 'USA'"),
    ({"rates": {"markets": {"US": {"marketing": -1, "utility": 1}}}}, "rates.markets: US.marketing"),
    ({"rates": {"tiers": {}}}, "unknown key 'rates.tiers'"),
])
def test_bad_reorder_policy_and_rates_are_refused(data, message):
    assert message in refused(data)


def test_rates_and_policy_are_normalised():
    config = parse_file_config({"rates": {"markets": {"br": {"marketing": 0.07, "utility": 0.01}}},
                                "policy": {"blocked_marketing_countries": ["us"]}})
    assert set(config.rates.markets) == {"BR"}
    assert config.policy.blocked_marketing_countries == ("US",)


# ---------------------------------------------------------------- cron weekdays, standard numbering

WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def standard_days(field: str) -> set[int]:
    """An independent reading of crontab(5)'s weekday field: Sunday is 0 or 7."""
    days: set[int] = set()
    for item in field.split(","):
        body, _, step = item.partition("/")
        step_n = int(step) if step else 1
        if body == "*":
            low, high = 0, 7
        elif "-" in body:
            low, high = (WEEKDAY_NAMES.index(p) if p in WEEKDAY_NAMES else int(p) for p in body.split("-"))
        else:
            low = high = WEEKDAY_NAMES.index(body) if body in WEEKDAY_NAMES else int(body)
        days.update(d % 7 for d in range(low, high + 1, step_n))
    return days


day_token = st.one_of(st.integers(0, 7).map(str), st.sampled_from(WEEKDAY_NAMES))


@st.composite
def weekday_items(draw):
    kind = draw(st.sampled_from(["one", "range", "star"]))
    if kind == "star":
        return "*/" + str(draw(st.integers(1, 3)))
    if kind == "one":
        return draw(day_token)
    low = draw(st.integers(0, 6))
    high = draw(st.integers(low, 7))
    step = draw(st.sampled_from(["", "/2", "/3"]))
    return f"{low}-{high}{step}"


@given(st.lists(weekday_items(), min_size=1, max_size=3).map(",".join))
def test_cron_weekdays_mean_what_crontab_means(field):
    trigger = CronTrigger.from_crontab(crontab_for_apscheduler(f"0 10 * * {field}"), timezone="UTC")
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)  # a Sunday
    fired, previous, now = set(), None, start
    while True:
        nxt = trigger.get_next_fire_time(previous, now)
        if nxt is None or nxt >= start + timedelta(days=14):
            break
        fired.add((nxt.weekday() + 1) % 7)  # Python: Monday = 0; crontab: Sunday = 0
        previous, now = nxt, nxt + timedelta(seconds=1)
    assert fired == standard_days(field)
