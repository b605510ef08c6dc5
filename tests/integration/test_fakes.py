"""The fakes over HTTP: the fake Graph API answers Meta's errors, which the product's transport and
sender read by meaning; the fake Rasa answers what Rasa's REST channel answers. (The body checks
one by one: tests/unit/test_fake_graph.py.)"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator

import pytest
import requests
import sqlalchemy as sa

from bot.conversation import outbox
from bot.core.tables import outbox as outbox_table
from bot.pipeline.sender import Sender
from bot.whatsapp import graph, messages
from flows.rasa_rest import RasaClient, RasaUnavailable
from tests.support.fake_graph import FakeGraph, graph_error
from tests.support.fake_rasa import FakeRasa

pytestmark = pytest.mark.database_agnostic  # conftest.py: runs in the SQLite pass only

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def meta() -> Iterator[FakeGraph]:
    """A fake Graph API whose refusals these tests provoke on purpose (the `fake_graph` fixture
    would fail them at teardown)."""
    fake = FakeGraph().start()
    yield fake
    fake.stop()


def transport(fake: FakeGraph, **changes) -> graph.HttpTransport:
    args = {"version": fake.version, "phone_number_id": fake.phone_number_id, "token": fake.token, **changes}
    return graph.HttpTransport(fake.url, args["version"], args["phone_number_id"], args["token"])


def hello() -> dict:
    return graph.envelope("15551234567", messages.text_message("Hello"), "outbox:1")


def test_the_configured_path_and_token_pass(meta):
    assert transport(meta).send(hello()).startswith("wamid.fake.")
    transport(meta).mark_read("wamid.abc")
    assert [r.status for r in meta.requests] == [200, 200] and meta.refusals == []


@pytest.mark.parametrize("changes, error, code, status", [
    ({"token": "wrong"}, graph.AuthError, 190, 401),
    ({"phone_number_id": "999"}, graph.InvalidRequestError, 100, 400),
    ({"version": "v19.0"}, graph.GraphError, 2500, 400),
])
def test_a_wrong_address_or_token_is_refused_as_meta_does(meta, changes, error, code, status):
    with pytest.raises(error) as caught:
        transport(meta, **changes).send(hello())
    assert type(caught.value) is error
    assert (caught.value.code, caught.value.http_status) == (code, status)
    assert [r.refusal.check for r in meta.refusals] == [("token" if "token" in changes else "path")]


def test_a_body_out_of_metas_limits_is_refused_with_the_field_named(meta):
    body = graph.envelope("15551234567", messages.buttons_message("Pick", [("a", "A")]), "outbox:1")
    body["interactive"]["action"]["buttons"][0]["reply"]["title"] = "A title of 21 letters"
    with pytest.raises(graph.InvalidRequestError) as caught:
        transport(meta).send(body)
    assert caught.value.code == 131009
    assert caught.value.details == ("interactive['action']['buttons'][0]['reply']['title'] is 21 characters long; "
                                    "Meta allows 1 to 20")
    assert "button.title" in meta.refusal_report()


def test_the_error_is_metas_json(meta):
    answer = requests.post(f"{meta.url}/{meta.version}/{meta.phone_number_id}/messages", timeout=5,
                           headers={"Authorization": f"Bearer {meta.token}"},
                           json={"messaging_product": "whatsapp", "to": "15551234567", "type": "text",
                                 "text": {"body": "x" * 4097}})
    assert answer.status_code == 400
    assert answer.json() == {"error": {
        "message": "(#131009) Parameter value is not valid", "type": "OAuthException", "code": 131009,
        "error_data": {"messaging_product": "whatsapp",
                       "details": "text['body'] is 4097 characters long; Meta allows 1 to 4096"},
        "fbtrace_id": "AFakeTraceId"}}
    assert answer.headers["WWW-Authenticate"].startswith('OAuth "Facebook Platform" "invalid_request"')
    not_json = requests.post(f"{meta.url}/{meta.version}/{meta.phone_number_id}/messages", data=b"to=1555",
                             headers={"Authorization": f"Bearer {meta.token}"}, timeout=5)
    assert (not_json.status_code, not_json.json()["error"]["code"]) == (400, 100)


def test_the_checks_come_before_the_script(meta):
    meta.queued.append(graph_error(130429, "Rate limit hit", status=429))
    bad = hello()
    del bad["messaging_product"]
    with pytest.raises(graph.InvalidRequestError):
        transport(meta).send(bad)
    with pytest.raises(graph.RateLimitedError):  # the scripted answer is still there for a valid body
        transport(meta).send(hello())
    assert [r.status for r in meta.requests] == [400, 429]


def test_a_message_meta_would_refuse_fails_in_the_outbox_with_its_code(engine, meta):
    body = messages.buttons_message("Pick one", [("a", "Same"), ("b", "Same")])  # titles must differ
    with engine.begin() as conn:
        row_id = outbox.enqueue(conn, recipient="15551234567", message=body, now=NOW)
    sender = Sender(engine, transport(meta), rate_limit=1000, clock=lambda: NOW)
    sender.drain()
    sender.close()
    with engine.connect() as conn:
        row = conn.execute(sa.select(outbox_table).where(outbox_table.c.id == row_id)).one()
    assert (row.state, row.error_code) == ("failed", 131009)
    assert "'Same' is not unique" in row.error_title
    assert [r.refusal.check for r in meta.refusals] == ["button.title_unique"]


# ---------------------------------------------------------------- the fake Rasa

@pytest.fixture
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa("http://127.0.0.1:9").start()  # no action server: nothing here gets that far
    yield fake
    fake.stop()


@pytest.mark.parametrize("method, path, body, status, message", [
    ("GET", "/webhooks/rest/webhook", None, 405, "Method GET not allowed for URL /webhooks/rest/webhook"),
    ("POST", "/webhooks/rest/webhooks", {"sender": "1", "message": "hi"}, 404,
     "Requested URL /webhooks/rest/webhooks not found"),
    ("POST", "/webhook", {"sender": "1", "message": "hi"}, 404, "Requested URL /webhook not found"),
    ("POST", "/webhooks/rest/webhook", b"sender=1&message=hi", 400, "Failed when parsing body as json"),
    ("POST", "/webhooks/rest/webhook", ["hi"], 500, "The server encountered an internal error"),
    ("POST", "/webhooks/rest/webhook", {"message": "hi"}, 400, "`sender` must be a non-empty string"),
    ("POST", "/webhooks/rest/webhook", {"sender": 15551234567, "message": "hi"}, 400,
     "`sender` must be a non-empty string"),
    ("POST", "/webhooks/rest/webhook", {"sender": "1", "text": "hi"}, 400, "`message` must be a string"),
    ("POST", "/webhooks/rest/webhook", {"sender": "1", "message": "hi", "metadata": ["x"]}, 400,
     "`metadata` must be an object"),
])
def test_the_fake_rasa_refuses_what_its_rest_channel_would(rasa, method, path, body, status, message):
    data = body if isinstance(body, bytes) else None
    answer = requests.request(method, f"{rasa.url}{path}", json=None if data or body is None else body,
                              data=data, timeout=5)
    assert answer.status_code == status
    assert message in answer.json()["message"] and answer.json()["status"] == status
    assert len(rasa.refusals) == 1 and rasa.received == []


def test_the_rest_channels_health_answers(rasa):
    assert requests.get(f"{rasa.url}/webhooks/rest/", timeout=5).json() == {"status": "ok"}
    assert rasa.refusals == []


def test_the_client_sees_a_refusal_as_rasa_unavailable(rasa):
    with pytest.raises(RasaUnavailable, match="HTTP 404"):
        RasaClient(f"{rasa.url}/rasa").send("15551234567", "hi")
