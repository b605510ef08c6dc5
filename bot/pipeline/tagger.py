"""Cash-on-delivery answers become tags on the order in Shopify (docs/automations.md).

The answer is recorded at once (`cod_confirmations.tag_state = 'pending'`, with the tag); this
background loop adds the tag through the Admin API (`tagsAdd`), so an answer survives Shopify
being down. A failure is tried again after 30 s, doubling, at most an hour apart; after
`max_attempts` the row is `failed`, with its error, for the owner to see.

Several processes may run it. A row is claimed by moving its `tag_next_at` a lease ahead in the
same UPDATE that checks it is still due, in a short transaction: whoever's UPDATE matched it owns
it for the lease, the others' match nothing. Shopify is called outside any transaction.
"""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.automations.tables import cod_confirmations
from bot.core.errors import WabotError
from bot.core.logmask import mask_text
from bot.core.times import utcnow
from bot.shopify.admin import AdminClient

log = logging.getLogger(__name__)

# Long enough for one tagsAdd with the client's own retries. A process that dies holding a claim
# leaves the row to be tried again when the lease ends; had its call reached Shopify, the tag is
# added a second time, which changes nothing: tagsAdd keeps the tags an order already has.
LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_RETRY = timedelta(hours=1)
PER_ROUND = 50

c = cod_confirmations.c


def retry_after(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 30 s, 60 s, 2 min ... at most 1 h."""
    return min(LONGEST_RETRY, FIRST_RETRY * 2 ** min(max(0, attempts - 1), 20))


class ShopifyTagger:
    def __init__(self, engine: Engine, client: AdminClient, clock: Callable[[], datetime] = utcnow,
                 max_attempts: int = 8):
        self.engine = engine
        self.client = client
        self.clock = clock
        self.max_attempts = max_attempts

    def run_once(self) -> dict:
        """Tag the orders whose tag is due; how many were tagged, failed for good, or will be retried."""
        counts = {"tagged": 0, "failed": 0, "retrying": 0}
        for order_id, tag, attempts in self._claim(self.clock()):
            if not tag:  # nothing Shopify could do: failed at once
                counts[self._failed(order_id, self.max_attempts, WabotError("no tag to add"))] += 1
                continue
            try:
                self.client.tags_add(order_id, [tag])
            except WabotError as exc:  # ShopifyError and the client's other one-line errors
                counts[self._failed(order_id, attempts + 1, exc)] += 1
                continue
            except Exception:  # a bug, not Shopify: the row is tried again when its lease ends
                log.exception("tagging order %s in Shopify failed", order_id)
                continue
            with self.engine.begin() as conn:
                conn.execute(sa.update(cod_confirmations).where(c.order_id == order_id, c.tag_state == "pending")
                             .values(tag_state="done", tagged_at=self.clock(), tag_error=None, tag_next_at=None))
            counts["tagged"] += 1
            log.info("order %s tagged %r in Shopify", order_id, tag)
        return counts

    def _claim(self, now: datetime) -> list[tuple[int, str | None, int]]:
        due = sa.and_(c.tag_state == "pending", sa.or_(c.tag_next_at.is_(None), c.tag_next_at <= now))
        claimed = []
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(c.order_id, c.tag, c.tag_attempts).where(due)
                                .order_by(c.tag_next_at, c.order_id).limit(PER_ROUND)).all()
            for order_id, tag, attempts in rows:
                # Still due? Another process may have claimed it since the SELECT (PostgreSQL
                # re-checks the WHERE after waiting for that process's lock; SQLite writes one at a time).
                taken = conn.execute(sa.update(cod_confirmations).where(c.order_id == order_id, due)
                                     .values(tag_next_at=now + LEASE))
                if taken.rowcount == 1:
                    claimed.append((order_id, tag, attempts or 0))
        return claimed

    def _failed(self, order_id: int, attempts: int, exc: Exception) -> str:
        now = self.clock()
        error = mask_text(" ".join(str(exc).split()))[:300] or exc.__class__.__name__
        final = attempts >= self.max_attempts
        values = {"tag_attempts": attempts, "tag_error": error,
                  "tag_state": "failed" if final else "pending",
                  "tag_next_at": None if final else now + retry_after(attempts)}
        with self.engine.begin() as conn:
            conn.execute(sa.update(cod_confirmations).where(c.order_id == order_id, c.tag_state == "pending")
                         .values(**values))
        if final:
            log.warning("order %s: gave up adding its tag in Shopify after %d tries: %s", order_id, attempts, error)
            return "failed"
        log.info("order %s: adding its tag in Shopify failed (try %d of %d), again in %s: %s", order_id, attempts,
                 self.max_attempts, retry_after(attempts), error)
        return "retrying"

    def run_forever(self, stop: threading.Event, interval: float = 5.0) -> None:
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database was away, say: the next round tries again; a timer must not die
                log.exception("tagging orders in Shopify failed")
            stop.wait(interval)
