"""A local fake of the Graph API's /messages endpoint: a real HTTP server, not a mock of a library.

It records every request and answers like Meta does: a message id, or an error object with the
status and headers a test scripts. Used by the tests and by bench/campaign_fanout.py.
"""
from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

Response = tuple[int, dict, dict]  # status, JSON body, headers


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
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # noqa: ANN002
                pass

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                status, payload, headers = fake._answer(body)
                if fake.record:  # before answering, so a client that got its answer finds it recorded
                    with fake._changed:
                        fake.requests.append(Recorded(self.path, dict(self.headers), body, status))
                        fake._changed.notify_all()
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

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
        return f"http://{self.host}:{self.server.server_address[1]}"

    def start(self) -> "FakeGraph":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

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
