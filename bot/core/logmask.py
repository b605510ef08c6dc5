"""No log line and no stored error text carries a whole phone number or a message body.

Code logs customers through `mask` (bot/conversation/customers.py); this is the net under it,
for every level and every library: a digit run that could be a phone number keeps its last four
digits, so does a business-scoped user id (its country prefix too), and the parameters
SQLAlchemy appends to a database error (which hold texts and numbers) are dropped. `install` puts
the filter on the handlers of the root logger.
"""
from __future__ import annotations

import logging
import re

# 8 or more digits, optionally with a leading + and spaces or dashes between them (not a date).
PHONE_LIKE = re.compile(r"(?<![\w.:\-])\+?\d(?:[ \-]?\d){7,}(?![\w:])")
DATE_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}")
SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\s*(?:\(Background|\Z|\n))", re.S)
# A business-scoped user id (a username customer's key, docs/usernames.md): "BR.1349…", with a digit.
USER_ID_LIKE = re.compile(r"(?<![\w.])([A-Z]{2}\.(?:ENT\.)?)(?=[A-Za-z]*\d)([A-Za-z0-9]{6,128})(?![\w.])")


def mask_text(text: str) -> str:
    text = SQL_PARAMETERS.sub("[parameters: hidden]", text)
    text = USER_ID_LIKE.sub(lambda m: f"{m.group(1)}…{m.group(2)[-4:]}", text)
    return PHONE_LIKE.sub(_mask_number, text)


def _mask_number(match: re.Match) -> str:
    found = match.group()
    if DATE_LIKE.match(found):
        return found
    return "…" + re.sub(r"\D", "", found)[-4:]


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if masked != message:
            record.msg, record.args = masked, None
        return True


FILTER = MaskingFilter()


def install(logger: logging.Logger | None = None) -> None:
    """Mask on every handler of `logger` (the root logger by default); safe to call again."""
    for handler in (logger or logging.getLogger()).handlers:
        if FILTER not in handler.filters:
            handler.addFilter(FILTER)
