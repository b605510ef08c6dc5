"""The Admin API client: the one module that talks HTTP to Shopify.

`AdminClient.query` sends one GraphQL operation to `{base}/admin/api/{version}/graphql.json` with
the `X-Shopify-Access-Token` header and returns its `data`: it waits before a query the cost
bucket cannot hold yet (bot/shopify/throttle.py), waits and asks again after THROTTLED, retries
429, 5xx and network failures with backoff (a Retry-After wins), and turns everything else into
one-line errors (bot/shopify/errors.py). `AdminClient.download` streams a bulk operation's JSONL
line by line, resuming where it broke. `AdminClient.tags_add` adds tags to an order (the one
write). docs/shopify.md describes them.

The token is sent per request, never kept in the session's headers: the export download goes to
another host (Shopify's storage), and a redirect is never followed with it.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import requests

from bot.core.retry import Backoff
from bot.shopify import queries, throttle
from bot.shopify.config import AdminConfig
from bot.shopify.errors import (
    QueryTooCostly,
    ShopifyAddressError,
    ShopifyAuthError,
    ShopifyError,
    ShopifyQueryError,
    ShopifyUnavailable,
    ShopifyUserError,
)

log = logging.getLogger(__name__)

TRANSIENT_CODES = {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"}
AUTH_CODES = {"ACCESS_DENIED", "UNAUTHORIZED", "FORBIDDEN"}
CHUNK = 1 << 16
# 1, 2, 4 ... 30 s between tries: with 6 tries, about a minute of a Shopify outage is ridden out.
BACKOFF = Backoff(base=1.0, cap=30.0)


@dataclass
class Stats:
    """What the client did, for the sync's summary and the tests."""

    requests: int = 0
    throttle_waits: int = 0  # waits before a query, for the budget
    throttled: int = 0  # answers THROTTLED anyway
    retries: int = 0  # 429, 5xx, network
    budget_waited: float = 0.0  # seconds spent waiting for the cost budget (before a query, or THROTTLED)
    retry_waited: float = 0.0  # seconds spent in backoff before a retry
    downloaded: int = 0  # bytes of exports


class AdminClient:
    def __init__(self, config: AdminConfig, *, session: requests.Session | None = None,
                 timeout: tuple[float, float] = (10.0, 60.0), attempts: int = 6,
                 backoff: Backoff = BACKOFF, max_throttled: int = 30,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.stats = Stats()
        self._session = session or requests.Session()
        self._session.headers["User-Agent"] = "wabot-shopify-sync"
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._max_throttled = max_throttled
        self._sleep = sleep
        self._clock = clock
        self._budget: throttle.Budget | None = None
        self._requested: dict[str, float] = {}  # operation -> the cost it requested last time
        self._version_warned = False
        self.last_cost: throttle.Cost | None = None

    # -- GraphQL --------------------------------------------------------------------------------

    def query(self, operation: str, document: str, variables: dict[str, Any] | None = None) -> dict:
        """The `data` of one operation (its name must be the one the document declares). Waits
        before it for what the same operation requested last time."""
        body = {"query": document, "operationName": operation, "variables": variables or {}}
        failures = throttled = 0
        while True:
            self._wait(self._pause_for(operation), budget=True)
            try:
                response = self._post(body)
            except requests.RequestException as exc:
                failures += 1
                self._give_up_or_wait(failures, _network_problem(exc, self.config), None)
                continue
            status = response.status_code
            if status == 429 or status >= 500:
                failures += 1
                self._give_up_or_wait(failures, f"HTTP {status}", throttle.retry_after(response.headers.get("Retry-After")))
                continue
            payload = self._payload(response)
            cost = throttle.parse_cost(payload.get("extensions"))
            self._observe(operation, cost)
            errors = _errors(payload)
            if not errors:
                data = payload.get("data")
                return data if isinstance(data, dict) else {}
            codes = tuple(code for _, code in errors if code)
            if "THROTTLED" in codes:
                if cost and cost.status and cost.requested and cost.requested > cost.status.maximum:
                    # More than the bucket ever holds: waiting cannot help, a smaller query can.
                    raise QueryTooCostly(f"{operation} requests {cost.requested:g} points, more than Shopify's"
                                         f" bucket of {cost.status.maximum:g} holds", cost.requested)
                throttled += 1
                self.stats.throttled += 1
                if throttled > self._max_throttled:
                    raise ShopifyUnavailable(f"Shopify kept answering THROTTLED to {operation} ({throttled} times)")
                self._wait(throttle.throttled_wait(cost), budget=True)
                continue
            if TRANSIENT_CODES & set(codes):
                failures += 1
                self._give_up_or_wait(failures, f"{codes[0]} from Shopify", None)
                continue
            raise _query_error(operation, errors, cost)

    def _post(self, body: dict) -> requests.Response:
        self.stats.requests += 1
        return self._session.post(
            self.config.endpoint, json=body, timeout=self._timeout, allow_redirects=False,
            headers={"X-Shopify-Access-Token": self.config.token, "Accept": "application/json"})

    def _payload(self, response: requests.Response) -> dict:
        """The JSON of an answer that is not a 429 or 5xx, or the one-line error it means."""
        status = response.status_code
        where = f"{self.config.base_url} (API version {self.config.api_version})"
        if 300 <= status < 400:
            target = response.headers.get("Location", "elsewhere")
            raise ShopifyAddressError(f"the Admin API at {where} redirects to {target[:120]}: check WABOT_SHOPIFY_SHOP"
                                      " (use the shop's .myshopify.com domain) and WABOT_SHOPIFY_API_URL")
        if status == 401:
            raise ShopifyAuthError(f"Shopify refused the access token (HTTP 401) at {self.config.shop}:"
                                   " check WABOT_SHOPIFY_TOKEN")
        if status == 403:
            raise ShopifyAuthError(f"Shopify denied access (HTTP 403) at {self.config.shop}: {_message(response)}"
                                   " (the app needs the read_orders, read_customers and read_products scopes, and write_orders"
                                   " to tag orders)")
        if status == 404:
            raise ShopifyAddressError(f"no Admin API at {where} (HTTP 404): check WABOT_SHOPIFY_SHOP and"
                                      " WABOT_SHOPIFY_API_VERSION")
        if status == 402:
            raise ShopifyError(f"the shop {self.config.shop} is frozen (HTTP 402 Payment Required)")
        if status == 423:
            raise ShopifyError(f"the shop {self.config.shop} is locked (HTTP 423)")
        if status >= 400:
            raise ShopifyError(f"Shopify answered HTTP {status}: {_message(response)}")
        served = response.headers.get("X-Shopify-API-Version")
        if served and served != self.config.api_version and not self._version_warned:
            # Shopify answers an unsupported version with the oldest one it still supports.
            log.warning("Shopify answered with API version %s instead of %s (WABOT_SHOPIFY_API_VERSION)",
                        served, self.config.api_version)
            self._version_warned = True
        try:
            payload = response.json()
        except ValueError:
            raise ShopifyError(f"Shopify's answer from {where} is not JSON (HTTP {status})") from None
        if not isinstance(payload, dict):
            raise ShopifyError(f"Shopify's answer from {where} is not a GraphQL answer")
        return payload

    def tags_add(self, order_id: int, tags: Sequence[str]) -> None:
        """Add `tags` to the order (GraphQL `tagsAdd` on gid://shopify/Order/ID; write_orders).
        Tags the order already has stay as they are, so adding them again changes nothing.
        ShopifyUserError for the mutation's userErrors, one line."""
        order = int(order_id)
        data = self.query("WabotTagsAdd", queries.TAGS_ADD,
                          {"id": f"gid://shopify/Order/{order}", "tags": [str(tag) for tag in tags]})
        payload = data.get("tagsAdd")
        user_errors(payload, f"the tags of order {order}")
        if not isinstance(payload, dict) or not isinstance(payload.get("node"), dict):
            raise ShopifyUserError(f"Shopify refused the tags of order {order}: no such order")

    # -- throttling and retries -----------------------------------------------------------------

    def _pause_for(self, operation: str) -> float:
        cost = self._requested.get(operation)
        pause = throttle.wait_before(self._budget, cost, self._clock())
        if pause > 0:
            self.stats.throttle_waits += 1
            log.debug("waiting %.2f s for Shopify's query budget (%s requests %s points)", pause, operation, cost)
        return pause

    def _observe(self, operation: str, cost: throttle.Cost | None) -> None:
        self.last_cost = cost
        if cost is None:
            return
        if cost.status is not None:
            self._budget = throttle.Budget(cost.status, self._clock())
        if cost.requested is not None:
            self._requested[operation] = cost.requested

    @property
    def budget(self) -> throttle.Budget | None:
        return self._budget

    def _give_up_or_wait(self, failures: int, problem: str, retry_after: float | None) -> None:
        if failures >= self._attempts:
            raise ShopifyUnavailable(f"Shopify could not be reached at {self.config.base_url}: {problem}"
                                     f" ({failures} tries)")
        delay = self._backoff.delay(failures, retry_after)
        self.stats.retries += 1
        log.info("Shopify: %s; trying again in %.1f s", problem, delay)
        self._wait(delay, budget=False)

    def _wait(self, seconds: float, *, budget: bool) -> None:
        if seconds <= 0:
            return
        if budget:
            self.stats.budget_waited += seconds
        else:
            self.stats.retry_waited += seconds
        self._sleep(seconds)

    # -- downloads ------------------------------------------------------------------------------

    def download(self, url: str, size: int | None = None,
                 progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
        """The lines of a file at `url` (a bulk operation's export), without their newline, read
        as a stream. A broken connection or a short read (fewer bytes than `size`) resumes at the
        first unread line with a Range request, so no line is lost or read twice."""
        offset = 0  # bytes of the lines handed out so far
        failures = 0
        while True:
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                with self._session.get(url, stream=True, timeout=self._timeout, headers=headers) as response:
                    skip = self._download_start(response, offset)
                    if skip is None:
                        return
                    pending = b""
                    for chunk in response.iter_content(CHUNK):
                        if skip:  # a server that ignored our Range sends what we have again
                            chunk, skip = chunk[skip:], max(0, skip - len(chunk))
                        self.stats.downloaded += len(chunk)
                        pending += chunk
                        *lines, pending = pending.split(b"\n")
                        for line in lines:
                            offset += len(line) + 1
                            yield line
                            failures = 0
                        if progress:
                            progress(offset + len(pending))
                    if size is None or offset + len(pending) >= size:
                        if pending:  # a last line without its newline
                            offset += len(pending)
                            yield pending
                        return
                    # Short: what is pending may be half a line, read again from its start.
                    problem = f"the export ended after {offset + len(pending):,} of {size:,} bytes"
            except _Retry as exc:
                problem = str(exc)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                problem = _network_problem(exc, self.config)
            failures += 1
            if failures >= self._attempts:
                raise ShopifyUnavailable(f"downloading Shopify's export failed: {problem} ({failures} tries)")
            self.stats.retries += 1
            delay = self._backoff.delay(failures)
            log.info("downloading Shopify's export: %s; resuming in %.1f s", problem, delay)
            self._wait(delay, budget=False)

    def _download_start(self, response: requests.Response, offset: int) -> int | None:
        """How many bytes of this answer to skip (a server that ignored our Range sends the whole
        file), None when nothing is left to read; else the error the status means."""
        status = response.status_code
        if status == 206:
            return 0
        if status == 200:
            return offset
        if status == 416 and offset:
            return None
        if status in (403, 404, 410):
            raise ShopifyError(f"the export's download link no longer works (HTTP {status}): run the sync again")
        if status == 429 or status >= 500:
            raise _Retry(f"HTTP {status}")
        raise ShopifyError(f"downloading Shopify's export: HTTP {status}")

    def close(self) -> None:
        self._session.close()


class _Retry(Exception):
    """A download answer worth asking again (429, 5xx)."""


def user_errors(payload: Any, what: str) -> None:
    """Raise ShopifyUserError for a mutation payload's `userErrors`, if it has any."""
    found = payload.get("userErrors") if isinstance(payload, dict) else None
    if not found:
        return
    parts = []
    for error in found if isinstance(found, list) else [found]:
        if isinstance(error, dict):
            field = error.get("field")
            where = ".".join(str(f) for f in field) + ": " if isinstance(field, list) and field else ""
            parts.append(f"{where}{_one_line(error.get('message'))}")
    more = f" (and {len(parts) - 1} more)" if len(parts) > 1 else ""
    raise ShopifyUserError(f"Shopify refused {what}: {parts[0] if parts else 'no reason given'}{more}")


# -- reading errors -------------------------------------------------------------------------------

def _errors(payload: dict) -> list[tuple[str, str | None]]:
    """(message, code) of each GraphQL error of an answer."""
    raw = payload.get("errors")
    if not raw:
        return []
    if isinstance(raw, str):
        return [(raw, None)]
    out = []
    for error in raw if isinstance(raw, list) else [raw]:
        if isinstance(error, dict):
            extensions = error.get("extensions")
            code = extensions.get("code") if isinstance(extensions, dict) else None
            out.append((_one_line(error.get("message")), code if isinstance(code, str) else None))
        else:
            out.append((_one_line(error), None))
    return out


def _query_error(operation: str, errors: list[tuple[str, str | None]], cost: throttle.Cost | None) -> ShopifyError:
    message, code = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    text = f"Shopify refused {operation}: {message}{more}"
    codes = tuple(c for _, c in errors if c)
    if "MAX_COST_EXCEEDED" in codes:
        return QueryTooCostly(text, cost.requested if cost else None)
    if AUTH_CODES & set(codes):
        return ShopifyAuthError(text + " (check the app's access scopes)")
    return ShopifyQueryError(text, codes)


def _one_line(value: Any, limit: int = 300) -> str:
    text = " ".join(str(value if value is not None else "").split())
    return text[:limit] + ("…" if len(text) > limit else "")


def _message(response: requests.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return _one_line(response.text, 120) or response.reason or "no details"
    if isinstance(payload, dict) and payload.get("errors"):
        return _errors(payload)[0][0]
    return _one_line(payload, 120)


def _network_problem(exc: BaseException, config: AdminConfig) -> str:
    """A network failure in words; a host that does not exist is final (ShopifyAddressError)."""
    # requests wraps urllib3's errors in its own: look through the chain (and the first argument,
    # where requests puts the urllib3 error it wraps).
    seen: list[BaseException] = [exc]
    while seen and len(seen) < 12:
        cause = seen[-1]
        if cause.__class__.__name__ == "NameResolutionError":  # urllib3's: DNS knows no such host
            raise ShopifyAddressError(f"cannot find the host of {config.base_url}: check WABOT_SHOPIFY_SHOP"
                                      " (and WABOT_SHOPIFY_API_URL)") from None
        inner = cause.args[0] if cause.args and isinstance(cause.args[0], BaseException) else None
        following = cause.__cause__ or cause.__context__ or inner or getattr(cause, "reason", None)
        if not isinstance(following, BaseException) or any(following is s for s in seen):
            break
        seen.append(following)
    if isinstance(exc, requests.exceptions.SSLError):
        raise ShopifyAddressError(f"TLS failed with {config.base_url}: {_one_line(exc, 160)}") from None
    return f"network error ({exc.__class__.__name__})"
