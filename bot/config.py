"""One Settings object from the WABOT_* environment and wabot.toml, validated once at start.

Business code receives a Settings; nothing past this module reads os.environ or the TOML file.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import ConfigError
from flows.nlu import IntentsTable

DEFAULT_GRAPH_VERSION = "v26.0"
from bot.db import DEFAULT_DATABASE_URL


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(_Strict):
    name: str = "Our store"
    currency: str = "USD"
    timezone: str = "UTC"
    shop_domain: str = ""
    default_region: str = "US"

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


class TemplateRef(_Strict):
    name: str
    language: str = "en_US"
    body: tuple[str, ...] = ()
    category: Literal["marketing", "utility"] | None = None


class CampaignVariant(_Strict):
    text: str | None = None
    template: TemplateRef | None = None


class CampaignConfig(_Strict):
    segment: str | None = None
    rule: str | None = None
    schedule: str | None = None
    trigger: Literal["enter"] | None = None
    category: Literal["marketing", "utility"] = "marketing"
    text: str | None = None
    template: TemplateRef | None = None
    variants: tuple[CampaignVariant, ...] = ()
    test_fraction: float | None = Field(default=None, gt=0, le=1)
    dedupe_days: int = 30
    discount_code: str = ""
    buttons: tuple[str, ...] = ()


class ReorderConfig(_Strict):
    default_days: int | None = None
    max_overdue_days: int = 14
    template: TemplateRef | None = None
    text: str | None = None
    days: dict[str, int] = {}


class PolicyConfig(_Strict):
    consent: Literal["opt_in", "any"] = "opt_in"
    max_marketing_per_7d: int = 2
    blocked_marketing_countries: tuple[str, ...] = ()
    daily_unique_limit: int = 1000
    quiet_hours: tuple[str, ...] = ("21:00", "09:00")
    handoff_timeout_minutes: int = 60

    @field_validator("quiet_hours")
    @classmethod
    def _pair_of_times(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(value) not in (0, 2):
            raise ValueError("quiet_hours takes two times, [start, end], or [] for none")
        for text in value:
            hours, _, minutes = text.partition(":")
            if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60):
                raise ValueError(f"{text!r} is not a HH:MM time")
        return value


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
    intents: IntentsTable = {}  # checked by flows.nlu when the file is read
    rates: dict[str, Any] = {}

    @field_validator("replies")
    @classmethod
    def _replies_shape(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key, table in value.items():
            if key == "segment_priority":
                if not (isinstance(table, list) and all(isinstance(s, str) for s in table)):
                    raise ValueError("segment_priority must be a list of segment names")
            elif not (isinstance(table, dict) and all(isinstance(v, str) for v in table.values())):
                raise ValueError(f"[replies.{key}] must map segment names to reply strings")
        return value


@dataclass(frozen=True)
class Settings:
    """Everything configurable, from the environment (section 2) and the TOML file (section 3)."""

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
    return f"{path}: {where}: {first['msg']}"


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
