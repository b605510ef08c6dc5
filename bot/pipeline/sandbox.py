"""The sandbox transport: used when WABOT_WHATSAPP_TOKEN is unset. Messages are recorded, not sent,
so `wabot chat` and the /sandbox page can show what the bot would have said.

`StatusSimulator` plays Meta's part after a send, where it is switched on (`wabot demo`, `wabot
serve --sandbox-statuses`): for the messages the sandbox recorded, in any process, it produces
the `delivered` and then `read` status webhooks a real phone would cause, a realistic share of
them after a short delay, decided by a hash of the message id (the same message always gets the
same statuses). They go in through the inbound path a real status webhook takes (stored by
`intake.store`, applied by the inbound worker), so outbox states, read receipts and campaign
stats move as they would with WhatsApp itself (docs/sending.md, "The sandbox").
"""
from __future__ import annotations

import hashlib
import heapq
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.core.batching import Batcher
from bot.core.tables import sandbox_messages
from bot.core.times import utcnow

log = logging.getLogger(__name__)
LOOKBACK = 500  # recorded rows looked at again each round (StatusSimulator)
RESTART_LOOK_BACK_SECONDS = 60.0  # at start, messages recorded this long before their last status is due are planned


class SandboxTransport:
    def __init__(self, engine: Engine):
        self._engine = engine
        # Concurrent sends share a transaction, as hand-overs and results do (bot/core/batching.py).
        self._records = Batcher(engine, _record_all, name="sandbox messages")

    def send(self, body: dict) -> str:
        message_id = f"wamid.sandbox.{uuid.uuid4().hex}"
        recipient = body.get("to") or body.get("recipient") or ""
        self._records.submit({"recipient": recipient, "wa_message_id": message_id, "payload": body,
                              "created_at": utcnow()})
        return message_id

    def mark_read(self, message_id: str, typing: bool = False) -> None:
        """Nobody is there to see blue ticks or the typing indicator."""

    def close(self) -> None:
        """Nothing to release."""


def _record_all(conn: Connection, rows: list[dict]) -> list[None]:
    conn.execute(sa.insert(sandbox_messages), rows)
    return [None] * len(rows)


def messages_since(conn: Connection, recipient: str | None, after_id: int, limit: int = 200) -> list[dict]:
    query = sa.select(sandbox_messages).where(sandbox_messages.c.id > after_id)
    if recipient:
        query = query.where(sandbox_messages.c.recipient == recipient)
    rows = conn.execute(query.order_by(sandbox_messages.c.id).limit(limit)).mappings()
    return [
        {"id": r["id"], "to": r["recipient"], "message_id": r["wa_message_id"], "payload": r["payload"],
         "created_at": r["created_at"].isoformat()}
        for r in rows
    ]


# ---------------------------------------------------------------- simulated delivery and read statuses

@dataclass(frozen=True)
class StatusPlan:
    """Which statuses a sent message gets, and when: a pure function of its message id.

    Of the messages sent, `delivered_share` reach the phone `delivered_after` seconds later (a
    uniform draw within the range); of those, `read_share` are read `read_after` seconds after
    delivery. The rest stay `sent` (a phone that is off) or `delivered` (not opened yet)."""

    delivered_share: float = 0.95
    read_share: float = 0.7
    delivered_after: tuple[float, float] = (0.5, 2.0)
    read_after: tuple[float, float] = (1.5, 8.0)

    def __post_init__(self) -> None:
        if not (0 <= self.delivered_share <= 1 and 0 <= self.read_share <= 1):
            raise ValueError("shares are between 0 and 1")
        for low, high in (self.delivered_after, self.read_after):
            if not 0 <= low <= high:
                raise ValueError("a delay range is (low, high) with 0 <= low <= high")

    @property
    def longest(self) -> float:
        """The longest a message can wait for its last status, in seconds."""
        return self.delivered_after[1] + self.read_after[1]

    def statuses(self, message_id: str) -> list[tuple[str, float]]:
        """[(status, seconds after the send)], in order: [], delivered, or delivered then read."""
        digest = hashlib.sha256(message_id.encode()).digest()
        draws = [int.from_bytes(digest[i * 4:i * 4 + 4], "big") / 2 ** 32 for i in range(4)]
        if draws[0] >= self.delivered_share:
            return []
        delivered = _within(self.delivered_after, draws[1])
        if draws[2] >= self.read_share:
            return [("delivered", delivered)]
        return [("delivered", delivered), ("read", delivered + _within(self.read_after, draws[3]))]


def _within(bounds: tuple[float, float], draw: float) -> float:
    low, high = bounds
    return low + (high - low) * draw


@dataclass(order=True, frozen=True)
class _Due:
    at: datetime
    message_id: str
    status: str
    recipient: str
    callback_data: str | None


def status_payload(due: "_Due") -> dict:
    """The status webhook Meta would send for it (a username customer is named by recipient_user_id)."""
    from bot.whatsapp import simulate

    payload = simulate.status_payload(due.message_id, due.status, due.recipient, timestamp=due.at.timestamp(),
                                      callback_data=due.callback_data)
    if due.recipient and not due.recipient.isdigit():
        entry = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
        entry["recipient_user_id"] = entry.pop("recipient_id")
    return payload


class StatusSimulator:
    """Watches what the sandbox recorded (by any process: the sender of `serve`, a `wabot campaigns
    run` next to it) and stores the planned statuses when they are due.

    What it has planned lives in memory: statuses due when the process stops are not produced
    then; at start it plans the messages recorded in the last minute (plus the plan's longest
    delay), so a restart misses nothing recent, and leaves older ones alone. A status stored
    twice is dropped by the inbound queue (its key is message id + status)."""

    def __init__(self, engine: Engine, plan: StatusPlan = StatusPlan(), *,
                 on_stored: Callable[[], None] | None = None, poll: float = 0.25,
                 clock: Callable[[], datetime] = utcnow):
        self.engine = engine
        self.plan = plan
        self.on_stored = on_stored
        self.poll = poll
        self.clock = clock
        self._due: list[_Due] = []
        self._last_id: int | None = None
        self._seen: set[int] = set()  # ids planned, of the last LOOKBACK
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "StatusSimulator":
        self._thread = threading.Thread(target=self._run, name="wabot-sandbox-statuses", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database away for a moment: try again on the next round
                log.exception("sandbox statuses: round failed")
            self._stop.wait(self.poll)

    def run_once(self) -> int:
        """Plan the statuses of newly recorded messages; store those now due. Returns how many
        statuses were stored."""
        now = self.clock()
        self._plan_new(now)
        due = []
        while self._due and self._due[0].at <= now:
            due.append(heapq.heappop(self._due))
        if not due:
            return 0
        self._store(due, now)
        return len(due)

    def pending(self) -> int:
        """Statuses planned and not yet due."""
        return len(self._due)

    def _plan_new(self, now: datetime) -> None:
        """Plan what was recorded since the last round. Ids are looked at again LOOKBACK rows back:
        a send committed after a later one (two processes sending) is not missed."""
        m = sandbox_messages.c
        columns = (m.id, m.wa_message_id, m.recipient, m.payload, m.created_at)
        with self.engine.connect() as conn:
            if self._last_id is None:  # the first round: what is recent enough to be still due
                top = conn.execute(sa.select(sa.func.coalesce(sa.func.max(m.id), 0))).scalar_one()
                since = now - timedelta(seconds=self.plan.longest + RESTART_LOOK_BACK_SECONDS)
                rows = conn.execute(sa.select(*columns).where(m.id <= top, m.id > top - LOOKBACK)
                                    .order_by(m.id)).all()
                self._seen.update(row.id for row in rows if row.created_at < since)  # too old to be due
                self._last_id = top
            else:
                rows = conn.execute(sa.select(*columns).where(m.id > self._last_id - LOOKBACK)
                                    .order_by(m.id).limit(LOOKBACK + 1000)).all()
        for row in rows:
            if row.id in self._seen:
                continue
            self._seen.add(row.id)
            self._last_id = max(self._last_id, row.id)
            payload = row.payload if isinstance(row.payload, dict) else {}
            callback = payload.get("biz_opaque_callback_data")
            for status, after in self.plan.statuses(row.wa_message_id):
                heapq.heappush(self._due, _Due(row.created_at + timedelta(seconds=after), row.wa_message_id, status,
                                               row.recipient, callback if isinstance(callback, str) else None))
        self._seen = {i for i in self._seen if i > self._last_id - LOOKBACK}

    def _store(self, due: list[_Due], now: datetime) -> None:
        from bot.conversation import intake
        from bot.whatsapp.events import parse_payload

        events = [event for item in due for event in parse_payload(status_payload(item))]
        with self.engine.begin() as conn:
            intake.store(conn, events, now)
        log.debug("sandbox statuses: %d stored", len(events))
        if self.on_stored is not None:
            self.on_stored()
