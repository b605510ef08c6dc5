"""A local fake of the Graph API's /messages endpoint: a real HTTP server, not a mock of a library.

It checks what Meta checks, in Meta's order, and refuses with Meta's error JSON (HTTP status, code,
`error_data.details` naming the field):

1. the path: `/<version>/<phone number id>/messages` with the version and phone number id this fake
   was configured with (an unknown phone number id: 400, code 100, subcode 33 "Unsupported post
   request"; another version or edge: 400, code 2500 "Unknown path components");
2. the bearer token (missing or wrong: 401, code 190 "Invalid OAuth access token");
3. the body (`check_body`): messaging_product, a recipient, a known type with its object, and
   Meta's limits on text, reply buttons, lists, catalog products and templates (400, code 100 for a missing or
   unknown parameter, 131009 "Parameter value is not valid" for a value out of Meta's limits).

A request that passes is answered by the script (`queued`, then `responder`) or, by default, like
Meta: a message id. Every request is recorded. A refusal by a check is also kept in `refusals`:
the `fake_graph` fixture fails the test at teardown if the product sent anything Meta would have
refused, so a product message outside Meta's rules cannot pass unnoticed. A test that knowingly
sends such a message (a known product bug) names the one check it skips with `tolerate`.
"""
from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from tests.support.json_server import RESET, JsonServer, Request, Response

CONNECTION_RESET: Response = (RESET, {}, {})  # a scripted answer: the connection is reset, nothing answered

DEFAULT_VERSION = "v26.0"
DEFAULT_PHONE_NUMBER_ID = "1234567890"
DEFAULT_TOKEN = "test-token"

# Meta's documented limits (developers.facebook.com, WhatsApp Cloud API: messages).
TEXT_BODY = 4096
INTERACTIVE_BODY = 1024
HEADER_TEXT = 60
FOOTER_TEXT = 60
MAX_BUTTONS = 3
BUTTON_TITLE = 20
BUTTON_ID = 256
LIST_BUTTON = 20
MAX_SECTIONS = 10
MAX_ROWS = 10
ROW_TITLE = 24
ROW_DESCRIPTION = 72
SECTION_TITLE = 24
ROW_ID = 200
CALLBACK_DATA = 512
TEMPLATE_NAME = 512
MAX_PRODUCTS = 30  # a product list's products in all (its sections: MAX_SECTIONS)
COUPON_CODE = 15  # a copy-code button's code
TEMPLATE_HEADER_MEDIA = ("image", "video", "document")
# What each button sub_type takes as its one parameter (Meta's template send reference).
BUTTON_PARAMETER = {"quick_reply": "payload", "copy_code": "coupon_code", "url": "text"}

MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
MESSAGE_TYPES = ("text", "interactive", "template", "reaction", "location", "contacts") + MEDIA_TYPES
INTERACTIVE_TYPES = ("button", "list", "cta_url", "product", "product_list", "catalog_message", "flow",
                     "location_request_message", "address_message", "call_permission_request")
COMPONENT_TYPES = ("header", "body", "button", "carousel", "limited_time_offer")
BUTTON_SUB_TYPES = ("quick_reply", "url", "copy_code", "flow", "catalog", "mpm", "voice_call")
PARAMETER_TYPES = ("text", "currency", "date_time", "image", "document", "video", "location", "payload",
                   "action", "coupon_code", "limited_time_offer", "product")
# Every check a body can fail, by name: what `tolerate` takes.
CHECKS = (
    "path", "token", "json", "messaging_product", "recipient", "recipient_type", "type", "callback_data",
    "text.body", "read.message_id", "read.typing_indicator", "media", "reaction", "location",
    "interactive.type", "interactive.body", "interactive.header", "interactive.footer", "interactive.action",
    "button.count", "button.type", "button.id", "button.id_unique", "button.title", "button.title_unique",
    "list.button", "list.sections", "list.section_title", "list.rows", "list.row_id", "list.row_id_unique",
    "list.row_title", "list.row_description",
    "product.catalog_id", "product.retailer_id", "product.header", "product_list.header", "product_list.sections",
    "product_list.section_title", "product_list.items",
    "template.name", "template.language", "template.components", "template.parameters", "template.button",
    "template.header",
)


# ---------------------------------------------------------------- Meta's errors

@dataclass(frozen=True)
class Refusal:
    """One of Meta's error answers, and the name of the check that gave it."""

    check: str
    status: int
    code: int
    message: str
    details: str | None = None
    subcode: int | None = None
    type: str = "OAuthException"

    def error(self) -> dict:
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.details is not None:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        error["fbtrace_id"] = "AFakeTraceId"
        return error

    def response(self) -> Response:
        # Meta repeats the message in WWW-Authenticate on its 4xx answers.
        challenge = f'OAuth "Facebook Platform" "invalid_request" "{self.message}"'
        return self.status, {"error": self.error()}, {"WWW-Authenticate": challenge}

    def __str__(self) -> str:
        return f"[{self.check}] HTTP {self.status} ({self.code}) {self.message}" + \
            (f": {self.details}" if self.details else "")


def graph_error(code: int, message: str, status: int = 400, details: str | None = None,
                headers: dict | None = None, subcode: int | None = None, type: str = "OAuthException") -> Response:
    """A scripted answer in Meta's shape (for `queued` and responders)."""
    status, payload, extra = Refusal("scripted", status, code, message, details, subcode, type).response()
    return status, payload, {**extra, **(headers or {})}


class _Refused(Exception):
    def __init__(self, refusal: Refusal):
        super().__init__(str(refusal))
        self.refusal = refusal


def _required(check: str, name: str) -> _Refused:
    message = f"(#100) The parameter {name} is required."
    return _Refused(Refusal(check, 400, 100, message, message.removeprefix("(#100) ")))


def _invalid(check: str, details: str) -> _Refused:
    return _Refused(Refusal(check, 400, 100, "(#100) Invalid parameter", details))


def _not_valid(check: str, details: str) -> _Refused:
    return _Refused(Refusal(check, 400, 131009, "(#131009) Parameter value is not valid", details))


class _Checker:
    def __init__(self, tolerated: frozenset[str]):
        self.tolerated = tolerated

    def fail(self, error: _Refused) -> None:
        if error.refusal.check not in self.tolerated:
            raise error

    def present(self, obj: Any, key: str, name: str, check: str, kind: type | tuple = str) -> Any:
        """obj[key], which Meta requires: a missing one is 100 "is required", a wrong type 100."""
        value = obj.get(key) if isinstance(obj, dict) else None
        if value is None or (kind is str and value == ""):
            self.fail(_required(check, name))
        elif not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            self.fail(_invalid(check, f"{name} must be {_kind_name(kind)}, not {type(value).__name__}"))
        return value

    def length(self, value: Any, low: int, high: int, name: str, check: str) -> None:
        if not isinstance(value, str):
            self.fail(_invalid(check, f"{name} must be a string"))
        elif not low <= len(value) <= high:
            self.fail(_not_valid(check, f"{name} is {len(value)} characters long; Meta allows {low} to {high}"))

    def count(self, items: Any, low: int, high: int, name: str, check: str) -> None:
        if not isinstance(items, list):
            self.fail(_invalid(check, f"{name} must be a list"))
        elif not low <= len(items) <= high:
            self.fail(_not_valid(check, f"{name} has {len(items)} items; Meta allows {low} to {high}"))

    def unique(self, values: list, name: str, check: str) -> None:
        seen: set = set()
        for value in values:
            if value in seen:
                self.fail(_not_valid(check, f"{name} {value!r} is not unique within the message"))
            seen.add(value)


def _kind_name(kind: type | tuple) -> str:
    names = {str: "a string", dict: "an object", list: "a list", int: "an integer", float: "a number"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


# ---------------------------------------------------------------- the checks

PATH = re.compile(r"^/(?P<version>[^/]+)/(?P<object>[^/]+)/(?P<edge>[^/?]+)/?(?:\?.*)?$")
VERSION = re.compile(r"^v\d+\.\d+$")


def check_path(method: str, path: str, version: str, phone_number_id: str) -> Refusal | None:
    match = PATH.match(path)
    if match and VERSION.match(match["version"]) and match["edge"] == "messages" and method == "POST" \
            and match["object"] != phone_number_id:
        return Refusal("path", 400, 100, f"Unsupported post request. Object with ID '{match['object']}' does not "
                       "exist, cannot be loaded due to missing permissions, or does not support this operation. "
                       "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                       subcode=33, type="GraphMethodException")
    if not match or match["version"] != version or match["edge"] != "messages" or method != "POST":
        rest = path.split("?")[0]
        if match and match["version"] == version:
            rest = rest[len(version) + 1:]
        return Refusal("path", 400, 2500, f"Unknown path components: {rest}")
    return None


def check_token(headers: dict, token: str) -> Refusal | None:
    given = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    if given != f"Bearer {token}":
        why = "Cannot parse access token" if not given or not given.startswith("Bearer ") else \
            "Malformed access token"
        return Refusal("token", 401, 190, f"Invalid OAuth access token - {why}")
    return None


def check_body(body: Any, tolerate: frozenset[str] | set[str] = frozenset()) -> Refusal | None:
    """What Meta checks in a /messages body, or None when it is valid."""
    c = _Checker(frozenset(tolerate))
    try:
        _body(c, body)
    except _Refused as refused:
        return refused.refusal
    return None


def _body(c: _Checker, body: Any) -> None:
    if not isinstance(body, dict):
        c.fail(_invalid("json", "the request body must be a JSON object"))
        return
    product = c.present(body, "messaging_product", "messaging_product", "messaging_product")
    if product is not None and product != "whatsapp":
        c.fail(_invalid("messaging_product", f"messaging_product must be 'whatsapp', not {product!r}"))
    if "status" in body:  # mark as read (optionally with a typing indicator)
        if body.get("status") != "read":
            c.fail(_invalid("read.message_id", f"status must be 'read', not {body.get('status')!r}"))
        c.present(body, "message_id", "message_id", "read.message_id")
        if "typing_indicator" in body:  # Meta's typing indicators: {"type": "text"}, the one kind
            typing = body["typing_indicator"]
            if not isinstance(typing, dict) or typing.get("type") != "text" or set(typing) != {"type"}:
                c.fail(_invalid("read.typing_indicator", f"typing_indicator must be {{'type': 'text'}}, not {typing!r}"))
        for extra in set(body) - {"messaging_product", "status", "message_id", "typing_indicator"}:
            c.fail(_invalid("read.message_id", f"a read receipt has no parameter {extra!r}"))
        return
    _recipient(c, body)
    kind = c.present(body, "type", "type", "type")
    if kind is not None and kind not in MESSAGE_TYPES:
        c.fail(_invalid("type", f"type {kind!r} is not one of {', '.join(MESSAGE_TYPES)}"))
        return
    data = body.get("biz_opaque_callback_data")
    if data is not None:
        c.length(data, 0, CALLBACK_DATA, "biz_opaque_callback_data", "callback_data")
    obj = c.present(body, kind, kind, "type", dict) if kind else None
    if not isinstance(obj, dict):
        return
    if kind == "text":
        c.length(c.present(obj, "body", "text['body']", "text.body"), 1, TEXT_BODY, "text['body']", "text.body")
        if "preview_url" in obj and not isinstance(obj["preview_url"], bool):
            c.fail(_invalid("text.body", "text['preview_url'] must be a boolean"))
    elif kind == "interactive":
        _interactive(c, obj)
    elif kind == "template":
        _template(c, obj)
    elif kind in MEDIA_TYPES:
        if not (isinstance(obj.get("id"), str) and obj["id"]) and not (isinstance(obj.get("link"), str) and obj["link"]):
            c.fail(_required("media", f"{kind}['id'] or {kind}['link']"))
    elif kind == "reaction":
        c.present(obj, "message_id", "reaction['message_id']", "reaction")
        if not isinstance(obj.get("emoji"), str):
            c.fail(_required("reaction", "reaction['emoji']"))
    elif kind == "location":
        for key in ("latitude", "longitude"):
            c.present(obj, key, f"location['{key}']", "location", (int, float, str))
    elif kind == "contacts":
        pass  # a list of contact cards; the product sends none
    return


def _recipient(c: _Checker, body: dict) -> None:
    to, recipient = body.get("to"), body.get("recipient")
    if to is None and recipient is None:
        c.fail(_required("recipient", "to"))
    if to is not None and not (isinstance(to, str) and re.fullmatch(r"\+?[0-9]{1,20}", to)):
        c.fail(_invalid("recipient", f"to must be a phone number (digits), not {to!r}"))
    # A BSUID: the ISO country, ".", up to 128 letters and digits ("ENT." first for a parent id).
    if recipient is not None and not (isinstance(recipient, str)
                                      and re.fullmatch(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}", recipient)):
        c.fail(_invalid("recipient", f"recipient must be a business-scoped user id, not {recipient!r}"))
    kind = body.get("recipient_type", "individual")
    if kind not in ("individual", "group"):
        c.fail(_invalid("recipient_type", f"recipient_type {kind!r} is not individual or group"))


def _interactive(c: _Checker, obj: dict) -> None:
    kind = c.present(obj, "type", "interactive['type']", "interactive.type")
    if kind is not None and kind not in INTERACTIVE_TYPES:
        c.fail(_invalid("interactive.type", f"interactive['type'] {kind!r} is not one of "
                        + ", ".join(INTERACTIVE_TYPES)))
        return
    if kind in ("button", "list", "product_list") or "body" in obj:
        body = c.present(obj, "body", "interactive['body']", "interactive.body", dict)
        if isinstance(body, dict):
            c.length(c.present(body, "text", "interactive['body']['text']", "interactive.body"), 1,
                     INTERACTIVE_BODY, "interactive['body']['text']", "interactive.body")
    header = obj.get("header")
    if kind == "product" and header is not None:
        c.fail(_invalid("product.header", "a single-product message takes no header"))
    if kind == "product_list" and not (isinstance(header, dict) and header.get("type") == "text"):
        c.fail(_required("product_list.header", "interactive['header'] (type text)"))
    if header is not None:
        if not isinstance(header, dict) or header.get("type") not in ("text", "image", "video", "document"):
            c.fail(_invalid("interactive.header", "interactive['header']['type'] must be text, image, video or document"))
        elif header["type"] == "text":
            c.length(header.get("text"), 1, HEADER_TEXT, "interactive['header']['text']", "interactive.header")
    footer = obj.get("footer")
    if footer is not None:
        c.length(footer.get("text") if isinstance(footer, dict) else None, 1, FOOTER_TEXT,
                 "interactive['footer']['text']", "interactive.footer")
    action = c.present(obj, "action", "interactive['action']", "interactive.action", dict)
    if not isinstance(action, dict):
        return
    if kind == "button":
        _buttons(c, action)
    elif kind == "list":
        _list(c, action)
    elif kind == "product":
        _catalog_id(c, action, "product.catalog_id")
        rid = c.present(action, "product_retailer_id", "interactive['action']['product_retailer_id']",
                        "product.retailer_id")
        if isinstance(rid, str) and not rid.strip():
            c.fail(_required("product.retailer_id", "interactive['action']['product_retailer_id']"))
    elif kind == "product_list":
        _product_list(c, action)


def _catalog_id(c: _Checker, action: dict, check: str) -> None:
    catalog = c.present(action, "catalog_id", "interactive['action']['catalog_id']", check)
    if isinstance(catalog, str) and not catalog.isdigit():
        c.fail(_invalid(check, f"interactive['action']['catalog_id'] {catalog!r} is not a catalog id"))


def _product_list(c: _Checker, action: dict) -> None:
    """A catalog id; 1 to 10 sections, each titled (at most 24 characters) with its products; 30 in all."""
    _catalog_id(c, action, "product.catalog_id")
    sections = c.present(action, "sections", "interactive['action']['sections']", "product_list.sections", list)
    if not isinstance(sections, list):
        return
    c.count(sections, 1, MAX_SECTIONS, "interactive['action']['sections']", "product_list.sections")
    total = 0
    for s, section in enumerate(sections):
        name = f"interactive['action']['sections'][{s}]"
        if not isinstance(section, dict):
            c.fail(_invalid("product_list.sections", f"{name} must be an object"))
            continue
        title = c.present(section, "title", f"{name}['title']", "product_list.section_title")
        c.length(title, 1, SECTION_TITLE, f"{name}['title']", "product_list.section_title")
        items = c.present(section, "product_items", f"{name}['product_items']", "product_list.items", list)
        if not isinstance(items, list):
            continue
        c.count(items, 1, MAX_PRODUCTS, f"{name}['product_items']", "product_list.items")
        total += len(items)
        for i, item in enumerate(items):
            rid = c.present(item, "product_retailer_id", f"{name}['product_items'][{i}]['product_retailer_id']",
                            "product_list.items")
            if isinstance(rid, str) and not rid.strip():
                c.fail(_required("product_list.items", f"{name}['product_items'][{i}]['product_retailer_id']"))
    if total > MAX_PRODUCTS:
        c.fail(_not_valid("product_list.items", f"the product list has {total} products in all; Meta allows at "
                          f"most {MAX_PRODUCTS}"))


def _buttons(c: _Checker, action: dict) -> None:
    buttons = c.present(action, "buttons", "interactive['action']['buttons']", "button.count", list)
    if not isinstance(buttons, list):
        return
    c.count(buttons, 1, MAX_BUTTONS, "interactive['action']['buttons']", "button.count")
    ids, titles = [], []
    for i, button in enumerate(buttons):
        name = f"interactive['action']['buttons'][{i}]"
        if not isinstance(button, dict) or button.get("type") != "reply":
            c.fail(_invalid("button.type", f"{name}['type'] must be 'reply'"))
            continue
        reply = c.present(button, "reply", f"{name}['reply']", "button.type", dict)
        if not isinstance(reply, dict):
            continue
        button_id = c.present(reply, "id", f"{name}['reply']['id']", "button.id")
        c.length(button_id, 1, BUTTON_ID, f"{name}['reply']['id']", "button.id")
        title = c.present(reply, "title", f"{name}['reply']['title']", "button.title")
        c.length(title, 1, BUTTON_TITLE, f"{name}['reply']['title']", "button.title")
        ids.append(button_id)
        titles.append(title)
    c.unique(ids, "button id", "button.id_unique")
    c.unique(titles, "button title", "button.title_unique")


def _list(c: _Checker, action: dict) -> None:
    label = c.present(action, "button", "interactive['action']['button']", "list.button")
    c.length(label, 1, LIST_BUTTON, "interactive['action']['button']", "list.button")
    sections = c.present(action, "sections", "interactive['action']['sections']", "list.sections", list)
    if not isinstance(sections, list):
        return
    c.count(sections, 1, MAX_SECTIONS, "interactive['action']['sections']", "list.sections")
    ids, total = [], 0
    for s, section in enumerate(sections):
        name = f"interactive['action']['sections'][{s}]"
        if not isinstance(section, dict):
            c.fail(_invalid("list.sections", f"{name} must be an object"))
            continue
        title = section.get("title")
        if title is None and len(sections) > 1:
            c.fail(_required("list.section_title", f"{name}['title']"))
        elif title is not None:
            c.length(title, 1, SECTION_TITLE, f"{name}['title']", "list.section_title")
        rows = c.present(section, "rows", f"{name}['rows']", "list.rows", list)
        if not isinstance(rows, list):
            continue
        c.count(rows, 1, MAX_ROWS, f"{name}['rows']", "list.rows")
        total += len(rows)
        for r, row in enumerate(rows):
            row_name = f"{name}['rows'][{r}]"
            if not isinstance(row, dict):
                c.fail(_invalid("list.rows", f"{row_name} must be an object"))
                continue
            row_id = c.present(row, "id", f"{row_name}['id']", "list.row_id")
            c.length(row_id, 1, ROW_ID, f"{row_name}['id']", "list.row_id")
            ids.append(row_id)
            c.length(c.present(row, "title", f"{row_name}['title']", "list.row_title"), 1, ROW_TITLE,
                     f"{row_name}['title']", "list.row_title")
            if row.get("description") is not None:
                c.length(row["description"], 0, ROW_DESCRIPTION, f"{row_name}['description']", "list.row_description")
    if total > MAX_ROWS:
        c.fail(_not_valid("list.rows", f"the list has {total} rows in all; Meta allows at most {MAX_ROWS}"))
    c.unique(ids, "row id", "list.row_id_unique")


def _template(c: _Checker, obj: dict) -> None:
    name = c.present(obj, "name", "template['name']", "template.name")
    if isinstance(name, str):
        c.length(name, 1, TEMPLATE_NAME, "template['name']", "template.name")
    language = c.present(obj, "language", "template['language']", "template.language", dict)
    if isinstance(language, dict):
        c.present(language, "code", "template['language']['code']", "template.language")
        if language.get("policy", "deterministic") != "deterministic":
            c.fail(_invalid("template.language", "template['language']['policy'] must be 'deterministic'"))
    components = obj.get("components")
    if components is None:
        return
    if not isinstance(components, list):
        c.fail(_invalid("template.components", "template['components'] must be a list"))
        return
    seen: dict[str, int] = {}
    indexes: list[str] = []
    for i, component in enumerate(components):
        where = f"template['components'][{i}]"
        kind = component.get("type") if isinstance(component, dict) else None
        if kind not in COMPONENT_TYPES:
            c.fail(_invalid("template.components", f"{where}['type'] {kind!r} is not one of "
                            + ", ".join(COMPONENT_TYPES)))
            continue
        seen[kind] = seen.get(kind, 0) + 1
        if kind in ("header", "body") and seen[kind] > 1:
            c.fail(_invalid("template.components", f"{where}: a template has one {kind} component"))
        if kind == "header":
            _template_header(c, component, where)
        if kind == "button":
            indexes.append(str(component.get("index")))
            _template_button(c, component, where)
        if kind == "button":
            if component.get("sub_type") not in BUTTON_SUB_TYPES:
                c.fail(_invalid("template.button", f"{where}['sub_type'] {component.get('sub_type')!r} is not one "
                                "of " + ", ".join(BUTTON_SUB_TYPES)))
            index = component.get("index")
            if not (isinstance(index, int) and not isinstance(index, bool) or isinstance(index, str)
                    and index.isdigit()) or not 0 <= int(index) <= 9:
                c.fail(_invalid("template.button", f"{where}['index'] must be 0 to 9, not {index!r}"))
        parameters = component.get("parameters")
        if parameters is None and kind in ("header", "body"):
            c.fail(_required("template.parameters", f"{where}['parameters']"))
            continue
        if parameters is not None and not isinstance(parameters, list):
            c.fail(_invalid("template.parameters", f"{where}['parameters'] must be a list"))
            continue
        for p, parameter in enumerate(parameters or []):
            _parameter(c, parameter, f"{where}['parameters'][{p}]")
    if len(set(indexes)) != len(indexes):
        c.fail(_invalid("template.button", "two button components have the same index"))


def _template_header(c: _Checker, component: dict, where: str) -> None:
    """A header takes one parameter: text of at most 60 characters, or a media object with an
    https link (or an uploaded media id)."""
    parameters = component.get("parameters")
    if not isinstance(parameters, list) or len(parameters) != 1 or not isinstance(parameters[0], dict):
        c.fail(_invalid("template.header", f"{where}['parameters'] must hold exactly one parameter"))
        return
    parameter = parameters[0]
    kind = parameter.get("type")
    if kind == "text":
        text = parameter.get("text")
        if isinstance(text, str) and len(text) > HEADER_TEXT:
            c.fail(_not_valid("template.header", f"{where}['parameters'][0]['text'] is longer than {HEADER_TEXT} "
                              "characters"))
    elif kind in TEMPLATE_HEADER_MEDIA:
        media = parameter.get(kind)
        if not isinstance(media, dict) or not (isinstance(media.get("link"), str) or isinstance(media.get("id"), str)):
            c.fail(_required("template.header", f"{where}['parameters'][0]['{kind}']['link'] or ['id']"))
        elif "link" in media and not re.match(r"https://[^\s/]+", media["link"]):
            c.fail(_not_valid("template.header", f"{where}['parameters'][0]['{kind}']['link'] must be an https URL"))
    elif kind != "location":
        c.fail(_invalid("template.header", f"{where}['parameters'][0]['type'] {kind!r} is not text, image, video, "
                        "document or location"))


def _template_button(c: _Checker, component: dict, where: str) -> None:
    """quick_reply takes a payload, copy_code a coupon_code (at most 15 characters), url a text
    (the dynamic suffix): exactly one parameter each."""
    wanted = BUTTON_PARAMETER.get(component.get("sub_type"))
    if wanted is None:
        return
    parameters = component.get("parameters")
    if not isinstance(parameters, list) or len(parameters) != 1 or not isinstance(parameters[0], dict):
        c.fail(_invalid("template.button", f"{where}['parameters'] must hold exactly one parameter"))
        return
    if parameters[0].get("type") != wanted:
        c.fail(_invalid("template.button", f"{where}['parameters'][0]['type'] must be {wanted!r} for a "
                        f"{component.get('sub_type')} button"))
    code = parameters[0].get("coupon_code")
    if wanted == "coupon_code" and isinstance(code, str) and len(code) > COUPON_CODE:
        c.fail(_not_valid("template.button", f"{where}['parameters'][0]['coupon_code'] is longer than "
                          f"{COUPON_CODE} characters"))


def _parameter(c: _Checker, parameter: Any, where: str) -> None:
    kind = parameter.get("type") if isinstance(parameter, dict) else None
    if kind not in PARAMETER_TYPES:
        c.fail(_invalid("template.parameters", f"{where}['type'] {kind!r} is not one of "
                        + ", ".join(PARAMETER_TYPES)))
        return
    if kind in ("text", "payload", "coupon_code"):
        key = "coupon_code" if kind == "coupon_code" else kind
        value = parameter.get(key)
        if not isinstance(value, str) or not value.strip():
            # Meta's own answer to an empty parameter: 131008 "Required parameter is missing".
            c.fail(_Refused(Refusal("template.parameters", 400, 131008, "(#131008) Required parameter is missing",
                                    f"{where}['{key}'] must be a non-empty string")))
    elif kind not in parameter:
        c.fail(_required("template.parameters", f"{where}['{kind}']"))


# ---------------------------------------------------------------- the fake

@dataclass
class Recorded:
    path: str
    headers: dict
    body: dict
    status: int
    refusal: Refusal | None = None  # set when one of the fake's checks refused it
    arrived: float = field(default_factory=time.monotonic)  # when the request reached the fake

    @property
    def recipient(self) -> str | None:
        return self.body.get("to") or self.body.get("recipient")

    @property
    def type(self) -> str | None:
        return self.body.get("type")

    @property
    def text(self) -> str | None:
        if self.type == "text":
            return self.body["text"]["body"]
        if self.type == "interactive":
            return self.body["interactive"]["body"]["text"]
        return None


@dataclass
class FakeGraph:
    host: str = "127.0.0.1"
    version: str = DEFAULT_VERSION
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID
    token: str = DEFAULT_TOKEN
    # More tokens this number accepts: tests that tell processes apart by their token.
    other_tokens: tuple[str, ...] = ()
    requests: list[Recorded] = field(default_factory=list)
    # Scripted answers, used first-in first-out before the responder and the default, for
    # requests that pass the checks.
    queued: list[Response] = field(default_factory=list)
    responder: Callable[[dict], Response | None] | None = None
    record: bool = True
    refusals: list[Recorded] = field(default_factory=list)  # refused by a check
    tolerated: dict[str, str] = field(default_factory=dict)  # check -> why this test skips it

    def __post_init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._http = JsonServer(self._handle, host=self.host)

    def tolerate(self, check: str, because: str) -> None:
        """Skip one named check for this test only, saying why (a known product bug, reported)."""
        if check not in CHECKS:
            raise ValueError(f"no check named {check!r}; the checks are {', '.join(CHECKS)}")
        self.tolerated[check] = because

    def check(self, request: Request) -> Refusal | None:
        """What Meta would refuse in this request, in Meta's order: path, token, body."""
        tolerated = frozenset(self.tolerated)
        token_refusals = [check_token(request.headers, token) for token in (self.token, *self.other_tokens)]
        for refusal in (check_path(request.method, request.path, self.version, self.phone_number_id),
                        None if None in token_refusals else token_refusals[0]):
            if refusal is not None and refusal.check not in tolerated:
                return refusal
        if not request.is_json:
            return None if "json" in tolerated else Refusal(
                "json", 400, 100, "(#100) Invalid parameter", "the request body is not JSON")
        return check_body(request.body, tolerated)

    def _handle(self, request: Request) -> Response:
        body = request.body if isinstance(request.body, dict) else {}
        refusal = self.check(request)
        if refusal is not None:
            status, payload, extra = refusal.response()
        else:
            status, payload, extra = self._answer(body)
        if self.record:  # before answering, so a client that got its answer finds it recorded
            recorded = Recorded(request.path, request.headers, body, status, refusal)
            with self._changed:
                self.requests.append(recorded)
                if refusal is not None:
                    self.refusals.append(recorded)
                self._changed.notify_all()
        return status, payload, extra

    def _answer(self, body: dict) -> Response:
        with self._lock:
            scripted = self.queued.pop(0) if self.queued else None
        if scripted is not None:
            return scripted
        if self.responder is not None:
            custom = self.responder(body)
            if custom is not None:
                return custom
        if body.get("status") == "read":
            return 200, {"success": True}, {}
        recipient = body.get("to") or body.get("recipient")
        contact = {"input": recipient, "wa_id": recipient} if body.get("to") else {"input": recipient,
                                                                                    "user_id": recipient}
        return 200, {"messaging_product": "whatsapp", "contacts": [contact],
                     "messages": [{"id": f"wamid.fake.{next(self._ids)}"}]}, {}

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> "FakeGraph":
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def messages(self, to: str | None = None) -> list[Recorded]:
        """Message sends (not read receipts), optionally to one recipient."""
        with self._lock:
            found = [r for r in self.requests if r.body.get("type")]
        return [r for r in found if to is None or r.recipient == to]

    def refusal_report(self) -> str:
        """Every request refused by a check, one a line (empty when there was none)."""
        with self._lock:
            refused = list(self.refusals)
        return "\n".join(f"{r.recipient or '-'} {r.type or r.body.get('status') or '-'}: {r.refusal}"
                         for r in refused)

    def wait_for(self, predicate: Callable[[list[Recorded]], bool], timeout: float = 10.0) -> list[Recorded]:
        """Block until the recorded requests satisfy `predicate`; returns them."""
        with self._changed:
            ok = self._changed.wait_for(lambda: predicate(self.requests), timeout=timeout)
            snapshot = list(self.requests)
        if not ok:
            raise AssertionError(f"fake Graph API: condition not met in {timeout}s; got {len(snapshot)} requests: "
                                 + "; ".join(f"{r.status} {r.recipient} {r.type}"
                                             + (f" {r.refusal}" if r.refusal else "") for r in snapshot[-10:]))
        return snapshot


def refuse_outside_window(last_inbound_at: "Callable[[str], object]", now: "Callable[[], object]") -> Callable[[dict], Response | None]:
    """A responder that answers like Meta for a customer whose 24 h window is closed: anything but
    a template is refused with error 131047. `last_inbound_at(wa_id)` and `now()` give the times
    (the test's own clock, which may be a fixed --now)."""
    from datetime import timedelta

    def respond(body: dict) -> Response | None:
        if body.get("status") == "read" or body.get("type") == "template":
            return None
        recipient = body.get("to") or body.get("recipient")
        last = last_inbound_at(recipient)
        if last is None or now() - last >= timedelta(hours=24):
            return graph_error(131047, "Re-engagement message", details="Message failed to send because more "
                               "than 24 hours have passed since the customer last replied to this number.")
        return None

    return respond
