"""Order-side tables: the product catalogue, orders and their line items, customer tags and custom
attributes. Shared by ingestion, the segment engine, the flows (order status, reorder) and the
reorder planner. Same MetaData as the spine, so one migration history covers everything."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bot.core.tables import BigId, UTCDateTime, metadata

Money = sa.Numeric(14, 2)

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),  # Shopify product id
    sa.Column("title", sa.String(512)),
    sa.Column("handle", sa.String(512)),
    sa.Column("product_type", sa.String(256)),
    sa.Column("vendor", sa.String(256)),
    sa.Column("tags", sa.Text),  # Shopify's comma-separated list, as given
    sa.Column("status", sa.String(32)),
    sa.Column("updated_at", UTCDateTime()),
)

product_tags = sa.Table(
    "product_tags",
    metadata,
    sa.Column("product_id", sa.BigInteger, sa.ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(256), primary_key=True),  # lower case, trimmed
    sa.Index("ix_product_tags_tag", "tag"),
)

variants = sa.Table(
    "variants",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),  # Shopify variant id
    sa.Column("product_id", sa.BigInteger, sa.ForeignKey("products.id", ondelete="CASCADE"), index=True),
    sa.Column("title", sa.String(512)),
    sa.Column("sku", sa.String(256), index=True),
    sa.Column("price", Money),
    sa.Column("updated_at", UTCDateTime()),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),  # Shopify order id
    sa.Column("name", sa.String(64)),  # "#1001"
    # Our customer, joined by the order's normalised phone; NULL when no phone parses.
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="SET NULL")),
    sa.Column("shopify_customer_id", sa.BigInteger),
    sa.Column("phone", sa.String(32)),  # E.164 digits, no "+"
    sa.Column("email", sa.String(256)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("cancelled_at", UTCDateTime()),
    sa.Column("financial_status", sa.String(32)),
    sa.Column("fulfillment_status", sa.String(32)),
    sa.Column("total_price", Money, nullable=False),
    sa.Column("total_discounts", Money, nullable=False, server_default="0"),
    sa.Column("discount_codes", sa.Text),  # comma-separated codes
    sa.Column("is_discounted", sa.Boolean, nullable=False, server_default=sa.false()),
    # Not cancelled, not voided or refunded: the time-independent half of "orders that count".
    sa.Column("counted", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("currency", sa.String(8)),
    sa.Column("ship_country", sa.String(2)),
    sa.Column("ship_province", sa.String(128)),
    sa.Column("ship_city", sa.String(128)),
    sa.Column("tracking_company", sa.String(128)),
    sa.Column("tracking_number", sa.String(128)),
    sa.Column("tracking_url", sa.Text),
    sa.Column("order_status_url", sa.Text),
    sa.Column("customer_locale", sa.String(16)),  # the storefront language the order was placed in
    sa.Column("source_updated_at", UTCDateTime()),  # Shopify's updated_at: older updates are ignored
    sa.Column("ingested_at", UTCDateTime(), nullable=False),
    # The checkout the order completed (an abandoned checkout with this token or id is recovered).
    sa.Column("checkout_token", sa.String(128)),
    sa.Column("checkout_id", sa.BigInteger),
    sa.Column("payment_gateways", sa.Text),  # Shopify's payment_gateway_names, comma-separated
    # Covering index for the per-customer aggregates: counted orders by customer and time.
    sa.Index("ix_orders_aggregate", "counted", "customer_id", "created_at", "total_price", "is_discounted"),
    sa.Index("ix_orders_customer_created", "customer_id", "created_at"),
    sa.Index("ix_orders_phone", "phone"),
    sa.Index("ix_orders_checkout_token", "checkout_token"),
)

# Checkouts from checkouts/create|update webhooks and `shopify sync`: the abandoned-checkout
# automation reads them (docs/automations.md). Keyed by Shopify's checkout token.
checkouts = sa.Table(
    "checkouts",
    metadata,
    sa.Column("token", sa.String(128), primary_key=True),
    sa.Column("shopify_id", sa.BigInteger),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="SET NULL")),
    sa.Column("phone", sa.String(32)),  # E.164 digits, no "+"
    sa.Column("email", sa.String(256)),
    sa.Column("abandoned_checkout_url", sa.Text),
    sa.Column("items", sa.Text),  # "2 × Dog Food, Leash": what the message names
    sa.Column("total_price", Money),
    sa.Column("currency", sa.String(8)),
    sa.Column("customer_locale", sa.String(16)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("source_updated_at", UTCDateTime(), nullable=False),  # the sequence counts from here
    sa.Column("completed_at", UTCDateTime()),
    # The sequence stopped for good: ordered | replied | opted_out (with when).
    sa.Column("stopped_reason", sa.String(16)),
    sa.Column("stopped_at", UTCDateTime()),
    sa.Column("ingested_at", UTCDateTime(), nullable=False),
    sa.Index("ix_checkouts_open", "completed_at", "stopped_reason", "source_updated_at"),
    sa.Index("ix_checkouts_customer_id", "customer_id"),
)

# Fulfillments of orders (fulfillments/* webhooks, fulfillment_events/create and the orders'
# own fulfillments): what the order updates and "where is my order?" read.
fulfillments = sa.Table(
    "fulfillments",
    metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),  # Shopify fulfillment id
    sa.Column("order_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("status", sa.String(32)),  # success | cancelled | error | failure | pending | open
    sa.Column("shipment_status", sa.String(32)),  # in_transit | out_for_delivery | delivered | ...
    sa.Column("tracking_company", sa.String(128)),
    sa.Column("tracking_number", sa.String(128)),
    sa.Column("tracking_url", sa.Text),
    sa.Column("created_at", UTCDateTime()),
    sa.Column("delivered_at", UTCDateTime()),
    sa.Column("source_updated_at", UTCDateTime()),
    sa.Column("ingested_at", UTCDateTime(), nullable=False),
)

line_items = sa.Table(
    "line_items",
    metadata,
    sa.Column("order_id", sa.BigInteger, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("line_item_id", sa.BigInteger),  # Shopify's, when the source has it (CSV exports do not)
    sa.Column("product_id", sa.BigInteger, index=True),
    sa.Column("variant_id", sa.BigInteger, index=True),
    sa.Column("sku", sa.String(256), index=True),
    sa.Column("title", sa.String(512)),
    sa.Column("variant_title", sa.String(512)),
    sa.Column("vendor", sa.String(256)),
    sa.Column("product_type", sa.String(256)),
    sa.Column("quantity", sa.Integer, nullable=False, server_default="1"),
    sa.Column("price", Money),
)

customer_tags = sa.Table(
    "customer_tags",
    metadata,
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag", sa.String(256), primary_key=True),  # lower case, trimmed
    sa.Index("ix_customer_tags_tag", "tag"),
)

customer_attributes = sa.Table(
    "customer_attributes",
    metadata,
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),  # lower case: birthday, gender, language, interest...
    sa.Column("value", sa.Text),
    sa.Column("source", sa.String(32), nullable=False),  # import | chat
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_customer_attributes_name_value", "name", "value"),
)

# Current membership, as of the last refresh, with the attribute values that put each customer in.
segment_members = sa.Table(
    "segment_members",
    metadata,
    sa.Column("segment", sa.String(128), primary_key=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("entered_at", UTCDateTime(), nullable=False),
    sa.Column("reason", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
    sa.Index("ix_segment_members_customer", "customer_id"),
)

# Who entered and who left which segment, and when (the `now` of the refresh that saw it).
segment_events = sa.Table(
    "segment_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("segment", sa.String(128), nullable=False),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("change", sa.String(8), nullable=False),  # enter | exit
    sa.Column("at", UTCDateTime(), nullable=False),
    sa.Index("ix_segment_events_segment_at", "segment", "at"),
    sa.Index("ix_segment_events_customer", "customer_id"),
)

# Per-customer aggregates of counted orders, kept up to date by ingestion (the customers an order
# batch touches are recomputed from their orders). Money is kept in integer cents so sums and
# percentiles are exact and identical on SQLite and PostgreSQL.
customer_order_stats = sa.Table(
    "customer_order_stats",
    metadata,
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("orders_count", sa.Integer, nullable=False),
    sa.Column("total_cents", sa.BigInteger, nullable=False),
    sa.Column("discounted_count", sa.Integer, nullable=False),
    sa.Column("first_order_at", UTCDateTime(), nullable=False),
    sa.Column("last_order_at", UTCDateTime(), nullable=False),
    # The most recent counted order that has a shipping address.
    sa.Column("ship_country", sa.String(2)),
    sa.Column("ship_province", sa.String(128)),
    sa.Column("ship_city", sa.String(128)),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_customer_order_stats_last_order_at", "last_order_at"),
)

# Customers whose order aggregates are out of date: a bulk import marks them and recomputes them
# set-wise at its end (or the next refresh does, if the import died half-way).
order_stats_pending = sa.Table(
    "order_stats_pending",
    metadata,
    sa.Column("customer_id", BigId, primary_key=True, autoincrement=False),
)

# Customers whose facts changed since the last segment refresh (orders, customer data): a partial
# refresh (`SegmentEngine.refresh_changed`) recomputes only them.
segment_pending = sa.Table(
    "segment_pending",
    metadata,
    sa.Column("customer_id", BigId, primary_key=True, autoincrement=False),
    sa.Column("since", UTCDateTime(), nullable=False),
)

# Per customer, the segments and the facts behind them as the last refresh saw them: a refresh
# compares one string per customer and rewrites membership only for customers whose string changed.
segment_state = sa.Table(
    "segment_state",
    metadata,
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("signature", sa.Text, nullable=False),
)

# One row per refresh: when, at which `now`, the percentile thresholds it used, and its counts.
segment_refreshes = sa.Table(
    "segment_refreshes",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("now", UTCDateTime(), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # full | partial
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("thresholds", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
    sa.Column("counts", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
)

# Shopify webhook deliveries seen, by X-Shopify-Webhook-Id (or X-Shopify-Event-Id): a redelivery
# is acknowledged without being applied twice. A delivery that could not be applied keeps its body.
shopify_webhooks = sa.Table(
    "shopify_webhooks",
    metadata,
    sa.Column("webhook_id", sa.String(128), primary_key=True),
    sa.Column("topic", sa.String(64), nullable=False),
    sa.Column("resource_id", sa.BigInteger),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # applied | ignored | failed | quarantined
    sa.Column("error", sa.Text),
    sa.Column("payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
)
