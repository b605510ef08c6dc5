"""Logs never carry a whole phone number or what anyone wrote. Real traffic through `wabot -v serve`
(debug logging: every level reaches the server's log) and through `wabot -v campaigns run` and
`wabot -v tick`: messages, a STOP, a handoff with an agent's reply, statuses, a "stop marketing" for
an unknown number, a retried and a failed send, a campaign. Then every line of every log is searched
for each number (whole, or its last eight digits) and for every message body that went either way.
The product shows a customer in logs as the last four digits (bot/conversation/customers.py, mask)."""
from __future__ import annotations

import json
import time

import requests
import sqlalchemy as sa

from bot.core.tables import outbox
from bot.whatsapp import simulate
from tests.conftest import ROOT, make_env
from tests.support.cli import run_cli
from tests.support.fake_graph import graph_error

LENA, MARIA, JOE, NOBODY = "4915112398765", "5511987612345", "12125559876", "447700900123"
USER_ID = "BR.1502576394655843"
SAID = {  # what each customer writes; the words are rare, so a hit in a log is this text
    LENA: ["hallo, wo ist meine Bestellung? Marmelade 7431", "danke, Quokka Lieferung"],
    MARIA: ["oi, tem promoção de abacaxi roxo?", "STOP"],
    JOE: ["I want to talk to a human about my zeppelin", "hello? aubergine"],
}
AGENT_TEXT = "Hi Joe, agent Ana here about the pomegranate parcel"
TOML = """
[store]
name = "Acme Home"
timezone = "Europe/Berlin"

[policy]
consent = "any"
quiet_hours = []
daily_unique_limit = 7

[segments.everyone]
rule = 'orders_count == 0'

[campaigns.autumn]
segment = "everyone"
text = "Autumn colours are in, {first_name}: velvet lanterns"
template = { name = "autumn", language = "de", body = ["{first_name}"] }
"""


def wait_until(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
    return value


def idle(engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(outbox)
                            .where(outbox.c.state.in_(("queued", "sending")))).scalar_one() == 0


def leaks(text: str, phones: list[str], bodies: list[str]) -> list[str]:
    found = []
    for line in text.splitlines():
        for phone in phones:
            if phone in line or phone[-8:] in line:
                found.append(f"number {phone}: {line}")
        for body in bodies:
            if body in line:
                found.append(f"body {body!r}: {line}")
    return found


def test_no_log_line_at_any_level_carries_a_number_or_a_message(start_server, fake_graph, engine, database_url,
                                                                 tmp_path):
    # Meta's answers: the first send fails with a bare 500 (retried); after her first reply, every
    # message to Lena is refused for good.
    fake_graph.queued.append((500, "<html>Internal Server Error</html>", {}))
    fake_graph.responder = lambda body: graph_error(131026, "Message undeliverable") \
        if body.get("to") == LENA and any(r.status == 200 for r in fake_graph.messages(LENA)) else None
    server = start_server(fake_graph, toml=TOML, verbose=True, WABOT_AGENT_TOKENS="ana:tok-ana",
                          **{"WABOT_RATE_LIMIT": "50"})
    sent = 0
    for wa_id, name in ((LENA, "Lena Vogel"), (MARIA, "Maria Souza"), (JOE, "Joe Black")):
        server.post(simulate.text_payload(wa_id, SAID[wa_id][0], name=name))
        sent += 1
        fake_graph.wait_for(lambda reqs, n=sent: len([r for r in reqs if r.status == 200]) >= n)
    server.post(simulate.text_payload(LENA, SAID[LENA][1], name="Lena Vogel"))  # its reply is refused
    server.post(simulate.text_payload(MARIA, SAID[MARIA][1], name="Maria Souza"))
    server.post(simulate.text_payload(JOE, SAID[JOE][1], name="Joe Black"))  # silent: waiting for an agent
    username = simulate.text_payload("", "hi from a username, Zitronengras")
    value = username["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Ana", "username": "@ana"}, "user_id": USER_ID}]
    value["messages"][0]["from"], value["messages"][0]["from_user_id"] = "", USER_ID
    server.post(username)
    wait_until(lambda: idle(engine) and len(fake_graph.messages()) >= 6)

    agent = {"Authorization": "Bearer tok-ana"}
    assert requests.post(f"{server.url}/api/conversations/{JOE}/claim", headers=agent, timeout=10).ok
    assert requests.post(f"{server.url}/api/conversations/{JOE}/messages", headers=agent, timeout=10,
                         json={"text": AGENT_TEXT}).ok
    wait_until(lambda: any(r.text == AGENT_TEXT for r in fake_graph.messages(JOE)))

    delivered = [r for r in fake_graph.messages() if r.status == 200]
    with engine.connect() as conn:
        ids = conn.execute(sa.select(outbox.c.wa_message_id, outbox.c.recipient).where(outbox.c.wa_message_id.is_not(None))
                           ).all()
    for wamid, recipient in ids:
        server.post(simulate.status_payload(wamid, "delivered", recipient))
        server.post(simulate.status_payload(wamid, "read", recipient))
    server.post(simulate.status_payload("wamid.unknown", "failed", NOBODY,
                                        errors=[{"code": 131050, "title": "User stopped marketing"}]))
    stop = {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "user_preferences",
            "value": {"messaging_product": "whatsapp", "user_preferences": [
                {"wa_id": NOBODY, "category": "marketing_messages", "value": "stop", "timestamp": int(time.time())}]}}]}]}
    server.post(stop)
    wait_until(lambda: _read(engine))

    # A campaign and a tick in processes of their own, with debug logging on their stderr.
    env = make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    commands = [run_cli(["-v", "campaigns", "run", "autumn"], env=env, cwd=ROOT),
                run_cli(["-v", "tick"], env=env, cwd=ROOT)]
    assert all(c.returncode == 0 for c in commands), [c.stderr for c in commands]
    server.stop()

    bodies = [text for texts in SAID.values() for text in texts if text != "STOP"]
    bodies += [AGENT_TEXT, "Zitronengras"]
    bodies += sorted({r.text for r in fake_graph.messages() if r.text and len(r.text) > 12})  # what we sent
    logs = {"serve": server.log(), **{f"wabot {' '.join(c.args[1:])}": c.stderr + c.stdout for c in commands}}
    found = {name: leaks(text, [LENA, MARIA, JOE, NOBODY], bodies) for name, text in logs.items()}
    assert found == {name: [] for name in logs}, json.dumps(found, indent=1, ensure_ascii=False)[:4000]
    assert len(delivered) >= 5 and any("Autumn colours" in b for b in bodies)  # the traffic happened
    assert "DEBUG" in logs["serve"] and "…8765" in logs["serve"]  # debug lines were written, masked


def _read(engine) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(outbox).where(outbox.c.state == "read")
                            ).scalar_one() >= 3
