"""`wabot actions` as a real process, sent real Rasa action-server requests (tests/fixtures/rasa/)."""
from __future__ import annotations

import copy
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from bot.conversation import handoff
from bot.core.tables import customers, handoff_log
from segments.tables import customer_attributes
from tests.conftest import free_port, load_fixture, make_env, start_process
from tests.support.idle import wait_idle
from tests.support.seed import add_customer, add_order, add_product, add_segment

pytestmark = pytest.mark.database_agnostic  # conftest.py: runs in the SQLite pass only

TOML = """
[store]
name = "Acme Home"
shop_domain = "acme.myshopify.com"

[replies]
segment_priority = ["vip"]

[replies.greet]
default = "Hi {first_name}!"
vip = "Welcome back, {first_name}, our VIP!"

[preferences]
interests = ["Tea", "Cycling"]
"""

WA_ID = "15550001111"
DOCS = "rasa-docs_actions-mdx_action_tell_weather_request.json"
GO = "go-rasa-sdk_v2_request_with_small_tracker.json"


class ActionServer:
    def __init__(self, url: str, process, log_path: Path):
        self.url, self.process, self.log_path = url, process, log_path

    def call(self, body: dict) -> requests.Response:
        return requests.post(f"{self.url}/webhook", json=body, timeout=10)


@pytest.fixture
def start_actions(database_url: str, tmp_path: Path):
    started = []

    def start(toml: str = TOML) -> ActionServer:
        env = make_env(database_url, tmp_path)
        (tmp_path / "wabot.toml").write_text(toml)
        env["WABOT_CONFIG"] = str(tmp_path / "wabot.toml")
        port = free_port()
        log_path = tmp_path / f"actions-{port}.log"
        process = start_process(["actions", "--port", str(port)], env, tmp_path, log_path)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"wabot actions exited:\n{log_path.read_text()}")
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    return ActionServer(url, process, log_path)
            except requests.RequestException:
                pass
            time.sleep(0.02)
        raise AssertionError(f"wabot actions did not start:\n{log_path.read_text()}")

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(15)
        except Exception:
            process.kill()
            process.wait()


@pytest.fixture
def customer(engine) -> int:
    now = datetime.now(timezone.utc)
    with engine.begin() as conn:
        customer_id = add_customer(conn, WA_ID, "Vera", last_inbound_at=now)
        add_product(conn, 1, "Green Tea", [11])
        add_order(conn, 7001, customer_id, [(1, 11, "Green Tea", 4, "8.00")], created_at=now - timedelta(days=3),
                  name="#7001", fulfillment_status="fulfilled", tracking_url="https://track.example/7001")
        add_segment(conn, customer_id, "vip", {"total_spent": 900})
    return customer_id


def request_for(action: str, sender: str = WA_ID, *, domain: bool = True, text: str = "hi",
                reply_id: str | None = None) -> dict:
    """The documented Rasa request, for one of our actions and customers."""
    body = copy.deepcopy(load_fixture("rasa", DOCS))
    body["next_action"] = action
    body["sender_id"] = sender
    body["tracker"]["sender_id"] = sender
    body["version"] = "3.21.0"
    latest = body["tracker"]["latest_message"]
    latest["text"] = text
    if reply_id:
        body["tracker"]["events"][-1]["metadata"] = {"reply_id": reply_id}
    if not domain:
        body.pop("domain")
    return body


def assert_valid(result: dict) -> None:
    assert set(result) == {"events", "responses"}
    assert all(isinstance(e, dict) and e.get("event") for e in result["events"])
    assert all(isinstance(r, dict) and ("text" in r or "custom" in r) for r in result["responses"])


def test_unknown_actions_answer_404_like_rasa_sdk(start_actions):
    server = start_actions()
    for name in (DOCS, GO):
        body = load_fixture("rasa", name)
        response = server.call(body)
        assert response.status_code == 404
        assert response.json()["action_name"] == body["next_action"]
    assert {a["name"] for a in requests.get(f"{server.url}/actions", timeout=5).json()} >= {
        "action_greet", "action_order_status", "action_reorder", "action_recommend", "action_sale",
        "action_handoff", "action_opt_out", "action_opt_in", "action_fallback"}


def test_449_without_the_domain_until_rasa_resends_it(start_actions, customer):
    server = start_actions()
    go = load_fixture("rasa", GO)
    go["next_action"] = "action_greet"
    assert server.call(go).status_code == 449
    # Rasa resends with the domain (and its digest), then may leave the domain out.
    with_domain = request_for("action_greet")
    with_domain["domain_digest"] = "digest-1"
    first = server.call(with_domain)
    assert first.status_code == 200
    assert_valid(first.json())
    assert first.json()["responses"][0]["text"] == "Welcome back, Vera, our VIP!"
    later = request_for("action_greet", domain=False)
    later["domain_digest"] = "digest-1"
    assert server.call(later).status_code == 200
    changed = request_for("action_greet", domain=False)
    changed["domain_digest"] = "digest-2"
    assert server.call(changed).status_code == 449


def test_the_customer_is_the_requests_sender_else_the_trackers(start_actions, customer):
    server = start_actions()
    body = request_for("action_order_status")
    body["tracker"]["sender_id"] = "someone-else"
    text = server.call(body).json()["responses"][0]["text"]
    assert "#7001" in text and "4 × Green Tea" in text and "https://track.example/7001" in text
    body = request_for("action_order_status")
    del body["sender_id"]
    assert "#7001" in server.call(body).json()["responses"][0]["text"]
    stranger = server.call(request_for("action_order_status", sender="19990000000")).json()
    assert "couldn't find an order" in stranger["responses"][0]["text"]


def test_effects_reach_our_database(start_actions, customer, engine):
    server = start_actions()
    stop = server.call(request_for("action_opt_out", text="STOP")).json()
    assert_valid(stop)
    assert stop["events"] == [{"event": "slot", "timestamp": None, "name": "opted_out", "value": True}]
    with engine.connect() as conn:
        assert conn.execute(sa.select(customers.c.opted_out).where(customers.c.id == customer)).scalar() is True

    answer = server.call(request_for("action_preferences", text="/preferences",
                                     reply_id="preferences:interest:Cycling")).json()
    assert answer["events"][0]["name"] == "interest" and answer["events"][0]["value"] == "Cycling"
    with engine.connect() as conn:
        row = conn.execute(sa.select(customer_attributes.c.value, customer_attributes.c.source)).one()
    assert tuple(row) == ("Cycling", "chat")

    cart = server.call(request_for("action_reorder", text="/reorder", reply_id="reorder:confirm:7001")).json()
    assert cart["responses"][0]["text"].endswith("https://acme.myshopify.com/cart/11:4")
    offer = server.call(request_for("action_reorder", text="reorder")).json()["responses"][0]
    assert offer["buttons"] == [{"title": "Reorder", "payload": "reorder:confirm:7001"}]

    handed = server.call(request_for("action_handoff", text="a person please")).json()
    assert handed["events"][0]["event"] == "pause"
    with engine.connect() as conn:
        assert handoff.get(conn, customer).state == handoff.PENDING
        assert conn.execute(sa.select(handoff_log.c.actor, handoff_log.c.reason)).one() == \
            ("bot", "action_handoff (rasa)")
    # The action server answers Rasa and never sends: Rasa's answers reach our outbox through the worker.
    assert wait_idle(engine).outbox_rows == 0


def test_two_fallbacks_from_rasa_go_to_a_person(start_actions, customer, engine):
    server = start_actions()
    first = server.call(request_for("action_fallback", text="qwzx")).json()
    assert "didn't quite get that" in first["responses"][0]["text"]
    second = server.call(request_for("action_fallback", text="plmk")).json()
    assert second["events"] == [{"event": "pause", "timestamp": None}]
    with engine.connect() as conn:
        assert handoff.get(conn, customer).state == handoff.PENDING


def test_a_bad_reply_table_stops_the_server_at_start(tmp_path, database_url):
    import subprocess
    import sys

    from tests.conftest import ROOT

    env = make_env(database_url, tmp_path)
    (tmp_path / "wabot.toml").write_text('[replies.greet]\nvips = "Hi {first_name}"\n')
    env["WABOT_CONFIG"] = str(tmp_path / "wabot.toml")
    for command in (["actions"], ["serve"], ["worker"], ["scheduler"]):
        done = subprocess.run([sys.executable, "-m", "bot.cli", *command], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, command
        assert done.stderr.strip() == "wabot: error: [replies.greet] names unknown segment 'vips'"
