"""How long to wait before trying again: one exponential backoff for the inbound queue and the
outbox, configured by `[delivery]` in wabot.toml (docs/sending.md, retries)."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Backoff:
    """`base` seconds after the first failure, doubling each time, at most `cap`; with jitter
    (±25 %) so that a burst of failures does not come back as a burst."""

    base: float = 1.0
    cap: float = 300.0
    jitter: bool = True

    def delay(self, attempts: int, retry_after: float | None = None,
              rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the `attempts`-th failed try. A server's Retry-After wins."""
        if retry_after is not None:
            return retry_after
        raw = min(self.cap, self.base * 2.0 ** max(0, attempts - 1))
        return raw * (0.75 + rand() / 2) if self.jitter else raw
