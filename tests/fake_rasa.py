"""A stand-in Rasa server for tests: the REST channel (`POST /webhooks/rest/webhook`) in front of a
real action server. It plays Rasa's part in the protocol (NLU by a lookup table, the action call
with tracker and domain, the answers in the REST channel's shape) and records what it received."""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

# "NLU": a message (or `/intent` payload) -> the action a Rasa story would run.
ACTIONS = {"hi": "action_greet", "/greet": "action_greet", "reorder": "action_reorder", "/reorder": "action_reorder",
           "human please": "action_handoff", "where is my order": "action_order_status"}
DOMAIN = {"intents": ["greet", "reorder", "human", "order_status"], "slots": {}, "responses": {},
          "actions": sorted(set(ACTIONS.values())), "forms": {}}


@dataclass
class FakeRasa:
    action_server: str
    port: int = 0
    received: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # noqa: ANN002
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                fake.received.append(body)
                data = json.dumps(fake.answer(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "FakeRasa":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer(self, body: dict) -> list[dict]:
        sender, text = body["sender"], body.get("message", "")
        metadata = body.get("metadata") or {}
        action = ACTIONS.get(text.lower(), "action_fallback")
        parse = {"text": text, "intent": {"name": action.removeprefix("action_"), "confidence": 0.99},
                 "entities": [], "metadata": metadata}
        call = {
            "next_action": action, "sender_id": sender, "version": "3.21.0", "domain": DOMAIN,
            "tracker": {"sender_id": sender, "slots": {}, "latest_message": parse, "paused": False,
                        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
                        "events": [{"event": "user", "text": text, "parse_data": parse, "metadata": metadata}]},
        }
        result = requests.post(f"{self.action_server}/webhook", json=call, timeout=10).json()
        out = []
        for response in result["responses"]:
            message = {"recipient_id": sender}
            for key in ("text", "buttons", "image", "custom"):
                if response.get(key):
                    message[key] = response[key]
            out.append(message)
        return out
