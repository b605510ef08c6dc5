"""The WhatsApp Cloud API client: message bodies, the HTTP transport, and Meta's errors by meaning.

The only module that talks to graph.facebook.com. It builds and sends requests; deciding what to
send, when, and whether to retry belongs to the outbox, which catches these exceptions by class.

The transport is a shared urllib3 connection pool (keep-alive, timeouts). requests' Session sits
on the same pool but costs roughly twice the CPU per message, and the sender is CPU-bound at
the rates WhatsApp allows (1,000 messages/s at the top tier): see bench/campaign_fanout.py.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Mapping, Protocol, Sequence

import urllib3

log = logging.getLogger(__name__)

# Meta's documented limits for interactive messages.
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_REPLY_ID = 256
MAX_BODY = 1024
MAX_TEXT = 4096
MAX_LIST_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_SECTION_TITLE = 24
MAX_HEADER = 60
MAX_FOOTER = 60


# ---------------------------------------------------------------- errors by meaning

class GraphError(Exception):
    """A send the Graph API refused, or that never reached it."""

    transient = False

    def __init__(self, code: int | None, title: str, details: str | None = None,
                 http_status: int | None = None, retry_after: float | None = None):
        super().__init__(f"({code}) {title}" + (f": {details}" if details else ""))
        self.code = code
        self.title = title
        self.details = details
        self.http_status = http_status
        self.retry_after = retry_after


class TransientError(GraphError):
    """Worth retrying later: throttling, Meta's server errors, the network."""

    transient = True


class RateLimitedError(TransientError):
    """429, 4, 80007, 130429 (throughput) or 131056 (too many messages to one customer)."""


class ServerError(TransientError):
    """5xx, or the network failed before Meta answered."""


class WindowClosedError(GraphError):
    """131047: more than 24 h since the customer's last message; only a template may go."""


class MarketingLimitError(GraphError):
    """131049: Meta holds back marketing templates to a customer who got many recently."""


class MarketingStoppedError(GraphError):
    """131050: the customer stopped marketing messages from this business."""


class RecipientError(GraphError):
    """The number cannot receive this message (not on WhatsApp, not allowed in test mode, ...)."""


class TemplateError(GraphError):
    """132xxx: the template does not exist, is paused, or its parameters do not match."""


class AuthError(GraphError):
    """The token or the app's permissions are wrong: nothing will go until an operator acts."""


class InvalidRequestError(GraphError):
    """Meta rejected the request body itself (100, 131008, 131009, 131051, ...)."""


RATE_LIMIT_CODES = {4, 80007, 130429, 131056}
AUTH_CODES = {0, 3, 10, 190} | set(range(200, 300))
RECIPIENT_CODES = {131021, 131026, 131030, 131045, 131062}
INVALID_CODES = {100, 131008, 131009, 131051, 131052, 131053}


def classify(http_status: int | None, error: Mapping[str, Any] | None,
             retry_after: float | None = None) -> GraphError:
    """Meta's error object (and the HTTP status) -> an exception class that says what to do."""
    error = error or {}
    raw_code = error.get("code")
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    title = str(error.get("message") or error.get("title") or f"HTTP {http_status}")
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    args = (code, title, details, http_status, retry_after)
    if code in RATE_LIMIT_CODES or http_status == 429:
        return RateLimitedError(*args)
    if http_status is not None and http_status >= 500:
        return ServerError(*args)
    if code == 131047:
        return WindowClosedError(*args)
    if code == 131049:
        return MarketingLimitError(*args)
    if code == 131050:
        return MarketingStoppedError(*args)
    if code in RECIPIENT_CODES:
        return RecipientError(*args)
    if code is not None and 132000 <= code < 133000:
        return TemplateError(*args)
    if code in AUTH_CODES or http_status in (401, 403):
        return AuthError(*args)
    if code in INVALID_CODES:
        return InvalidRequestError(*args)
    return GraphError(*args)


# ---------------------------------------------------------------- message bodies

class MessageLimitError(ValueError):
    """A message that breaks one of Meta's limits; Meta would answer 100 or 131009."""


def shorten(text: str, limit: int) -> str:
    """Fit dynamic text (a product title, say) into one of Meta's limits."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _check(value: str, limit: int, what: str) -> str:
    if not value:
        raise MessageLimitError(f"{what} is empty")
    if len(value) > limit:
        raise MessageLimitError(f"{what} {value!r} is longer than {limit} characters")
    return value


def text_message(body: str, preview_url: bool = False) -> dict:
    return {"type": "text", "text": {"body": _check(body, MAX_TEXT, "text"), "preview_url": preview_url}}


def buttons_message(body: str, buttons: Sequence[tuple[str, str]], header: str | None = None,
                    footer: str | None = None) -> dict:
    """Up to three reply buttons, each (id, title)."""
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        raise MessageLimitError(f"a message takes 1 to {MAX_BUTTONS} reply buttons, not {len(buttons)}")
    interactive: dict[str, Any] = {
        "type": "button",
        "body": {"text": _check(body, MAX_BODY, "body")},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": _check(bid, MAX_REPLY_ID, "button id"),
                                        "title": _check(title, MAX_BUTTON_TITLE, "button title")}}
            for bid, title in buttons
        ]},
    }
    if header:
        interactive["header"] = {"type": "text", "text": _check(header, MAX_HEADER, "header")}
    if footer:
        interactive["footer"] = {"text": _check(footer, MAX_FOOTER, "footer")}
    return {"type": "interactive", "interactive": interactive}


@dataclass(frozen=True)
class ListRow:
    id: str
    title: str
    description: str | None = None


def list_message(body: str, button: str, sections: Sequence[tuple[str | None, Sequence[ListRow]]],
                 header: str | None = None, footer: str | None = None) -> dict:
    """A list of up to ten rows in all, in titled sections; `button` opens it."""
    rows = sum(len(r) for _, r in sections)
    if not 1 <= rows <= MAX_LIST_ROWS:
        raise MessageLimitError(f"a list takes 1 to {MAX_LIST_ROWS} rows, not {rows}")
    built = []
    for title, section_rows in sections:
        section: dict[str, Any] = {"rows": []}
        if title:
            section["title"] = _check(title, MAX_SECTION_TITLE, "section title")
        for row in section_rows:
            item = {"id": _check(row.id, MAX_REPLY_ID, "row id"), "title": _check(row.title, MAX_ROW_TITLE, "row title")}
            if row.description:
                item["description"] = _check(row.description, MAX_ROW_DESCRIPTION, "row description")
            section["rows"].append(item)
        built.append(section)
    interactive: dict[str, Any] = {
        "type": "list",
        "body": {"text": _check(body, MAX_BODY, "body")},
        "action": {"button": _check(button, MAX_BUTTON_TITLE, "list button"), "sections": built},
    }
    if header:
        interactive["header"] = {"type": "text", "text": _check(header, MAX_HEADER, "header")}
    if footer:
        interactive["footer"] = {"text": _check(footer, MAX_FOOTER, "footer")}
    return {"type": "interactive", "interactive": interactive}


def template_message(name: str, language: str, body_params: Sequence[str] = (),
                     quick_reply_payloads: Sequence[str] = ()) -> dict:
    """An approved template; body parameters in order, and payloads for its quick-reply buttons."""
    components: list[dict] = []
    if body_params:
        components.append({"type": "body", "parameters": [{"type": "text", "text": p} for p in body_params]})
    for index, payload in enumerate(quick_reply_payloads):
        components.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                           "parameters": [{"type": "payload", "payload": payload}]})
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        template["components"] = components
    return {"type": "template", "template": template}


def preview_of(message: Mapping[str, Any]) -> str:
    """A one-line rendering of a message body, for transcripts and the sandbox."""
    kind = message.get("type")
    if kind == "text":
        return message["text"]["body"]
    if kind == "interactive":
        inner = message["interactive"]
        text = inner.get("body", {}).get("text", "")
        if inner.get("type") == "button":
            titles = " | ".join(b["reply"]["title"] for b in inner["action"]["buttons"])
            return f"{text} [{titles}]"
        if inner.get("type") == "list":
            rows = " | ".join(r["title"] for s in inner["action"]["sections"] for r in s["rows"])
            return f"{text} [{inner['action']['button']}: {rows}]"
        return text
    if kind == "template":
        template = message["template"]
        params = [p.get("text", "") for c in template.get("components", []) if c.get("type") == "body"
                  for p in c.get("parameters", [])]
        return f"[template {template['name']}] " + ", ".join(params)
    return f"[{kind}]"


# ---------------------------------------------------------------- transports

class Transport(Protocol):
    def send(self, body: dict) -> str:
        """Post one message body to /<phone_number_id>/messages; return Meta's message id."""

    def mark_read(self, message_id: str) -> None:
        """Blue ticks on a customer's message."""


class HttpTransport:
    """POSTs to the Graph API over one keep-alive connection pool shared by the sender's threads."""

    def __init__(self, base_url: str, version: str, phone_number_id: str, token: str,
                 pool_size: int = 16, connect_timeout: float = 5.0, read_timeout: float = 20.0):
        self.url = f"{base_url.rstrip('/')}/{version}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._pool = urllib3.PoolManager(
            num_pools=4, maxsize=pool_size, block=True,
            timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout),
            retries=False,
        )

    def _post(self, body: dict) -> dict:
        try:
            response = self._pool.request("POST", self.url, body=json.dumps(body).encode(), headers=self._headers)
        except urllib3.exceptions.HTTPError as exc:
            raise ServerError(None, f"network error: {exc.__class__.__name__}", str(exc)) from None
        try:
            parsed = json.loads(response.data) if response.data else {}
        except ValueError:
            parsed = {}
        if 200 <= response.status < 300:
            return parsed if isinstance(parsed, dict) else {}
        retry_after = _retry_after(response.headers.get("Retry-After"))
        error = parsed.get("error") if isinstance(parsed, dict) else None
        raise classify(response.status, error if isinstance(error, dict) else None, retry_after)

    def send(self, body: dict) -> str:
        parsed = self._post(body)
        messages = parsed.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict) and messages[0].get("id"):
            return str(messages[0]["id"])
        raise GraphError(None, "the Graph API answered without a message id")

    def mark_read(self, message_id: str) -> None:
        self._post({"messaging_product": "whatsapp", "status": "read", "message_id": message_id})

    def close(self) -> None:
        self._pool.clear()


def _retry_after(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def envelope(recipient: str, message: Mapping[str, Any], callback_data: str | None) -> dict:
    """The full request body: our message plus the addressing Meta requires.

    A phone number goes in `to`; a business-scoped user id (a username customer with no phone
    number) goes in `recipient`, as the 2026 usernames API asks.
    """
    body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
    if recipient.isdigit():
        body["to"] = recipient
    else:
        body["recipient"] = recipient
    body.update(message)
    if callback_data and message.get("type") != "reaction":
        body["biz_opaque_callback_data"] = callback_data
    return body
