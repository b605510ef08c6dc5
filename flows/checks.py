"""What the flows need from the configuration, checked once at start (`serve`, `worker`, `actions`).

A reply naming an unknown segment or placeholder, an early-access segment that does not exist, or
an interests list WhatsApp cannot show is a one-line error before anything runs.
"""
from __future__ import annotations

from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.whatsapp import messages
from flows.replies import ReplyBook, known_segments


def check_settings(settings: Settings) -> ReplyBook:
    book = ReplyBook.from_settings(settings)
    known = set(known_segments(settings))
    for segment in settings.file.sale.early_access:
        if segment not in known:
            raise ConfigError(f"[sale] early_access names unknown segment {segment!r}")
    interests = settings.file.preferences.interests
    if len(interests) > messages.MAX_LIST_ROWS:
        raise ConfigError(f"[preferences] interests: {len(interests)} given, but a WhatsApp list shows at most "
                          f"{messages.MAX_LIST_ROWS}")
    seen: set[str] = set()
    for interest in interests:
        if not interest.strip():
            raise ConfigError("[preferences] interests: an empty interest")
        if interest.casefold() in seen:
            raise ConfigError(f"[preferences] interests: {interest!r} is listed twice")
        seen.add(interest.casefold())
    return book
