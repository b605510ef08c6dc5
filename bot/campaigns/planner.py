"""The one planner for proactive messages: audience rows + campaign + policy + `now` -> one decision
per customer.

Campaigns and reorder prompts both go through `plan()`: skip (with its reason, docs/campaigns.md), send now
as free-form text (inside the customer's window, where it is free) or as the template (outside it),
or defer to a later time (quiet hours, the messaging tier). A decision carries the customer's language,
from which `message_for` picks the text (`texts.<lang>`, else `text`) and the template's language code
(its `languages` entry, else `language`). The free-form/template choice itself is
`bot.whatsapp.window.choose_form`'s. Pure: no database, network or clock; the caller loads the rows and
acts on the decisions.

Order of the checks, so that a preview's reasons say the most fundamental one:
no_wa_id, opted_out, no_consent, in_handoff, already_sent, frequency_cap,
window_closed_no_template | template_paused, blocked_country, recently_limited, quiet_hours (deferred),
tier_limit (deferred).
A template Meta reported unusable (`unusable_templates`, docs/campaigns.md "Template health") counts as
no template: outside the window that is `template_paused`, inside it the text goes without fallback; in a
test split the variants whose template is unusable for the customer are left out (`sample_variant`).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, timezone
from typing import Iterable, Literal, Mapping, Sequence
from zoneinfo import ZoneInfo

from phonenumbers import country_code_for_region
from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

from bot.core.config import (
    TEMPLATE_HEADER_TEXT,
    CampaignConfig,
    CampaignVariant,
    PolicyConfig,
    ReorderConfig,
    TemplateRef,
)
from bot.core.languages import primary
from bot.core.phones import address_country, is_user_id
from bot.whatsapp.messages import shorten
from bot.whatsapp.window import FREE_ENTRY_POINT_WINDOW, choose_form, window_open
from flows.replies import fill, label
from segments.sqlutil import sample_point_py

SKIP_REASONS = ("opted_out", "no_consent", "in_handoff", "frequency_cap", "quiet_hours", "already_sent",
                "window_closed_no_template", "no_wa_id", "blocked_country", "tier_limit", "template_paused",
                "recently_limited")
DEFER_REASONS = ("quiet_hours", "tier_limit")
TIER_WINDOW = timedelta(hours=24)
FREQUENCY_WINDOW = timedelta(days=7)

Category = Literal["marketing", "utility"]
Group = Literal["all", "test", "rest"]
Action = Literal["send", "defer", "skip"]


@dataclass(frozen=True, slots=True)
class Recipient:
    """What the planner needs to know about one customer, as of `now`."""

    customer_id: int
    wa_id: str | None
    last_inbound_at: datetime | None = None
    opted_out: bool = False
    marketing_paused: bool = False  # Meta's user_preferences "stop", or error 131050
    accepts_marketing: bool | None = None  # Shopify's consent
    consent_at: datetime | None = None  # START or another opt-in in chat
    conversation_state: str | None = None  # bot | pending | agent (None: never talked to an agent)
    marketing_sent_7d: int = 0  # marketing campaign/reorder messages in the 7 days before now
    already_reached: bool = False  # this campaign (or this reorder cycle) reached them already
    last_referral_at: datetime | None = None  # click-to-WhatsApp ad entry
    tier_counted: bool = False  # already among the number's unique business-initiated recipients of 24 h
    country: str | None = None  # the phone's ISO country when known; else derived from wa_id
    language: str | None = None  # one of the store's languages (segments/language.py); None: the defaults
    # Meta refused a marketing template to them with 131049 (its per-user limit) in the last 24 h.
    recently_limited: bool = False
    # Their business-scoped user id: their address when no phone number is known (docs/usernames.md).
    user_id: str | None = None

    @property
    def address(self) -> str | None:
        """Where a message to them goes: the phone number (`to`), else the BSUID (`recipient`)."""
        return self.wa_id or self.user_id


@dataclass(frozen=True)
class Offer:
    """One message the campaign may send: free-form text, a template, or both; the text may be
    translated into other languages of the store (`texts`), the template approved in several."""

    text: str | None = None
    template: TemplateRef | None = None
    texts: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, source: CampaignVariant | ReorderConfig) -> "Offer":
        """A campaign's variant, or [reorder]: both say text, texts and template."""
        return cls(text=source.text, template=source.template, texts=dict(source.texts))

    def text_in(self, language: str | None, default_language: str) -> tuple[str | None, str]:
        """(the free-form text for a customer of `language`, the language it is written in):
        texts.<language>, else text, which is the store's default language's."""
        if language in self.texts:
            return self.texts[language], language  # type: ignore[return-value]
        return self.text, default_language


@dataclass(frozen=True)
class CampaignPlan:
    """The campaign as the planner sees it for one run."""

    name: str
    category: Category
    offers: tuple[Offer, ...]
    group: Group = "all"  # the label its sends get: all (no test), test, rest (after promotion)
    test_fraction: float | None = None
    seed: str = ""
    offer_index: int = 0  # the variant sent when not sampling
    sample: bool = False  # keep only the test sample, each customer with their own variant

    @classmethod
    def from_config(cls, name: str, config: CampaignConfig, *, promoted_variant: int | None = None) -> "CampaignPlan":
        offers = tuple(Offer.of(v) for v in config.message_variants)
        if config.test_fraction is None:
            return cls(name, config.category, offers)
        if promoted_variant is None:
            return cls(name, config.category, offers, "test", config.test_fraction, config.seed or name, sample=True)
        return cls(name, config.category, offers, "rest", config.test_fraction, config.seed or name,
                   offer_index=promoted_variant)


@dataclass(frozen=True)
class TierState:
    """The messaging tier: how many unique customers got a business-initiated message in the last
    24 h, and when each of them stops counting (their last such message + 24 h), soonest first."""

    limit: int
    releases: tuple[datetime, ...] = ()

    @property
    def used(self) -> int:
        return len(self.releases)


@dataclass(frozen=True, slots=True)
class Decision:
    customer_id: int
    wa_id: str | None
    action: Action
    reason: str | None  # a skip or defer reason; None for a send
    form: Literal["freeform", "template"] | None
    send_at: datetime | None  # now for a send, the due time for a deferral
    group: Group
    variant: int
    country: str | None
    window_open: bool
    free_entry_point: bool  # inside the 72 h free window after a click-to-WhatsApp ad
    language: str | None = None  # the customer's: which text or template language they get


@dataclass
class Plan:
    decisions: list[Decision]
    held_back: int = 0  # audience members outside the test sample, left for `promote`
    summary: dict = field(default_factory=dict)
    unusable_templates: frozenset = frozenset()  # the (name, language code) pairs planned around

    def sends(self) -> list[Decision]:
        return [d for d in self.decisions if d.action == "send"]


# ---------------------------------------------------------------- test groups

def sample_point(seed: str, key: str) -> float:
    """A stable point in [0, 1) for one customer: the same for the same seed and wa_id forever,
    so the sample only grows as the audience grows and nobody ever changes variant. It is the
    rule language's `sample(FRACTION, "seed")`, so `test_fraction = 0.1` with seed "s" samples
    the same customers as `sample(0.1, "s")`."""
    return sample_point_py(seed, key) or 0.0


def sample_assignment(seed: str, key: str, fraction: float, variants: int) -> int | None:
    """The variant a customer tests, or None when they are outside the sample. The sample's share
    of [0, fraction) is cut into equal slices, one per variant."""
    point = sample_point(seed, key)
    if point >= fraction:
        return None
    return min(int(point / fraction * variants), variants - 1)


def sample_variant(seed: str, key: str, fraction: float, variants: int, usable: Sequence[int]) -> int | None:
    """`sample_assignment` with some variants left out (their template is unusable): a customer of
    a remaining variant keeps it; the slice of a left-out variant is cut again among the remaining
    ones, by where the customer's point falls in it, so they share its customers evenly and stably.
    With no variant remaining, the assignment stands (the send is then decided by the window)."""
    point = sample_point(seed, key)
    if point >= fraction:
        return None
    position = point / fraction * variants
    assigned = min(int(position), variants - 1)
    if assigned in usable or not usable:
        return assigned
    return usable[min(int((position - assigned) * len(usable)), len(usable) - 1)]


def template_code(template: TemplateRef | None, language: str | None) -> tuple[str, str] | None:
    """(name, language code) of the template a customer of `language` gets, as health is keyed."""
    if template is None:
        return None
    return template.name, template.language_for(language) if language else template.language


def sample_key(recipient: Recipient) -> str:
    return recipient.wa_id or f"customer:{recipient.customer_id}"


# ---------------------------------------------------------------- where and when the customer is

def phone_time_zones(wa_id: str | None) -> tuple[str, ...]:
    """Time zones for a number by its longest known prefix in phonenumbers' timezone data; for a
    BSUID, those of its country's calling code (the phone number is not known)."""
    if wa_id and is_user_id(wa_id):
        code = country_code_for_region(wa_id[:2])
        wa_id = str(code) if code else None
    if not wa_id or not wa_id.isdigit():
        return ()
    for length in range(min(TIMEZONE_LONGEST_PREFIX, len(wa_id)), 0, -1):
        zones = TIMEZONE_DATA.get(wa_id[:length])
        if zones:
            return tuple(z for z in zones if z != "Etc/Unknown")
    return ()


def customer_zone_name(wa_id: str | None, store_zone: str) -> str:
    """The customer's zone from the phone's prefix; the store's when the prefix does not say,
    or when the store's zone is one of several candidates (a toll-free +1 number, say)."""
    zones = phone_time_zones(wa_id)
    if not zones or store_zone in zones:
        return store_zone
    return zones[0]



def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def of(cls, policy: PolicyConfig) -> "QuietHours | None":
        if not policy.quiet_hours:
            return None
        return cls(_hhmm(policy.quiet_hours[0]), _hhmm(policy.quiet_hours[1]))

    def ends_at(self, now: datetime, zone: ZoneInfo) -> datetime | None:
        """When the quiet hours around `now` end in that zone (UTC), or None when it is not quiet."""
        local = now.astimezone(zone)
        clock = local.time().replace(tzinfo=None)
        if self.start < self.end:
            quiet = self.start <= clock < self.end
            end_day = local.date()
        else:  # across midnight, e.g. 21:00-09:00
            quiet = clock >= self.start or clock < self.end
            end_day = local.date() + timedelta(days=1) if clock >= self.start else local.date()
        if not quiet:
            return None
        end = datetime.combine(end_day, self.end, tzinfo=zone)
        return end.astimezone(timezone.utc)


# ---------------------------------------------------------------- the planner

def has_consent(recipient: Recipient, policy: PolicyConfig) -> bool:
    if policy.consent == "any":
        return True
    return recipient.accepts_marketing is True or recipient.consent_at is not None


def plan(recipients: Iterable[Recipient], campaign: CampaignPlan, policy: PolicyConfig, now: datetime, *,
         store_zone: str, tier: TierState, unusable_templates: frozenset = frozenset()) -> Plan:
    """One decision per customer of the run's audience (the test sample in a test run).
    `unusable_templates`: (name, language code) of the templates Meta paused, disabled, rejected or
    rated RED (bot/campaigns/template_health.py)."""

    def usable(offer: Offer, language: str | None) -> bool:
        return template_code(offer.template, language) not in unusable_templates

    marketing = campaign.category == "marketing"
    quiet = QuietHours.of(policy)
    blocked = frozenset(policy.blocked_marketing_countries)
    handoff_states = ("pending", "agent")
    zone_cache: dict[str, datetime | None] = {}
    zones: dict[str, ZoneInfo] = {}
    tier_free = max(0, tier.limit - tier.used)
    tier_deferred = 0
    decisions: list[Decision] = []
    held_back = 0

    def quiet_until(wa_id: str | None) -> datetime | None:
        if quiet is None:
            return None
        name = customer_zone_name(wa_id, store_zone)
        if name not in zone_cache:
            zones[name] = ZoneInfo(name)
            zone_cache[name] = quiet.ends_at(now, zones[name])
        return zone_cache[name]

    for r in recipients:
        variant = campaign.offer_index
        group = campaign.group
        if campaign.sample:
            assigned = sample_variant(campaign.seed, sample_key(r), campaign.test_fraction or 0.0,
                                      len(campaign.offers),
                                      [i for i, o in enumerate(campaign.offers) if usable(o, r.language)])
            if assigned is None:
                held_back += 1
                continue
            variant = assigned
        offer = campaign.offers[variant]
        is_open = window_open(r.last_inbound_at, now)
        address = r.address  # a phone number, or a username customer's BSUID
        country = r.country or address_country(address)  # stored at first contact; parsed when absent
        free_entry = r.last_referral_at is not None and now < r.last_referral_at + FREE_ENTRY_POINT_WINDOW

        def decide(action: Action, reason: str | None, form=None, at=None) -> Decision:
            return Decision(r.customer_id, address, action, reason, form, at, group, variant, country,
                            is_open, free_entry, r.language)

        if not address:
            decisions.append(decide("skip", "no_wa_id"))
            continue
        if r.opted_out or (marketing and r.marketing_paused):
            decisions.append(decide("skip", "opted_out"))
            continue
        if marketing and not has_consent(r, policy):
            decisions.append(decide("skip", "no_consent"))
            continue
        if r.conversation_state in handoff_states:
            decisions.append(decide("skip", "in_handoff"))
            continue
        if r.already_reached:
            decisions.append(decide("skip", "already_sent"))
            continue
        if marketing and r.marketing_sent_7d >= policy.max_marketing_per_7d:
            decisions.append(decide("skip", "frequency_cap"))
            continue
        template_ok = offer.template is not None and usable(offer, r.language)
        form = choose_form(r.last_inbound_at, now, has_text=offer.text is not None, has_template=template_ok).form
        if form == "none":
            paused = offer.template is not None and not template_ok
            decisions.append(decide("skip", "template_paused" if paused else "window_closed_no_template"))
            continue
        if marketing and form == "template" and country in blocked:
            decisions.append(decide("skip", "blocked_country"))
            continue
        if marketing and form == "template" and r.recently_limited:
            decisions.append(decide("skip", "recently_limited"))
            continue
        resume = quiet_until(address)
        if resume is not None:
            decisions.append(decide("defer", "quiet_hours", form, resume))
            continue
        if form == "template" and not r.tier_counted:
            if tier_free == 0:
                # The slot of the k-th oldest recipient frees when their 24 h pass; slots taken in
                # this run free 24 h from now.
                at = tier.releases[tier_deferred] if tier_deferred < len(tier.releases) else now + TIER_WINDOW
                tier_deferred += 1
                decisions.append(decide("defer", "tier_limit", form, max(at, now)))
                continue
            tier_free -= 1
        decisions.append(decide("send", None, form, now))

    result = Plan(decisions, held_back, unusable_templates=frozenset(unusable_templates))
    result.summary = summarize(decisions)
    return result


def summarize(decisions: Sequence[Decision]) -> dict:
    """The preview's counts: eligible = freeform + template, audience = eligible + every skip
    (deferrals are skips for now, by their reason)."""
    sends = [d for d in decisions if d.action == "send"]
    skipped = Counter(d.reason for d in decisions if d.action != "send")
    return {
        "audience": len(decisions),
        "eligible": len(sends),
        "freeform": sum(1 for d in sends if d.form == "freeform"),
        "template": sum(1 for d in sends if d.form == "template"),
        "skipped": {reason: skipped[reason] for reason in SKIP_REASONS if skipped[reason]},
    }


def count_by_language(decisions: Iterable[Decision], languages: Sequence[str]) -> dict[str, int]:
    """Decisions per customer language, every store language listed in the store's order (a
    language nobody speaks shows 0, so that a preview says so)."""
    counts = Counter(d.language for d in decisions)
    return {code: counts[code] for code in languages}


# ---------------------------------------------------------------- what the message says

@dataclass(frozen=True)
class MessageSpec:
    """A decided message, before it becomes a Graph API body (bot.whatsapp.graph builds that)."""

    form: Literal["freeform", "template"]
    text: str | None = None
    buttons: tuple[tuple[str, str], ...] = ()  # (id, title) reply buttons on the free-form text
    template_name: str | None = None
    template_language: str | None = None
    template_params: tuple[str, ...] = ()
    quick_replies: tuple[str, ...] = ()
    fallback: "MessageSpec | None" = None  # the template, should Meta refuse the text (131047)
    template_header: tuple[str, str] | None = None  # ("image" | "video" | "document", link) or ("text", text)
    coupon_code: str | None = None  # the copy-code button's code
    url_suffix: str | None = None  # the dynamic URL button's parameter
    template_buttons: tuple[str, ...] | None = None  # the template's buttons by index (TemplateRef.buttons)


def template_spec(template: TemplateRef, values: Mapping[str, object], store_name: str,
                  language: str | None = None, default_language: str = "en") -> MessageSpec:
    """The template for a customer of `language`: in its `languages` entry of that language, else in
    its `language`; the parameters filled in the language of the code chosen, so that a missing
    first name reads right in it. With no customer language: `language`, filled in the default's."""
    code = template.language_for(language) if language else template.language
    written = (primary(code) or default_language) if language else default_language
    if not values.get("first_name"):
        # Meta refuses an empty parameter, and "Hola -" reads worse than "Hola cliente".
        values = {**values, "first_name": label(written, "no_name_in_template")}
    header = None
    if template.header is not None:
        if template.header.type == "text":
            # a first name or product title can make it long: Meta allows 60 characters
            header = ("text", shorten(fill(template.header.text or "", values, store_name, written) or "-",
                                      TEMPLATE_HEADER_TEXT))
        else:
            header = (template.header.type, template.header.link or "")
    # like a body parameter, never empty (Meta refuses that); a copy code from {discount_code} is
    # checked at start (runs.check_coupon_codes)
    extra = {key: fill(getattr(template, key), values, store_name, written) or "-"
             for key in ("coupon_code", "url_suffix") if getattr(template, key) is not None}
    return MessageSpec("template", template_name=template.name, template_language=code,
                       template_params=tuple(fill(p, values, store_name, written) or "-" for p in template.body),
                       quick_replies=tuple(fill(q, values, store_name, written) for q in template.quick_replies),
                       template_header=header, template_buttons=template.buttons(), **extra)


def message_for(offer: Offer, form: str, values: Mapping[str, object], store_name: str,
                buttons: Sequence[tuple[str, str]] = (), *, language: str | None = None,
                default_language: str = "en", unusable_templates: frozenset = frozenset()) -> MessageSpec:
    """The message of one decision for a customer of `language` (None: the offer's defaults).
    Free-form text carries the template as its fallback, unless the template is unusable."""
    if form == "template":
        if offer.template is None:
            raise ValueError("a template send without a template")
        return template_spec(offer.template, values, store_name, language, default_language)
    text, written = offer.text_in(language, default_language)
    if text is None:
        raise ValueError("a free-form send without text")
    # The text and its fallback template may be in different languages (a text not translated into
    # the customer's, a template that is): each is filled in its own, so no `with_defaults` up front.
    fallback = (template_spec(offer.template, values, store_name, language, default_language)
                if offer.template and template_code(offer.template, language) not in unusable_templates else None)
    return MessageSpec("freeform", text=fill(text, values, store_name, written), buttons=tuple(buttons),
                       fallback=fallback)


def button_id(campaign: str, intent: str, index: int) -> str:
    """A campaign button's reply id: `<intent>:campaign:<campaign>:<index>`. The router routes a
    tapped id by its first part; the rest keeps a message's ids distinct (bot/campaigns/buttons.py)."""
    return f"{intent}:campaign:{campaign}:{index}"


def campaign_buttons(name: str, buttons: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """(reply id, title) of a campaign's reply buttons, from their (title, intent)."""
    return tuple((button_id(name, intent, index), title) for index, (title, intent) in enumerate(buttons))
