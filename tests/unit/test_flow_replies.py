"""Segment-aware reply choice, placeholders, and the start-time checks of the reply tables."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.config import Settings, parse_file_config
from bot.core.errors import ConfigError
from flows.checks import check_settings
from flows.replies import PLACEHOLDERS, ReplyBook, Values

REPLIES = {
    "segment_priority": ["vip", "former_vip", "loyal", "first_time_buyer"],
    "greet": {"default": "Hi {first_name}!", "vip": "Welcome back {first_name}, our VIP!",
              "first_time_buyer": "Thanks for your first order, {first_name}!"},
}


def book(replies=REPLIES) -> ReplyBook:
    return ReplyBook(replies, "Acme Home")


def settings_with(toml: dict) -> Settings:
    return Settings(file=parse_file_config(toml))


def test_first_segment_in_priority_that_the_table_names_wins():
    replies = book()
    assert replies.render("greet", ["first_time_buyer", "vip"], {"first_name": "Ana"}).text == \
        "Welcome back Ana, our VIP!"
    rendered = replies.render("greet", ["first_time_buyer", "chat_engaged"], {"first_name": "Ana"})
    assert (rendered.segment, rendered.text) == ("first_time_buyer", "Thanks for your first order, Ana!")


def test_default_when_no_segment_matches_and_built_in_when_no_table():
    replies = book()
    rendered = replies.render("greet", ["loyal"], {"first_name": "Ana"})  # loyal is prioritised but not in the table
    assert (rendered.segment, rendered.text) == (None, "Hi Ana!")
    assert replies.render("thanks", [], {}).text == "You're welcome, there! Anything else we can do for you?"


def test_built_in_candidates_skip_a_text_whose_placeholder_is_empty():
    replies = book()
    with_link = replies.render("order_status", [], {"last_order_name": "#1001", "last_order_items": "1 × Tea",
                                                     "order_status": "on its way", "tracking_url": "https://t/1"})
    assert with_link.text.endswith("Track it here: https://t/1")
    without = replies.render("order_status", [], {"last_order_name": "#1001", "last_order_items": "1 × Tea",
                                                   "order_status": "being prepared", "tracking_url": ""})
    assert without.text == "Your last order #1001 (1 × Tea) is being prepared."


def test_sale_early_access_only_with_a_code():
    replies = book()
    early = replies.render("sale", ["sale_shopper"], {"first_name": "Bo", "discount_code": "EARLY20"})
    assert (early.segment, "EARLY20" in early.text) == ("sale_shopper", True)
    no_code = replies.render("sale", ["sale_shopper"], {"first_name": "Bo", "discount_code": ""})
    assert no_code.segment is None and "sale starts" in no_code.text


def test_placeholders_are_computed_only_when_named():
    calls = []
    values = Values({"first_name": "Ana"}, lazy={"cart_url": lambda: calls.append(1) or "https://x/cart/1:1"})
    book().render("greet", [], values)
    assert calls == []
    assert "https://x/cart/1:1" in book().render("reorder_link", [], values).text
    assert calls == [1]


@pytest.mark.parametrize("replies, message", [
    ({"greet": {"default": "Hi {name}"}}, "unknown placeholder {name}"),
    ({"greet": {"default": "Hi {first_name"}}, "[replies.greet] default"),
    ({"greetings": {"default": "Hi"}}, "[replies.greetings] is not a reply"),
])
def test_bad_reply_tables_are_refused_with_their_name(replies, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("{", r"\{")):
        ReplyBook(replies, "Acme")


def test_unknown_segments_are_refused_but_custom_segments_are_known():
    with pytest.raises(ConfigError, match=r"\[replies.greet\] names unknown segment 'vips'"):
        check_settings(settings_with({"replies": {"greet": {"vips": "Hi"}}}))
    with pytest.raises(ConfigError, match="segment_priority names unknown segment 'gold'"):
        check_settings(settings_with({"replies": {"segment_priority": ["gold"]}}))
    check_settings(settings_with({
        "segments": {"cushion_cross_sell": {"rule": 'bought("type:Cushions")'}},
        "replies": {"segment_priority": ["cushion_cross_sell", "vip"],
                    "recommend": {"cushion_cross_sell": "Covers for your {product_title}?"}},
    }))


def test_flow_settings_are_checked():
    with pytest.raises(ConfigError, match=r"\[sale\] early_access names unknown segment"):
        check_settings(settings_with({"sale": {"early_access": ["bargain_hunters"]}}))
    with pytest.raises(ConfigError, match="at most 10"):
        check_settings(settings_with({"preferences": {"interests": [f"i{n}" for n in range(11)]}}))
    with pytest.raises(ConfigError, match="listed twice"):
        check_settings(settings_with({"preferences": {"interests": ["Tea", "tea"]}}))


BRACELESS = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=40)


@given(st.dictionaries(st.sampled_from(PLACEHOLDERS), st.one_of(st.none(), BRACELESS)),
       st.lists(st.sampled_from(["vip", "first_time_buyer", "sale_shopper", "loyal"]), max_size=4))
def test_every_built_in_renders_without_holes(values, segments):
    from flows.replies import REPLY_NAMES

    replies = book()
    for name in REPLY_NAMES:
        rendered = replies.render(name, segments, dict(values))
        assert rendered is not None and rendered.text.strip()
        assert "{" not in rendered.text and "}" not in rendered.text
