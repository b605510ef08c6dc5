"""The pure parts of the automations: which abandoned-checkout step is due, a typed yes or no,
the cash-on-delivery gateway names, the checkout and fulfillment parsers, and [automations.*]."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.automations.checkouts import STEP_GRACE, OpenCheckout, due_step
from bot.automations.engine import is_cash_on_delivery, money
from bot.core.config import parse_file_config
from bot.core.errors import ConfigError
from flows.answers import yes_or_no
from segments.shopify import RowError, checkout_from_json, fulfillment_event_from_json, fulfillment_from_json

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def checkout(done: int = 0, updated: datetime = T0) -> OpenCheckout:
    return OpenCheckout("tok", 1, updated, done)


@pytest.mark.parametrize("minutes, done, expected", [
    (29, 0, None), (30, 0, 0), (31, 0, 0), (30, 1, None), (1439, 1, None), (1440, 1, 1), (1440, 0, 1),
    (1440, 2, None), (30 + 24 * 60 + 1, 0, 1), (1440 + 24 * 60 + 1, 1, None), (1440 + 24 * 60 + 1, 0, None),
])
def test_due_step(minutes, done, expected):
    assert due_step(checkout(done), (30, 1440), T0 + timedelta(minutes=minutes)) == expected


@given(steps=st.lists(st.integers(1, 5000), min_size=1, max_size=3, unique=True).map(sorted),
       done=st.integers(0, 3), offset=st.integers(-10_000, 20_000))
def test_a_due_step_is_never_one_already_done_nor_before_its_time_nor_too_late(steps, done, offset):
    now = T0 + timedelta(minutes=offset)
    step = due_step(checkout(done), steps, now)
    if step is not None:
        assert step >= done
        due_at = T0 + timedelta(minutes=steps[step])
        assert due_at <= now <= due_at + STEP_GRACE
        assert all(T0 + timedelta(minutes=m) > now for m in steps[step + 1:])  # the latest due


@pytest.mark.parametrize("text, answer", [
    ("yes", "confirm"), ("Sim!", "confirm"), ("sí, confirmo", "confirm"), ("हाँ", "confirm"), ("iya kak", "confirm"),
    ("no", "cancel"), ("Não", "cancel"), ("cancelar", "cancel"), ("नहीं", "cancel"), ("batalkan", "cancel"),
    ("yes, cancel it", "cancel"), ("ok but when does it arrive?", None), ("where is my order", None),
    ("yes " * 7, None), ("", None), (None, None), ("STOP", None),
])
def test_yes_or_no(text, answer):
    assert yes_or_no(text) == answer


def test_only_the_store_languages_count():
    assert yes_or_no("sim", ("en",)) is None and yes_or_no("sim", ("pt",)) == "confirm"


@given(st.text(max_size=200))
def test_yes_or_no_reads_anything(text):
    answer = yes_or_no(text)
    assert answer in (None, "confirm", "cancel")
    if "?" in text:
        assert answer is None


@pytest.mark.parametrize("gateways, expected", [
    (["Cash on Delivery (COD)"], True), (["cod"], True), (["COD"], True), (["Cash on delivery"], True),
    (["shopify_payments"], False), (["codigo_pix"], False), (["manual", "cash on delivery"], True), ([], False),
])
def test_cash_on_delivery_gateways(gateways, expected):
    assert is_cash_on_delivery(gateways, ("cash on delivery", "cod")) is expected


def test_money():
    from decimal import Decimal
    assert money(Decimal("1299.5"), "INR") == "1,299.50 INR" and money(None, "INR") == "" and money(Decimal("3"), None) == "3.00"


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
                    st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=5), st.text(max_size=5),
                                                                                max_size=3))


@given(st.dictionaries(st.sampled_from(["token", "id", "phone", "created_at", "updated_at", "completed_at",
                                        "abandoned_checkout_url", "line_items", "total_price", "customer",
                                        "currency", "customer_locale"]), scalars))
def test_checkout_parser_returns_a_record_or_a_row_error(body):
    try:
        record = checkout_from_json(body, "US")
    except RowError:
        return
    assert record.token and record.updated_at >= record.created_at or record.updated_at
    assert record.abandoned_checkout_url is None or record.abandoned_checkout_url.lower().startswith("http")


@given(st.dictionaries(st.sampled_from(["id", "order_id", "status", "shipment_status", "tracking_url", "tracking_urls",
                                        "tracking_number", "tracking_numbers", "created_at", "updated_at",
                                        "fulfillment_id", "happened_at"]), scalars))
def test_fulfillment_parsers_return_a_record_or_a_row_error(body):
    for parse in (fulfillment_from_json, fulfillment_event_from_json):
        try:
            parse(body)
        except RowError:
            pass


def automations(table: str) -> None:
    parse_file_config({"automations": __import__("tomllib").loads(table)})


@pytest.mark.parametrize("table, message", [
    ('[abandoned_checkout]\nafter_minutes = [30, 10]\ntexts = ["a", "b"]', "later and later"),
    ('[abandoned_checkout]\nafter_minutes = [1, 2, 3, 4]\ntexts = ["a", "b", "c", "d"]', "1 to 3 steps"),
    ('[abandoned_checkout]\nafter_minutes = [30, 60]\ntexts = ["a"]', "one per step"),
    ('[abandoned_checkout]\nafter_minutes = [30]', "nothing to send"),
    ('[abandoned_checkout]\nafter_minutes = [30]\ntexts = ["{order_name}"]', "order_name"),
    ('[order_shipped]\ntext = "{checkout_url}"', "checkout_url"),
    ('[order_confirmed]\ntemplate = { name = "x", category = "marketing" }', "utility"),
    ('[cod_confirmation]\ntext = "x"\nconfirm_tag = "a,b"', "without commas"),
    ('[order_delivered]', "nothing to send"),
    ('[order_refunded]\ntext = "x"', "order_refunded"),
])
def test_bad_automation_tables_are_refused_naming_the_key(table, message):
    with pytest.raises(ConfigError, match=message):
        automations(table)


def test_a_step_text_may_be_a_table_of_languages():
    config = parse_file_config({"store": {"languages": ["en", "pt"]}, "automations": {"abandoned_checkout": {
        "after_minutes": [30], "texts": [{"en": "Your cart: {checkout_url}", "pt": "Seu carrinho: {checkout_url}"}]}}})
    step = config.automations.abandoned_checkout.step(0, "en")
    assert step.text == "Your cart: {checkout_url}" and step.texts == {"pt": "Seu carrinho: {checkout_url}"}
    with pytest.raises(ConfigError, match="texts.de"):
        parse_file_config({"automations": {"abandoned_checkout": {"after_minutes": [30], "texts": [{"de": "x"}]}}})


def test_the_contracts_example_parses():
    import tomllib
    from pathlib import Path

    path = Path(__file__).parents[1] / "fixtures" / "contract-automations.toml"
    config = parse_file_config(tomllib.loads(path.read_text())).automations
    assert config.configured() == ["abandoned_checkout", "order_confirmed", "order_shipped", "order_delivered",
                                   "cod_confirmation"]
    assert config.abandoned_checkout.after_minutes == (30, 1440)
    assert config.cod_confirmation.template.quick_replies == ("Confirm", "Cancel")
    assert (config.cod_confirmation.confirm_tag, config.cod_confirmation.cancel_tag) == ("cod-confirmed", "cod-cancelled")
