"""Reading segment membership as the last refresh stored it: cheap lookups for the flows, the
agent console and the replies (`segment_priority`)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from segments.tables import segment_members


def current_segments(conn: Connection, customer_id: int, now: datetime | None = None) -> tuple[str, ...]:
    """The segments a customer is in, by name. `now` is accepted for the flows' lookup signature;
    membership is as of the last refresh."""
    rows = conn.execute(_CURRENT, {"customer_id": customer_id})
    return tuple(r[0] for r in rows)


# Built once: every reply reads its customer's segments.
_CURRENT = (sa.select(segment_members.c.segment).where(segment_members.c.customer_id == sa.bindparam("customer_id"))
            .order_by(segment_members.c.segment))


def segments_with_reasons(conn: Connection, customer_id: int) -> list[dict]:
    """[{"segment", "entered_at", "reason"}] for one customer, by segment name."""
    rows = conn.execute(sa.select(segment_members).where(segment_members.c.customer_id == customer_id)
                        .order_by(segment_members.c.segment)).mappings()
    return [{"segment": r["segment"], "entered_at": r["entered_at"], "reason": r["reason"] or {}} for r in rows]
