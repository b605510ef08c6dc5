"""One Settings object from the WABOT_* environment and wabot.toml, validated once at start.

Business code receives a Settings; nothing past this module reads os.environ or the TOML file.
"""
from __future__ import annotations

import os
import string
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.core import languages as langs
from bot.core.db import DEFAULT_DATABASE_URL
from bot.core.errors import ConfigError
from bot.core.retry import Backoff
from bot.core.text import placeholder_problem

DEFAULT_GRAPH_VERSION = "v26.0"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Strict):
    name: str = "Our store"
    currency: str = "USD"
    timezone: str = "UTC"
    shop_domain: str = ""
    default_region: str = "US"
    # ISO 639-1 codes the store answers in; the first is the default (docs/languages.md).
    languages: tuple[str, ...] = ("en",)
    # The Meta commerce catalog recommendations are sent from, and how its items' retailer ids are
    # spelled from a variant (docs/catalog.md); no catalog: recommendations stay a text list.
    catalog_id: str = ""
    catalog_retailer_id: str = "{sku}"

    @field_validator("catalog_id")
    @classmethod
    def _catalog_digits(cls, value: str) -> str:
        value = value.strip()
        if value and not value.isdigit():
            raise ValueError(f"{value!r} is not a catalog id (the digits Commerce Manager shows)")
        return value

    @field_validator("catalog_retailer_id")
    @classmethod
    def _retailer_format(cls, value: str) -> str:
        fields = ("sku", "variant_id", "product_id")
        problem = placeholder_problem(value, fields)
        if problem is None:
            # A format is read backwards too (an inbound cart): plain {name} only, at least one of them.
            parsed = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(value)
                      if name is not None]
            literals = [text for text, _, _, _ in string.Formatter().parse(value)]
            if any(spec or conversion for _, spec, conversion in parsed):
                problem = "write placeholders plainly ({sku}), without a format spec or conversion"
            elif not parsed:
                problem = f"use at least one of {{{'}, {'.join(fields)}}}"
            elif any(not text.strip("0123456789") for text in literals[1:len(parsed)]):
                problem = "separate placeholders by text that is not only digits, so an id reads back one way"
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("languages")
    @classmethod
    def _known_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("list at least one language; the first is the default")
        for code in value:
            if code not in langs.KNOWN:
                raise ValueError(f"unknown language {code!r}: give ISO 639-1 codes such as "
                                 f"{', '.join(langs.BUILT_IN)}")
        if len(set(value)) != len(value):
            raise ValueError("a language is listed twice")
        return value

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SegmentParams(_Strict):
    loyal_min_orders: int = 10
    lapsed_days: int = 180
    aov_thresholds: tuple[float, float] | None = None
    sale_share: float = 0.8
    vip_min_spent: float | None = None
    former_vip_days: int = 90
    engaged_days: int = 30


class CustomSegment(_Strict):
    rule: str
    description: str = ""


# Placeholders a proactive message can fill: campaigns know the customer and the store; a reorder
# prompt also knows the product and the order it would repeat.
CAMPAIGN_PLACEHOLDERS = ("first_name", "store_name", "discount_code", "last_order_name")
REORDER_PLACEHOLDERS = ("first_name", "store_name", "last_order_name", "product_title", "order_id")


def _check_placeholders(text: str, allowed: tuple[str, ...], what: str) -> None:
    problem = placeholder_problem(text, allowed)
    if problem:
        raise ValueError(f"{what}: {problem}")


# Meta's limits on what a template send fills in (docs/campaigns.md, "Rich templates").
TEMPLATE_HEADER_TEXT = 60
TEMPLATE_COUPON_CODE = 15
TEMPLATE_MAX_BUTTONS = 10


class TemplateHeader(_Strict):
    """The parameter of a template's header: a media link (image, video, document) or the text
    that fills a text header's {{1}} (placeholders allowed)."""

    type: Literal["text", "image", "video", "document"]
    text: str | None = None
    link: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "TemplateHeader":
        if self.type == "text":
            if self.link is not None or not (self.text or "").strip():
                raise ValueError('a text header takes text = "..." (and no link)')
            if "{" not in self.text and len(self.text) > TEMPLATE_HEADER_TEXT:
                raise ValueError(f"header text is {len(self.text)} characters; Meta allows {TEMPLATE_HEADER_TEXT}")
        else:
            if self.text is not None or not self.link:
                raise ValueError(f'an {self.type} header takes link = "https://..." (and no text)')
            if not self.link.startswith("https://") or len(self.link) <= len("https://") or any(
                    ch.isspace() for ch in self.link):
                raise ValueError(f"header link {self.link!r} must be an https:// URL Meta can fetch")
        return self


class TemplateRef(_Strict):
    name: str = Field(min_length=1)
    language: str = "en_US"
    body: tuple[str, ...] = ()  # the template's body parameters in order, placeholders allowed
    category: Literal["marketing", "utility"] | None = None
    # Payloads for the template's quick-reply buttons, in order (placeholders allowed); Meta returns
    # them when the customer taps, so a tap can lead into a flow (e.g. "reorder:confirm:{order_id}").
    quick_replies: tuple[str, ...] = ()
    # The same template approved in other languages: a customer gets the one whose primary subtag is
    # their language, else `language` (docs/languages.md).
    languages: tuple[str, ...] = ()
    header: TemplateHeader | None = None  # the header's parameter, when the template's header has one
    coupon_code: str | None = None  # the copy-code button's code, e.g. "{discount_code}"
    url_suffix: str | None = None  # the dynamic URL button's parameter, appended to its base URL
    # The template's buttons in Meta's order, when not quick replies, then copy code, then URL:
    # "quick_reply", "copy_code", "url", and "static" for a button that takes no parameter (a phone
    # number, a fixed URL), which still takes its place in the indexes.
    button_order: tuple[Literal["quick_reply", "copy_code", "url", "static"], ...] | None = None

    @model_validator(mode="after")
    def _buttons_fit(self) -> "TemplateRef":
        for index, payload in enumerate(self.quick_replies):
            if not payload:  # Meta refuses an empty payload (131008): every send would fail
                raise ValueError(f"quick_replies[{index}] is empty; a quick reply's payload says what a tap means")
        if self.coupon_code is not None:
            if not self.coupon_code.strip():
                raise ValueError("coupon_code is empty; leave it out when the template has no copy-code button")
            if "{" not in self.coupon_code and len(self.coupon_code) > TEMPLATE_COUPON_CODE:
                raise ValueError(f"coupon_code {self.coupon_code!r} is longer than Meta's {TEMPLATE_COUPON_CODE}"
                                 " characters")
        if self.url_suffix is not None and (not self.url_suffix.strip() or any(ch.isspace() for ch in self.url_suffix)):
            raise ValueError("url_suffix must be non-empty and without spaces (it ends a URL)")
        order = self.buttons()
        if self.button_order is not None:
            wanted = {"quick_reply": len(self.quick_replies), "copy_code": int(self.coupon_code is not None),
                      "url": int(self.url_suffix is not None)}
            for kind, n in wanted.items():
                if order.count(kind) != n:
                    raise ValueError(f"button_order lists {order.count(kind)} {kind!r}; the template fills {n}")
        if len(order) > TEMPLATE_MAX_BUTTONS:
            raise ValueError(f"{len(order)} buttons; Meta allows {TEMPLATE_MAX_BUTTONS} on a template")
        replies = [i for i, kind in enumerate(order) if kind == "quick_reply"]
        if replies and replies[-1] - replies[0] + 1 != len(replies):
            raise ValueError("button_order: Meta keeps quick replies together, before or after the other buttons")
        return self

    def buttons(self) -> tuple[str, ...]:
        """The template's buttons by index: `button_order`, else quick replies, copy code, URL."""
        if self.button_order is not None:
            return self.button_order
        return (("quick_reply",) * len(self.quick_replies) + ("copy_code",) * (self.coupon_code is not None)
                + ("url",) * (self.url_suffix is not None))

    @field_validator("language")
    @classmethod
    def _template_language(cls, value: str) -> str:
        problem = langs.template_language_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("languages")
    @classmethod
    def _template_languages(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            problem = langs.template_language_problem(code)
            if problem:
                raise ValueError(problem)
        if len({langs.primary(c) for c in value}) != len(value):
            raise ValueError("two entries of languages are the same language")
        return value

    def language_for(self, language: str) -> str:
        """The code to send this template in to a customer of `language`."""
        return langs.template_language_for(language, self.language, self.languages)

    def check_placeholders(self, allowed: tuple[str, ...], where: str) -> None:
        for index, param in enumerate(self.body):
            _check_placeholders(param, allowed, f"{where}.body[{index}]")
        for index, payload in enumerate(self.quick_replies):
            _check_placeholders(payload, allowed, f"{where}.quick_replies[{index}]")
        if self.header is not None and self.header.text is not None:
            _check_placeholders(self.header.text, allowed, f"{where}.header.text")
        for key in ("coupon_code", "url_suffix"):
            if getattr(self, key) is not None:
                _check_placeholders(getattr(self, key), allowed, f"{where}.{key}")


class CampaignVariant(_Strict):
    text: str | None = None
    texts: dict[str, str] = {}  # the free-form text in other languages of the store (docs/languages.md)
    template: TemplateRef | None = None

    def text_for(self, language: str) -> str | None:
        return self.texts.get(language, self.text)

    @model_validator(mode="after")
    def _something_to_send(self) -> "CampaignVariant":
        if self.text is None and self.template is None:
            raise ValueError("a variant needs text, template or both")
        return self


def crontab_for_apscheduler(expr: str) -> str:
    """A standard 5-field crontab with its day-of-week field in APScheduler 3's numbering.

    Standard cron counts weekdays from Sunday = 0 (7 is Sunday too); APScheduler 3 counts from
    Monday = 0 (its documented historical mistake). Numbers are rewritten as day names, which
    both agree on, so "0 10 * * 1" still means Mondays.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"{expr!r} has {len(fields)} fields; cron takes 5 (minute hour day month weekday)")
    fields[4] = _day_of_week_names(fields[4])
    return " ".join(fields)


_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _day_number(token: str) -> int:
    token = token.strip().lower()
    if token in _DAY_NAMES:
        return _DAY_NAMES.index(token)
    if token.isdigit() and int(token) <= 7:
        return int(token) % 7
    raise ValueError(f"day of week {token!r} is not 0-7 or sun-sat")


def _day_of_week_names(field: str) -> str:
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        body, _, step_text = item.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"day of week step {step_text!r} is not a positive number")
        if body == "*":
            first, last = 0, 6
        elif "-" in body:
            low, high = body.split("-", 1)
            first, last = _day_number(low), _day_number(high)
            if high.strip() == "7":
                last = 7  # "5-7" runs Friday to Sunday
            if last < first:
                raise ValueError(f"day of week range {body!r} runs backwards")
        else:
            first = last = _day_number(body)
        days.update(day % 7 for day in range(first, last + 1, step or 1))
    order = [1, 2, 3, 4, 5, 6, 0]  # APScheduler's week starts on Monday
    return ",".join(_DAY_NAMES[day] for day in order if day in days)


class CampaignButton(_Strict):
    """A reply button on a campaign's free-form text: its title, and what a tap on it does.

    `intent` names the flow a tap leads to (one the router knows and a flow answers: checked at
    start by bot.campaigns.buttons). Without it, the intent the title names when read as a message
    ("Reorder" -> reorder), else the campaign's segment's flow (docs/campaigns.md), never the fallback."""

    title: str
    intent: str | None = None


MAX_CAMPAIGN_BUTTONS = 3  # WhatsApp's limit on reply buttons
MAX_BUTTON_TITLE = 20


def _valid_cron(expr: str) -> str:
    from apscheduler.triggers.cron import CronTrigger

    CronTrigger.from_crontab(crontab_for_apscheduler(expr), timezone="UTC")
    return expr


class CampaignConfig(_Strict):
    segment: str | None = None
    rule: str | None = None
    schedule: str | None = None  # cron, in store time; with neither schedule nor trigger: run by hand
    trigger: Literal["enter"] | None = None
    category: Literal["marketing", "utility"] = "marketing"
    text: str | None = None
    texts: dict[str, str] = {}  # the free-form text in other languages of the store (docs/languages.md)
    template: TemplateRef | None = None
    variants: tuple[CampaignVariant, ...] = ()
    test_fraction: float | None = Field(default=None, gt=0, le=1)
    seed: str | None = None  # of the test sample; the campaign's name when unset
    dedupe_days: int = Field(default=30, ge=0)
    discount_code: str = ""
    # Reply buttons on the free-form text: a title ("Shop now") or { title, intent } (CampaignButton).
    buttons: tuple[CampaignButton, ...] = ()

    @field_validator("buttons", mode="before")
    @classmethod
    def _button_titles(cls, value: Any) -> Any:
        """A plain title is a button without an intent."""
        if isinstance(value, (list, tuple)):
            return tuple({"title": item} if isinstance(item, str) else item for item in value)
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return _valid_cron(value)
        except ValueError as exc:
            raise ValueError(f"not a valid cron expression: {exc}") from None

    @model_validator(mode="after")
    def _consistent(self) -> "CampaignConfig":
        if (self.segment is None) == (self.rule is None):
            raise ValueError("give exactly one of segment or rule")
        if self.schedule is not None and self.trigger is not None:
            raise ValueError("give schedule or trigger, not both")
        if self.trigger == "enter" and self.segment is None:
            raise ValueError('trigger = "enter" needs a segment (entries are recorded per segment)')
        if self.texts and self.text is None:
            raise ValueError("texts translate text: give text (the default language's) as well")
        if self.variants:
            if self.text is not None or self.texts or self.template is not None:
                raise ValueError("give text/template or variants, not both")
            if self.test_fraction is None:
                raise ValueError("variants need test_fraction: the test group is split among them")
        elif self.text is None and self.template is None:
            raise ValueError("nothing to send: give text, template, or variants")
        if len(self.buttons) > MAX_CAMPAIGN_BUTTONS:
            raise ValueError(f"at most {MAX_CAMPAIGN_BUTTONS} reply buttons")
        titles: set[str] = set()
        for index, button in enumerate(self.buttons):
            if not (button.title.strip() and len(button.title) <= MAX_BUTTON_TITLE):
                raise ValueError(f"buttons[{index}]: button title {button.title!r} must be 1 to "
                                 f"{MAX_BUTTON_TITLE} characters")
            if button.title.strip().casefold() in titles:
                raise ValueError(f"buttons[{index}]: two buttons are titled {button.title!r}; WhatsApp wants "
                                 "different titles")
            titles.add(button.title.strip().casefold())
            if button.intent is not None and not button.intent.strip():
                raise ValueError(f"buttons[{index}]: intent is empty; leave it out to let the title decide")
        for index, variant in enumerate(self.message_variants):
            where = f"variants[{index}]" if self.variants else ""
            if variant.texts and variant.text is None:
                raise ValueError(f"{where}.texts translate text: give text as well".lstrip("."))
            if variant.text is not None:
                _check_placeholders(variant.text, CAMPAIGN_PLACEHOLDERS, f"{where}.text".lstrip("."))
            for code, text in variant.texts.items():
                _check_placeholders(text, CAMPAIGN_PLACEHOLDERS, f"{where}.texts.{code}".lstrip("."))
            if variant.template is not None:
                variant.template.check_placeholders(CAMPAIGN_PLACEHOLDERS, f"{where}.template".lstrip("."))
                if variant.template.category not in (None, self.category):
                    raise ValueError(f"{where}.template.category {variant.template.category!r} differs from "
                                     f"the campaign's category {self.category!r}".lstrip("."))
        return self

    @property
    def uses_discount_code(self) -> bool:
        return any("{discount_code}" in (v.text or "") + "".join(v.texts.values()) or any("{discount_code}" in p for p in
                   (v.template.body if v.template else ())) for v in self.message_variants)

    @property
    def message_variants(self) -> tuple[CampaignVariant, ...]:
        return self.variants or (CampaignVariant(text=self.text, texts=self.texts, template=self.template),)

    def languages_named(self) -> set[str]:
        """The store languages this campaign's texts are written in."""
        return {code for v in self.message_variants for code in v.texts}


class ReorderConfig(_Strict):
    default_days: int | None = Field(default=None, gt=0)
    max_overdue_days: int = Field(default=14, ge=0)
    template: TemplateRef | None = None
    text: str | None = None
    texts: dict[str, str] = {}  # the free-form text in other languages of the store (docs/languages.md)
    days: dict[str, int] = {}  # product selector -> days; the selectors are checked by bot.campaigns.reorder

    @field_validator("days")
    @classmethod
    def _positive_days(cls, value: dict[str, int]) -> dict[str, int]:
        for key, days in value.items():
            if days <= 0:
                raise ValueError(f"{key!r} must be a positive number of days")
        return value

    @model_validator(mode="after")
    def _placeholders(self) -> "ReorderConfig":
        if self.text is not None:
            _check_placeholders(self.text, REORDER_PLACEHOLDERS, "text")
        if self.texts and self.text is None:
            raise ValueError("texts translate text: give text (the default language's) as well")
        for code, text in self.texts.items():
            _check_placeholders(text, REORDER_PLACEHOLDERS, f"texts.{code}")
        if self.template is not None:
            self.template.check_placeholders(REORDER_PLACEHOLDERS, "template")
        return self

    def text_for(self, language: str) -> str | None:
        return self.texts.get(language, self.text)

    @property
    def enabled(self) -> bool:
        """Reorder prompts need products to watch and something to send."""
        return bool(self.days or self.default_days) and (self.text is not None or self.template is not None)


# Placeholders of the store automations (docs/automations.md).
CHECKOUT_PLACEHOLDERS = ("first_name", "store_name", "discount_code", "checkout_url", "checkout_items")
ORDER_PLACEHOLDERS = ("first_name", "store_name", "order_name", "order_total", "tracking_url", "tracking_number",
                      "carrier")
MAX_CHECKOUT_STEPS = 3


class AutomationMessage(_Strict):
    """What one automation sends: free-form text inside the window, the template outside it."""

    text: str | None = None
    texts: dict[str, str] = {}  # the free-form text in other languages of the store (docs/languages.md)
    template: TemplateRef | None = None

    def check(self, allowed: tuple[str, ...], category: str) -> None:
        if self.texts and self.text is None:
            raise ValueError("texts translate text: give text (the default language's) as well")
        if self.text is None and self.template is None:
            raise ValueError("nothing to send: give text, template or both")
        if self.text is not None:
            _check_placeholders(self.text, allowed, "text")
        for code, text in self.texts.items():
            _check_placeholders(text, allowed, f"texts.{code}")
        if self.template is not None:
            self.template.check_placeholders(allowed, "template")
            if self.template.category not in (None, category):
                raise ValueError(f"template.category {self.template.category!r}: this automation sends "
                                 f"{category} messages")

    def languages_named(self) -> set[str]:
        return set(self.texts)


class AbandonedCheckoutConfig(_Strict):
    """[automations.abandoned_checkout]: up to three steps, each `after_minutes[k]` after the
    checkout's last update; `texts[k]` and `templates[k]` are step k's message (marketing)."""

    after_minutes: tuple[int, ...] = (30, 1440)
    # A step's text: a string (the default language's) or a table {en = "...", es = "..."}.
    texts: tuple[str | dict[str, str], ...] = ()
    templates: tuple[TemplateRef, ...] = ()
    discount_code: str = ""

    @model_validator(mode="after")
    def _steps(self) -> "AbandonedCheckoutConfig":
        steps = len(self.after_minutes)
        if not 1 <= steps <= MAX_CHECKOUT_STEPS:
            raise ValueError(f"after_minutes: give 1 to {MAX_CHECKOUT_STEPS} steps")
        if any(m <= 0 for m in self.after_minutes):
            raise ValueError("after_minutes: each step comes a positive number of minutes after the checkout")
        if list(self.after_minutes) != sorted(set(self.after_minutes)):
            raise ValueError("after_minutes: the steps must come later and later (e.g. [30, 1440])")
        for name, given in (("texts", self.texts), ("templates", self.templates)):
            if given and len(given) != steps:
                raise ValueError(f"{name}: one per step ({steps}, as after_minutes has), or none")
        if not (self.texts or self.templates):
            raise ValueError("nothing to send: give texts, templates or both (one per step)")
        for index, step in enumerate(self.texts):
            if isinstance(step, dict):
                if not step:
                    raise ValueError(f"texts[{index}]: an empty table")
                for code, text in step.items():
                    _check_placeholders(text, CHECKOUT_PLACEHOLDERS, f"texts[{index}].{code}")
            else:
                _check_placeholders(step, CHECKOUT_PLACEHOLDERS, f"texts[{index}]")
        for index, template in enumerate(self.templates):
            template.check_placeholders(CHECKOUT_PLACEHOLDERS, f"templates[{index}]")
            if template.category not in (None, "marketing"):
                raise ValueError(f"templates[{index}].category: abandoned-checkout messages are marketing")
        return self

    def step(self, index: int, default_language: str) -> AutomationMessage:
        """Step `index`'s message as a campaign-like offer: text (the default language's) and texts."""
        text, texts = None, {}
        if self.texts:
            raw = self.texts[index]
            if isinstance(raw, str):
                text = raw
            else:
                texts = {code: t for code, t in raw.items() if code != default_language}
                text = raw.get(default_language)
        return AutomationMessage(text=text, texts=texts if text is not None else {},
                                 template=self.templates[index] if self.templates else None)

    def languages_named(self) -> set[str]:
        return {code for step in self.texts if isinstance(step, dict) for code in step}


class CodConfirmationConfig(AutomationMessage):
    """[automations.cod_confirmation]: asked once per cash-on-delivery order; the answer tags it."""

    confirm_tag: str = "cod-confirmed"
    cancel_tag: str = "cod-cancelled"
    # Without an answer this long after the question, one reminder (the same message); 0: none.
    reminder_after_minutes: int = Field(default=720, ge=0)
    # A payment gateway whose name contains one of these (case-insensitive) is cash on delivery.
    gateways: tuple[str, ...] = ("cash on delivery", "cod")

    @field_validator("confirm_tag", "cancel_tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        value = value.strip()
        if not value or len(value) > 40 or "," in value:
            raise ValueError(f"{value!r}: a Shopify tag of 1 to 40 characters, without commas")
        return value


class AutomationsConfig(_Strict):
    """[automations.*]: each runs only when its table is present (docs/automations.md)."""

    abandoned_checkout: AbandonedCheckoutConfig | None = None
    order_confirmed: AutomationMessage | None = None
    order_shipped: AutomationMessage | None = None
    order_delivered: AutomationMessage | None = None
    cod_confirmation: CodConfirmationConfig | None = None

    @model_validator(mode="after")
    def _messages(self) -> "AutomationsConfig":
        for name in ("order_confirmed", "order_shipped", "order_delivered", "cod_confirmation"):
            message = getattr(self, name)
            if message is not None:
                try:
                    message.check(ORDER_PLACEHOLDERS, "utility")
                except ValueError as exc:
                    raise ValueError(f"{name}: {exc}") from None
        return self

    def configured(self) -> list[str]:
        return [name for name in AUTOMATIONS if getattr(self, name) is not None]

    def languages_named(self) -> dict[str, set[str]]:
        return {name: getattr(self, name).languages_named() for name in self.configured()}


AUTOMATIONS = ("abandoned_checkout", "order_confirmed", "order_shipped", "order_delivered", "cod_confirmation")


class PolicyConfig(_Strict):
    consent: Literal["opt_in", "any"] = "opt_in"
    max_marketing_per_7d: int = Field(default=2, ge=0)
    blocked_marketing_countries: tuple[str, ...] = ()
    daily_unique_limit: int = Field(default=1000, gt=0)
    quiet_hours: tuple[str, ...] = ("21:00", "09:00")
    handoff_timeout_minutes: int = Field(default=60, gt=0)

    @field_validator("blocked_marketing_countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for code in value:
            if not (len(code) == 2 and code.isalpha()):
                raise ValueError(f"{code!r} is not a two-letter country code")
        return tuple(code.upper() for code in value)

    @field_validator("quiet_hours")
    @classmethod
    def _pair_of_times(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) not in (0, 2):
            raise ValueError("quiet_hours takes two times, [start, end], or [] for none")
        for text in value:
            hours, _, minutes = text.partition(":")
            if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
                raise ValueError(f"{text!r} is not a HH:MM time")
        if len(value) == 2 and value[0] == value[1]:
            raise ValueError("quiet_hours start and end are the same time; use [] for none")
        return value


class ApiConfig(_Strict):
    """[api]: the agent and admin APIs."""

    requests_per_minute: int = Field(default=600, gt=0, le=1_000_000)  # per bearer token (bot/web/limits.py)


class DeliveryConfig(_Strict):
    """[delivery]: how failed work is tried again (the inbound queue and the outbox alike)."""

    retry_base_seconds: float = Field(default=1.0, gt=0, le=3600)  # the first retry's delay; doubles after
    retry_max_seconds: float = Field(default=300.0, gt=0, le=86400)
    # A reply or utility message left `unknown` by a dead sender, with no status webhook after this
    # long, is sent again; 0: never. Marketing messages are never sent again (docs/sending.md).
    unknown_resend_minutes: float = Field(default=10.0, ge=0, le=10080)

    @model_validator(mode="after")
    def _ordered(self) -> "DeliveryConfig":
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ValueError("retry_max_seconds is below retry_base_seconds")
        if 0 < self.unknown_resend_minutes < 1:
            # Sooner than a status webhook can come back, a resend would send the message twice.
            raise ValueError("unknown_resend_minutes is 0 (never) or at least 1")
        return self

    def backoff(self) -> Backoff:
        return Backoff(self.retry_base_seconds, self.retry_max_seconds)

    def unknown_resend(self) -> timedelta | None:
        return timedelta(minutes=self.unknown_resend_minutes) if self.unknown_resend_minutes else None


class MarketRates(_Strict):
    """One dated entry of a market's rates: Meta's price per delivered message by category, in
    effect from `effective` (00:00 UTC) until the next entry's; no `effective` = since forever.
    A rate left out follows Meta's rule for the date priced (bot/campaigns/pricing.py, docs/pricing.md):
    `authentication` the utility rate, `service` free until 2026-10-01 then the utility rate,
    `utility_free_in_window` [rates]' value, else true until 2026-10-01."""

    effective: date | None = None
    marketing: float = Field(ge=0, allow_inf_nan=False)
    utility: float = Field(ge=0, allow_inf_nan=False)
    authentication: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    service: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    utility_free_in_window: bool | None = None


class RatesConfig(_Strict):
    """[rates]: overrides of the built-in rate card (bot/campaigns/pricing.py); markets by ISO country code.
    A market (and `default`, the markets not listed) is one table (`[rates.markets.IN]`, since forever)
    or dated entries (`[[rates.markets.IN]]` with `effective = 2026-10-01`), dates strictly increasing."""

    currency: str = "USD"
    utility_free_in_window: bool | None = None  # unset: Meta's rule for the date priced
    default: tuple[MarketRates, ...] | None = None
    markets: dict[str, tuple[MarketRates, ...]] = {}

    @staticmethod
    def _entries(where: str, value: Any) -> tuple[MarketRates, ...]:
        """A table or an array of tables, as dated entries; ValueError names the entry and key."""
        tables = [value] if isinstance(value, Mapping) else value
        if not isinstance(tables, (list, tuple)) or not tables:
            raise ValueError(f"{where}: must be a table of rates or an array of dated tables".lstrip(": "))
        entries = []
        for index, table in enumerate(tables):
            label = where if isinstance(value, Mapping) else f"{where}[{index}]"  # where: "" for `default`
            if not isinstance(table, Mapping):
                raise ValueError(f"{label}: must be a table of rates")
            try:
                entries.append(MarketRates.model_validate(table))
            except ValidationError as exc:
                first = exc.errors()[0]
                key = ".".join(str(part) for part in first["loc"])
                message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
                raise ValueError(f"{label}.{key}: {message}".lstrip(".") if key else f"{label or 'entry'}: {message}") from None
        for index, (before, entry) in enumerate(zip(entries, entries[1:]), start=1):
            if entry.effective is None:
                raise ValueError(f"{where}[{index}].effective: missing (only the first entry may be undated)")
            if before.effective is not None and entry.effective <= before.effective:
                problem = "repeats the date of" if entry.effective == before.effective else "is earlier than"
                raise ValueError(f"{where}[{index}].effective: {entry.effective} {problem} the entry before it "
                                 f"({before.effective}); dates must increase strictly")
        return tuple(entries)

    @field_validator("default", mode="before")
    @classmethod
    def _default_entries(cls, value: Any) -> Any:
        return None if value is None else cls._entries("", value)

    @field_validator("markets", mode="before")
    @classmethod
    def _market_entries(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value  # pydantic names the wrong type
        found: dict[str, tuple[MarketRates, ...]] = {}
        for code, entries in value.items():
            if not (isinstance(code, str) and len(code) == 2 and code.isascii() and code.isalpha()):
                raise ValueError(f"{code!r} is not a two-letter country code")
            if code.upper() in found:
                raise ValueError(f"{code!r}: the market {code.upper()} is given twice")
            found[code.upper()] = cls._entries(code, entries)
        return found


class PreferencesConfig(_Strict):
    interests: tuple[str, ...] = ()


class SaleConfig(_Strict):
    """The sale flow: who gets early access, and the code that gives it."""

    discount_code: str = ""
    early_access: tuple[str, ...] = ("sale_shopper",)  # segments that get {discount_code} before everyone


class FileConfig(_Strict):
    """The shape of wabot.toml. Unknown keys are rejected with their name."""

    store: StoreConfig = StoreConfig()
    segment_params: SegmentParams = SegmentParams()
    segments: dict[str, CustomSegment] = {}
    replies: dict[str, Any] = {}
    campaigns: dict[str, CampaignConfig] = {}
    preferences: PreferencesConfig = PreferencesConfig()
    sale: SaleConfig = SaleConfig()
    reorder: ReorderConfig = ReorderConfig()
    policy: PolicyConfig = PolicyConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    api: ApiConfig = ApiConfig()
    intents: dict[str, Any] = {}  # its meaning is checked by flows.nlu at start (bot/runtime.py)
    rates: RatesConfig = RatesConfig()
    automations: AutomationsConfig = AutomationsConfig()

    @field_validator("replies")
    @classmethod
    def _replies_shape(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, table in value.items():
            if key == "segment_priority":
                if not (isinstance(table, list) and all(isinstance(s, str) for s in table)):
                    raise ValueError("segment_priority must be a list of segment names")
                continue
            if not isinstance(table, dict):
                raise ValueError(f"[replies.{key}] must map segment names to reply strings")
            for name, entry in table.items():
                # A sub-table is the same reply in another language ([replies.greet.es]).
                if isinstance(entry, dict):
                    if not all(isinstance(v, str) for v in entry.values()):
                        raise ValueError(f"[replies.{key}.{name}] must map segment names to reply strings")
                elif not isinstance(entry, str):
                    raise ValueError(f"[replies.{key}] {name}: must be a reply string, or a table of one language")
        return value

    @model_validator(mode="after")
    def _store_languages(self) -> "FileConfig":
        """Texts in a language the store does not answer in are a mistake: refused, naming the key."""
        store = self.store.languages
        for key, table in self.replies.items():
            if key == "segment_priority":
                continue
            for name, entry in table.items():
                if isinstance(entry, dict) and name not in store:
                    raise ValueError(f"[replies.{key}.{name}]: {name!r} is not one of [store] languages "
                                     f"({', '.join(store)})")
        owners = [(f"[campaigns.{n}]", c.languages_named()) for n, c in self.campaigns.items()]
        owners.append(("[reorder]", set(self.reorder.texts)))
        owners += [(f"[automations.{n}]", named) for n, named in self.automations.languages_named().items()]
        for where, named in owners:
            for code in sorted(named - set(store)):
                raise ValueError(f"{where} texts.{code}: {code!r} is not one of [store] languages ({', '.join(store)})")
        return self


@dataclass(frozen=True)
class Settings:
    """Everything configurable, from the environment and the TOML file (README.md, "Configuration")."""

    database_url: str = DEFAULT_DATABASE_URL
    config_path: Path | None = None
    verify_token: str | None = None
    app_secret: str | None = None
    whatsapp_token: str | None = None
    phone_number_id: str = "sandbox"
    graph_url: str = "https://graph.facebook.com"
    graph_version: str = DEFAULT_GRAPH_VERSION
    shopify_secret: str | None = None
    agent_tokens: Mapping[str, str] = field(default_factory=dict)
    admin_token: str | None = None
    rate_limit: float = 80.0
    rasa_url: str | None = None
    file: FileConfig = FileConfig()

    @property
    def sandbox(self) -> bool:
        return not self.whatsapp_token

    @property
    def store(self) -> StoreConfig:
        return self.file.store

    @property
    def policy(self) -> PolicyConfig:
        return self.file.policy

    def discount_code(self, campaign: "CampaignConfig | None") -> str:
        """A campaign's own code, else the store's sale code ([sale] discount_code)."""
        return (campaign.discount_code if campaign else "") or self.file.sale.discount_code

    def warnings(self) -> list[str]:
        """Configuration that loads but will not do what its author meant."""
        found = [f"[campaigns.{name}] uses {{discount_code}} but neither its discount_code nor [sale] discount_code "
                 "is set: it will be sent empty" for name, campaign in self.file.campaigns.items()
                 if campaign.uses_discount_code and not self.discount_code(campaign)]
        found += [f"[campaigns.{name}] buttons: the campaign sends no free-form text, so its buttons are never shown "
                  "(a template's buttons are its quick_replies)" for name, campaign in self.file.campaigns.items()
                  if campaign.buttons and not any(v.text is not None for v in campaign.message_variants)]
        if not self.store.shop_domain.strip():
            found.append("[store] shop_domain is not set: reorder and recommendation replies cannot offer cart links"
                         + (", and carts sent from the catalog get no link" if self.store.catalog_id else ""))
        return found + self._reply_warnings()

    def _reply_warnings(self) -> list[str]:
        """Replies that can never be chosen: a reply is chosen only for the segments listed in
        [replies] segment_priority (flows/replies.py), so a variant for any other is dead text.
        (A variant shadowed by a segment listed before it that contains it is the ReplyBook's
        warning: it needs to know the segments' rules.)"""
        replies = self.file.replies
        priority = list(replies.get("segment_priority", ()))
        found: list[str] = []
        seen: set[str] = set()
        for segment in priority:
            if segment in seen:
                found.append(f"[replies] segment_priority lists {segment!r} twice: only its first place counts")
            seen.add(segment)
        for intent, table in replies.items():
            if intent == "segment_priority":
                continue
            entries = [(f"[replies.{intent}]", key) for key, entry in table.items() if not isinstance(entry, dict)]
            entries += [(f"[replies.{intent}.{key}]", segment) for key, entry in table.items()
                        if isinstance(entry, dict) for segment in entry]
            found.extend(f"{where} {segment}: never chosen: {segment!r} is not in [replies] segment_priority "
                         f"(add it there, or remove this reply)"
                         for where, segment in entries if segment != "default" and segment not in seen)
        return found

    def with_app_secret(self, secret: str) -> "Settings":
        return replace(self, app_secret=secret)


def _parse_agent_tokens(raw: str) -> dict[str, str]:
    tokens: dict[str, str] = {}
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        name, sep, token = pair.partition(":")
        if not sep or not name.strip() or not token.strip():
            raise ConfigError(f"WABOT_AGENT_TOKENS: {pair!r} is not a name:token pair")
        tokens[token.strip()] = name.strip()
    return tokens


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: {raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{name}: must be positive, got {raw}")
    return value


def _format_validation_error(path: Path, error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        return f"{path}: unknown key {where!r}"
    message = first["msg"].removeprefix("Value error, ")
    return f"{path}: {where}: {message}" if where else f"{path}: {message}"


def load_file_config(path: Path) -> FileConfig:
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_file_config(data, path)


def parse_file_config(data: Mapping[str, Any], path: Path | str = "wabot.toml") -> FileConfig:
    try:
        return FileConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(Path(path), exc)) from None


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    """Read WABOT_* variables and the TOML file; raise ConfigError naming the first bad value."""
    env = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()

    config_path: Path | None
    if env.get("WABOT_CONFIG"):
        config_path = Path(env["WABOT_CONFIG"])
        file_config = load_file_config(config_path)
    elif (cwd / "wabot.toml").is_file():
        config_path = cwd / "wabot.toml"
        file_config = load_file_config(config_path)
    else:
        config_path, file_config = None, FileConfig()

    def opt(name: str) -> str | None:
        value = env.get(name, "").strip()
        return value or None

    return Settings(
        database_url=opt("WABOT_DATABASE_URL") or DEFAULT_DATABASE_URL,
        config_path=config_path,
        verify_token=opt("WABOT_VERIFY_TOKEN"),
        app_secret=opt("WABOT_APP_SECRET"),
        whatsapp_token=opt("WABOT_WHATSAPP_TOKEN"),
        phone_number_id=opt("WABOT_PHONE_NUMBER_ID") or "sandbox",
        graph_url=(opt("WABOT_GRAPH_URL") or "https://graph.facebook.com").rstrip("/"),
        graph_version=opt("WABOT_GRAPH_VERSION") or DEFAULT_GRAPH_VERSION,
        shopify_secret=opt("WABOT_SHOPIFY_SECRET"),
        agent_tokens=_parse_agent_tokens(env.get("WABOT_AGENT_TOKENS", "")),
        admin_token=opt("WABOT_ADMIN_TOKEN"),
        rate_limit=_positive_float("WABOT_RATE_LIMIT", env["WABOT_RATE_LIMIT"]) if opt("WABOT_RATE_LIMIT") else 80.0,
        rasa_url=opt("WABOT_RASA_URL"),
        file=file_config,
    )
