"""GraphQL Admin API nodes -> the records segments/shopify.py makes of REST and webhook JSON.

Pure. Each node is rewritten into the REST object Shopify would have sent for it (snake_case,
money as a decimal string, enums in lower case) and read by segments/shopify.py's own readers, so
one order is the same record whether it came by webhook, file or sync: the same limits, the same
phone join, the same RowError for what cannot be imported. Only fields those readers use are
carried over: any other scalar of a REST customer would become a custom attribute, so a
customer's are its `note`, as a webhook's would be (metafields are not read yet).

A node's children (an order's line items, a product's variants) come as a list (a reassembled
bulk export) or as a connection (`{"edges": [{"node": ...}]}` of a page): both are read.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from segments import shopify
from segments.shopify import CheckoutRecord, CustomerRecord, OrderRecord, ProductRecord, RowError

# displayFulfillmentStatus -> REST's fulfillment_status, which is null until something shipped.
FULFILLMENT = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial", "RESTOCKED": "restocked"}


def _given(**fields: Any) -> dict:
    """The fields that have a value: the REST readers take a missing field as null, and every key
    kept is one more for the checks before the database (bot/core/safejson.py) to read."""
    return {k: v for k, v in fields.items() if v is not None}


def _map(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def nodes(value: Any) -> list:
    """The nodes of a connection, or a plain list of them."""
    if isinstance(value, list):
        return value
    connection = _map(value)
    if isinstance(connection.get("nodes"), list):
        return connection["nodes"]
    return [_map(edge).get("node") for edge in _list(connection.get("edges"))]


def _enum(value: Any) -> str | None:
    return value.lower() if isinstance(value, str) else None


def _amount(money_bag: Any) -> Any:
    """`totalPriceSet { shopMoney { amount } }` -> the amount (the shop's currency, as REST's total_price)."""
    return _map(_map(money_bag).get("shopMoney")).get("amount")


def _currency(money_bag: Any) -> Any:
    return _map(_map(money_bag).get("shopMoney")).get("currencyCode")


def _address(value: Any) -> dict | None:
    if not isinstance(value, dict):
        return None
    return _given(phone=value.get("phone"), first_name=value.get("firstName"), last_name=value.get("lastName"),
                  country_code=value.get("countryCodeV2") or value.get("countryCode"),
                  province_code=value.get("provinceCode"), province=value.get("province"), city=value.get("city"))


def _email(customer: dict) -> Any:
    return _map(customer.get("defaultEmailAddress")).get("emailAddress") or customer.get("email")


def _phone(customer: dict) -> Any:
    return _map(customer.get("defaultPhoneNumber")).get("phoneNumber") or customer.get("phone")


# -- orders -------------------------------------------------------------------------------------

def order_as_rest(node: Any) -> dict:
    if not isinstance(node, dict):
        raise RowError("not an order object")
    customer = node.get("customer")
    fulfillments = []
    for fulfillment in _list(node.get("fulfillments")):
        tracking = [_map(t) for t in _list(_map(fulfillment).get("trackingInfo"))]
        first = tracking[0] if tracking else {}
        fulfillments.append(_given(tracking_company=first.get("company"), tracking_number=first.get("number"),
                                   tracking_url=first.get("url"),
                                   tracking_urls=[t.get("url") for t in tracking if t.get("url")] or None))
    status = node.get("displayFulfillmentStatus")
    return _given(
        id=node.get("id"), name=node.get("name"), created_at=node.get("createdAt"),
        processed_at=node.get("processedAt"), updated_at=node.get("updatedAt"), cancelled_at=node.get("cancelledAt"),
        financial_status=_enum(node.get("displayFinancialStatus")),
        fulfillment_status=FULFILLMENT.get(status) if isinstance(status, str) else None,
        email=node.get("email"), phone=node.get("phone"),
        payment_gateway_names=[g for g in _list(node.get("paymentGatewayNames")) if isinstance(g, str)] or None,
        currency=node.get("currencyCode") or _currency(node.get("totalPriceSet")),
        customer_locale=node.get("customerLocale"), order_status_url=node.get("statusPageUrl"),
        total_price=_amount(node.get("totalPriceSet")), total_discounts=_amount(node.get("totalDiscountsSet")),
        discount_codes=[{"code": code} for code in _list(node.get("discountCodes"))] or None,
        billing_address=_address(node.get("billingAddress")) or None,
        shipping_address=_address(node.get("shippingAddress")) or None,
        fulfillments=fulfillments or None,
        line_items=[_line_item(item) for item in nodes(node.get("lineItems"))] or None,
        customer=_given(id=customer.get("id"), first_name=customer.get("firstName"),
                        last_name=customer.get("lastName"), email=_email(customer), phone=_phone(customer),
                        locale=customer.get("locale")) if isinstance(customer, dict) else None,
    )


def _line_item(item: Any) -> Any:
    if not isinstance(item, dict):
        return item  # segments/shopify.py says which line item is not an object
    return _given(id=item.get("id"), product_id=_map(item.get("product")).get("id"),
                  variant_id=_map(item.get("variant")).get("id"), sku=item.get("sku"), title=item.get("title"),
                  name=item.get("name"), variant_title=item.get("variantTitle"), vendor=item.get("vendor"),
                  quantity=item.get("quantity"), price=_amount(item.get("originalUnitPriceSet")))


def order_from_graphql(node: Any, region: str) -> OrderRecord:
    return shopify.order_from_json(order_as_rest(node), region)


# -- customers ----------------------------------------------------------------------------------

def customer_as_rest(node: Any) -> dict:
    if not isinstance(node, dict):
        raise RowError("not a customer object")
    email = _map(node.get("defaultEmailAddress"))
    phone = _map(node.get("defaultPhoneNumber"))
    rest = _given(id=node.get("id"), first_name=node.get("firstName"), last_name=node.get("lastName"),
                  email=_email(node), phone=_phone(node), locale=node.get("locale"),
                  note=node.get("note"),  # a REST customer's note is a custom attribute (docs/segments.md)
                  updated_at=node.get("updatedAt"),
                  default_address=_given(phone=_map(node.get("defaultAddress")).get("phone")) or None)
    if "tags" in node:  # absent says nothing about tags; a list (even empty) replaces them
        rest["tags"] = [t for t in _list(node.get("tags")) if isinstance(t, str)]
    # Marketing consent per channel, as REST's {"state": "subscribed"} (older versions: *MarketingConsent).
    for channel, default, legacy in (("email", email, "emailMarketingConsent"), ("sms", phone, "smsMarketingConsent")):
        state = default.get("marketingState") or _map(node.get(legacy)).get("marketingState")
        if isinstance(state, str):
            rest[f"{channel}_marketing_consent"] = {"state": state.lower()}
    return rest


def customer_from_graphql(node: Any, region: str) -> CustomerRecord:
    return shopify.customer_from_json(customer_as_rest(node), region)


# -- products -----------------------------------------------------------------------------------

def product_as_rest(node: Any) -> dict:
    if not isinstance(node, dict):
        raise RowError("not a product object")
    variants = []
    for variant in nodes(node.get("variants")):
        variant = _map(variant)
        price = variant.get("price")
        if isinstance(price, dict):  # MoneyV2 in older shapes
            price = price.get("amount")
        variants.append(_given(id=variant.get("id"), title=variant.get("title"), sku=variant.get("sku"),
                               price=price, updated_at=variant.get("updatedAt")))
    return _given(id=node.get("id"), title=node.get("title"), handle=node.get("handle"),
                  product_type=node.get("productType"), vendor=node.get("vendor"),
                  tags=[t for t in _list(node.get("tags")) if isinstance(t, str)] or None,
                  status=_enum(node.get("status")), updated_at=node.get("updatedAt"), variants=variants or None)


def product_from_graphql(node: Any, region: str = "") -> ProductRecord:
    return shopify.product_from_json(product_as_rest(node))


# -- abandoned checkouts ------------------------------------------------------------------------

# Path segments of a recovery URL that route to the new checkout rather than name the checkout:
# `/<shop id>/checkouts/ac/<cart token>/recover?key=...`.
_CHECKOUT_ROUTES = {"ac", "c", "cn", "co"}


def checkout_token(node: dict) -> str | None:
    """REST's checkout `token`, which GraphQL's AbandonedCheckout does not carry.

    The recovery URL of a classic checkout names it: `.../<shop id>/checkouts/<token>/recover?key=...`,
    and that segment (right after /checkouts/) is the token a checkouts/* webhook sends, so a
    checkout read here and the same one by webhook are one row. The new checkout's URL
    (`/checkouts/ac/<x>/recover`) names the cart's token instead, not the checkout's: there, and
    when there is no URL, the token is "gid:<the checkout's numeric id>" (REST's checkout `id`,
    kept as shopify_id; bot/shopify/sync.py reuses the token already stored for that id)."""
    url = node.get("abandonedCheckoutUrl")
    if isinstance(url, str):
        try:
            segments = [p for p in urlsplit(url.strip()).path.split("/") if p]
        except ValueError:
            segments = []
        if "checkouts" in segments:
            after = segments[segments.index("checkouts") + 1:]
            if after and after[0] not in _CHECKOUT_ROUTES and after[0] != "recover" and len(after[0]) <= 128:
                return after[0]
    gid = node.get("id")
    number = str(gid).rsplit("/", 1)[-1] if isinstance(gid, str) else ""
    return f"gid:{number}" if number.isdigit() else None


def checkout_as_rest(node: Any) -> dict:
    if not isinstance(node, dict):
        raise RowError("not a checkout object")
    money = _map(_map(node.get("totalPriceSet")).get("presentmentMoney"))
    customer = node.get("customer")
    items = [_given(title=item.get("title"), quantity=item.get("quantity")) if isinstance(item, dict) else item
             for item in nodes(node.get("lineItems"))]
    return _given(
        token=checkout_token(node), id=node.get("id"), created_at=node.get("createdAt"),
        updated_at=node.get("updatedAt"), completed_at=node.get("completedAt"),
        abandoned_checkout_url=node.get("abandonedCheckoutUrl"),
        total_price=money.get("amount"), presentment_currency=money.get("currencyCode"),
        email=_email(customer) if isinstance(customer, dict) else None,
        customer=_given(id=customer.get("id"), first_name=customer.get("firstName"),
                        last_name=customer.get("lastName"), email=_email(customer), phone=_phone(customer),
                        locale=customer.get("locale")) if isinstance(customer, dict) else None,
        shipping_address=_address(node.get("shippingAddress")) or None,
        billing_address=_address(node.get("billingAddress")) or None,
        line_items=items or None,
    )


def checkout_from_graphql(node: Any, region: str) -> CheckoutRecord:
    return shopify.checkout_from_json(checkout_as_rest(node), region)


AS_REST = {"orders": order_as_rest, "customers": customer_as_rest, "products": product_as_rest,
           "checkouts": checkout_as_rest}
FROM_REST = {"orders": shopify.order_from_json, "customers": shopify.customer_from_json,
             "products": lambda rest, region: shopify.product_from_json(rest),
             "checkouts": shopify.checkout_from_json}


def as_rest(kind: str, node: Any) -> dict:
    """The REST object of one node of `kind` (orders, customers, products, checkouts), or RowError."""
    return AS_REST[kind](node)


def from_rest(kind: str, rest: dict, region: str):
    return FROM_REST[kind](rest, region)


def parse(kind: str, node: Any, region: str):
    """The record of one node of `kind`, or RowError."""
    return from_rest(kind, as_rest(kind, node), region)
