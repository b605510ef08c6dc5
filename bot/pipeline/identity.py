"""One customer per person: a username (BSUID) record joined to the phone record, and a changed
BSUID re-keyed (docs/usernames.md).

A customer first seen by username only is keyed by their business-scoped user id. When a message
later carries their phone number (`wa_id`) with the same user id, the phone record (perhaps made by
a Shopify import, with the orders) keeps the person: everything hanging off the username record
moves to it in the worker's transaction, set-wise, one statement per table, and the username
record goes. A `user_id_update` gives the person a new user id; the old one stays findable.

Several worker processes may meet the same person at once (PostgreSQL): every change of who a user
id belongs to takes a transaction-scoped advisory lock on that id first, so a username-only message
and the message that merges its record run one after the other, and a merge done twice finds
nothing left to move. SQLite runs one writer at a time (BEGIN IMMEDIATE) and needs no lock.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

import bot.schema  # noqa: F401 - every table on the metadata: the merge walks them all
from bot.conversation import customers
from bot.conversation.customers import Customer, mask
from bot.core.db import upsert
from bot.core.tables import conversations, customer_aliases, metadata, outbox
from bot.core.tables import customers as customers_table
from bot.whatsapp.events import UserIdChange
from segments.store import mark_segment_pending, recompute_stats

log = logging.getLogger(__name__)
c = customers_table.c

# The advisory lock's first key (pg_advisory_xact_lock(int4, int4)): its own space, apart from
# the one-key locks of the scheduler and of campaign planning.
IDENTITY_LOCK = 0x57414944  # "WAID"

# A conversation in a person's hands outlives one with the bot when two records become one.
STATE_RANK = {"agent": 2, "pending": 1, "bot": 0}


def lock(conn: Connection, *keys: str | None) -> None:
    """Serialise every change of who these user ids belong to until the transaction ends."""
    if conn.dialect.name != "postgresql":
        return
    for key in sorted({k for k in keys if k}):  # one order everywhere: no deadlock between two ids
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
                     {"space": IDENTITY_LOCK, "key": key})


def keyed_by_user_id(wa_id: str | None) -> bool:
    """A record keyed by a user id (a username customer), not by a phone number."""
    return bool(wa_id) and not wa_id.isdigit()


# ---------------------------------------------------------------- an inbound message's customer

def arrive(conn: Connection, *, wa_id: str | None, user_id: str | None, profile_name: str | None,
           sent_at: datetime, now: datetime) -> Customer:
    """The customer who just wrote (customers.touch_inbound), made one with any other record of the
    same user id: a username record joins the phone record of the same person."""
    if user_id:
        lock(conn, user_id)
    key, carried = wa_id, user_id
    if not wa_id and user_id:
        known = customers.find(conn, user_id)
        if known is not None:
            key = known.wa_id or user_id
            # Found by a former user id: their current one stays (a late message must not undo it).
            carried = user_id if known.user_id in (None, user_id) else None
    customer = customers.touch_inbound(conn, wa_id=key, user_id=carried, profile_name=profile_name,
                                       sent_at=sent_at, now=now)
    if not user_id:
        return customer
    if wa_id and customer.user_id != user_id:
        # A message with both ids says which user id this number has now.
        conn.execute(sa.update(customers_table).where(c.id == customer.id).values(user_id=user_id, updated_at=now))
    return _join(conn, customer, user_id, wa_id, now)


# Built once: every message carrying a user id looks for other records of it.
_OTHERS = sa.select(c.id, c.wa_id).where(
    sa.or_(c.user_id == sa.bindparam("user_id"), c.wa_id == sa.bindparam("user_id")),
    c.id != sa.bindparam("customer_id"))


def _join(conn: Connection, customer: Customer, user_id: str, wa_id: str | None, now: datetime) -> Customer:
    """Merge the username records of this user id into its phone record."""
    others = conn.execute(_OTHERS, {"user_id": user_id, "customer_id": customer.id}).all()
    if not others:
        return customer if customer.user_id == user_id or not wa_id else customers.get(conn, customer.id)
    target = customer.id
    if keyed_by_user_id(customer.wa_id):  # written by username: their phone record, if any, is the person
        phone = next((row for row in others if not keyed_by_user_id(row.wa_id)), None)
        if phone is not None:
            target = phone.id
    for row in others:
        if row.id == target:
            continue
        if keyed_by_user_id(row.wa_id):
            merge(conn, source_id=row.id, target_id=target, now=now)
        elif wa_id:
            # Another number with this user id: the id is this number's now (a changed number).
            conn.execute(sa.update(customers_table).where(c.id == row.id).values(user_id=None, updated_at=now))
    if target != customer.id:
        merge(conn, source_id=customer.id, target_id=target, now=now)
    return customers.get(conn, target)


# ---------------------------------------------------------------- the merge

def merged_values(source: Mapping[str, Any], target: Mapping[str, Any], now: datetime) -> dict:
    """The target record's columns after the source joins it. Pure.

    Store data (names, email, Shopify id, phone country) is the target's where it has it; times
    take the earliest first and the latest last; an opt-out or a marketing pause on either side
    holds, and so does a consent."""
    def first(*values):
        return next((v for v in values if v is not None), None)

    def latest(*values):
        return max((v for v in values if v is not None), default=None)

    def earliest(*values):
        return min((v for v in values if v is not None), default=None)

    def later(a, b, column):  # the record whose `column` is the more recent (the target on a tie)
        return a if a[column] is not None and (b[column] is None or a[column] > b[column]) else b

    newer = later(source, target, "last_inbound_at")  # who wrote last: their profile and language choice
    older = target if newer is source else source
    chat_newer = later(source, target, "language_chat_at")
    opted_out = bool(source["opted_out"]) or bool(target["opted_out"])
    values = {
        "user_id": first(target["user_id"], source["user_id"],
                         source["wa_id"] if keyed_by_user_id(source["wa_id"]) else None),
        "shopify_customer_id": first(target["shopify_customer_id"], source["shopify_customer_id"]),
        "profile_name": first(newer["profile_name"], older["profile_name"]),
        "first_name": first(target["first_name"], source["first_name"]),
        "last_name": first(target["last_name"], source["last_name"]),
        "email": first(target["email"], source["email"]),
        "phone_country": first(target["phone_country"], source["phone_country"]),
        "accepts_marketing": first(target["accepts_marketing"], source["accepts_marketing"]),
        "consent_at": latest(source["consent_at"], target["consent_at"]),
        "opted_out": opted_out,
        "opted_out_at": latest(*(r["opted_out_at"] for r in (source, target) if r["opted_out"])) if opted_out else
        latest(source["opted_out_at"], target["opted_out_at"]),
        "marketing_paused": bool(source["marketing_paused"]) or bool(target["marketing_paused"]),
        "first_inbound_at": earliest(source["first_inbound_at"], target["first_inbound_at"]),
        "last_inbound_at": latest(source["last_inbound_at"], target["last_inbound_at"]),
        "last_read_at": latest(source["last_read_at"], target["last_read_at"]),
        "last_referral_at": latest(source["last_referral_at"], target["last_referral_at"]),
        "language_choice": first(newer["language_choice"], older["language_choice"]),
        "language_chat": chat_newer["language_chat"],
        "language_chat_at": chat_newer["language_chat_at"],
        "shopify_locale": first(target["shopify_locale"], source["shopify_locale"]),
        "created_at": earliest(source["created_at"], target["created_at"]),
        "updated_at": now,
    }
    return values


def _keyed_tables() -> list[sa.Table]:
    """Every table with a customer_id column (a foreign key to customers, or a plain id)."""
    return [t for t in metadata.sorted_tables if "customer_id" in t.c and t.name != "customers"]


def _other_key_columns(table: sa.Table) -> list[list[str]]:
    """For each unique key of `table` that includes customer_id, its other columns."""
    keys = []
    constraints = [table.primary_key, *(k for k in table.constraints if isinstance(k, sa.UniqueConstraint))]
    for constraint in constraints:
        names = [col.name for col in constraint.columns]
        if "customer_id" in names:
            keys.append([n for n in names if n != "customer_id"])
    keys += [[col.name for col in ix.columns if col.name != "customer_id"] for ix in table.indexes
             if ix.unique and "customer_id" in [col.name for col in ix.columns]]
    return keys


def _conflict(table: sa.Table, keys: list[list[str]], target_id: int) -> sa.ColumnElement:
    """A row of the target's that the moved row would collide with on one of `keys`."""
    other = table.alias("already")
    return sa.or_(*(sa.exists().where(other.c.customer_id == target_id, *(other.c[k] == table.c[k] for k in key))
                    for key in keys))


def _move_conversation(conn: Connection, source_id: int, target_id: int) -> None:
    """One conversation state: the one a person holds, else the most recent."""
    rows = {row.customer_id: row for row in conn.execute(
        sa.select(conversations).where(conversations.c.customer_id.in_((source_id, target_id))))}
    source, target = rows.get(source_id), rows.get(target_id)
    if source is None:
        return
    if target is not None:
        keep_source = (STATE_RANK.get(source.state, 0), source.state_changed_at) > \
            (STATE_RANK.get(target.state, 0), target.state_changed_at)
        loser = target_id if keep_source else source_id
        conn.execute(sa.delete(conversations).where(conversations.c.customer_id == loser))
        if not keep_source:
            return
    conn.execute(sa.update(conversations).where(conversations.c.customer_id == source_id).values(customer_id=target_id))


def _move_rows(conn: Connection, table: sa.Table, source_id: int, target_id: int) -> None:
    t = table.c
    keys = _other_key_columns(table)
    mine = t.customer_id == source_id
    if table.name == "conversations":
        _move_conversation(conn, source_id, target_id)
    elif table.name in ("segment_state", "customer_order_stats"):
        # Derived from the rest: recomputed for the target (segment_state: at the next refresh).
        conn.execute(sa.delete(table).where(t.customer_id.in_((source_id, target_id)) if table.name == "segment_state"
                                            else mine))
    elif table.name == "campaign_sends" and keys:
        # The ledger keeps both records' sends: one of the same campaign and cycle is kept apart.
        suffix = f"~merged:{source_id}"
        conn.execute(sa.update(table).where(mine).values(customer_id=target_id, cycle=sa.case(
            (_conflict(table, keys, target_id), sa.func.substr(t.cycle, 1, 256 - len(suffix), type_=sa.String()) + suffix),
            else_=t.cycle)))
    elif keys:
        if table.name == "customer_attributes":  # the newer value of an attribute both have
            newer = table.alias("newer")
            conn.execute(sa.delete(table).where(t.customer_id == target_id, sa.exists().where(
                newer.c.customer_id == source_id, newer.c.name == t.name, newer.c.updated_at > t.updated_at)))
        # Rows the target has no equivalent of move; the rest (the target has them) go.
        conn.execute(sa.update(table).where(mine, ~_conflict(table, keys, target_id)).values(customer_id=target_id))
        conn.execute(sa.delete(table).where(mine))
    else:
        conn.execute(sa.update(table).where(mine).values(customer_id=target_id))


def merge(conn: Connection, *, source_id: int, target_id: int, now: datetime) -> None:
    """Everything of customer `source_id` becomes `target_id`'s, then the source record goes: the
    transcript, conversation and handoff log, outbox, campaign ledger, attributes, tags, segments,
    orders, checkouts, answers; language and consent by `merged_values`. Idempotent: a source
    already gone is nothing to do."""
    rows = {row["id"]: row for row in conn.execute(
        sa.select(customers_table).where(c.id.in_((source_id, target_id)))).mappings()}
    if source_id == target_id or source_id not in rows or target_id not in rows:
        return
    values = merged_values(rows[source_id], rows[target_id], now)
    for table in _keyed_tables():
        _move_rows(conn, table, source_id, target_id)
    conn.execute(sa.delete(customers_table).where(c.id == source_id))
    conn.execute(sa.update(customers_table).where(c.id == target_id).values(**values))
    recompute_stats(conn, [target_id], now)
    mark_segment_pending(conn, [target_id], now)
    log.info("customer %s joined %s (one person: username and phone)", mask(rows[source_id]["wa_id"]),
             mask(rows[target_id]["wa_id"]))


# ---------------------------------------------------------------- a changed user id

def rekey(conn: Connection, change: UserIdChange, now: datetime) -> Customer | None:
    """A user_id_update: the customer known by `previous` is known by `current` from now on (their
    wa_id too, where the user id was their key); `previous` stays findable. A record already made
    under `current` (a message of the new id came first) joins them. Idempotent."""
    previous, current = change.previous, change.current
    if change.problem() or not previous or not current:
        return None
    lock(conn, previous, current)
    customer = customers.find(conn, previous)
    if customer is None and change.wa_id:
        customer = customers.find(conn, change.wa_id)
    newer = customers.find(conn, current)
    if customer is None:
        if newer is None:
            log.info("user id change for an unknown customer %s", mask(previous))
            return None
        customer = newer  # applied already, or the new id wrote first: keep the old id findable
    elif newer is not None and newer.id != customer.id:
        target, source = (customer, newer) if not keyed_by_user_id(customer.wa_id) or keyed_by_user_id(newer.wa_id) \
            else (newer, customer)
        merge(conn, source_id=source.id, target_id=target.id, now=now)
        customer = customers.get(conn, target.id)
    values: dict[str, Any] = {"user_id": current, "updated_at": now}
    if customer.wa_id == previous:
        values["wa_id"] = current
    conn.execute(sa.update(customers_table).where(c.id == customer.id).values(**values))
    upsert(conn, customer_aliases, [{"alias": previous, "customer_id": customer.id, "replaced_by": current,
                                     "created_at": now}], ["alias"], ["customer_id", "replaced_by"])
    conn.execute(sa.delete(customer_aliases).where(customer_aliases.c.alias == current))
    # Messages still waiting go to the id Meta knows them by now.
    conn.execute(sa.update(outbox).where(outbox.c.recipient == previous, outbox.c.state == "queued")
                 .values(recipient=current))
    log.info("customer %s has a new user id %s", mask(previous), mask(current))
    return customers.get(conn, customer.id)
