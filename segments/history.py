"""A segment's size over time, for the store owner's console: read-only.

Every refresh records the members of each segment (`segment_refreshes.counts`) and who entered
and left (`segment_events`, at the refresh's `now`), so the history is one point per refresh,
grouped by store-local day once a window holds more refreshes than a chart can show.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.conversation.customers import display_name_sql
from bot.core.tables import customers
from segments.tables import segment_events, segment_refreshes

# More refreshes than this in the window (a full one runs every 15 minutes) become one point a day.
MAX_POINTS = 240
# Customers named per change (entered, left) in the last day; the counts are always whole.
NAMED = 20
DAY = timedelta(days=1)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def size_history(conn: Connection, segment: str, now: datetime, days: int, zone: str) -> dict[str, Any]:
    """For the `days` before `now`: {"points": [{"at", "count", "entered", "exited"}], "bucket":
    "refresh" | "day"}; "last_24h": who entered and who left in the 24 hours up to the latest
    refresh ({"since", "until", "entered", "exited", "entered_customers", "exited_customers"}, or
    None before the first refresh); "last_change": the latest refresh that moved anyone in or out
    ({"at", "entered", "exited"}, or None)."""
    since = now - timedelta(days=days)
    r, e = segment_refreshes.c, segment_events.c
    refreshes = conn.execute(
        sa.select(r.id, r.now, r.kind, r.counts[segment].as_integer().label("count"))
        .where(r.now > since, r.now <= now).order_by(r.now, r.id)).all()
    changes: dict[datetime, dict[str, int]] = {}
    for at, change, n in conn.execute(
            sa.select(e.at, e.change, sa.func.count()).where(e.segment == segment, e.at > since, e.at <= now)
            .group_by(e.at, e.change)):
        changes.setdefault(at, {"enter": 0, "exit": 0})[change] = n

    by_time: dict[datetime, dict[str, Any]] = {}
    for row in refreshes:
        if row.count is None:  # a refresh from before this segment was configured
            continue
        moved = changes.get(row.now, {})
        by_time[row.now] = {"at": row.now, "count": int(row.count), "entered": moved.get("enter", 0),
                            "exited": moved.get("exit", 0)}
    points = sorted(by_time.values(), key=lambda p: p["at"])
    bucket = "refresh"
    if len(points) > MAX_POINTS:
        points, bucket = _by_day(points, ZoneInfo(zone)), "day"

    until = conn.execute(sa.select(sa.func.max(r.now)).where(r.now <= now)).scalar()
    last_day = None
    if until is not None:
        day_start = until - DAY
        window = (e.segment == segment, e.at > day_start, e.at <= until)
        totals = dict(conn.execute(sa.select(e.change, sa.func.count()).where(*window).group_by(e.change)).all())
        last_day = {"since": _iso(day_start), "until": _iso(until), "entered": totals.get("enter", 0),
                    "exited": totals.get("exit", 0), "entered_customers": _named(conn, window, "enter"),
                    "exited_customers": _named(conn, window, "exit")}
    changed_at = conn.execute(sa.select(sa.func.max(e.at)).where(e.segment == segment, e.at <= now)).scalar()
    last_change = None
    if changed_at is not None:
        moved = dict(conn.execute(sa.select(e.change, sa.func.count()).where(e.segment == segment, e.at == changed_at)
                                  .group_by(e.change)).all())
        last_change = {"at": _iso(changed_at), "entered": moved.get("enter", 0), "exited": moved.get("exit", 0)}
    return {"segment": segment, "days": days, "bucket": bucket,
            "points": [{**p, "at": _iso(p["at"])} for p in points], "last_24h": last_day, "last_change": last_change}


def _by_day(points: list[dict[str, Any]], zone: ZoneInfo) -> list[dict[str, Any]]:
    """One point per store-local day: the day's last size, and its entries and exits summed."""
    days: dict[Any, dict[str, Any]] = {}
    for p in points:
        day = days.setdefault(p["at"].astimezone(zone).date(), {"entered": 0, "exited": 0})
        day.update(at=p["at"], count=p["count"])
        day["entered"] += p["entered"]
        day["exited"] += p["exited"]
    return [{"at": d["at"], "count": d["count"], "entered": d["entered"], "exited": d["exited"]}
            for d in days.values()]


def _named(conn: Connection, window: tuple, change: str) -> list[dict[str, Any]]:
    """The first NAMED customers of a change in the window, most recent first."""
    e, c = segment_events.c, customers.c
    rows = conn.execute(sa.select(c.wa_id, c.user_id, display_name_sql().label("name"))
                        .select_from(segment_events.join(customers, c.id == e.customer_id))
                        .where(*window, e.change == change).order_by(e.at.desc(), e.id).limit(NAMED)).all()
    return [{"wa_id": row.wa_id, "key": row.wa_id or row.user_id, "name": row.name or row.wa_id or "?"}
            for row in rows]
