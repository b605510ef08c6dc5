"""The WhatsApp Cloud API client: the HTTP transport, addressing, and Meta's errors by meaning.

The only module that talks to graph.facebook.com: it addresses and sends message bodies (built by
bot/whatsapp/messages.py) and maps Meta's errors to exceptions. Deciding what to send, when, and whether to
retry belongs to the outbox, which catches these exceptions by class.

The transport is a shared urllib3 connection pool (keep-alive, timeouts). requests' Session sits
on the same pool but costs roughly twice the CPU per message, and the sender is CPU-bound at
the rates WhatsApp allows (1,000 messages/s at the top tier): see bench/campaign_fanout.py.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Mapping, Protocol

import urllib3

log = logging.getLogger(__name__)

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


# ---------------------------------------------------------------- transports

class Transport(Protocol):
    def send(self, body: dict) -> str:
        """Post one message body to /<phone_number_id>/messages; return Meta's message id."""

    def mark_read(self, message_id: str, typing: bool = False) -> None:
        """Blue ticks on a customer's message; with `typing`, also the typing indicator that says a
        reply is coming (shown until we answer, 25 s at most: docs/usernames.md)."""


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

    def mark_read(self, message_id: str, typing: bool = False) -> None:
        self._post(read_body(message_id, typing))

    def close(self) -> None:
        self._pool.clear()


def _retry_after(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


def read_body(message_id: str, typing: bool = False) -> dict:
    """Mark a customer's message read, optionally showing the typing indicator (Meta's one kind: text)."""
    body: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": message_id}
    if typing:
        body["typing_indicator"] = {"type": "text"}
    return body


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
