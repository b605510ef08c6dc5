"""The fake Graph API's checks (tests/support/fake_graph.py), without HTTP: every check refuses a bad
body with Meta's code and names the field; the product's real bodies (bot/whatsapp/messages.py,
wrapped by graph.envelope) pass. Over HTTP: tests/integration/test_fakes.py."""
from __future__ import annotations

import copy

import pytest

from bot.whatsapp import graph, messages
from flows import runner
from tests.support.fake_graph import CHECKS, FakeGraph, check_body, check_path, check_token

ROWS = [messages.ListRow("preferences:interest:Dogs", "Dogs", "Walks and treats"),
        messages.ListRow("preferences:interest:Cats", "Cats")]


def product_bodies() -> dict[str, dict]:
    """What the product sends, built by its own code."""
    three = [("reorder:confirm:1", "Reorder"), ("intent:human", "Talk to us"), ("intent:sale", "x" * 20)]
    return {
        "text": graph.envelope("15551234567", messages.text_message("Hello"), "outbox:1"),
        "text at the limit": graph.envelope("15551234567", messages.text_message("x" * 4096, preview_url=True),
                                            "outbox:2"),
        "text to a username": graph.envelope("BR.1502576394655843", messages.text_message("Hi"), "outbox:3"),
        "one button": graph.envelope("15551234567", messages.buttons_message("Again?", three[:1]), "outbox:4"),
        "three buttons, header, footer": graph.envelope(
            "15551234567", messages.buttons_message("b" * 1024, three, header="h" * 60, footer="f" * 60), None),
        "list": graph.envelope("15551234567", messages.list_message("What are you into?", "Choose", [(None, ROWS)]),
                               "outbox:5"),
        "list in titled sections": graph.envelope("15551234567", messages.list_message(
            "Pick", "Interests", [("Pets", ROWS), ("More", [messages.ListRow("r" * 200, "t" * 24, "d" * 72)])]),
            "outbox:6"),
        "template": graph.envelope("15551234567", messages.template_message("we_miss_you", "en_US"), "outbox:7"),
        "template with parameters and quick replies": graph.envelope("15551234567", messages.template_message(
            "reorder_reminder", "en_US", ["Bob", "Dog Food 5kg"], ["reorder:confirm:7"]), "outbox:8"),
        "Rasa buttons as reply buttons": graph.envelope("15551234567", runner.to_graph_message(
            {"text": "Reorder?", "buttons": [{"title": "Reorder", "payload": "reorder:confirm:8001"}]}), "outbox:9"),
        "Rasa buttons as a list": graph.envelope("15551234567", runner.to_graph_message(
            {"text": "Pick one", "buttons": [{"title": f"Choice number {i} of many", "payload": f"/pick{i}"}
                                             for i in range(12)]}), "outbox:10"),
        "Rasa buttons with long payloads as a list": graph.envelope("15551234567", runner.to_graph_message(
            {"text": "Pick one", "buttons": [{"title": f"T{i}", "payload": f"/pick{i}" + "y" * 250}
                                             for i in range(5)]}), "outbox:11"),
        "mark as read": graph.read_body("wamid.abc"),
        "mark as read with the typing indicator": graph.read_body("wamid.abc", typing=True),
        "text to a parent user id": graph.envelope("US.ENT.11815799212886844830", messages.text_message("Hi"), None),
        "a single product": graph.envelope("15551234567", messages.product_message("354160437058781", "SKU-1"), None),
        "a product list at Meta's limits": graph.envelope("15551234567", messages.product_list_message(
            "354160437058781", "h" * 60, "b" * 1024, [("t" * 24, [f"P{i}-{j}" for j in range(3)]) for i in range(10)]),
            None),
    }


@pytest.mark.parametrize("name", list(product_bodies()))
def test_the_products_real_bodies_pass(name):
    assert check_body(product_bodies()[name]) is None


def text(**changes) -> dict:
    body = graph.envelope("15551234567", messages.text_message("Hello"), "outbox:1")
    body.update(changes)
    return body


def buttons(*replies: dict, raw: list | None = None, **interactive) -> dict:
    body = graph.envelope("15551234567", messages.buttons_message("Choose", [("a", "A")]), "outbox:1")
    body["interactive"]["action"]["buttons"] = raw or [{"type": "reply", "reply": dict(r)} for r in replies]
    body["interactive"].update(interactive)
    return body


def listing(*sections, button="Choose") -> dict:
    body = graph.envelope("15551234567", messages.list_message("Pick", "Choose", [(None, ROWS)]), "outbox:1")
    body["interactive"]["action"] = {"button": button, "sections": list(sections)}
    return body


def template(**template) -> dict:
    body = graph.envelope("15551234567", messages.template_message("t", "en_US", ["Ana"]), "outbox:1")
    body["template"] = template
    return body


def row(i, **extra) -> dict:
    return {"id": f"row-{i}", "title": f"Row {i}", **extra}


def products(*sections, catalog_id="354160437058781", **interactive) -> dict:
    """A product list; each section (title, retailer ids), a None title leaving the title out."""
    body = graph.envelope("15551234567", messages.product_list_message("354160437058781", "Picked", "For you",
                                                                       [("Picks", ["P1"])]), "outbox:1")
    built = [{**({"title": title} if title is not None else {}),
              "product_items": [{"product_retailer_id": rid} for rid in ids]} for title, ids in sections]
    body["interactive"]["action"] = {"catalog_id": catalog_id, "sections": built}
    body["interactive"].update(interactive)
    return body


def one_product(**interactive) -> dict:
    body = graph.envelope("15551234567", messages.product_message("354160437058781", "P1", "For you"), "outbox:1")
    body["interactive"].update(interactive)
    return body


def without(body: dict, *path: str) -> dict:
    body = copy.deepcopy(body)
    target = body
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return body


BAD = [
    # (what, body, check, Meta's code)
    ("no messaging_product", without(text(), "messaging_product"), "messaging_product", 100),
    ("another product", text(messaging_product="sms"), "messaging_product", 100),
    ("no recipient", without(text(), "to"), "recipient", 100),
    ("a phone number with spaces", text(to="+1 555 123 4567"), "recipient", 100),
    ("an unknown recipient_type", text(recipient_type="business"), "recipient_type", 100),
    ("no type", without(text(), "type"), "type", 100),
    ("an unknown type", text(type="txt"), "type", 100),
    ("a type without its object", without(text(), "text"), "type", 100),
    ("callback data over 512", text(biz_opaque_callback_data="x" * 513), "callback_data", 131009),
    ("an empty text", text(text={"body": ""}), "text.body", 100),
    ("a text over 4096", text(text={"body": "x" * 4097}), "text.body", 131009),
    ("preview_url not a boolean", text(text={"body": "x", "preview_url": "yes"}), "text.body", 100),
    ("an unknown interactive type", buttons({"id": "a", "title": "A"}, type="buttons"), "interactive.type", 100),
    ("buttons without a body", buttons({"id": "a", "title": "A"}, body=None), "interactive.body", 100),
    ("a body over 1024", buttons({"id": "a", "title": "A"}, body={"text": "x" * 1025}), "interactive.body", 131009),
    ("no buttons", buttons(), "button.count", 131009),
    ("four buttons", buttons(*({"id": str(i), "title": str(i)} for i in range(4))), "button.count", 131009),
    ("five buttons without text", buttons(*({"id": str(i)} for i in range(5))), "button.count", 131009),
    ("a button without a title", buttons({"id": "a"}), "button.title", 100),
    ("a button title over 20", buttons({"id": "a", "title": "x" * 21}), "button.title", 131009),
    ("a button without an id", buttons({"title": "A"}), "button.id", 100),
    ("a button id over 256", buttons({"id": "x" * 257, "title": "A"}), "button.id", 131009),
    ("two buttons with one id", buttons({"id": "a", "title": "A"}, {"id": "a", "title": "B"}), "button.id_unique",
     131009),
    ("two buttons with one title", buttons({"id": "a", "title": "A"}, {"id": "b", "title": "A"}),
     "button.title_unique", 131009),
    ("a button of another type", buttons(raw=[{"type": "url", "url": {"id": "a", "title": "A"}}]), "button.type", 100),
    ("a header over 60", buttons({"id": "a", "title": "A"}, header={"type": "text", "text": "x" * 61}),
     "interactive.header", 131009),
    ("a header of an unknown type", buttons({"id": "a", "title": "A"}, header={"type": "gif"}), "interactive.header",
     100),
    ("a footer over 60", buttons({"id": "a", "title": "A"}, footer={"text": "x" * 61}), "interactive.footer", 131009),
    ("no action", without(buttons({"id": "a", "title": "A"}), "interactive", "action"), "interactive.action", 100),
    ("a list label over 20", listing({"rows": [row(1)]}, button="x" * 21), "list.button", 131009),
    ("a list without a label", listing({"rows": [row(1)]}, button=""), "list.button", 100),
    ("a list without sections", listing(), "list.sections", 131009),
    ("eleven sections", listing(*({"title": f"S{i}", "rows": [row(i)]} for i in range(11))), "list.sections", 131009),
    ("a section without rows", listing({"rows": []}), "list.rows", 131009),
    ("eleven rows in all", listing({"title": "A", "rows": [row(i) for i in range(6)]},
                                   {"title": "B", "rows": [row(i) for i in range(6, 11)]}), "list.rows", 131009),
    ("two sections, one untitled", listing({"title": "A", "rows": [row(1)]}, {"rows": [row(2)]}),
     "list.section_title", 100),
    ("a section title over 24", listing({"title": "x" * 25, "rows": [row(1)]}), "list.section_title", 131009),
    ("a row title over 24", listing({"rows": [{"id": "a", "title": "x" * 25}]}), "list.row_title", 131009),
    ("a row without a title", listing({"rows": [{"id": "a"}]}), "list.row_title", 100),
    ("a row description over 72", listing({"rows": [row(1, description="x" * 73)]}), "list.row_description",
     131009),
    ("a row id over 200", listing({"rows": [{"id": "x" * 201, "title": "A"}]}), "list.row_id", 131009),
    ("two rows with one id", listing({"title": "A", "rows": [row(1)]}, {"title": "B", "rows": [row(1)]}),
     "list.row_id_unique", 131009),
    ("a template without a name", template(language={"code": "en_US"}), "template.name", 100),
    ("a template without a language", template(name="t"), "template.language", 100),
    ("a language without a code", template(name="t", language={"policy": "deterministic"}), "template.language", 100),
    ("an unknown component", template(name="t", language={"code": "en"}, components=[{"type": "footr"}]),
     "template.components", 100),
    ("a body without parameters", template(name="t", language={"code": "en"}, components=[{"type": "body"}]),
     "template.parameters", 100),
    ("an empty text parameter", template(name="t", language={"code": "en"}, components=[
        {"type": "body", "parameters": [{"type": "text", "text": ""}]}]), "template.parameters", 131008),
    ("an unknown parameter type", template(name="t", language={"code": "en"}, components=[
        {"type": "body", "parameters": [{"type": "txt", "text": "x"}]}]), "template.parameters", 100),
    ("a button without a sub_type", template(name="t", language={"code": "en"}, components=[
        {"type": "button", "index": "0", "parameters": [{"type": "payload", "payload": "p"}]}]), "template.button",
     100),
    ("a button index of 10", template(name="t", language={"code": "en"}, components=[
        {"type": "button", "sub_type": "quick_reply", "index": "10",
         "parameters": [{"type": "payload", "payload": "p"}]}]), "template.button", 100),
    ("an image without a link or id", text(type="image", image={"caption": "x"}), "media", 100),
    ("a reaction without the message id", text(type="reaction", reaction={"emoji": "👍"}), "reaction", 100),
    ("a location without its longitude", text(type="location", location={"latitude": 1.5}), "location", 100),
    ("a read receipt without the message id", {"messaging_product": "whatsapp", "status": "read"},
     "read.message_id", 100),
    ("another status", {"messaging_product": "whatsapp", "status": "delivered", "message_id": "wamid.x"},
     "read.message_id", 100),
    ("a typing indicator of another kind", {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.x",
                                            "typing_indicator": {"type": "audio"}}, "read.typing_indicator", 100),
    ("a typing indicator that is not an object", {"messaging_product": "whatsapp", "status": "read",
                                                  "message_id": "wamid.x", "typing_indicator": True},
     "read.typing_indicator", 100),
    ("a user id recipient that is a phone number", {**without(text(), "to"), "recipient": "15551234567"},
     "recipient", 100),
    ("a user id recipient without its country", {**without(text(), "to"), "recipient": "13491208655302741918"},
     "recipient", 100),
    ("a header image over http", template(name="t", language={"code": "en"}, components=[
        {"type": "header", "parameters": [{"type": "image", "image": {"link": "http://x.test/a.png"}}]}]),
     "template.header", 131009),
    ("a header text of 61 characters", template(name="t", language={"code": "en"}, components=[
        {"type": "header", "parameters": [{"type": "text", "text": "x" * 61}]}]), "template.header", 131009),
    ("a header with two parameters", template(name="t", language={"code": "en"}, components=[
        {"type": "header", "parameters": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]),
     "template.header", 100),
    ("a copy code given as a payload", template(name="t", language={"code": "en"}, components=[
        {"type": "button", "sub_type": "copy_code", "index": "0", "parameters": [{"type": "payload", "payload": "X"}]}]),
     "template.button", 100),
    ("a coupon code of 16 characters", template(name="t", language={"code": "en"}, components=[
        {"type": "button", "sub_type": "copy_code", "index": "0",
         "parameters": [{"type": "coupon_code", "coupon_code": "X" * 16}]}]), "template.button", 131009),
    ("a url button without its text", template(name="t", language={"code": "en"}, components=[
        {"type": "button", "sub_type": "url", "index": "0", "parameters": []}]), "template.button", 100),
    ("two buttons at one index", template(name="t", language={"code": "en"}, components=[
        {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "a"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "b"}]}]),
     "template.button", 100),
    ("a product without its catalog", without(one_product(), "interactive", "action", "catalog_id"),
     "product.catalog_id", 100),
    ("a product without its retailer id", one_product(action={"catalog_id": "354160437058781"}),
     "product.retailer_id", 100),
    ("a single product with a header", one_product(header={"type": "text", "text": "Hi"}), "product.header", 100),
    ("a product list without a header", without(products(("Picks", ["P1"])), "interactive", "header"),
     "product_list.header", 100),
    ("a product list without a catalog", products(("Picks", ["P1"]), catalog_id=None), "product.catalog_id", 100),
    ("a product list of 11 sections", products(*[(f"S{i}", [f"P{i}"]) for i in range(11)]), "product_list.sections",
     131009),
    ("a product list of 31 products", products(*[(f"S{i}", [f"P{i}-{j}" for j in range(10 + (i == 0))])
                                                 for i in range(3)]), "product_list.items", 131009),
    ("a product list section without a title", products(("Picks", ["P1"]), (None, ["P2"])),
     "product_list.section_title", 100),
    ("a product list section with no products", products(("Picks", [])), "product_list.items", 131009),
    ("not an object", ["a list"], "json", 100),
]


@pytest.mark.parametrize("what, body, check, code", BAD, ids=[b[0] for b in BAD])
def test_each_check_refuses_like_meta(what, body, check, code):
    refusal = check_body(body)
    assert refusal is not None, what
    assert (refusal.check, refusal.status, refusal.code) == (check, 400, code)
    error = refusal.error()
    assert error["code"] == code and error["type"] == "OAuthException" and error["fbtrace_id"]
    assert error["message"].startswith(f"(#{code}) ")
    assert error["error_data"]["messaging_product"] == "whatsapp" and error["error_data"]["details"]


def test_the_details_name_the_field():
    refusal = check_body(buttons({"id": "a", "title": "A"}, {"id": "b", "title": "x" * 21}))
    assert refusal.details == "interactive['action']['buttons'][1]['reply']['title'] is 21 characters long; " \
                              "Meta allows 1 to 20"


def test_every_named_check_is_one_a_refusal_can_give():
    assert {check for _, _, check, _ in BAD} | {"path", "token"} <= set(CHECKS)
    assert set(CHECKS) - {check for _, _, check, _ in BAD} == {"path", "token"}  # tested below


def test_the_path_must_be_the_configured_version_and_phone_number():
    assert check_path("POST", "/v26.0/1234567890/messages", "v26.0", "1234567890") is None
    other_number = check_path("POST", "/v26.0/99/messages", "v26.0", "1234567890")
    assert (other_number.status, other_number.code, other_number.subcode, other_number.type) == \
        (400, 100, 33, "GraphMethodException")
    assert other_number.message.startswith("Unsupported post request. Object with ID '99' does not exist")
    for method, path in [("POST", "/v25.0/1234567890/messages"), ("POST", "/v26.0/1234567890/message"),
                         ("POST", "/1234567890/messages"), ("POST", "/v26.0/1234567890/messages/extra"),
                         ("GET", "/v26.0/1234567890/messages")]:
        refusal = check_path(method, path, "v26.0", "1234567890")
        assert (refusal.status, refusal.code) == (400, 2500), (method, path)
        assert refusal.message.startswith("Unknown path components: /")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-token"},
                                     {"Authorization": "Basic dGVzdA=="}, {"Authorization": "Bearer "}])
def test_the_bearer_token_must_be_the_configured_one(headers):
    refusal = check_token(headers, "test-token")
    assert (refusal.check, refusal.status, refusal.code) == ("token", 401, 190)
    assert refusal.message.startswith("Invalid OAuth access token")
    assert "error_data" not in refusal.error()
    assert check_token({"authorization": "Bearer test-token"}, "test-token") is None


def test_tolerate_skips_one_named_check_only():
    long_id = listing({"rows": [{"id": "x" * 201, "title": "A"}, {"id": "x" * 201, "title": "B"}]})
    assert check_body(long_id).check == "list.row_id"
    assert check_body(long_id, {"list.row_id"}).check == "list.row_id_unique"
    assert check_body(long_id, {"list.row_id", "list.row_id_unique"}) is None
    fake = FakeGraph().start()
    try:
        with pytest.raises(ValueError, match="no check named 'row_id'"):
            fake.tolerate("row_id", because="a typo")
    finally:
        fake.stop()


# A repeated payload is shown once; titles equal once shortened to 20 become list rows (24 characters,
# which need not differ): flows/runner.to_graph_message.
@pytest.mark.parametrize("rasa_buttons", [
    [{"title": "Yes", "payload": "/affirm"}, {"title": "Sure", "payload": "/affirm"}],
    [{"title": "Send me the blue ones please", "payload": "/blue"}, {"title": "Send me the blue ones today", "payload": "/now"}],
], ids=["one payload twice", "titles equal once shortened"])
def test_rasa_buttons_meta_would_refuse(rasa_buttons):
    body = runner.to_graph_message({"text": "Which?", "buttons": rasa_buttons})
    assert check_body(graph.envelope("15551234567", body, "outbox:1")) is None
    ids = [b["reply"]["id"] for b in body["interactive"]["action"].get("buttons", [])] or [
        row["id"] for section in body["interactive"]["action"]["sections"] for row in section["rows"]]
    assert ids == list(dict.fromkeys(b["payload"] for b in rasa_buttons))  # every choice, once, in order
