"""The Graph API client's HTTP transport: the documented request to the fake Graph API, errors by
meaning with Retry-After, a network failure."""
from __future__ import annotations

import pytest

from bot.whatsapp import graph, messages
from tests.support.fake_graph import FakeGraph, graph_error

pytestmark = pytest.mark.database_agnostic  # conftest.py: runs in the SQLite pass only


def test_http_transport_sends_the_documented_request():
    # A fake configured with its own version, phone number id and token: the transport must use them.
    fake_graph = FakeGraph(version="v25.0", phone_number_id="1234", token="secret-token").start()
    try:
        transport = graph.HttpTransport(fake_graph.url, "v25.0", "1234", "secret-token")
        message_id = transport.send(graph.envelope("15551234567", messages.text_message("Hello"), "outbox:1"))
        assert message_id.startswith("wamid.")
        sent = fake_graph.requests[-1]
        assert sent.path == "/v25.0/1234/messages"
        assert sent.headers["Authorization"] == "Bearer secret-token"
        assert sent.body == {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "15551234567",
                             "type": "text", "text": {"body": "Hello", "preview_url": False},
                             "biz_opaque_callback_data": "outbox:1"}
        transport.mark_read("wamid.abc")
        assert fake_graph.requests[-1].body == {"messaging_product": "whatsapp", "status": "read",
                                                "message_id": "wamid.abc"}
        assert fake_graph.refusals == []
    finally:
        fake_graph.stop()


def test_http_transport_raises_by_meaning_with_retry_after(fake_graph):
    transport = graph.HttpTransport(fake_graph.url, fake_graph.version, fake_graph.phone_number_id, fake_graph.token)
    fake_graph.queued.append(graph_error(130429, "Rate limit hit", status=429, headers={"Retry-After": "7"}))
    with pytest.raises(graph.RateLimitedError) as caught:
        transport.send(graph.envelope("1555", messages.text_message("x"), None))
    assert caught.value.retry_after == 7.0 and caught.value.code == 130429


def test_http_transport_network_failure_is_transient():
    transport = graph.HttpTransport("http://127.0.0.1:9", "v26.0", "1", "t", connect_timeout=0.5)
    with pytest.raises(graph.ServerError):
        transport.send(graph.envelope("1555", messages.text_message("x"), None))
