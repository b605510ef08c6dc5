"""Catalog messages and carts without a database (docs/catalog.md): the product and product-list
builders within Meta's limits (and passed by the fake Graph API's checks), their previews, the
retailer-id format both ways, the start check of [store] catalog_retailer_id, and hostile carts."""
from __future__ import annotations

import copy
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.config import parse_file_config
from bot.core.errors import ConfigError
from bot.whatsapp import commerce, graph, messages
from bot.whatsapp import events as ev
from bot.whatsapp.commerce import RetailerIds, Variant
from flows import runner
from tests.conftest import load_fixture
from tests.support.fake_graph import check_body

CATALOG = "354160437058781"


def sent(message: dict) -> dict:
    return graph.envelope("15551234567", message, "outbox:1")


# ---------------------------------------------------------------- builders

def test_a_single_product_in_metas_shape():
    message = messages.product_message(CATALOG, "SKU-1", "Our favourite")
    assert message == {"type": "interactive", "interactive": {
        "type": "product", "body": {"text": "Our favourite"},
        "action": {"catalog_id": CATALOG, "product_retailer_id": "SKU-1"}}}
    assert messages.preview_of(message) == "Our favourite [product SKU-1]"
    assert check_body(sent(message)) is None


def test_a_product_list_in_metas_shape():
    message = messages.product_list_message(CATALOG, "Picked for you", "Try these",
                                            [("Like you", ["A", "B"]), ("Favourites", ["C"])], footer="Acme")
    inner = message["interactive"]
    assert inner["type"] == "product_list" and inner["header"] == {"type": "text", "text": "Picked for you"}
    assert inner["action"] == {"catalog_id": CATALOG, "sections": [
        {"title": "Like you", "product_items": [{"product_retailer_id": "A"}, {"product_retailer_id": "B"}]},
        {"title": "Favourites", "product_items": [{"product_retailer_id": "C"}]}]}
    assert inner["footer"] == {"text": "Acme"}
    assert messages.preview_of(message) == "Picked for you: Try these [products Like you: A, B | Favourites: C]"
    assert check_body(sent(message)) is None


@pytest.mark.parametrize("what, build", [
    ("31 products", lambda: messages.product_list_message(
        CATALOG, "h", "b", [(f"S{i}", [f"P{i}-{j}" for j in range(10 + (i == 0))]) for i in range(3)])),
    ("11 sections", lambda: messages.product_list_message(CATALOG, "h", "b", [(f"S{i}", [f"P{i}"]) for i in range(11)])),
    ("no sections", lambda: messages.product_list_message(CATALOG, "h", "b", [])),
    ("an empty section", lambda: messages.product_list_message(CATALOG, "h", "b", [("A", ["P"]), ("B", [])])),
    ("no header", lambda: messages.product_list_message(CATALOG, "", "b", [("A", ["P"])])),
    ("a header over 60", lambda: messages.product_list_message(CATALOG, "h" * 61, "b", [("A", ["P"])])),
    ("no body", lambda: messages.product_list_message(CATALOG, "h", "", [("A", ["P"])])),
    ("a section title over 24", lambda: messages.product_list_message(CATALOG, "h", "b", [("t" * 25, ["P"])])),
    ("an untitled section", lambda: messages.product_list_message(CATALOG, "h", "b", [("", ["P"])])),
    ("a product twice", lambda: messages.product_list_message(CATALOG, "h", "b", [("A", ["P"]), ("B", ["P"])])),
    ("no catalog", lambda: messages.product_message("", "P")),
    ("a catalog that is no id", lambda: messages.product_message("shop", "P")),
    ("no retailer id", lambda: messages.product_message(CATALOG, "")),
    ("a retailer id over 100", lambda: messages.product_message(CATALOG, "x" * 101)),
    ("a product body over 1024", lambda: messages.product_message(CATALOG, "P", "b" * 1025)),
])
def test_the_builders_refuse_what_meta_refuses(what, build):
    with pytest.raises(messages.MessageLimitError):
        build()


retailer_id = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=100) \
    .filter(str.strip)


@given(st.lists(st.tuples(st.text(string.ascii_letters, min_size=1, max_size=24),
                          st.lists(retailer_id, min_size=1, max_size=30, unique=True)),
                min_size=1, max_size=10))
def test_whatever_the_builder_accepts_the_fake_graph_accepts(sections):
    every = [rid for _, ids in sections for rid in ids]
    try:
        message = messages.product_list_message(CATALOG, "Picked", "For you", sections)
    except messages.MessageLimitError:
        assert len(every) > 30 or len(set(every)) < len(every)
        return
    assert check_body(sent(message)) is None
    broken = copy.deepcopy(sent(message))
    del broken["interactive"]["header"]
    assert check_body(broken).check == "product_list.header"


# ---------------------------------------------------------------- [store] catalog settings

@pytest.mark.parametrize("value, error", [
    ("{barcode}", "store.catalog_retailer_id: unknown placeholder {barcode}"),
    ("{sku:>8}", "store.catalog_retailer_id: write placeholders plainly"),
    ("{sku!r}", "store.catalog_retailer_id: write placeholders plainly"),
    ("SKU", "store.catalog_retailer_id: use at least one of {sku}, {variant_id}, {product_id}"),
    ("{sku}{variant_id}", "store.catalog_retailer_id: separate placeholders"),
    ("{product_id}42{variant_id}", "store.catalog_retailer_id: separate placeholders"),
    ("{sku", "store.catalog_retailer_id:"),
])
def test_a_format_that_cannot_be_read_back_stops_the_start_naming_the_key(value, error):
    with pytest.raises(ConfigError, match=error.replace("{", r"\{").replace("}", r"\}")):
        parse_file_config({"store": {"catalog_retailer_id": value}})


def test_the_catalog_settings_and_their_defaults():
    assert parse_file_config({}).store.catalog_id == ""
    assert parse_file_config({}).store.catalog_retailer_id == "{sku}"
    store = parse_file_config({"store": {"catalog_id": f" {CATALOG} ",
                                         "catalog_retailer_id": "shopify_US_{product_id}_{variant_id}"}}).store
    assert store.catalog_id == CATALOG and store.catalog_retailer_id == "shopify_US_{product_id}_{variant_id}"
    with pytest.raises(ConfigError, match="store.catalog_id: 'my-shop' is not a catalog id"):
        parse_file_config({"store": {"catalog_id": "my-shop"}})


# ---------------------------------------------------------------- the retailer-id format, both ways

def test_shopifys_catalog_ids_read_back():
    ids = RetailerIds("shopify_US_{product_id}_{variant_id}")
    assert ids.render(Variant(31, 3, None)) == "shopify_US_3_31"
    assert ids.read("shopify_US_3_31") == {"product_id": "3", "variant_id": "31"}
    assert ids.read("shopify_US_3_") is None and ids.read("shopify_US_03_31") is None
    assert commerce.resolve(ids, ["shopify_US_3_31"], []) == {"shopify_US_3_31": 31}  # Shopify's cart decides
    sku = RetailerIds("{sku}")
    assert sku.render(Variant(31, 3, None)) is None and sku.render(Variant(31, 3, " ")) is None
    assert commerce.resolve(sku, ["CUP"], [Variant(31, 3, "CUP"), Variant(30, 3, "CUP")]) == {"CUP": 30}
    assert commerce.resolve(sku, ["MUG"], [Variant(31, 3, "CUP")]) == {}


SEPARATOR = st.text(st.sampled_from("_-./:|#xS "), min_size=1, max_size=3)
FORMATS = st.lists(st.sampled_from(commerce.FIELDS), min_size=1, max_size=3).flatmap(
    lambda fields: st.tuples(st.just(fields), st.lists(SEPARATOR, min_size=len(fields) - 1,
                                                       max_size=len(fields) - 1),
                             st.text("AB_-0", max_size=3), st.text("AB_-0", max_size=3)))
SHOPIFY_ID = st.integers(1, 2**63 - 1)
SKU = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=30).filter(str.strip)


def template_of(fields, separators, prefix, suffix) -> str:
    parts = [prefix]
    for index, name in enumerate(fields):
        parts.append(("" if index == 0 else separators[index - 1]) + "{" + name + "}")
    return "".join(parts) + suffix


@settings(max_examples=300)
@given(FORMATS, st.builds(Variant, SHOPIFY_ID, SHOPIFY_ID, SKU),
       st.lists(st.builds(Variant, SHOPIFY_ID, SHOPIFY_ID, SKU), max_size=5, unique_by=lambda v: v.variant_id))
def test_a_rendered_id_reads_back_to_its_variant_and_never_to_another(parts, variant, others):
    others = [v for v in others if v.variant_id != variant.variant_id]  # one variant per id, as the store has
    template = template_of(*parts)
    parse_file_config({"store": {"catalog_retailer_id": template}})  # a format the start check accepts
    ids = RetailerIds(template)
    rid = ids.render(variant)
    if rid is None:
        assert len(template.format(sku=variant.sku, variant_id=variant.variant_id,
                                   product_id=variant.product_id)) > commerce.MAX_RETAILER_ID
        return
    # What the caller looks up (segments/catalog.py) finds the variant ...
    lookup = commerce.lookup_for(ids, [rid])
    assert variant.variant_id in lookup.variant_ids or variant.sku in lookup.skus \
        or variant.product_id in lookup.product_ids
    # ... and the id maps to a variant that renders to it: this one, or a lower one spelled the same.
    found = commerce.resolve(ids, [rid], [variant, *others])
    chosen = next(v for v in sorted([variant, *others], key=lambda v: v.variant_id) if v.variant_id == found[rid])
    assert ids.render(chosen) == rid and chosen.variant_id <= variant.variant_id


@given(FORMATS, st.lists(st.one_of(retailer_id, st.text(max_size=300)), max_size=20),
       st.lists(st.builds(Variant, SHOPIFY_ID, st.one_of(st.none(), SHOPIFY_ID), st.one_of(st.none(), SKU)),
                max_size=5))
def test_any_retailer_id_maps_only_to_what_it_spells(parts, retailer_ids, known):
    ids = RetailerIds(template_of(*parts))
    found = commerce.resolve(ids, retailer_ids, known)
    for rid, variant_id in found.items():
        rendered = {ids.render(v) for v in known if v.variant_id == variant_id}
        assert rid in rendered or (ids.read(rid) or {}).get("variant_id") == str(variant_id)


# ---------------------------------------------------------------- hostile carts

JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**20, 10**20) | st.floats() | st.text(max_size=50),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=20)
ITEM = st.one_of(JSON, st.fixed_dictionaries({}, optional={
    "product_retailer_id": st.one_of(JSON, st.text(max_size=500)),
    "quantity": st.one_of(JSON, st.integers(-5, 2000), st.floats(allow_nan=True, allow_infinity=True),
                          st.sampled_from(["3", "1e3", "inf", "nan", "-0", "2.5"])),
    "item_price": JSON, "currency": JSON}))


def order_payload(order: object) -> dict:
    payload = load_fixture("whatsapp", "order__pywa-order.json")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["order"] = order
    return payload


@settings(max_examples=300)
@given(st.one_of(JSON, st.fixed_dictionaries({"catalog_id": JSON, "text": JSON,
                                              "product_items": st.one_of(JSON, st.lists(ITEM, max_size=120))})))
def test_a_hostile_cart_is_read_within_bounds_and_never_raises(order):
    [message] = ev.parse_payload(order_payload(order))
    if not isinstance(message, ev.InboundMessage):
        return  # a part no database may store (a NUL, say): quarantined, never answered
    carried = runner.order_of(message.content)
    assert carried is not None  # an `order` message is a cart, however broken
    cart = commerce.read_cart(carried["items"])
    assert len(cart.lines) <= commerce.MAX_CART_LINES
    assert all(line.retailer_id.strip() and 1 <= line.quantity <= commerce.MAX_QUANTITY for line in cart.lines)
    names = commerce.named([line.retailer_id for line in cart.lines] + list(cart.unreadable), lambda n: f"{n} more")
    assert len(names) <= commerce.MAX_NAMED + 1
    assert all(0 < len(name) <= commerce.MAX_NAME and name.isprintable() for name in names)
    commerce.resolve(RetailerIds("shopify_US_{product_id}_{variant_id}"), [line.retailer_id for line in cart.lines],
                     [Variant(31, 3, "CUP")])


def test_the_recorded_cart_reads_with_its_quantities():
    [message] = ev.parse_payload(load_fixture("whatsapp", "order__pywa-order.json"))
    cart = commerce.read_cart(runner.order_of(message.content)["items"])
    assert cart.lines == (commerce.CartLine("HAMBURGER", 3), commerce.CartLine("FRENCH_FRIES", 2),
                          commerce.CartLine("SODA", 2)) and cart.unreadable == ()
    odd = commerce.read_cart([{"product_retailer_id": "A", "quantity": 2.5}, {"product_retailer_id": " ", "quantity": 1},
                              {"product_retailer_id": "B", "quantity": 1000}, {"product_retailer_id": "C", "quantity": 0},
                              {"product_retailer_id": "D\n\u202eX", "quantity": True}])
    assert odd.lines == () and odd.unreadable == ("A", "?", "B", "C", "D\n\u202eX")
    assert commerce.safe_name("D\n\u202eX") == "D X" and commerce.safe_name("x" * 50) == "x" * 39 + "…"
