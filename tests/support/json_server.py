"""A real local HTTP server that answers JSON requests with JSON, on a thread: the base of the fake
Graph API and the fake Rasa server. Every method reaches the answer function, which decides what a
GET, a bad path or a body that is not JSON gets, as the real server would."""
from __future__ import annotations

import io
import json
import socket
import struct
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Response = tuple[int, dict | list | str, dict]  # status, JSON body (or a text body, sent as it is), headers
# A status that answers nothing: the connection is reset (TCP RST) once the request has been read.
RESET = -1


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # with the query string, as sent
    headers: dict
    raw: bytes
    body: Any  # the parsed JSON, or None when `raw` is not JSON (see `is_json`)
    is_json: bool


Answer = Callable[[Request], Response]


class JsonServer:
    def __init__(self, answer: Answer, host: str = "127.0.0.1", port: int = 0):
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _serve(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body, is_json = json.loads(raw), True
                except ValueError:
                    body, is_json = None, False
                status, payload, headers = answer(Request(self.command, self.path, dict(self.headers), raw,
                                                          body, is_json))
                if status == RESET:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    self.wfile = io.BytesIO()  # what the handler writes after this goes nowhere
                    return
                text = isinstance(payload, str)
                data = payload.encode() if text else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html" if text else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self.host = host
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
