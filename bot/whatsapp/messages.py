"""WhatsApp message bodies within Meta's limits: text, reply buttons, lists, templates.

Pure: builds the dicts the Graph API takes (without the recipient) and nothing else, so the flows
can say what to send without depending on how it is sent (bot/whatsapp/graph.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

# Meta's documented limits for interactive messages.
MAX_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_REPLY_ID = 256
MAX_ROW_ID = 200
MAX_BODY = 1024
MAX_TEXT = 4096
MAX_LIST_ROWS = 10
MAX_ROW_TITLE = 24
MAX_ROW_DESCRIPTION = 72
MAX_SECTION_TITLE = 24
MAX_HEADER = 60
MAX_FOOTER = 60



class MessageLimitError(ValueError):
    """A message that breaks one of Meta's limits; Meta would answer 100 or 131009."""


def shorten(text: str, limit: int) -> str:
    """Fit dynamic text (a product title, say) into one of Meta's limits."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _check(value: str, limit: int, what: str) -> str:
    if not value:
        raise MessageLimitError(f"{what} is empty")
    if len(value) > limit:
        raise MessageLimitError(f"{what} {value!r} is longer than {limit} characters")
    return value


def text_message(body: str, preview_url: bool = False) -> dict:
    return {"type": "text", "text": {"body": _check(body, MAX_TEXT, "text"), "preview_url": preview_url}}


def buttons_message(body: str, buttons: Sequence[tuple[str, str]], header: str | None = None,
                    footer: str | None = None) -> dict:
    """Up to three reply buttons, each (id, title)."""
    if not 1 <= len(buttons) <= MAX_BUTTONS:
        raise MessageLimitError(f"a message takes 1 to {MAX_BUTTONS} reply buttons, not {len(buttons)}")
    interactive: dict[str, Any] = {
        "type": "button",
        "body": {"text": _check(body, MAX_BODY, "body")},
        "action": {"buttons": [
            {"type": "reply", "reply": {"id": _check(bid, MAX_REPLY_ID, "button id"),
                                        "title": _check(title, MAX_BUTTON_TITLE, "button title")}}
            for bid, title in buttons
        ]},
    }
    if header:
        interactive["header"] = {"type": "text", "text": _check(header, MAX_HEADER, "header")}
    if footer:
        interactive["footer"] = {"text": _check(footer, MAX_FOOTER, "footer")}
    return {"type": "interactive", "interactive": interactive}


@dataclass(frozen=True)
class ListRow:
    id: str
    title: str
    description: str | None = None


def list_message(body: str, button: str, sections: Sequence[tuple[str | None, Sequence[ListRow]]],
                 header: str | None = None, footer: str | None = None) -> dict:
    """A list of up to ten rows in all, in titled sections; `button` opens it."""
    rows = sum(len(r) for _, r in sections)
    if not 1 <= rows <= MAX_LIST_ROWS:
        raise MessageLimitError(f"a list takes 1 to {MAX_LIST_ROWS} rows, not {rows}")
    built = []
    for title, section_rows in sections:
        section: dict[str, Any] = {"rows": []}
        if title:
            section["title"] = _check(title, MAX_SECTION_TITLE, "section title")
        for row in section_rows:
            item = {"id": _check(row.id, MAX_ROW_ID, "row id"), "title": _check(row.title, MAX_ROW_TITLE, "row title")}
            if row.description:
                item["description"] = _check(row.description, MAX_ROW_DESCRIPTION, "row description")
            section["rows"].append(item)
        built.append(section)
    interactive: dict[str, Any] = {
        "type": "list",
        "body": {"text": _check(body, MAX_BODY, "body")},
        "action": {"button": _check(button, MAX_BUTTON_TITLE, "list button"), "sections": built},
    }
    if header:
        interactive["header"] = {"type": "text", "text": _check(header, MAX_HEADER, "header")}
    if footer:
        interactive["footer"] = {"text": _check(footer, MAX_FOOTER, "footer")}
    return {"type": "interactive", "interactive": interactive}


def template_message(name: str, language: str, body_params: Sequence[str] = (),
                     quick_reply_payloads: Sequence[str] = ()) -> dict:
    """An approved template; body parameters in order, and payloads for its quick-reply buttons."""
    components: list[dict] = []
    if body_params:
        components.append({"type": "body", "parameters": [{"type": "text", "text": p} for p in body_params]})
    for index, payload in enumerate(quick_reply_payloads):
        components.append({"type": "button", "sub_type": "quick_reply", "index": str(index),
                           "parameters": [{"type": "payload", "payload": payload}]})
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if components:
        template["components"] = components
    return {"type": "template", "template": template}


def preview_of(message: Mapping[str, Any]) -> str:
    """A one-line rendering of a message body, for transcripts and the sandbox."""
    kind = message.get("type")
    if kind == "text":
        return message["text"]["body"]
    if kind == "interactive":
        inner = message["interactive"]
        text = inner.get("body", {}).get("text", "")
        if inner.get("type") == "button":
            titles = " | ".join(b["reply"]["title"] for b in inner["action"]["buttons"])
            return f"{text} [{titles}]"
        if inner.get("type") == "list":
            rows = " | ".join(r["title"] for s in inner["action"]["sections"] for r in s["rows"])
            return f"{text} [{inner['action']['button']}: {rows}]"
        return text
    if kind == "template":
        template = message["template"]
        params = [p.get("text", "") for c in template.get("components", []) if c.get("type") == "body"
                  for p in c.get("parameters", [])]
        return f"[template {template['name']}] " + ", ".join(params)
    return f"[{kind}]"
