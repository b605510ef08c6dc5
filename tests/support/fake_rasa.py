"""A stand-in Rasa server for tests: the REST channel (`POST /webhooks/rest/webhook`) in front of a
real action server. It plays Rasa's part in the protocol (NLU by a lookup table, the action call
with tracker and domain, the answers in the REST channel's shape) and records what it received."""
from __future__ import annotations

from dataclasses import dataclass, field

import requests

from tests.support.json_server import JsonServer, Response

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
        self._http = JsonServer(self._handle, port=self.port)

    def _handle(self, path: str, headers: dict, body: dict) -> Response:
        self.received.append(body)
        return 200, self.answer(body), {}

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> "FakeRasa":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

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
