"""Inbound payloads shaped exactly like Meta's, for `wabot chat`, the sandbox page and tests."""
from __future__ import annotations

import time
import uuid
from typing import Any


def _envelope(wa_id: str, name: str | None, message: dict, phone_number_id: str) -> dict:
    return {
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "0",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
                    "contacts": [{"profile": {"name": name}, "wa_id": wa_id} if name else {"wa_id": wa_id}],
                    "messages": [message],
                },
            }],
        }],
    }


def _message(wa_id: str, kind: str, body: dict, message_id: str | None, timestamp: float | None) -> dict:
    return {
        "from": wa_id,
        "id": message_id or f"wamid.sim.{uuid.uuid4().hex}",
        "timestamp": str(int(timestamp if timestamp is not None else time.time())),
        "type": kind,
        kind: body,
    }


def text_payload(wa_id: str, text: str, *, name: str | None = None, message_id: str | None = None,
                 timestamp: float | None = None, phone_number_id: str = "sandbox") -> dict:
    return _envelope(wa_id, name, _message(wa_id, "text", {"body": text}, message_id, timestamp), phone_number_id)


def reply_payload(wa_id: str, reply_id: str, title: str, *, list_row: bool = False, name: str | None = None,
                  message_id: str | None = None, timestamp: float | None = None,
                  phone_number_id: str = "sandbox") -> dict:
    """A tap on one of our reply buttons (or list rows)."""
    kind = "list_reply" if list_row else "button_reply"
    body: dict[str, Any] = {"type": kind, kind: {"id": reply_id, "title": title}}
    return _envelope(wa_id, name, _message(wa_id, "interactive", body, message_id, timestamp), phone_number_id)


def status_payload(message_id: str, status: str, recipient: str, *, timestamp: float | None = None,
                   errors: list[dict] | None = None, callback_data: str | None = None) -> dict:
    entry: dict[str, Any] = {"id": message_id, "status": status, "recipient_id": recipient,
                             "timestamp": str(int(timestamp if timestamp is not None else time.time()))}
    if errors:
        entry["errors"] = errors
    if callback_data:
        entry["biz_opaque_callback_data"] = callback_data
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "0", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": "sandbox"},
            "statuses": [entry],
        }}]}],
    }


def choices_of(message: dict) -> list[tuple[str, str]]:
    """(id, title) of the buttons or list rows of an interactive message body."""
    interactive = message.get("interactive") or {}
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        return [(b["reply"]["id"], b["reply"]["title"]) for b in action.get("buttons", [])]
    if interactive.get("type") == "list":
        return [(r["id"], r["title"]) for s in action.get("sections", []) for r in s.get("rows", [])]
    return []


def image_payload(wa_id: str, *, caption: str | None = None, name: str | None = None,
                  message_id: str | None = None, timestamp: float | None = None,
                  phone_number_id: str = "sandbox") -> dict:
    """A photo, as Meta delivers it (the media id is made up)."""
    body: dict[str, Any] = {"id": f"media.sim.{uuid.uuid4().hex[:12]}", "mime_type": "image/jpeg", "sha256": "0" * 64}
    if caption:
        body["caption"] = caption
    return _envelope(wa_id, name, _message(wa_id, "image", body, message_id, timestamp), phone_number_id)


def username_text_payload(user_id: str, text: str, *, wa_id: str | None = None, username: str | None = None,
                          name: str | None = None, message_id: str | None = None, timestamp: float | None = None,
                          phone_number_id: str = "sandbox") -> dict:
    """A text from a customer with a business-scoped user id (the 2026 usernames): without `wa_id`
    the message carries no phone number at all (`from_user_id`, and `user_id` in contacts)."""
    message = _message(wa_id or "", "text", {"body": text}, message_id, timestamp)
    if wa_id is None:
        del message["from"]
    message["from_user_id"] = user_id
    profile = {key: value for key, value in (("name", name), ("username", username)) if value}
    contact: dict[str, Any] = {"profile": profile, "user_id": user_id}
    if wa_id is not None:
        contact["wa_id"] = wa_id
    payload = _envelope(wa_id or user_id, name, message, phone_number_id)
    payload["entry"][0]["changes"][0]["value"]["contacts"] = [contact]
    return payload


def user_id_update_payload(previous: str, current: str, *, wa_id: str | None = None,
                           timestamp: float | None = None) -> dict:
    """Meta's `user_id_update` webhook: a customer's business-scoped user id changed."""
    update: dict[str, Any] = {"detail": "User id has been updated.", "user_id": {"previous": previous, "current": current},
                              "timestamp": str(int(timestamp if timestamp is not None else time.time()))}
    if wa_id is not None:
        update["wa_id"] = wa_id
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "0", "changes": [{"field": "user_id_update", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550000000", "phone_number_id": "sandbox"},
            "user_id_update": [update],
        }}]}],
    }
