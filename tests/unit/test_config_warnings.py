"""Start warnings for replies that can never be chosen (CONTRACT section 12): a variant for a segment
missing from [replies] segment_priority, in the default table or a language's; a segment listed
twice; a variant shadowed by a segment listed before it that holds every one of its customers
(the built-ins' facts, and custom rules that are `in_segment("x") and ...`). Each names its key."""
from __future__ import annotations

import logging

import pytest

from bot.core.config import Settings, load_settings, parse_file_config
from bot.runtime import Features, check_configuration
from flows.replies import ReplyBook, segment_supersets
from tests.conftest import FIXTURES, ROOT


def settings_of(data: dict) -> Settings:
    return Settings(file=parse_file_config(data))


def warnings_of(data: dict) -> list[str]:
    settings = settings_of({"store": {"shop_domain": "acme.myshopify.com", "languages": ["en", "es"]}, **data})
    return Features.build(settings).warnings(settings)


def replies(priority: list[str], **tables) -> dict:
    return {"replies": {"segment_priority": priority, **tables}}


def test_a_reply_for_a_segment_missing_from_the_priority_is_named():
    found = warnings_of(replies(["vip"], sale={"sale_shopper": "Early: {discount_code}"},
                                greet={"default": "Hi", "vip": "Welcome back", "loyal": "Hi again"}))
    assert found == [
        "[replies.sale] sale_shopper: never chosen: 'sale_shopper' is not in [replies] segment_priority "
        "(add it there, or remove this reply)",
        "[replies.greet] loyal: never chosen: 'loyal' is not in [replies] segment_priority "
        "(add it there, or remove this reply)",
    ]


def test_a_language_table_is_checked_the_same_way():
    found = warnings_of(replies(["first_time_buyer"], greet={"default": "Hi", "es": {"default": "Hola", "vip": "¡Hola!"}}))
    assert found == ["[replies.greet.es] vip: never chosen: 'vip' is not in [replies] segment_priority "
                     "(add it there, or remove this reply)"]


def test_no_priority_at_all_makes_every_segment_variant_dead():
    found = warnings_of({"replies": {"greet": {"default": "Hi", "vip": "Welcome back"}}})
    assert found == ["[replies.greet] vip: never chosen: 'vip' is not in [replies] segment_priority "
                     "(add it there, or remove this reply)"]


def test_a_segment_listed_twice_is_named():
    found = warnings_of(replies(["vip", "loyal", "vip"], greet={"vip": "Welcome back"}))
    assert found == ["[replies] segment_priority lists 'vip' twice: only its first place counts"]


def test_a_variant_shadowed_by_a_segment_that_contains_it_is_named():
    # every former VIP is still a VIP: listed after vip, its greeting never goes
    found = warnings_of(replies(["vip", "former_vip"], greet={"vip": "Welcome back", "former_vip": "We miss you"},
                                sale={"former_vip": "Come back for the sale"}))
    assert found == ["[replies.greet] former_vip: never chosen: every former_vip customer is also vip, listed "
                     "before it in [replies] segment_priority (list former_vip first)"]
    assert warnings_of(replies(["former_vip", "vip"], greet={"vip": "Welcome back", "former_vip": "We miss you"})) == []


def test_shadowing_in_a_language_table():
    found = warnings_of(replies(["repeat_buyer", "sale_shopper"], sale={
        "default": "Sale!", "es": {"repeat_buyer": "¡Oferta!", "sale_shopper": "¡Antes que nadie!"}}))
    assert found == ["[replies.sale.es] sale_shopper: never chosen: every sale_shopper customer is also repeat_buyer, "
                     "listed before it in [replies] segment_priority (list sale_shopper first)"]


@pytest.mark.parametrize("params, shadowed", [({}, True), ({"loyal_min_orders": 1}, False)])
def test_facts_that_depend_on_the_parameters(params, shadowed):
    found = warnings_of({"segment_params": params,
                         **replies(["repeat_buyer", "loyal"], greet={"repeat_buyer": "Again!", "loyal": "Friend!"})})
    assert bool(found) == shadowed


def test_custom_segments_within_another_by_their_rule():
    data = {
        "segments": {
            "big_vip": {"rule": 'in_segment("vip") and total_spent > 2000'},
            "deep": {"rule": 'has_tag("x") and (in_segment("big_vip") and orders_count > 3)'},
            "either": {"rule": 'in_segment("vip") or has_tag("x")'},
        },
        **replies(["vip", "either", "deep", "big_vip"], greet={"vip": "a", "either": "b", "deep": "c", "big_vip": "d"}),
    }
    found = warnings_of(data)
    assert [w.split(":")[0] for w in found] == ["[replies.greet] deep", "[replies.greet] big_vip"]
    assert "every deep customer is also vip" in found[0]
    supersets = segment_supersets(settings_of(data))
    assert supersets["deep"] == {"big_vip", "vip"} and supersets["big_vip"] == {"vip"} and "either" not in supersets


def test_a_table_that_names_only_the_narrower_segment_is_fine():
    assert warnings_of(replies(["vip", "former_vip"], greet={"former_vip": "We miss you"})) == []


def test_the_shipped_examples_warn_only_as_meant():
    shipped = load_settings({"WABOT_CONFIG": str(ROOT / "wabot.example.toml")})
    assert Features.build(shipped).warnings(shipped) == []
    contract = load_settings({"WABOT_CONFIG": str(FIXTURES / "contract-example.toml")})
    assert [w for w in Features.build(contract).warnings(contract) if "replies" in w] == []


def test_the_warnings_are_logged_at_start(caplog):
    settings = settings_of({"store": {"shop_domain": "acme.myshopify.com"},
                            **replies(["vip", "former_vip"], greet={"vip": "a", "former_vip": "b", "loyal": "c"})})
    with caplog.at_level(logging.WARNING, logger="bot.runtime"):
        check_configuration(settings)
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [line.split(":")[0] for line in logged] == ["[replies.greet] loyal", "[replies.greet] former_vip"]


def test_a_reply_book_built_by_hand_has_no_warnings():
    assert ReplyBook({"segment_priority": ["vip"], "greet": {"loyal": "x"}}, "Acme").warnings == ()
