"""The rate card and the cost estimate of a preview (bot/campaigns/pricing.py)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.campaigns.pricing import DEFAULT_MARKETS, REST_OF_WORLD, Priced, RateCard, estimate
from bot.core.config import MarketRates, parse_file_config

CARD = RateCard.from_config(parse_file_config({}).rates)
# Before 1 October 2026, when Meta began to charge service messages and in-window utility templates
# (those dates: tests/unit/test_pricing_dates.py).
AT = datetime(2026, 9, 1, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("category, form, window_open, free_entry, expected", [
    ("marketing", "freeform", True, False, 0.0),  # free-form is free
    ("utility", "freeform", True, False, 0.0),
    ("marketing", "template", True, False, 0.0625),  # marketing templates are always charged
    ("marketing", "template", False, False, 0.0625),
    ("utility", "template", True, False, 0.0),  # utility templates are free inside the window
    ("utility", "template", False, False, 0.0068),
    ("marketing", "template", False, True, 0.0),  # everything is free in the 72 h entry-point window
    ("utility", "template", False, True, 0.0),
])
def test_meta_per_message_pricing(category, form, window_open, free_entry, expected):
    assert CARD.price(category=category, form=form, country="BR", at=AT, window_open=window_open,
                      free_entry_point=free_entry) == expected


def test_unknown_markets_use_the_rest_of_world_rate():
    assert CARD.market("ZZ", AT) == REST_OF_WORLD[-1] and CARD.market(None, AT) == REST_OF_WORLD[-1]
    assert CARD.market("US", AT) == DEFAULT_MARKETS["US"][-1]


def test_config_overrides_a_market_whole_and_can_bill_utility_and_service():
    rates = parse_file_config({"rates": {
        "currency": "EUR", "utility_free_in_window": False,
        "default": {"marketing": 0.05, "utility": 0.01},
        "markets": {"BR": {"marketing": 0.07, "utility": 0.009, "service": 0.002}},
    }}).rates
    card = RateCard.from_config(rates)
    assert card.currency == "EUR"
    assert card.market("BR", AT) == MarketRates(marketing=0.07, utility=0.009, service=0.002)
    assert card.market("US", AT) == DEFAULT_MARKETS["US"][-1] and card.market("ZZ", AT).marketing == 0.05
    assert card.price(category="utility", form="template", country="BR", at=AT, window_open=True,
                      free_entry_point=False) == 0.009
    assert card.price(category="marketing", form="freeform", country="BR", at=AT, window_open=True,
                      free_entry_point=False) == 0.002


def test_estimate_by_country():
    messages = [Priced("template", "BR", False, False)] * 3 + [Priced("template", "IN", False, False),
                                                            Priced("freeform", "IN", True, False),
                                                            Priced("template", None, False, True)]
    result = estimate(messages, "marketing", CARD, AT)
    assert result == {"currency": "USD", "total": round(3 * 0.0625 + 0.0118, 4), "charged": 4, "free": 2,
                      "by_category": {"marketing": round(3 * 0.0625 + 0.0118, 4)},
                      "by_country": {"BR": 0.1875, "IN": 0.0118},
                      "free_by_reason": {"in_window_utility": 0, "free_entry_point": 1, "service": 1, "zero_rate": 0},
                      "rates_effective": {"BR": ["2026-10-01"], "IN": ["2025-07-01"], "unknown": ["2025-07-01"]}}
    assert estimate([], "utility", CARD, AT)["total"] == 0
