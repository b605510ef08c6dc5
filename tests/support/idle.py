"""Waiting until the product has nothing left to do, so that an exact count means something.

"Exactly one reply" or "nothing sent" asserted after a fixed sleep passes when the second reply
comes later than the sleep. `wait_idle` waits for the queues instead, then keeps watching:

- **idle**: no inbound event `pending` (claimable, leased to a worker that is processing it, or
  waiting for its retry), and no outbox row `sending`, or `queued` and due before the wait's
  deadline (a retry or a delayed copy due in 1.5 s is waited for and then counted; a send deferred
  to tomorrow's quiet-hours end is not, and is reported in `Snapshot.later`);
- **quiet**: for `settle` seconds more nothing changes: no new outbox row, no row busy again, no
  new request at the fake Graph API (when one is given). Anything that does fails the test: it
  happened after the product looked finished, which is what an exact count must not miss.

It reads the database the product writes (the `engine` fixture is on the test's database, the one
`start_server` gives the server), so it works for a server process, `wabot worker`, or threads.
It returns as soon as the queues are idle and quiet: faster than the sleep it replaces.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.core.tables import inbound_events, outbox
from tests.support.fake_graph import FakeGraph

DEFAULT_TIMEOUT = 10.0
DEFAULT_SETTLE = 0.5
# wait_texts counts per customer and cumulatively: a late extra message is also caught by the next
# count of the same test, so its own quiet moment can be shorter (the next worker and sender rounds).
TEXTS_SETTLE = 0.25
POLL = 0.02


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Snapshot:
    """The queues at one moment."""

    inbound_pending: int  # events not done: claimable, being processed, or waiting for a retry
    outbox_busy: int  # rows sending, or queued and due before the horizon
    later: int  # rows queued for after the horizon: not waited for
    outbox_rows: int
    outbox_last_id: int
    requests: int  # requests the fake Graph API recorded (0 without one)

    @property
    def idle(self) -> bool:
        return self.inbound_pending == 0 and self.outbox_busy == 0

    def changes(self, other: "Snapshot") -> str:
        return ", ".join(f"{f.name} {getattr(self, f.name)} -> {getattr(other, f.name)}" for f in fields(self)
                         if getattr(self, f.name) != getattr(other, f.name))


def _count(table: sa.Table, *where) -> sa.ScalarSelect:
    return sa.select(sa.func.count()).select_from(table).where(*where).scalar_subquery()


def _snapshot(engine: Engine, horizon: datetime, graph: FakeGraph | None) -> Snapshot:
    e, o = inbound_events.c, outbox.c
    due = sa.or_(o.state == "sending", sa.and_(o.state == "queued", o.not_before <= horizon))
    query = sa.select(
        _count(inbound_events, e.state == "pending"),
        _count(outbox, due),
        _count(outbox, o.state == "queued", o.not_before > horizon),
        _count(outbox),
        sa.select(sa.func.coalesce(sa.func.max(o.id), 0)).scalar_subquery(),
    )
    with engine.connect() as conn:
        pending, busy, later, rows, last_id = conn.execute(query).one()
    return Snapshot(pending, busy, later, rows, last_id, len(graph.requests) if graph is not None else 0)


def describe_busy(engine: Engine, horizon: datetime | None = None) -> str:
    """What keeps the queues busy, for a failure message."""
    horizon = horizon or _now()
    e, o = inbound_events.c, outbox.c
    with engine.connect() as conn:
        events = conn.execute(sa.select(e.id, e.kind, e.type, e.attempts, e.lease_until, e.error)
                              .where(e.state == "pending").order_by(e.id).limit(10)).all()
        rows = conn.execute(sa.select(o.id, o.kind, o.state, o.recipient, o.not_before, o.attempts, o.error_title)
                            .where(sa.or_(o.state == "sending", sa.and_(o.state == "queued", o.not_before <= horizon)))
                            .order_by(o.id).limit(10)).all()
    lines = [f"inbound event {r.id} {r.kind}/{r.type} pending, attempt {r.attempts}, lease until {r.lease_until}"
             + (f", last error: {r.error}" if r.error else "") for r in events]
    lines += [f"outbox {r.id} {r.kind} to {r.recipient} {r.state}, due {r.not_before}, attempt {r.attempts}"
              + (f", last error: {r.error_title}" if r.error_title else "") for r in rows]
    return "\n".join(lines) or "(nothing: it became idle just now)"


def wait_idle(engine: Engine, *, graph: FakeGraph | None = None, timeout: float = DEFAULT_TIMEOUT,
              settle: float = DEFAULT_SETTLE, clock: Callable[[], datetime] = _now) -> Snapshot:
    """Wait until the inbound queue and the outbox are idle, then `settle` seconds of quiet.

    Fails (AssertionError) when they are still busy after `timeout` seconds, or when anything new
    appears during the quiet moment. Returns the last snapshot. `clock` is the product's clock
    (the wall clock for a real server) and decides which queued rows are due before the deadline.
    """
    deadline = time.monotonic() + timeout
    horizon = clock() + timedelta(seconds=timeout)
    while True:
        snapshot = _snapshot(engine, horizon, graph)
        if snapshot.idle:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"the queues are still busy after {timeout}s:\n{describe_busy(engine, horizon)}")
        time.sleep(POLL)
    quiet_until = time.monotonic() + settle
    while True:
        time.sleep(min(POLL * 2.5, max(0.0, quiet_until - time.monotonic())))
        now = _snapshot(engine, horizon, graph)
        if now != snapshot:
            raise AssertionError(f"something happened after the queues were idle ({snapshot.changes(now)}):\n"
                                 + describe_busy(engine, horizon))
        if time.monotonic() >= quiet_until:
            return now


def wait_texts(graph: FakeGraph, engine: Engine, wa_id: str, count: int, timeout: float = DEFAULT_TIMEOUT,
               settle: float = TEXTS_SETTLE) -> list[str | None]:
    """The texts of the messages sent to `wa_id`, once at least `count` arrived and the queues are
    idle; fails unless exactly `count` were sent. (A template's text is None.)"""
    graph.wait_for(lambda reqs: len([r for r in reqs if r.body.get("type") and r.recipient == wa_id]) >= count,
                   timeout=timeout)
    wait_idle(engine, graph=graph, timeout=timeout, settle=settle)
    sent = graph.messages(wa_id)
    assert len(sent) == count, f"expected exactly {count} message(s) to {wa_id}, got {len(sent)}: " + \
        "; ".join(repr(r.text if r.text is not None else r.type) for r in sent)
    return [r.text for r in sent]
