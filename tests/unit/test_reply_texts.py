"""The built-in texts in every language (flows/reply_texts.py): the same replies, candidates and
placeholders as English, labels within WhatsApp's limits, and commands the router understands."""
from __future__ import annotations

import re
import string
import unicodedata
from datetime import datetime
from decimal import Decimal

import pytest

from flows import replies
from flows.nlu import IntentRouter
from flows.reply_texts import BUILT_IN, ENDONYMS, LABELS, LANGUAGES, ORDER_STATUS
from segments.orders import OrderSummary, order_status

EXPECTED_LANGUAGES = ("en", "es", "pt", "hi", "id")
NEW_REPLIES = ("language", "language_unavailable")
ALLOWED = {"first_name", "store_name", "last_order_name", "last_order_items", "order_status", "tracking_url",
           "cart_url", "product_title", "discount_code", "missing_items"}
STATUS_PHRASES = ("cancelled", "delivered", "out for delivery", "refunded", "on its way", "shipped", "partly shipped",
                  "awaiting payment", "being prepared")
TITLE_LABELS = ("reorder_button", "cod_confirm", "cod_cancel", "choose", "see_suggestions")  # button and list-button titles: <= 20
SECTION_LABELS = ("languages_section", "interests_section", "like_you_section", "favourites_section")  # <= 24
DESCRIPTION_LABELS = ("bought_by", "bought_by_one", "favourite_of", "favourite_of_one")  # row descriptions: <= 72
OTHERS = [lang for lang in EXPECTED_LANGUAGES if lang != "en"]


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


def every_text():
    for lang, table in BUILT_IN.items():
        for name, variants in table.items():
            for segment, candidates in variants.items():
                for i, text in enumerate(candidates):
                    yield lang, name, segment, i, text


def test_the_languages():
    assert tuple(BUILT_IN) == EXPECTED_LANGUAGES == LANGUAGES
    for table in (ORDER_STATUS, LABELS, ENDONYMS):
        assert tuple(table) == EXPECTED_LANGUAGES


def test_english_has_every_reply_the_bot_sends_and_the_two_new_ones():
    assert set(BUILT_IN["en"]) == set(replies.REPLY_NAMES) | set(NEW_REPLIES)


@pytest.mark.parametrize("lang", OTHERS)
def test_every_language_has_the_replies_segments_and_candidates_of_english(lang):
    english = BUILT_IN["en"]
    table = BUILT_IN[lang]
    assert set(table) == set(english)
    for name, variants in english.items():
        assert set(table[name]) == set(variants), name
        for segment, candidates in variants.items():
            assert isinstance(table[name][segment], tuple), (name, segment)
            assert len(table[name][segment]) == len(candidates), (name, segment)


def test_every_text_uses_only_allowed_placeholders_and_fills():
    values = {name: f"<{name}>" for name in ALLOWED | {"languages"}}
    for lang, name, segment, i, text in every_text():
        used = placeholders(text)
        allowed = ALLOWED | {"languages"} if name == "language_unavailable" else ALLOWED
        assert used <= allowed, (lang, name, segment, i, used - allowed)
        filled = text.format_map(values)
        assert "{" not in filled and "}" not in filled, (lang, name, segment, i)


def test_language_unavailable_names_the_languages():
    for lang in EXPECTED_LANGUAGES:
        for text in BUILT_IN[lang]["language_unavailable"]["default"]:
            assert "languages" in placeholders(text), lang


@pytest.mark.parametrize("lang", OTHERS)
def test_every_candidate_has_the_placeholders_of_its_english_counterpart(lang):
    for _, name, segment, i, text in (t for t in every_text() if t[0] == lang):
        english = BUILT_IN["en"][name][segment][i]
        assert placeholders(text) == placeholders(english), (lang, name, segment, i)


def test_candidates_of_a_reply_differ_in_their_placeholders():
    """The first candidate whose placeholders all have values is used: the same set twice is a dead one."""
    for lang, table in BUILT_IN.items():
        for name, variants in table.items():
            for segment, candidates in variants.items():
                sets = [frozenset(placeholders(text)) for text in candidates]
                assert len(set(sets)) == len(sets), (lang, name, segment)


@pytest.mark.parametrize("lang", OTHERS)
def test_no_text_is_left_in_english(lang):
    for _, name, segment, i, text in (t for t in every_text() if t[0] == lang):
        assert text != BUILT_IN["en"][name][segment][i], (lang, name, segment, i)
    for key, phrase in ORDER_STATUS[lang].items():
        assert phrase != ORDER_STATUS["en"][key], (lang, key)
    for key, label in LABELS[lang].items():
        assert label != LABELS["en"][key], (lang, key)
    assert ENDONYMS[lang] != ENDONYMS["en"]


def test_texts_are_tidy():
    texts = [(lang, name, text) for lang, name, _, _, text in every_text()]
    texts += [(lang, key, phrase) for lang, table in ORDER_STATUS.items() for key, phrase in table.items()]
    texts += [(lang, key, label) for lang, table in LABELS.items() for key, label in table.items()
               if key not in ("and", "no_name")]
    texts += [(lang, "endonym", name) for lang, name in ENDONYMS.items()]
    for lang, name, text in texts:
        assert text and text == text.strip(), (lang, name)
        assert "  " not in text and "\n" not in text, (lang, name)
        assert unicodedata.is_normalized("NFC", text), (lang, name)


def test_hindi_is_written_in_devanagari():
    devanagari = re.compile(r"[\u0900-\u097F]")
    for _, name, _, _, text in (t for t in every_text() if t[0] == "hi"):
        assert devanagari.search(text), name
    for key, label in LABELS["hi"].items():
        assert devanagari.search(label), key
    assert LABELS["hi"]["no_name"]
    for lang in LABELS:  # a template parameter may not be empty
        assert LABELS[lang]["no_name_in_template"].strip()
    for key, phrase in ORDER_STATUS["hi"].items():
        assert devanagari.search(phrase), key


def test_order_status_has_every_phrase_of_segments_orders():
    assert tuple(ORDER_STATUS["en"]) == STATUS_PHRASES
    assert all(phrase == key for key, phrase in ORDER_STATUS["en"].items())
    for lang in EXPECTED_LANGUAGES:
        assert set(ORDER_STATUS[lang]) == set(STATUS_PHRASES), lang
        assert all(ORDER_STATUS[lang].values()), lang
    # Every phrase order_status() can return has a translation.
    returned = set()
    for cancelled in (None, datetime(2024, 1, 1)):
        for financial in (None, "paid", "pending", "authorized", "refunded", "voided", "partially_refunded"):
            for fulfilment in (None, "fulfilled", "partial", "restocked", "unfulfilled"):
                for tracking in (None, "https://track.example/1"):
                    order = OrderSummary(1, "#1001", datetime(2024, 1, 1), Decimal("10"), "USD", financial, fulfilment,
                                         cancelled, tracking, None, None, None, True, ())
                    returned.add(order_status(order))
    for shipment, delivered in (("out_for_delivery", None), ("delivered", datetime(2024, 1, 2))):
        returned.add(order_status(OrderSummary(1, "#1001", datetime(2024, 1, 1), Decimal("10"), "USD", "paid",
                                               "fulfilled", None, None, None, None, None, True, (),
                                               shipment_status=shipment, delivered_at=delivered)))
    assert returned <= set(STATUS_PHRASES)
    assert returned == set(STATUS_PHRASES)


def test_labels_have_the_same_keys_and_keep_whatsapps_limits():
    keys = set(LABELS["en"])
    assert keys == set(TITLE_LABELS) | set(SECTION_LABELS) | set(DESCRIPTION_LABELS) | {"and", "no_name",
                                                                                      "no_name_in_template",
                                                                                      "catalog_header", "and_more"}
    for lang, labels in LABELS.items():
        assert set(labels) == keys, lang
        for key in TITLE_LABELS:
            assert 0 < len(labels[key]) <= 20, (lang, key)
        for key in SECTION_LABELS:
            assert 0 < len(labels[key]) <= 24, (lang, key)
        for key in ("bought_by", "favourite_of"):
            assert placeholders(labels[key]) == {"count"}, (lang, key)
            assert len(labels[key].format(count=999_999)) <= 72, (lang, key)
        for key in ("bought_by_one", "favourite_of_one"):
            assert placeholders(labels[key]) == set(), (lang, key)
            assert "1" in labels[key] and len(labels[key]) <= 72, (lang, key)
        assert 0 < len(labels["catalog_header"]) <= 60, lang  # a product list's header
        assert placeholders(labels["and_more"]) == {"count"}, lang
        joiner = labels["and"]
        assert joiner.startswith(" ") and joiner.endswith(" ") and joiner.strip(), lang
    for lang, name in ENDONYMS.items():
        assert 0 < len(name) <= 24, lang


def test_the_reorder_text_names_the_reorder_button():
    for lang in EXPECTED_LANGUAGES:
        button = LABELS[lang]["reorder_button"]
        for text in BUILT_IN[lang]["reorder"]["default"]:
            assert button in text, lang


def test_the_language_confirmation_is_in_its_own_language():
    words = {"en": "English", "es": "español", "pt": "português", "hi": "हिन्दी", "id": "bahasa Indonesia"}
    for lang, word in words.items():
        for text in BUILT_IN[lang]["language"]["default"]:
            assert word in text, lang


ROUTER = IntentRouter.from_config(None)
COMMAND = re.compile(r"\b[A-Z]{3,}\b")


def commands_in(text: str) -> list[str]:
    return COMMAND.findall(text)


@pytest.mark.parametrize("lang", EXPECTED_LANGUAGES)
def test_opt_out_and_opt_in_confirmations_name_words_the_router_understands(lang):
    for reply, english, intent in (("stop", "START", "start"), ("start", "STOP", "stop")):
        for text in BUILT_IN[lang][reply]["default"]:
            words = commands_in(text)
            assert english in words, (lang, reply)
            for word in words:
                assert ROUTER.route(word).intent == intent, (lang, reply, word)


@pytest.mark.parametrize("lang", EXPECTED_LANGUAGES)
def test_texts_that_offer_a_person_name_human_and_words_the_router_understands(lang):
    for name, variants in BUILT_IN["en"].items():
        for segment, candidates in variants.items():
            for i, english in enumerate(candidates):
                if "HUMAN" not in english:
                    continue
                text = BUILT_IN[lang][name][segment][i]
                assert "HUMAN" in text, (lang, name)
                for word in commands_in(text):
                    assert ROUTER.route(word).intent == "human", (lang, name, word)


def without_name(text: str, no_name: str) -> str:
    """The text for a customer without a first name: `no_name` in its place, or, when it is empty, the
    name gone with the comma that sets it off ("¡Hola, {first_name}!" -> "¡Hola!")."""
    if no_name:
        return text.replace("{first_name}", no_name)
    text = re.sub(r", \{first_name\}(?=[,.!?:;])", "", text)
    text = re.sub(r"(?<=Kak) \{first_name\}", "", text)
    return text.replace("{first_name}, ", "")


def test_every_language_says_what_stands_in_for_a_missing_first_name():
    assert LABELS["en"]["no_name"] == "there"
    values = {name: f"<{name}>" for name in ALLOWED - {"first_name"} | {"languages"}}
    for lang, name, segment, i, text in every_text():
        if "first_name" not in placeholders(text):
            continue
        shown = without_name(text, LABELS[lang]["no_name"])
        assert "first_name" not in placeholders(shown), (lang, name, segment, i)
        shown = shown.format_map(values)
        assert not re.search(r"[,:;] ?[,.!?:;]|\s[,.!?:;]|^[,.!?:;]|[¡¿][,.!?:;]|  ", shown), (lang, name, shown)
