"""The order of a customer's language evidence, locale tags, template codes and the reading of
chat lines (bot/core/languages.py, flows/language.py; docs/languages.md)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import languages as langs
from bot.core.config import FileConfig
from bot.core.errors import ConfigError
from flows import language
from flows.replies import ReplyBook

STORE = ("en", "es", "pt")


def test_the_first_source_that_gives_a_store_language_wins():
    assert langs.resolve(STORE, choice="pt", messages="es", locale="en-US", country="MX") == ("pt", "choice")
    assert langs.resolve(STORE, messages="es", locale="pt-BR", country="US") == ("es", "messages")
    assert langs.resolve(STORE, locale="pt-BR", country="MX") == ("pt", "locale")
    assert langs.resolve(STORE, country="MX") == ("es", "country")
    assert langs.resolve(STORE) == ("en", "default")


def test_a_language_the_store_does_not_speak_never_counts():
    assert langs.resolve(STORE, choice="de", messages="hi", locale="fr-FR", country="ID") == ("en", "default")
    assert langs.resolve(("es", "en"), messages="id", country="BR") == ("es", "default")


def test_india_counts_as_english_unless_the_text_says_otherwise():
    assert langs.resolve(("en", "hi"), country="IN") == ("en", "country")
    assert langs.resolve(("en", "hi"), messages="hi", country="IN") == ("hi", "messages")


@pytest.mark.parametrize("tag, code", [("pt-BR", "pt"), ("pt_BR", "pt"), ("es", "es"), ("EN-us", "en"),
                                       ("fil", "fil"), ("zh-Hant-TW", "zh"), ("", None), ("x", None),
                                       ("12-34", None), ("en--US", None), (None, None), ("es MX", None)])
def test_primary_subtags(tag, code):
    assert langs.primary(tag) == code


def test_template_language_per_customer():
    assert langs.template_language_for("es", "en_US", ("es_MX", "pt_BR")) == "es_MX"
    assert langs.template_language_for("pt", "en_US", ("es_MX", "pt_BR")) == "pt_BR"
    assert langs.template_language_for("hi", "en_US", ("es_MX", "pt_BR")) == "en_US"
    assert langs.template_language_for("en", "en_US", ()) == "en_US"


@pytest.mark.parametrize("code", ["en_US", "pt_BR", "es_MX", "hi", "id", "zh_CN"])
def test_whatsapp_template_codes_are_accepted(code):
    assert langs.template_language_problem(code) is None


@pytest.mark.parametrize("code, hint", [("pt-BR", "pt_BR"), ("english", None), ("EN_us", None), ("xx", None)])
def test_other_template_codes_are_refused_with_a_hint(code, hint):
    problem = langs.template_language_problem(code)
    assert problem and (hint is None or hint in problem)


def test_every_known_language_has_its_own_name():
    assert set(langs.ENDONYMS) == set(langs.KNOWN)
    assert set(langs.COUNTRY_LANGUAGE.values()) <= set(langs.KNOWN)


# -- configuration ------------------------------------------------------------------------------

def config(**tables) -> FileConfig:
    return FileConfig.model_validate(tables)


def test_a_reply_table_in_a_language_the_store_does_not_list_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"\[replies.greet.de\]"):
        config(store={"languages": ["en", "es"]}, replies={"greet": {"default": "Hi", "de": {"default": "Hallo"}}})


def test_store_languages_are_checked():
    for bad in ([], ["en", "en"], ["english"], ["xx"]):
        with pytest.raises(ValueError, match="languages"):
            config(store={"languages": bad})
    assert config(store={"languages": ["pt", "en"]}).store.default_language == "pt"


def test_template_languages_must_be_whatsapp_codes():
    campaign = {"segment": "lapsed", "text": "Hi", "template": {"name": "t", "language": "en_US",
                                                                "languages": ["es-MX"]}}
    with pytest.raises(ValueError, match="es_MX"):
        config(campaigns={"c": campaign})
    campaign["template"]["languages"] = ["es_MX", "es_AR"]
    with pytest.raises(ValueError, match="same language"):
        config(campaigns={"c": campaign})


def test_campaign_texts_must_be_in_store_languages():
    campaign = {"segment": "lapsed", "text": "Hi", "texts": {"es": "Hola", "pt": "Oi"}}
    with pytest.raises(ValueError, match=r"texts.pt"):
        config(store={"languages": ["en", "es"]}, campaigns={"c": campaign})
    assert config(store={"languages": ["en", "es", "pt"]}, campaigns={"c": campaign}).campaigns["c"] \
        .message_variants[0].text_for("pt") == "Oi"


def test_a_reply_book_refuses_tables_of_other_languages_and_bad_placeholders():
    with pytest.raises(ConfigError, match=r"\[replies.greet.es\]"):
        ReplyBook({"greet": {"es": {"default": "Hola {nombre}"}}}, "Acme", ("en", "es"))
    with pytest.raises(ConfigError, match=r"\[replies.greet.es\]"):
        ReplyBook({"greet": {"es": {"default": "Hola"}}}, "Acme", ("en",))


# -- replies across languages ---------------------------------------------------------------------

BOOK = ReplyBook({"segment_priority": ["vip"],
                  "greet": {"default": "EN", "vip": "EN vip", "es": {"default": "ES", "vip": "ES vip"}},
                  "thanks": {"default": "EN thanks"}}, "Acme", ("en", "es", "pt"))


@pytest.mark.parametrize("intent, segments, code, text", [
    ("greet", (), "es", "ES"), ("greet", ("vip",), "es", "ES vip"), ("greet", ("vip",), "en", "EN vip"),
    ("greet", (), "de", "EN"),  # not a store language: the default's table
    ("thanks", (), "es", None),  # no es table: the built-in Spanish text, not the English table
])
def test_reply_fallbacks(intent, segments, code, text):
    rendered = BOOK.render(intent, segments, {"first_name": "Ana"}, code)
    if text is not None:
        assert rendered.text == text
    else:
        from flows.reply_texts import BUILT_IN
        assert rendered.language == "es" and rendered.text != "EN thanks"
        assert rendered.text.startswith(BUILT_IN["es"]["thanks"]["default"][0].split("{")[0])


def test_a_store_language_without_built_in_texts_uses_the_default_languages_table():
    book = ReplyBook({"thanks": {"default": "EN thanks"}}, "Acme", ("en", "de"))
    assert book.render("thanks", (), {}, "de").text == "EN thanks"
    assert book.render("media", (), {}, "de").language == "en"


# -- reading chat lines ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, code", [
    ("oi, cadê meu pedido?", "pt"), ("hola, dónde está mi pedido?", "es"), ("where is my order?", "en"),
    ("mera order kab aayega", "hi"), ("मेरा ऑर्डर कहाँ है", "hi"), ("pesanan sy blm nyampe kak", "id"),
    ("quiero lo mismo de la otra vez", "es"), ("obrigado!!", "pt"), ("terima kasih kak", "id"),
    ("thank you so much for the quick delivery", "en"), ("gracias por todo", "es"),
])
def test_chat_lines_are_read(text, code):
    reading = language.read(text, langs.BUILT_IN)
    assert reading is not None and reading.language == code, reading


@pytest.mark.parametrize("text", ["ok", "👍", "#1001", "STOP", "hi", "", "   ", "123456", "k"])
def test_lines_that_say_nothing_are_no_evidence(text):
    assert language.read(text, langs.BUILT_IN) is None


def test_only_candidates_are_returned():
    assert language.read("oi, cadê meu pedido?", ("en", "es")) in (None,) or \
        language.read("oi, cadê meu pedido?", ("en", "es")).language in ("en", "es")
    assert language.read("मेरा ऑर्डर कहाँ है", ("en", "es")) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sets(st.sampled_from(sorted(langs.KNOWN)), min_size=1, max_size=6))
def test_reading_never_fails_and_stays_among_the_candidates(text, candidates):
    reading = language.read(text, candidates)
    assert reading is None or (reading.language in candidates and 0 < reading.confidence <= 1)
