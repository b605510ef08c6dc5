"""What a message costs: Meta's per-message prices, a dated rate card, and the free rules. Pure.

A message is priced by the rules and rates in effect at the instant it is sent (a preview: `now`;
stats: the outbox row's `sent_at`), so an estimate is right on both sides of a change. Sources and
what is and is not confirmed: docs/pricing.md.

Meta's rules, by the date priced (Meta's pages, read 2026-12-02):
- Since 1 July 2025 Meta charges per delivered message, by category and the recipient's country
  calling code; marketing and authentication templates are always charged, utility templates only
  outside the customer's 24 h window, non-template ("service") messages are free, and every message
  is free for 72 h after the business answers a click-to-WhatsApp ad or Page button within 24 h
  (the free entry point). ("Pricing on the WhatsApp Business Platform",
  https://developers.facebook.com/documentation/business-messaging/whatsapp/pricing)
- Effective 1 October 2026 Meta charges service messages (free since November 2024) and utility
  templates sent inside an open customer service window (free since 1 July 2025). ("Upcoming pricing
  updates for Meta Business Agent, service and utility messages", updated 2026-07-01,
  https://developers.facebook.com/documentation/business-messaging/whatsapp/pricing/non-template-messages ;
  read through a public copy of Meta's docs, not on Meta's site itself.)
- NOT confirmed on a Meta page we could read, so only defaults to override: that a service message
  costs the market's utility rate (partners report "the same as utility and authentication"), that
  an authentication template costs the utility rate (true of every market on the cards checked
  below), and that the free entry point is unchanged after 1 October 2026. A monthly free allowance
  of service messages (1,000 per number, reported by partners) is not modelled.

The built-in rates are DEFAULTS TO OVERRIDE with `[rates]` in wabot.toml: Meta revises them every
quarter or so and bills in your account's currency. They are USD list prices per delivered template,
each entry dated by the card it was checked against (on 2026-11-28): Meta's AED card effective
2026-10-01 converted at the dirham's USD peg (3.6725) as republished in
huggingface.co/datasets/tobachat/whatsapp-api-rates (AR, BR, CL, CO, EG); SleekFlow's calculator as
read 2026-09-20, the card of 2026-01-01 (North America); the July 2025 card otherwise (the "Other"
market from docs.sent.dm/docs/guides/whatsapp-pricing). Volume tiers, authentication-international
rates and Meta Business Agent (per-token) messages are not modelled.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Iterable, Mapping, Sequence

from bot.core.config import MarketRates, RatesConfig

PER_MESSAGE_PRICING_FROM = date(2025, 7, 1)
SERVICE_CHARGED_FROM = date(2026, 10, 1)  # Meta's non-template-messages page
UTILITY_IN_WINDOW_CHARGED_FROM = date(2026, 10, 1)  # the same page
META_RULE_DATES = (SERVICE_CHARGED_FROM, UTILITY_IN_WINDOW_CHARGED_FROM)

# Why a message costs nothing (keys of an estimate's "free_by_reason").
IN_WINDOW_UTILITY = "in_window_utility"
FREE_ENTRY_POINT = "free_entry_point"
SERVICE = "service"
ZERO_RATE = "zero_rate"  # a rate of 0 configured for a charged category
FREE_REASONS = (IN_WINDOW_UTILITY, FREE_ENTRY_POINT, SERVICE, ZERO_RATE)


def _rates(effective: date, marketing: float, utility: float) -> tuple[MarketRates, ...]:
    return (MarketRates(effective=effective, marketing=marketing, utility=utility),)


JULY_2025 = PER_MESSAGE_PRICING_FROM
NORTH_AMERICA = _rates(date(2026, 1, 1), 0.0250, 0.0034)
OCTOBER_2026 = SERVICE_CHARGED_FROM
DEFAULT_MARKETS: dict[str, tuple[MarketRates, ...]] = {
    "US": NORTH_AMERICA,
    "CA": NORTH_AMERICA,
    "BR": _rates(OCTOBER_2026, 0.0625, 0.0068),
    "IN": _rates(JULY_2025, 0.0118, 0.0014),
    "MX": _rates(JULY_2025, 0.0305, 0.0085),
    "ID": _rates(JULY_2025, 0.0411, 0.0250),
    "GB": _rates(JULY_2025, 0.0529, 0.0220),
    "DE": _rates(JULY_2025, 0.1365, 0.0550),
    "FR": _rates(JULY_2025, 0.0859, 0.0300),
    "IT": _rates(JULY_2025, 0.0691, 0.0300),
    "ES": _rates(JULY_2025, 0.0615, 0.0200),
    "AR": _rates(OCTOBER_2026, 0.0618, 0.0260),
    "CL": _rates(OCTOBER_2026, 0.0889, 0.0200),
    "CO": _rates(OCTOBER_2026, 0.0125, 0.0008),
    "EG": _rates(OCTOBER_2026, 0.0644, 0.0036),
}
REST_OF_WORLD = _rates(JULY_2025, 0.0604, 0.0077)  # Meta's "Other" market


def starts(day: date) -> datetime:
    """An effective date takes effect at 00:00 UTC (Meta's cards name a day, not a time zone)."""
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at


def layered(ours: Sequence[MarketRates], theirs: Sequence[MarketRates] | None) -> tuple[MarketRates, ...]:
    """[rates]' entries over the built-in ones: theirs from their first date on (an undated first
    entry: always), ours before it."""
    if not theirs:
        return tuple(ours)
    first = theirs[0].effective
    if first is None:
        return tuple(theirs)
    return tuple(e for e in ours if e.effective is None or e.effective < first) + tuple(theirs)


def entry_at(entries: Sequence[MarketRates], at: datetime) -> MarketRates:
    """The entry in effect at `at`: the last one that started by then; before every start, the
    first (Meta's per-message pricing has no earlier card here)."""
    at = _utc(at)
    found = entries[0]
    for entry in entries:
        if entry.effective is None or starts(entry.effective) <= at:
            found = entry
        else:
            break
    return found


def service_rate(entry: MarketRates, at: datetime) -> tuple[float, date | None]:
    """A non-template message's rate and the date of the rule that set it: the entry's own, else
    free until SERVICE_CHARGED_FROM and the utility rate from then (a partner-reported rate)."""
    if entry.service is not None:
        return entry.service, None
    if _utc(at) >= starts(SERVICE_CHARGED_FROM):
        return entry.utility, SERVICE_CHARGED_FROM
    return 0.0, None


def utility_free_in_window(entry: MarketRates, card_default: bool | None, at: datetime) -> tuple[bool, date | None]:
    """Whether a utility template inside the customer's window is free: the entry says, else
    [rates] says, else Meta's rule (free until UTILITY_IN_WINDOW_CHARGED_FROM)."""
    if entry.utility_free_in_window is not None:
        return entry.utility_free_in_window, None
    if card_default is not None:
        return card_default, None
    if _utc(at) >= starts(UTILITY_IN_WINDOW_CHARGED_FROM):
        return False, UTILITY_IN_WINDOW_CHARGED_FROM
    return True, None


@dataclass(frozen=True)
class Charge:
    """Meta's charge for one delivered message, why it is free (None: it is not), and since when
    this price holds (the entry's date or a Meta rule's; None: since forever)."""

    amount: float
    free_reason: str | None
    effective: date | None


def _since(*days: date | None) -> date | None:
    known = [d for d in days if d is not None]
    return max(known) if known else None


@dataclass(frozen=True)
class RateCard:
    currency: str
    markets: Mapping[str, tuple[MarketRates, ...]]
    default: tuple[MarketRates, ...]
    utility_free_in_window: bool | None = None

    @classmethod
    def from_config(cls, rates: RatesConfig) -> "RateCard":
        """The built-in card with [rates] laid over it (see `layered`)."""
        default = layered(REST_OF_WORLD, rates.default)
        markets = {code: layered(DEFAULT_MARKETS.get(code, default), entries) for code, entries in rates.markets.items()}
        return cls(currency=rates.currency, markets={**DEFAULT_MARKETS, **markets}, default=default,
                   utility_free_in_window=rates.utility_free_in_window)

    def entries(self, country: str | None) -> tuple[MarketRates, ...]:
        return self.markets.get(country or "", self.default)

    def market(self, country: str | None, at: datetime) -> MarketRates:
        """The rates of `country` in effect at `at`."""
        return entry_at(self.entries(country), at)

    def boundaries(self) -> list[datetime]:
        """Every instant at which some price of this card may change, in order."""
        days = {e.effective for entries in (*self.markets.values(), self.default) for e in entries if e.effective}
        return sorted(starts(d) for d in days | set(META_RULE_DATES))

    def charge(self, *, category: str, form: str, country: str | None, at: datetime, window_open: bool,
               free_entry_point: bool) -> Charge:
        """Meta's charge for one message delivered at `at`."""
        entry = self.market(country, at)
        if free_entry_point:
            return Charge(0.0, FREE_ENTRY_POINT, entry.effective)
        if form == "freeform":
            amount, rule = service_rate(entry, at)
            return Charge(amount, None if amount > 0 else SERVICE, _since(entry.effective, rule))
        if category == "marketing":
            return _charged(entry.marketing, entry.effective)
        if category == "authentication":
            return _charged(entry.utility if entry.authentication is None else entry.authentication, entry.effective)
        free, rule = utility_free_in_window(entry, self.utility_free_in_window, at)
        if window_open and free:
            return Charge(0.0, IN_WINDOW_UTILITY, _since(entry.effective, rule))
        return _charged(entry.utility, _since(entry.effective, rule if window_open else None))

    def price(self, *, category: str, form: str, country: str | None, at: datetime, window_open: bool,
              free_entry_point: bool) -> float:
        return self.charge(category=category, form=form, country=country, at=at, window_open=window_open,
                           free_entry_point=free_entry_point).amount


def _charged(amount: float, effective: date | None) -> Charge:
    return Charge(amount, None if amount > 0 else ZERO_RATE, effective)


@dataclass(frozen=True)
class Priced:
    """What pricing needs of one planned message (a bot.campaigns.planner.Decision fits: its
    `send_at` is the planning time for a send, the due time for a deferral)."""

    form: str
    country: str | None
    window_open: bool
    free_entry_point: bool
    send_at: datetime | None = None


@dataclass
class Tally:
    """Charges added up into an estimate's dict (bot/campaigns/stats.py adds grouped counts)."""

    currency: str
    total: float = 0.0
    charged: int = 0
    free: int = 0
    by_category: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    by_country: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    free_by_reason: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FREE_REASONS, 0))
    effective: dict[str, set] = field(default_factory=lambda: defaultdict(set))

    def add(self, charge: Charge, *, category: str, country: str | None, count: int = 1) -> None:
        where = country or "unknown"
        self.effective[where].add(charge.effective)
        if charge.free_reason is not None:
            self.free += count
            self.free_by_reason[charge.free_reason] += count
            return
        amount = charge.amount * count
        self.charged += count
        self.total += amount
        self.by_category[category] += amount
        self.by_country[where] += amount

    def result(self) -> dict:
        """{"currency", "total", "charged", "free", "by_category", "by_country", "free_by_reason",
        "rates_effective": {country: [the dates since which its prices held; null: always]}}."""
        return {
            "currency": self.currency,
            "total": round(self.total, 4),
            "charged": self.charged,
            "free": self.free,
            "by_category": {k: round(v, 4) for k, v in sorted(self.by_category.items())},
            "by_country": {k: round(v, 4) for k, v in sorted(self.by_country.items())},
            "free_by_reason": dict(self.free_by_reason),
            "rates_effective": {k: sorted((d.isoformat() if d else None for d in days), key=lambda d: d or "")
                                for k, days in sorted(self.effective.items())},
        }


def estimate(messages: Iterable[Priced], category: str, card: RateCard, now: datetime | None = None) -> dict:
    """The cost of `messages`, each priced at its `send_at` (else `now`); see Tally.result."""
    tally = Tally(card.currency)
    for m in messages:
        at = m.send_at or now
        if at is None:
            raise ValueError("estimate: a message without send_at needs `now`")
        charge = card.charge(category=category, form=m.form, country=m.country, at=at, window_open=m.window_open,
                             free_entry_point=m.free_entry_point)
        tally.add(charge, category=category, country=m.country)
    return tally.result()
