"""Conversation states: `bot` answers; `pending` waits for an agent; `agent` is claimed by one.

While a conversation is pending or claimed the bot sends nothing and campaigns skip the customer.
Every change is logged with who made it and when.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.core.db import insert_ignoring_conflicts, upsert
from bot.core.tables import conversations, handoff_log

BOT, PENDING, AGENT = "bot", "pending", "agent"
STATES = (BOT, PENDING, AGENT)
FALLBACKS_BEFORE_HANDOFF = 2


@dataclass(frozen=True)
class Conversation:
    customer_id: int
    state: str
    agent: str | None
    state_changed_at: datetime | None
    agent_last_active_at: datetime | None
    fallback_streak: int

    @property
    def bot_silent(self) -> bool:
        return self.state != BOT


# ---------------------------------------------------------------- pure rules

def fallback_streak_after(intent: str, streak: int) -> int:
    return streak + 1 if intent == "fallback" else 0


def wants_human(intent: str, streak_after: int) -> bool:
    """Intent `human`, or the bot failed to understand twice in a row."""
    return intent == "human" or streak_after >= FALLBACKS_BEFORE_HANDOFF


def timed_out(conversation: Conversation, now: datetime, timeout: timedelta) -> bool:
    """A claimed (or pending) conversation whose agent has been silent for `timeout` goes back to the bot."""
    if conversation.state == BOT:
        return False
    last = conversation.agent_last_active_at or conversation.state_changed_at
    return last is not None and now - last >= timeout


# ---------------------------------------------------------------- storage

_GET = sa.select(conversations).where(conversations.c.customer_id == sa.bindparam("customer_id"))


def get(conn: Connection, customer_id: int) -> Conversation:
    row = conn.execute(_GET, {"customer_id": customer_id}).first()
    if row is None:
        return Conversation(customer_id, BOT, None, None, None, 0)
    return Conversation(row.customer_id, row.state, row.agent, row.state_changed_at,
                        row.agent_last_active_at, row.fallback_streak)


def _ensure(conn: Connection, customer_id: int, now: datetime) -> None:
    insert_ignoring_conflicts(conn, conversations, [{"customer_id": customer_id, "state": BOT,
                                                     "state_changed_at": now, "fallback_streak": 0}],
                              ["customer_id"])


def set_fallback_streak(conn: Connection, customer_id: int, streak: int, now: datetime) -> None:
    upsert(conn, conversations, [{"customer_id": customer_id, "state": BOT, "state_changed_at": now,
                                  "fallback_streak": streak}], ["customer_id"], ["fallback_streak"])


def transition(conn: Connection, customer_id: int, to_state: str, *, actor: str, now: datetime,
               reason: str | None = None, agent: str | None = None,
               expect: tuple[str, ...] | None = None) -> bool:
    """Move a conversation to `to_state` if it is in one of `expect` (any state when None).

    Returns False, changing nothing, when the conversation was not in an expected state, so two
    agents claiming at once cannot both win.
    """
    if to_state not in STATES:
        raise ValueError(f"unknown conversation state {to_state!r}")
    _ensure(conn, customer_id, now)
    current = get(conn, customer_id)
    if expect is not None and current.state not in expect:
        return False
    c = conversations.c
    where = [c.customer_id == customer_id, c.state == current.state]
    values = {
        "state": to_state,
        "state_changed_at": now,
        "agent": agent if to_state == AGENT else None,
        "agent_last_active_at": now if to_state == AGENT else None,
        "fallback_streak": 0,
    }
    if conn.execute(sa.update(conversations).where(*where).values(**values)).rowcount != 1:
        return False
    conn.execute(sa.insert(handoff_log).values(customer_id=customer_id, from_state=current.state,
                                               to_state=to_state, actor=actor, reason=reason, at=now))
    return True


def touch_agent(conn: Connection, customer_id: int, now: datetime) -> None:
    conn.execute(sa.update(conversations).where(conversations.c.customer_id == customer_id)
                 .values(agent_last_active_at=now))


@dataclass(frozen=True)
class Released:
    customer_id: int
    from_state: str
    agent: str | None


def release_timed_out(conn: Connection, now: datetime, timeout: timedelta) -> list[Released]:
    """Hand back to the bot every pending or claimed conversation whose agent has been silent for
    `timeout` (since the claim, the agent's last message, or, unclaimed, since it went pending)."""
    c = conversations.c
    cutoff = now - timeout
    silent = sa.func.coalesce(c.agent_last_active_at, c.state_changed_at) <= cutoff
    rows = conn.execute(sa.select(c.customer_id, c.state, c.agent)
                        .where(c.state.in_((PENDING, AGENT)), silent).order_by(c.customer_id)).all()
    reason = f"no agent activity for {int(timeout.total_seconds() // 60)} min"
    released = []
    for row in rows:
        # Conditional on the same silence, so an agent's reply racing the release wins.
        changed = conn.execute(
            sa.update(conversations).where(c.customer_id == row.customer_id, c.state == row.state, silent)
            .values(state=BOT, state_changed_at=now, agent=None, agent_last_active_at=None, fallback_streak=0)
        ).rowcount
        if changed == 1:
            conn.execute(sa.insert(handoff_log).values(customer_id=row.customer_id, from_state=row.state,
                                                       to_state=BOT, actor="timeout", reason=reason, at=now))
            released.append(Released(row.customer_id, row.state, row.agent))
    return released
