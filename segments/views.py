"""The outside shapes of segments, shared by the CLI's --json/--csv output and the admin API:
`[{"name", "description", "count"}]` and `{"segment", "members": [{"wa_id", "customer_id", "name"}]}`.

Member lists are produced as a stream of rows (the customer id in them is Shopify's), so a
segment of a million customers is written out without being held in memory.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.conversation.customers import display_name_sql
from bot.core.tables import customers
from segments.engine import SegmentEngine
from segments.phones import display

CSV_COLUMNS = ("phone", "email", "first_name", "last_name", "name", "wa_id", "customer_id")


def segment_list(engine: SegmentEngine, conn: Connection, now: datetime) -> list[dict]:
    """Counts as of the last refresh; before the first refresh, computed live at `now`."""
    counts = engine.stored_counts(conn)
    if counts is None:
        counts = engine.live_counts(conn, now)
    return [{"name": d.name, "description": d.description, "count": counts.get(d.name, 0)}
            for d in engine.definitions()]


def member_rows(engine: SegmentEngine, conn: Connection, now: datetime, segment: str) -> Iterator[sa.Row]:
    c = customers.c
    ids = engine.member_ids(conn, now, segment=segment)
    query = (sa.select(c.id, c.wa_id, c.shopify_customer_id, display_name_sql().label("name"), c.first_name,
                       c.last_name, c.email)
             .where(c.id.in_(ids)).order_by(c.id).execution_options(yield_per=2000))
    yield from conn.execute(query)


def members_json(engine: SegmentEngine, conn: Connection, now: datetime, segment: str) -> Iterator[str]:
    """The members payload as JSON text, in pieces."""
    engine.definition(segment)  # unknown names fail before anything is written
    yield '{"segment": ' + json.dumps(segment) + ', "members": ['
    first = True
    for row in member_rows(engine, conn, now, segment):
        item = {"wa_id": row.wa_id, "customer_id": row.shopify_customer_id, "name": row.name}
        yield ("" if first else ", ") + json.dumps(item)
        first = False
    yield "]}"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """A text cell a spreadsheet will not run as a formula: one starting with = + - @ tab or CR
    (a customer can name themselves =HYPERLINK(...)) gets a leading apostrophe (OWASP's advice)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def members_csv(engine: SegmentEngine, conn: Connection, now: datetime, segment: str) -> Iterator[str]:
    """Members for other channels (ads audiences, email, SMS): phone in E.164 with "+"."""
    engine.definition(segment)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in member_rows(engine, conn, now, segment):
        # The E.164 phone keeps its "+": it is a number a spreadsheet shows, never a formula.
        writer.writerow([display(row.wa_id) or "", *map(csv_cell, (row.email, row.first_name, row.last_name,
                                                                  row.name)),
                         row.wa_id or "", row.shopify_customer_id or ""])
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
