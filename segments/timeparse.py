"""`--now` and `?now=`: ISO 8601; a time without an offset is UTC (docs/segments.md, times)."""
from __future__ import annotations

from datetime import datetime, timezone

import click

from bot.core.errors import WabotError


def parse_now(raw: str) -> datetime:
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{raw!r} is not an ISO 8601 time, such as 2026-06-01T12:00:00Z") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class TimeParam(click.ParamType):
    """A time option of the commands (`--now`, `--since`); a bad value is the one-line
    `wabot: error: --now: ...`."""

    name = "TIME"

    def __init__(self, option: str = "--now"):
        self.option = option

    def convert(self, value, param, ctx):
        if isinstance(value, datetime):
            return value
        try:
            return parse_now(value)
        except ValueError as exc:
            raise WabotError(f"{self.option}: {exc}") from None


NOW = TimeParam("--now")
SINCE = TimeParam("--since")
