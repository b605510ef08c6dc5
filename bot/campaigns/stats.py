"""How a campaign did, per group (all | test | rest) and variant: sent, delivered, read, replied
(an inbound message within 24 h of delivery), failed by error code, converted (a counted order
within 7 days of the send), and their rates; and the two-proportion z-test behind a promotion."""
from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.campaigns.pricing import RateCard, Tally
from bot.campaigns.tables import campaign_sends
from bot.core.phones import country_of
from bot.core.sqltime import within
from bot.core.tables import customers, inbound_messages, outbox
from bot.whatsapp.window import FREE_ENTRY_POINT_WINDOW, SERVICE_WINDOW
from segments.tables import orders

REPLY_WINDOW = timedelta(hours=24)
CONVERSION_WINDOW = timedelta(days=7)
COUNTS = ("planned", "sent", "delivered", "read", "replied", "converted", "failed", "cancelled", "pending", "deferred",
          "unknown")


def _count(condition: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def with_rates(counts: dict) -> dict:
    sent = counts["sent"]
    counts["rates"] = {
        "delivered": _rate(counts["delivered"], sent),
        "read": _rate(counts["read"], sent),
        "replied": _rate(counts["replied"], sent),
        "converted": _rate(counts["converted"], sent),
        "failed": _rate(counts["failed"], sent + counts["failed"]),
    }
    return counts


def delivered_time() -> sa.ColumnElement:
    """When a ledger row's message was delivered (a read receipt implies delivery)."""
    return sa.func.coalesce(outbox.c.delivered_at, outbox.c.read_at)


def replied_condition() -> sa.ColumnElement:
    """The recipient of a ledger row wrote to us within 24 h of its delivery (of its sending
    when no delivery status came)."""
    return sa.exists().where(inbound_messages.c.customer_id == campaign_sends.c.customer_id,
                             within(inbound_messages.c.sent_at, sa.func.coalesce(delivered_time(), outbox.c.sent_at),
                                    REPLY_WINDOW))


def conversion_join_condition() -> sa.ColumnElement:
    """An order joined to a ledger row (with its outbox row) counts as its conversion: a counted
    order by the same customer within 7 days after the message was sent."""
    return sa.and_(orders.c.customer_id == campaign_sends.c.customer_id, orders.c.counted,
                   within(orders.c.created_at, outbox.c.sent_at, CONVERSION_WINDOW))


def outcome_counts() -> dict[str, sa.ColumnElement]:
    """COUNTS as aggregate columns over campaign_sends LEFT JOIN outbox (on outbox_id)."""
    s, o = campaign_sends.c, outbox.c
    converted = sa.exists().where(conversion_join_condition())
    sent = o.sent_at.is_not(None)
    return {
        "planned": _count(s.status == "queued"),
        "sent": _count(sent),
        "delivered": _count(delivered_time().is_not(None)),
        "read": _count(o.read_at.is_not(None)),
        "replied": _count(sa.and_(sent, replied_condition())),
        "converted": _count(sa.and_(sent, converted)),
        "failed": _count(o.state == "failed"),
        "cancelled": _count(o.state == "cancelled"),
        "pending": _count(o.state.in_(("queued", "sending"))),
        "deferred": _count(s.status == "deferred"),
        # a sender died with it in flight: maybe sent, never sent again (docs/sending.md)
        "unknown": _count(o.state == "unknown"),
    }


def sent_cost(conn: Connection, campaign: str, card: RateCard, *,
              per_variant: bool = False) -> dict[tuple[str, int] | int | None, dict]:
    """What the campaign's sent messages cost, per (group, variant) — per variant alone with
    `per_variant` (an automation's steps) — and in total (key None), each
    priced by the rates and rules in effect when it was sent (bot/campaigns/pricing.py): its
    form (a free-form refused with 131047 went as the template), its customer's country, whether
    their window was open then (an inbound message in the 24 h before) and whether it was in a free
    entry point (the customer's last ad referral in the 72 h before). A message that failed is not
    charged; one sent and never reported delivered is counted (Meta bills on delivery, often late).
    The rows are grouped in SQL, one group per price period of the card, then priced in Python."""
    s, o, c, i = campaign_sends.c, outbox.c, customers.c, inbound_messages.c
    window_open = sa.exists().where(i.customer_id == s.customer_id, within(o.sent_at, i.sent_at, SERVICE_WINDOW))
    free_entry = sa.and_(c.last_referral_at.is_not(None), within(o.sent_at, c.last_referral_at, FREE_ENTRY_POINT_WINDOW))
    # Which price period of the card a message fell in: how many of its boundaries had passed.
    period = sum((sa.case((o.sent_at >= start, 1), else_=0) for start in card.boundaries()), sa.literal(0))
    sent = (
        sa.select(s.send_group.label("send_group"), s.variant.label("variant"), s.category.label("category"),
                  sa.case((o.used_fallback, "template"), else_=s.form).label("form"),
                  c.phone_country.label("country"),
                  # as the planner does: a customer's country is parsed from the number when not stored
                  sa.case((c.phone_country.is_(None), o.recipient), else_=None).label("number"),
                  sa.case((window_open, 1), else_=0).label("window_open"),
                  sa.case((free_entry, 1), else_=0).label("free_entry"), period.label("period"),
                  o.sent_at.label("sent_at"))
        .select_from(campaign_sends.join(outbox, o.id == s.outbox_id).outerjoin(customers, c.id == s.customer_id))
        .where(s.campaign == campaign, o.sent_at.is_not(None), o.state != "failed")
        .subquery("sent")
    )
    keys = [sent.c.send_group, sent.c.variant, sent.c.category, sent.c.form, sent.c.country, sent.c.number,
            sent.c.window_open, sent.c.free_entry, sent.c.period]
    query = sa.select(*keys, sa.func.min(sent.c.sent_at).label("at"), sa.func.count().label("n")).group_by(*keys)
    tallies: dict[tuple[str, int] | None, Tally] = {None: Tally(card.currency)}
    for r in conn.execute(query):
        country = r.country or country_of(r.number)
        charge = card.charge(category=r.category, form=r.form or "template", country=country, at=r.at,
                             window_open=bool(r.window_open), free_entry_point=bool(r.free_entry))
        group = tallies.setdefault(r.variant if per_variant else (r.send_group, r.variant), Tally(card.currency))
        for tally in (group, tallies[None]):
            tally.add(charge, category=r.category, country=country, count=int(r.n))
    return {key: tally.result() for key, tally in tallies.items()}


def campaign_stats(conn: Connection, campaign: str, card: RateCard | None = None) -> dict:
    """{"campaign", "groups": [{"group", "variant", counts..., "failed_by_code", "rates"}], "total"};
    with a rate card, each group and the total also carry "estimated_cost" (`sent_cost`)."""
    s, o = campaign_sends.c, outbox.c
    query = (
        sa.select(s.send_group, s.variant, *(expr.label(name) for name, expr in outcome_counts().items()))
        .select_from(campaign_sends.outerjoin(outbox, o.id == s.outbox_id))
        .where(s.campaign == campaign)
        .group_by(s.send_group, s.variant)
        .order_by(s.send_group, s.variant)
    )
    groups = {(r.send_group, r.variant): {"group": r.send_group, "variant": r.variant,
                                           **{name: int(getattr(r, name) or 0) for name in COUNTS},
                                           "failed_by_code": {}}
              for r in conn.execute(query)}
    failures = (
        sa.select(s.send_group, s.variant, o.error_code, sa.func.count().label("n"))
        .select_from(campaign_sends.join(outbox, o.id == s.outbox_id))
        .where(s.campaign == campaign, o.state == "failed")
        .group_by(s.send_group, s.variant, o.error_code)
    )
    for r in conn.execute(failures):
        groups[(r.send_group, r.variant)]["failed_by_code"][str(r.error_code) if r.error_code is not None else "none"] = r.n
    total = {name: sum(g[name] for g in groups.values()) for name in COUNTS}
    total["failed_by_code"] = {}
    for g in groups.values():
        for code, n in g["failed_by_code"].items():
            total["failed_by_code"][code] = total["failed_by_code"].get(code, 0) + n
    if card is not None:
        costs = sent_cost(conn, campaign, card)
        for key, g in groups.items():
            g["estimated_cost"] = costs.get(key) or Tally(card.currency).result()
        total["estimated_cost"] = costs[None]
    return {"campaign": campaign, "groups": [with_rates(g) for g in groups.values()], "total": with_rates(total)}


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """z and the two-sided p-value of H0: both proportions are equal (pooled standard error)."""
    if n1 == 0 or n2 == 0:
        return 0.0, 1.0
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def choose_winner(variants: list[dict]) -> dict:
    """The variant with the best reply rate (the first on a tie), tested against the runner-up.

    `variants`: [{"variant", "sent", "replied"}]. Returns {"variant", "reply_rate", "test"}."""
    ranked = sorted(variants, key=lambda v: (-(v["replied"] / v["sent"] if v["sent"] else -1.0), v["variant"]))
    best = ranked[0]
    result = {"variant": best["variant"], "reply_rate": _rate(best["replied"], best["sent"]), "test": None}
    if len(ranked) > 1:
        runner_up = ranked[1]
        z, p = two_proportion_z(best["replied"], best["sent"], runner_up["replied"], runner_up["sent"])
        result["test"] = {"against": runner_up["variant"], "z": round(z, 4), "p_value": round(p, 4),
                          "significant_at_5pct": p < 0.05}
    return result
