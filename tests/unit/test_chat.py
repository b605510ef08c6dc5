"""`wabot chat` with piped input: each line waits for the replies to the one before, so a scripted
`/1` taps the button of the reply that just arrived."""
from __future__ import annotations

import io
import threading

from bot.cli.chat import ChatClient, run


class SlowBot(ChatClient):
    """Answers each message after a delay, the way a busy server does; records what was posted."""

    def __init__(self, delay: float):
        super().__init__("http://bot.invalid", "15551234567", "secret")
        self.delay = delay
        self.posted: list[dict] = []
        self.outbox: list[dict] = []
        self.lock = threading.Lock()

    def post(self, payload: dict) -> None:
        message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        self.posted.append(message)
        if message["type"] == "text" and message["text"]["body"] == "reorder":
            reply = {"type": "interactive", "interactive": {"type": "button", "body": {"text": "Your last order"},
                     "action": {"buttons": [{"type": "reply", "reply": {"id": "reorder:confirm:7",
                                                                        "title": "Reorder"}}]}}}
        elif message["type"] == "interactive":
            reply = {"type": "text", "text": {"body": "Here is your cart"}}
        else:
            reply = {"type": "text", "text": {"body": "Sorry, I didn't get that"}}
        timer = threading.Timer(self.delay, self._deliver, args=(reply,))
        timer.daemon = True
        timer.start()

    def _deliver(self, reply: dict) -> None:
        with self.lock:
            self.outbox.append({"id": len(self.outbox) + 1, "payload": reply})

    def fetch(self) -> list[dict]:
        with self.lock:
            return [m for m in self.outbox if m["id"] > self.last_seen]


def test_piped_input_taps_the_button_of_the_reply_before_it():
    bot = SlowBot(delay=0.5)
    out = io.StringIO()
    run(bot, stdin=io.StringIO("reorder\n/1\n"), out=out, interval=0.05, scripted=True)
    assert [m["type"] for m in bot.posted] == ["text", "interactive"]
    assert bot.posted[1]["interactive"]["button_reply"]["id"] == "reorder:confirm:7"
    assert out.getvalue().splitlines()[-1] == "bot> Here is your cart"


def test_interactive_input_does_not_wait_between_lines():
    bot = SlowBot(delay=0.5)
    run(bot, stdin=io.StringIO("reorder\n/1\n"), out=io.StringIO(), interval=0.05, scripted=False)
    # typed faster than the bot answers: /1 had no button to tap yet and went as text
    assert [m["type"] for m in bot.posted] == ["text", "text"]


def test_a_line_without_an_answer_waits_only_up_to_the_reply_timeout():
    class SilentBot(SlowBot):
        def post(self, payload: dict) -> None:
            self.posted.append(payload)

    bot = SilentBot(delay=0)
    run(bot, stdin=io.StringIO("hello?\nanyone?\n"), out=io.StringIO(), interval=0.05, scripted=True,
        reply_timeout=0.2)
    assert len(bot.posted) == 2
