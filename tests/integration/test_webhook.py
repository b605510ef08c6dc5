"""The webhook's request path, through Flask's test client: verify, store, acknowledge."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from bot.core.signing import meta_signature
from bot.core.tables import customers, inbound_events
from tests.conftest import APP_SECRET, fixture_paths, load_fixture
from webhook import create_app


@pytest.fixture
def app(settings_for, engine):
    app = create_app(settings_for(WABOT_VERIFY_TOKEN="verify-me"))
    yield app
    app.extensions["wabot"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def post(client, body: bytes, secret: str | None = APP_SECRET, signature: str | None = None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    elif secret is not None:
        headers["X-Hub-Signature-256"] = meta_signature(secret, body)
    return client.post("/webhook", data=body, headers=headers)


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(inbound_events)).scalar()


def test_verification_handshake(client):
    ok = client.get("/webhook?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444")
    assert ok.status_code == 200 and ok.data == b"1158201444"
    assert client.get("/webhook?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1").status_code == 403
    assert client.get("/webhook").status_code == 403


def test_verification_without_a_configured_token_is_refused(settings_for, engine):
    app = create_app(settings_for())
    assert app.test_client().get("/webhook?hub.mode=subscribe&hub.verify_token=&hub.challenge=1").status_code == 403
    app.extensions["wabot"].close()


BODY = json.dumps(load_fixture("whatsapp", "text__pywa-forwarded.json")).encode()


@pytest.mark.parametrize("secret, signature", [
    (None, None),                       # missing
    ("another-secret", None),           # signed with the wrong secret
    (None, "sha256=" + "0" * 64),       # forged
    (None, "sha1=abc"),                 # wrong scheme
])
def test_bad_signatures_store_nothing(client, engine, secret, signature):
    response = post(client, BODY, secret=secret, signature=signature)
    assert response.status_code == 401
    assert stored(engine) == 0


def test_a_body_changed_after_signing_is_refused(client, engine):
    signature = meta_signature(APP_SECRET, BODY)
    assert post(client, BODY.replace(b"forwarded", b"tampered"), signature=signature).status_code == 401
    assert stored(engine) == 0


@pytest.mark.parametrize("body, reason", [
    (b"not json", "not JSON"),
    (b'{"object": "page", "entry": []}', "not a WhatsApp payload"),
    (b'["a list"]', "not a WhatsApp payload"),
])
def test_signed_malformed_bodies_are_quarantined_and_acknowledged(client, engine, body, reason):
    """Signed, so Meta's: a 4xx would only make Meta deliver the same body again and again
    (docs/architecture.md, intake). It is kept aside with its reason, and nothing else changes."""
    response = post(client, body)
    assert response.status_code == 200 and response.json == {"duplicates": 0, "stored": 1}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(inbound_events.c.state, inbound_events.c.kind, inbound_events.c.error,
                                      inbound_events.c.payload)).all()
        assert conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar_one() == 0
    assert [(r.state, r.kind) for r in rows] == [("quarantined", "quarantined")]
    assert reason in rows[0].error and "\n" not in rows[0].error
    assert rows[0].payload["raw"]  # the raw body, kept for whoever looks into it
    assert post(client, body).json == {"duplicates": 1, "stored": 0}  # a redelivery is not kept twice


def test_oversized_bodies_are_refused(client, engine):
    big = b'{"object": "whatsapp_business_account", "entry": [], "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert post(client, big).status_code == 413
    assert stored(engine) == 0


LIMIT = 1024 * 1024  # README: "413 over 1 MiB"


def padded(size: int) -> bytes:
    """A valid, signed-to-be WhatsApp payload (one text message) of exactly `size` bytes."""
    payload = load_fixture("whatsapp", "text__pywa-forwarded.json")
    payload["pad"] = ""
    bare = len(json.dumps(payload).encode())
    payload["pad"] = "x" * (size - bare)
    body = json.dumps(payload).encode()
    assert len(body) == size
    return body


def test_a_body_of_exactly_the_limit_is_taken_and_one_byte_more_is_refused(client, engine):
    assert post(client, padded(LIMIT + 1)).status_code == 413
    assert stored(engine) == 0
    response = post(client, padded(LIMIT))
    assert response.status_code == 200 and response.json == {"duplicates": 0, "stored": 1}
    assert stored(engine) == 1


def test_the_served_webhook_has_the_same_limit(start_server):
    server = start_server()
    assert server.post(padded(LIMIT + 1)).status_code == 413
    assert server.post(padded(LIMIT)).json() == {"duplicates": 0, "stored": 1}


@pytest.mark.parametrize("path", fixture_paths("whatsapp"), ids=lambda p: p.name.split("__")[0])
def test_every_fixture_is_acknowledged_and_stored(client, engine, path):
    response = post(client, path.read_bytes())
    assert response.status_code == 200
    assert response.json["stored"] >= 1
    assert stored(engine) == response.json["stored"]


def test_a_reused_message_id_with_other_content_is_kept_but_not_processed(client, engine):
    for path in fixture_paths("whatsapp"):
        assert post(client, path.read_bytes()).status_code == 200
    with engine.connect() as conn:
        rows = conn.execute(sa.select(inbound_events.c.event_key, inbound_events.c.state)).all()
    assert len(rows) >= len(fixture_paths("whatsapp"))
    variants = [key for key, state in rows if "#" in key]
    assert variants and all(state == "done" for key, state in rows if "#" in key)


def test_redelivery_is_acknowledged_but_not_stored_twice(client, engine):
    for _ in range(5):
        assert post(client, BODY).status_code == 200
    assert stored(engine) == 1


def test_healthz_and_metrics(client):
    assert client.get("/healthz").json == {"status": "ok"}
    post(client, BODY)
    text = client.get("/metrics").data.decode()
    assert 'wabot_inbound_events_total{kind="message",type="text"} 1.0' in text
    assert "wabot_outbox_depth" in text and "wabot_request_seconds_bucket" in text
