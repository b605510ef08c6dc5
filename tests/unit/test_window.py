"""The 24-hour customer service window and the free-form vs. template decision."""
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from bot.whatsapp.window import choose_form, latest, window_expires_at, window_open

T = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def test_window_closes_exactly_24_hours_after_the_last_inbound_message():
    assert window_expires_at(T) == T + timedelta(hours=24)
    assert window_open(T, T + timedelta(hours=24) - timedelta(microseconds=1))
    assert not window_open(T, T + timedelta(hours=24))
    assert not window_open(None, T)


def test_a_late_redelivery_never_moves_the_window_back():
    assert latest(T, T - timedelta(days=3)) == T
    assert latest(None, T) == T and latest(T, None) == T


def test_choose_form():
    inside, outside = T + timedelta(hours=1), T + timedelta(hours=25)
    assert choose_form(T, inside, has_text=True, has_template=True).form == "freeform"
    assert choose_form(T, inside, has_text=False, has_template=True).form == "template"
    assert choose_form(T, outside, has_text=True, has_template=True).form == "template"
    closed = choose_form(T, outside, has_text=True, has_template=False)
    assert (closed.form, closed.reason) == ("none", "window_closed_no_template")
    assert choose_form(None, inside, has_text=True, has_template=False).form == "none"


@given(st.integers(min_value=-10**7, max_value=10**7), st.booleans(), st.booleans())
def test_free_form_only_ever_inside_the_window(offset_seconds, has_text, has_template):
    now = T + timedelta(seconds=offset_seconds)
    decision = choose_form(T, now, has_text=has_text, has_template=has_template)
    if decision.form == "freeform":
        assert T <= now < T + timedelta(hours=24) or now < T
    if not has_template:
        assert decision.form != "template"
