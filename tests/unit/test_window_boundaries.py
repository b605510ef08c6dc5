"""The 24-hour window's exact edges and every case of choose_form, written out by hand
(docs/sending.md, "Free-form or template"). Kills the mutants of bot/whatsapp/window.py."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from bot.whatsapp.window import (
    FREE_ENTRY_POINT_WINDOW,
    SERVICE_WINDOW,
    SendForm,
    choose_form,
    latest,
    window_expires_at,
    window_open,
)

LAST = datetime(2026, 5, 4, 9, 30, tzinfo=timezone.utc)
TICK = timedelta(microseconds=1)


def test_the_windows_are_24_and_72_hours():
    assert SERVICE_WINDOW == timedelta(hours=24)
    assert FREE_ENTRY_POINT_WINDOW == timedelta(hours=72)


def test_the_window_expires_24_hours_after_the_last_message_and_never_without_one():
    assert window_expires_at(LAST) == datetime(2026, 5, 5, 9, 30, tzinfo=timezone.utc)
    assert window_expires_at(None) is None


@pytest.mark.parametrize("now, is_open", [
    (LAST, True),                                   # the message itself
    (LAST - timedelta(minutes=5), True),            # our clock a little behind Meta's
    (LAST + timedelta(hours=23, minutes=59), True),
    (LAST + timedelta(hours=24) - TICK, True),      # the last instant
    (LAST + timedelta(hours=24), False),            # closed exactly at 24 h
    (LAST + timedelta(hours=24) + TICK, False),
    (LAST + timedelta(days=30), False),
])
def test_window_open_up_to_but_not_at_24_hours(now, is_open):
    assert window_open(LAST, now) is is_open


def test_no_message_means_no_window():
    assert window_open(None, LAST) is False


def test_latest_keeps_the_later_time_whichever_comes_first():
    later = LAST + timedelta(seconds=1)
    assert latest(LAST, later) == later
    assert latest(later, LAST) == later
    assert latest(None, LAST) == LAST
    assert latest(LAST, None) == LAST
    assert latest(None, None) is None


INSIDE = LAST + timedelta(hours=24) - TICK
OUTSIDE = LAST + timedelta(hours=24)


@pytest.mark.parametrize("last, now, has_text, has_template, expected", [
    # inside the window: the text when there is one, else the template, else nothing
    (LAST, INSIDE, True, True, SendForm("freeform", "window_open")),
    (LAST, INSIDE, True, False, SendForm("freeform", "window_open")),
    (LAST, INSIDE, False, True, SendForm("template", "window_open_no_text")),
    (LAST, INSIDE, False, False, SendForm("none", "window_open_no_text")),
    # outside (from exactly 24 h on): only the template
    (LAST, OUTSIDE, True, True, SendForm("template", "window_closed")),
    (LAST, OUTSIDE, False, True, SendForm("template", "window_closed")),
    (LAST, OUTSIDE, True, False, SendForm("none", "window_closed_no_template")),
    (LAST, OUTSIDE, False, False, SendForm("none", "window_closed_no_template")),
    # never wrote: as outside
    (None, LAST, True, True, SendForm("template", "window_closed")),
    (None, LAST, True, False, SendForm("none", "window_closed_no_template")),
])
def test_choose_form_every_case(last, now, has_text, has_template, expected):
    assert choose_form(last, now, has_text=has_text, has_template=has_template) == expected
