"""Tables of the store automations (docs/automations.md). The messages themselves go through the
campaign ledger (`campaign_sends`, kind "automation") and the one outbox; this is the state that
is the automations' own."""
from __future__ import annotations

import sqlalchemy as sa

from bot.core.tables import BigId, UTCDateTime, metadata

# Cash-on-delivery orders asked for confirmation: the customer's answer, and the Shopify tag it
# becomes. The tag is added by the background process (`tag_state` pending -> done | failed), so an
# answer is recorded at once and survives Shopify being down.
cod_confirmations = sa.Table(
    "cod_confirmations",
    metadata,
    sa.Column("order_id", sa.BigInteger, primary_key=True, autoincrement=False),  # Shopify order id
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("order_name", sa.String(64)),
    sa.Column("state", sa.String(16), nullable=False),  # awaiting | confirmed | cancelled
    sa.Column("asked_at", UTCDateTime(), nullable=False),
    sa.Column("reminded_at", UTCDateTime()),
    sa.Column("answered_at", UTCDateTime()),
    sa.Column("answer_source", sa.String(16)),  # button | reply
    sa.Column("tag", sa.String(64)),
    sa.Column("tag_state", sa.String(16)),  # pending | done | failed
    sa.Column("tag_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("tag_error", sa.Text),
    sa.Column("tag_next_at", UTCDateTime()),
    sa.Column("tagged_at", UTCDateTime()),
    sa.Index("ix_cod_confirmations_customer_state", "customer_id", "state"),
    sa.Index("ix_cod_confirmations_tag_state", "tag_state", "tag_next_at"),
)
