"""The pure parts of usernames (docs/usernames.md): what a BSUID is and says, the `user_id_update`
reader (fuzzed), the merged record's values, the planner's address, the typing indicator's body
and masking in logs."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.campaigns.planner import CampaignPlan, Offer, Recipient, TierState, customer_zone_name, plan
from bot.core.config import PolicyConfig
from bot.core.logmask import mask_text
from bot.core.phones import address_country, is_user_id
from bot.pipeline.identity import merged_values
from bot.whatsapp import events, graph, simulate
from bot.whatsapp.events import Quarantined, UserIdChange

UTC = timezone.utc
NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
OLD, NEW = "BR.13491208655302741918", "BR.24817305912873645029"


# ---------------------------------------------------------------- what a BSUID is

@pytest.mark.parametrize("key, user_id, country", [
    ("BR.13491208655302741918", True, "BR"),
    ("US.ENT.11815799212886844830", True, "US"),
    ("IN.abc123", True, "IN"),
    ("5511987654321", False, "BR"),
    ("12125550100", False, "US"),
    ("br.123", False, None),
    ("BRA.123", False, None),
    ("BR.", False, None),
    ("BR.12-3", False, None),
    ("", False, None),
    (None, False, None),
])
def test_a_user_id_and_its_country(key, user_id, country):
    assert is_user_id(key) is user_id
    assert address_country(key) == country


def test_a_user_id_is_masked_in_logs_like_a_number():
    line = mask_text(f"customer {OLD} parent US.ENT.11815799212886844830 phone 5511987654321 v26.0")
    assert line == "customer BR.…1918 parent US.ENT.…4830 phone …4321 v26.0"


# ---------------------------------------------------------------- user_id_update

def update_body(*updates, field="user_id_update") -> dict:
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": field, "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"}, "user_id_update": list(updates)}}]}]}


def test_a_user_id_update_is_its_own_event():
    (event,) = events.parse_body(simulate.user_id_update_payload(OLD, NEW, wa_id="5511987654321", timestamp=1700000003))
    assert isinstance(event, UserIdChange)
    assert (event.previous, event.current, event.wa_id, event.type, event.kind) == \
        (OLD, NEW, "5511987654321", "user_id_update", "user_id_change")
    assert event.timestamp == datetime.fromtimestamp(1700000003, UTC) and event.problem() is None
    assert event.sender == "5511987654321" and event.key.startswith("user_id_update:")
    assert events.from_record(event.kind, event.raw) == event  # what the worker rebuilds from the queue


@pytest.mark.parametrize("update, reason", [
    ({"user_id": {"previous": OLD}}, "both the previous and the current"),
    ({"user_id": {"current": NEW}}, "both the previous and the current"),
    ({"user_id": {"previous": OLD, "current": OLD}}, "are the same"),
    ({"user_id": {"previous": OLD, "current": "15551234567"}}, "current user id of a user_id_update is not"),
    ({"user_id": {"previous": "x" * 200, "current": NEW}}, "of 200 characters (at most 160)"),
    ({"user_id": [OLD, NEW]}, "both the previous and the current"),
    ("BR.1", "is not a JSON object"),
])
def test_a_malformed_user_id_update_is_quarantined_with_its_reason(update, reason):
    (event,) = events.parse_body(update_body(update))
    assert isinstance(event, Quarantined) and reason in event.reason
    again = events.read_again(event)  # `wabot events retry` reads it the same way
    assert len(again) == 1 and isinstance(again[0], Quarantined)


def test_a_good_update_beside_a_bad_one_is_kept():
    good = {"user_id": {"previous": OLD, "current": NEW}}
    kinds = [type(e) for e in events.parse_body(update_body({"user_id": {}}, good))]
    assert kinds == [Quarantined, UserIdChange]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                    max_leaves=20)
IDS = st.one_of(st.sampled_from([OLD, NEW, "US.ENT.1", "5511987654321", ""]), JSON)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(JSON, st.fixed_dictionaries({"user_id": st.fixed_dictionaries(
    {"previous": IDS, "current": IDS}), "wa_id": IDS, "timestamp": JSON})), max_size=4), st.booleans())
def test_any_user_id_update_is_an_applicable_change_or_quarantined(updates, as_field):
    body = update_body(*updates, field="user_id_update" if as_field else "messages")
    found = events.parse_body(json.loads(json.dumps(body)))
    for event in found:
        assert isinstance(event, (UserIdChange, Quarantined, events.AccountChange))
        if isinstance(event, UserIdChange):
            assert event.problem() is None and is_user_id(event.previous) and is_user_id(event.current)
            assert event.previous != event.current
            assert events.from_record(event.kind, json.loads(json.dumps(event.raw))) == event


# ---------------------------------------------------------------- the merged record

def record(**values) -> dict:
    base = {name: None for name in (
        "wa_id", "user_id", "shopify_customer_id", "profile_name", "first_name", "last_name", "email", "phone_country",
        "accepts_marketing", "consent_at", "opted_out_at", "first_inbound_at", "last_inbound_at", "last_read_at",
        "last_referral_at", "language_choice", "language_chat", "language_chat_at", "shopify_locale")}
    base.update(opted_out=False, marketing_paused=False, created_at=NOW - timedelta(days=30))
    base.update(values)
    return base


@pytest.mark.parametrize("source_out, target_out", [(True, False), (False, True), (True, True)])
def test_an_opt_out_on_either_side_holds_and_a_consent_is_kept(source_out, target_out):
    t = NOW - timedelta(days=2)
    source = record(wa_id=OLD, user_id=OLD, opted_out=source_out, opted_out_at=t if source_out else None)
    target = record(wa_id="5511987654321", opted_out=target_out, opted_out_at=t - timedelta(days=1) if target_out else None,
                    consent_at=t - timedelta(days=5))
    merged = merged_values(source, target, NOW)
    assert merged["opted_out"] is True and merged["consent_at"] == t - timedelta(days=5)
    assert merged["opted_out_at"] == (t if source_out else t - timedelta(days=1))


def test_the_store_data_is_the_phone_records_and_the_chat_the_latest_writers():
    early, late = NOW - timedelta(days=9), NOW - timedelta(hours=1)
    source = record(wa_id=OLD, user_id=OLD, profile_name="ana_u", first_inbound_at=early + timedelta(days=1),
                    last_inbound_at=late, language_choice="pt", language_chat="pt", language_chat_at=late,
                    marketing_paused=True, last_read_at=late, phone_country="BR", created_at=NOW - timedelta(days=1))
    target = record(wa_id="5511987654321", first_name="Ana", email="ana@example.com", shopify_customer_id=5,
                    profile_name="Ana L", first_inbound_at=early, last_inbound_at=early, language_choice="es",
                    language_chat="es", language_chat_at=early, phone_country=None, accepts_marketing=True)
    merged = merged_values(source, target, NOW)
    assert (merged["user_id"], merged["first_name"], merged["email"], merged["shopify_customer_id"]) == \
        (OLD, "Ana", "ana@example.com", 5)
    assert (merged["first_inbound_at"], merged["last_inbound_at"], merged["last_read_at"]) == (early, late, late)
    assert (merged["profile_name"], merged["language_choice"], merged["language_chat"]) == ("ana_u", "pt", "pt")
    assert (merged["marketing_paused"], merged["accepts_marketing"], merged["phone_country"]) == (True, True, "BR")
    assert merged["created_at"] == target["created_at"] and merged["updated_at"] == NOW


def test_the_phone_records_own_user_id_stays():
    merged = merged_values(record(wa_id=OLD, user_id=OLD), record(wa_id="5511987654321", user_id=NEW), NOW)
    assert merged["user_id"] == NEW


# ---------------------------------------------------------------- campaigns address a BSUID

POLICY = PolicyConfig(quiet_hours=("21:00", "09:00"), consent="any", max_marketing_per_7d=3, daily_unique_limit=1000)
PROMO = CampaignPlan("promo", "marketing", (Offer(text="Hi"),))


def test_a_username_customer_is_an_address_and_their_country_is_the_user_ids():
    open_window = NOW - timedelta(hours=1)
    known = Recipient(customer_id=1, wa_id=None, user_id=OLD, last_inbound_at=open_window)
    nobody = Recipient(customer_id=2, wa_id=None, last_inbound_at=open_window)
    noon_in_brazil = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 12:00 in São Paulo
    sent, skipped = plan([known, nobody], PROMO, POLICY, noon_in_brazil, store_zone="UTC", tier=TierState(limit=10)).decisions
    assert (sent.action, sent.wa_id, sent.country) == ("send", OLD, "BR")
    assert (skipped.action, skipped.reason) == ("skip", "no_wa_id")


def test_quiet_hours_of_a_username_customer_are_their_countrys():
    morning_utc = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # 07:00 in São Paulo: quiet there, not in UTC
    r = Recipient(customer_id=1, wa_id=OLD, last_inbound_at=morning_utc - timedelta(hours=1))
    (d,) = plan([r], PROMO, POLICY, morning_utc, store_zone="UTC", tier=TierState(limit=10)).decisions
    assert (d.action, d.reason) == ("defer", "quiet_hours")
    assert customer_zone_name(OLD, "America/Sao_Paulo") == "America/Sao_Paulo"
    assert customer_zone_name(OLD, "UTC").startswith("America/")
    afternoon_utc = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 10:00 in Rio Branco, 12:00 in São Paulo
    (d,) = plan([r], PROMO, POLICY, afternoon_utc, store_zone="UTC", tier=TierState(limit=10)).decisions
    assert d.action == "send"


# ---------------------------------------------------------------- the Graph API bodies

def test_the_typing_indicator_body_and_the_recipient_field():
    assert graph.read_body("wamid.1", typing=True) == {"messaging_product": "whatsapp", "status": "read",
                                                        "message_id": "wamid.1", "typing_indicator": {"type": "text"}}
    assert "typing_indicator" not in graph.read_body("wamid.1")
    body = graph.envelope(OLD, {"type": "text", "text": {"body": "hi"}}, None)
    assert body["recipient"] == OLD and "to" not in body
