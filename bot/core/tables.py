"""Tables of the spine: inbound events, customers, conversations, the transcript and the outbox.

Schema changes go through Alembic (migrations/); these definitions are what the migrations build.
Times are stored as naive UTC and come back timezone-aware, so SQLite and PostgreSQL agree.
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for busy tables.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JsonDoc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes in Python, naive UTC in the database."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # SQLite results of expressions such as max()
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc)


inbound_events = sa.Table(
    "inbound_events",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    # messages: "msg:<wamid>"; statuses: "status:<wamid>:<status>"; anything else: "<field>:<sha256>"
    sa.Column("event_key", sa.String(512), nullable=False, unique=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("wa_id", sa.String(160)),
    sa.Column("occurred_at", UTCDateTime()),
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Column("payload", JsonDoc, nullable=False),
    # pending -> done | dead; a claim is a lease that expires, so a crashed worker's events return
    sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", UTCDateTime()),
    sa.Column("processed_at", UTCDateTime()),
    sa.Column("error", sa.Text),
    sa.Index("ix_inbound_events_state_id", "state", "id"),
    sa.Index("ix_inbound_events_wa_id_state_id", "wa_id", "state", "id"),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    # E.164 digits without "+" (or, for a username sender without a phone, its business-scoped user id)
    sa.Column("wa_id", sa.String(160), unique=True),
    sa.Column("user_id", sa.String(160), index=True),
    sa.Column("shopify_customer_id", sa.BigInteger, unique=True),
    sa.Column("profile_name", sa.String(256)),
    sa.Column("first_name", sa.String(128)),
    sa.Column("last_name", sa.String(128)),
    sa.Column("email", sa.String(256)),
    sa.Column("phone_country", sa.String(2)),
    sa.Column("accepts_marketing", sa.Boolean),  # Shopify's marketing consent, when known
    sa.Column("consent_at", UTCDateTime()),  # START or another explicit opt-in in chat
    sa.Column("opted_out", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("opted_out_at", UTCDateTime()),
    # Meta's user_preferences "stop" for marketing messages, until "resume"
    sa.Column("marketing_paused", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("first_inbound_at", UTCDateTime()),
    sa.Column("last_inbound_at", UTCDateTime(), index=True),
    sa.Column("last_read_at", UTCDateTime()),
    sa.Column("last_referral_at", UTCDateTime()),  # click-to-WhatsApp ad entry point
    # The evidence of the customer's language (docs/languages.md; bot/core/languages.py decides)
    sa.Column("language_choice", sa.String(8)),  # chosen in chat: never overridden by a guess
    sa.Column("language_chat", sa.String(8)),  # their latest text message read with confidence
    sa.Column("language_chat_at", UTCDateTime()),
    sa.Column("shopify_locale", sa.String(16)),  # the Shopify customer's locale ("es-MX")
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# A customer's former business-scoped user ids (a `user_id_update` replaced them): a late status
# webhook or a message still queued under an old id finds the customer (docs/usernames.md).
customer_aliases = sa.Table(
    "customer_aliases",
    metadata,
    sa.Column("alias", sa.String(160), primary_key=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("replaced_by", sa.String(160)),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)

conversations = sa.Table(
    "conversations",
    metadata,
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False, server_default="bot"),  # bot | pending | agent
    sa.Column("agent", sa.String(128)),
    sa.Column("state_changed_at", UTCDateTime(), nullable=False),
    sa.Column("agent_last_active_at", UTCDateTime()),
    sa.Column("fallback_streak", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_conversations_state", "state"),
)

handoff_log = sa.Table(
    "handoff_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("from_state", sa.String(16), nullable=False),
    sa.Column("to_state", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),  # "bot", "agent:<name>", "timeout", ...
    sa.Column("reason", sa.String(256)),
    sa.Column("at", UTCDateTime(), nullable=False),
)

inbound_messages = sa.Table(
    "inbound_messages",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("wa_message_id", sa.String(256), nullable=False, unique=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("text", sa.Text),
    sa.Column("button_id", sa.String(256)),  # id of a reply button or list row, or a quick-reply payload
    sa.Column("intent", sa.String(64)),
    sa.Column("intent_source", sa.String(64)),  # how the router decided: keyword, button, rasa, ...
    sa.Column("language", sa.String(8)),  # what the text was read as, when with confidence
    sa.Column("handled", sa.String(32)),  # replied, silent_handoff, window_closed, no_reply
    sa.Column("sent_at", UTCDateTime(), nullable=False),  # Meta's timestamp
    sa.Column("received_at", UTCDateTime(), nullable=False),
    sa.Index("ix_inbound_messages_customer_sent", "customer_id", "sent_at"),
    sa.Index("ix_inbound_messages_intent_sent", "intent", "sent_at"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", ondelete="SET NULL"), index=True),
    sa.Column("recipient", sa.String(160), nullable=False),  # wa_id, or a business-scoped user id
    sa.Column("kind", sa.String(16), nullable=False),  # reply | agent | campaign | reorder | read
    sa.Column("category", sa.String(16), nullable=False),  # service | utility | marketing
    sa.Column("payload", JsonDoc, nullable=False),  # the Graph message body without the recipient
    sa.Column("fallback", JsonDoc),  # a template payload to use once on error 131047
    sa.Column("preview", sa.Text),  # what an agent sees in the transcript
    sa.Column("source", sa.String(128)),  # e.g. "campaign:we_miss_you"
    sa.Column("dedupe_key", sa.String(256), unique=True),
    sa.Column("state", sa.String(16), nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("not_before", UTCDateTime(), nullable=False),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", UTCDateTime()),
    sa.Column("wa_message_id", sa.String(256), unique=True),
    sa.Column("used_fallback", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("error_code", sa.Integer),
    sa.Column("error_title", sa.Text),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime()),
    sa.Column("delivered_at", UTCDateTime()),
    sa.Column("read_at", UTCDateTime()),
    sa.Column("failed_at", UTCDateTime()),
    # Committed just before the message is handed to the Graph API: a dead sender's row with it
    # set may have left (`unknown`), one without it cannot have (docs/sending.md).
    sa.Column("handed_at", UTCDateTime()),
    sa.Index("ix_outbox_state_not_before", "state", "not_before"),
    sa.Index("ix_outbox_recipient_state_id", "recipient", "state", "id"),
    # The sender claims queued rows oldest first: this walks them in order instead of sorting them all.
    sa.Index("ix_outbox_state_id", "state", "id"),
)

# The shared rate limit (PostgreSQL): per phone number, the next free send slot in nanoseconds
# of the database's clock; every sender process takes its slots from here (bot/pipeline/ratelimit.py).
rate_slots = sa.Table(
    "rate_slots",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("next_ns", sa.BigInteger, nullable=False),
)

# One row, written by GET /healthz: the database is healthy when it accepts a write.
health_checks = sa.Table(
    "health_checks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("checked_at", UTCDateTime(), nullable=False),
)

sandbox_messages = sa.Table(
    "sandbox_messages",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("recipient", sa.String(160), nullable=False),
    sa.Column("wa_message_id", sa.String(256), nullable=False, unique=True),
    sa.Column("payload", JsonDoc, nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Index("ix_sandbox_messages_recipient_id", "recipient", "id"),
)
