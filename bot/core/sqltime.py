"""Time arithmetic inside SQL that means the same on SQLite and PostgreSQL.

SQLAlchemy Core has no portable "timestamp + interval": PostgreSQL adds an interval, SQLite
compares julian day numbers (it stores our timestamps as ISO text).
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement


class Within(ColumnElement):
    """`event` falls in (start, start + window]: e.g. a reply within 24 h of delivery."""

    type = sa.Boolean()
    inherit_cache = False

    def __init__(self, event: ColumnElement, start: ColumnElement, window: timedelta):
        self.event = event
        self.start = start
        self.seconds = int(window.total_seconds())


def within(event: ColumnElement, start: ColumnElement, window: timedelta) -> Within:
    return Within(event, start, window)


@compiles(Within, "postgresql")
def _within_postgresql(element: Within, compiler, **kw) -> str:
    event, start = compiler.process(element.event, **kw), compiler.process(element.start, **kw)
    return f"({event} > {start} AND {event} <= {start} + interval '{element.seconds} seconds')"


@compiles(Within)
def _within_sqlite(element: Within, compiler, **kw) -> str:
    event, start = compiler.process(element.event, **kw), compiler.process(element.start, **kw)
    days = element.seconds / 86400
    return f"(julianday({event}) > julianday({start}) AND julianday({event}) <= julianday({start}) + {days!r})"
