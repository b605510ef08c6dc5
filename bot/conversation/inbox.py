"""What agents see: the queue of conversations (priority by segment, then waiting time) and one
conversation in full (transcript, segments with reasons, attributes, orders, AOV).

Reads only; set-wise queries, the same on SQLite and PostgreSQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.automations import cod
from bot.conversation import handoff
from bot.conversation.customers import Customer, display_name
from bot.core import languages as langs
from bot.core.tables import UTCDateTime, conversations, customers, handoff_log, inbound_messages, outbox
from bot.whatsapp.window import window_expires_at, window_open
from segments import orders as store
from segments.language import customer_language
from segments.membership import segments_with_reasons
from segments.tables import customer_attributes, customer_tags, segment_members

# Who is served first when several wait: the most valuable customers, then the loyal, then the rest.
SEGMENT_PRIORITY = ("vip", "former_vip", "loyal", "repeat_buyer", "sale_shopper", "first_time_buyer")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _money(value: Decimal | None) -> str | None:
    return f"{value:.2f}" if value is not None else None


@dataclass(frozen=True)
class QueueEntry:
    customer_id: int
    wa_id: str
    name: str
    state: str
    agent: str | None
    waiting_since: datetime | None
    priority_segment: str | None
    segments: tuple[str, ...]
    last_message: str | None
    last_message_at: datetime | None
    last_message_direction: str | None
    window_expires_at: datetime | None
    priority: int

    def as_json(self, now: datetime) -> dict[str, Any]:
        return {
            "wa_id": self.wa_id, "name": self.name, "state": self.state, "agent": self.agent,
            "segments": list(self.segments), "last_message": self.last_message,
            "last_message_at": _iso(self.last_message_at), "last_message_direction": self.last_message_direction,
            "window_expires_at": _iso(self.window_expires_at),
            "window_open": self.window_expires_at is not None and now < self.window_expires_at,
            "priority": self.priority, "priority_segment": self.priority_segment,
            "waiting_since": _iso(self.waiting_since),
        }


def _shown_name(row) -> str:
    """The customer's display name; their number (or "?") for one we know no name of."""
    return display_name(row.first_name, row.last_name, row.profile_name) or row.wa_id or "?"


def queue(conn: Connection, states: Sequence[str], limit: int = 200) -> list[QueueEntry]:
    """Conversations in `states`: pending before claimed, then by segment priority, then the
    longest wait first. The bot's own conversations come most recent first."""
    c, cv, sm = customers.c, conversations.c, segment_members.c
    state = sa.func.coalesce(cv.state, handoff.BOT)
    rank = sa.case(*((sm.segment == name, index) for index, name in enumerate(SEGMENT_PRIORITY)),
                   else_=len(SEGMENT_PRIORITY))
    tiers = (sa.select(sm.customer_id, sa.func.min(rank).label("tier")).group_by(sm.customer_id).subquery())
    tier = sa.func.coalesce(tiers.c.tier, len(SEGMENT_PRIORITY))
    waiting_since = sa.case((cv.state == handoff.AGENT, sa.func.coalesce(cv.agent_last_active_at, cv.state_changed_at)),
                            else_=cv.state_changed_at)
    im, ob = inbound_messages.c, outbox.c
    last_in = (sa.select(im.text).where(im.customer_id == c.id)
               .order_by(im.sent_at.desc(), im.id.desc()).limit(1).scalar_subquery())
    last_in_type = (sa.select(im.type).where(im.customer_id == c.id)
                    .order_by(im.sent_at.desc(), im.id.desc()).limit(1).scalar_subquery())
    last_out = (sa.select(ob.preview).where(ob.customer_id == c.id, ob.kind != "read")
                .order_by(ob.created_at.desc(), ob.id.desc()).limit(1).scalar_subquery())
    last_out_at = (sa.select(sa.func.max(ob.created_at)).where(ob.customer_id == c.id, ob.kind != "read")
                   .scalar_subquery())
    query = (
        sa.select(c.id, c.wa_id, c.profile_name, c.first_name, c.last_name, c.last_inbound_at,
                  state.label("state"), cv.agent, waiting_since.label("waiting_since"), tier.label("tier"),
                  last_in.label("last_in"), last_in_type.label("last_in_type"),
                  last_out.label("last_out"), last_out_at.label("last_out_at"))
        .select_from(customers.outerjoin(conversations, cv.customer_id == c.id)
                     .outerjoin(tiers, tiers.c.customer_id == c.id))
        .where(state.in_(list(states)), c.wa_id.is_not(None))
    )
    if set(states) == {handoff.BOT}:
        query = query.order_by(c.last_inbound_at.desc().nulls_last(), c.id.desc())
    else:
        query = query.order_by(sa.case((state == handoff.PENDING, 0), else_=1), tier, waiting_since, c.id)
    rows = conn.execute(query.limit(limit)).all()
    member = segments_of(conn, [r.id for r in rows])
    as_time = UTCDateTime().process_result_value
    entries = []
    for position, r in enumerate(rows, start=1):
        last_out_at = as_time(r.last_out_at, None) if r.last_out_at is not None else None
        inbound_newer = r.last_in_type is not None and (last_out_at is None or r.last_inbound_at >= last_out_at)
        if inbound_newer:
            text, at, direction = r.last_in if r.last_in is not None else f"[{r.last_in_type}]", r.last_inbound_at, "in"
        elif last_out_at is not None:
            text, at, direction = r.last_out, last_out_at, "out"
        else:
            text, at, direction = None, None, None
        tier_index = int(r.tier)
        entries.append(QueueEntry(
            customer_id=r.id, wa_id=r.wa_id, name=_shown_name(r), state=r.state, agent=r.agent,
            waiting_since=as_time(r.waiting_since, None) if r.waiting_since is not None else None,
            priority_segment=SEGMENT_PRIORITY[tier_index] if tier_index < len(SEGMENT_PRIORITY) else None,
            segments=member.get(r.id, ()), last_message=text, last_message_at=at, last_message_direction=direction,
            window_expires_at=window_expires_at(r.last_inbound_at), priority=position,
        ))
    return entries


def segments_of(conn: Connection, customer_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    ids = list(customer_ids)
    if not ids:
        return {}
    found: dict[int, list[str]] = {}
    for customer_id, segment in conn.execute(
            sa.select(segment_members.c.customer_id, segment_members.c.segment)
            .where(segment_members.c.customer_id.in_(ids)).order_by(segment_members.c.segment)):
        found.setdefault(customer_id, []).append(segment)
    return {k: tuple(v) for k, v in found.items()}


def transcript(conn: Connection, customer_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The customer's messages and ours (replies, agents, campaigns), oldest first."""
    im, ob = inbound_messages.c, outbox.c
    inbound = conn.execute(sa.select(im.id, im.type, im.text, im.button_id, im.intent, im.intent_source,
                                     im.handled, im.sent_at, im.received_at)
                           .where(im.customer_id == customer_id)
                           .order_by(im.received_at.desc(), im.id.desc()).limit(limit)).all()
    outbound = conn.execute(sa.select(ob.id, ob.kind, ob.category, ob.preview, ob.source, ob.state, ob.error_title,
                                      ob.created_at, ob.payload)
                            .where(ob.customer_id == customer_id, ob.kind != "read")
                            .order_by(ob.created_at.desc(), ob.id.desc()).limit(limit)).all()
    # Interleaved by our own clock: Meta's timestamps are whole seconds, ours are not.
    items = [{"direction": "in", "at": r.sent_at, "order": (r.received_at, 0, r.id),
              "text": r.text if r.text is not None else f"[{r.type}]", "type": r.type,
              "button_id": r.button_id, "intent": r.intent, "intent_source": r.intent_source, "handled": r.handled}
             for r in inbound]
    items += [{"direction": "out", "at": r.created_at, "order": (r.created_at, 1, r.id), "text": r.preview,
               "type": (r.payload or {}).get("type"), "kind": r.kind, "category": r.category, "source": r.source,
               "state": r.state, "error": r.error_title,
               "agent": r.source.split(":", 1)[1] if r.kind == "agent" and r.source else None}
              for r in outbound]
    items.sort(key=lambda item: item.pop("order"))
    for item in items:
        item["at"] = _iso(item["at"])
    return items[-limit:]


def attributes(conn: Connection, customer: Customer, now: datetime) -> dict[str, Any]:
    """The attributes of docs/segments.md (orders, chat facts, tags) and custom ones (imported or answered in chat)."""
    totals = store.totals(conn, customer.id, now)
    tags = [t for (t,) in conn.execute(sa.select(customer_tags.c.tag)
                                       .where(customer_tags.c.customer_id == customer.id).order_by(customer_tags.c.tag))]
    ca = customer_attributes.c
    custom = {r.name: {"value": r.value, "source": r.source, "updated_at": _iso(r.updated_at)}
              for r in conn.execute(sa.select(ca.name, ca.value, ca.source, ca.updated_at)
                                    .where(ca.customer_id == customer.id).order_by(ca.name))}
    return {
        "orders_count": totals.orders_count, "total_spent": _money(totals.total_spent), "aov": _money(totals.aov),
        "first_order_at": _iso(totals.first_order_at), "last_order_at": _iso(totals.last_order_at),
        "days_since_last_order": (now - totals.last_order_at).days if totals.last_order_at else None,
        "last_inbound_at": _iso(customer.last_inbound_at), "last_read_at": _iso(customer.last_read_at),
        "opted_out": customer.opted_out, "marketing_paused": customer.marketing_paused,
        "accepts_marketing": customer.accepts_marketing, "consent_at": _iso(customer.consent_at),
        "country": customer.phone_country, "tags": tags, "custom": custom,
    }


def cod_json(answer: cod.CodOrder | None) -> dict[str, Any] | None:
    """A cash-on-delivery order's confirmation: awaiting | confirmed | cancelled, and its tag."""
    if answer is None:
        return None
    return {"state": answer.state, "asked_at": _iso(answer.asked_at), "answered_at": _iso(answer.answered_at),
            "tag": answer.tag, "tag_state": answer.tag_state}


def order_json(order: store.OrderSummary, answer: cod.CodOrder | None = None) -> dict[str, Any]:
    return {
        "id": order.id, "name": order.name, "created_at": _iso(order.created_at),
        "total_price": _money(order.total_price), "currency": order.currency, "status": order.status,
        "financial_status": order.financial_status, "fulfillment_status": order.fulfillment_status,
        "tracking_url": order.tracking_url or order.order_status_url, "counted": order.counted,
        "items": [{"title": i.title, "variant_title": i.variant_title, "quantity": i.quantity,
                   "price": _money(i.price)} for i in order.items],
        "cod": cod_json(answer),
    }


def handoff_history(conn: Connection, customer_id: int, limit: int = 50) -> list[dict[str, Any]]:
    h = handoff_log.c
    rows = conn.execute(sa.select(h.from_state, h.to_state, h.actor, h.reason, h.at)
                        .where(h.customer_id == customer_id).order_by(h.at.desc(), h.id.desc()).limit(limit))
    return [{"from": r.from_state, "to": r.to_state, "actor": r.actor, "reason": r.reason, "at": _iso(r.at)}
            for r in rows]


def conversation(conn: Connection, customer: Customer, now: datetime, currency: str,
                 languages: Sequence[str] = ("en",)) -> dict[str, Any]:
    state = handoff.get(conn, customer.id)
    language, language_source = customer_language(conn, customer.id, languages)
    attrs = attributes(conn, customer, now)
    answers = {a.order_id: a for a in cod.of_customer(conn, customer.id, limit=20)}
    names = conn.execute(sa.select(customers.c.wa_id, customers.c.first_name, customers.c.last_name,
                                   customers.c.profile_name).where(customers.c.id == customer.id)).one()
    return {
        "wa_id": customer.wa_id, "name": _shown_name(names), "profile_name": names.profile_name,
        "first_name": customer.first_name,
        # A username customer may have no phone number: the user id is their address (docs/usernames.md).
        "phone": customer.wa_id if customer.wa_id and customer.wa_id.isdigit() else None, "user_id": customer.user_id,
        "state": state.state, "agent": state.agent, "state_changed_at": _iso(state.state_changed_at),
        "agent_last_active_at": _iso(state.agent_last_active_at),
        "window_open": window_open(customer.last_inbound_at, now),
        "window_expires_at": _iso(window_expires_at(customer.last_inbound_at)),
        "segments": [{"segment": s["segment"], "reason": s["reason"], "entered_at": _iso(s["entered_at"])}
                     for s in segments_with_reasons(conn, customer.id)],
        "attributes": attrs, "aov": attrs["aov"], "currency": currency,
        "language": {"code": language, "name": langs.ENDONYMS[language],
                     "source": language_source},
        "orders": [order_json(o, answers.get(o.id)) for o in store.order_history(conn, customer.id, now)],
        "transcript": transcript(conn, customer.id),
        "handoff_log": handoff_history(conn, customer.id),
    }
