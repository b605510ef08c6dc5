"""Everything the campaign planner needs about an audience, read set-wise in one query.

Who is in the audience comes from the segment engine (a SELECT of customer ids at `now`); this
module adds, per customer, what the sending rules look at: consent, opt-out, conversation state,
marketing messages of the last 7 days, whether this campaign reached them already, whether they
already count towards the messaging tier, their language (segments/language.py: which text and
template language they get), and the values their message is filled with.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Protocol, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.campaigns.planner import FREQUENCY_WINDOW, TIER_WINDOW, Recipient, TierState
from bot.conversation.outbox import BUSINESS_INITIATED
from bot.core.db import chunks
from bot.core.tables import conversations, customers, outbox
from segments.language import of_customers
from segments.tables import orders

# Outbox states of a message that went, or will go, to the customer.
LIVE_STATES = ("queued", "sending", "sent", "delivered", "read")
# SQLite binds at most 32,766 parameters a statement; customer id lists are read in chunks.
ID_CHUNK = 10_000
# Meta's per-user marketing limit: after a 131049 refusal the customer gets no other marketing
# template for this long (planner skip reason `recently_limited`, docs/campaigns.md).
MARKETING_LIMIT_CODE = 131049
MARKETING_LIMIT_PAUSE = timedelta(hours=24)


class AudienceSource(Protocol):
    def member_ids(self, conn: Connection, now: datetime, *, segment: str | None = None,
                   rule: str | None = None) -> sa.Select:
        """A SELECT of the ids of the customers in the segment (or matching the rule) at `now`."""


@dataclass(frozen=True, slots=True)
class AudienceRow:
    recipient: Recipient
    values: dict  # placeholders: first_name, last_order_name


def first_name_of(first_name: str | None, profile_name: str | None) -> str | None:
    if first_name:
        return first_name
    parts = (profile_name or "").split()
    return parts[0] if parts else None


def _when(column_sent: sa.ColumnElement, column_due: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.coalesce(column_sent, column_due)


def is_template(payload: sa.ColumnElement) -> sa.ColumnElement:
    return payload["type"].as_string() == "template"


def tier_recipients(now: datetime) -> sa.Select:
    """Customers who got a business-initiated message (a template: outside their window) in the
    24 h before now, with when it went: the messaging tier counts them once each."""
    o = outbox.c
    went = _when(o.sent_at, o.not_before)
    return (sa.select(o.recipient, sa.func.max(went).label("last_at"))
            .where(is_template(o.payload), o.state.in_(LIVE_STATES), went > now - TIER_WINDOW, went <= now)
            .group_by(o.recipient))


def tier_state(conn: Connection, now: datetime, limit: int) -> TierState:
    releases = sorted(row.last_at + TIER_WINDOW for row in conn.execute(tier_recipients(now)))
    return TierState(limit, tuple(releases))


def language_column(languages: Sequence[str]) -> sa.ColumnElement:
    """The language of each customer row, as rules and replies read it (`languages`: the store's)."""
    return of_customers(languages)[0]


def load(conn: Connection, members: sa.Select, now: datetime, *, reached: sa.Select,
         languages: Sequence[str] = ("en",), last_order: bool = False) -> list[AudienceRow]:
    """The audience rows of `members` (customer ids), ordered by customer id. `reached` selects
    the ids this campaign (or reorder cycle) already reached; `languages` are the store's."""
    c, o = customers.c, outbox.c
    went = _when(o.sent_at, o.not_before)
    marketing_7d = (
        sa.select(o.customer_id, sa.func.count().label("n"))
        .where(o.kind.in_(BUSINESS_INITIATED), o.category == "marketing", o.state.in_(LIVE_STATES),
               went > now - FREQUENCY_WINDOW)
        .group_by(o.customer_id).subquery("marketing_7d")
    )
    reached_ids = reached.subquery("reached")
    reached_id = list(reached_ids.c)[0]
    tier = tier_recipients(now).subquery("tier")
    # one pass over the outbox, as for marketing_7d (no per-customer lookups)
    limited = (sa.select(o.customer_id).where(o.error_code == MARKETING_LIMIT_CODE, o.failed_at > now - MARKETING_LIMIT_PAUSE,
                                              o.failed_at <= now, o.customer_id.is_not(None))
               .group_by(o.customer_id).subquery("limited"))
    columns = [
        c.id, c.wa_id, c.user_id, c.first_name, c.profile_name, c.last_inbound_at, c.opted_out, c.marketing_paused,
        c.accepts_marketing, c.consent_at, c.phone_country, c.last_referral_at,
        conversations.c.state.label("conversation_state"),
        sa.func.coalesce(marketing_7d.c.n, 0).label("marketing_7d"),
        sa.exists().where(reached_id == c.id).label("reached"),
        tier.c.recipient.label("tier_recipient"),
        language_column(languages).label("language"),
        limited.c.customer_id.is_not(None).label("recently_limited"),
    ]
    if last_order:
        columns.append(
            sa.select(orders.c.name).where(orders.c.customer_id == c.id, orders.c.counted, orders.c.created_at <= now)
            .order_by(orders.c.created_at.desc()).limit(1).scalar_subquery().label("last_order_name"))
    query = (
        sa.select(*columns)
        .select_from(customers.outerjoin(conversations, conversations.c.customer_id == c.id)
                     .outerjoin(marketing_7d, marketing_7d.c.customer_id == c.id)
                     .outerjoin(tier, tier.c.recipient == c.wa_id)
                     .outerjoin(limited, limited.c.customer_id == c.id))
        .where(c.id.in_(members))
        .order_by(c.id)
    )
    return [_row(r, last_order) for r in conn.execute(query)]


def _row(r, last_order: bool) -> AudienceRow:
    recipient = Recipient(
        customer_id=r.id, wa_id=r.wa_id, last_inbound_at=r.last_inbound_at, opted_out=bool(r.opted_out),
        marketing_paused=bool(r.marketing_paused), accepts_marketing=r.accepts_marketing, consent_at=r.consent_at,
        conversation_state=r.conversation_state, marketing_sent_7d=int(r.marketing_7d),
        already_reached=bool(r.reached), last_referral_at=r.last_referral_at,
        tier_counted=r.tier_recipient is not None, country=r.phone_country, language=r.language,
        recently_limited=bool(r.recently_limited), user_id=r.user_id,
    )
    values = {"first_name": first_name_of(r.first_name, r.profile_name)}
    if last_order:
        values["last_order_name"] = r.last_order_name or ""
    return AudienceRow(recipient, values)


def load_ids(conn: Connection, ids: Iterable[int], now: datetime, *, reached: sa.Select,
             languages: Sequence[str] = ("en",), last_order: bool = False) -> list[AudienceRow]:
    """The audience rows of an explicit list of customers (deferred sends, reorder prompts)."""
    rows: list[AudienceRow] = []
    for chunk in chunks(sorted(set(ids)), ID_CHUNK):
        rows.extend(load(conn, sa.select(customers.c.id).where(customers.c.id.in_(chunk)), now,
                         reached=reached, languages=languages, last_order=last_order))
    return rows


def nobody() -> sa.Select:
    return sa.select(customers.c.id).where(sa.false())
