"""WhatsApp message bodies within Meta's limits: text, reply buttons, lists, catalog products, templates.

Pure: builds the dicts the Graph API takes (without the recipient) and nothing else, so the flows
can say what to send without depending on how it is sent (bot/whatsapp/graph.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from bot.whatsapp.commerce import MAX_RETAILER_ID

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
# Multi-product messages: 30 products in all, in 1 to 10 sections, each titled (docs/catalog.md).
MAX_PRODUCTS = 30
MAX_PRODUCT_SECTIONS = 10



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


MAX_COUPON_CODE = 15  # a copy-code button's code
TEMPLATE_MEDIA = ("image", "video", "document")


def _catalog(catalog_id: str) -> str:
    if not catalog_id or not catalog_id.isdigit():
        raise MessageLimitError(f"catalog id {catalog_id!r} is not a catalog's id")
    return catalog_id


def product_message(catalog_id: str, retailer_id: str, body: str | None = None,
                    footer: str | None = None) -> dict:
    """One product of the catalog (interactive type "product"); Meta shows it without a header."""
    interactive: dict[str, Any] = {
        "type": "product",
        "action": {"catalog_id": _catalog(catalog_id), "product_retailer_id": _check(retailer_id, MAX_RETAILER_ID,
                                                                                       "product retailer id")},
    }
    if body:
        interactive["body"] = {"text": _check(body, MAX_BODY, "body")}
    if footer:
        interactive["footer"] = {"text": _check(footer, MAX_FOOTER, "footer")}
    return {"type": "interactive", "interactive": interactive}


def product_list_message(catalog_id: str, header: str, body: str, sections: Sequence[tuple[str, Sequence[str]]],
                         footer: str | None = None) -> dict:
    """Products of the catalog in titled sections (interactive type "product_list"): a text header
    and a body are required, 1 to 10 sections, 30 products in all, each listed once."""
    total = sum(len(ids) for _, ids in sections)
    if not 1 <= len(sections) <= MAX_PRODUCT_SECTIONS:
        raise MessageLimitError(f"a product list takes 1 to {MAX_PRODUCT_SECTIONS} sections, not {len(sections)}")
    if not 1 <= total <= MAX_PRODUCTS:
        raise MessageLimitError(f"a product list takes 1 to {MAX_PRODUCTS} products, not {total}")
    every = [rid for _, ids in sections for rid in ids]
    if len(set(every)) != len(every):
        raise MessageLimitError("a product list names a product twice")
    built = []
    for title, ids in sections:
        if not ids:
            raise MessageLimitError(f"product list section {title!r} is empty")
        built.append({"title": _check(title, MAX_SECTION_TITLE, "section title"),
                      "product_items": [{"product_retailer_id": _check(rid, MAX_RETAILER_ID, "product retailer id")}
                                        for rid in ids]})
    interactive: dict[str, Any] = {
        "type": "product_list",
        "header": {"type": "text", "text": _check(header, MAX_HEADER, "header")},
        "body": {"text": _check(body, MAX_BODY, "body")},
        "action": {"catalog_id": _catalog(catalog_id), "sections": built},
    }
    if footer:
        interactive["footer"] = {"text": _check(footer, MAX_FOOTER, "footer")}
    return {"type": "interactive", "interactive": interactive}


def template_message(name: str, language: str, body_params: Sequence[str] = (),
                     quick_reply_payloads: Sequence[str] = (), *, header: tuple[str, str] | None = None,
                     coupon_code: str | None = None, url_suffix: str | None = None,
                     button_order: Sequence[str] | None = None) -> dict:
    """An approved template, its components in Meta's shape: the header's parameter (("image" |
    "video" | "document", link) or ("text", text)), the body parameters in order, and one button
    component per button that takes a parameter, at its index in the template. The buttons are
    `button_order` ("quick_reply", "copy_code", "url", "static": one without a parameter), by
    default the quick replies, then the copy-code button, then the URL button (docs/campaigns.md)."""
    components: list[dict] = []
    if header is not None:
        kind, value = header
        if kind == "text":
            parameter: dict[str, Any] = {"type": "text", "text": _check(value, MAX_HEADER, "template header text")}
        elif kind in TEMPLATE_MEDIA:
            if not value.startswith("https://"):
                raise MessageLimitError(f"template header link {value!r} is not an https:// URL")
            parameter = {"type": kind, kind: {"link": value}}
        else:
            raise MessageLimitError(f"template header type {kind!r} is not text, image, video or document")
        components.append({"type": "header", "parameters": [parameter]})
    if body_params:
        components.append({"type": "body", "parameters": [{"type": "text", "text": p} for p in body_params]})
    order = list(button_order) if button_order is not None else (
        ["quick_reply"] * len(quick_reply_payloads) + ["copy_code"] * (coupon_code is not None)
        + ["url"] * (url_suffix is not None))
    payloads = iter(quick_reply_payloads)
    for index, kind in enumerate(order):
        if kind == "quick_reply":
            payload = next(payloads, None)
            if payload is None:
                raise MessageLimitError("button_order names more quick replies than the payloads given")
            parameters = [{"type": "payload", "payload": payload}]
        elif kind == "copy_code":
            parameters = [{"type": "coupon_code",
                           "coupon_code": _check(coupon_code or "", MAX_COUPON_CODE, "coupon code")}]
        elif kind == "url":
            parameters = [{"type": "text", "text": _check(url_suffix or "", 2000, "URL button suffix")}]
        else:
            continue  # a static button: no component, but it holds its index
        components.append({"type": "button", "sub_type": kind, "index": str(index), "parameters": parameters})
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
        if inner.get("type") == "product":
            return f"{text} [product {inner['action']['product_retailer_id']}]".lstrip()
        if inner.get("type") == "product_list":
            items = " | ".join(f"{s['title']}: " + ", ".join(p["product_retailer_id"] for p in s["product_items"])
                               for s in inner["action"]["sections"])
            return f"{inner['header']['text']}: {text} [products {items}]"
        return text
    if kind == "template":
        template = message["template"]
        params = [p.get("text", "") for c in template.get("components", []) if c.get("type") == "body"
                  for p in c.get("parameters", [])]
        return f"[template {template['name']}] " + ", ".join(params)
    return f"[{kind}]"
