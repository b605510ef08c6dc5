"""Cloud API payloads -> typed events: every real fixture, odd shapes, and random garbage."""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.errors import PayloadError
from bot.whatsapp import events as ev
from tests.conftest import fixture_paths, load_fixture

# fixture -> (kind, type) of its first event
EXPECTED = {
    "account_update-volume-tier__meta-docs-pricing.json": ("account", "account_update"),
    "audio__pywa-audio.json": ("message", "audio"),
    "button__pywa-quick_reply.json": ("message", "button"),
    "contacts__pywa-contacts.json": ("message", "contacts"),
    "document__pywa-document.json": ("message", "document"),
    "edit__pywa-image.json": ("message", "edit"),
    "image__pywa-image.json": ("message", "image"),
    "interactive-button_reply__pywa-button.json": ("message", "interactive"),
    "interactive-list_reply__pywa-callback.json": ("message", "interactive"),
    "interactive-nfm_reply__pywa-completion.json": ("message", "interactive"),
    "interactive-with-errors__pywa-interactive_message_with_err.json": ("message", "unknown"),
    "location__pywa-chosen_location.json": ("message", "location"),
    "order__pywa-order.json": ("message", "order"),
    "reaction__pywa-reaction.json": ("message", "reaction"),
    "referral__pywa-referral.json": ("message", "text"),
    "revoke__pywa-revoke.json": ("message", "revoke"),
    "status-delivered__pywa-delivered.json": ("status", "delivered"),
    "status-failed__pywa-failed.json": ("status", "failed"),
    "status-played__pywa-played.json": ("status", "played"),
    "status-read__pywa-group.json": ("status", "read"),
    "status-sent__pywa-sent.json": ("status", "sent"),
    "sticker__pywa-animated_sticker.json": ("message", "sticker"),
    "system__pywa-identity_change.json": ("message", "system"),
    "template-category__pywa-marketing.json": ("account", "template_category_update"),
    "template-status__pywa-approved.json": ("account", "message_template_status_update"),
    "text-identity__meta-postman-received-text-message-with-show-security-notifications.json": ("message", "text"),
    "text__pywa-forwarded.json": ("message", "text"),
    "unknown__meta-postman-received-unknown-messages.json": ("message", "unknown"),
    "unsupported__pywa-unsupported.json": ("message", "unsupported"),
    "user_preferences__pywa-resume.json": ("preference", "preference_resume"),
    "video__pywa-video.json": ("message", "video"),
}

WHATSAPP_FIXTURES = fixture_paths("whatsapp")


def test_every_fixture_is_listed():
    assert {p.name for p in WHATSAPP_FIXTURES} == set(EXPECTED)


@pytest.mark.parametrize("path", WHATSAPP_FIXTURES, ids=lambda p: p.name.split("__")[0])
def test_fixture_parses_to_its_kind(path):
    events = ev.parse_payload(json.loads(path.read_text()))
    assert events, "every fixture carries at least one event"
    kind, type_ = EXPECTED[path.name]
    assert (events[0].kind, events[0].type) == (kind, type_)


@pytest.mark.parametrize("path", WHATSAPP_FIXTURES, ids=lambda p: p.name.split("__")[0])
def test_stored_record_rebuilds_the_same_event(path):
    for event in ev.parse_payload(json.loads(path.read_text())):
        rebuilt = ev.from_record(event.kind, json.loads(json.dumps(event.raw)))
        assert rebuilt == event
        assert rebuilt.key == event.key


def first(name: str):
    return ev.parse_payload(load_fixture("whatsapp", name))[0]


def test_text_message_fields():
    msg = first("text__pywa-forwarded.json")
    assert isinstance(msg, ev.InboundMessage)
    assert msg.text == "forwarded text"
    assert msg.sender == "972987654321" and msg.user_id == "US.13491208655302741918"
    assert msg.profile_name == "Test Name"
    assert msg.forwarded is True
    assert msg.timestamp.isoformat() == "2023-10-11T17:20:15+00:00"
    assert msg.key == "msg:wamid.xyzxyz"


def test_button_and_list_replies_carry_their_ids():
    button = first("interactive-button_reply__pywa-button.json")
    assert isinstance(button.content, ev.InteractiveReply) and button.content.kind == "button_reply"
    assert button.reply_id == button.content.reply_id and button.reply_id
    listed = first("interactive-list_reply__pywa-callback.json")
    assert listed.content.kind == "list_reply" and listed.reply_id
    quick = first("button__pywa-quick_reply.json")
    assert isinstance(quick.content, ev.QuickReply) and quick.reply_id == quick.content.payload


def test_flow_completion_keeps_the_response_json():
    msg = first("interactive-nfm_reply__pywa-completion.json")
    assert msg.content.kind == "nfm_reply"
    assert json.loads(msg.content.response_json)["delivery_rating"] == "4"
    assert msg.reply_id is None


def test_unknown_and_error_messages_keep_their_errors():
    unknown = first("unknown__meta-postman-received-unknown-messages.json")
    assert isinstance(unknown.content, ev.Unknown) and unknown.content.errors[0].code == 130501
    broken = first("interactive-with-errors__pywa-interactive_message_with_err.json")
    assert isinstance(broken.content, ev.Unknown) and broken.content.errors[0].code == 131000


def test_status_failed_keeps_error_code_and_details():
    status = first("status-failed__pywa-failed.json")
    assert isinstance(status, ev.StatusUpdate)
    assert status.errors[0].code == 130472
    assert "experiment" in status.errors[0].details
    assert status.key == "status:wamid.xyzxyz:failed"


def test_preferences_and_account_changes():
    pref = first("user_preferences__pywa-resume.json")
    assert isinstance(pref, ev.MarketingPreference)
    assert (pref.wa_id, pref.value, pref.category) == ("16505551234", "resume", "marketing_messages")
    template = first("template-status__pywa-approved.json")
    assert isinstance(template, ev.AccountChange) and template.event == "APPROVED"
    assert template.template_name == "order_confirmation"
    tier = first("account_update-volume-tier__meta-docs-pricing.json")
    assert tier.event == "VOLUME_BASED_PRICING_TIER_UPDATE"


def test_edit_reaction_revoke_system_are_not_answered():
    for name in ("edit__pywa-image.json", "reaction__pywa-reaction.json", "revoke__pywa-revoke.json",
                 "system__pywa-identity_change.json"):
        assert first(name).wants_reply is False, name
    assert first("edit__pywa-image.json").text == "Updated image caption"
    assert first("image__pywa-image.json").wants_reply is True


def test_referral_is_kept():
    msg = first("referral__pywa-referral.json")
    assert msg.referral and msg.referral.get("source_type")


def test_username_sender_without_wa_id_is_keyed_by_user_id():
    payload = load_fixture("whatsapp", "text__pywa-forwarded.json")
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"] = [{"profile": {"name": "Ana", "username": "@ana"}, "wa_id": "", "user_id": "BR.99887766"}]
    value["messages"][0]["from"] = ""
    msg = ev.parse_payload(payload)[0]
    assert msg.sender == "BR.99887766" and msg.wa_id is None and msg.user_id == "BR.99887766"
    assert msg.username == "@ana"


def test_from_user_id_without_contacts():
    payload = load_fixture("whatsapp", "text__pywa-forwarded.json")
    value = payload["entry"][0]["changes"][0]["value"]
    del value["contacts"]
    message = value["messages"][0]
    del message["from"]
    message["from_user_id"] = "IN.1648738043044942"
    assert ev.parse_payload(payload)[0].sender == "IN.1648738043044942"


def test_every_entry_change_and_message_counts():
    one = load_fixture("whatsapp", "text__pywa-forwarded.json")
    status = load_fixture("whatsapp", "status-sent__pywa-sent.json")
    payload = copy.deepcopy(one)
    second_message = copy.deepcopy(one["entry"][0]["changes"][0]["value"]["messages"][0])
    second_message["id"] = "wamid.second"
    payload["entry"][0]["changes"][0]["value"]["messages"].append(second_message)
    payload["entry"][0]["changes"].append(status["entry"][0]["changes"][0])
    payload["entry"].append(load_fixture("whatsapp", "template-status__pywa-approved.json")["entry"][0])
    kinds = [e.kind for e in ev.parse_payload(payload)]
    assert kinds == ["message", "message", "status", "account"]


def test_placeholders_and_odd_types_do_not_break_parsing():
    payload = load_fixture("whatsapp", "text__pywa-forwarded.json")
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["timestamp"] = "<TIMESTAMP>"
    message["text"] = "not an object"
    message["id"] = 12345
    msg = ev.parse_payload(payload)[0]
    assert msg.timestamp is None and msg.message_id == "12345"
    assert isinstance(msg.content, ev.Unknown) and msg.type == "unknown"


def test_millisecond_timestamps():
    assert ev.parse_timestamp("1697044815000") == ev.parse_timestamp(1697044815)
    assert ev.parse_timestamp("nan") is None and ev.parse_timestamp(True) is None and ev.parse_timestamp(-5) is None


@pytest.mark.parametrize("body, reason", [
    ([], "JSON object"), ({"object": "page", "entry": []}, "whatsapp_business_account"),
    ({"object": "whatsapp_business_account", "entry": {}}, "entry"),
])
def test_not_a_whatsapp_payload(body, reason):
    with pytest.raises(PayloadError, match=reason):
        ev.parse_payload(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=25,
)


@given(json_values)
def test_random_json_only_ever_raises_payload_error(body):
    try:
        events = ev.parse_payload(body)
    except PayloadError:
        return
    assert isinstance(events, list)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, prefix + (index,))


def _replace(value, path, new):
    if not path:
        return new
    value = copy.deepcopy(value)
    target = value
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return value


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(WHATSAPP_FIXTURES), st.data(), json_values)
def test_any_part_of_a_real_payload_may_be_odd(path, data, replacement):
    """Swap any sub-value of a real payload for something odd: parsing still yields events or a
    PayloadError (only for the envelope), and every event survives a storage round trip."""
    original = json.loads(path.read_text())
    where = data.draw(st.sampled_from([p for p in _paths(original) if len(p) >= 1]))
    mutated = _replace(original, where, replacement)
    try:
        events = ev.parse_payload(mutated)
    except PayloadError:
        assert where[0] in ("object", "entry") and len(where) <= 2
        return
    for event in events:
        assert event.key
        ev.from_record(event.kind, json.loads(json.dumps(event.raw, default=str)))
