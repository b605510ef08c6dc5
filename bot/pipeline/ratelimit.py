"""The rate limit of a phone number: send slots spaced so that no second holds more than the limit.

`RateLimiter` spaces the sends of one process (SQLite's single-process mode). `SharedRateLimiter`
takes its slots from one sequence in PostgreSQL (`rate_slots`), shared by every sender process of
the number: a process takes a short block of consecutive slots at a time, so processes joining and
leaving never make two of them use the same slot, and the sum at the receiver stays under the
limit. docs/sending.md explains the choice.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Callable, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.core.db import insert_ignoring_conflicts
from bot.core.tables import rate_slots

# A block of slots is this much of the limit's time: short enough that a process that stops
# sending wastes little, long enough that taking slots costs one statement per 50 ms per process.
BLOCK_SECONDS = 0.05
OFFSET_MAX_AGE_NS = 60 * 1_000_000_000
OFFSET_PROBES = 5  # round trips measured when a limiter starts; the shortest sets the offset
_DB_NOW_NS = "(extract(epoch FROM clock_timestamp()) * 1000000000)::bigint"  # the database's clock


class Limiter(Protocol):
    interval_ns: int

    def acquire(self, max_late_ns: int | None = None) -> int: ...

    def reserve(self) -> int: ...

    def wait(self, slot: int, ahead_ns: int = 0) -> None: ...

    def late(self, slot: int, max_late_ns: int) -> bool: ...


class RateLimiter:
    """Spaces sends evenly so that no second ever holds more than `rate` of them.

    Integer nanoseconds, so that float drift can never squeeze one send too many into a second.
    """

    def __init__(self, rate: float, clock: Callable[[], int] = time.monotonic_ns,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval_ns = math.ceil(1e9 / rate)
        self._clock, self._sleep = clock, sleep
        self._next = 0
        self._lock = threading.Lock()

    def _take(self) -> int:
        with self._lock:
            slot = max(self._clock(), self._next)
            self._next = slot + self.interval_ns
            return slot

    def acquire(self, max_late_ns: int | None = None) -> int:
        """Wait for the next free slot. With `max_late_ns`, a caller that gets to run more than
        that long after its slot (a thread descheduled on a busy machine) gives the slot up and
        takes a new one: sent late, it would arrive bunched with the sends of the slots after
        it, and the receiver would count more than `rate` in a second. Returns the slot taken
        (nanoseconds of the limiter's clock)."""
        while True:
            slot = self.reserve()
            self.wait(slot)
            if max_late_ns is None or not self.late(slot, max_late_ns):
                return slot

    def reserve(self) -> int:
        """Take the next free slot without waiting for it: a caller with work to do before its
        send (the sender's hand-over) does it while the slot comes near, then `wait`s for it."""
        return self._take()

    def wait(self, slot: int, ahead_ns: int = 0) -> None:
        """Sleep until `ahead_ns` before `slot` (at once if that has passed)."""
        delay = slot - ahead_ns - self._clock()
        if delay > 0:
            self._sleep(delay / 1e9)

    def late(self, slot: int, max_late_ns: int) -> bool:
        return self._clock() - slot > max_late_ns


class SharedRateLimiter(RateLimiter):
    """Slots from the database's sequence for `key` (PostgreSQL), spaced `1/rate` apart across
    every process that uses the same key.

    The sequence is kept in nanoseconds of the database's clock; each block taken is moved onto
    this process's monotonic clock with the offset measured by that same statement (its error is
    half the round trip, well under a millisecond next to the database)."""

    def __init__(self, engine: Engine, key: str, rate: float, *, clock: Callable[[], int] = time.monotonic_ns,
                 sleep: Callable[[float], None] = time.sleep, block: int | None = None):
        super().__init__(rate, clock, sleep)
        self._engine = engine
        self.key = key
        self.block = block or max(1, math.ceil(rate * BLOCK_SECONDS))
        self._slots: deque[int] = deque()
        self._offset: int | None = None  # local monotonic ns minus the database's epoch ns
        self._round_trip = 0
        self._measured_at = 0
        with engine.begin() as conn:
            insert_ignoring_conflicts(conn, rate_slots, [{"key": key, "next_ns": 0}], ["key"])
        for _ in range(OFFSET_PROBES):
            self._probe()

    _NOW = sa.text(f"SELECT {_DB_NOW_NS}")

    def _probe(self) -> None:
        """Measure the clocks' offset once more, off the sending path: the first block taken on a
        busy machine may have a long round trip, and the offset's error is half of it."""
        before = self._clock()
        with self._engine.connect() as conn:
            db_now = conn.execute(self._NOW).scalar_one()
        self._learn_offset(db_now, before, self._clock())

    @property
    def offset_error_ns(self) -> int:
        """At most how far this process's slots may sit from the sequence's (half a round trip)."""
        return self._round_trip // 2 + 1

    _TAKE = sa.text(
        f"WITH now AS (SELECT {_DB_NOW_NS} AS ns) "
        "UPDATE rate_slots SET next_ns = GREATEST(rate_slots.next_ns, now.ns) + :span FROM now "
        "WHERE rate_slots.key = :key RETURNING rate_slots.next_ns - :span AS first, now.ns AS db_now"
    )

    def _refill(self) -> None:
        before = self._clock()
        with self._engine.begin() as conn:
            first, db_now = conn.execute(self._TAKE, {"key": self.key,
                                                      "span": self.block * self.interval_ns}).one()
        after = self._clock()
        self._learn_offset(db_now, before, after)
        start = first + self._offset
        self._slots.extend(start + i * self.interval_ns for i in range(self.block))

    def _learn_offset(self, db_now: int, before: int, after: int) -> None:
        """The two clocks' offset, from the statement with the shortest round trip seen (its error
        is at most half of it), measured again now and then in case either clock drifts."""
        round_trip = after - before
        if (self._offset is None or round_trip <= self._round_trip
                or after - self._measured_at > OFFSET_MAX_AGE_NS):
            self._offset = (before + after) // 2 - db_now
            self._round_trip, self._measured_at = round_trip, after

    def _take(self) -> int:
        with self._lock:
            now = self._clock()
            while self._slots and self._slots[0] < now - self.interval_ns:
                self._slots.popleft()  # left over from an idle spell: another process may own that second now
            if not self._slots:
                self._refill()
            return self._slots.popleft()


def rate_key(phone_number_id: str | None) -> str:
    return f"phone:{phone_number_id or 'sandbox'}"
