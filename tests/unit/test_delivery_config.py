"""wabot.toml's [delivery]: whatever is written there is a working backoff and resend policy, or
one line naming the key; never a traceback (property test over garbage values)."""
from __future__ import annotations

import math
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.core.config import parse_file_config
from bot.core.errors import ConfigError

KEYS = ("retry_base_seconds", "retry_max_seconds", "unknown_resend_minutes")
garbage = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                    st.text(max_size=12), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                                             st.integers(), max_size=2))


@given(st.dictionaries(st.sampled_from(KEYS + ("unknown_key",)), garbage, max_size=4))
def test_any_delivery_table_is_a_policy_or_one_line_naming_the_key(table):
    try:
        delivery = parse_file_config({"delivery": table}).delivery
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and "delivery" in message, message
        return
    resend = delivery.unknown_resend()
    assert resend is None or (timedelta(0) < resend <= timedelta(days=7))
    backoff = delivery.backoff()
    for attempt in (1, 2, 8):
        delay = backoff.delay(attempt, None)
        assert math.isfinite(delay) and 0 < delay <= delivery.retry_max_seconds * 1.25


def test_unknown_resend_defaults_to_ten_minutes_and_zero_turns_it_off():
    assert parse_file_config({}).delivery.unknown_resend() == timedelta(minutes=10)
    assert parse_file_config({"delivery": {"unknown_resend_minutes": 0}}).delivery.unknown_resend() is None
