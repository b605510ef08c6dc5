"""Campaign buttons name what a tap does (CONTRACT section 12): `{ title, intent }` or a plain title,
checked at start naming the key; a plain title leads to the intent it names, else to the segment's
flow, never to the fallback; the id a tap sends back routes to that intent."""
from __future__ import annotations

import pytest

from bot.campaigns.buttons import BUTTON_INTENTS, DEFAULT_FLOW, NOT_FOR_BUTTONS, SEGMENT_FLOWS, resolve, segment_flow
from bot.core.config import Settings, parse_file_config
from bot.core.errors import ConfigError
from bot.runtime import Features, check_configuration
from flows.actions import INTENT_ACTIONS
from flows.nlu import INTENTS, IntentRouter, intent_of_reply_id
from flows.replies import BUILT_IN_SEGMENTS, INTENT_REPLIES

ROUTER = IntentRouter.from_config({})


def campaign(**fields):
    fields = {"segment": "lapsed", "text": "Hi {first_name}", **fields}
    return parse_file_config({"campaigns": {"promo": fields}}).campaigns["promo"]


def buttons_of(**fields):
    return resolve("promo", campaign(**fields), lambda title: ROUTER.route(title).intent)


def refused(fields: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        check_configuration(Settings(file=parse_file_config({"campaigns": {"promo": {
            "segment": "lapsed", "text": "Hi", **fields}}})))
    return str(caught.value)


def test_both_forms_are_read():
    config = campaign(buttons=["Reorder", {"title": "Shop covers", "intent": "recommend"}])
    assert [(b.title, b.intent) for b in config.buttons] == [("Reorder", None), ("Shop covers", "recommend")]
    assert campaign().buttons == ()


@pytest.mark.parametrize("buttons, message", [
    (["a", "b", "c", "d"], "campaigns.promo: at most 3 reply buttons"),
    (["A title of 21 letters"], "buttons[0]: button title 'A title of 21 letters' must be 1 to 20 characters"),
    (["Ok", ""], "buttons[1]: button title '' must be 1 to 20 characters"),
    (["  "], "buttons[0]: button title '  ' must be 1 to 20 characters"),
    (["Shop", "shop "], "buttons[1]: two buttons are titled 'shop '"),
    ([{"title": "Shop", "intent": " "}], "buttons[0]: intent is empty"),
    ([{"title": "Shop", "flow": "recommend"}], "unknown key 'campaigns.promo.buttons.0.flow'"),
    ([{"intent": "recommend"}], "campaigns.promo.buttons.0.title"),
    ([{"title": "Shop", "intent": "fallback"}],
     "[campaigns.promo] buttons[0] intent: 'fallback' is not an intent a tap can lead to (it is what the bot says"),
    ([{"title": "Shop", "intent": "media"}], "buttons[0] intent: 'media' is not an intent a tap can lead to"),
    (["Ok", {"title": "Español", "intent": "language"}], "buttons[1] intent: 'language' is not an intent"),
    ([{"title": "Shop", "intent": "shop"}], "buttons[0] intent: 'shop' is not an intent a tap can lead to; use one "
                                            "of greet, thanks, order_status, reorder, recommend"),
])
def test_bad_buttons_are_refused_naming_the_key(buttons, message):
    assert message in refused({"buttons": buttons})


def test_a_named_intent_wins_over_the_title():
    [button] = buttons_of(buttons=[{"title": "Reorder", "intent": "sale"}])
    assert (button.intent, button.source, button.id) == ("sale", "named", "sale:campaign:promo:0")


@pytest.mark.parametrize("title, intent", [
    ("Reorder", "reorder"), ("Buy again", "reorder"), ("Track my order", "order_status"), ("See the sale", "sale"),
    ("Talk to us", "human"), ("Stop", "stop"), ("Pedir de nuevo", "reorder"),
])
def test_a_plain_title_leads_to_the_intent_it_names(title, intent):
    [button] = buttons_of(buttons=[title])
    assert (button.intent, button.source) == (intent, "title")


@pytest.mark.parametrize("segment, intent", [
    ("lapsed", "reorder"), ("former_vip", "reorder"), ("loyal", "reorder"), ("repeat_buyer", "reorder"),
    ("sale_shopper", "sale"), ("vip", "recommend"), ("first_time_buyer", "recommend"), ("chat_engaged", "recommend"),
])
def test_a_title_naming_nothing_leads_to_the_segments_flow(segment, intent):
    buttons = buttons_of(segment=segment, buttons=["Shop covers", "Not now", "English"])  # fallback x2, language
    assert [(b.intent, b.source) for b in buttons] == [(intent, "segment")] * 3


def test_a_rule_audience_gets_the_default_flow():
    config = parse_file_config({"campaigns": {"promo": {"rule": 'has_tag("x")', "text": "Hi",
                                                        "buttons": ["Shop covers"]}}}).campaigns["promo"]
    [button] = resolve("promo", config, lambda title: "fallback")
    assert (button.intent, button.source) == (DEFAULT_FLOW, "segment") == ("recommend", "segment")
    assert segment_flow(None) == segment_flow("my_custom_segment") == "recommend"


def test_no_button_ever_leads_to_the_fallback_and_every_id_routes_to_its_intent():
    for segment in (*BUILT_IN_SEGMENTS, None):
        fields = {"segment": segment} if segment else {"segment": None, "rule": 'has_tag("x")'}
        for title in ("Shop covers", "Reorder", "Not now", "Yes please", "Hola", "😍", "?"):
            [button] = buttons_of(**fields, buttons=[title])
            assert button.intent in BUTTON_INTENTS and button.intent not in NOT_FOR_BUTTONS
            assert ROUTER.route(button.title, button.id, "interactive").intent == button.intent
            assert intent_of_reply_id(button.id) == button.intent


def test_button_intents_are_the_routers_and_each_has_an_answer():
    assert set(BUTTON_INTENTS) | set(NOT_FOR_BUTTONS) == set(INTENTS)
    for intent in BUTTON_INTENTS:
        assert intent in INTENT_ACTIONS or intent in INTENT_REPLIES  # a flow, or its reply table
    assert set(SEGMENT_FLOWS) <= set(BUILT_IN_SEGMENTS) and set(SEGMENT_FLOWS.values()) <= set(BUTTON_INTENTS)


def test_ids_are_distinct_within_a_message():
    buttons = buttons_of(buttons=["Shop covers", "Not now", {"title": "More", "intent": "reorder"}])
    assert len({b.id for b in buttons}) == 3 and {b.intent for b in buttons} == {"reorder"}


def test_the_runtime_resolves_with_the_stores_own_words():
    settings = Settings(file=parse_file_config({
        "intents": {"recommend": {"keywords": ["shop covers"]}},
        "campaigns": {"promo": {"segment": "lapsed", "text": "Hi", "buttons": ["Shop covers"]}}}))
    [button] = Features.build(settings).campaigns.buttons["promo"]
    assert (button.intent, button.source) == ("recommend", "title")


def test_a_campaign_without_text_is_warned_that_its_buttons_never_show():
    settings = Settings(file=parse_file_config({"campaigns": {
        "promo": {"segment": "lapsed", "template": {"name": "t"}, "buttons": ["Reorder"]},
        "fine": {"segment": "lapsed", "text": "Hi", "buttons": ["Reorder"]}}}))
    assert [w for w in settings.warnings() if "buttons" in w] == [
        "[campaigns.promo] buttons: the campaign sends no free-form text, so its buttons are never shown "
        "(a template's buttons are its quick_replies)"]
