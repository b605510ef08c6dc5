"""bot/shopify/throttle.py: Shopify's cost arithmetic, pure."""
from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from bot.shopify import throttle
from bot.shopify.throttle import Budget, Cost, ThrottleStatus

# The answer Shopify documents for a throttled query (shopify.dev, GraphQL Admin API rate limits).
THROTTLED = {"cost": {"requestedQueryCost": 752, "actualQueryCost": None,
                      "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 666, "restoreRate": 50.0}}}


def test_the_cost_of_an_answer_is_read():
    cost = throttle.parse_cost(THROTTLED)
    assert cost == Cost(752.0, None, ThrottleStatus(1000.0, 666.0, 50.0))


def test_costs_that_make_no_sense_are_not_believed():
    assert throttle.parse_cost(None) is None
    assert throttle.parse_cost({"cost": "cheap"}) is None
    cost = throttle.parse_cost({"cost": {"requestedQueryCost": "12", "actualQueryCost": -3,
                                         "throttleStatus": {"maximumAvailable": True, "currentlyAvailable": 1,
                                                            "restoreRate": 50}}})
    assert cost == Cost(None, None, None)
    nan = throttle.parse_cost({"cost": {"throttleStatus": {"maximumAvailable": 100, "currentlyAvailable": math.nan,
                                                           "restoreRate": 5}}})
    assert nan.status is None
    # More available than the maximum: the maximum.
    assert throttle.parse_cost({"cost": {"throttleStatus": {"maximumAvailable": 100, "currentlyAvailable": 150,
                                                            "restoreRate": 5}}}).status.available == 100


def test_the_bucket_refills_at_the_restore_rate_up_to_its_size():
    budget = Budget(ThrottleStatus(1000, 100, 50), at=10.0)
    assert budget.available(10.0) == 100
    assert budget.available(12.0) == 200
    assert budget.available(9.0) == 100  # a clock that went back refills nothing
    assert budget.available(100.0) == 1000


def test_a_query_waits_for_what_it_requests():
    budget = Budget(ThrottleStatus(1000, 100, 50), at=0.0)
    assert throttle.wait_before(None, 500, 0.0) == 0  # nothing known yet
    assert throttle.wait_before(budget, None, 0.0) == 0  # a query never sent: its answer will say
    assert throttle.wait_before(budget, 80, 0.0) == 0
    assert throttle.wait_before(budget, 600, 0.0) == 10 + throttle.MARGIN
    assert throttle.wait_before(budget, 600, 4.0) == 6 + throttle.MARGIN
    assert throttle.wait_before(budget, 5000, 0.0) == 18 + throttle.MARGIN  # more than fits: a full bucket
    assert throttle.wait_before(Budget(ThrottleStatus(1000, 0, 0), 0.0), 10, 0.0) == throttle.LONGEST_WAIT


def test_after_throttled_the_wait_is_until_the_request_fits():
    assert math.isclose(throttle.throttled_wait(throttle.parse_cost(THROTTLED)), (752 - 666) / 50 + throttle.MARGIN)
    assert throttle.throttled_wait(None) == 1.0
    # Shopify said THROTTLED though our numbers say it fits: wait a little anyway, never zero.
    full = Cost(10, None, ThrottleStatus(1000, 1000, 50))
    assert throttle.throttled_wait(full) == throttle.MARGIN


def test_pages_are_sized_to_the_cost_limit():
    # 10 orders requested 622 points: 62 a node, so 16 fit in 1,000.
    assert throttle.page_size(10, 622, 1000) == 16
    assert throttle.page_size(10, 622, 100) == 1
    assert throttle.page_size(250, 252, 1000) == 250  # cheap nodes: Shopify's 250 at most
    assert throttle.page_size(10, None, 1000) == 10
    assert throttle.query_limit(ThrottleStatus(500, 500, 25)) == 500
    assert throttle.query_limit(ThrottleStatus(2000, 0, 100)) == 1000
    assert throttle.query_limit(None) == 1000


def test_retry_after_is_read_as_seconds():
    assert throttle.retry_after("2.0") == 2.0
    assert throttle.retry_after(" 1 ") == 1.0
    assert throttle.retry_after("soon") is None
    assert throttle.retry_after("-1") is None
    assert throttle.retry_after("inf") is None
    assert throttle.retry_after("86400") == throttle.LONGEST_WAIT
    assert throttle.retry_after(None) is None


amounts = st.floats(0, 5000, allow_nan=False)


@given(maximum=st.floats(1, 5000), available=amounts, rate=st.floats(0.5, 2000), cost=amounts,
       elapsed=st.floats(0, 100))
def test_waiting_as_told_is_enough_and_never_negative(maximum, available, rate, cost, elapsed):
    budget = Budget(ThrottleStatus(maximum, min(available, maximum), rate), at=0.0)
    wait = throttle.wait_before(budget, cost, elapsed)
    assert 0 <= wait <= throttle.LONGEST_WAIT
    if wait < throttle.LONGEST_WAIT:
        assert budget.available(elapsed + wait) >= min(cost, maximum) - 1e-6


@given(first=st.integers(1, 250), per_node=st.floats(0.01, 2000), limit=st.floats(3, 1000))
def test_a_sized_page_fits_its_limit(first, per_node, limit):
    requested = throttle.CONNECTION_OVERHEAD + first * per_node
    size = throttle.page_size(first, requested, limit)
    assert 1 <= size <= 250
    if size > 1:
        assert throttle.CONNECTION_OVERHEAD + size * per_node <= limit * (1 + 1e-9)
