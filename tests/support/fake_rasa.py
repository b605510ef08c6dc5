"""A stand-in Rasa server for tests: the REST channel (`POST /webhooks/rest/webhook`) in front of a
real action server. It plays Rasa's part in the protocol (NLU by a lookup table, the action call
with tracker and domain, the answers in the REST channel's shape) and records what it received.

It checks the request as the REST channel reads it (rasa/core/channels/rest.py) and answers what
Rasa's Sanic server answers otherwise: 404 for another path, 405 for another method, 400 for a body
that is not JSON, 500 for JSON that is not an object. A body without a non-empty string `sender` and a
string `message`, or with a `metadata` that is not an object, is refused with 400: real Rasa would take it
and file the message under the sender "default" (or fail inside and answer `[]`), losing it quietly,
so the fake makes it loud. Refused requests are kept in `refusals`.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import requests

from tests.support.json_server import JsonServer, Request, Response

WEBHOOK = "/webhooks/rest/webhook"
HEALTH = "/webhooks/rest/"
# "NLU": a message (or `/intent` payload) -> the action a Rasa story would run.
ACTIONS = {"hi": "action_greet", "/greet": "action_greet", "reorder": "action_reorder", "/reorder": "action_reorder",
           "human please": "action_handoff", "where is my order": "action_order_status"}
DOMAIN = {"intents": ["greet", "reorder", "human", "order_status"], "slots": {}, "responses": {},
          "actions": sorted(set(ACTIONS.values())), "forms": {}}


def sanic_error(status: int, message: str) -> Response:
    """An error in the shape Rasa's Sanic server answers with."""
    description = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
                   500: "Internal Server Error"}[status]
    return status, {"description": description, "status": status, "message": message}, {}


def check_request(request: Request) -> Response | None:
    """Rasa's answer to a request its REST channel would not serve as a message, or None."""
    path = request.path.split("?")[0]
    if path == HEALTH and request.method == "GET":
        return None
    if path != WEBHOOK:
        return sanic_error(404, f"Requested URL {path} not found")
    if request.method != "POST":
        return sanic_error(405, f"Method {request.method} not allowed for URL {path}")
    if not request.is_json:
        return sanic_error(400, "Failed when parsing body as json")
    body = request.body
    if not isinstance(body, dict):
        return sanic_error(500, "The server encountered an internal error and cannot complete your request.")
    if not isinstance(body.get("sender"), str) or not body["sender"]:
        return sanic_error(400, f"fake Rasa: `sender` must be a non-empty string, got {body.get('sender')!r}")
    if not isinstance(body.get("message"), str):
        return sanic_error(400, f"fake Rasa: `message` must be a string, got {body.get('message')!r}")
    if "metadata" in body and not isinstance(body["metadata"], dict):
        return sanic_error(400, f"fake Rasa: `metadata` must be an object, got {type(body['metadata']).__name__}")
    return None


@dataclass
class FakeRasa:
    action_server: str
    port: int = 0
    received: list[dict] = field(default_factory=list)  # the messages it served
    refusals: list[tuple[Request, Response]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._http = JsonServer(self._handle, port=self.port)

    def _handle(self, request: Request) -> Response:
        refused = check_request(request)
        if refused is not None:
            with self._lock:
                self.refusals.append((request, refused))
            return refused
        if request.method == "GET":
            return 200, {"status": "ok"}, {}
        with self._lock:
            self.received.append(request.body)
        return 200, self.answer(request.body), {}

    def refusal_report(self) -> str:
        with self._lock:
            return "\n".join(f"{r.method} {r.path} {r.raw[:200]!r}: {status} {body['message']}"
                             for r, (status, body, _) in self.refusals)

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> "FakeRasa":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def answer(self, body: dict) -> list[dict]:
        sender, text = body["sender"], body["message"]
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
