"""The demo served: segment-aware greetings through the real server, console tokens that work, and
simulated delivered/read statuses that give a campaign's stats a funnel."""
from __future__ import annotations

import json
import re
import subprocess
import time
import tomllib

import pytest
import requests
import sqlalchemy as sa

from bot.campaigns.tables import campaign_sends
from bot.cli.demo import DEMO_CONFIG
from bot.core.tables import outbox, sandbox_messages
from bot.pipeline.sandbox import StatusPlan
from bot.whatsapp import simulate
from tests.conftest import free_port, make_env, start_process, wait_healthy
from tests.integration.test_demo import hints, run_demo
from tests.support.cli import run_cli

pytestmark = pytest.mark.database_agnostic  # conftest.py: runs in the SQLite pass only

GREET = tomllib.loads(DEMO_CONFIG.read_text())["replies"]["greet"]


def greetings_of(segment: str, first_name: str) -> set[str]:
    """The demo's greeting of a segment, in each of its languages, for that customer."""
    texts = [GREET[segment]] + [GREET[code][segment] for code in ("es", "pt", "hi")]
    return {t.replace("{first_name}", first_name).replace("{store_name}", "Acme Home") for t in texts}


def reply_to(engine, wa_id: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            payload = conn.execute(sa.select(sandbox_messages.c.payload).where(sandbox_messages.c.recipient == wa_id)
                                   .order_by(sandbox_messages.c.id.desc())).scalars().first()
        if payload is not None:
            return payload["text"]["body"]
        time.sleep(0.05)
    raise AssertionError(f"no reply to {wa_id}")


def test_the_demos_vip_and_first_time_buyer_get_different_greetings(start_server, engine, database_url, tmp_path):
    seeded = run_demo(database_url, tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    by_segment = {h["segment"]: h for h in hints(seeded.stdout)}
    with engine.begin() as conn:  # only the replies to this test's messages
        conn.execute(sa.delete(sandbox_messages))
        conn.execute(sa.update(outbox).where(outbox.c.state == "queued").values(state="cancelled"))
    server = start_server(toml=DEMO_CONFIG.read_text())
    greeted = {}
    for segment in ("vip", "first_time_buyer", "lapsed", "former_vip"):
        hint = by_segment[segment]
        assert server.post(simulate.text_payload(hint["wa_id"], "hi")).status_code == 200
        greeted[segment] = reply_to(engine, hint["wa_id"])
        assert hint["name"].split()[0] in greeted[segment]
    assert len(set(greeted.values())) == 4
    for segment, text in greeted.items():  # each the greeting of its segment, in the customer's language
        assert text in greetings_of(segment, by_segment[segment]["name"].split()[0]), (segment, text)


def test_wabot_demo_serves_with_working_tokens_and_a_status_funnel(database_url, tmp_path, engine):
    port = free_port()
    log_path = tmp_path / "demo.log"
    env = make_env(database_url, tmp_path)
    process = start_process(["demo", "--port", str(port)], env, tmp_path, log_path)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, process, log_path, timeout=120)
        deadline = time.monotonic() + 20
        while "admin console:" not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        output = log_path.read_text()
        agent = re.search(rf"agent console: {url}/agent \(token (\S+)\)", output).group(1)
        admin = re.search(rf"admin console: {url}/admin \(token (\S+)\)", output).group(1)
        assert agent != admin
        assert requests.get(f"{url}/api/conversations", timeout=10).status_code == 401
        assert requests.get(f"{url}/api/conversations", headers={"Authorization": f"Bearer {agent}"},
                            timeout=10).status_code == 200
        assert requests.get(f"{url}/api/segments", headers={"Authorization": f"Bearer {agent}"},
                            timeout=10).status_code == 401
        segments = requests.get(f"{url}/api/segments", headers={"Authorization": f"Bearer {admin}"}, timeout=10)
        assert segments.status_code == 200 and any(s["name"] == "vip" and s["count"] for s in segments.json())

        # A campaign run from another process: the demo's background produces its statuses.
        cli_env = {**env, "WABOT_CONFIG": str(DEMO_CONFIG)}
        ran = run_cli(["campaigns", "run", "we_miss_you"], env=cli_env, cwd=tmp_path)
        assert ran.returncode == 0, ran.stderr
        deadline = time.monotonic() + StatusPlan().longest + 30
        while True:
            with engine.connect() as conn:
                rows = conn.execute(sa.select(outbox.c.wa_message_id, outbox.c.state)
                                    .join(campaign_sends, campaign_sends.c.outbox_id == outbox.c.id)
                                    .where(campaign_sends.c.campaign == "we_miss_you")).all()
            sent = {m: state for m, state in rows if m is not None}
            planned = {m: ([s for s, _ in StatusPlan().statuses(m)] or ["sent"])[-1] for m in sent}
            if sent and len(sent) == len(rows) and sent == planned:
                break
            assert time.monotonic() < deadline, (sent, planned)
            time.sleep(0.2)
        stats = run_cli(["campaigns", "stats", "we_miss_you", "--json"], env=cli_env, cwd=tmp_path)
        total = json.loads(stats.stdout)["total"]
        assert total["sent"] == len(sent) > 0
        assert total["delivered"] == sum(1 for state in sent.values() if state in ("delivered", "read"))
        assert total["read"] == list(sent.values()).count("read")
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
