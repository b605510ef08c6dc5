"""The GraphQL wabot sends to the Admin API, in one place: what it reads of orders, customers and
products, as a bulk query (the history) and as pages (`--since`, and orders re-read by id); the
abandoned checkouts, always as pages; and the one mutation that writes (`tagsAdd`).

The selections name what segments/shopify.py reads from a REST object, in GraphQL's names
(bot/shopify/records.py maps them back). Each kind has at most one nested connection (an order's
line items, a product's variants), which a bulk export writes as lines of their own.
"""
from __future__ import annotations

from dataclasses import dataclass

# What a REST reader falls back on when a field is missing (processed_at for created_at, a line
# item's name for its title, each amount's currency for the order's) is not asked for: GraphQL's
# createdAt, title and currencyCode are never null, and every byte is read a million times.
MONEY = "shopMoney { amount }"
ADDRESS = "phone firstName lastName countryCodeV2 provinceCode province city"

ORDER = f"""id name createdAt updatedAt cancelledAt displayFinancialStatus displayFulfillmentStatus
email phone currencyCode customerLocale statusPageUrl discountCodes paymentGatewayNames
totalPriceSet {{ {MONEY} }} totalDiscountsSet {{ {MONEY} }}
customer {{ id firstName lastName locale defaultEmailAddress {{ emailAddress }} defaultPhoneNumber {{ phoneNumber }} }}
billingAddress {{ {ADDRESS} }} shippingAddress {{ {ADDRESS} }}
fulfillments {{ trackingInfo {{ company number url }} }}"""

LINE_ITEM = f"""id sku title variantTitle vendor quantity originalUnitPriceSet {{ {MONEY} }}
product {{ id }} variant {{ id }}"""

CUSTOMER = """id firstName lastName locale note tags updatedAt
defaultEmailAddress { emailAddress marketingState } defaultPhoneNumber { phoneNumber marketingState }
defaultAddress { phone }"""

PRODUCT = "id title handle productType vendor tags status updatedAt"
VARIANT = "id title sku price updatedAt"

# An abandoned checkout (read_orders). GraphQL has no `token`, `phone`, `email` or `customerLocale`
# on it: records.py derives the token, and the phone comes from the customer or an address. The
# presentment amount is what the buyer saw (REST's total_price with presentment_currency). A
# message names three items and counts the rest, so 50 line items a checkout are plenty.
CHECKOUT = """id createdAt updatedAt completedAt abandonedCheckoutUrl
totalPriceSet { presentmentMoney { amount currencyCode } }
customer { id firstName lastName locale defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } }
shippingAddress { phone firstName lastName } billingAddress { phone firstName lastName }
lineItems(first: 50) { nodes { title quantity } }"""


@dataclass(frozen=True)
class Children:
    field: str  # the connection on the node: lineItems
    typename: str  # what their ids name: gid://shopify/LineItem/1
    selection: str
    per_page: int  # how many a page of their parents brings along; more are fetched apart
    per_fetch: int  # how many one query for the rest brings


@dataclass(frozen=True)
class Kind:
    name: str  # orders, customers, products: as segments/importer.py names them
    connection: str  # the root field
    selection: str
    children: Children | None
    first: int  # nodes of the first page; later pages are sized by what it cost
    sort_key: str = "UPDATED_AT"  # abandonedCheckouts cannot sort by update time: by ID

    @property
    def typename(self) -> str:
        return {"orders": "Order", "customers": "Customer", "products": "Product",
                "checkouts": "AbandonedCheckout"}[self.name]


KINDS = {
    "orders": Kind("orders", "orders", ORDER, Children("lineItems", "LineItem", LINE_ITEM, 10, 100), 10),
    "customers": Kind("customers", "customers", CUSTOMER, None, 100),
    "products": Kind("products", "products", PRODUCT, Children("variants", "ProductVariant", VARIANT, 20, 100), 20),
    "checkouts": Kind("checkouts", "abandonedCheckouts", CHECKOUT, None, 10, sort_key="ID"),
}
ORDER_OF_SYNC = ("products", "customers", "orders")  # the catalogue, then people, then what they bought
# Read through pages whether or not `--since` is given, after the orders: far fewer than orders, not
# worth a bulk operation of their own. A checkout that became an order has Shopify's completedAt.
PAGED_KINDS = ("checkouts",)


def _nested(children: Children, first: str | None) -> str:
    arguments = f"(first: {first})" if first else ""
    return f"{children.field}{arguments} {{ edges {{ node {{ {children.selection} }} }}" + \
        (" pageInfo { hasNextPage endCursor } }" if first else " }")


def bulk_query(kind: Kind) -> str:
    """The query a bulk operation runs: every node, and every child (bulk queries take no `first`)."""
    nested = f" {_nested(kind.children, None)}" if kind.children else ""
    return f"{{ {kind.connection} {{ edges {{ node {{ {kind.selection}{nested} }} }} }} }}"


def page_operation(kind: Kind) -> str:
    return f"Wabot{kind.typename}Page"


def page_query(kind: Kind) -> str:
    """One page of nodes, newest change last, filtered by a search query (`updated_at:>=...`)."""
    nested = f" {_nested(kind.children, '$children')}" if kind.children else ""
    variables = "$first: Int!, $after: String, $query: String" + (", $children: Int!" if kind.children else "")
    return (f"query {page_operation(kind)}({variables}) {{ {kind.connection}(first: $first, after: $after,"
            f" query: $query, sortKey: {kind.sort_key}) {{ edges {{ node {{ {kind.selection}{nested} }} }}"
            f" pageInfo {{ hasNextPage endCursor }} }} }}")


def children_operation(kind: Kind) -> str:
    return f"Wabot{kind.typename}Children"


def children_query(kind: Kind) -> str:
    """The rest of one node's children, past those its page brought."""
    assert kind.children is not None
    child = kind.children
    return (f"query {children_operation(kind)}($id: ID!, $first: Int!, $after: String) {{ node(id: $id) {{"
            f" ... on {kind.typename} {{ {child.field}(first: $first, after: $after) {{ edges {{ node {{"
            f" {child.selection} }} }} pageInfo {{ hasNextPage endCursor }} }} }} }} }}")


SHOP = "query WabotShop { shop { name myshopifyDomain } }"

BULK_RUN = """mutation WabotBulkRun($query: String!) {
  bulkOperationRunQuery(query: $query, groupObjects: true) { bulkOperation { id status } userErrors { field message } }
}"""
BULK_POLL = """query WabotBulkPoll($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount fileSize url partialDataUrl } }
}"""
BULK_CANCEL = """mutation WabotBulkCancel($id: ID!) {
  bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } }
}"""

# Adds tags to an order (write_orders); tags it already has stay, so asking twice is harmless.
TAGS_ADD = """mutation WabotTagsAdd($id: ID!, $tags: [String!]!) {
  tagsAdd(id: $id, tags: $tags) { node { id } userErrors { field message } }
}"""
