"""What a campaign will cost: Meta's per-message prices and a configurable rate card. Pure.

Meta's pricing since 1 July 2025 (per message, by the template's category and the recipient's
country calling code): free-form (non-template) messages are free, and can only go inside the
customer's 24 h window; utility templates are free inside that window; marketing templates are
always charged; and every message is free for 72 h after the business answers a click-to-WhatsApp
ad (or Facebook Page call-to-action) within 24 h, the "free entry point" window.

Default rates below are DEFAULTS TO OVERRIDE with `[rates]` in wabot.toml: Meta revises them
every quarter or so and bills in the currency of your account. They are Meta's USD list prices
per delivered template ("Pricing on the WhatsApp Business Platform",
https://developers.facebook.com/docs/whatsapp/pricing , rate-card CSVs linked there), as of the
card in force since 1 July 2025 with its 1 October 2025 and 1 January 2026 revisions. Checked
on 2026-11-28 against: Meta's AED card effective 2026-10-01 converted at the dirham's USD peg
(3.6725), as republished in huggingface.co/datasets/tobachat/whatsapp-api-rates (AR, BR, CL, CO,
EG); SleekFlow's pricing calculator as read on 2026-09-20 (North America); the July 2025 table
at docs.sent.dm/docs/guides/whatsapp-pricing ("Other" markets). The remaining markets are the
July 2025 card's and were not re-checked. Volume-tier discounts on utility are not modelled.

Since October 2026 Meta is reported (by several providers; not verified here against Meta's own
page) to bill utility templates inside the window too and to charge service messages: set
`utility_free_in_window = false` and a `service` rate per market to estimate that way.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping

from bot.core.config import MarketRates, RatesConfig

NORTH_AMERICA = MarketRates(marketing=0.0250, utility=0.0034)
DEFAULT_MARKETS: dict[str, MarketRates] = {
    "US": NORTH_AMERICA,
    "CA": NORTH_AMERICA,
    "BR": MarketRates(marketing=0.0625, utility=0.0068),
    "IN": MarketRates(marketing=0.0118, utility=0.0014),
    "MX": MarketRates(marketing=0.0305, utility=0.0085),
    "ID": MarketRates(marketing=0.0411, utility=0.0250),
    "GB": MarketRates(marketing=0.0529, utility=0.0220),
    "DE": MarketRates(marketing=0.1365, utility=0.0550),
    "FR": MarketRates(marketing=0.0859, utility=0.0300),
    "IT": MarketRates(marketing=0.0691, utility=0.0300),
    "ES": MarketRates(marketing=0.0615, utility=0.0200),
    "AR": MarketRates(marketing=0.0618, utility=0.0260),
    "CL": MarketRates(marketing=0.0889, utility=0.0200),
    "CO": MarketRates(marketing=0.0125, utility=0.0008),
    "EG": MarketRates(marketing=0.0644, utility=0.0036),
}
REST_OF_WORLD = MarketRates(marketing=0.0604, utility=0.0077)  # Meta's "Other" market


@dataclass(frozen=True)
class RateCard:
    currency: str
    markets: Mapping[str, MarketRates]
    default: MarketRates
    utility_free_in_window: bool = True

    @classmethod
    def from_config(cls, rates: RatesConfig) -> "RateCard":
        """The built-in card with [rates] laid over it: a market given there replaces ours whole."""
        return cls(currency=rates.currency, markets={**DEFAULT_MARKETS, **rates.markets},
                   default=rates.default or REST_OF_WORLD, utility_free_in_window=rates.utility_free_in_window)

    def market(self, country: str | None) -> MarketRates:
        return self.markets.get(country or "", self.default)

    def price(self, *, category: str, form: str, country: str | None, window_open: bool,
              free_entry_point: bool) -> float:
        """Meta's charge for one delivered message."""
        if free_entry_point:
            return 0.0
        rates = self.market(country)
        if form == "freeform":
            return rates.service
        if category == "marketing":
            return rates.marketing
        if window_open and self.utility_free_in_window:
            return 0.0
        return rates.utility


@dataclass(frozen=True)
class Priced:
    """What pricing needs of one planned message (a bot.campaigns.planner.Decision fits)."""

    form: str
    country: str | None
    window_open: bool
    free_entry_point: bool


def estimate(messages: Iterable[Priced], category: str, card: RateCard) -> dict:
    """{"currency", "total", "charged", "free", "by_category", "by_country"} for messages sent now."""
    total = 0.0
    charged = free = 0
    by_country: dict[str, float] = defaultdict(float)
    for m in messages:
        price = card.price(category=category, form=m.form, country=m.country, window_open=m.window_open,
                           free_entry_point=m.free_entry_point)
        if price > 0:
            charged += 1
            total += price
            by_country[m.country or "unknown"] += price
        else:
            free += 1
    return {
        "currency": card.currency,
        "total": round(total, 4),
        "charged": charged,
        "free": free,
        "by_category": {category: round(total, 4)} if charged else {},
        "by_country": {country: round(amount, 4) for country, amount in sorted(by_country.items())},
    }
