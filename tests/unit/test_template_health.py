"""Template health, the pure part: which account webhooks are template events, and when a
template may be sent (docs/campaigns.md, "Template health")."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.campaigns import template_health
from bot.whatsapp.events import AccountChange, parse_payload
from tests.conftest import load_fixture

UTC = timezone.utc
T = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EARLIER, LATER = T - timedelta(hours=1), T + timedelta(hours=1)


def status_payload(event: str, name: str = "spring", language: str = "en_US", **extra) -> dict:
    payload = copy.deepcopy(load_fixture("whatsapp", "template-status__pywa-approved.json"))
    value = payload["entry"][0]["changes"][0]["value"]
    value.update(event=event, message_template_name=name, message_template_language=language, **extra)
    return payload


def quality_payload(score: str, name: str = "spring", language: str = "en_US") -> dict:
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "time": int(T.timestamp()), "changes": [{
        "field": "message_template_quality_update", "value": {
            "previous_quality_score": "GREEN", "new_quality_score": score, "message_template_id": 42,
            "message_template_name": name, "message_template_language": language}}]}]}


def only(payload: dict) -> AccountChange:
    [event] = parse_payload(payload)
    assert isinstance(event, AccountChange)
    return event


def test_metas_status_sample_is_a_template_event():
    event = template_health.read_change(only(load_fixture("whatsapp", "template-status__pywa-approved.json")), T)
    assert (event.name, event.language, event.status, event.quality) == ("order_confirmation", "en_US", "APPROVED", None)
    assert event.template_id == 1689556908129832 and event.reason is None
    assert event.at == datetime.fromtimestamp(1751247548, UTC)  # the entry's time, not when we read it


def test_a_pause_keeps_metas_reason():
    paused = status_payload("PAUSED", reason="NONE",
                            other_info={"title": "FIRST_PAUSE", "description": "Paused for 3 hours: low quality"})
    event = template_health.read_change(only(paused), T)
    assert event.status == "PAUSED" and event.reason == "FIRST_PAUSE: Paused for 3 hours: low quality"


def test_a_quality_update_is_a_template_event():
    event = template_health.read_change(only(quality_payload("RED")), T)
    assert (event.name, event.status, event.quality, event.template_id) == ("spring", None, "RED", 42)


@pytest.mark.parametrize("payload", [
    status_payload("PAUSED", name=""), status_payload("PAUSED", language=""), status_payload(""),
    status_payload("PAUSED", language="x" * 17),
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "account_update", "value": {"event": "X"}}]}]},
])
def test_what_is_not_a_whole_template_event_is_none(payload):
    assert template_health.read_change(only(payload), T) is None


@pytest.mark.parametrize("status, quality, usable", [
    ("APPROVED", None, True), ("REINSTATED", None, True), ("FLAGGED", None, True),
    ("PAUSED", None, False), ("DISABLED", None, False), ("REJECTED", None, False),
    (None, "GREEN", True), (None, "YELLOW", True), (None, "RED", False), ("PAUSED", "GREEN", False),
])
def test_when_a_template_may_be_sent(status, quality, usable):
    assert template_health.is_usable(status, T if status else None, quality, T if quality else None) is usable


def test_red_holds_until_a_later_approval_or_a_better_score():
    assert not template_health.is_usable("APPROVED", EARLIER, "RED", T)
    assert template_health.is_usable("REINSTATED", LATER, "RED", T)
    assert not template_health.is_usable("FLAGGED", LATER, "RED", T)


@given(st.dictionaries(st.sampled_from(["event", "message_template_name", "message_template_language",
                                        "message_template_id", "reason", "new_quality_score", "other_info"]),
                       st.one_of(st.none(), st.integers(), st.text(max_size=30), st.booleans(),
                                 st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2))),
       st.sampled_from([template_health.STATUS_FIELD, template_health.QUALITY_FIELD]))
def test_any_value_reads_as_an_event_or_none(value, field_name):
    change = AccountChange(field_name, None, None, {"field": field_name, "value": value})
    event = template_health.read_change(change, T)
    if event is not None:
        assert event.name and event.language and len(event.language) <= template_health.MAX_LANGUAGE
        assert (event.status is None) != (event.quality is None)
