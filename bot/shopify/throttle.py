"""Shopify's cost-based throttling, as arithmetic. Pure: numbers and times in, seconds out.

Every GraphQL answer reports, under `extensions.cost`, the query's requested cost (its worst case,
charged before it runs), its actual cost (charged after: the difference is refunded) and the
bucket: `maximumAvailable`, `currentlyAvailable` and `restoreRate` points a second. A query runs
only if the bucket holds its requested cost, and a single query may not request more than 1,000
points. So the client waits until the bucket will hold what the next query requests, instead of
being answered THROTTLED (docs/shopify.md, "Throttling").
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SINGLE_QUERY_LIMIT = 1000.0  # points; Shopify refuses a query that requests more (MAX_COST_EXCEEDED)
CONNECTION_OVERHEAD = 2.0  # a connection costs 2 points plus `first` times its node's cost
MARGIN = 0.05  # seconds added to a computed wait: our clock and Shopify's never agree exactly
LONGEST_WAIT = 120.0  # a wait longer than this means the numbers are wrong: wait this long, then ask


@dataclass(frozen=True)
class ThrottleStatus:
    maximum: float
    available: float
    restore_rate: float  # points a second


@dataclass(frozen=True)
class Cost:
    requested: float | None
    actual: float | None  # None when the query did not run (THROTTLED)
    status: ThrottleStatus | None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def parse_cost(extensions: Any) -> Cost | None:
    """`extensions.cost` of an answer, or None when it has none we can use."""
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    if not isinstance(cost, dict):
        return None
    raw = cost.get("throttleStatus")
    status = None
    if isinstance(raw, dict):
        maximum, available, rate = (_number(raw.get(k)) for k in ("maximumAvailable", "currentlyAvailable",
                                                                   "restoreRate"))
        if maximum is not None and available is not None and rate is not None:
            status = ThrottleStatus(maximum, min(available, maximum), rate)
    return Cost(_number(cost.get("requestedQueryCost")), _number(cost.get("actualQueryCost")), status)


@dataclass(frozen=True)
class Budget:
    """What Shopify last said about the bucket, and when (seconds of a monotonic clock)."""

    status: ThrottleStatus
    at: float

    def available(self, now: float) -> float:
        """Points in the bucket at `now`: refilled at the restore rate since `at`, up to the maximum."""
        elapsed = max(0.0, now - self.at)
        return min(self.status.maximum, self.status.available + self.status.restore_rate * elapsed)


def wait_before(budget: Budget | None, cost: float | None, now: float) -> float:
    """Seconds to wait at `now` before sending a query expected to request `cost` points.

    Nothing known (no answer yet, or a query never sent before): no wait; Shopify's answer then
    says. A cost larger than the bucket can ever hold waits for a full bucket."""
    if budget is None or not cost or cost <= 0:
        return 0.0
    need = min(cost, budget.status.maximum)
    missing = need - budget.available(now)
    if missing <= 0:
        return 0.0
    if budget.status.restore_rate <= 0:
        return LONGEST_WAIT
    return min(LONGEST_WAIT, missing / budget.status.restore_rate + MARGIN)


def throttled_wait(cost: Cost | None, fallback: float = 1.0) -> float:
    """Seconds to wait after an answer THROTTLED: until the bucket holds what the query requested."""
    if cost is None or cost.status is None or not cost.requested:
        return fallback
    return max(MARGIN, wait_before(Budget(cost.status, 0.0), cost.requested, 0.0))


def query_limit(status: ThrottleStatus | None) -> float:
    """The most one query may request: Shopify's single-query limit, or the bucket if it is smaller
    (a query the bucket cannot hold would be throttled forever)."""
    if status is None or status.maximum <= 0:
        return SINGLE_QUERY_LIMIT
    return min(SINGLE_QUERY_LIMIT, status.maximum)


def page_size(first: int, requested: float | None, limit: float, *, ceiling: int = 250) -> int:
    """How many nodes the next page should ask for, given that asking for `first` requested
    `requested` points: as many as fit within `limit` (Shopify allows at most 250 a page)."""
    if not requested or first <= 0:
        return max(1, min(first, ceiling))
    per_node = max((requested - CONNECTION_OVERHEAD) / first, 1e-9)
    fitting = math.floor((limit - CONNECTION_OVERHEAD) / per_node)
    return max(1, min(ceiling, fitting))


def retry_after(header: str | None, ceiling: float = LONGEST_WAIT) -> float | None:
    """Seconds of a Retry-After header (Shopify sends "2.0"), or None when it says nothing usable."""
    if not header:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, ceiling)
