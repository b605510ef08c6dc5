"""Customer attributes at a time `now` (docs/segments.md, attributes), as SQL over one row per customer.

`base_select` produces the per-customer facts ("base columns") from the maintained order
aggregates and the customer record; when `now` lies before some counted order (a look into the
past) the aggregates are computed from the orders themselves instead, so any `now` is exact.
Every attribute of docs/segments.md is an expression over those base columns (`attribute_expr`); the costlier
ones (180-day counts, inbound counts, tags) are correlated subqueries that the database evaluates
only for the rows that reach them.

Definitions used throughout:
- times are UTC; `days_since_*` are whole days elapsed (rounded down), NULL when there is no event;
- money is summed in integer cents; `total_spent` is cents / 100 and `aov` = total_spent / orders_count,
  both IEEE doubles, so SQLite and PostgreSQL compute bit-identical values;
- `consent` is Shopify's marketing consent or an explicit opt-in in chat (START), whatever `opted_out` says;
- `country`/`province`/`city`: the latest counted order with a shipping address, else the phone's country.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement, FromClause

from bot.core.tables import UTCDateTime, customers, inbound_messages, outbox
from segments.sqlutil import as_float, sorted_text_agg, whole_days_between
from segments.store import stats_pending_exist, stats_select
from segments.tables import customer_order_stats, customer_tags, orders

BASE_COLUMNS: tuple[tuple[str, sa.types.TypeEngine], ...] = (
    ("customer_id", sa.BigInteger()),
    ("wa_id", sa.String(160)),
    ("opted_out", sa.Boolean()),
    ("accepts_marketing", sa.Boolean()),
    ("consent_at", UTCDateTime()),
    ("phone_country", sa.String(2)),
    ("orders_count", sa.Integer()),
    ("total_cents", sa.BigInteger()),
    ("discounted_count", sa.Integer()),
    ("first_order_at", UTCDateTime()),
    ("last_order_at", UTCDateTime()),
    ("ship_country", sa.String(2)),
    ("ship_province", sa.String(128)),
    ("ship_city", sa.String(128)),
    ("last_inbound_at", UTCDateTime()),
    ("last_read_at", UTCDateTime()),
    ("language_choice", sa.String(8)),
    ("language_chat", sa.String(8)),
    ("shopify_locale", sa.String(16)),
)


def base_table(name: str) -> sa.Table:
    """A temporary table of base columns (one row per customer), for a refresh to scan repeatedly."""
    columns = [sa.Column(n, t, primary_key=(n == "customer_id"), autoincrement=False) for n, t in BASE_COLUMNS]
    return sa.Table(name, sa.MetaData(), *columns, prefixes=["TEMPORARY"], postgresql_on_commit="drop")


def needs_live_aggregates(conn: Connection, now: datetime) -> bool:
    """The maintained aggregates count every counted order; they are exact at `now` unless some
    counted order was created after it, or a bulk import has not finished its aggregates."""
    s = customer_order_stats.c
    future = conn.execute(sa.select(s.customer_id).where(s.last_order_at > now).limit(1)).first()
    return future is not None or stats_pending_exist(conn)


def base_select(conn: Connection, now: datetime, scope: sa.Select | None = None) -> sa.Select:
    """One row of base columns per customer (all customers, or those whose id `scope` selects)."""
    c = customers
    at = sa.literal(now, UTCDateTime())
    if needs_live_aggregates(conn, now):
        stats = stats_select(orders.c.customer_id.in_(scope) if scope is not None else None, now,
                             until=now).subquery("stats")
    else:
        stats = customer_order_stats.alias("stats")
    latest_message = (sa.select(sa.func.max(inbound_messages.c.sent_at))
                      .where(inbound_messages.c.customer_id == c.c.id, inbound_messages.c.sent_at <= at)
                      .scalar_subquery())
    latest_read = (sa.select(sa.func.max(outbox.c.read_at))
                   .where(outbox.c.customer_id == c.c.id, outbox.c.read_at <= at).scalar_subquery())
    # The customer record holds the latest message and read receipt; only a look into the past
    # (an event after `now`) needs the history.
    last_inbound = sa.case((c.c.last_inbound_at.is_(None), sa.null()), (c.c.last_inbound_at <= at, c.c.last_inbound_at),
                           else_=latest_message)
    last_read = sa.case((c.c.last_read_at.is_(None), sa.null()), (c.c.last_read_at <= at, c.c.last_read_at),
                        else_=latest_read)
    query = (
        sa.select(
            c.c.id.label("customer_id"),
            c.c.wa_id,
            c.c.opted_out,
            c.c.accepts_marketing,
            sa.case((c.c.consent_at <= at, c.c.consent_at), else_=sa.null()).label("consent_at"),
            c.c.phone_country,
            sa.func.coalesce(stats.c.orders_count, 0).label("orders_count"),
            sa.func.coalesce(stats.c.total_cents, 0).label("total_cents"),
            sa.func.coalesce(stats.c.discounted_count, 0).label("discounted_count"),
            stats.c.first_order_at,
            stats.c.last_order_at,
            stats.c.ship_country,
            stats.c.ship_province,
            stats.c.ship_city,
            sa.type_coerce(last_inbound, UTCDateTime()).label("last_inbound_at"),
            sa.type_coerce(last_read, UTCDateTime()).label("last_read_at"),
            c.c.language_choice,
            c.c.language_chat,
            c.c.shopify_locale,
        ).select_from(c.outerjoin(stats, stats.c.customer_id == c.c.id))
    )
    if scope is not None:
        query = query.where(c.c.id.in_(scope))
    return query


# -- attributes ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class At:
    """What an attribute expression is built from: the base row and the time."""

    a: FromClause  # base columns
    now: datetime

    @property
    def t(self) -> ColumnElement:
        return sa.literal(self.now, UTCDateTime())

    def before(self, delta: timedelta) -> ColumnElement:
        return sa.literal(self.now - delta, UTCDateTime())


def _total_spent(x: At) -> ColumnElement:
    return as_float(x.a.c.total_cents) / 100.0


def _aov(x: At) -> ColumnElement:
    return sa.case((x.a.c.orders_count > 0, _total_spent(x) / x.a.c.orders_count), else_=sa.null())


def orders_count_since(x: At, since: datetime | ColumnElement, *, exclusive: bool = True) -> ColumnElement:
    """Counted orders created after `since` and by `now` (0 for a customer without orders)."""
    since_expr = since if isinstance(since, ColumnElement) else sa.literal(since, UTCDateTime())
    o = orders.alias("recent")
    lower = o.c.created_at > since_expr if exclusive else o.c.created_at >= since_expr
    count = (sa.select(sa.func.count()).where(o.c.customer_id == x.a.c.customer_id, o.c.counted, lower,
                                              o.c.created_at <= x.t).scalar_subquery())
    return sa.case((x.a.c.orders_count == 0, 0), (x.a.c.last_order_at <= since_expr, 0), else_=count)


def _orders_count_180d(x: At) -> ColumnElement:
    return orders_count_since(x, x.now - timedelta(days=180))


def _inbound_count_30d(x: At) -> ColumnElement:
    since = x.before(timedelta(days=30))
    m = inbound_messages.alias("recent_inbound")
    count = (sa.select(sa.func.count()).where(m.c.customer_id == x.a.c.customer_id, m.c.sent_at > since,
                                              m.c.sent_at <= x.t).scalar_subquery())
    return sa.case((x.a.c.last_inbound_at.is_(None), 0), (x.a.c.last_inbound_at <= since, 0), else_=count)


def _tags(x: At) -> ColumnElement:
    t = customer_tags.alias("tags_of")
    return sa.select(sorted_text_agg(t.c.tag)).where(t.c.customer_id == x.a.c.customer_id).scalar_subquery()


def _country(x: At) -> ColumnElement:
    return sa.case((x.a.c.ship_country.is_not(None), x.a.c.ship_country), else_=x.a.c.phone_country)


def _province(x: At) -> ColumnElement:
    return sa.case((x.a.c.ship_country.is_not(None), x.a.c.ship_province), else_=sa.null())


def _city(x: At) -> ColumnElement:
    return sa.case((x.a.c.ship_country.is_not(None), x.a.c.ship_city), else_=sa.null())


def _recent(column: ColumnElement, since: ColumnElement) -> ColumnElement:
    return sa.and_(column.is_not(None), column > since)


ATTRIBUTE_EXPRESSIONS: dict[str, Callable[[At], ColumnElement]] = {
    "orders_count": lambda x: x.a.c.orders_count,
    "total_spent": _total_spent,
    "aov": _aov,
    "first_order_at": lambda x: x.a.c.first_order_at,
    "last_order_at": lambda x: x.a.c.last_order_at,
    "days_since_last_order": lambda x: whole_days_between(x.a.c.last_order_at, x.t),
    "orders_count_180d": _orders_count_180d,
    "discount_share": lambda x: sa.case((x.a.c.orders_count > 0,
                                         as_float(x.a.c.discounted_count) / x.a.c.orders_count), else_=sa.null()),
    "country": _country,
    "province": _province,
    "city": _city,
    "tags": _tags,
    "last_inbound_at": lambda x: x.a.c.last_inbound_at,
    "days_since_last_inbound": lambda x: whole_days_between(x.a.c.last_inbound_at, x.t),
    "inbound_count_30d": _inbound_count_30d,
    "last_read_at": lambda x: x.a.c.last_read_at,
    "opted_out": lambda x: x.a.c.opted_out.is_(True),
    "consent": lambda x: sa.or_(x.a.c.accepts_marketing.is_(True), x.a.c.consent_at.is_not(None)),
    "window_open": lambda x: _recent(x.a.c.last_inbound_at, x.before(timedelta(hours=24))),
    # "rfm" needs the quintile boundaries of all buyers: built by the engine (segments/engine.py).
}

TIME_ATTRIBUTES = frozenset({"first_order_at", "last_order_at", "last_inbound_at", "last_read_at"})
MONEY_ATTRIBUTES = frozenset({"total_spent", "aov"})


# -- percentiles --------------------------------------------------------------------------------

def lerp(low: float, high: float, fraction: float) -> float:
    """Linear interpolation as numpy computes it (exact at both ends)."""
    if low == high:
        return low
    diff = high - low
    if fraction >= 0.5:
        return high - diff * (1 - fraction)
    return low + diff * fraction


def percentile_positions(n: int, p: float) -> tuple[int, int, float]:
    """0-based ranks to interpolate between for the p-th quantile (0 <= p <= 1) of n sorted values:
    the "linear" method of numpy.percentile and PostgreSQL's percentile_cont."""
    virtual = (n - 1) * p
    low = math.floor(virtual)
    high = min(low + 1, n - 1)
    return low, high, virtual - low


def percentiles_py(values: Sequence[float], ps: Sequence[float]) -> list[float | None]:
    ordered = sorted(values)
    if not ordered:
        return [None for _ in ps]
    out = []
    for p in ps:
        low, high, fraction = percentile_positions(len(ordered), p)
        out.append(lerp(ordered[low], ordered[high], fraction))
    return out


def percentiles(conn: Connection, values: sa.Select, ps: Sequence[float]) -> list[float | None]:
    """Quantiles of a one-column SELECT, computed by the database: it counts and ranks the values
    (ROW_NUMBER over the sorted values) and returns only the ranks needed; Python interpolates.
    Identical on SQLite and PostgreSQL."""
    source = values.subquery("values_")
    value = list(source.c)[0]
    n = conn.execute(sa.select(sa.func.count()).select_from(source).where(value.is_not(None))).scalar_one()
    if not n:
        return [None for _ in ps]
    positions = [percentile_positions(n, p) for p in ps]
    wanted = sorted({rank + 1 for low, high, _ in positions for rank in (low, high)})
    ranked = sa.select(value.label("v"), sa.func.row_number().over(order_by=value).label("rn")) \
        .where(value.is_not(None)).subquery("ranked")
    found = dict(conn.execute(sa.select(ranked.c.rn, ranked.c.v).where(ranked.c.rn.in_(wanted))).all())
    return [lerp(float(found[low + 1]), float(found[high + 1]), fraction) for low, high, fraction in positions]
