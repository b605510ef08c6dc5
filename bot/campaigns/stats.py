"""How a campaign did, per group (all | test | rest) and variant: sent, delivered, read, replied
(an inbound message within 24 h of delivery), failed by error code, converted (a counted order
within 7 days of the send), and their rates; and the two-proportion z-test behind a promotion."""
from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.campaigns.tables import campaign_sends
from bot.core.sqltime import within
from bot.core.tables import inbound_messages, outbox
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


def campaign_stats(conn: Connection, campaign: str) -> dict:
    """{"campaign", "groups": [{"group", "variant", counts..., "failed_by_code", "rates"}], "total"}."""
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
