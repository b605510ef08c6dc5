"""The clock's one reading: an aware UTC datetime. Decisions take `now` as an argument; only the
edges (commands, processes, request handlers) call this."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
