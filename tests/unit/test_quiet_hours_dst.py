"""Quiet hours around the daylight-saving changes of 2026, in the US (America/New_York: 8 March
02:00 EST -> 03:00 EDT, 1 November 02:00 EDT -> 01:00 EST) and in the EU (Europe/Berlin: 29 March
02:00 CET -> 03:00 CEST, 25 October 03:00 CEST -> 02:00 CET).

Every expected answer is written here by hand, in UTC: EST is UTC-5, EDT UTC-4, CET UTC+1, CEST
UTC+2. A planner that did its arithmetic on naive local time, or with the offset of `now` instead
of the offset at the end of the quiet hours, is an hour off on these days. The store's zone is
Tokyo's, so only the customer's own number can give these answers.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from bot.campaigns.planner import CampaignPlan, Offer, Recipient, TierState, plan
from bot.core.config import PolicyConfig, TemplateRef

NEW_YORK = "12125550100"  # +1 212: America/New_York
BERLIN = "4915112345678"  # +49 151: Europe/Berlin
TOLL_FREE = "18005550100"  # +1 800: no zone of its own, the store's is used
CAMPAIGN = CampaignPlan("dst", "marketing", (Offer(text="Hi", template=TemplateRef(name="hi")),))
QUIET = PolicyConfig(quiet_hours=("21:00", "09:00"), max_marketing_per_7d=9, daily_unique_limit=1000)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def decide(wa_id: str, now: datetime, policy: PolicyConfig = QUIET, store_zone: str = "Asia/Tokyo"):
    people = [Recipient(customer_id=1, wa_id=wa_id, accepts_marketing=True)]
    [decision] = plan(people, CAMPAIGN, policy, now, store_zone=store_zone, tier=TierState(limit=1000)).decisions
    return decision


# (now in UTC, the local time it is, when the quiet hours end in UTC, or None: not quiet)
NEW_YORK_SPRING = [
    ("2026-03-08T01:59", "20:59 EST, 7 March", None),
    ("2026-03-08T02:00", "21:00 EST, 7 March", "2026-03-08T13:00"),   # 09:00 EDT, not 14:00
    ("2026-03-08T06:30", "01:30 EST", "2026-03-08T13:00"),
    ("2026-03-08T07:30", "03:30 EDT", "2026-03-08T13:00"),
    ("2026-03-08T12:59", "08:59 EDT", "2026-03-08T13:00"),
    ("2026-03-08T13:00", "09:00 EDT", None),                          # EST would still say 08:00
    ("2026-03-08T13:30", "09:30 EDT", None),
    ("2026-03-09T00:59", "20:59 EDT", None),                          # EST would say 19:59
    ("2026-03-09T01:00", "21:00 EDT", "2026-03-09T13:00"),            # EST would say 20:00: not quiet
]
NEW_YORK_AUTUMN = [
    ("2026-11-01T00:59", "20:59 EDT, 31 October", None),
    ("2026-11-01T01:00", "21:00 EDT, 31 October", "2026-11-01T14:00"),  # 09:00 EST, not 13:00
    ("2026-11-01T05:30", "01:30 EDT, the first time", "2026-11-01T14:00"),
    ("2026-11-01T06:30", "01:30 EST, the second time", "2026-11-01T14:00"),
    ("2026-11-01T13:30", "08:30 EST", "2026-11-01T14:00"),              # EDT would say 09:30: not quiet
    ("2026-11-01T13:59", "08:59 EST", "2026-11-01T14:00"),
    ("2026-11-01T14:00", "09:00 EST", None),
    ("2026-11-02T01:59", "20:59 EST", None),                             # EDT would say 21:59
    ("2026-11-02T02:00", "21:00 EST", "2026-11-02T14:00"),
]
BERLIN_SPRING = [
    ("2026-03-28T19:59", "20:59 CET, 28 March", None),
    ("2026-03-28T20:00", "21:00 CET, 28 March", "2026-03-29T07:00"),  # 09:00 CEST, not 08:00
    ("2026-03-29T00:30", "01:30 CET", "2026-03-29T07:00"),
    ("2026-03-29T01:30", "03:30 CEST", "2026-03-29T07:00"),
    ("2026-03-29T06:59", "08:59 CEST", "2026-03-29T07:00"),
    ("2026-03-29T07:00", "09:00 CEST", None),                         # CET would still say 08:00
    ("2026-03-29T18:59", "20:59 CEST", None),
    ("2026-03-29T19:00", "21:00 CEST", "2026-03-30T07:00"),           # CET would say 20:00: not quiet
]
BERLIN_AUTUMN = [
    ("2026-10-24T18:59", "20:59 CEST, 24 October", None),
    ("2026-10-24T19:00", "21:00 CEST, 24 October", "2026-10-25T08:00"),  # 09:00 CET, not 07:00
    ("2026-10-25T00:30", "02:30 CEST, the first time", "2026-10-25T08:00"),
    ("2026-10-25T01:30", "02:30 CET, the second time", "2026-10-25T08:00"),
    ("2026-10-25T07:30", "08:30 CET", "2026-10-25T08:00"),               # CEST would say 09:30: not quiet
    ("2026-10-25T08:00", "09:00 CET", None),
    ("2026-10-25T19:59", "20:59 CET", None),                             # CEST would say 21:59
    ("2026-10-25T20:00", "21:00 CET", "2026-10-26T08:00"),
]
CASES = ([(NEW_YORK, *c) for c in NEW_YORK_SPRING + NEW_YORK_AUTUMN]
         + [(BERLIN, *c) for c in BERLIN_SPRING + BERLIN_AUTUMN])


@pytest.mark.parametrize("wa_id, now, local, ends", CASES, ids=[f"{'NY' if c[0] == NEW_YORK else 'BER'} {c[1]}"
                                                                 for c in CASES])
def test_quiet_hours_across_daylight_saving_changes(wa_id, now, local, ends):
    decision = decide(wa_id, utc(now))
    if ends is None:
        assert (decision.action, decision.send_at) == ("send", utc(now)), local
    else:
        assert (decision.action, decision.reason) == ("defer", "quiet_hours"), local
        assert decision.send_at == utc(ends), local


@pytest.mark.parametrize("now, ends", [
    ("2026-03-08T06:30", "2026-03-08T08:00"),  # 01:30 EST; 04:00 EDT is 08:00 UTC, three wall hours later
    ("2026-03-08T05:59", None),                # 00:59 EST
    ("2026-03-08T07:59", "2026-03-08T08:00"),  # 03:59 EDT
    ("2026-03-08T08:00", None),                # 04:00 EDT
    ("2026-11-01T05:30", "2026-11-01T09:00"),  # 01:30 EDT; 04:00 EST is 09:00 UTC
    ("2026-11-01T08:30", "2026-11-01T09:00"),  # 03:30 EST
    ("2026-11-01T09:00", None),                # 04:00 EST
])
def test_quiet_hours_within_one_night_that_holds_the_change(now, ends):
    night = PolicyConfig(quiet_hours=("01:00", "04:00"), max_marketing_per_7d=9, daily_unique_limit=1000)
    decision = decide(NEW_YORK, utc(now), night)
    if ends is None:
        assert decision.action == "send"
    else:
        assert (decision.action, decision.reason, decision.send_at) == ("defer", "quiet_hours", utc(ends))


def test_a_number_without_a_zone_of_its_own_keeps_the_stores_daylight_saving():
    # A toll-free +1 800 number: the store's zone, New York, on the night the clocks go forward.
    decision = decide(TOLL_FREE, utc("2026-03-08T02:00"), store_zone="America/New_York")
    assert (decision.reason, decision.send_at) == ("quiet_hours", utc("2026-03-08T13:00"))
    assert decide(TOLL_FREE, utc("2026-03-08T13:00"), store_zone="America/New_York").action == "send"
    decision = decide(TOLL_FREE, utc("2026-11-01T13:30"), store_zone="America/New_York")  # 08:30 EST
    assert (decision.reason, decision.send_at) == ("quiet_hours", utc("2026-11-01T14:00"))
