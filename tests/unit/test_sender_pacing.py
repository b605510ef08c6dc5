"""Pacing as the receiver counts it: a send that gets to run late takes a new slot, so that no
second of arrivals holds more than the limit however the threads are scheduled."""
from __future__ import annotations

import random
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.pipeline.ratelimit import RateLimiter
from bot.pipeline.sender import concurrency_for


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 ** 32), st.integers(1, 40))
def test_late_sends_never_bunch_more_than_the_rate_into_a_second(seed, max_late_ms):
    rng = random.Random(seed)
    clock = [0]
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        # The thread wakes after its slot, sometimes much later (descheduled on a busy machine).
        with lock:
            clock[0] += round(seconds * 1e9) + (rng.choice([0, 0, 0, 1, 7, 30]) * 1_000_000)

    rate = 50
    limiter = RateLimiter(rate, clock=lambda: clock[0], sleep=sleep)
    tolerance = max_late_ms * 1_000_000
    slots, sent = [], []
    for _ in range(300):
        slots.append(limiter.acquire(tolerance))
        sent.append(clock[0])  # the moment the request goes out
    # every send goes within `tolerance` of its own slot, and no slot is handed out twice...
    assert all(0 <= t - s <= tolerance for s, t in zip(slots, sent))
    assert all(b - a >= limiter.interval_ns for a, b in zip(slots, slots[1:]))
    # ...so a second of sends, as the receiver counts them, holds at most rate * (1 s + tolerance) + 1
    bound = int(rate * (1 + tolerance / 1e9)) + 1
    for i, start in enumerate(sent):
        assert sum(1 for t in sent[i:] if t < start + 1_000_000_000) <= bound


def test_acquire_without_tolerance_never_retries():
    calls = []
    limiter = RateLimiter(10, clock=lambda: 5_000_000_000, sleep=calls.append)
    limiter.acquire()
    limiter.acquire()
    assert len(calls) == 1  # the second slot is 0.1 s away


def test_concurrency_follows_the_rate():
    assert concurrency_for(80) == 12
    assert concurrency_for(10) == 8
    assert concurrency_for(1000) == 128
