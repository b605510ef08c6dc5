"""Shopify data -> typed records: REST/webhook objects and the admin's CSV exports.

The only code that reads Shopify's raw shapes. Pure: a dict (or the CSV rows of one order or
product) in, a frozen record out, or RowError saying what is wrong with it.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Iterable, Mapping, Sequence

from bot.core import languages
from segments.phones import Phone, parse_phone

NOT_COUNTED_STATUSES = frozenset({"voided", "refunded"})
MAX_MONEY = Decimal("1e12")  # Numeric(14, 2)


class RowError(ValueError):
    """One input record that cannot be imported; the message says why."""


@dataclass(frozen=True)
class LineItemRecord:
    position: int
    line_item_id: int | None
    product_id: int | None
    variant_id: int | None
    sku: str | None
    title: str | None
    variant_title: str | None
    vendor: str | None
    product_type: str | None
    quantity: int
    price: Decimal | None


@dataclass(frozen=True)
class Buyer:
    """Who placed an order, as far as joining them to a WhatsApp customer goes."""

    phone: Phone | None
    shopify_customer_id: int | None
    first_name: str | None
    last_name: str | None
    email: str | None
    locale: str | None = None  # the Shopify customer's language ("es-MX")


@dataclass(frozen=True)
class OrderRecord:
    id: int
    name: str | None
    buyer: Buyer
    created_at: datetime
    updated_at: datetime | None
    cancelled_at: datetime | None
    financial_status: str | None
    fulfillment_status: str | None
    total_price: Decimal
    total_discounts: Decimal
    discount_codes: tuple[str, ...]
    currency: str | None
    ship_country: str | None
    ship_province: str | None
    ship_city: str | None
    tracking_company: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    order_status_url: str | None = None
    line_items: tuple[LineItemRecord, ...] = ()
    customer_locale: str | None = None  # the storefront language of the checkout ("pt-BR")
    checkout_token: str | None = None  # the checkout this order completed
    checkout_id: int | None = None
    payment_gateways: tuple[str, ...] = ()  # payment_gateway_names: "Cash on Delivery (COD)", ...
    fulfillments: tuple["FulfillmentRecord", ...] = ()  # as the order carries them

    @property
    def counted(self) -> bool:
        """The time-independent half of "orders that count" (docs/segments.md, attributes)."""
        return self.cancelled_at is None and (self.financial_status or "").lower() not in NOT_COUNTED_STATUSES

    @property
    def is_discounted(self) -> bool:
        return self.total_discounts > 0 or bool(self.discount_codes)


@dataclass(frozen=True)
class FulfillmentRecord:
    id: int
    order_id: int
    status: str | None
    shipment_status: str | None
    tracking_company: str | None
    tracking_number: str | None
    tracking_url: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @property
    def has_tracking(self) -> bool:
        return bool(self.tracking_number or self.tracking_url)


@dataclass(frozen=True)
class FulfillmentEventRecord:
    """One step of a shipment (fulfillment_events/create): in_transit, out_for_delivery, delivered..."""

    id: int
    fulfillment_id: int
    order_id: int
    status: str | None
    happened_at: datetime | None


@dataclass(frozen=True)
class CheckoutRecord:
    token: str
    shopify_id: int | None
    buyer: Buyer
    abandoned_checkout_url: str | None
    items: str | None  # "2 × Dog Food, Leash"
    total_price: Decimal | None
    currency: str | None
    customer_locale: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class CustomerRecord:
    shopify_id: int | None
    phone: Phone | None
    first_name: str | None
    last_name: str | None
    email: str | None
    accepts_marketing: bool | None
    tags: tuple[str, ...] | None  # None: the source says nothing about tags
    attributes: Mapping[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None
    locale: str | None = None  # the Shopify customer's language ("es-MX")


@dataclass(frozen=True)
class VariantRecord:
    id: int
    title: str | None
    sku: str | None
    price: Decimal | None
    updated_at: datetime | None


@dataclass(frozen=True)
class ProductRecord:
    id: int
    title: str | None
    handle: str | None
    product_type: str | None
    vendor: str | None
    tags: tuple[str, ...]
    status: str | None
    updated_at: datetime | None
    variants: tuple[VariantRecord, ...]
    synthetic_id: bool = False  # CSV exports carry no ids: derived from the handle


# -- small parsers ------------------------------------------------------------------------------

def text(value: Any, limit: int | None = None) -> str | None:
    if value is None:
        return None
    out = str(value).strip()
    if not out:
        return None
    return out[:limit] if limit else out


def parse_id(value: Any, what: str = "id", required: bool = False) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"no {what}")
        return None
    if isinstance(value, bool):
        raise RowError(f"{what} {value!r} is not a number")
    raw = str(value).strip().lstrip("'")
    if raw.startswith("gid://"):  # GraphQL global ids: gid://shopify/Order/123
        raw = raw.rsplit("/", 1)[-1]
    if len(raw) > 20:  # checked before int(): a 100,000-digit id costs seconds to convert
        raise RowError(f"{what} {raw[:24]!r}... is out of range")
    try:
        number = int(raw)
    except ValueError:
        raise RowError(f"{what} {value!r} is not a number") from None
    if not 0 < number < 2**63:
        raise RowError(f"{what} {value!r} is out of range")
    return number


def parse_time(value: Any, what: str, required: bool = False) -> datetime | None:
    raw = text(value)
    if raw is None:
        if required:
            raise RowError(f"no {what}")
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:  # the admin's CSV exports: "2024-01-15 10:30:45 -0500"
            parsed = datetime.strptime(raw, "%Y-%m-%d %H:%M:%S %z")
        except ValueError:
            raise RowError(f"{what} {raw!r} is not a date and time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)  # no offset means UTC (docs/segments.md, times)
    return parsed.astimezone(timezone.utc)


def parse_money(value: Any, what: str, required: bool = False) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(f"no {what}")
        return None
    if isinstance(value, bool):
        raise RowError(f"{what} {value!r} is not an amount")
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise RowError(f"{what} {str(value)[:24]!r} is not an amount") from None
    if not amount.is_finite() or amount.adjusted() > 12 or abs(amount) >= MAX_MONEY:
        raise RowError(f"{what} {value!r} is not an amount")
    return amount.quantize(Decimal("0.01"))


def parse_quantity(value: Any) -> int:
    if value is None or (isinstance(value, str) and not value.strip()):
        return 1
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise RowError(f"quantity {str(value)[:24]!r} is not a number") from None
    # The size before int(): int(Decimal("1e1000000")) builds a million-digit number.
    if not amount.is_finite() or amount < 0 or amount.adjusted() > 9 or int(amount) > 10**9:
        raise RowError(f"quantity {str(value)[:24]!r} is out of range")
    return int(amount)


def parse_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    raw = str(value).strip().lower()
    if raw in ("yes", "true", "1", "y", "subscribed"):
        return True
    if raw in ("no", "false", "0", "n", "not_subscribed", "unsubscribed", "pending", "redacted", "invalid"):
        return False
    return None


def split_tags(value: Any) -> tuple[str, ...]:
    """Shopify keeps tags as one comma-separated string; lists are accepted too. Lower case, trimmed,
    without duplicates (tags are matched case-insensitively)."""
    if value is None:
        return ()
    parts = value if isinstance(value, (list, tuple)) else str(value).split(",")
    seen: dict[str, None] = {}
    for part in parts:
        tag = str(part).strip().lower()[:256]
        if tag:
            seen.setdefault(tag, None)
    return tuple(seen)


def attribute_name(name: str) -> str:
    """Custom attribute names as stored and as attr() looks them up: lower case, runs of spaces and
    punctuation as one underscore ("Preferred Language" -> "preferred_language")."""
    return re.sub(r"[^\w.]+", "_", name.strip().lower()).strip("_")[:128]


def synthetic_id(*parts: str) -> int:
    """A stable negative id for catalogue rows that come without one (CSV exports); Shopify's own
    ids are positive, so the two never collide."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return -(int.from_bytes(digest[:8], "big") >> 2) - 1


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list:
    """A JSON list, or nothing (a malformed field is read as absent, never iterated)."""
    return value if isinstance(value, list) else []


def _first_phone(candidates: Iterable[Any], region: str) -> Phone | None:
    for candidate in candidates:
        phone = parse_phone(candidate, region)
        if phone is not None:
            return phone
    return None


def _split_name(full: str | None) -> tuple[str | None, str | None]:
    if not full:
        return None, None
    first, _, last = full.strip().partition(" ")
    return text(first, 128), text(last, 128)


# -- orders -------------------------------------------------------------------------------------

def order_from_json(obj: Any, region: str) -> OrderRecord:
    """A Shopify REST order (an orders/* webhook body, or a line of an API export)."""
    if not isinstance(obj, dict):
        raise RowError("not an order object")
    order_id = parse_id(obj.get("id"), "order id", required=True)
    customer = _mapping(obj.get("customer"))
    billing = _mapping(obj.get("billing_address"))
    shipping = _mapping(obj.get("shipping_address"))
    # docs/segments.md, joining orders: the order's phone, its customer's, the billing address's, the shipping's.
    phone = _first_phone((obj.get("phone"), customer.get("phone"), billing.get("phone"), shipping.get("phone")),
                         region)
    first, last = text(customer.get("first_name"), 128), text(customer.get("last_name"), 128)
    if not (first or last):
        for address in (billing, shipping):
            first, last = text(address.get("first_name"), 128), text(address.get("last_name"), 128)
            if first or last:
                break
    buyer = Buyer(phone=phone, shopify_customer_id=parse_id(customer.get("id"), "customer id"),
                  first_name=first, last_name=last,
                  email=text(obj.get("email") or obj.get("contact_email") or customer.get("email"), 256),
                  locale=locale_tag(customer.get("locale")))
    codes = tuple(c for c in (text(_mapping(d).get("code")) for d in _items(obj.get("discount_codes"))) if c)
    items = tuple(_line_item_from_json(position, item) for position, item in enumerate(_items(obj.get("line_items"))))
    fulfillments = [f for f in _items(obj.get("fulfillments")) if isinstance(f, dict)]
    last_fulfillment = fulfillments[-1] if fulfillments else {}
    tracking_urls = _items(last_fulfillment.get("tracking_urls"))
    return OrderRecord(
        id=order_id,
        name=text(obj.get("name"), 64),
        buyer=buyer,
        created_at=parse_time(obj.get("created_at") or obj.get("processed_at"), "created_at", required=True),
        updated_at=parse_time(obj.get("updated_at"), "updated_at"),
        cancelled_at=parse_time(obj.get("cancelled_at"), "cancelled_at"),
        financial_status=text(obj.get("financial_status"), 32),
        fulfillment_status=text(obj.get("fulfillment_status"), 32),
        total_price=parse_money(obj.get("total_price"), "total_price", required=True),
        total_discounts=parse_money(obj.get("total_discounts"), "total_discounts") or Decimal("0.00"),
        discount_codes=codes,
        currency=text(obj.get("currency"), 8),
        ship_country=text(shipping.get("country_code"), 2),
        ship_province=text(shipping.get("province_code") or shipping.get("province"), 128),
        ship_city=text(shipping.get("city"), 128),
        tracking_company=text(last_fulfillment.get("tracking_company"), 128),
        tracking_number=text(last_fulfillment.get("tracking_number"), 128),
        tracking_url=text(last_fulfillment.get("tracking_url") or (tracking_urls[0] if tracking_urls else None)),
        order_status_url=text(obj.get("order_status_url")),
        line_items=items,
        customer_locale=locale_tag(obj.get("customer_locale")),
        checkout_token=text(obj.get("checkout_token"), 128),
        checkout_id=parse_id(obj.get("checkout_id"), "checkout_id"),
        payment_gateways=tuple(g for g in (text(name, 128) for name in _items(obj.get("payment_gateway_names"))) if g),
        fulfillments=tuple(fulfillment_from_json(f, order_id) for f in fulfillments if f.get("id") is not None),
    )


def _line_item_from_json(position: int, item: Any) -> LineItemRecord:
    if not isinstance(item, dict):
        raise RowError(f"line item {position + 1} is not an object")
    return LineItemRecord(
        position=position,
        line_item_id=parse_id(item.get("id"), "line item id"),
        product_id=parse_id(item.get("product_id"), "product_id"),
        variant_id=parse_id(item.get("variant_id"), "variant_id"),
        sku=text(item.get("sku"), 256),
        title=text(item.get("title") or item.get("name"), 512),
        variant_title=text(item.get("variant_title"), 512),
        vendor=text(item.get("vendor"), 256),
        product_type=text(item.get("product_type"), 256),
        quantity=parse_quantity(item.get("quantity")),
        price=parse_money(item.get("price"), "line item price"),
    )


def order_from_csv(rows: Sequence[Mapping[str, str]], region: str) -> OrderRecord:
    """One order of the admin's order export: its rows (one per line item, header keys in lower
    case). Order-level columns are filled on the first row only."""
    head = rows[0]
    if not text(head.get("created at")):
        raise RowError(f"order {head.get('name') or '?'}: line item row without the order's first row"
                       " (rows of one order must be consecutive)")
    order_id = parse_id(head.get("id"), "order Id", required=True)
    phone = _first_phone((head.get("phone"), head.get("billing phone"), head.get("shipping phone")), region)
    first, last = _split_name(text(head.get("billing name")) or text(head.get("shipping name")))
    buyer = Buyer(phone=phone, shopify_customer_id=None, first_name=first, last_name=last,
                  email=text(head.get("email"), 256))
    codes = tuple(c for c in (text(part) for part in (head.get("discount code") or "").split(",")) if c)
    items = []
    for position, row in enumerate(rows):
        if not (text(row.get("lineitem name")) or text(row.get("lineitem sku"))):
            continue
        items.append(LineItemRecord(
            position=position, line_item_id=None, product_id=None, variant_id=None,
            sku=text(row.get("lineitem sku"), 256), title=text(row.get("lineitem name"), 512),
            variant_title=None, vendor=text(row.get("vendor"), 256), product_type=None,
            quantity=parse_quantity(row.get("lineitem quantity")),
            price=parse_money(row.get("lineitem price"), "Lineitem price"),
        ))
    return OrderRecord(
        id=order_id,
        name=text(head.get("name"), 64),
        buyer=buyer,
        created_at=parse_time(head.get("created at"), "Created at", required=True),
        updated_at=None,
        cancelled_at=parse_time(head.get("cancelled at"), "Cancelled at"),
        financial_status=text(head.get("financial status"), 32),
        fulfillment_status=text(head.get("fulfillment status"), 32),
        total_price=parse_money(head.get("total"), "Total", required=True),
        total_discounts=parse_money(head.get("discount amount"), "Discount Amount") or Decimal("0.00"),
        discount_codes=codes,
        currency=text(head.get("currency"), 8),
        ship_country=text(head.get("shipping country"), 2),
        ship_province=text(head.get("shipping province") or head.get("shipping province name"), 128),
        ship_city=text(head.get("shipping city"), 128),
        line_items=tuple(items),
    )


def locale_tag(value: Any) -> str | None:
    """A locale as Shopify sends it ("es", "pt-BR"), kept when it is a language tag; else None."""
    tag = text(value, 16)
    return tag if tag and languages.primary(tag) else None


# -- customers ----------------------------------------------------------------------------------

# Fields of Shopify's customer object that are not custom attributes.
_CUSTOMER_FIELDS = frozenset({
    "id", "email", "accepts_marketing", "accepts_marketing_updated_at", "marketing_opt_in_level",
    "created_at", "updated_at", "first_name", "last_name", "orders_count", "state", "total_spent",
    "last_order_id", "last_order_name", "verified_email", "multipass_identifier", "tax_exempt",
    "tax_exemptions", "tags", "currency", "phone", "addresses", "default_address",
    "email_marketing_consent", "sms_marketing_consent", "admin_graphql_api_id", "metafield", "metafields",
    "wa_id", "amount_spent", "locale", "verified",
})

# Columns of the admin's customer CSV export (old and current layouts) that are not custom attributes.
_CUSTOMER_CSV_COLUMNS = frozenset({
    "customer id", "first name", "last name", "email", "phone", "default address phone",
    "accepts email marketing", "accepts sms marketing", "accepts marketing", "tags",
    "total spent", "total orders", "tax exempt",
    "company", "address1", "address2", "city", "province", "province code", "country", "country code", "zip",
    "default address company", "default address address1", "default address address2",
    "default address city", "default address province code", "default address country code",
    "default address zip",
})


def _consent(obj: Mapping[str, Any]) -> bool | None:
    """Shopify's marketing consent: the old accepts_marketing flag, or the email/SMS consent states.
    Any channel subscribed counts; all known and none subscribed is False; nothing known is None."""
    answers = [parse_bool(obj.get("accepts_marketing"))]
    for key in ("sms_marketing_consent", "email_marketing_consent"):
        consent = obj.get(key)
        if isinstance(consent, dict):
            answers.append(parse_bool(consent.get("state")))
    known = [a for a in answers if a is not None]
    if not known:
        return None
    return any(known)


def customer_from_json(obj: Any, region: str) -> CustomerRecord:
    if not isinstance(obj, dict):
        raise RowError("not a customer object")
    default = _mapping(obj.get("default_address"))
    addresses = [_mapping(a).get("phone") for a in _items(obj.get("addresses"))]
    attributes: dict[str, str] = {}
    for key, value in obj.items():
        if key in _CUSTOMER_FIELDS or isinstance(value, (Mapping, list, tuple)):
            continue
        name, val = attribute_name(str(key)), text(value)
        if name and val is not None:
            attributes[name] = val
    for metafield in _items(obj.get("metafields")):
        metafield = _mapping(metafield)
        name, val = attribute_name(str(metafield.get("key") or "")), text(metafield.get("value"))
        if name and val is not None:
            attributes[name] = val
    return CustomerRecord(
        shopify_id=parse_id(obj.get("id"), "customer id"),
        phone=_first_phone((obj.get("phone"), default.get("phone"), *addresses), region),
        first_name=text(obj.get("first_name"), 128),
        last_name=text(obj.get("last_name"), 128),
        email=text(obj.get("email"), 256),
        accepts_marketing=_consent(obj),
        tags=split_tags(obj.get("tags")) if "tags" in obj else None,
        attributes=attributes,
        updated_at=parse_time(obj.get("updated_at"), "updated_at"),
        locale=locale_tag(obj.get("locale")),
    )


def customer_from_csv(row: Mapping[str, str], headers: Mapping[str, str], region: str) -> CustomerRecord:
    """One row of the admin's customer export (keys in lower case); `headers` maps those keys back
    to the file's own column names, which name the custom attributes."""
    consent_values = [parse_bool(row.get(c)) for c in ("accepts sms marketing", "accepts email marketing",
                                                       "accepts marketing") if c in row]
    known = [v for v in consent_values if v is not None]
    attributes = {}
    for key, value in row.items():
        if key in _CUSTOMER_CSV_COLUMNS or key is None:
            continue
        name, val = attribute_name(headers.get(key, key)), text(value)
        if name and val is not None:
            attributes[name] = val
    return CustomerRecord(
        shopify_id=parse_id(row.get("customer id"), "Customer ID"),
        phone=_first_phone((row.get("phone"), row.get("default address phone")), region),
        first_name=text(row.get("first name"), 128),
        last_name=text(row.get("last name"), 128),
        email=text(row.get("email"), 256),
        accepts_marketing=any(known) if known else None,
        tags=split_tags(row.get("tags")) if "tags" in row else None,
        attributes=attributes,
    )


# -- products -----------------------------------------------------------------------------------

def product_from_json(obj: Any) -> ProductRecord:
    if not isinstance(obj, dict):
        raise RowError("not a product object")
    product_id = parse_id(obj.get("id"), "product id", required=True)
    variants = []
    for variant in _items(obj.get("variants")):
        variant = _mapping(variant)
        variant_id = parse_id(variant.get("id"), "variant id")
        if variant_id is None:
            continue
        variants.append(VariantRecord(
            id=variant_id, title=text(variant.get("title"), 512), sku=text(variant.get("sku"), 256),
            price=parse_money(variant.get("price"), "variant price"),
            updated_at=parse_time(variant.get("updated_at"), "variant updated_at"),
        ))
    return ProductRecord(
        id=product_id, title=text(obj.get("title"), 512), handle=text(obj.get("handle"), 512),
        product_type=text(obj.get("product_type"), 256), vendor=text(obj.get("vendor"), 256),
        tags=split_tags(obj.get("tags")), status=text(obj.get("status"), 32),
        updated_at=parse_time(obj.get("updated_at"), "updated_at"), variants=tuple(variants),
    )


def product_from_csv(rows: Sequence[Mapping[str, str]]) -> ProductRecord:
    """One product of the admin's product export: its rows (one per variant, keys in lower case).
    The export has no ids, so ids are derived from the handle (and the variant's SKU or options)."""
    head = rows[0]
    handle = text(head.get("handle"), 512)
    if handle is None:
        raise RowError("no Handle")
    if not text(head.get("title")):
        raise RowError(f"product {handle}: variant row without the product's first row"
                       " (rows of one product must be consecutive)")
    variants = []
    for row in rows:
        sku = text(row.get("variant sku"), 256)
        options = [text(row.get(f"option{i} value")) for i in (1, 2, 3)]
        option_title = " / ".join(o for o in options if o) or None
        if not (sku or option_title or text(row.get("variant price"))):
            continue  # an image-only row
        variants.append(VariantRecord(
            id=synthetic_id("variant", handle, sku or "", option_title or ""),
            title=option_title, sku=sku, price=parse_money(row.get("variant price"), "Variant Price"),
            updated_at=None,
        ))
    status = text(head.get("status"), 32)
    return ProductRecord(
        id=synthetic_id("product", handle), title=text(head.get("title"), 512), handle=handle,
        product_type=text(head.get("type"), 256), vendor=text(head.get("vendor"), 256),
        tags=split_tags(head.get("tags")), status=status.lower() if status else None,
        updated_at=None, variants=tuple(variants), synthetic_id=True,
    )


# -- fulfillments and checkouts -----------------------------------------------------------------

def fulfillment_from_json(obj: Any, order_id: int | None = None) -> FulfillmentRecord:
    """A fulfillment: a fulfillments/* webhook body, or one of an order's `fulfillments`."""
    if not isinstance(obj, dict):
        raise RowError("not a fulfillment object")
    urls = [u for u in _items(obj.get("tracking_urls")) if isinstance(u, str) and u.strip()]
    numbers = [n for n in _items(obj.get("tracking_numbers")) if isinstance(n, (str, int)) and str(n).strip()]
    return FulfillmentRecord(
        id=parse_id(obj.get("id"), "fulfillment id", required=True),
        order_id=parse_id(obj.get("order_id"), "order_id") or parse_id(order_id, "order_id", required=True),
        status=text(obj.get("status"), 32),
        shipment_status=text(obj.get("shipment_status"), 32),
        tracking_company=text(obj.get("tracking_company"), 128),
        tracking_number=text(obj.get("tracking_number") or (numbers[0] if numbers else None), 128),
        tracking_url=_web_url(obj.get("tracking_url") or (urls[0] if urls else None)),
        created_at=parse_time(obj.get("created_at"), "created_at"),
        updated_at=parse_time(obj.get("updated_at"), "updated_at"),
    )


def fulfillment_event_from_json(obj: Any) -> FulfillmentEventRecord:
    """A fulfillment_events/create body."""
    if not isinstance(obj, dict):
        raise RowError("not a fulfillment event object")
    return FulfillmentEventRecord(
        id=parse_id(obj.get("id"), "fulfillment event id", required=True),
        fulfillment_id=parse_id(obj.get("fulfillment_id"), "fulfillment_id", required=True),
        order_id=parse_id(obj.get("order_id"), "order_id", required=True),
        status=text(obj.get("status"), 32),
        happened_at=parse_time(obj.get("happened_at") or obj.get("created_at"), "happened_at"),
    )


def _web_url(value: Any) -> str | None:
    """A link we would put in a customer's message: http(s) only, 2,000 characters at most."""
    url = text(value)
    if url is None or len(url) > 2000 or not re.match(r"^https?://[^\s]+$", url, re.IGNORECASE):
        return None
    return url


def checkout_items(line_items: Iterable[Any], limit: int = 3) -> str | None:
    """What a message names of a cart: "2 × Dog Food, Leash and 3 more"."""
    named = []
    for item in line_items:
        if not isinstance(item, dict):
            continue
        title = text(item.get("title") or item.get("presentment_title") or item.get("name"), 120)
        if not title:
            continue
        quantity = parse_quantity(item.get("quantity"))
        named.append(f"{quantity} × {title}" if quantity > 1 else title)
    if not named:
        return None
    shown = ", ".join(named[:limit])
    return shown + (f" (+{len(named) - limit})" if len(named) > limit else "")


def checkout_from_json(obj: Any, region: str) -> CheckoutRecord:
    """A Shopify checkout (a checkouts/create|update webhook body, or an abandoned checkout of the
    Admin API made into that shape by bot/shopify/records.py)."""
    if not isinstance(obj, dict):
        raise RowError("not a checkout object")
    token = text(obj.get("token"), 128)
    if token is None:
        raise RowError("no checkout token")
    customer = _mapping(obj.get("customer"))
    billing = _mapping(obj.get("billing_address"))
    shipping = _mapping(obj.get("shipping_address"))
    phone = _first_phone((obj.get("phone"), obj.get("sms_marketing_phone"), customer.get("phone"),
                          shipping.get("phone"), billing.get("phone")), region)
    first, last = text(customer.get("first_name"), 128), text(customer.get("last_name"), 128)
    if not (first or last):
        for address in (shipping, billing):
            first, last = text(address.get("first_name"), 128), text(address.get("last_name"), 128)
            if first or last:
                break
    buyer = Buyer(phone=phone, shopify_customer_id=parse_id(customer.get("id"), "customer id"),
                  first_name=first, last_name=last, email=text(obj.get("email") or customer.get("email"), 256),
                  locale=locale_tag(customer.get("locale")))
    created = parse_time(obj.get("created_at"), "created_at", required=True)
    return CheckoutRecord(
        token=token,
        shopify_id=parse_id(obj.get("id"), "checkout id"),
        buyer=buyer,
        abandoned_checkout_url=_web_url(obj.get("abandoned_checkout_url")),
        items=checkout_items(_items(obj.get("line_items"))),
        total_price=parse_money(obj.get("total_price"), "total_price"),
        currency=text(obj.get("presentment_currency") or obj.get("currency"), 8),
        customer_locale=locale_tag(obj.get("customer_locale")),
        created_at=created,
        updated_at=parse_time(obj.get("updated_at"), "updated_at") or created,
        completed_at=parse_time(obj.get("completed_at"), "completed_at"),
    )
