"""Where the Admin API is and how to sign in: the WABOT_SHOPIFY_* environment, checked once.

Read here, not in bot/core/config.py, until Settings carries these fields (docs/shopify.md,
"Variables"); `admin_config` takes the environment as a mapping so tests give their own.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import urlsplit

from bot.core.errors import ConfigError

# Pinned: Shopify changes shapes between versions, and our queries are written against this one.
DEFAULT_API_VERSION = "2026-10"
# The oldest version our queries run on: groupObjects on bulkOperationRunQuery (2025-07) and the
# customer's defaultEmailAddress/defaultPhoneNumber (2025-04).
OLDEST_API_VERSION = "2025-07"

_VERSION = re.compile(r"^(\d{4})-(01|04|07|10)$")
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True)
class AdminConfig:
    shop: str  # acme.myshopify.com
    token: str = field(repr=False)  # never printed, never logged
    api_version: str = DEFAULT_API_VERSION
    base_url: str = ""  # https://acme.myshopify.com unless WABOT_SHOPIFY_API_URL says otherwise

    @property
    def endpoint(self) -> str:
        return f"{self.base_url.rstrip('/')}/admin/api/{self.api_version}/graphql.json"


def shop_domain(raw: str) -> str:
    """`acme`, `acme.myshopify.com` or `https://acme.myshopify.com/` -> `acme.myshopify.com`."""
    value = raw.strip().lower()
    value = re.sub(r"^https?://", "", value).rstrip("/")
    if value and "." not in value:
        value += ".myshopify.com"  # the shop's handle alone
    if not _HOST.match(value):
        raise ConfigError(f"WABOT_SHOPIFY_SHOP: {raw.strip()[:80]!r} is not a shop domain such as acme.myshopify.com")
    return value


def api_version(raw: str) -> str:
    value = raw.strip()
    if value == "unstable":
        return value
    match = _VERSION.match(value)
    if not match:
        raise ConfigError(f"WABOT_SHOPIFY_API_VERSION: {value[:40]!r} is not a Shopify API version such as"
                          f" {DEFAULT_API_VERSION} (a year and 01, 04, 07 or 10)")
    if value < OLDEST_API_VERSION:
        raise ConfigError(f"WABOT_SHOPIFY_API_VERSION: {value} is older than {OLDEST_API_VERSION}, the oldest"
                          " version wabot's queries are written for")
    return value


def base_url(raw: str) -> str:
    value = raw.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"WABOT_SHOPIFY_API_URL: {value[:80]!r} is not an http(s) URL")
    # The access token travels in a header: over plain HTTP only to this machine (a local fake).
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ConfigError("WABOT_SHOPIFY_API_URL: plain http would send the access token unencrypted;"
                          " use https (http is accepted for localhost only)")
    if parts.query or parts.fragment:
        raise ConfigError("WABOT_SHOPIFY_API_URL: give the base URL only, without a query or fragment")
    return value


def admin_config(environ: Mapping[str, str] | None = None, *, fallback_shop: str = "") -> AdminConfig:
    """The Admin API's address and token from WABOT_SHOPIFY_SHOP (else `fallback_shop`, the
    `[store] shop_domain` of wabot.toml), WABOT_SHOPIFY_TOKEN, WABOT_SHOPIFY_API_URL and
    WABOT_SHOPIFY_API_VERSION. ConfigError names the variable that is missing or wrong."""
    env = os.environ if environ is None else environ
    raw_shop = (env.get("WABOT_SHOPIFY_SHOP") or "").strip() or fallback_shop.strip()
    if not raw_shop:
        raise ConfigError("WABOT_SHOPIFY_SHOP is not set: name the shop, e.g. acme.myshopify.com")
    shop = shop_domain(raw_shop)
    token = (env.get("WABOT_SHOPIFY_TOKEN") or "").strip()
    if not token:
        raise ConfigError("WABOT_SHOPIFY_TOKEN is not set: give an Admin API access token of the shop's app"
                          " (docs/shopify.md)")
    if any(ord(c) < 33 or ord(c) > 126 for c in token):
        raise ConfigError("WABOT_SHOPIFY_TOKEN: contains spaces or characters an access token never has")
    version = api_version(env.get("WABOT_SHOPIFY_API_VERSION") or DEFAULT_API_VERSION)
    url = base_url(env.get("WABOT_SHOPIFY_API_URL") or f"https://{shop}")
    return AdminConfig(shop=shop, token=token, api_version=version, base_url=url)
