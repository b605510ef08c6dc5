"""Which step of the abandoned-checkout sequence is due: pure, from a checkout, its steps already
sent and `now` (docs/automations.md).

Step k is due at the checkout's last update + after_minutes[k]. A step goes at most once per
checkout, and a step more than STEP_GRACE late (the scheduler was down, a synced checkout from
last month) is not sent: a reminder of a cart from days ago reads as spam. When several steps
are due at once, only the latest goes; the earlier ones are passed over.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

STEP_GRACE = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class OpenCheckout:
    token: str
    customer_id: int
    updated_at: datetime
    steps_done: int  # one more than the highest step recorded for this checkout; 0 when none


def due_step(checkout: OpenCheckout, after_minutes: Sequence[int], now: datetime,
             grace: timedelta = STEP_GRACE) -> int | None:
    """The step to send now, or None."""
    due = [k for k, minutes in enumerate(after_minutes) if checkout.updated_at + timedelta(minutes=minutes) <= now]
    if not due:
        return None
    step = due[-1]
    if step < checkout.steps_done:
        return None
    if now - (checkout.updated_at + timedelta(minutes=after_minutes[step])) > grace:
        return None
    return step


def scan_window(after_minutes: Sequence[int], now: datetime, grace: timedelta = STEP_GRACE
                ) -> tuple[datetime, datetime]:
    """(oldest, newest) last update of a checkout that can have a step due at `now`."""
    return now - timedelta(minutes=max(after_minutes)) - grace, now - timedelta(minutes=min(after_minutes))
