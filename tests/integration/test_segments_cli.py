"""`wabot segments refresh|list|members|explain` through the real command, and the admin API with
the same JSON."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from bot.conversation import customers as customer_store
from segments.tables import segment_events, segment_refreshes
from tests.conftest import make_env
from tests.support import storegen
from tests.support.cli import run_cli
from tests.support.storegen import NOW

ADMIN = "admin-secret-token"
STAMP = NOW.isoformat().replace("+00:00", "Z")


def wabot(database_url: str, tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return run_cli(args, env=make_env(database_url, tmp_path, **env), cwd=tmp_path)


@pytest.fixture
def store(engine, database_url, tmp_path):
    generated = storegen.generate(buyers=60, chat_only=0)
    for customer in generated.customers.values():  # chat facts: only the one set below
        customer.last_inbound_at, customer.last_read_at, customer.opted_out = None, None, False
    path = generated.write_jsonl(tmp_path / "orders.jsonl")
    result = wabot(database_url, tmp_path, "orders", "import", str(path))
    assert result.returncode == 0, result.stderr
    with engine.begin() as conn:
        customer_store.touch_inbound(conn, wa_id="14155550001", user_id=None, profile_name="Ann",
                                     sent_at=NOW - timedelta(hours=2), now=NOW)
    generated.customers["14155550001"].last_inbound_at = NOW - timedelta(hours=2)
    return generated


def test_refresh_list_members_explain(store, engine, database_url, tmp_path):
    expected = storegen.expected_segments(store, NOW)
    refreshed = wabot(database_url, tmp_path, "segments", "refresh", "--now", STAMP)
    assert refreshed.returncode == 0, refreshed.stderr
    assert f"full refresh at {NOW.isoformat()}" in refreshed.stdout
    assert any(line.split()[:2] == ["vip", str(len(expected["vip"]))] for line in refreshed.stdout.splitlines())

    listed = wabot(database_url, tmp_path, "segments", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [r["name"] for r in rows][:3] == ["first_time_buyer", "repeat_buyer", "loyal"]
    assert all(set(r) == {"name", "description", "count"} for r in rows)
    assert {r["name"]: r["count"] for r in rows} == {k: len(v) for k, v in expected.items()}

    members = json.loads(wabot(database_url, tmp_path, "segments", "members", "vip", "--json", "--now", STAMP).stdout)
    assert members["segment"] == "vip"
    assert {m["wa_id"] for m in members["members"]} == expected["vip"]
    assert all(set(m) == {"wa_id", "customer_id", "name"} for m in members["members"])

    exported = wabot(database_url, tmp_path, "segments", "members", "window_open", "--csv", "--now", STAMP)
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert {r["wa_id"] for r in table} == expected["window_open"] and "14155550001" in expected["window_open"]
    ann = next(r for r in table if r["wa_id"] == "14155550001")
    assert ann["phone"] == "+14155550001" and ann["name"] == "Ann"
    assert list(table[0]) == ["phone", "email", "first_name", "last_name", "name", "wa_id", "customer_id"]

    explained = json.loads(wabot(database_url, tmp_path, "segments", "explain", "14155550001", "--json",
                                 "--now", STAMP).stdout)
    assert explained["wa_id"] == "14155550001" and explained["now"] == STAMP
    assert {e["segment"] for e in explained["segments"]} == {n for n, m in expected.items() if "14155550001" in m}
    assert explained["attributes"]["window_open"] is True
    human = wabot(database_url, tmp_path, "segments", "explain", "+14155550001", "--now", STAMP)
    assert "window_open: Wrote to us in the last 24 hours" in human.stdout


def test_errors_are_one_line(store, database_url, tmp_path):
    for args, message in [
        (("segments", "members", "nope", "--json"), "wabot: error: unknown segment 'nope'"),
        (("segments", "explain", "19999999999"), "wabot: error: no customer with WhatsApp id 19999999999"),
        (("orders", "import", str(tmp_path / "missing.jsonl")), "wabot: error:"),
    ]:
        result = wabot(database_url, tmp_path, *args)
        assert result.returncode == 2, args
        assert result.stderr.strip().splitlines()[-1].startswith(message), result.stderr
        assert "Traceback" not in result.stderr
    bad_now = wabot(database_url, tmp_path, "segments", "refresh", "--now", "yesterday")
    assert bad_now.returncode == 2 and "is not an ISO 8601 time" in bad_now.stderr
    (tmp_path / "wabot.toml").write_text('[segments.broken]\nrule = "orders_count >"\n')
    broken = wabot(database_url, tmp_path, "segments", "list", WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    assert broken.returncode == 2
    assert broken.stderr.strip().startswith("wabot: error: [segments.broken] rule: rule error at column")


def test_refresh_records_history_and_partial_refresh(store, engine, database_url, tmp_path):
    wabot(database_url, tmp_path, "segments", "refresh", "--now", STAMP)
    later = (NOW + timedelta(days=30)).isoformat()
    result = json.loads(wabot(database_url, tmp_path, "segments", "refresh", "--now", later, "--json").stdout)
    assert result["kind"] == "full" and result["entered"] and result["exited"]
    changed = json.loads(wabot(database_url, tmp_path, "segments", "refresh", "--changed", "--now", later,
                               "--json").stdout)
    assert changed["kind"] == "partial" and changed["customers"] == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(segment_refreshes)).scalar() == 3
        exits = conn.execute(sa.select(sa.func.count()).select_from(segment_events)
                             .where(segment_events.c.change == "exit")).scalar()
    assert exits == sum(result["exited"].values())


def test_admin_api(store, start_server, database_url, tmp_path):
    wabot(database_url, tmp_path, "segments", "refresh")
    server = start_server(WABOT_ADMIN_TOKEN=ADMIN)
    assert requests.get(f"{server.url}/api/segments", timeout=10).status_code == 401
    assert requests.get(f"{server.url}/api/segments", headers={"Authorization": "Bearer wrong"},
                        timeout=10).status_code == 401
    auth = {"Authorization": f"Bearer {ADMIN}"}
    listed = requests.get(f"{server.url}/api/segments", headers=auth, timeout=10)
    assert listed.status_code == 200
    assert listed.json() == json.loads(wabot(database_url, tmp_path, "segments", "list", "--json").stdout)
    members = requests.get(f"{server.url}/api/segments/repeat_buyer/members", params={"now": STAMP}, headers=auth,
                           timeout=10)
    assert members.status_code == 200 and members.headers["Content-Type"].startswith("application/json")
    assert members.json() == json.loads(wabot(database_url, tmp_path, "segments", "members", "repeat_buyer",
                                              "--json", "--now", STAMP).stdout)
    missing = requests.get(f"{server.url}/api/segments/nope/members", headers=auth, timeout=10)
    assert missing.status_code == 404 and "unknown segment 'nope'" in missing.json()["error"]
    assert requests.get(f"{server.url}/api/segments/vip/members", params={"now": "soon"}, headers=auth,
                        timeout=10).status_code == 400


def test_admin_api_refuses_everything_without_a_configured_token(store, start_server):
    server = start_server()
    assert requests.get(f"{server.url}/api/segments", headers={"Authorization": "Bearer "}, timeout=10).status_code == 401


def test_a_bad_rule_stops_the_server_at_start(database_url, tmp_path):
    (tmp_path / "wabot.toml").write_text('[segments.loop]\nrule = \'in_segment("loop")\'\n')
    # A process of its own: should the check let this configuration through, a server starts, and times out.
    result = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", "1"], cwd=tmp_path,
                            env=make_env(database_url, tmp_path, WABOT_CONFIG=str(tmp_path / "wabot.toml")),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 2
    assert "wabot: error: [segments.loop] rule: in_segment() cycle loop -> loop" in result.stderr
    assert "Traceback" not in result.stderr
