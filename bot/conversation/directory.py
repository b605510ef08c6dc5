"""Finding customers, and who wrote a conversation's last outbound message: read-only lookups for
the store owner's console and the agent console. The same SQL on SQLite and PostgreSQL."""
from __future__ import annotations

import re
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.conversation.customers import display_name_sql
from bot.conversation.inbox import segments_of
from bot.core.tables import customers, outbox

MAX_QUERY = 100
MIN_QUERY = 2
MIN_DIGITS = 3  # a shorter run of digits matches too many numbers to mean one
SEPARATORS = re.compile(r"[\s\-().+]")


def search(conn: Connection, query: str, limit: int = 20) -> list[dict[str, Any]]:
    """Customers whose WhatsApp number, name or email contains `query` (case-insensitive for
    ASCII), with the segments they are in: an exact number first, then the most recent writers.
    The caller checks the query's length."""
    c = customers.c
    text = query.strip()
    low = text.lower()
    matches = []
    for column in (display_name_sql(), c.profile_name, c.email):
        matches += [sa.func.lower(column).contains(low, autoescape=True), column.contains(text, autoescape=True)]
    digits = SEPARATORS.sub("", text)
    if digits.isdigit() and len(digits) >= MIN_DIGITS:
        matches.append(c.wa_id.contains(digits, autoescape=True))
    matches.append(c.user_id == text)  # a business-scoped user id, whole
    exact = sa.case((sa.or_(c.wa_id == digits, c.user_id == text), 0), else_=1)
    rows = conn.execute(
        sa.select(c.id, c.wa_id, c.user_id, display_name_sql().label("name"), c.email, c.last_inbound_at)
        .where(sa.or_(*matches), sa.or_(c.wa_id.is_not(None), c.user_id.is_not(None)))
        .order_by(exact, c.last_inbound_at.desc().nulls_last(), c.id.desc()).limit(limit)).all()
    member = segments_of(conn, [r.id for r in rows])
    return [{"key": r.wa_id or r.user_id, "wa_id": r.wa_id, "name": r.name or r.wa_id or "?", "email": r.email,
             "last_inbound_at": r.last_inbound_at.isoformat() if r.last_inbound_at else None,
             "segments": list(member.get(r.id, ()))} for r in rows]


def last_authors(conn: Connection, customer_ids: Iterable[int]) -> dict[int, dict[str, str | None]]:
    """Per customer, who wrote our latest message to them (the one the agents' queue shows):
    {"kind": reply | agent | campaign | reorder, "agent": the agent's name or None}."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    o = outbox.c
    ranked = (sa.select(o.customer_id, o.kind, o.source,
                        sa.func.row_number().over(partition_by=o.customer_id,
                                                  order_by=(o.created_at.desc(), o.id.desc())).label("n"))
              .where(o.customer_id.in_(ids), o.kind != "read").subquery())
    rows = conn.execute(sa.select(ranked.c.customer_id, ranked.c.kind, ranked.c.source).where(ranked.c.n == 1))
    return {r.customer_id: {"kind": r.kind,
                            "agent": r.source.split(":", 1)[1] if r.kind == "agent" and r.source else None}
            for r in rows}
