"""The real server (`wabot serve` as a process) against a local fake Graph API over HTTP."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bot.conversation import outbox
from bot.core.signing import meta_signature
from bot.core.tables import customers, inbound_events, inbound_messages, sandbox_messages
from bot.core.tables import outbox as outbox_table
from bot.whatsapp import messages, simulate
from tests.conftest import ROOT, TOKEN, fixture_paths, load_fixture, make_env
from tests.support.cli import run_cli
from tests.support.fake_graph import graph_error
from tests.support.idle import wait_idle, wait_texts

WA_ID = "15551234567"


def scalar(engine, query):
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def outbox_rows(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(outbox_table).order_by(outbox_table.c.id)).all()


def test_hi_gets_exactly_one_reply_with_the_documented_request(start_server, fake_graph, engine):
    server = start_server(fake_graph)
    response = server.post(simulate.text_payload(WA_ID, "hi", name="Ana Lima"))
    assert response.status_code == 200
    wait_idle(engine, graph=fake_graph)
    sent = fake_graph.messages()
    assert len(sent) == 1 and len(fake_graph.requests) == 1
    reply = sent[0]
    assert reply.path == "/v26.0/1234567890/messages"
    assert reply.headers["Authorization"] == f"Bearer {TOKEN}"
    assert reply.body["messaging_product"] == "whatsapp" and reply.body["recipient_type"] == "individual"
    assert reply.body["to"] == WA_ID and reply.body["type"] == "text"
    assert reply.body["text"]["body"].startswith("Hi Ana!")
    assert reply.body["biz_opaque_callback_data"].startswith("outbox:")


def test_the_same_payload_delivered_five_times_gets_one_reply(start_server, fake_graph, engine):
    server = start_server(fake_graph)
    payload = simulate.text_payload(WA_ID, "hello", message_id="wamid.redelivered")
    for _ in range(5):
        assert server.post(payload).status_code == 200
    wait_idle(engine, graph=fake_graph)
    assert len(fake_graph.messages()) == 1
    assert scalar(engine, sa.select(sa.func.count()).select_from(inbound_events)) == 1


def test_a_forged_signature_stores_nothing(start_server, fake_graph, engine):
    server = start_server(fake_graph)
    response = server.post(simulate.text_payload(WA_ID, "hi"), secret="not-the-secret")
    assert response.status_code == 401
    wait_idle(engine, graph=fake_graph)
    assert scalar(engine, sa.select(sa.func.count()).select_from(inbound_events)) == 0
    assert fake_graph.requests == []


def test_every_fixture_is_answered_200_and_stored(start_server, fake_graph, engine):
    server = start_server(fake_graph)
    expected = 0
    for path in fixture_paths("whatsapp"):
        response = server.post(path.read_bytes())
        assert response.status_code == 200, path.name
        expected += response.json()["stored"]
    # Several samples reuse one message id: each is stored, only the first is processed.
    assert scalar(engine, sa.select(sa.func.count()).select_from(inbound_events)) >= len(fixture_paths("whatsapp"))
    wait_idle(engine, graph=fake_graph, timeout=30, settle=0)  # drained; no count is asserted
    assert scalar(engine, sa.select(sa.func.count()).select_from(inbound_events)
                  .where(inbound_events.c.state == "dead")) == 0
    assert "Traceback" not in server.log()


def test_unknown_message_type_is_answered_politely(start_server, fake_graph, engine):
    server = start_server(fake_graph)
    payload = load_fixture("whatsapp", "unsupported__pywa-unsupported.json")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["timestamp"] = str(int(time.time()))
    server.post(payload)
    [reply] = wait_texts(fake_graph, engine, message["from"], 1)
    assert "text" in reply.lower()


def test_429_then_200_ends_in_one_delivered_send(start_server, fake_graph, engine):
    fake_graph.queued.append(graph_error(130429, "Rate limit hit", status=429, headers={"Retry-After": "1"}))
    server = start_server(fake_graph)
    server.post(simulate.text_payload(WA_ID, "hi"))
    wait_idle(engine, graph=fake_graph)
    assert [r.status for r in fake_graph.requests] == [429, 200]
    [row] = outbox_rows(engine)
    assert row.state == "sent"
    server.post(simulate.status_payload(row.wa_message_id, "delivered", WA_ID))
    wait_idle(engine, graph=fake_graph)
    [delivered] = outbox_rows(engine)
    assert delivered.state == "delivered" and delivered.attempts == 2 and delivered.delivered_at is not None


def test_a_permanent_error_ends_as_failed_with_its_code(start_server, fake_graph, engine):
    fake_graph.queued.append(graph_error(131026, "Message undeliverable"))
    server = start_server(fake_graph)
    server.post(simulate.text_payload(WA_ID, "hi"))
    wait_idle(engine, graph=fake_graph)
    [failed] = outbox_rows(engine)
    assert (failed.state, failed.error_code) == ("failed", 131026)
    assert len(fake_graph.messages()) == 1


def test_stop_then_a_campaign_style_send_sends_nothing(start_server, fake_graph, engine):
    server = start_server(fake_graph)
    server.post(simulate.text_payload(WA_ID, "STOP"))
    [confirmation] = wait_texts(fake_graph, engine, WA_ID, 1)
    assert "START" in confirmation
    assert scalar(engine, sa.select(customers.c.opted_out).where(customers.c.wa_id == WA_ID))
    with engine.begin() as conn:
        customer_id = conn.execute(sa.select(customers.c.id).where(customers.c.wa_id == WA_ID)).scalar()
        campaign = outbox.enqueue(conn, recipient=WA_ID, customer_id=customer_id, kind="campaign",
                                  category="marketing", message=messages.text_message("20% off today!"),
                                  now=datetime.now(timezone.utc))
    wait_idle(engine, graph=fake_graph)
    row = next(r for r in outbox_rows(engine) if r.id == campaign)
    assert (row.state, row.error_title) == ("cancelled", "opted_out")
    assert len(fake_graph.messages()) == 1  # the confirmation only

    server.post(simulate.text_payload(WA_ID, "START"))
    wait_texts(fake_graph, engine, WA_ID, 2)
    assert scalar(engine, sa.select(customers.c.opted_out).where(customers.c.wa_id == WA_ID)) is False


def test_a_message_redelivered_after_its_window_closed_gets_no_reply(start_server, fake_graph, engine):
    server = start_server(fake_graph)
    two_days_ago = time.time() - 2 * 24 * 3600
    server.post(simulate.text_payload(WA_ID, "hi", timestamp=two_days_ago))
    wait_idle(engine, graph=fake_graph)
    assert scalar(engine, sa.select(inbound_messages.c.handled)) == "window_closed"
    assert fake_graph.messages() == [] and outbox_rows(engine) == []


def test_human_request_silences_the_bot(start_server, fake_graph, engine):
    server = start_server(fake_graph)
    server.post(simulate.text_payload(WA_ID, "I want to talk to a human"))
    wait_texts(fake_graph, engine, WA_ID, 1)
    server.post(simulate.text_payload(WA_ID, "hello?"))
    wait_idle(engine, graph=fake_graph)
    assert scalar(engine, sa.select(sa.func.count()).select_from(inbound_messages)
                  .where(inbound_messages.c.handled == "silent_handoff")) == 1
    assert len(fake_graph.messages()) == 1


def test_username_customers_are_answered_by_user_id(start_server, fake_graph, engine):
    server = start_server(fake_graph)
    payload = simulate.text_payload("", "hi")
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Ana", "username": "@ana"}, "user_id": "BR.1502576394655843"}]
    value["messages"][0]["from"] = ""
    value["messages"][0]["from_user_id"] = "BR.1502576394655843"
    server.post(payload)
    wait_texts(fake_graph, engine, "BR.1502576394655843", 1)
    [reply] = fake_graph.messages()
    assert reply.body["recipient"] == "BR.1502576394655843" and "to" not in reply.body


def test_read_receipts_update_the_outbox_and_the_customer(start_server, fake_graph, engine):
    server = start_server(fake_graph)
    server.post(simulate.text_payload(WA_ID, "hi"))
    wait_idle(engine, graph=fake_graph)
    [row] = outbox_rows(engine)
    server.post(simulate.status_payload(row.wa_message_id, "read", WA_ID))
    server.post(simulate.status_payload(row.wa_message_id, "delivered", WA_ID))  # late, out of order
    wait_idle(engine, graph=fake_graph)  # both statuses applied
    assert [r.state for r in outbox_rows(engine)] == ["read"]
    assert scalar(engine, sa.select(customers.c.last_read_at)) is not None


def test_events_acknowledged_before_a_crash_are_processed_after_restart_once(
        start_server, fake_graph, engine, settings_for):
    # Acknowledge through the app without any worker running: stored, not processed.
    from webhook import create_app

    app = create_app(settings_for(fake_graph))
    body = simulate.text_payload(WA_ID, "hi", message_id="wamid.before-crash")
    import json

    raw = json.dumps(body).encode()
    client = app.test_client()
    assert client.post("/webhook", data=raw, headers={
        "X-Hub-Signature-256": meta_signature("test-app-secret", raw)}).status_code == 200
    assert fake_graph.requests == []
    app.extensions["wabot"].close()

    first = start_server(fake_graph)
    wait_texts(fake_graph, engine, WA_ID, 1)
    first.stop()
    start_server(fake_graph)
    wait_idle(engine, graph=fake_graph)
    assert len(fake_graph.messages()) == 1


def test_wabot_worker_answers_what_the_http_app_stored(engine, fake_graph, settings_for, database_url, tmp_path):
    # The scaled deployment: `gunicorn 'webhook:create_app()'` only stores; `wabot worker` answers.
    import json
    import signal

    from tests.conftest import start_process
    from webhook import create_app

    app = create_app(settings_for(fake_graph))
    raw = json.dumps(simulate.text_payload(WA_ID, "hi", message_id="wamid.for-the-worker")).encode()
    assert app.test_client().post("/webhook", data=raw, headers={
        "X-Hub-Signature-256": meta_signature("test-app-secret", raw)}).status_code == 200
    app.extensions["wabot"].close()
    assert fake_graph.requests == []

    log_path = tmp_path / "worker.log"
    worker = start_process(["worker"], make_env(database_url, tmp_path, fake_graph), tmp_path, log_path)
    try:
        wait_texts(fake_graph, engine, WA_ID, 1, timeout=30)
        assert [m.recipient for m in fake_graph.messages()] == [WA_ID]
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0, log_path.read_text()
        assert "wabot worker running" in log_path.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_chat_command_prints_replies(start_server, database_url, tmp_path, engine):
    server = start_server()  # sandbox transport: no token
    env = make_env(database_url, tmp_path)
    result = subprocess.run([sys.executable, "-m", "bot.cli", "chat", "--as", WA_ID, "--url", server.url,
                             "--name", "Ana"], input="hi\n", capture_output=True, text=True, env=env,
                            cwd=ROOT, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "bot> Hi Ana!" in result.stdout
    wait_idle(engine)
    with engine.connect() as conn:  # what the sandbox transport recorded: exactly the one reply
        assert conn.execute(sa.select(sandbox_messages.c.recipient)).scalars().all() == [WA_ID]


@pytest.mark.parametrize("args, message", [
    (["chat", "--as", "+1 555"], "digits"),
    (["db", "upgrade"], "unknown key"),
    (["campaigns", "preview"], "Missing argument 'NAME'"),
    (["segments", "refresh", "--now", "tomorrow"], "wabot: error: --now: 'tomorrow' is not an ISO 8601 time"),
    (["no-such-command"], "No such command"),
])
def test_commands_fail_with_one_line(args, message, database_url, tmp_path):
    (tmp_path / "bad.toml").write_text("[store]\nname = 'x'\ncolour = 'blue'\n")
    env = make_env(database_url, tmp_path, WABOT_CONFIG=str(tmp_path / "bad.toml"))
    result = run_cli(args, env=env, cwd=ROOT)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
