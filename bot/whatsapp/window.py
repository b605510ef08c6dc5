"""WhatsApp's customer service window, and the one decision of free-form text vs. template.

Pure: every function takes the times it needs and `now`; nothing here reads a clock or a database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

SERVICE_WINDOW = timedelta(hours=24)
# Answering a click-to-WhatsApp ad referral within 24 h opens 72 h in which every message is free.
FREE_ENTRY_POINT_WINDOW = timedelta(hours=72)


def window_expires_at(last_inbound_at: datetime | None) -> datetime | None:
    """When free-form messages stop being allowed: 24 h after the customer's last message."""
    return last_inbound_at + SERVICE_WINDOW if last_inbound_at is not None else None


def window_open(last_inbound_at: datetime | None, now: datetime) -> bool:
    expires = window_expires_at(last_inbound_at)
    return expires is not None and now < expires


def latest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    """The later of two inbound times: a redelivered old message never moves the window back."""
    if current is None:
        return candidate
    if candidate is None:
        return current
    return max(current, candidate)


Form = Literal["freeform", "template", "none"]


@dataclass(frozen=True)
class SendForm:
    form: Form
    reason: str  # window_open | window_closed | window_closed_no_template | window_open_no_text


def choose_form(last_inbound_at: datetime | None, now: datetime, *, has_text: bool, has_template: bool) -> SendForm:
    """Free-form inside the window (it is free), the template outside it, or nothing at all.

    The one place that decides; replies, campaigns, reorder prompts and agents all ask here.
    """
    if window_open(last_inbound_at, now):
        if has_text:
            return SendForm("freeform", "window_open")
        if has_template:
            return SendForm("template", "window_open_no_text")
        return SendForm("none", "window_open_no_text")
    if has_template:
        return SendForm("template", "window_closed")
    return SendForm("none", "window_closed_no_template")
