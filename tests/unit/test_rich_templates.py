"""Rich templates (a media or text header, a copy-code button, a dynamic URL button, quick replies):
their configuration checks, the body in Meta's shape, and the planner's template health and
per-user marketing limit rules (docs/campaigns.md)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.campaigns.planner import (
    CampaignPlan,
    Offer,
    Recipient,
    TierState,
    message_for,
    plan,
    sample_assignment,
    sample_variant,
    template_spec,
)
from bot.campaigns.runs import graph_payload
from bot.core.config import PolicyConfig, TemplateRef, parse_file_config
from bot.core.errors import ConfigError
from bot.whatsapp import messages
from tests.support.fake_graph import check_body

UTC = timezone.utc
NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
NY = "12125550100"
OPEN, CLOSED = NOW - timedelta(hours=2), NOW - timedelta(days=3)
POLICY = PolicyConfig(quiet_hours=(), max_marketing_per_7d=5, daily_unique_limit=1000)
RICH = TemplateRef(name="spring_sale", language="en_US", body=("{first_name}", "{discount_code}"),
                   header={"type": "image", "link": "https://cdn.example/spring.jpg"},
                   coupon_code="{discount_code}", quick_replies=("stop_promos",), url_suffix="spring?c={discount_code}")


def envelope(message: dict) -> dict:
    return {"messaging_product": "whatsapp", "to": NY, **message}


# ---------------------------------------------------------------- Meta's shape

def test_a_media_header_and_a_copy_code_button_in_metas_shape():
    body = messages.template_message("spring_sale", "en_US", ["Ana", "SAVE10"], ["stop_promos"],
                                     header=("image", "https://cdn.example/spring.jpg"), coupon_code="SAVE10",
                                     url_suffix="spring?c=SAVE10")
    assert body == {"type": "template", "template": {"name": "spring_sale", "language": {"code": "en_US"}, "components": [
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://cdn.example/spring.jpg"}}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "SAVE10"}]},
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "stop_promos"}]},
        {"type": "button", "sub_type": "copy_code", "index": "1",
         "parameters": [{"type": "coupon_code", "coupon_code": "SAVE10"}]},
        {"type": "button", "sub_type": "url", "index": "2", "parameters": [{"type": "text", "text": "spring?c=SAVE10"}]},
    ]}}
    assert check_body(envelope(body)) is None


@pytest.mark.parametrize("kind", ["video", "document"])
def test_video_and_document_headers(kind):
    body = messages.template_message("t", "en_US", header=(kind, "https://cdn.example/f"))
    assert body["template"]["components"] == [{"type": "header", "parameters": [{"type": kind, kind: {"link": "https://cdn.example/f"}}]}]
    assert check_body(envelope(body)) is None


def test_a_text_header_fills_its_parameter():
    body = messages.template_message("t", "en_US", header=("text", "Ana's picks"))
    assert body["template"]["components"] == [{"type": "header", "parameters": [{"type": "text", "text": "Ana's picks"}]}]


def test_button_order_puts_each_button_at_its_index_and_static_ones_keep_theirs():
    body = messages.template_message("t", "en_US", quick_reply_payloads=["a", "b"], coupon_code="X",
                                     url_suffix="s", button_order=["copy_code", "static", "url", "quick_reply", "quick_reply"])
    buttons = [(c["sub_type"], c["index"]) for c in body["template"]["components"]]
    assert buttons == [("copy_code", "0"), ("url", "2"), ("quick_reply", "3"), ("quick_reply", "4")]
    assert check_body(envelope(body)) is None


@pytest.mark.parametrize("kwargs, problem", [
    ({"coupon_code": "X" * 16}, "coupon code"),
    ({"coupon_code": ""}, "coupon code is empty"),
    ({"header": ("image", "http://cdn.example/a.jpg")}, "https"),
    ({"header": ("text", "x" * 61)}, "longer than 60"),
    ({"header": ("audio", "https://cdn.example/a.mp3")}, "header type"),
])
def test_the_builder_refuses_what_meta_would(kwargs, problem):
    with pytest.raises(messages.MessageLimitError, match=problem):
        messages.template_message("t", "en_US", **kwargs)


def test_the_planned_spec_fills_the_rich_parts_and_becomes_metas_body():
    spec = template_spec(RICH, {"first_name": "Ana", "discount_code": "SAVE10"}, "Acme")
    assert (spec.template_header, spec.coupon_code, spec.url_suffix) == (
        ("image", "https://cdn.example/spring.jpg"), "SAVE10", "spring?c=SAVE10")
    body = graph_payload(spec)
    assert [c.get("sub_type", c["type"]) for c in body["template"]["components"]] == \
        ["header", "body", "quick_reply", "copy_code", "url"]
    assert check_body(envelope(body)) is None


def test_a_long_filled_text_header_is_shortened_to_metas_60():
    template = TemplateRef(name="t", header={"type": "text", "text": "Picks for {first_name}"})
    spec = template_spec(template, {"first_name": "A" * 80}, "Acme")
    assert spec.template_header[0] == "text" and len(spec.template_header[1]) == 60


# ---------------------------------------------------------------- configuration checks

def campaign_error(template: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_file_config({"campaigns": {"promo": {"segment": "vip", "template": {"name": "t", **template}}}})
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("template, key, words", [
    ({"header": {"type": "image", "link": "http://cdn.example/a.jpg"}}, "campaigns.promo.template.header", "https://"),
    ({"header": {"type": "image"}}, "campaigns.promo.template.header", "link"),
    ({"header": {"type": "text", "text": "x" * 61}}, "campaigns.promo.template.header", "60"),
    ({"header": {"type": "gif", "link": "https://a.example/x"}}, "campaigns.promo.template.header.type", "image"),
    ({"header": {"type": "text", "text": "Hi {nickname}"}}, "campaigns.promo", "header.text"),
    ({"coupon_code": "SPRING-SALE-2026"}, "campaigns.promo.template", "15"),
    ({"coupon_code": "{coupon}"}, "campaigns.promo", "template.coupon_code"),
    ({"url_suffix": "a b"}, "campaigns.promo.template", "url_suffix"),
    ({"quick_replies": [f"q{i}" for i in range(11)]}, "campaigns.promo.template", "10"),
    ({"quick_replies": ["a", "b"], "coupon_code": "X", "button_order": ["quick_reply", "copy_code", "quick_reply"]},
     "campaigns.promo.template", "together"),
    ({"coupon_code": "X", "button_order": ["url"]}, "campaigns.promo.template", "button_order"),
])
def test_config_errors_are_one_line_and_name_the_key(template, key, words):
    message = campaign_error(template)
    assert key in message and words in message, message


def test_a_rich_template_loads():
    config = parse_file_config({"campaigns": {"promo": {"segment": "vip", "template": {
        "name": "t", "body": ["{first_name}"], "header": {"type": "text", "text": "For {first_name}"},
        "coupon_code": "{discount_code}", "url_suffix": "{discount_code}"}}}})
    assert config.campaigns["promo"].template.buttons() == ("copy_code", "url")


# ---------------------------------------------------------------- planning around unusable templates

def recipient(customer_id: int = 1, wa_id: str = NY, **facts) -> Recipient:
    facts.setdefault("accepts_marketing", True)
    return Recipient(customer_id=customer_id, wa_id=wa_id, **facts)


def decisions(recipients, campaign, unusable=frozenset()):
    return plan(recipients, campaign, POLICY, NOW, store_zone="America/New_York", tier=TierState(1000),
                unusable_templates=unusable).decisions


PROMO = TemplateRef(name="promo", language="en_US")
ONE = CampaignPlan("promo", "marketing", (Offer(text="Hi", template=PROMO),))
PAUSED = frozenset({("promo", "en_US")})


def test_a_paused_template_skips_who_could_only_get_it_and_inside_the_window_the_text_goes_without_it():
    closed, = decisions([recipient(last_inbound_at=CLOSED)], ONE, PAUSED)
    assert (closed.action, closed.reason) == ("skip", "template_paused")
    opened, = decisions([recipient(last_inbound_at=OPEN)], ONE, PAUSED)
    assert (opened.action, opened.form) == ("send", "freeform")
    spec = message_for(ONE.offers[0], "freeform", {}, "Acme", unusable_templates=PAUSED)
    assert spec.fallback is None
    assert message_for(ONE.offers[0], "freeform", {}, "Acme").fallback is not None


def test_another_language_of_the_template_is_its_own_health():
    template = TemplateRef(name="promo", language="en_US", languages=("es_MX",))
    campaign = CampaignPlan("promo", "marketing", (Offer(template=template),))
    english, spanish = decisions([recipient(1, last_inbound_at=CLOSED, language="en"),
                                  recipient(2, "5215512345678", last_inbound_at=CLOSED, language="es")],
                                 campaign, frozenset({("promo", "es_MX")}))
    assert english.action == "send" and (spanish.action, spanish.reason) == ("skip", "template_paused")


def test_without_a_template_a_closed_window_is_still_window_closed_no_template():
    campaign = CampaignPlan("promo", "marketing", (Offer(text="Hi"),))
    only, = decisions([recipient(last_inbound_at=CLOSED)], campaign, PAUSED)
    assert only.reason == "window_closed_no_template"


def test_recently_limited_skips_marketing_templates_only():
    limited, = decisions([recipient(last_inbound_at=CLOSED, recently_limited=True)], ONE)
    assert (limited.action, limited.reason) == ("skip", "recently_limited")
    in_window, = decisions([recipient(last_inbound_at=OPEN, recently_limited=True)], ONE)
    assert (in_window.action, in_window.form) == ("send", "freeform")
    utility = CampaignPlan("promo", "utility", (Offer(template=PROMO),))
    notice, = decisions([recipient(last_inbound_at=CLOSED, recently_limited=True)], utility)
    assert notice.action == "send"


# ---------------------------------------------------------------- the test split without a variant

A, B, C = (TemplateRef(name=n) for n in "abc")
SPLIT = CampaignPlan("t", "marketing", tuple(Offer(template=t) for t in (A, B, C)), "test", 0.6, "seed", sample=True)
PEOPLE = [recipient(i, f"1212555{i:04d}", last_inbound_at=CLOSED) for i in range(600)]


def test_a_paused_variant_is_left_out_and_the_others_keep_their_customers_and_share_its_own():
    before = {d.customer_id: d.variant for d in decisions(PEOPLE, SPLIT)}
    after = {d.customer_id: d for d in decisions(PEOPLE, SPLIT, frozenset({("b", "en_US")}))}
    assert set(after) == set(before)  # the same sample: nobody leaves or joins it
    assert all(d.action == "send" and d.variant != 1 for d in after.values())
    assert all(after[c].variant == v for c, v in before.items() if v != 1)  # stable for the remaining
    moved = [after[c].variant for c, v in before.items() if v == 1]
    assert moved and abs(moved.count(0) - moved.count(2)) <= len(moved) * 0.3  # shared between A and C


def test_with_every_variant_paused_the_assignment_stands_and_the_window_decides():
    every = frozenset({("a", "en_US"), ("b", "en_US"), ("c", "en_US")})
    found = decisions(PEOPLE[:50], SPLIT, every)
    assert {d.reason for d in found} == {"template_paused"}


@given(st.text(max_size=12), st.text(min_size=1, max_size=16), st.floats(0.01, 1.0),
       st.integers(1, 5), st.sets(st.integers(0, 4)))
def test_sample_variant_keeps_the_usable_assignment_and_never_picks_a_left_out_one(seed, key, fraction, n, usable):
    usable_list = sorted(u for u in usable if u < n)
    assigned = sample_assignment(seed, key, fraction, n)
    got = sample_variant(seed, key, fraction, n, usable_list)
    if assigned is None:
        assert got is None
    elif assigned in usable_list or not usable_list:
        assert got == assigned
    else:
        assert got in usable_list


# Garbage for each rich part of a template spec, as wabot.toml could hold it.
_garbage = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                     st.text(max_size=70), st.lists(st.text(max_size=20), max_size=12),
                     st.dictionaries(st.sampled_from(["type", "link", "text", "x"]),
                                     st.one_of(st.text(max_size=70), st.integers()), max_size=3))
_RICH_KEYS = ("header", "coupon_code", "url_suffix", "quick_replies", "button_order")


@given(st.dictionaries(st.sampled_from(_RICH_KEYS), _garbage, max_size=5))
def test_any_rich_template_table_loads_or_is_one_line_naming_the_key(rich):
    """Whatever wabot.toml says of a template's rich parts: it loads and builds Meta's body, or
    start stops with one line naming the campaign, never a traceback."""
    try:
        config = parse_file_config({"campaigns": {"promo": {"segment": "vip", "template": {"name": "t", **rich}}}})
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and "campaigns.promo" in message, message
        return
    template = config.campaigns["promo"].message_variants[0].template
    spec = template_spec(template, {"first_name": "Ana", "discount_code": "SAVE10"}, "Acme")
    assert check_body(envelope(graph_payload(spec))) is None
