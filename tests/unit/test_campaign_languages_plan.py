"""The planner's language choices (bot/campaigns/planner.py): a decision carries the customer's language,
and the message is `texts.<lang>` (else `text`) and the template's `languages` entry of that language
(else its `language`), filled in the language the text or template is written in."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.campaigns.planner import CampaignPlan, Offer, Recipient, TierState, count_by_language, message_for, plan
from bot.core.config import CampaignVariant, PolicyConfig, ReorderConfig, TemplateRef

UTC = timezone.utc
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
POLICY = PolicyConfig(quiet_hours=(), consent="any")
TEMPLATE = TemplateRef(name="we_miss_you", language="en_US", languages=("es_MX", "pt_BR"),
                       body=("{first_name}",))
OFFER = Offer.of(CampaignVariant(text="Hi {first_name}, we miss you!",
                                 texts={"es": "¡Hola, {first_name}, te extrañamos!"}, template=TEMPLATE))


def freeform(language: str | None, values: dict | None = None, *, default_language: str = "en",
             offer: Offer = OFFER):
    return message_for(offer, "freeform", values if values is not None else {"first_name": "Ana"}, "Acme",
                       language=language, default_language=default_language)


def template(language: str | None, values: dict | None = None, offer: Offer = OFFER):
    return message_for(offer, "template", values if values is not None else {"first_name": "Ana"}, "Acme",
                       language=language)


def test_the_decision_carries_the_customers_language():
    people = [Recipient(1, "15550000001", last_inbound_at=NOW - timedelta(hours=1), language="es"),
              Recipient(2, "5511987650000", language="pt"), Recipient(3, "15550000003")]
    result = plan(people, CampaignPlan("c", "marketing", (OFFER,)), POLICY, NOW, store_zone="UTC",
                  tier=TierState(1000))
    assert [(d.customer_id, d.form, d.language) for d in result.decisions] == [
        (1, "freeform", "es"), (2, "template", "pt"), (3, "template", None)]


def test_free_form_text_is_the_customers_translation_else_text():
    assert freeform("es").text == "¡Hola, Ana, te extrañamos!"
    assert freeform("pt").text == "Hi Ana, we miss you!"  # no pt text: the default language's
    assert freeform("en").text == freeform(None).text == "Hi Ana, we miss you!"


def test_a_missing_first_name_reads_right_in_the_texts_language():
    assert freeform("es", {}).text == "¡Hola, te extrañamos!"
    # a Portuguese customer without a translation gets the English text, filled as English
    assert freeform("pt", {}).text == "Hi there, we miss you!"


def test_the_text_falls_back_to_the_stores_default_language():
    spanish_store = Offer(text="¡Hola, {first_name}!", texts={"en": "Hi {first_name}!"})
    assert freeform("en", {}, default_language="es", offer=spanish_store).text == "Hi there!"
    assert freeform("pt", {}, default_language="es", offer=spanish_store).text == "¡Hola!"


@pytest.mark.parametrize("language, code", [("es", "es_MX"), ("pt", "pt_BR"), ("en", "en_US"), ("hi", "en_US"),
                                            (None, "en_US")])
def test_the_template_language_is_the_entry_of_the_customers_language(language, code):
    assert template(language).template_language == code
    assert template(language).template_params == ("Ana",)


def test_template_parameters_are_filled_in_the_templates_language():
    assert template("en", {}).template_params == ("there",)
    # A template parameter may not be empty: a missing name is a word of the template's language
    assert template("es", {}).template_params == ("cliente",)


def test_the_fallback_template_follows_the_customer_even_when_the_text_does_not():
    spec = freeform("pt", {})
    assert spec.text == "Hi there, we miss you!"
    assert spec.fallback.template_language == "pt_BR" and spec.fallback.template_params == ("cliente",)
    assert freeform("es").fallback.template_language == "es_MX"


def test_a_template_without_languages_is_always_its_language():
    plain = Offer(text="Hi", template=TemplateRef(name="hi", language="en_GB"))
    assert template("es", offer=plain).template_language == "en_GB"


def test_reorder_settings_make_an_offer_with_their_texts():
    reorder = ReorderConfig(default_days=30, text="Running low on {product_title}?",
                            texts={"pt": "Acabando o {product_title}?"},
                            template=TemplateRef(name="reorder", languages=("pt_BR",), body=("{product_title}",)))
    offer = Offer.of(reorder)
    values = {"product_title": "Ração"}
    assert freeform("pt", values, offer=offer).text == "Acabando o Ração?"
    assert freeform("es", values, offer=offer).text == "Running low on Ração?"
    assert template("pt", values, offer=offer).template_language == "pt_BR"


def test_count_by_language_lists_every_store_language_in_order():
    people = [Recipient(i, f"1555000000{i}", language=lang) for i, lang in enumerate(["es", "en", "es"])]
    result = plan(people, CampaignPlan("c", "marketing", (OFFER,)), POLICY, NOW, store_zone="UTC",
                  tier=TierState(1000))
    assert list(count_by_language(result.decisions, ["en", "es", "pt"]).items()) == [("en", 1), ("es", 2), ("pt", 0)]
