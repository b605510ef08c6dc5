"""The Graph API client: message bodies within Meta's limits, errors by meaning (the HTTP transport
against the fake Graph API is in tests/integration/test_graph_transport.py)."""
from __future__ import annotations

import pytest

from bot.whatsapp import graph, messages
from tests.conftest import load_fixture


@pytest.mark.parametrize("status, code, expected", [
    (429, 130429, graph.RateLimitedError),
    (400, 131056, graph.RateLimitedError),
    (400, 80007, graph.RateLimitedError),
    (500, 1, graph.ServerError),
    (503, None, graph.ServerError),
    (400, 131047, graph.WindowClosedError),
    (400, 131049, graph.MarketingLimitError),
    (400, 131050, graph.MarketingStoppedError),
    (400, 131026, graph.RecipientError),
    (400, 132000, graph.TemplateError),
    (401, 190, graph.AuthError),
    (400, 100, graph.InvalidRequestError),
    (400, 368, graph.GraphError),
])
def test_errors_map_to_exceptions_by_meaning(status, code, expected):
    error = graph.classify(status, {"code": code, "message": "x"} if code is not None else None)
    assert type(error) is expected
    assert error.transient == issubclass(expected, graph.TransientError)


def test_real_error_bodies():
    invalid = graph.classify(400, load_fixture("whatsapp/errors", "100-invalid-parameter__frappe-whatsapp-issue-43.json")["error"])
    assert isinstance(invalid, graph.InvalidRequestError) and invalid.code == 100
    assert "mandatory" in invalid.details
    template = graph.classify(400, load_fixture(
        "whatsapp/errors", "132000-param-count-mismatch__whaloc-spec-production-sample.json")["error"])
    assert isinstance(template, graph.TemplateError) and not template.transient


def test_button_limits():
    ok = messages.buttons_message("Pick one", [("a", "Yes"), ("b", "No"), ("c", "Maybe")])
    assert len(ok["interactive"]["action"]["buttons"]) == 3
    with pytest.raises(messages.MessageLimitError, match="1 to 3"):
        messages.buttons_message("Pick", [(str(i), str(i)) for i in range(4)])
    with pytest.raises(messages.MessageLimitError, match="longer than 20"):
        messages.buttons_message("Pick", [("a", "A title far too long to fit")])


def test_list_limits():
    rows = [messages.ListRow(f"r{i}", f"Row {i}") for i in range(10)]
    built = messages.list_message("Choose", "Open", [("Section", rows)])
    assert sum(len(s["rows"]) for s in built["interactive"]["action"]["sections"]) == 10
    with pytest.raises(messages.MessageLimitError, match="1 to 10"):
        messages.list_message("Choose", "Open", [("A", rows), ("B", rows[:1])])
    messages.list_message("Choose", "Open", [(None, [messages.ListRow("r" * 200, "Row")])])
    with pytest.raises(messages.MessageLimitError, match="row id 'r+' is longer than 200"):  # Meta: 200, not 256
        messages.list_message("Choose", "Open", [(None, [messages.ListRow("r" * 201, "Row")])])


def test_shorten_fits_dynamic_text():
    assert messages.shorten("Organic Earl Grey Tea 500g", 20) == "Organic Earl Grey T…"
    assert len(messages.shorten("x" * 50, 20)) == 20


def test_template_body():
    body = messages.template_message("we_miss_you", "en_US", ["Ana", "SAVE10"], quick_reply_payloads=["reorder:1"])
    template = body["template"]
    assert template["language"] == {"code": "en_US"}
    assert template["components"][0]["parameters"] == [{"type": "text", "text": "Ana"}, {"type": "text", "text": "SAVE10"}]
    assert template["components"][1]["sub_type"] == "quick_reply"


def test_envelope_addresses_phone_numbers_and_user_ids():
    phone = graph.envelope("15551234567", messages.text_message("hi"), "outbox:7")
    assert phone["to"] == "15551234567" and "recipient" not in phone
    assert phone["biz_opaque_callback_data"] == "outbox:7" and phone["messaging_product"] == "whatsapp"
    username = graph.envelope("US.13491208655302741918", messages.text_message("hi"), "outbox:8")
    assert username["recipient"] == "US.13491208655302741918" and "to" not in username
