"""`wabot chat`: talk to a running server as a customer, from the terminal.

Each line typed is sent as a signed webhook payload; the bot's replies (recorded by the sandbox
transport) are printed as they arrive. `/1`, `/2`, ... taps a button or list row of the last
interactive message. Other lines starting with `/` are commands of the chat itself, never sent:
`/quit` and `/exit` end it, `/help` lists the commands, and any other is refused with one line
(`//text` sends "/text").
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Callable, TextIO

import click
import requests

from bot.core import devsecret
from bot.core.errors import WabotError
from bot.core.signing import meta_signature
from bot.whatsapp import messages, simulate


class ChatClient:
    def __init__(self, url: str, wa_id: str, secret: str, name: str | None = None,
                 session: requests.Session | None = None):
        self.url = url.rstrip("/")
        self.wa_id = wa_id
        self.secret = secret
        self.name = name
        self.http = session or requests.Session()
        self.last_seen = 0
        self.last_choices: list[tuple[str, str]] = []

    def post(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        try:
            response = self.http.post(f"{self.url}/webhook", data=body, timeout=10, headers={
                "Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(self.secret, body)})
        except requests.RequestException as exc:
            raise WabotError(f"cannot reach {self.url}: {exc.__class__.__name__}") from None
        if response.status_code == 401:
            raise WabotError("the server refused the signature: set WABOT_APP_SECRET to the server's secret")
        if response.status_code != 200:
            raise WabotError(f"the server answered {response.status_code}: {response.text.strip()[:200]}")

    def say(self, line: str) -> None:
        tap = line.strip()
        if tap.startswith("//"):  # an escaped slash: the text as typed, less one /
            line = line.replace("//", "/", 1)
            tap = line.strip()
        if tap.startswith("/") and tap[1:].isdigit() and self.last_choices:
            index = int(tap[1:]) - 1
            if 0 <= index < len(self.last_choices):
                reply_id, title = self.last_choices[index]
                self.post(simulate.reply_payload(self.wa_id, reply_id, title, name=self.name,
                                                 list_row=len(self.last_choices) > 3))
                return
        self.post(simulate.text_payload(self.wa_id, line, name=self.name))

    def start_at_end(self) -> None:
        """Skip what was said before this session."""
        for message in self.fetch():
            self.last_seen = max(self.last_seen, message["id"])

    def fetch(self) -> list[dict]:
        response = self.http.get(f"{self.url}/sandbox/api/messages",
                                 params={"wa_id": self.wa_id, "after": self.last_seen}, timeout=10)
        if response.status_code == 404:
            raise WabotError("the server does not use the sandbox transport: replies went to WhatsApp itself")
        response.raise_for_status()
        return response.json()["messages"]

    def poll(self, show: Callable[[str], None]) -> int:
        """Print what arrived since the last poll; returns how many messages that was."""
        arrived = self.fetch()
        for message in arrived:
            self.last_seen = max(self.last_seen, message["id"])
            payload = message["payload"]
            show(messages.preview_of(payload))
            choices = simulate.choices_of(payload)
            if choices:
                self.last_choices = choices
                show("   " + "  ".join(f"/{i} {title}" for i, (_, title) in enumerate(choices, 1)))
        return len(arrived)


QUIT_COMMANDS = ("/quit", "/exit")
HELP = (
    "/1, /2, ...     tap a button or list row of the bot's last message",
    "/quit, /exit    end the chat (Ctrl-D too)",
    "/help           this list",
    "//text          send a message that starts with /",
)


def command_of(line: str) -> str | None:
    """The chat command a typed line is, or None when it is a message to send (a tap `/1` is a
    message: it goes to the server as a button reply)."""
    text = line.strip()
    if not text.startswith("/") or text.startswith("//") or text[1:].isdigit():
        return None
    return text.split()[0].lower()


class Arrivals:
    """Counts the replies the poller has printed, so a scripted chat can wait for them."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = threading.Condition()

    def add(self, count: int) -> None:
        if count:
            with self.changed:
                self.count += count
                self.changed.notify_all()

    def settle(self, since: int, first_timeout: float, quiet: float) -> None:
        """Wait for a reply after `since` (up to first_timeout: a customer in handoff gets none),
        then until none has come for `quiet` seconds."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.count > since, timeout=first_timeout):
                return
            seen = self.count
            while self.changed.wait_for(lambda: self.count > seen, timeout=quiet):
                seen = self.count


def run(client: ChatClient, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout, interval: float = 0.3,
        scripted: bool | None = None, reply_timeout: float = 5.0) -> None:
    """Send each line of stdin, print replies as they arrive. Piped (scripted) input waits for the
    replies to one line before sending the next, so `/1` taps the button of the reply before it."""
    def show(text: str) -> None:
        out.write(f"bot> {text}\n")
        out.flush()

    if scripted is None:
        scripted = not stdin.isatty()
    client.start_at_end()
    stop = threading.Event()
    failures: list[BaseException] = []
    arrivals = Arrivals()

    def poller() -> None:
        while not stop.is_set():
            try:
                arrivals.add(client.poll(show))
            except Exception as exc:  # reported once the user's loop ends
                failures.append(exc)
                stop.set()
                return
            stop.wait(interval)

    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    def note(text: str) -> None:
        out.write(f"{text}\n")
        out.flush()

    note(f"Chatting as {client.wa_id} with {client.url}. /help lists the commands; /quit or Ctrl-D to quit.")
    try:
        for line in stdin:
            if stop.is_set():
                break
            command = command_of(line)
            if command in QUIT_COMMANDS:
                break
            if command == "/help":
                for entry in HELP:
                    note(entry)
                continue
            if command is not None:
                note(f"{command} is not a command of the chat: not sent (/help lists them; //text sends /text)")
                continue
            if line.strip():
                before = arrivals.count
                client.say(line.rstrip("\n"))
                if scripted:
                    arrivals.settle(before, reply_timeout, interval * 3)
    except KeyboardInterrupt:
        pass
    if not scripted:
        time.sleep(interval * 3)  # let the last replies arrive
    stop.set()
    thread.join(2)
    if failures:
        raise failures[0] if isinstance(failures[0], WabotError) else WabotError(str(failures[0]))


@click.command()
@click.option("--as", "wa_id", required=True, help="The customer's WhatsApp id (E.164 digits, no +).")
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="The running server.")
@click.option("--name", default=None, help="Profile name to send.")
def chat(wa_id: str, url: str, name: str | None) -> None:
    """Chat with a running server as a customer; prints the bot's replies as they arrive."""
    if not wa_id.isdigit():
        raise WabotError(f"--as takes a WhatsApp id in digits, such as 15551234567, not {wa_id!r}")
    # The one place outside bot/core/config.py that reads the environment: `chat` is a client of a
    # running server and needs only its app secret, not the server's settings.
    secret = os.environ.get("WABOT_APP_SECRET") or devsecret.read(devsecret.dev_secret_path())
    if not secret:
        raise WabotError("no app secret: set WABOT_APP_SECRET, or start `wabot serve` first on this machine")
    run(ChatClient(url, wa_id, secret, name=name))
