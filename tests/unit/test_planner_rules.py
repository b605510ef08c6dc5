"""The planner's rules at their edges (bot/campaigns/planner.py, docs/campaigns.md), each expected
value written by hand: the whole decision, the preview's counts, the frequency cap, the messaging
tier when it is full, quiet hours around midnight, the test groups, and the messages. Kills the
mutants docs/mutation.md lists for the planner."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.campaigns.planner import (
    CampaignPlan,
    Decision,
    Offer,
    QuietHours,
    Recipient,
    TierState,
    campaign_buttons,
    has_consent,
    message_for,
    phone_time_zones,
    plan,
    sample_assignment,
    sample_point,
    template_spec,
)
from bot.core.config import CampaignConfig, PolicyConfig, TemplateRef

UTC = timezone.utc
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)  # 11:00 in New York
NY = "12125550100"
TEMPLATE = TemplateRef(name="promo", language="pt_BR", body=("{first_name}", "{code}"), quick_replies=("buy:{code}",))
BOTH = CampaignPlan("promo", "marketing", (Offer(text="Hi {first_name}", template=TEMPLATE),))
POLICY = PolicyConfig(quiet_hours=(), max_marketing_per_7d=3, daily_unique_limit=1000)
OPEN = NOW - timedelta(hours=2)
CLOSED = NOW - timedelta(days=3)
TIER = TierState(limit=1000)
TICK = timedelta(microseconds=1)


def person(customer_id=1, wa_id=NY, **facts) -> Recipient:
    facts.setdefault("accepts_marketing", True)
    return Recipient(customer_id=customer_id, wa_id=wa_id, **facts)


def run(people, campaign=BOTH, policy=POLICY, now=NOW, tier=TIER, store_zone="America/New_York"):
    return plan(people, campaign, policy, now, store_zone=store_zone, tier=tier)


def one(r, **kw) -> Decision:
    (decision,) = run([r], **kw).decisions
    return decision


# ---------------------------------------------------------------- the whole decision and the preview

def test_a_send_decision_in_full():
    d = one(person(7, last_inbound_at=OPEN, last_referral_at=NOW - timedelta(hours=72) + TICK))
    assert d == Decision(7, NY, "send", None, "freeform", NOW, "all", 0, "US", True, True)


def test_a_skip_decision_in_full():
    d = one(person(8, last_inbound_at=CLOSED, opted_out=True, country="BR"))
    assert d == Decision(8, NY, "skip", "opted_out", None, None, "all", 0, "BR", False, False)


def test_the_preview_counts_each_outcome_and_lists_only_the_reasons_that_occur():
    people = [
        person(1, last_inbound_at=OPEN),                           # free-form
        person(2, last_inbound_at=CLOSED),                         # template
        person(3, last_inbound_at=CLOSED, tier_counted=True),      # template
        person(4, opted_out=True),
        person(5, wa_id=None),
        person(6, already_reached=True),
        person(7, already_reached=True),
    ]
    result = run(people)
    assert result.summary == {"audience": 7, "eligible": 3, "freeform": 1, "template": 2,
                              "skipped": {"opted_out": 1, "already_sent": 2, "no_wa_id": 1}}
    assert list(result.summary["skipped"]) == ["opted_out", "already_sent", "no_wa_id"]  # in SKIP_REASONS order
    assert [d.customer_id for d in result.sends()] == [1, 2, 3]
    assert result.held_back == 0


def test_a_deferral_is_counted_among_the_skips_by_its_reason():
    quiet = POLICY.model_copy(update={"quiet_hours": ("21:00", "09:00")})
    at = datetime(2026, 3, 11, 3, 0, tzinfo=UTC)  # 23:00 in New York
    result = run([person(1), person(2, opted_out=True)], policy=quiet, now=at)
    assert result.summary == {"audience": 2, "eligible": 0, "freeform": 0, "template": 0,
                              "skipped": {"opted_out": 1, "quiet_hours": 1}}


# ---------------------------------------------------------------- consent and the frequency cap

def test_the_frequency_cap_allows_one_less_than_the_maximum():
    assert one(person(marketing_sent_7d=2)).action == "send"
    assert one(person(marketing_sent_7d=3)).reason == "frequency_cap"
    never = POLICY.model_copy(update={"max_marketing_per_7d": 0})
    assert one(person(marketing_sent_7d=0), policy=never).reason == "frequency_cap"


@pytest.mark.parametrize("accepts, consent_at, consent, expected", [
    (True, None, "opt_in", True),
    (None, None, "opt_in", False),
    (False, None, "opt_in", False),
    (False, NOW - timedelta(days=1), "opt_in", True),  # START in chat counts, whatever Shopify says
    (None, NOW - timedelta(days=1), "opt_in", True),
    (False, None, "any", True),
])
def test_consent(accepts, consent_at, consent, expected):
    r = person(accepts_marketing=accepts, consent_at=consent_at)
    assert has_consent(r, PolicyConfig(consent=consent)) is expected


# ---------------------------------------------------------------- the messaging tier when it is full

def test_a_full_tier_defers_the_first_new_template_recipient_to_the_oldest_release():
    releases = (NOW + timedelta(hours=1), NOW + timedelta(hours=5))
    full = TierState(limit=2, releases=releases)
    d = one(person(last_inbound_at=CLOSED), tier=full)
    assert (d.action, d.reason, d.form, d.send_at) == ("defer", "tier_limit", "template", NOW + timedelta(hours=1))
    # over the limit (it was lowered): still nothing free, never a negative count
    over = TierState(limit=1, releases=releases)
    assert one(person(last_inbound_at=CLOSED), tier=over).reason == "tier_limit"
    # with one slot free, one new recipient is sent to and the next waits for the oldest release
    one_free = TierState(limit=3, releases=releases)
    result = run([person(1, last_inbound_at=CLOSED), person(2, "12125550101", last_inbound_at=CLOSED)], tier=one_free)
    assert [(d.action, d.send_at) for d in result.decisions] == [("send", NOW), ("defer", NOW + timedelta(hours=1))]


def test_a_release_already_past_defers_to_now_not_to_the_past():
    stale = TierState(limit=1, releases=(NOW - timedelta(minutes=5),))
    assert one(person(last_inbound_at=CLOSED), tier=stale).send_at == NOW


def test_a_full_tier_holds_back_neither_free_form_nor_counted_recipients():
    full = TierState(limit=1, releases=(NOW + timedelta(hours=1),))
    assert one(person(last_inbound_at=OPEN), tier=full).action == "send"
    assert one(person(last_inbound_at=CLOSED, tier_counted=True), tier=full).action == "send"


# ---------------------------------------------------------------- quiet hours around midnight

NIGHT = QuietHours(time(21, 0), time(9, 0))
LISBON = ZoneInfo("Europe/Lisbon")


def lisbon(day, hour, minute=0):
    return datetime(2026, 6, day, hour, minute, tzinfo=LISBON)


@pytest.mark.parametrize("at, ends", [
    (lisbon(1, 20, 59), None),
    (lisbon(1, 21, 0), lisbon(2, 9, 0)),   # from the start, to the next morning
    (lisbon(1, 23, 59), lisbon(2, 9, 0)),
    (lisbon(2, 0, 0), lisbon(2, 9, 0)),    # after midnight, to the same morning
    (lisbon(2, 8, 59), lisbon(2, 9, 0)),
    (lisbon(2, 9, 0), None),               # the end is not quiet
])
def test_quiet_hours_across_midnight(at, ends):
    assert NIGHT.ends_at(at, LISBON) == ends
    if ends is not None:
        assert NIGHT.ends_at(at, LISBON).tzinfo == UTC


def test_quiet_hours_from_the_policy():
    assert QuietHours.of(PolicyConfig(quiet_hours=("22:30", "07:15"))) == QuietHours(time(22, 30), time(7, 15))
    assert QuietHours.of(PolicyConfig(quiet_hours=())) is None


def test_each_zone_gets_its_own_quiet_hours_in_one_run():
    quiet = POLICY.model_copy(update={"quiet_hours": ("21:00", "09:00")})
    at = datetime(2026, 3, 11, 1, 30, tzinfo=UTC)  # 21:30 in New York, 22:30 in São Paulo, 02:30 in Berlin
    people = [person(1, NY), person(2, "5511987650000"), person(3, "4915112345678"), person(4, "12125550111")]
    send_at = [d.send_at for d in run(people, policy=quiet, now=at).decisions]
    assert send_at == [datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("America/New_York")),
                       datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("America/Sao_Paulo")),
                       datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("Europe/Berlin")),
                       datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("America/New_York"))]


def test_phone_time_zones_by_the_longest_known_prefix():
    assert phone_time_zones("12125550100") == ("America/New_York",)
    assert phone_time_zones("4915112345678") == ("Europe/Berlin",)
    assert phone_time_zones("5511987650000") == ("America/Sao_Paulo",)
    assert phone_time_zones("user-abc") == () and phone_time_zones(None) == () and phone_time_zones("") == ()
    assert phone_time_zones("8816123456") == ()  # a satellite number: no zone of its own
    # a number known only by its one-digit country code (+1 with an unassigned area code) gets all of
    # the country's zones, so the store's zone is used when it is one of them
    zones = phone_time_zones("15550001111")
    assert {"America/New_York", "America/Los_Angeles", "America/Anchorage"} <= set(zones)


# ---------------------------------------------------------------- test groups

def test_the_sample_edge_is_the_fraction_itself():
    point = sample_point("s", "15550001111")
    assert 0 <= point < 1
    assert sample_assignment("s", "15550001111", point, 2) is None  # a point at the fraction is outside
    above = point + 1e-9
    assert sample_assignment("s", "15550001111", above, 1) == 0
    assert sample_assignment("s", "15550001111", above, 3) == 2  # the very top of the sample: the last variant


def test_variants_split_the_sample_into_equal_slices():
    keys = [f"1555{n:07d}" for n in range(400)]
    for key in keys:
        point = sample_point("s", key)
        expected = None if point >= 0.5 else (0 if point < 0.25 else 1)
        assert sample_assignment("s", key, 0.5, 2) == expected


def test_from_config_without_a_test():
    config = CampaignConfig(segment="all", text="A", template={"name": "promo"})
    p = CampaignPlan.from_config("spring", config)
    assert (p.name, p.category, p.group, p.test_fraction, p.seed, p.offer_index, p.sample) == (
        "spring", "marketing", "all", None, "", 0, False)
    assert p.offers == (Offer(text="A", template=TemplateRef(name="promo")),)


def test_from_config_test_run_and_rest_run():
    config = CampaignConfig(segment="all", category="utility", variants=[{"text": "A"}, {"text": "B"}],
                            test_fraction=0.2)
    test = CampaignPlan.from_config("spring", config)
    assert (test.name, CampaignPlan.from_config("spring", config, promoted_variant=0).name) == (
        "spring", "spring")
    assert (test.category, test.group, test.test_fraction, test.seed, test.sample) == ("utility", "test", 0.2,
                                                                                      "spring", True)
    seeded = CampaignPlan.from_config("spring", config.model_copy(update={"seed": "s2"}))
    assert seeded.seed == "s2"
    rest = CampaignPlan.from_config("spring", config, promoted_variant=1)
    assert (rest.group, rest.test_fraction, rest.seed, rest.offer_index, rest.sample) == ("rest", 0.2, "spring", 1,
                                                                                         False)


def test_a_rest_run_sends_the_promoted_variant_to_everyone():
    campaign = CampaignPlan("c", "marketing", (Offer(text="A"), Offer(text="B")), "rest", 0.2, "c", offer_index=1)
    result = run([person(i, f"1555{i:07d}", last_inbound_at=OPEN) for i in range(20)], campaign=campaign)
    assert result.held_back == 0 and {(d.group, d.variant, d.action) for d in result.decisions} == {("rest", 1, "send")}


def test_a_test_run_keeps_only_the_sample_and_counts_the_rest_held_back():
    campaign = CampaignPlan("c", "marketing", (Offer(text="A"), Offer(text="B")), "test", 0.5, "c", sample=True)
    people = [person(i, f"1555{i:07d}", last_inbound_at=OPEN) for i in range(200)]
    result = run(people, campaign=campaign)
    expected = {r.customer_id: sample_assignment("c", r.wa_id, 0.5, 2) for r in people}
    assert {d.customer_id: d.variant for d in result.decisions} == {k: v for k, v in expected.items() if v is not None}
    assert result.held_back == sum(1 for v in expected.values() if v is None) > 0
    assert {d.group for d in result.decisions} == {"test"}


def test_a_customer_without_a_number_is_sampled_by_customer_id():
    campaign = CampaignPlan("c", "marketing", (Offer(text="A"),), "test", 1.0, "c", sample=True)
    d = one(person(42, wa_id=None), campaign=campaign)
    assert (d.reason, d.variant) == ("no_wa_id", 0)
    assert sample_assignment("c", "customer:42", 1.0, 1) == 0


# ---------------------------------------------------------------- the messages

def test_a_template_message_fills_its_parameters_and_quick_replies():
    spec = template_spec(TEMPLATE, {"first_name": "Ana", "code": "X1"}, "Acme")
    assert (spec.form, spec.template_name, spec.template_language) == ("template", "promo", "pt_BR")
    assert (spec.template_params, spec.quick_replies, spec.text, spec.fallback) == (("Ana", "X1"), ("buy:X1",),
                                                                                   None, None)


def test_a_template_fills_the_store_name_itself():
    shop = TemplateRef(name="shop", body=("{store_name}", "{first_name}"), quick_replies=("visit:{store_name}",))
    spec = template_spec(shop, {}, "Acme")
    assert (spec.template_params, spec.quick_replies) == (("Acme", "there"), ("visit:Acme",))


def test_an_empty_template_parameter_is_sent_as_a_dash():
    spec = template_spec(TEMPLATE, {"first_name": "Ana", "code": ""}, "Acme")
    assert spec.template_params == ("Ana", "-")


def test_message_for_each_form():
    values = {"first_name": "", "code": "Z9"}
    freeform = message_for(BOTH.offers[0], "freeform", values, "Acme", buttons=[("campaign:promo:0", "Shop")])
    assert (freeform.form, freeform.text, freeform.buttons) == ("freeform", "Hi there", (("campaign:promo:0", "Shop"),))
    assert freeform.fallback == template_spec(TEMPLATE, {"first_name": "there", "code": "Z9"}, "Acme")
    text_only = message_for(Offer(text="Hello from {store_name}"), "freeform", {}, "Acme")
    assert (text_only.text, text_only.fallback, text_only.buttons) == ("Hello from Acme", None, ())
    template = message_for(BOTH.offers[0], "template", values, "Acme")
    assert (template.form, template.template_params, template.text) == ("template", ("there", "Z9"), None)
    with pytest.raises(ValueError, match="^a template send without a template$"):
        message_for(Offer(text="Hi"), "template", {}, "Acme")
    with pytest.raises(ValueError, match="^a free-form send without text$"):
        message_for(Offer(template=TEMPLATE), "freeform", {}, "Acme")


def test_campaign_buttons_lead_to_their_intents_and_are_numbered_from_zero():
    assert campaign_buttons("spring", [("Shop", "recommend"), ("Later", "recommend")]) == (
        ("recommend:campaign:spring:0", "Shop"), ("recommend:campaign:spring:1", "Later"))
    assert campaign_buttons("spring", []) == ()
