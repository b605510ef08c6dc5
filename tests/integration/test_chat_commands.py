"""`wabot chat`'s own commands: `/quit` and `/exit` end the chat, `/help` lists the commands, any
other `/command` is refused with one line and never sent (so `/quit` can no longer opt a
customer out, and two unknown commands no longer hand them to a person)."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest
import sqlalchemy as sa

from bot.cli.chat import HELP, ChatClient, command_of, run
from bot.core.tables import conversations, customers, inbound_messages
from tests.conftest import ROOT, make_env
from tests.support.idle import wait_idle

pytestmark = pytest.mark.database_agnostic  # conftest.py: runs in the SQLite pass only


class RecordingBot(ChatClient):
    """Records what would be posted; answers every text with one reply."""

    def __init__(self) -> None:
        super().__init__("http://bot.invalid", "15551234567", "secret")
        self.posted: list[dict] = []
        self.outbox: list[dict] = []

    def post(self, payload: dict) -> None:
        message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        self.posted.append(message)
        self.outbox.append({"id": len(self.outbox) + 1, "payload": {"type": "text", "text": {"body": "ok"}}})

    def fetch(self) -> list[dict]:
        return [m for m in self.outbox if m["id"] > self.last_seen]


def chat(lines: str) -> tuple[RecordingBot, list[str]]:
    bot = RecordingBot()
    out = io.StringIO()
    run(bot, stdin=io.StringIO(lines), out=out, interval=0.02, scripted=True, reply_timeout=0.5)
    return bot, out.getvalue().splitlines()


def texts(bot: RecordingBot) -> list[str]:
    return [m["text"]["body"] for m in bot.posted if m["type"] == "text"]


@pytest.mark.parametrize("command", ["/quit", "/exit", "/QUIT", "  /exit  "])
def test_quit_and_exit_end_the_chat_and_are_not_sent(command):
    bot, _ = chat(f"hi\n{command}\nthis is never read\n")
    assert texts(bot) == ["hi"]


def test_help_lists_the_commands_and_is_not_sent():
    bot, out = chat("/help\n")
    assert bot.posted == []
    for entry in HELP:
        assert entry in out
    assert any(line.startswith("/quit") for line in out)


@pytest.mark.parametrize("command", ["/stop", "/human", "/foo bar", "/"])
def test_an_unknown_command_is_refused_with_one_line_and_not_sent(command):
    bot, out = chat(f"{command}\n{command}\nhello\n")
    assert texts(bot) == ["hello"]  # two in a row would have handed the customer to a person
    refusals = [line for line in out if "is not a command of the chat: not sent" in line]
    assert len(refusals) == 2 and refusals[0].startswith(command.split()[0])


def test_a_double_slash_sends_the_text_with_one_slash():
    bot, _ = chat("//shrug\n")
    assert texts(bot) == ["/shrug"]


def test_taps_are_still_messages():
    assert command_of("/1") is None and command_of("/12") is None
    assert command_of("hello /quit") is None and command_of("//quit") is None
    assert command_of("/quit") == "/quit" and command_of("/Help me") == "/help"


def test_quit_against_a_real_server_does_not_opt_the_customer_out(start_server, database_url, tmp_path, engine):
    server = start_server()
    wa_id = "15550104444"
    result = subprocess.run([sys.executable, "-m", "bot.cli", "chat", "--as", wa_id, "--url", server.url, "--name", "Ana"],
                            input="hi\n/whatever\n/help\n/quit\nSTOP\n", capture_output=True, text=True,
                            env=make_env(database_url, tmp_path), cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "bot> Hi Ana!" in result.stdout and "/whatever is not a command of the chat" in result.stdout
    wait_idle(engine)
    with engine.connect() as conn:
        sent = conn.execute(sa.select(inbound_messages.c.text)).scalars().all()
        opted_out = conn.execute(sa.select(customers.c.opted_out).where(customers.c.wa_id == wa_id)).scalar_one()
        states = conn.execute(sa.select(conversations.c.state)).scalars().all()
    assert sent == ["hi"]  # neither the commands nor what followed /quit
    assert not opted_out and set(states) <= {"bot"}
