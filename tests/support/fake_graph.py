"""A local fake of the Graph API's /messages endpoint: a real HTTP server, not a mock of a library.

It records every request and answers like Meta does: a message id, or an error object with the
status and headers a test scripts.
"""
from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from typing import Callable

from tests.support.json_server import RESET, JsonServer, Response

CONNECTION_RESET: Response = (RESET, {}, {})  # a scripted answer: the connection is reset, nothing answered


@dataclass
class Recorded:
    path: str
    headers: dict
    body: dict
    status: int

    @property
    def recipient(self) -> str | None:
        return self.body.get("to") or self.body.get("recipient")

    @property
    def type(self) -> str | None:
        return self.body.get("type")

    @property
    def text(self) -> str | None:
        if self.type == "text":
            return self.body["text"]["body"]
        if self.type == "interactive":
            return self.body["interactive"]["body"]["text"]
        return None


def graph_error(code: int, message: str, status: int = 400, details: str | None = None,
                headers: dict | None = None) -> Response:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return status, {"error": error}, headers or {}


@dataclass
class FakeGraph:
    host: str = "127.0.0.1"
    requests: list[Recorded] = field(default_factory=list)
    # Scripted answers, used first-in first-out before the responder and the default.
    queued: list[Response] = field(default_factory=list)
    responder: Callable[[dict], Response | None] | None = None
    record: bool = True

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._http = JsonServer(self._handle, host=self.host)

    def _handle(self, path: str, headers: dict, body: dict) -> Response:
        status, payload, extra = self._answer(body)
        if self.record:  # before answering, so a client that got its answer finds it recorded
            with self._changed:
                self.requests.append(Recorded(path, headers, body, status))
                self._changed.notify_all()
        return status, payload, extra

    def _answer(self, body: dict) -> Response:
        with self._lock:
            scripted = self.queued.pop(0) if self.queued else None
        if scripted is not None:
            return scripted
        if self.responder is not None:
            custom = self.responder(body)
            if custom is not None:
                return custom
        if body.get("status") == "read":
            return 200, {"success": True}, {}
        recipient = body.get("to") or body.get("recipient")
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": recipient, "wa_id": recipient}],
                     "messages": [{"id": f"wamid.fake.{next(self._ids)}"}]}, {}

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> "FakeGraph":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def messages(self, to: str | None = None) -> list[Recorded]:
        """Message sends (not read receipts), optionally to one recipient."""
        with self._lock:
            found = [r for r in self.requests if r.body.get("type")]
        return [r for r in found if to is None or r.recipient == to]

    def wait_for(self, predicate: Callable[[list[Recorded]], bool], timeout: float = 10.0) -> list[Recorded]:
        """Block until the recorded requests satisfy `predicate`; returns them."""
        with self._changed:
            ok = self._changed.wait_for(lambda: predicate(self.requests), timeout=timeout)
            snapshot = list(self.requests)
        if not ok:
            raise AssertionError(f"fake Graph API: condition not met in {timeout}s; got {len(snapshot)} requests: "
                                 + "; ".join(f"{r.status} {r.recipient} {r.type}" for r in snapshot[-10:]))
        return snapshot


def refuse_outside_window(last_inbound_at: "Callable[[str], object]", now: "Callable[[], object]") -> Callable[[dict], Response | None]:
    """A responder that answers like Meta for a customer whose 24 h window is closed: anything but
    a template is refused with error 131047. `last_inbound_at(wa_id)` and `now()` give the times
    (the test's own clock, which may be a fixed --now)."""
    from datetime import timedelta

    def respond(body: dict) -> Response | None:
        if body.get("status") == "read" or body.get("type") == "template":
            return None
        recipient = body.get("to") or body.get("recipient")
        last = last_inbound_at(recipient)
        if last is None or now() - last >= timedelta(hours=24):
            return graph_error(131047, "Re-engagement message", details="Message failed to send because more "
                               "than 24 hours have passed since the customer last replied to this number.")
        return None

    return respond
