"""The dated rate card (bot/campaigns/pricing.py, [rates] in bot/core/config.py): a message is priced
by the rates and Meta's rules in effect when it is sent, on the right side of every change; both
forms of [rates.markets.*] parse; hostile entries are refused in one line naming the key."""
from __future__ import annotations

import tomllib
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.campaigns.pricing import (
    DEFAULT_MARKETS,
    FREE_REASONS,
    SERVICE_CHARGED_FROM,
    UTILITY_IN_WINDOW_CHARGED_FROM,
    Priced,
    RateCard,
    estimate,
    starts,
)
from bot.core.config import parse_file_config
from bot.core.errors import ConfigError

UTC = timezone.utc
TICK = timedelta(microseconds=1)
CHANGE = datetime(2026, 12, 10, tzinfo=UTC)
TOML = """
[rates]
currency = "USD"

[[rates.markets.BR]]
marketing = 0.05
utility = 0.01

[[rates.markets.BR]]
effective = 2026-12-10
marketing = 0.08
utility = 0.02
authentication = 0.03
service = 0.004

[rates.markets.IN]
marketing = 0.011
utility = 0.001
service = 0

[[rates.default]]
effective = 2026-01-01
marketing = 0.03
utility = 0.005

[[rates.default]]
effective = 2026-12-10
marketing = 0.04
utility = 0.006
"""


def card_of(toml: str) -> RateCard:
    return RateCard.from_config(parse_file_config(tomllib.loads(toml)).rates)


CARD = card_of(TOML)
BUILT_IN = card_of("")


def price(card: RateCard, at: datetime, *, category: str = "marketing", form: str = "template",
          country: str | None = "BR", window_open: bool = False, free_entry_point: bool = False) -> float:
    return card.price(category=category, form=form, country=country, at=at, window_open=window_open,
                      free_entry_point=free_entry_point)


# ---------------------------------------------------------------- a configured change

@pytest.mark.parametrize("category, form, before, after", [
    ("marketing", "template", 0.05, 0.08),
    ("utility", "template", 0.01, 0.02),
    ("authentication", "template", 0.01, 0.03),  # unset before: the utility rate
    ("marketing", "freeform", 0.01, 0.004),  # service unset before: Meta's rule (charged since 2026-10-01)
])
def test_a_configured_change_prices_each_side_of_its_date(category, form, before, after):
    assert price(CARD, CHANGE - TICK, category=category, form=form) == before
    assert price(CARD, CHANGE, category=category, form=form) == after
    assert price(CARD, CHANGE + timedelta(days=400), category=category, form=form) == after


def test_dated_default_entries_price_the_markets_not_listed():
    for country in ("ZZ", None):
        assert price(CARD, CHANGE - TICK, country=country) == 0.03
        assert price(CARD, CHANGE, country=country) == 0.04
    # before the first configured date the built-in "Other" rate holds (and before its own start too)
    rest = BUILT_IN.market("ZZ", CHANGE)
    assert price(CARD, datetime(2025, 12, 31, 23, tzinfo=UTC), country="ZZ") == rest.marketing
    assert price(CARD, datetime(2025, 3, 1, tzinfo=UTC), country="ZZ") == rest.marketing


def test_an_effective_date_starts_at_midnight_utc_whatever_the_zone_of_the_instant():
    sao_paulo = timezone(timedelta(hours=-3))
    assert price(CARD, datetime(2026, 12, 9, 20, 59, 59, tzinfo=sao_paulo)) == 0.05  # 23:59:59 UTC
    assert price(CARD, datetime(2026, 12, 9, 21, 0, tzinfo=sao_paulo)) == 0.08


def test_an_undated_table_holds_since_forever_and_replaces_the_built_in_market():
    for at in (datetime(2024, 1, 1, tzinfo=UTC), CHANGE, CHANGE + timedelta(days=999)):
        assert price(CARD, at, country="IN") == 0.011
        assert price(CARD, at, country="IN", form="freeform", window_open=True) == 0.0  # service = 0: free


def test_dated_entries_keep_the_built_in_rates_before_their_first_date():
    card = card_of("[[rates.markets.GB]]\neffective = 2026-12-10\nmarketing = 0.07\nutility = 0.03\n")
    built_in = DEFAULT_MARKETS["GB"][0]
    assert price(card, CHANGE - TICK, country="GB") == built_in.marketing
    assert price(card, CHANGE, country="GB") == 0.07
    assert price(card, CHANGE - TICK, country="US") == DEFAULT_MARKETS["US"][0].marketing  # others untouched


# ---------------------------------------------------------------- Meta's dated rules (built-in card)

SERVICE_STARTS = starts(SERVICE_CHARGED_FROM)
UTILITY_STARTS = starts(UTILITY_IN_WINDOW_CHARGED_FROM)


def test_service_messages_are_free_until_meta_charges_them_then_cost_the_utility_rate():
    br = DEFAULT_MARKETS["BR"][-1]
    assert price(BUILT_IN, SERVICE_STARTS - TICK, form="freeform", window_open=True) == 0.0
    assert price(BUILT_IN, SERVICE_STARTS, form="freeform", window_open=True) == br.utility
    charge = BUILT_IN.charge(category="marketing", form="freeform", country="IN", at=SERVICE_STARTS - TICK,
                             window_open=True, free_entry_point=False)
    assert charge.free_reason == "service"


def test_utility_templates_in_the_window_are_free_until_meta_charges_them():
    br = DEFAULT_MARKETS["BR"][-1]
    before = BUILT_IN.charge(category="utility", form="template", country="BR", at=UTILITY_STARTS - TICK,
                             window_open=True, free_entry_point=False)
    after = BUILT_IN.charge(category="utility", form="template", country="BR", at=UTILITY_STARTS,
                            window_open=True, free_entry_point=False)
    assert (before.amount, before.free_reason) == (0.0, "in_window_utility")
    assert (after.amount, after.free_reason, after.effective) == (br.utility, None, UTILITY_IN_WINDOW_CHARGED_FROM)
    # outside the window a utility template was charged on both sides
    assert price(BUILT_IN, UTILITY_STARTS - TICK, category="utility") == br.utility
    assert price(BUILT_IN, UTILITY_STARTS, category="utility") == br.utility


def test_rates_utility_free_in_window_overrides_meta_rule_and_an_entry_overrides_rates():
    card = card_of("[rates]\nutility_free_in_window = true\n"
                   "[[rates.markets.MX]]\neffective = 2026-12-10\nmarketing = 0.03\nutility = 0.008\n"
                   "utility_free_in_window = false\n")
    assert price(card, UTILITY_STARTS + timedelta(days=30), category="utility", window_open=True) == 0.0
    assert price(card, CHANGE - TICK, category="utility", country="MX", window_open=True) == 0.0
    assert price(card, CHANGE, category="utility", country="MX", window_open=True) == 0.008


@pytest.mark.parametrize("at", [SERVICE_STARTS - TICK, SERVICE_STARTS, CHANGE])
@pytest.mark.parametrize("category, form", [("marketing", "template"), ("utility", "template"),
                                            ("authentication", "template"), ("marketing", "freeform")])
def test_the_free_entry_point_is_free_on_both_sides(at, category, form):
    charge = CARD.charge(category=category, form=form, country="BR", at=at, window_open=form == "freeform",
                         free_entry_point=True)
    assert (charge.amount, charge.free_reason) == (0.0, "free_entry_point")


def test_marketing_and_authentication_are_charged_in_the_window_too():
    assert price(BUILT_IN, SERVICE_STARTS - TICK, window_open=True) == DEFAULT_MARKETS["BR"][-1].marketing
    assert price(BUILT_IN, SERVICE_STARTS - TICK, category="authentication", window_open=True) \
        == DEFAULT_MARKETS["BR"][-1].utility


# ---------------------------------------------------------------- estimates name what is free

def test_an_estimate_counts_each_free_reason_and_names_the_rates_used():
    at = SERVICE_STARTS - TICK
    messages = ([Priced("template", "BR", True, False)] * 2      # in-window utility: free before October
                + [Priced("freeform", "BR", True, False)] * 3    # service: free before October
                + [Priced("template", "IN", False, True)]        # free entry point
                + [Priced("template", "BR", False, False)] * 4)  # charged
    cost = estimate(messages, "utility", CARD, at)
    assert cost["free_by_reason"] == {"in_window_utility": 2, "service": 3, "free_entry_point": 1, "zero_rate": 0}
    assert (cost["charged"], cost["free"]) == (4, 6) and cost["total"] == round(4 * 0.01, 4)
    assert cost["rates_effective"] == {"BR": [None], "IN": [None]}
    later = estimate(messages, "utility", CARD, CHANGE)
    assert later["free_by_reason"] == {"in_window_utility": 0, "service": 0, "free_entry_point": 1, "zero_rate": 0}
    assert later["total"] == round(2 * 0.02 + 3 * 0.004 + 4 * 0.02, 4)
    assert later["rates_effective"]["BR"] == ["2026-12-10"]


def test_each_message_is_priced_at_its_own_send_time():
    """A deferral is priced when it is due, not when it was planned."""
    messages = [Priced("template", "BR", False, False, send_at=CHANGE - TICK),
                Priced("template", "BR", False, False, send_at=CHANGE)]
    cost = estimate(messages, "marketing", CARD, now=CHANGE - timedelta(days=5))
    assert cost["total"] == round(0.05 + 0.08, 4)
    assert cost["rates_effective"] == {"BR": [None, "2026-12-10"]}
    with pytest.raises(ValueError):
        estimate([Priced("template", "BR", False, False)], "marketing", CARD)


def test_a_zero_rate_is_named_as_such():
    card = card_of("[rates.markets.BR]\nmarketing = 0\nutility = 0.01\n")
    cost = estimate([Priced("template", "BR", False, False)], "marketing", card, CHANGE)
    assert cost["free_by_reason"]["zero_rate"] == 1 and cost["charged"] == 0


def test_the_boundaries_are_every_date_a_price_may_change():
    assert {starts(SERVICE_CHARGED_FROM), CHANGE, datetime(2026, 1, 1, tzinfo=UTC)} <= set(CARD.boundaries())
    assert CARD.boundaries() == sorted(CARD.boundaries())


# ---------------------------------------------------------------- configuration: both forms, hostile forms

def refused(toml: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_file_config(tomllib.loads(toml))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_both_forms_parse():
    rates = parse_file_config(tomllib.loads(TOML)).rates
    assert [e.effective for e in rates.markets["BR"]] == [None, date(2026, 12, 10)]
    assert [e.effective for e in rates.markets["IN"]] == [None]
    assert [e.effective for e in rates.default] == [date(2026, 1, 1), date(2026, 12, 10)]
    assert rates.markets["BR"][1].authentication == 0.03 and rates.markets["BR"][0].service is None


@pytest.mark.parametrize("toml, names", [
    ("[[rates.markets.BR]]\neffective = 2026-10-01\nmarketing = 1\nutility = 1\n"
     "[[rates.markets.BR]]\neffective = 2026-10-01\nmarketing = 2\nutility = 2\n", "rates.markets: BR[1].effective"),
    ("[[rates.markets.BR]]\neffective = 2026-10-01\nmarketing = 1\nutility = 1\n"
     "[[rates.markets.BR]]\neffective = 2026-09-01\nmarketing = 2\nutility = 2\n", "rates.markets: BR[1].effective"),
    ("[[rates.markets.BR]]\nmarketing = 1\nutility = 1\n[[rates.markets.BR]]\nmarketing = 2\nutility = 2\n",
     "rates.markets: BR[1].effective: missing"),
    ("[[rates.default]]\neffective = 2026-10-01\nmarketing = 1\nutility = 1\n"
     "[[rates.default]]\neffective = 2026-10-01\nmarketing = 1\nutility = 1\n", "rates.default: [1].effective"),
    ("[[rates.markets.BR]]\neffective = 2026-10-01T09:00:00\nmarketing = 1\nutility = 1\n",
     "rates.markets: BR[0].effective"),
    ("[[rates.markets.BR]]\neffective = 2026-10-01\nmarketing = 1\n", "rates.markets: BR[0].utility"),
    ("[[rates.markets.BR]]\neffective = 2026-10-01\nmarketing = 1\nutility = 1\ntiers = 3\n",
     "rates.markets: BR[0].tiers: unknown key"),
    ("[rates.markets.BR]\nmarketing = nan\nutility = 1\n", "rates.markets: BR.marketing"),
    ("[rates.markets.BR]\nmarketing = inf\nutility = 1\n", "rates.markets: BR.marketing"),
    ("[rates.markets.BR]\nmarketing = 1\nutility = 1\nservice = -0.1\n", "rates.markets: BR.service"),
    ("[rates.markets]\nBR = []\n", "rates.markets: BR: must be"),
    ("[rates.markets]\nBR = 3\n", "rates.markets: BR: must be"),
    ("[rates.markets]\nBR = [3]\n", "rates.markets: BR[0]: must be a table"),
    ("[rates.markets.br]\nmarketing = 1\nutility = 1\n[rates.markets.BR]\nmarketing = 1\nutility = 1\n",
     "given twice"),
    ("[rates.markets.B1]\nmarketing = 1\nutility = 1\n", "'B1' is not a two-letter country code"),
])
def test_hostile_rate_cards_are_refused_in_one_line_naming_the_key(toml, names):
    assert names in refused(toml)


DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
RATE = st.floats(min_value=0, max_value=5, allow_nan=False)
ENTRY = st.fixed_dictionaries({"marketing": RATE, "utility": RATE},
                              optional={"effective": st.one_of(st.none(), DAYS), "service": RATE})


def _valid(entries: list[dict]) -> bool:
    dates = [e.get("effective") for e in entries]
    if any(d is None for d in dates[1:]):
        return False
    known = [d for d in dates if d is not None]
    return all(a < b for a, b in zip(known, known[1:]))


@settings(max_examples=200, deadline=None)
@given(entries=st.lists(ENTRY, min_size=1, max_size=5), instant=st.datetimes(
    min_value=datetime(2023, 6, 1), max_value=datetime(2031, 6, 1), timezones=st.just(UTC)))
def test_dated_entries_are_accepted_exactly_when_their_dates_increase_and_priced_by_the_last_started(
        entries, instant):
    data = {"rates": {"markets": {"FR": [{k: v for k, v in e.items() if v is not None} for e in entries]}}}
    if not _valid(entries):
        with pytest.raises(ConfigError) as caught:
            parse_file_config(data)
        assert "rates.markets: FR[" in str(caught.value) and "\n" not in str(caught.value)
        return
    card = RateCard.from_config(parse_file_config(data).rates)
    # The oracle: the built-in French entry holds before the first configured date (if it started
    # earlier), then the last entry started by `instant`; before every start, the first entry.
    built_in = DEFAULT_MARKETS["FR"][0]
    first = entries[0].get("effective")
    layers = [{"effective": built_in.effective, "marketing": built_in.marketing, "utility": built_in.utility}] \
        if first is not None and built_in.effective < first else []
    layers += entries
    started = [e for e in layers if e.get("effective") is None or datetime.combine(
        e["effective"], datetime.min.time(), UTC) <= instant]
    want = started[-1] if started else layers[0]
    assert price(card, instant, country="FR") == want["marketing"]
    assert price(card, instant, country="FR", category="utility") == want["utility"]


JUNK = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8), DAYS),
                    lambda inner: st.one_of(st.lists(inner, max_size=3),
                                            st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(markets=st.dictionaries(st.text(max_size=3), JUNK, max_size=3), default=JUNK)
def test_any_rates_table_parses_or_is_refused_in_one_line(markets, default):
    rates = {"markets": markets} if default is None else {"markets": markets, "default": default}
    try:
        parsed = parse_file_config({"rates": rates}).rates
    except ConfigError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("wabot.toml: rates")
        return
    card = RateCard.from_config(parsed)  # what parsed prices without error, on both sides of a change
    for code in parsed.markets:
        for at in (SERVICE_STARTS - TICK, SERVICE_STARTS):
            assert price(card, at, country=code) >= 0


def test_free_reasons_are_the_documented_ones():
    assert FREE_REASONS == ("in_window_utility", "free_entry_point", "service", "zero_rate")


def test_the_documented_rate_card_parses_and_prices_its_change():
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "pricing.md").read_text()
    block = text.split("```toml\n", 1)[1].split("```", 1)[0]
    card = card_of(block)
    october = starts(date(2026, 10, 1))
    assert price(card, october - TICK, country="IN") == 0.0118
    assert price(card, october, country="IN") == 0.0125
    assert price(card, october, country="IN", category="utility", window_open=True) == 0.0014
