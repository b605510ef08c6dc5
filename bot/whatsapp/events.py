"""Cloud API webhook payloads -> typed, frozen events.

This is the only module that reads raw webhook JSON. Meta's payloads carry placeholders, missing
keys, odd types and (since the 2026 usernames) senders with no phone number; every reader here
tolerates all of that: a malformed part becomes an `unknown` event or a None field, never an
exception, so one odd message cannot cost the rest of the payload.

Each event knows its idempotency key and can be stored as a plain dict (`record`) and rebuilt
from it (`from_record`), so the worker sees exactly what the webhook saw.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Union

from bot.core import safejson
from bot.core.errors import PayloadError
from bot.core.phones import is_user_id

OBJECT_WHATSAPP = "whatsapp_business_account"

# Meta's delivery states in the order a message moves through them; "failed" stands apart.
STATUS_RANK = {"sent": 1, "delivered": 2, "read": 3, "played": 3}


# ---------------------------------------------------------------- tolerant readers

def _dict(value: Any, key: str) -> dict:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}


def _list(value: Any, key: str) -> list:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, list) else []


def _str(value: Any, key: str) -> str | None:
    found = value.get(key) if isinstance(value, dict) else None
    if isinstance(found, str):
        return found
    if isinstance(found, (int, float)) and not isinstance(found, bool):
        return str(found)
    return None


def _num(value: Any, key: str) -> float | None:
    found = value.get(key) if isinstance(value, dict) else None
    if isinstance(found, bool):
        return None
    if isinstance(found, (int, float)):
        return float(found)
    if isinstance(found, str):
        try:
            return float(found)
        except ValueError:
            return None
    return None


def parse_timestamp(raw: Any) -> datetime | None:
    """Unix seconds (Meta sends strings or ints; some fields milliseconds) -> aware UTC, or None."""
    if isinstance(raw, bool) or raw is None:
        return None
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        return None
    if seconds != seconds or seconds <= 0:  # NaN or non-positive
        return None
    if seconds > 1e11:  # milliseconds
        seconds /= 1000.0
    if seconds > 32503680000:  # after the year 3000: garbage
        return None
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


# A timestamp further ahead than this is a sender's broken clock (or an attack on the window):
# it counts as the time the event was received.
FUTURE_TOLERANCE = timedelta(minutes=5)


def effective_time(timestamp: datetime | None, received_at: datetime) -> datetime | None:
    if timestamp is not None and timestamp > received_at + FUTURE_TOLERANCE:
        return received_at
    return timestamp


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:40]


# ---------------------------------------------------------------- contents of inbound messages

@dataclass(frozen=True)
class ErrorInfo:
    code: int | None
    title: str | None
    details: str | None = None

    @classmethod
    def from_raw(cls, raw: Any) -> "ErrorInfo":
        code = _num(raw, "code")
        return cls(
            code=int(code) if code is not None else None,
            title=_str(raw, "title") or _str(raw, "message"),
            details=_str(_dict(raw, "error_data"), "details") or _str(raw, "details"),
        )

    def as_dict(self) -> dict:
        return {"code": self.code, "title": self.title, "details": self.details}


def _errors(raw: Any) -> tuple[ErrorInfo, ...]:
    return tuple(ErrorInfo.from_raw(item) for item in _list(raw, "errors") if isinstance(item, dict))


@dataclass(frozen=True)
class Text:
    body: str


@dataclass(frozen=True)
class Media:
    """image, audio, video, document, sticker."""

    media_id: str | None
    mime_type: str | None
    caption: str | None = None
    filename: str | None = None
    animated: bool = False
    voice: bool = False


@dataclass(frozen=True)
class Location:
    latitude: float | None
    longitude: float | None
    name: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class SharedContacts:
    names: tuple[str, ...]
    phones: tuple[str, ...]


@dataclass(frozen=True)
class InteractiveReply:
    """A tap on one of our reply buttons or list rows, or a WhatsApp Flow's completion."""

    kind: str  # button_reply | list_reply | nfm_reply | unknown
    reply_id: str | None
    title: str | None
    description: str | None = None
    response_json: str | None = None


@dataclass(frozen=True)
class QuickReply:
    """A template's quick-reply button: type "button"."""

    payload: str | None
    text: str | None


@dataclass(frozen=True)
class Reaction:
    message_id: str | None
    emoji: str | None  # None when the reaction was removed


@dataclass(frozen=True)
class OrderItem:
    product_retailer_id: str | None
    quantity: float | None
    item_price: float | None
    currency: str | None


@dataclass(frozen=True)
class CatalogOrder:
    catalog_id: str | None
    text: str | None
    items: tuple[OrderItem, ...]


@dataclass(frozen=True)
class System:
    kind: str | None
    body: str | None
    new_wa_id: str | None = None


@dataclass(frozen=True)
class Revoke:
    original_message_id: str | None


@dataclass(frozen=True)
class Edit:
    original_message_id: str | None
    new_type: str | None
    new_text: str | None


@dataclass(frozen=True)
class Unknown:
    """unsupported, unknown or malformed: kept, and answered politely."""

    declared_type: str | None
    errors: tuple[ErrorInfo, ...] = ()


Content = Union[Text, Media, Location, SharedContacts, InteractiveReply, QuickReply, Reaction,
                CatalogOrder, System, Revoke, Edit, Unknown]

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")


def _media(kind: str, raw: dict) -> Media:
    return Media(
        media_id=_str(raw, "id"),
        mime_type=_str(raw, "mime_type"),
        caption=_str(raw, "caption"),
        filename=_str(raw, "filename"),
        animated=raw.get("animated") is True,
        voice=raw.get("voice") is True,
    )


def _content(msg_type: str | None, message: dict) -> Content:
    body = _dict(message, msg_type) if msg_type else {}
    if msg_type == "text":
        text = _str(body, "body")
        return Text(text) if text is not None else Unknown("text", _errors(message))
    if msg_type in MEDIA_TYPES:
        return _media(msg_type, body)
    if msg_type == "location":
        return Location(_num(body, "latitude"), _num(body, "longitude"), _str(body, "name"), _str(body, "address"))
    if msg_type == "contacts":
        entries = [c for c in _list(message, "contacts") if isinstance(c, dict)]
        names = tuple(n for c in entries if (n := _str(_dict(c, "name"), "formatted_name")))
        phones = tuple(p for c in entries for ph in _list(c, "phones") if (p := _str(ph, "phone")))
        return SharedContacts(names, phones)
    if msg_type == "interactive":
        kind = _str(body, "type")
        if kind in ("button_reply", "list_reply"):
            reply = _dict(body, kind)
            return InteractiveReply(kind, _str(reply, "id"), _str(reply, "title"), _str(reply, "description"))
        if kind == "nfm_reply":
            reply = _dict(body, "nfm_reply")
            return InteractiveReply(kind, _str(reply, "name"), _str(reply, "body"),
                                    response_json=_str(reply, "response_json"))
        return Unknown("interactive", _errors(message))
    if msg_type == "button":
        return QuickReply(_str(body, "payload"), _str(body, "text"))
    if msg_type == "reaction":
        return Reaction(_str(body, "message_id"), _str(body, "emoji") or None)
    if msg_type == "order":
        items = tuple(
            OrderItem(_str(i, "product_retailer_id"), _num(i, "quantity"), _num(i, "item_price"), _str(i, "currency"))
            for i in _list(body, "product_items") if isinstance(i, dict)
        )
        return CatalogOrder(_str(body, "catalog_id"), _str(body, "text"), items)
    if msg_type == "system":
        return System(_str(body, "type"), _str(body, "body"), _str(body, "wa_id") or _str(body, "new_wa_id"))
    if msg_type == "revoke":
        return Revoke(_str(body, "original_message_id"))
    if msg_type == "edit":
        inner = _dict(body, "message")
        inner_type = _str(inner, "type")
        inner_body = _dict(inner, inner_type) if inner_type else {}
        new_text = _str(inner_body, "body") or _str(inner_body, "caption")
        return Edit(_str(body, "original_message_id"), inner_type, new_text)
    return Unknown(msg_type, _errors(message))


# ---------------------------------------------------------------- events

@dataclass(frozen=True)
class InboundMessage:
    kind = "message"

    message_id: str
    sender: str | None  # the customer key: wa_id, else the business-scoped user id
    wa_id: str | None
    user_id: str | None
    profile_name: str | None
    username: str | None
    timestamp: datetime | None
    type: str
    content: Content
    context_message_id: str | None
    forwarded: bool
    referral: dict | None
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def key(self) -> str:
        return f"msg:{self.message_id}"

    @property
    def text(self) -> str | None:
        """What the customer wrote or tapped, for intent routing."""
        c = self.content
        if isinstance(c, Text):
            return c.body
        if isinstance(c, InteractiveReply):
            return c.title
        if isinstance(c, QuickReply):
            return c.text
        if isinstance(c, Media):
            return c.caption
        if isinstance(c, Edit):
            return c.new_text
        if isinstance(c, CatalogOrder):
            return c.text
        return None

    @property
    def reply_id(self) -> str | None:
        """The id of a tapped button or list row (or a quick-reply payload)."""
        c = self.content
        if isinstance(c, InteractiveReply) and c.kind in ("button_reply", "list_reply"):
            return c.reply_id
        if isinstance(c, QuickReply):
            return c.payload
        return None

    @property
    def wants_reply(self) -> bool:
        """Reactions, deletions, edits and system notices are not things a customer expects an answer to."""
        return not isinstance(self.content, (Reaction, Revoke, Edit, System))


@dataclass(frozen=True)
class StatusUpdate:
    kind = "status"

    message_id: str
    status: str
    timestamp: datetime | None
    recipient: str | None
    errors: tuple[ErrorInfo, ...]
    callback_data: str | None
    pricing_category: str | None
    billable: bool | None
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def key(self) -> str:
        return f"status:{self.message_id}:{self.status}"

    @property
    def type(self) -> str:
        return self.status

    @property
    def sender(self) -> str | None:
        return self.recipient


@dataclass(frozen=True)
class MarketingPreference:
    """A customer stopped or resumed marketing messages in WhatsApp (field user_preferences)."""

    kind = "preference"

    wa_id: str | None
    user_id: str | None
    category: str | None
    value: str | None  # stop | resume
    timestamp: datetime | None
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def key(self) -> str:
        return f"preference:{_digest(self.raw)}"

    @property
    def type(self) -> str:
        return f"preference_{self.value or 'unknown'}"

    @property
    def sender(self) -> str | None:
        return self.wa_id or self.user_id


@dataclass(frozen=True)
class UserIdChange:
    """A customer's business-scoped user id changed (field `user_id_update`): `previous` is the id
    we know them by, `current` the one Meta uses from now on (docs/usernames.md)."""

    kind = "user_id_change"
    type = "user_id_update"

    previous: str | None
    current: str | None
    wa_id: str | None  # their phone number, when Meta shares it
    timestamp: datetime | None
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def key(self) -> str:
        return f"user_id_update:{_digest(self.raw)}"

    @property
    def sender(self) -> str | None:
        # The key the customer's earlier events were stored under: their events stay in order.
        return self.wa_id or self.previous

    def problem(self) -> str | None:
        """Why this change cannot be applied, or None."""
        if not self.previous or not self.current:
            return "a user_id_update without both the previous and the current user id"
        if self.previous == self.current:
            return "a user_id_update whose previous and current user ids are the same"
        for name, value in (("previous", self.previous), ("current", self.current)):
            if not is_user_id(value):
                return f"the {name} user id of a user_id_update is not a business-scoped user id"
        return None


@dataclass(frozen=True)
class AccountChange:
    """Anything posted to the webhook that is not about a customer's messages: template status and
    category updates, account_update, and fields we do not know yet. Stored for the record."""

    kind = "account"

    field_name: str
    event: str | None
    timestamp: datetime | None
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.field_name}:{_digest(self.raw)}"

    @property
    def type(self) -> str:
        return self.field_name

    @property
    def sender(self) -> None:
        return None

    @property
    def template_name(self) -> str | None:
        return _str(self.raw.get("value"), "message_template_name")


@dataclass(frozen=True)
class Quarantined:
    """A part of a signed body that cannot be made a valid event (too deep, a number out of range,
    invalid text, a value longer than its column, a shape we cannot read). Kept with its raw JSON
    (as escaped text, storable anywhere) and the reason; never processed."""

    kind = "quarantined"
    type = "invalid"

    reason: str
    raw_json: str
    part: str = "body"  # what raw_json is: "body", "change", or the kind of event whose record it is
    timestamp: None = None
    raw: dict = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def of(cls, value: Any, reason: str, part: str = "body") -> "Quarantined":
        raw_json = safejson.dumps_for_record(value)
        return cls(reason=reason, raw_json=raw_json, part=part,
                   raw={"raw": raw_json, "reason": reason, "part": part})

    @property
    def key(self) -> str:
        return f"quarantine:{hashlib.sha256(self.raw_json.encode()).hexdigest()[:40]}"

    @property
    def sender(self) -> None:
        return None


Event = Union[InboundMessage, StatusUpdate, MarketingPreference, UserIdChange, AccountChange, Quarantined]

# Column limits of what an event stores (bot/core/tables.py): a longer value is quarantined.
MAX_ID = 256  # message ids, reply ids
MAX_SENDER = 160  # wa_id or business-scoped user id
MAX_TYPE = 32
MAX_NAME = 256


# ---------------------------------------------------------------- building events

def _contact_index(value: dict) -> tuple[dict[str, dict], dict | None]:
    contacts = [c for c in _list(value, "contacts") if isinstance(c, dict)]
    by_id: dict[str, dict] = {}
    for contact in contacts:
        for key in (_str(contact, "wa_id"), _str(contact, "user_id")):
            if key:
                by_id[key] = contact
    return by_id, contacts[0] if len(contacts) == 1 else None


def _message(raw: dict, contact: dict | None, value_errors: list) -> InboundMessage:
    wa_id = _str(raw, "from") or None
    user_id = _str(raw, "from_user_id") or None
    if contact is not None:
        wa_id = wa_id or _str(contact, "wa_id") or None
        user_id = user_id or _str(contact, "user_id") or None
    msg_type = _str(raw, "type") or "unknown"
    content = _content(msg_type, raw)
    if isinstance(content, Unknown) and value_errors and not content.errors:
        content = Unknown(content.declared_type, tuple(ErrorInfo.from_raw(e) for e in value_errors if isinstance(e, dict)))
    if isinstance(content, Unknown):
        msg_type = "unknown" if msg_type not in ("unsupported", "unknown") else msg_type
    context = _dict(raw, "context")
    referral = _dict(raw, "referral") or None
    profile = _dict(contact, "profile") if contact else {}
    return InboundMessage(
        message_id=_str(raw, "id") or f"noid-{_digest(raw)}",
        sender=wa_id or user_id,
        wa_id=wa_id,
        user_id=user_id,
        profile_name=_str(profile, "name"),
        username=_str(profile, "username"),
        timestamp=parse_timestamp(raw.get("timestamp")),
        type=msg_type,
        content=content,
        context_message_id=_str(context, "id"),
        forwarded=context.get("forwarded") is True or context.get("frequently_forwarded") is True,
        referral=referral,
        raw={"message": raw, "contact": contact, "errors": value_errors},
    )


def _status(raw: dict) -> StatusUpdate:
    pricing = _dict(raw, "pricing")
    billable = pricing.get("billable")
    return StatusUpdate(
        message_id=_str(raw, "id") or f"noid-{_digest(raw)}",
        status=(_str(raw, "status") or "unknown").lower(),
        timestamp=parse_timestamp(raw.get("timestamp")),
        recipient=_str(raw, "recipient_id") or _str(raw, "recipient_user_id"),
        errors=_errors(raw),
        callback_data=_str(raw, "biz_opaque_callback_data"),
        pricing_category=_str(pricing, "category"),
        billable=billable if isinstance(billable, bool) else None,
        raw={"status": raw},
    )


def _preference(raw: dict) -> MarketingPreference:
    return MarketingPreference(
        wa_id=_str(raw, "wa_id") or None,
        user_id=_str(raw, "user_id") or None,
        category=_str(raw, "category"),
        value=(_str(raw, "value") or "").lower() or None,
        timestamp=parse_timestamp(raw.get("timestamp")),
        raw={"preference": raw},
    )


def _user_id_change(raw: dict) -> UserIdChange:
    ids = _dict(raw, "user_id")
    return UserIdChange(
        previous=_str(ids, "previous") or None,
        current=_str(ids, "current") or None,
        wa_id=_str(raw, "wa_id") or None,
        timestamp=parse_timestamp(raw.get("timestamp")),
        raw={"user_id_update": raw},
    )


def _change_events(change: dict, entry_time: Any) -> Iterator[Event]:
    field_name = _str(change, "field") or "unknown"
    value = _dict(change, "value")
    if field_name == "messages" or _list(value, "messages") or _list(value, "statuses"):
        by_id, only_contact = _contact_index(value)
        value_errors = [e for e in _list(value, "errors") if isinstance(e, dict)]
        messages = [m for m in _list(value, "messages") if isinstance(m, dict)]
        for raw in messages:
            sender = _str(raw, "from") or _str(raw, "from_user_id")
            yield _message(raw, by_id.get(sender or "", only_contact), value_errors)
        for raw in _list(value, "statuses"):
            if isinstance(raw, dict):
                yield _status(raw)
        if messages or _list(value, "statuses"):
            return
    if field_name == "user_id_update" or _list(value, "user_id_update"):
        updates = _list(value, "user_id_update")
        yield from (_user_id_change(u) if isinstance(u, dict) else
                    Quarantined.of(u, "a user_id_update entry is not a JSON object", part="user_id_change")
                    for u in updates)
        if updates:
            return
    if field_name == "user_preferences":
        prefs = [p for p in _list(value, "user_preferences") if isinstance(p, dict)]
        yield from (_preference(p) for p in prefs)
        if prefs:
            return
    yield _account_change({"field": field_name, "value": value, "time": entry_time})


def parse_payload(body: Any) -> list[Event]:
    """Every event in a webhook body. Raises PayloadError only when it is not a WhatsApp payload."""
    if not isinstance(body, dict):
        raise PayloadError("body is not a JSON object")
    if body.get("object") != OBJECT_WHATSAPP:
        raise PayloadError(f"object is not {OBJECT_WHATSAPP!r}")
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("entry is not a list")
    events: list[Event] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        for change in _list(entry, "changes"):
            if isinstance(change, dict):
                events.extend(_checked_change_events(change, entry.get("time")))
    return events


def parse_body(body: Any) -> list[Event]:
    """Like parse_payload, for any signed body: what is not a WhatsApp payload is one Quarantined
    event instead of an error, so the caller can store it and answer 200."""
    try:
        return parse_payload(body)
    except PayloadError as exc:
        return [Quarantined.of(body, f"not a WhatsApp payload: {exc}")]


def read_again(quarantined: Quarantined) -> list[Event]:
    """What a quarantined part holds, read with today's reader (`wabot events retry`): its events,
    or again Quarantined ones. Raises ValueError when its text is not JSON."""
    value = safejson.loads(quarantined.raw_json)
    if quarantined.part == "body":
        return parse_body(value)
    if quarantined.part == "change":
        return _checked_change_events(value, None) if isinstance(value, dict) else [
            Quarantined.of(value, "a change is not a JSON object", part="change")]
    if quarantined.part in ("message", "status", "preference", "user_id_change", "account") and isinstance(value, dict):
        return [_checked(from_record(quarantined.part, value))]
    return [Quarantined.of(value, f"not a record of a {quarantined.part}", part=quarantined.part)]


def _checked_change_events(change: dict, entry_time: Any) -> list[Event]:
    """The events of one change, each checked on its own: a part that cannot be an event is
    quarantined, and the valid events beside it are kept."""
    try:
        events = list(_change_events(change, entry_time))
    except Exception as exc:  # any shape we cannot read quarantines this change only
        return [Quarantined.of(change, f"unreadable change: {exc.__class__.__name__}", part="change")]
    return [_checked(event) for event in events]


def _checked(event: Event) -> Event:
    reason = safejson.problem(event.raw) or _column_problem(event)
    if reason is None and isinstance(event, UserIdChange):
        reason = event.problem()
    return Quarantined.of(event.raw, reason, part=event.kind) if reason else event


def _column_problem(event: Event) -> str | None:
    for name, value, limit in (("key", event.key, 512), ("type", event.type, 64), ("sender", event.sender, MAX_SENDER)):
        if value is not None and len(value) > limit:  # the inbound_events columns
            return f"{name} of {len(value)} characters (at most {limit})"
    if isinstance(event, InboundMessage):
        # The user id too: beside a phone number it is stored on the customer (customers.user_id).
        fields = (("message id", event.message_id, MAX_ID), ("sender", event.sender, MAX_SENDER),
                  ("user id", event.user_id, MAX_SENDER), ("type", event.type, MAX_TYPE),
                  ("profile name", event.profile_name, MAX_NAME), ("reply id", event.reply_id, MAX_ID))
    elif isinstance(event, StatusUpdate):
        fields = (("message id", event.message_id, MAX_ID), ("status", event.status, MAX_TYPE),
                  ("recipient", event.recipient, MAX_SENDER))
    elif isinstance(event, MarketingPreference):
        fields = (("sender", event.sender, MAX_SENDER), ("user id", event.user_id, MAX_SENDER))
    elif isinstance(event, UserIdChange):
        fields = (("previous user id", event.previous, MAX_SENDER), ("current user id", event.current, MAX_SENDER),
                  ("wa_id", event.wa_id, MAX_SENDER))
    elif isinstance(event, AccountChange):
        fields = (("field", event.field_name, 64),)
    else:
        fields = ()
    for name, value, limit in fields:
        if value is not None and len(value) > limit:
            return f"{name} of {len(value)} characters (at most {limit})"
    return None


def from_record(kind: str, record: dict) -> Event:
    """Rebuild an event from what `event.raw` stored."""
    if kind == "quarantined":
        return Quarantined(reason=str(record.get("reason")), raw_json=str(record.get("raw")),
                           part=str(record.get("part") or "body"), raw=record)
    if kind == "message":
        return _message(record.get("message") or {}, record.get("contact"), record.get("errors") or [])
    if kind == "status":
        return _status(record.get("status") or {})
    if kind == "preference":
        return _preference(record.get("preference") or {})
    if kind == "user_id_change":
        return _user_id_change(record.get("user_id_update") or {})
    return _account_change(record)


def _account_change(record: dict) -> AccountChange:
    value = _dict(record, "value")
    return AccountChange(
        field_name=_str(record, "field") or "unknown",
        event=_str(value, "event"),
        timestamp=parse_timestamp(value.get("timestamp", record.get("time"))),
        raw=record,
    )
