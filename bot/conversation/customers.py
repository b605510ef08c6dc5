"""Customer records keyed by wa_id: who wrote, when, and what they allow us to send."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.core.db import dialect_insert
from bot.core.phones import address_country
from bot.core.tables import customer_aliases, customers


@dataclass(frozen=True)
class Customer:
    id: int
    wa_id: str | None
    user_id: str | None
    name: str | None
    first_name: str | None
    phone_country: str | None
    opted_out: bool
    marketing_paused: bool
    accepts_marketing: bool | None
    consent_at: datetime | None
    first_inbound_at: datetime | None
    last_inbound_at: datetime | None
    last_read_at: datetime | None

    @classmethod
    def from_row(cls, row) -> "Customer":
        first = row.first_name or _first_word(row.profile_name)
        return cls(
            id=row.id, wa_id=row.wa_id, user_id=row.user_id,
            name=display_name(row.first_name, row.last_name, row.profile_name),
            first_name=first, phone_country=row.phone_country, opted_out=row.opted_out,
            marketing_paused=row.marketing_paused, accepts_marketing=row.accepts_marketing,
            consent_at=row.consent_at, first_inbound_at=row.first_inbound_at,
            last_inbound_at=row.last_inbound_at, last_read_at=row.last_read_at,
        )


def display_name(first_name: str | None, last_name: str | None, profile_name: str | None) -> str | None:
    """What to call a customer on a screen or in an export: the name the store knows (from its
    orders and customers), else the WhatsApp profile name. `display_name_sql` is the same in SQL."""
    full = " ".join(part.strip() for part in (first_name, last_name) if part and part.strip())
    return full or (profile_name.strip() if profile_name and profile_name.strip() else None)


def display_name_sql() -> sa.ColumnElement:
    """display_name() as a column expression over `customers`, for set-wise reads (segment members)."""
    c = customers.c
    full = sa.func.trim(sa.func.coalesce(c.first_name, "") + " " + sa.func.coalesce(c.last_name, ""))
    return sa.func.coalesce(sa.func.nullif(full, ""), sa.func.nullif(sa.func.trim(c.profile_name), ""))


def _first_word(name: str | None) -> str | None:
    if not name:
        return None
    parts = name.split()
    return parts[0] if parts else None



def mask(wa_id: str | None) -> str:
    """A customer key fit for info-level logs: never a whole phone number."""
    if not wa_id:
        return "-"
    return ("…" + wa_id[-4:]) if len(wa_id) > 4 else "…"


def _later(column: sa.Column, value: datetime | None):
    if value is None:
        return column
    return sa.case((column.is_(None), value), (column < value, value), else_=column)


def _earlier(column: sa.Column, value: datetime | None):
    if value is None:
        return column
    return sa.case((column.is_(None), value), (column > value, value), else_=column)


def get(conn: Connection, customer_id: int) -> Customer | None:
    row = conn.execute(sa.select(customers).where(customers.c.id == customer_id)).first()
    return Customer.from_row(row) if row else None


def find(conn: Connection, key: str) -> Customer | None:
    """By wa_id, or by business-scoped user id for customers who hide their number, or by a
    user id they had before a `user_id_update` (docs/usernames.md)."""
    row = conn.execute(sa.select(customers).where(customers.c.wa_id == key)).first()
    if row is None:
        row = conn.execute(sa.select(customers).where(customers.c.user_id == key).order_by(customers.c.id)).first()
    if row is None:
        row = conn.execute(sa.select(customers).join(customer_aliases, customer_aliases.c.customer_id == customers.c.id)
                           .where(customer_aliases.c.alias == key)).first()
    return Customer.from_row(row) if row else None


def _upsert_inbound_statement(conn: Connection):
    """Built once per dialect: the worker runs it for every message, and building a statement
    costs far more than executing a cached one."""
    c = customers.c
    sent_at = sa.bindparam("sent_at", type_=c.last_inbound_at.type)
    stmt = dialect_insert(conn, customers).values(
        wa_id=sa.bindparam("wa_id"), user_id=sa.bindparam("user_id"), profile_name=sa.bindparam("profile_name"),
        phone_country=sa.bindparam("phone_country"), first_inbound_at=sent_at, last_inbound_at=sent_at,
        created_at=sa.bindparam("now", type_=c.created_at.type), updated_at=sa.bindparam("now", type_=c.created_at.type),
    )
    return stmt.on_conflict_do_update(index_elements=["wa_id"], set_={
        "profile_name": sa.func.coalesce(stmt.excluded.profile_name, c.profile_name),
        "user_id": sa.func.coalesce(c.user_id, stmt.excluded.user_id),
        "first_inbound_at": sa.case((c.first_inbound_at.is_(None), stmt.excluded.first_inbound_at),
                                    (c.first_inbound_at > stmt.excluded.first_inbound_at, stmt.excluded.first_inbound_at),
                                    else_=c.first_inbound_at),
        "last_inbound_at": sa.case((c.last_inbound_at.is_(None), stmt.excluded.last_inbound_at),
                                   (c.last_inbound_at < stmt.excluded.last_inbound_at, stmt.excluded.last_inbound_at),
                                   else_=c.last_inbound_at),
        "updated_at": stmt.excluded.updated_at,
    }).returning(*customers.c)


_UPSERT_INBOUND: dict[str, sa.sql.Executable] = {}


def touch_inbound(conn: Connection, *, wa_id: str | None, user_id: str | None, profile_name: str | None,
                  sent_at: datetime, now: datetime) -> Customer:
    """Create or update the customer who just wrote to us, in one statement; their window moves
    forward, never back. A username customer without a phone number is keyed by their user id."""
    key = wa_id or user_id
    if not key:
        raise ValueError("a message without a sender")
    if not wa_id:
        known = find(conn, key)
        key = known.wa_id if known and known.wa_id else key
    stmt = _UPSERT_INBOUND.get(conn.dialect.name)
    if stmt is None:
        stmt = _UPSERT_INBOUND[conn.dialect.name] = _upsert_inbound_statement(conn)
    row = conn.execute(stmt, {"wa_id": key, "user_id": user_id, "profile_name": profile_name,
                              "phone_country": address_country(wa_id or user_id), "sent_at": sent_at, "now": now}).one()
    return Customer.from_row(row)


def set_opted_out(conn: Connection, customer_id: int, opted_out: bool, now: datetime) -> None:
    """STOP opts out of every business-initiated message; START opts back in and counts as consent."""
    values: dict = {"opted_out": opted_out, "updated_at": now}
    if opted_out:
        values["opted_out_at"] = now
    else:
        values["consent_at"] = now
    conn.execute(sa.update(customers).where(customers.c.id == customer_id).values(**values))


def set_marketing_paused(conn: Connection, key: str, paused: bool, now: datetime) -> bool:
    customer = find(conn, key)
    if customer is None:
        return False
    conn.execute(sa.update(customers).where(customers.c.id == customer.id)
                 .values(marketing_paused=paused, updated_at=now))
    return True


def record_read(conn: Connection, customer_id: int, read_at: datetime) -> None:
    c = customers.c
    conn.execute(sa.update(customers).where(c.id == customer_id).values(last_read_at=_later(c.last_read_at, read_at)))


def record_referral(conn: Connection, customer_id: int, at: datetime) -> None:
    c = customers.c
    conn.execute(sa.update(customers).where(c.id == customer_id)
                 .values(last_referral_at=_later(c.last_referral_at, at)))


def set_language_choice(conn: Connection, customer_id: int, language: str, now: datetime) -> None:
    """The customer's explicit choice of language: first in the order, never overridden by a guess."""
    conn.execute(sa.update(customers).where(customers.c.id == customer_id)
                 .values(language_choice=language, updated_at=now))


def record_language_read(conn: Connection, customer_id: int, language: str, sent_at: datetime) -> None:
    """The language a text message of theirs was read as: the latest message's counts."""
    conn.execute(_LANGUAGE_READ, {"customer_id": customer_id, "language": language, "sent_at": sent_at})


_SENT_AT = sa.bindparam("sent_at", type_=customers.c.language_chat_at.type)
_LANGUAGE_READ = (
    sa.update(customers)
    .where(customers.c.id == sa.bindparam("customer_id"),
           sa.or_(customers.c.language_chat_at.is_(None), customers.c.language_chat_at <= _SENT_AT))
    .values(language_chat=sa.bindparam("language"), language_chat_at=_SENT_AT))
