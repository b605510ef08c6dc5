"""A generated store for campaign tests: customers of several countries with every state the sending
rules look at, written straight into the database, and an independent oracle of what the contract
says each of them should get.

The oracle is written from the contract's words, not from bot/campaigns/planner.py: it reads time zones
with phonenumbers' own `time_zones_for_number` and counts windows and caps itself.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import phonenumbers
import sqlalchemy as sa
from phonenumbers import timezone as phone_timezone

from bot.core.tables import conversations, customers, outbox
from segments.tables import customer_tags

UTC = timezone.utc
PREFIXES = {"US": "1212555", "BR": "5511987", "DE": "4915123", "IN": "9198765"}

# The store and sending policy the campaign tests configure, and that `oracle` assumes.
NOW = datetime(2026, 8, 18, 14, 0, tzinfo=UTC)  # 10:00 New York (EDT), 11:00 São Paulo, 16:00 Berlin (CEST), 19:30 India
INDIA_MORNING = datetime(2026, 8, 19, 2, 30, tzinfo=UTC)  # 08:00 in India: the end of its quiet hours
QUIET = (time(18, 0), time(8, 0))
STORE_ZONE = "America/New_York"
CAP = 2
TIER = 250  # Meta's first messaging tier; the generated stores stay under it (`oracle` checks)
POLICY_TOML = f"""
[store]
name = "Acme"
timezone = "{STORE_ZONE}"

[policy]
consent = "opt_in"
max_marketing_per_7d = {CAP}
quiet_hours = ["18:00", "08:00"]
daily_unique_limit = {TIER}
"""


@dataclass
class StoreCustomer:
    id: int
    wa_id: str | None
    country: str
    first_name: str
    last_inbound_at: datetime | None
    opted_out: bool
    marketing_paused: bool
    accepts_marketing: bool | None
    consent_at: datetime | None
    state: str | None
    marketing_7d: int
    in_audience: bool
    referral_at: datetime | None = None


@dataclass
class Store:
    now: datetime
    people: list[StoreCustomer] = field(default_factory=list)

    def by_wa_id(self, wa_id: str) -> StoreCustomer:
        return next(p for p in self.people if p.wa_id == wa_id)

    def last_inbound(self, wa_id: str) -> datetime | None:
        found = [p for p in self.people if p.wa_id == wa_id]
        return found[0].last_inbound_at if found else None


def generate(engine: sa.Engine, now: datetime, n: int = 120, seed: int = 7, tag: str = "audience") -> Store:
    rng = random.Random(seed)
    store = Store(now)
    with engine.begin() as conn:
        for i in range(n):
            country = rng.choice(list(PREFIXES))
            wa_id = None if rng.random() < 0.04 else PREFIXES[country] + f"{i:05d}"
            last = rng.choice([None, now - timedelta(hours=rng.uniform(0.1, 23.9)),
                               now - timedelta(hours=rng.uniform(24.1, 400))])
            person = StoreCustomer(
                id=0, wa_id=wa_id, country=country, first_name=f"Name{i}", last_inbound_at=last,
                opted_out=rng.random() < 0.08, marketing_paused=rng.random() < 0.05,
                accepts_marketing=rng.choice([True, True, None, False]),
                consent_at=now - timedelta(days=3) if rng.random() < 0.2 else None,
                state=rng.choice([None, None, None, "bot", "pending", "agent"]),
                marketing_7d=rng.choice([0, 0, 0, 1, 2, 3]), in_audience=rng.random() < 0.85,
                referral_at=now - timedelta(hours=10) if rng.random() < 0.05 else None,
            )
            person.id = conn.execute(sa.insert(customers).values(
                wa_id=wa_id, first_name=person.first_name, phone_country=country if wa_id else None,
                accepts_marketing=person.accepts_marketing, consent_at=person.consent_at,
                opted_out=person.opted_out, marketing_paused=person.marketing_paused,
                last_inbound_at=last, first_inbound_at=last, last_referral_at=person.referral_at,
                created_at=now - timedelta(days=90), updated_at=now - timedelta(days=1),
            ).returning(customers.c.id)).scalar_one()
            if person.state:
                conn.execute(sa.insert(conversations).values(customer_id=person.id, state=person.state,
                                                             state_changed_at=now - timedelta(hours=1)))
            if person.in_audience:
                conn.execute(sa.insert(customer_tags).values(customer_id=person.id, tag=tag))
            for k in range(person.marketing_7d):
                sent = now - timedelta(days=rng.uniform(0.5, 6.5))
                conn.execute(sa.insert(outbox).values(
                    customer_id=person.id, recipient=wa_id or f"x{i}", kind="campaign", category="marketing",
                    payload={"type": "text", "text": {"body": "earlier"}}, state="delivered", attempts=1,
                    not_before=sent, created_at=sent, sent_at=sent, delivered_at=sent,
                    dedupe_key=f"earlier:{person.id}:{k}"))
            store.people.append(person)
    return store


class TagAudience:
    """Campaign audiences for tests that do not need the segment engine: customers with the tag
    named by the segment."""

    def member_ids(self, conn, now, *, segment=None, rule=None):
        return sa.select(customer_tags.c.customer_id).where(customer_tags.c.tag == segment)


# ---------------------------------------------------------------- the oracle

def local_zone(wa_id: str, store_zone: str) -> ZoneInfo:
    zones = [z for z in phone_timezone.time_zones_for_number(phonenumbers.parse("+" + wa_id))
             if z != "Etc/Unknown"]
    return ZoneInfo(zones[0] if len(zones) == 1 else store_zone)


def quiet_end(now: datetime, zone: ZoneInfo, start: time, end: time) -> datetime | None:
    local = now.astimezone(zone)
    t = local.time()
    if start <= end:
        return datetime.combine(local.date(), end, zone).astimezone(UTC) if start <= t < end else None
    if t >= start:
        return datetime.combine(local.date() + timedelta(days=1), end, zone).astimezone(UTC)
    if t < end:
        return datetime.combine(local.date(), end, zone).astimezone(UTC)
    return None


def expected(person: StoreCustomer, now: datetime, *, has_text: bool, has_template: bool,
             quiet: tuple[time, time] | None, store_zone: str, cap: int, consent: str = "opt_in",
             blocked: tuple[str, ...] = ()) -> tuple[str, str | None]:
    """(what, how): ("skip", reason) | ("defer", form) | ("send", form) for a marketing campaign,
    the tier not being a limit."""
    if not person.wa_id:
        return "skip", "no_wa_id"
    if person.opted_out or person.marketing_paused:
        return "skip", "opted_out"
    if consent == "opt_in" and not (person.accepts_marketing or person.consent_at):
        return "skip", "no_consent"
    if person.state in ("pending", "agent"):
        return "skip", "in_handoff"
    if person.marketing_7d >= cap:
        return "skip", "frequency_cap"
    window = person.last_inbound_at is not None and now - person.last_inbound_at < timedelta(hours=24)
    form = "freeform" if window and has_text else "template" if has_template else None
    if form is None:
        return "skip", "window_closed_no_template"
    if form == "template" and person.country in blocked:
        return "skip", "blocked_country"
    if quiet and quiet_end(now, local_zone(person.wa_id, store_zone), *quiet):
        return "defer", form
    return "send", form


def oracle(store: Store, now: datetime, *, has_text: bool = True, has_template: bool = True,
           **kwargs) -> dict[int, tuple[str, str | None]]:
    """`expected` for everyone in the audience, under POLICY_TOML. The tier (TIER unique template
    recipients a day) is not modelled here, so this checks that it does not bind (tests/integration/
    test_tier_limit.py is about the tier)."""
    want = {p.id: expected(p, now, has_text=has_text, has_template=has_template, quiet=QUIET, store_zone=STORE_ZONE,
                           cap=CAP, **kwargs) for p in store.people if p.in_audience}
    assert sum(1 for what, how in want.values() if how == "template" and what != "skip") <= TIER
    return want
