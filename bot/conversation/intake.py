"""The durable inbound queue: store webhook events idempotently, and lease them to workers.

Every event acknowledged to Meta is a row here first. Workers claim rows with a lease that expires,
so events of a worker that died return to the queue; one customer's events are handed out one at
a time, in order, so two workers never answer the same customer out of turn. On PostgreSQL the
claim skips rows another worker has locked (FOR UPDATE SKIP LOCKED); on SQLite writers are
serialised by the database itself.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.core.db import insert_ignoring_conflicts
from bot.core.errors import NotFound, WabotError
from bot.core.retry import Backoff
from bot.core.tables import inbound_events
from bot.whatsapp.events import Event, Quarantined, effective_time, from_record, read_again

MAX_ATTEMPTS = 5
DEFAULT_LEASE = timedelta(seconds=60)
DEFAULT_BACKOFF = Backoff(jitter=False)  # 2, 4, 8, 16 s


def store(conn: Connection, events: Iterable[Event], received_at: datetime) -> list[Event]:
    """Insert the events not seen before; return those that are new.

    A redelivery (same key, same content) is dropped. A different event that reuses a key (sample
    payloads and buggy relays reuse message ids) is kept for the record under a derived key but
    never processed, so a message id seen before is never answered twice and nothing is lost.
    """
    return store_many(conn, [(list(events), received_at)])[0]


def store_many(conn: Connection, deliveries: list[tuple[list[Event], datetime]]) -> list[list[Event]]:
    """`store` for several webhook deliveries in one statement (bot/web/group_commit.py): the new
    events of each. An event key met twice in the batch is new where it is met first."""
    first: dict[str, tuple[int, Event]] = {}  # event key -> (delivery, event) that stores it
    others: list[tuple[Event, datetime]] = []  # every other occurrence of a key
    rows = []
    for index, (events, received_at) in enumerate(deliveries):
        for event in events:
            if event.key in first:
                others.append((event, received_at))
            else:
                first[event.key] = (index, event)
                rows.append(_row(event.key, event, received_at))
    if not rows:
        return [[] for _ in deliveries]
    inserted = {row[0] for row in insert_ignoring_conflicts(conn, inbound_events, rows, ["event_key"],
                                                            returning=inbound_events.c.event_key)}
    # Stored before, or met again: the same content is a redelivery; other content is kept aside.
    others += [(event, deliveries[index][1]) for key, (index, event) in first.items() if key not in inserted]
    if others:
        _keep_different_content(conn, others)
    new: list[list[Event]] = [[] for _ in deliveries]
    for key, (index, event) in first.items():
        if key in inserted:
            new[index].append(event)
    return new


def _row(key: str, event: Event, received_at: datetime, state: str | None = None) -> dict:
    quarantined = isinstance(event, Quarantined)
    return {
        "event_key": key,
        "kind": event.kind,
        "type": event.type,
        "wa_id": event.sender,
        "occurred_at": effective_time(event.timestamp, received_at),
        "received_at": received_at,
        "payload": event.raw,
        "state": state or ("quarantined" if quarantined else "pending"),
        "attempts": 0,
        "error": event.reason[:2000] if quarantined else None,
        "processed_at": received_at if quarantined else None,
    }


def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _keep_different_content(conn: Connection, occurrences: list[tuple[Event, datetime]]) -> None:
    t = inbound_events.c
    keys = list({event.key for event, _ in occurrences})
    stored = dict(conn.execute(sa.select(t.event_key, t.payload).where(t.event_key.in_(keys))).all())
    variants = []
    for event, received_at in occurrences:
        digest = _digest(event.raw)
        if event.key in stored and _digest(stored[event.key]) != digest:
            row = _row(f"{event.key}#{digest}", event, received_at, "done")
            row.update(processed_at=received_at, error="an earlier event had this key: kept, not processed")
            variants.append(row)
    insert_ignoring_conflicts(conn, inbound_events, variants, ["event_key"])


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    attempts: int
    received_at: datetime
    event: Event


def claim(engine: Engine, owner: str, now: datetime, limit: int = 50,
          lease: timedelta = DEFAULT_LEASE) -> list[ClaimedEvent]:
    """Lease up to `limit` pending events, at most one per customer, oldest first."""
    e = inbound_events.alias("e")
    earlier = inbound_events.alias("earlier")
    free = sa.or_(e.c.lease_until.is_(None), e.c.lease_until < now)
    blocked = sa.exists().where(
        earlier.c.wa_id == e.c.wa_id, earlier.c.state == "pending", earlier.c.id < e.c.id)
    candidates = (
        sa.select(e.c.id).where(e.c.state == "pending", free, ~blocked).order_by(e.c.id).limit(limit)
    )
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            candidates = candidates.with_for_update(skip_locked=True, of=e)
        ids = [row[0] for row in conn.execute(candidates)]
        if not ids:
            return []
        t = inbound_events.c
        conn.execute(
            sa.update(inbound_events)
            .where(t.id.in_(ids), t.state == "pending", sa.or_(t.lease_until.is_(None), t.lease_until < now))
            .values(lease_owner=owner, lease_until=now + lease, attempts=t.attempts + 1)
        )
        rows = conn.execute(
            sa.select(t.id, t.kind, t.payload, t.attempts, t.received_at)
            .where(t.id.in_(ids), t.lease_owner == owner).order_by(t.id)
        ).all()
    return [ClaimedEvent(r.id, r.attempts, r.received_at, from_record(r.kind, r.payload)) for r in rows]


def complete(conn: Connection, event_id: int, owner: str, now: datetime) -> bool:
    """Mark an event processed, inside the transaction that applied its effects: exactly once."""
    result = conn.execute(_COMPLETE, {"event_id": event_id, "owner": owner, "now": now})
    return result.rowcount == 1


_COMPLETE = (
    sa.update(inbound_events)
    .where(inbound_events.c.id == sa.bindparam("event_id"), inbound_events.c.lease_owner == sa.bindparam("owner"),
           inbound_events.c.state == "pending")
    .values(state="done", processed_at=sa.bindparam("now", type_=inbound_events.c.processed_at.type),
            lease_until=None, error=None)
)


def fail(engine: Engine, claimed: ClaimedEvent, owner: str, now: datetime, error: str,
         backoff: Backoff = DEFAULT_BACKOFF) -> bool:
    """Give a failed event back with a growing delay (twice the backoff's base after the first
    failure), or set it aside as `dead` after MAX_ATTEMPTS; True when it went dead."""
    t = inbound_events.c
    values: dict = {"error": error[:2000]}
    if claimed.attempts >= MAX_ATTEMPTS:
        values.update(state="dead", lease_until=None, processed_at=now)
    else:
        values.update(lease_until=now + timedelta(seconds=backoff.delay(claimed.attempts + 1)))
    with engine.begin() as conn:
        changed = conn.execute(sa.update(inbound_events).where(t.id == claimed.id, t.lease_owner == owner)
                               .values(**values)).rowcount
    return bool(changed) and claimed.attempts >= MAX_ATTEMPTS


def counts_by_state(conn: Connection, states: Iterable[str]) -> dict[str, int]:
    states = tuple(states)
    found = dict(conn.execute(sa.select(inbound_events.c.state, sa.func.count()).where(
        inbound_events.c.state.in_(states)).group_by(inbound_events.c.state)).all())
    return {state: found.get(state, 0) for state in states}


def pending_count(conn: Connection) -> int:
    return conn.execute(
        sa.select(sa.func.count()).select_from(inbound_events).where(inbound_events.c.state == "pending")
    ).scalar_one()


# ---------------------------------------------------------------- set aside: dead and quarantined

SET_ASIDE = ("dead", "quarantined")


@dataclass(frozen=True)
class SetAside:
    id: int
    state: str
    kind: str
    type: str
    sender: str | None
    received_at: datetime
    attempts: int
    error: str | None


def set_aside(conn: Connection, state: str | None = None, limit: int = 100) -> list[SetAside]:
    """Events that will not be processed as they are, newest first: `dead` (processing failed
    MAX_ATTEMPTS times) and `quarantined` (could not be read as an event)."""
    t = inbound_events.c
    states = (state,) if state else SET_ASIDE
    rows = conn.execute(sa.select(t.id, t.state, t.kind, t.type, t.wa_id, t.received_at, t.attempts, t.error)
                        .where(t.state.in_(states)).order_by(t.id.desc()).limit(limit)).all()
    return [SetAside(r.id, r.state, r.kind, r.type, r.wa_id, r.received_at, r.attempts, r.error) for r in rows]


def retry(conn: Connection, event_id: int, now: datetime) -> int:
    """Give one set-aside event another chance; returns how many events are pending again.

    A dead event goes back to the queue with fresh attempts. A quarantined part is read again
    (the reader may have been fixed since): its valid events are stored and queued, and it is
    marked done; still unreadable, it stays and a WabotError says why."""
    t = inbound_events.c
    row = conn.execute(sa.select(t.id, t.state, t.kind, t.payload).where(t.id == event_id)).first()
    if row is None:
        raise NotFound(f"no inbound event {event_id}")
    if row.state == "dead":
        conn.execute(sa.update(inbound_events).where(t.id == event_id).values(
            state="pending", attempts=0, lease_owner=None, lease_until=None, processed_at=None, error=None))
        return 1
    if row.state != "quarantined":
        raise WabotError(f"inbound event {event_id} is {row.state}, not dead or quarantined")
    try:
        events = read_again(from_record(row.kind, row.payload or {}))
    except ValueError as exc:
        raise WabotError(f"inbound event {event_id} is still not JSON: {exc}") from None
    unreadable = [e for e in events if isinstance(e, Quarantined)]
    if unreadable:
        raise WabotError(f"inbound event {event_id} still cannot be read: {unreadable[0].reason}")
    stored = store(conn, events, now)
    conn.execute(sa.update(inbound_events).where(t.id == event_id).values(
        state="done", processed_at=now, error=f"read again: {len(stored)} event(s) queued"))
    return len(stored)


def retry_dead(conn: Connection) -> int:
    """Every dead event back to the queue; returns how many."""
    t = inbound_events.c
    return conn.execute(sa.update(inbound_events).where(t.state == "dead").values(
        state="pending", attempts=0, lease_owner=None, lease_until=None, processed_at=None, error=None)).rowcount
