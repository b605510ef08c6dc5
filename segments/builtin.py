"""The built-in segments (docs/segments.md, built-in segments), each a condition over attributes plus the
attribute values that explain a membership.

Percentile thresholds (aov_low/mid/high, vip) are taken over buyers (orders_count >= 1 at `now`)
with linear interpolation between ranks (numpy's default, PostgreSQL's percentile_cont): see
`segments.attributes.percentiles`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Protocol

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from bot.core.config import SegmentParams


class Facts(Protocol):
    """What a definition is built from (the engine's evaluation environment)."""

    params: SegmentParams

    def attribute(self, name: str) -> ColumnElement: ...
    def threshold(self, name: str) -> float | None: ...
    def since(self, delta: timedelta) -> ColumnElement: ...
    def in_segment(self, name: str) -> ColumnElement: ...
    def base(self, name: str) -> ColumnElement: ...


Reason = list[tuple[str, ColumnElement]]


@dataclass(frozen=True)
class Builtin:
    name: str
    describe: Callable[[SegmentParams], str]
    build: Callable[[Facts], tuple[ColumnElement, Reason]]


def _number(value: float | None) -> ColumnElement:
    return sa.cast(sa.literal(value), sa.Float) if value is not None else sa.null()


def _buyer(f: Facts) -> ColumnElement:
    return f.attribute("orders_count") >= 1


def first_time_buyer(f: Facts):
    return f.attribute("orders_count") == 1, [("orders_count", f.attribute("orders_count")),
                                              ("last_order_at", f.attribute("last_order_at"))]


def repeat_buyer(f: Facts):
    return f.attribute("orders_count") >= 2, [("orders_count", f.attribute("orders_count")),
                                              ("last_order_at", f.attribute("last_order_at"))]


def loyal(f: Facts):
    minimum = f.params.loyal_min_orders
    # orders_count first: the 180-day count (a subquery) is only evaluated for customers who can qualify.
    condition = sa.and_(f.attribute("orders_count") >= minimum, f.attribute("orders_count_180d") >= minimum)
    return condition, [("orders_count_180d", f.attribute("orders_count_180d")),
                       ("loyal_min_orders", sa.literal(minimum, sa.Integer))]


def lapsed(f: Facts):
    days = f.params.lapsed_days
    condition = sa.and_(_buyer(f), f.attribute("days_since_last_order") > days)
    return condition, [("last_order_at", f.attribute("last_order_at")),
                       ("days_since_last_order", f.attribute("days_since_last_order")),
                       ("lapsed_days", sa.literal(days, sa.Integer))]


def _aov_band(low: str | None, high: str | None):
    def build(f: Facts):
        aov = f.attribute("aov")
        t_low = f.threshold(low) if low else None
        t_high = f.threshold(high) if high else None
        if (low and t_low is None) or (high and t_high is None):
            return sa.false(), []  # no buyers, no thresholds
        parts = [_buyer(f)]
        if low:
            parts.append(aov >= t_low)
        if high:
            parts.append(aov < t_high)
        reason = [("aov", aov)]
        if low:
            reason.append(("aov_at_least", _number(t_low)))
        if high:
            reason.append(("aov_below", _number(t_high)))
        return sa.and_(*parts), reason
    return build


def sale_shopper(f: Facts):
    share = f.params.sale_share
    condition = sa.and_(f.attribute("orders_count") >= 2, f.attribute("discount_share") >= share)
    return condition, [("discount_share", f.attribute("discount_share")),
                       ("orders_count", f.attribute("orders_count")), ("sale_share", _number(share))]


def vip(f: Facts):
    minimum = f.threshold("vip_min_spent")
    if minimum is None:
        return sa.false(), []
    condition = sa.and_(_buyer(f), f.attribute("total_spent") >= minimum)
    return condition, [("total_spent", f.attribute("total_spent")), ("vip_min_spent", _number(minimum))]


def former_vip(f: Facts):
    days = f.params.former_vip_days
    cutoff = f.since(timedelta(days=days))
    quiet = [sa.or_(f.attribute(name).is_(None), f.attribute(name) <= cutoff)
             for name in ("last_inbound_at", "last_read_at")]
    condition = sa.and_(f.in_segment("vip"), f.attribute("days_since_last_order") > days, *quiet)
    return condition, [("total_spent", f.attribute("total_spent")), ("last_order_at", f.attribute("last_order_at")),
                       ("days_since_last_order", f.attribute("days_since_last_order")),
                       ("last_inbound_at", f.attribute("last_inbound_at")),
                       ("last_read_at", f.attribute("last_read_at")), ("former_vip_days", sa.literal(days, sa.Integer))]


def chat_engaged(f: Facts):
    last = f.attribute("last_inbound_at")
    condition = sa.and_(last.is_not(None), last > f.since(timedelta(days=f.params.engaged_days)))
    return condition, [("last_inbound_at", last), ("engaged_days", sa.literal(f.params.engaged_days, sa.Integer))]


def chat_unengaged(f: Facts):
    condition = sa.and_(f.base("wa_id").is_not(None), sa.not_(f.in_segment("chat_engaged")))
    return condition, [("last_inbound_at", f.attribute("last_inbound_at")),
                       ("engaged_days", sa.literal(f.params.engaged_days, sa.Integer))]


def window_open(f: Facts):
    return f.attribute("window_open"), [("last_inbound_at", f.attribute("last_inbound_at"))]


def opted_out(f: Facts):
    return f.attribute("opted_out"), [("opted_out", f.attribute("opted_out"))]


def _aov_text(p: SegmentParams, band: str) -> str:
    if p.aov_thresholds:
        low, high = p.aov_thresholds
        bounds = {"low": f"below {low:g}", "mid": f"from {low:g} to below {high:g}", "high": f"{high:g} or more"}
    else:
        bounds = {"low": "below the 33rd percentile of buyers", "mid": "between the 33rd and 67th percentiles",
                  "high": "at or above the 67th percentile of buyers"}
    return f"Average order value {bounds[band]}"


BUILTINS: tuple[Builtin, ...] = (
    Builtin("first_time_buyer", lambda p: "Exactly one order", first_time_buyer),
    Builtin("repeat_buyer", lambda p: "Two orders or more", repeat_buyer),
    Builtin("loyal", lambda p: f"At least {p.loyal_min_orders} orders in the last 180 days", loyal),
    Builtin("lapsed", lambda p: f"No order for more than {p.lapsed_days} days", lapsed),
    Builtin("aov_low", lambda p: _aov_text(p, "low"), _aov_band(None, "aov_t1")),
    Builtin("aov_mid", lambda p: _aov_text(p, "mid"), _aov_band("aov_t1", "aov_t2")),
    Builtin("aov_high", lambda p: _aov_text(p, "high"), _aov_band("aov_t2", None)),
    Builtin("sale_shopper", lambda p: f"Two orders or more, at least {p.sale_share:.0%} of them discounted",
            sale_shopper),
    Builtin("vip", lambda p: (f"Spent at least {p.vip_min_spent:g}" if p.vip_min_spent is not None
                              else "Top 10% of buyers by total spent (90th percentile)"), vip),
    Builtin("former_vip", lambda p: (f"VIP with no order for more than {p.former_vip_days} days and no message"
                                     f" or read receipt in that time"), former_vip),
    Builtin("chat_engaged", lambda p: f"Wrote to us in the last {p.engaged_days} days", chat_engaged),
    Builtin("chat_unengaged", lambda p: f"On WhatsApp, but no message in the last {p.engaged_days} days",
            chat_unengaged),
    Builtin("window_open", lambda p: "Wrote to us in the last 24 hours (free-form messages allowed)", window_open),
    Builtin("opted_out", lambda p: "Opted out of messages", opted_out),
)

BUILTIN_NAMES = tuple(b.name for b in BUILTINS)

# Percentile-based thresholds: name -> (attribute, quantile), unless a parameter fixes them.
PERCENTILE_THRESHOLDS = {"aov_t1": ("aov", 0.33), "aov_t2": ("aov", 0.67), "vip_min_spent": ("total_spent", 0.90)}


def fixed_thresholds(params: SegmentParams) -> dict[str, float]:
    fixed: dict[str, float] = {}
    if params.aov_thresholds is not None:
        fixed["aov_t1"], fixed["aov_t2"] = (float(t) for t in params.aov_thresholds)
    if params.vip_min_spent is not None:
        fixed["vip_min_spent"] = float(params.vip_min_spent)
    return fixed
