"""A local fake of Shopify's Admin GraphQL API: a real HTTP server (tests/support/json_server.py),
not a mock of a library.

It holds a shop as REST objects (what storegen and the file importers speak), and answers in
GraphQL's shapes, converted here independently of bot/shopify/records.py (which maps them back):
so a test that compares a sync with a file import checks both directions of the mapping.

What it checks, as Shopify does: the path (`/admin/api/<version>/graphql.json`; a malformed
version is 404, a well-formed one it does not serve is answered by the oldest it serves, named in
`X-Shopify-API-Version`), the `X-Shopify-Access-Token` header (401 otherwise), a GraphQL body,
the operation's name, the single-query cost limit (MAX_COST_EXCEEDED over 1,000 points) and the
cost bucket (`maximum` points, refilled at `restore_rate` a second: a query whose requested cost
the bucket does not hold is answered THROTTLED). Every answer carries `extensions.cost`. Nodes
keep only the fields the query names (by word), so a field the client forgets to ask for is
missing, as it would be.

What it answers, by operation name: WabotShop, WabotBulkRun (one bulk query at a time; children
on lines of their own after their parent when the query asks for groupObjects, else scattered),
WabotBulkPoll (COMPLETED after `polls_before_done` polls), WabotBulkCancel, Wabot<Type>Page
(paginated, `updated_at:>='T'` and `id:1 OR id:2` searches, sorted by update time; abandoned
checkouts, WabotAbandonedCheckoutPage, by id, as Shopify cannot sort them by update time),
Wabot<Type>Children and WabotTagsAdd (tags recorded per order: `tags_of`, `tag_calls`). The
export is served by the same server, with Range requests.

Scripts for failures: `fail_next` (any HTTP answer, e.g. 429 with Retry-After, or 500),
`throttle_next` (THROTTLED whatever the bucket holds), `refuse_tags` (the next tagsAdd answer
userErrors), `download_faults` ("reset": the connection is reset; "truncate": half the file, cut
inside a line; "500").
"""
from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from tests.support.json_server import RESET, JsonServer, Request, Response

DEFAULT_TOKEN = "shpat_fake_0123456789abcdef"
DEFAULT_VERSION = "2026-10"
VERSIONS = ("2025-07", "2025-10", "2026-01", "2026-04", "2026-07", "2026-10")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
SINGLE_QUERY_LIMIT = 1000

# A simplified cost calculator: an object costs 1, a connection 2 plus `first` times its node.
NODE_COST = {"Order": 10, "LineItem": 5, "Customer": 4, "Product": 1, "ProductVariant": 1, "AbandonedCheckout": 3,
             "AbandonedCheckoutLineItem": 1}
CHILDREN = {"Order": ("lineItems", "LineItem"), "Product": ("variants", "ProductVariant")}
CONNECTIONS = {"orders": "Order", "customers": "Customer", "products": "Product"}  # what a bulk query may read
FIXED_COST = {"WabotShop": 1, "WabotBulkRun": 10, "WabotBulkPoll": 1, "WabotBulkCancel": 10, "WabotTagsAdd": 10}
CHECKOUT_ITEMS = 50  # the `lineItems(first: 50)` of a checkout's selection, inline


def gid(typename: str, value: Any) -> str | None:
    return f"gid://shopify/{typename}/{value}" if value not in (None, "") else None


def _iso(value: Any) -> str | None:
    """A REST time as GraphQL's DateTime: UTC with a Z (fractions kept, so nothing moves)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _upper(value: Any) -> str | None:
    return str(value).upper() if value else None


def _tags(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(t) for t in value]
    return [t.strip() for t in str(value or "").split(",") if t.strip()]


# ------------------------------------------------------------------ REST -> GraphQL, written apart

def order_node(order: dict) -> tuple[dict, list[dict]]:
    """An order and its line items as the Admin API's GraphQL shows them."""
    currency = order.get("currency")

    def money(amount: Any) -> dict | None:
        return None if amount is None else {"shopMoney": {"amount": str(amount), "currencyCode": currency}}

    def address(value: Any) -> dict | None:
        if not isinstance(value, dict):
            return None
        return {"phone": value.get("phone"), "firstName": value.get("first_name"), "lastName": value.get("last_name"),
                "countryCodeV2": value.get("country_code"), "provinceCode": value.get("province_code"),
                "province": value.get("province"), "city": value.get("city")}

    customer = order.get("customer")
    fulfillments = []
    for f in order.get("fulfillments") or []:
        urls = f.get("tracking_urls") or ([f["tracking_url"]] if f.get("tracking_url") else [])
        numbers = f.get("tracking_numbers") or ([f["tracking_number"]] if f.get("tracking_number") else [])
        count = max(len(urls), len(numbers), 1 if f.get("tracking_company") else 0)
        fulfillments.append({"trackingInfo": [
            {"company": f.get("tracking_company"), "number": numbers[i] if i < len(numbers) else None,
             "url": urls[i] if i < len(urls) else None} for i in range(count)]})
    status = order.get("fulfillment_status")
    node = {
        "id": gid("Order", order["id"]), "name": order.get("name"), "createdAt": _iso(order.get("created_at")),
        "updatedAt": _iso(order.get("updated_at")), "processedAt": _iso(order.get("processed_at")),
        "cancelledAt": _iso(order.get("cancelled_at")), "displayFinancialStatus": _upper(order.get("financial_status")),
        "displayFulfillmentStatus": {"fulfilled": "FULFILLED", "partial": "PARTIALLY_FULFILLED",
                                     "restocked": "RESTOCKED"}.get(status, "UNFULFILLED"),
        "email": order.get("email") or order.get("contact_email"), "phone": order.get("phone"),
        "paymentGatewayNames": [str(g) for g in order.get("payment_gateway_names") or []],
        "currencyCode": currency, "customerLocale": order.get("customer_locale"),
        "statusPageUrl": order.get("order_status_url"),
        "discountCodes": [d.get("code") for d in order.get("discount_codes") or []],
        "totalPriceSet": money(order.get("total_price")), "totalDiscountsSet": money(order.get("total_discounts")),
        "customer": None if not isinstance(customer, dict) else {
            "id": gid("Customer", customer.get("id")), "firstName": customer.get("first_name"),
            "lastName": customer.get("last_name"), "locale": customer.get("locale"),
            "defaultEmailAddress": {"emailAddress": customer["email"]} if customer.get("email") else None,
            "defaultPhoneNumber": {"phoneNumber": customer["phone"]} if customer.get("phone") else None},
        "billingAddress": address(order.get("billing_address")),
        "shippingAddress": address(order.get("shipping_address")),
        "fulfillments": fulfillments,
    }
    items = [{"id": gid("LineItem", li.get("id")), "sku": li.get("sku"), "title": li.get("title"),
              "name": li.get("name"), "variantTitle": li.get("variant_title"), "vendor": li.get("vendor"),
              "quantity": li.get("quantity"), "originalUnitPriceSet": money(li.get("price")),
              "product": {"id": gid("Product", li["product_id"])} if li.get("product_id") else None,
              "variant": {"id": gid("ProductVariant", li["variant_id"])} if li.get("variant_id") else None}
             for li in order.get("line_items") or []]
    return node, items


def customer_node(customer: dict) -> tuple[dict, list[dict]]:
    def consent(key: str) -> str | None:
        value = customer.get(key)
        if isinstance(value, dict) and value.get("state"):
            return str(value["state"]).upper()
        if key == "email_marketing_consent" and customer.get("accepts_marketing") is not None:
            return "SUBSCRIBED" if customer["accepts_marketing"] else "NOT_SUBSCRIBED"
        return None

    default = customer.get("default_address")
    node = {
        "id": gid("Customer", customer["id"]), "firstName": customer.get("first_name"),
        "lastName": customer.get("last_name"), "locale": customer.get("locale"), "note": customer.get("note"),
        "tags": _tags(customer.get("tags")),
        "updatedAt": _iso(customer.get("updated_at")),
        "defaultEmailAddress": {"emailAddress": customer["email"], "marketingState": consent("email_marketing_consent")}
        if customer.get("email") else None,
        "defaultPhoneNumber": {"phoneNumber": customer["phone"], "marketingState": consent("sms_marketing_consent")}
        if customer.get("phone") else None,
        "defaultAddress": {"phone": default.get("phone")} if isinstance(default, dict) else None,
    }
    return node, []


def product_node(product: dict) -> tuple[dict, list[dict]]:
    node = {"id": gid("Product", product["id"]), "title": product.get("title"), "handle": product.get("handle"),
            "productType": product.get("product_type"), "vendor": product.get("vendor"),
            "tags": _tags(product.get("tags")), "status": _upper(product.get("status")),
            "updatedAt": _iso(product.get("updated_at"))}
    variants = [{"id": gid("ProductVariant", v.get("id")), "title": v.get("title"), "sku": v.get("sku"),
                 "price": None if v.get("price") is None else str(v["price"]), "updatedAt": _iso(v.get("updated_at"))}
                for v in product.get("variants") or []]
    return node, variants


def checkout_node(checkout: dict) -> tuple[dict, list[dict]]:
    """A REST checkout as GraphQL's AbandonedCheckout, which has no token, phone, email or locale of
    its own (those of its customer and addresses are there), and its line items inline."""
    currency = checkout.get("presentment_currency") or checkout.get("currency")
    customer = checkout.get("customer")

    def address(value: Any) -> dict | None:
        if not isinstance(value, dict):
            return None
        return {"phone": value.get("phone"), "firstName": value.get("first_name"), "lastName": value.get("last_name")}

    total = checkout.get("total_price")
    node = {
        "id": gid("AbandonedCheckout", checkout["id"]), "createdAt": _iso(checkout.get("created_at")),
        "updatedAt": _iso(checkout.get("updated_at") or checkout.get("created_at")),
        "completedAt": _iso(checkout.get("completed_at")), "abandonedCheckoutUrl": checkout.get("abandoned_checkout_url"),
        "totalPriceSet": None if total is None else {
            "shopMoney": {"amount": str(total), "currencyCode": checkout.get("currency") or currency},
            "presentmentMoney": {"amount": str(total), "currencyCode": currency}},
        "customer": None if not isinstance(customer, dict) else {
            "id": gid("Customer", customer.get("id")), "firstName": customer.get("first_name"),
            "lastName": customer.get("last_name"), "locale": customer.get("locale"),
            "defaultEmailAddress": {"emailAddress": customer["email"]} if customer.get("email") else None,
            "defaultPhoneNumber": {"phoneNumber": customer["phone"]} if customer.get("phone") else None},
        "shippingAddress": address(checkout.get("shipping_address")),
        "billingAddress": address(checkout.get("billing_address")),
        "lineItems": {"nodes": [{"title": li.get("title"), "quantity": li.get("quantity")}
                                for li in (checkout.get("line_items") or [])[:CHECKOUT_ITEMS]]},
    }
    return node, []


CONVERT = {"Order": order_node, "Customer": customer_node, "Product": product_node, "AbandonedCheckout": checkout_node}


def _words(document: str) -> frozenset[str]:
    return frozenset(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", document))


def select(value: Any, words: frozenset[str]) -> Any:
    """Only the fields the query names: what Shopify would send back."""
    if isinstance(value, dict):
        return {k: select(v, words) for k, v in value.items() if k in words or k == "__parentId"}
    if isinstance(value, list):
        return [select(v, words) for v in value]
    return value


# ------------------------------------------------------------------ the cost bucket

@dataclass
class Bucket:
    maximum: float
    restore_rate: float
    available: float
    at: float

    def level(self, now: float) -> float:
        return min(self.maximum, self.available + self.restore_rate * max(0.0, now - self.at))

    def status(self, now: float) -> dict:
        return {"maximumAvailable": float(self.maximum), "currentlyAvailable": round(self.level(now), 3),
                "restoreRate": float(self.restore_rate)}

    def take(self, actual: float, now: float) -> None:
        """A query ran: its requested cost was charged and the difference refunded."""
        self.available, self.at = self.level(now) - actual, now


@dataclass
class BulkOperation:
    id: str
    connection: str
    body: str  # the JSONL (ASCII: json.dumps escapes the rest), made when it starts
    objects: int
    status: str = "CREATED"
    polls: int = 0


@dataclass
class Recorded:
    operation: str
    variables: dict
    requested: float | None
    at: float


@dataclass
class FakeShopify:
    token: str = DEFAULT_TOKEN
    versions: tuple[str, ...] = VERSIONS
    maximum: float = 2000.0
    restore_rate: float = 100.0
    polls_before_done: int = 1
    scatter: bool = False  # children apart from their parents even when the query asks for grouping
    fail_bulk: str | None = None  # an errorCode: the next bulk operation ends FAILED with it
    seed: int = 5
    orders: dict[int, dict] = field(default_factory=dict)
    customers: dict[int, dict] = field(default_factory=dict)
    products: dict[int, dict] = field(default_factory=dict)
    checkouts: dict[int, dict] = field(default_factory=dict)  # REST checkouts, by id
    order_tags: dict[int, list[str]] = field(default_factory=dict)  # what tagsAdd added, by order id
    tag_calls: dict[int, int] = field(default_factory=dict)  # tagsAdd calls that tagged, by order id
    requests: list[Recorded] = field(default_factory=list)
    downloads: list[dict] = field(default_factory=list)  # headers of each export request
    token_leaks: list[str] = field(default_factory=list)  # the token sent where it must not go
    throttled: int = 0
    queued: list[Response] = field(default_factory=list)
    download_faults: list[str] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        self._bucket = Bucket(self.maximum, self.restore_rate, self.maximum, time.monotonic())
        self._operations: dict[str, BulkOperation] = {}
        self._throttle_next = 0
        self._tag_refusals: list[tuple[list[str] | None, str]] = []
        self._exports: dict[tuple[str, str, bool], tuple[str, int]] = {}  # made ahead by `prepare`
        self._server = JsonServer(self._answer)

    # -- lifecycle and data -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> "FakeShopify":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def env(self, **extra: str) -> dict[str, str]:
        """The WABOT_SHOPIFY_* variables that point wabot at this fake."""
        return {"WABOT_SHOPIFY_SHOP": "fake-shop.myshopify.com", "WABOT_SHOPIFY_TOKEN": self.token,
                "WABOT_SHOPIFY_API_URL": self.url, "WABOT_SHOPIFY_API_VERSION": DEFAULT_VERSION, **extra}

    def load(self, orders: Iterable[dict] = (), customers: Iterable[dict] = (), products: Iterable[dict] = (),
             checkouts: Iterable[dict] = ()):
        with self._lock:
            self._exports.clear()
            for target, items in ((self.orders, orders), (self.customers, customers), (self.products, products),
                                  (self.checkouts, checkouts)):
                for item in items:
                    target[int(item["id"])] = item
        return self

    def set_budget(self, maximum: float, restore_rate: float) -> None:
        with self._lock:
            self.maximum, self.restore_rate = maximum, restore_rate
            self._bucket = Bucket(maximum, restore_rate, maximum, time.monotonic())

    def fail_next(self, status: int, body: dict | str | None = None, headers: dict | None = None,
                  times: int = 1) -> None:
        """The next GraphQL requests get this answer (before any check)."""
        self.queued.extend([(status, body if body is not None else {"errors": f"HTTP {status}"}, headers or {})] * times)

    def throttle_next(self, times: int = 1) -> None:
        self._throttle_next += times

    def refuse_tags(self, times: int = 1, message: str = "Tags are invalid", field: list[str] | None = None) -> None:
        """The next `times` tagsAdd mutations answer these userErrors (HTTP 200) and tag nothing.
        (A 5xx: `fail_next(503, times=N)`.)"""
        with self._lock:
            self._tag_refusals.extend([(field if field is not None else ["tags"], message)] * times)

    def tags_of(self, order_id: int) -> list[str]:
        """The order's tags: those it was loaded with, then what tagsAdd added, in that order."""
        with self._lock:
            return list(self.order_tags.get(order_id) or _tags((self.orders.get(order_id) or {}).get("tags")))

    def operations(self, name: str) -> list[Recorded]:
        return [r for r in self.requests if r.operation == name]

    # -- HTTP ---------------------------------------------------------------------------------------

    def _answer(self, request: Request) -> Response:
        path = request.path.split("?", 1)[0]
        if path.startswith("/exports/"):
            return self._download(request, path)
        match = re.fullmatch(r"/admin/api/([^/]+)/graphql\.json", path)
        if match is None:
            return 404, {"errors": "Not Found"}, {}
        version = match.group(1)
        if not (re.fullmatch(r"\d{4}-\d{2}", version) or version == "unstable"):
            return 404, {"errors": "Not Found"}, {}
        served = version if version in self.versions else min(self.versions)  # Shopify falls forward
        headers = {"X-Shopify-API-Version": served}
        if self.queued:
            status, body, extra = self.queued.pop(0)
            return status, body, {**headers, **extra}
        if request.method != "POST":
            return 405, {"errors": "use POST"}, headers
        if request.headers.get("X-Shopify-Access-Token") != self.token:
            return 401, {"errors": INVALID_TOKEN}, headers
        body = request.body
        if not request.is_json or not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return 400, {"errors": {"query": "Required parameter missing or invalid"}}, headers
        with self._lock:
            return self._graphql(body, headers)

    def _graphql(self, body: dict, headers: dict) -> Response:
        document, operation = body["query"], body.get("operationName") or ""
        variables = body.get("variables") or {}
        now = time.monotonic()
        if not re.search(rf"\b(query|mutation)\s+{re.escape(operation)}\b", document):
            return 200, {"errors": [{"message": f"operation {operation!r} is not declared in the document",
                                     "extensions": {"code": "BAD_REQUEST"}}]}, headers
        try:
            requested = self._requested_cost(operation, variables)
        except ValueError as exc:
            return 200, {"errors": [{"message": str(exc), "extensions": {"code": "BAD_REQUEST"}}]}, headers
        self.requests.append(Recorded(operation, variables, requested, now))

        def cost(actual: float | None) -> dict:
            return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                             "throttleStatus": self._bucket.status(now)}}

        if requested > SINGLE_QUERY_LIMIT:
            return 200, {"errors": [{"message": f"Query cost is {requested}, which exceeds the single query max cost"
                                                f" limit ({SINGLE_QUERY_LIMIT}).",
                                     "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                                                    "maxCost": SINGLE_QUERY_LIMIT}}],
                         "extensions": cost(None)}, headers
        if self._throttle_next or requested > self._bucket.level(now):
            self._throttle_next = max(0, self._throttle_next - 1)
            self.throttled += 1
            return 200, {"errors": [{"message": "Throttled", "extensions": {
                "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": cost(None)}, headers
        try:
            data, actual = self._run(operation, document, variables)
        except ValueError as exc:
            return 200, {"errors": [{"message": str(exc), "extensions": {"code": "BAD_REQUEST"}}],
                         "extensions": cost(None)}, headers
        self._bucket.take(min(actual, requested), now)
        return 200, {"data": data, "extensions": cost(min(actual, requested))}, headers

    def _requested_cost(self, operation: str, variables: dict) -> float:
        if operation in FIXED_COST:
            return FIXED_COST[operation]
        match = re.fullmatch(r"Wabot(Order|Customer|Product|AbandonedCheckout)(Page|Children)", operation)
        if match is None:
            raise ValueError(f"the fake Shopify does not know the operation {operation!r}")
        typename, what = match.groups()
        first = variables.get("first")
        if not isinstance(first, int) or not 1 <= first <= 250:
            raise ValueError("first: must be an integer from 1 to 250")
        if what == "Children":
            return 3 + 2 + first * NODE_COST[CHILDREN[typename][1]]
        node = NODE_COST[typename]
        if typename == "AbandonedCheckout":
            node += 2 + CHECKOUT_ITEMS * NODE_COST["AbandonedCheckoutLineItem"]
        if typename in CHILDREN:
            children = variables.get("children")
            if not isinstance(children, int) or not 1 <= children <= 250:
                raise ValueError("children: must be an integer from 1 to 250")
            node += 2 + children * NODE_COST[CHILDREN[typename][1]]
        return 2 + first * node

    # -- operations ---------------------------------------------------------------------------------

    def _run(self, operation: str, document: str, variables: dict) -> tuple[dict, float]:
        if operation == "WabotShop":
            return {"shop": {"name": "Fake Shop", "myshopifyDomain": "fake-shop.myshopify.com"}}, 1
        if operation == "WabotBulkRun":
            return self._bulk_run(document, variables), 10
        if operation == "WabotBulkPoll":
            return self._bulk_poll(variables), 1
        if operation == "WabotBulkCancel":
            op = self._operations.get(variables.get("id"))
            if op is not None and op.status in ("CREATED", "RUNNING"):
                op.status = "CANCELED"
            return {"bulkOperationCancel": {"bulkOperation": op and {"id": op.id, "status": op.status},
                                            "userErrors": []}}, 10
        if operation == "WabotTagsAdd":
            return self._tags_add(variables), 10
        typename, what = re.fullmatch(r"Wabot(\w+?)(Page|Children)", operation).groups()
        words = _words(document)
        if what == "Page":
            sort = re.search(r"sortKey:\s*(\w+)", document)
            if typename == "AbandonedCheckout" and sort and sort.group(1) not in ("ID", "CREATED_AT", "CHECKOUT_ID"):
                raise ValueError(f"Argument 'sortKey' on Field 'abandonedCheckouts' has an invalid value"
                                 f" ({sort.group(1)}). Expected type 'AbandonedCheckoutSortKeys'.")
            return self._page(typename, variables, words)
        return self._children(typename, variables, words)

    def _source(self, typename: str) -> dict[int, dict]:
        return {"Order": self.orders, "Customer": self.customers, "Product": self.products,
                "AbandonedCheckout": self.checkouts}[typename]

    def _tags_add(self, variables: dict) -> dict:
        def refused(field: list[str] | None, message: str) -> dict:
            return {"tagsAdd": {"node": None, "userErrors": [{"field": field, "message": message}]}}

        if self._tag_refusals:
            return refused(*self._tag_refusals.pop(0))
        match = re.fullmatch(r"gid://shopify/Order/(\d+)", str(variables.get("id") or ""))
        if match is None or int(match.group(1)) not in self.orders:
            return refused(["id"], "Order does not exist")
        tags = variables.get("tags")
        if (not isinstance(tags, list) or not tags
                or any(not isinstance(t, str) or not t.strip() or len(t) > 255 for t in tags)):
            return refused(["tags"], "Tags are invalid")
        order_id = int(match.group(1))
        held = self.order_tags.setdefault(order_id, _tags(self.orders[order_id].get("tags")))
        held.extend(t.strip() for t in tags if t.strip() not in held)  # a tag it has already stays once
        self.tag_calls[order_id] = self.tag_calls.get(order_id, 0) + 1
        return {"tagsAdd": {"node": {"id": match.group(0)}, "userErrors": []}}

    def _bulk_run(self, document: str, variables: dict) -> dict:
        query = variables.get("query")
        match = re.match(r"\s*\{\s*(\w+)\s*\{", query or "")
        if match is None or match.group(1) not in CONNECTIONS:
            return {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [
                {"field": ["query"], "message": "Invalid bulk query: no connection the fake knows"}]}}
        running = [op for op in self._operations.values() if op.status in ("CREATED", "RUNNING")]
        if running:
            return {"bulkOperationRunQuery": {"bulkOperation": None, "userErrors": [
                {"field": None, "message": f"A bulk query operation for this app and shop is already in progress:"
                                           f" {running[0].id}."}]}}
        grouped = bool(re.search(r"groupObjects\s*:\s*true", document)) and not self.scatter
        typename = CONNECTIONS[match.group(1)]
        body, objects = self._exports.get((typename, query, grouped)) or self.export(typename, _words(query), grouped)
        op = BulkOperation(f"gid://shopify/BulkOperation/{len(self._operations) + 1}", match.group(1), body, objects)
        self._operations[op.id] = op
        return {"bulkOperationRunQuery": {"bulkOperation": {"id": op.id, "status": op.status}, "userErrors": []}}

    def export(self, typename: str, words: frozenset[str] | None = None, grouped: bool = True) -> tuple[str, int]:
        """The JSONL of a bulk export of every node of `typename`, in the order they were loaded;
        not grouped, a child may come up to 3 parents before its own or 40 after it."""
        rnd = random.Random(self.seed)
        entries: list[tuple[float, int, str]] = []  # (position, order among siblings, line)
        for index, item in enumerate(self._source(typename).values()):
            node, children = CONVERT[typename](item)
            entries.append((index, 0, json.dumps(select(node, words) if words else node)))
            for k, child in enumerate(children, 1):
                child = {**(select(child, words) if words else child), "__parentId": node["id"]}
                position = index if grouped else index + rnd.uniform(-3, 40)
                entries.append((position, k, json.dumps(child)))
        entries.sort(key=lambda e: (e[0], e[1]))
        return "".join(line + "\n" for _, _, line in entries), len(entries)

    def prepare(self, query: str, grouped: bool = True) -> None:
        """Make the export of a bulk query ahead, so that a benchmark times the client, not the fake
        writing the file (Shopify's own time for it is another matter: docs/shopify.md)."""
        typename = CONNECTIONS[re.match(r"\s*\{\s*(\w+)", query).group(1)]
        with self._lock:
            self._exports[(typename, query, grouped)] = self.export(typename, _words(query), grouped)

    def _bulk_poll(self, variables: dict) -> dict:
        op = self._operations.get(variables.get("id"))
        if op is None:
            return {"node": None}
        op.polls += 1
        if op.status in ("CREATED", "RUNNING"):
            if self.fail_bulk:
                op.status, code = "FAILED", self.fail_bulk
                self.fail_bulk = None
                return {"node": {"id": op.id, "status": op.status, "errorCode": code, "objectCount": "0",
                                 "fileSize": None, "url": None, "partialDataUrl": None}}
            op.status = "COMPLETED" if op.polls >= self.polls_before_done else "RUNNING"
        done = op.status == "COMPLETED"
        count = op.objects if done else op.objects * op.polls // max(1, self.polls_before_done)
        return {"node": {"id": op.id, "status": op.status, "errorCode": None, "objectCount": str(count),
                         "fileSize": str(len(op.body)) if done and op.objects else None,
                         "url": f"{self.url}/exports/{op.id.rsplit('/', 1)[-1]}.jsonl" if done and op.objects else None,
                         "partialDataUrl": None}}

    def _download(self, request: Request, path: str) -> Response:
        self.downloads.append(dict(request.headers))
        if "X-Shopify-Access-Token" in request.headers:
            self.token_leaks.append(path)
        op = self._operations.get(f"gid://shopify/BulkOperation/{path.rsplit('/', 1)[-1].split('.')[0]}")
        if op is None or op.status != "COMPLETED":
            return 403, "<Error><Code>AccessDenied</Code></Error>", {}
        fault = self.download_faults.pop(0) if self.download_faults else None
        if fault == "reset":
            return RESET, {}, {}
        if fault == "500":
            return 500, "<Error><Code>InternalError</Code></Error>", {}
        body, status, headers = op.body, 200, {"Accept-Ranges": "bytes"}
        wanted = re.fullmatch(r"bytes=(\d+)-", request.headers.get("Range", ""))
        if wanted:
            start = int(wanted.group(1))
            if start >= len(body):
                return 416, "", {"Content-Range": f"bytes */{len(body)}"}
            body, status = body[start:], 206
            headers["Content-Range"] = f"bytes {start}-{len(op.body) - 1}/{len(op.body)}"
        if fault == "truncate":
            body = body[: len(body) // 2 + 7]  # inside a line, most likely
        return status, body, headers

    # -- pages --------------------------------------------------------------------------------------

    def _matching(self, typename: str, search: Any) -> list[dict]:
        items = list(self._source(typename).values())
        if search:
            since = re.fullmatch(r"updated_at:>='([^']+)'", search)
            ids = re.fullmatch(r"id:\d+(?: OR id:\d+)*", search)
            if since:
                at = datetime.fromisoformat(since.group(1).replace("Z", "+00:00"))
                items = [i for i in items if i.get("updated_at") and _when(i["updated_at"]) >= at]
            elif ids:
                wanted = {int(i) for i in re.findall(r"id:(\d+)", search)}
                items = [i for i in items if int(i["id"]) in wanted]
            else:
                raise ValueError(f"the fake Shopify does not understand the search {search!r}")
        return sorted(items, key=_sorting(typename))

    def _page(self, typename: str, variables: dict, words: frozenset[str]) -> tuple[dict, float]:
        items = self._matching(typename, variables.get("query"))
        after, key_of = variables.get("after"), _sorting(typename)
        if after:
            key = tuple(json.loads(base64.b64decode(after)))
            items = [i for i in items if key_of(i) > key]
        first = variables["first"]
        page, more = items[:first], len(items) > first
        edges, actual = [], 2.0
        for item in page:
            node, children = CONVERT[typename](item)
            actual += NODE_COST[typename]
            if typename in CHILDREN:
                name, child_type = CHILDREN[typename]
                shown = children[: variables["children"]]
                actual += 2 + len(shown) * NODE_COST[child_type]
                node[name] = {"edges": [{"node": c} for c in shown],
                              "pageInfo": {"hasNextPage": len(children) > len(shown),
                                           "endCursor": _cursor(len(shown) - 1) if shown else None}}
            if typename == "AbandonedCheckout":
                actual += 2 + len(node["lineItems"]["nodes"]) * NODE_COST["AbandonedCheckoutLineItem"]
            edges.append({"cursor": _sort_cursor(key_of(item)), "node": select(node, words)})
        end = edges[-1]["cursor"] if edges else None
        connection = {"edges": edges, "pageInfo": {"hasNextPage": more, "endCursor": end}}
        return {select_name(typename): connection}, actual

    def _children(self, typename: str, variables: dict, words: frozenset[str]) -> tuple[dict, float]:
        item_id = str(variables.get("id") or "").rsplit("/", 1)[-1]
        item = self._source(typename).get(int(item_id)) if item_id.isdigit() else None
        if item is None:
            return {"node": None}, 1
        name, child_type = CHILDREN[typename]
        children = CONVERT[typename](item)[1]
        start = int(base64.b64decode(variables["after"]).decode().split(":")[1]) + 1 if variables.get("after") else 0
        shown = children[start: start + variables["first"]]
        connection = {"edges": [{"node": select(c, words)} for c in shown],
                      "pageInfo": {"hasNextPage": start + len(shown) < len(children),
                                   "endCursor": _cursor(start + len(shown) - 1) if shown else None}}
        return {"node": {name: connection}}, 3 + len(shown) * NODE_COST[child_type]

    # -- changing the shop --------------------------------------------------------------------------

    def update_order(self, order_id: int, at: datetime, **changes: Any) -> dict:
        """Change an order as the shop's admin would: its updated_at moves to `at`."""
        with self._lock:
            self._exports.clear()
            order = {**self.orders[order_id], **changes, "updated_at": at.isoformat()}
            self.orders[order_id] = order
            return order


def select_name(typename: str) -> str:
    return {"Order": "orders", "Customer": "customers", "Product": "products",
            "AbandonedCheckout": "abandonedCheckouts"}[typename]


def _when(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _sort_key(item: dict) -> tuple[str, int]:
    updated = item.get("updated_at")
    return (_when(updated).isoformat() if updated else "", int(item["id"]))


def _by_id(item: dict) -> tuple[int]:
    return (int(item["id"]),)


def _sorting(typename: str):
    """Pages come by update time (sortKey: UPDATED_AT), abandoned checkouts by id (sortKey: ID)."""
    return _by_id if typename == "AbandonedCheckout" else _sort_key


def _sort_cursor(key: tuple) -> str:
    return base64.b64encode(json.dumps(list(key)).encode()).decode()


def _cursor(index: int) -> str:
    return base64.b64encode(f"child:{index}".encode()).decode()
