"""The executor of our actions' events: the Rasa events an action returns, applied to our store.

The one place that turns an action's events into database changes, used by the worker (flows
run in process) and by `wabot actions` (flows served to a Rasa assistant), so an opt-out, a
handoff, a preference answer or the end of a run of fallbacks reaches our database whichever way
the action ran (docs/flows.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.automations import cod
from bot.conversation import customers, handoff
from bot.core.db import insert_ignoring_conflicts, upsert
from bot.core.phones import country_of
from bot.core.tables import customers as customers_table
from flows.actions import (
    COD_ANSWER_SLOT,
    FALLBACK_STREAK_SLOT,
    INTEREST_SLOT,
    LANGUAGE_SLOT,
    OPTED_OUT_SLOT,
    ActionFallback,
)
from segments.tables import customer_attributes

# Slots whose values are answers the customer gave, stored as custom attributes for attr().
ATTRIBUTE_SLOTS = (INTEREST_SLOT,)


@dataclass
class Applied:
    paused: bool = False  # the conversation went to `pending`
    opted_out: bool | None = None
    attributes: dict[str, str | None] = field(default_factory=dict)
    fallback_streak: int | None = None
    language: str | None = None  # the customer's explicit choice
    cod_answer: dict | None = None  # {"order_id", "answer", "tag", "source"} of a cash-on-delivery answer


def ensure_customer(conn: Connection, key: str, now: datetime) -> int:
    """The customer with this wa_id (or user id), created if Rasa knew them before we did."""
    found = customers.find(conn, key)
    if found is not None:
        return found.id
    insert_ignoring_conflicts(conn, customers_table, [{
        "wa_id": key, "phone_country": country_of(key), "created_at": now, "updated_at": now,
    }], ["wa_id"])
    return conn.execute(sa.select(customers_table.c.id).where(customers_table.c.wa_id == key)).scalar_one()


def set_attribute(conn: Connection, customer_id: int, name: str, value: str | None, now: datetime,
                  source: str = "chat") -> None:
    upsert(conn, customer_attributes, [{"customer_id": customer_id, "name": name.lower(), "value": value,
                                        "source": source, "updated_at": now}],
           ["customer_id", "name"], ["value", "source", "updated_at"])


def apply_events(conn: Connection, customer_id: int, events: Iterable[Mapping], *, now: datetime,
                 actor: str = "bot", reason: str | None = None) -> Applied:
    applied = Applied()
    for event in events:
        kind, name, value = event.get("event"), event.get("name"), event.get("value")
        if kind == "slot" and name == OPTED_OUT_SLOT:
            applied.opted_out = bool(value)
            customers.set_opted_out(conn, customer_id, applied.opted_out, now)
        elif kind == "slot" and name == LANGUAGE_SLOT and value:
            customers.set_language_choice(conn, customer_id, str(value)[:8], now)
            applied.language = str(value)[:8]
        elif kind == "slot" and name == COD_ANSWER_SLOT and isinstance(value, dict) \
                and isinstance(value.get("order_id"), int) and value.get("answer") in cod.STATES:
            cod.record_answer(conn, customer_id, value["order_id"], value["answer"], str(value.get("tag") or ""),
                              str(value.get("source") or "reply"), now)
            applied.cod_answer = value
        elif kind == "slot" and name in ATTRIBUTE_SLOTS:
            text = None if value is None else str(value)
            set_attribute(conn, customer_id, name, text, now)
            applied.attributes[name] = text
        elif kind == "slot" and name == FALLBACK_STREAK_SLOT and isinstance(value, int) \
                and not isinstance(value, bool):
            applied.fallback_streak = value
            handoff.set_fallback_streak(conn, customer_id, value, now)
        elif kind == "pause":
            applied.paused |= handoff.transition(conn, customer_id, handoff.PENDING, actor=actor, now=now,
                                                 reason=reason, expect=(handoff.BOT,))
    return applied


def apply_action(conn: Connection, customer_id: int, action_name: str | None, events: Iterable[Mapping], *,
                 now: datetime, reason: str, streak_before: int | None = None) -> Applied:
    """Apply what one action run returned, as the bot.

    The fallback rule's bookkeeping is here too: action_fallback counts a run of fallbacks in its
    slot (and hands off on the second, bot/conversation/handoff.py); any other answer, or a
    handoff, ends the run. `streak_before`, when the caller knows it, saves a write when there is
    no run to end.
    """
    if action_name == ActionFallback.action_name and any(e.get("event") == "pause" for e in events):
        reason = "two fallbacks in a row"
    applied = apply_events(conn, customer_id, events, now=now, actor="bot", reason=reason)
    if applied.fallback_streak is None and not applied.paused and streak_before != 0:
        handoff.set_fallback_streak(conn, customer_id, 0, now)
    return applied
