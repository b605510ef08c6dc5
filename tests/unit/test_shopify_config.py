"""bot/shopify/config.py: where the Admin API is and how to sign in, from WABOT_SHOPIFY_*."""
from __future__ import annotations

import pytest

from bot.core.errors import ConfigError
from bot.shopify.config import DEFAULT_API_VERSION, admin_config

TOKEN = "shpat_0123456789abcdef"


def test_defaults_point_at_the_shop_with_the_pinned_version():
    config = admin_config({"WABOT_SHOPIFY_SHOP": "acme.myshopify.com", "WABOT_SHOPIFY_TOKEN": TOKEN})
    assert config.endpoint == f"https://acme.myshopify.com/admin/api/{DEFAULT_API_VERSION}/graphql.json"
    assert TOKEN not in repr(config)


@pytest.mark.parametrize("raw", ["acme", "https://acme.myshopify.com/", " ACME.myshopify.com "])
def test_a_shop_is_named_as_the_operator_likes(raw):
    assert admin_config({"WABOT_SHOPIFY_SHOP": raw, "WABOT_SHOPIFY_TOKEN": TOKEN}).shop == "acme.myshopify.com"


def test_the_store_domain_of_wabot_toml_stands_in_for_an_unset_shop():
    assert admin_config({"WABOT_SHOPIFY_TOKEN": TOKEN}, fallback_shop="acme.myshopify.com").shop == "acme.myshopify.com"


def test_the_api_url_and_version_can_be_set():
    config = admin_config({"WABOT_SHOPIFY_SHOP": "acme", "WABOT_SHOPIFY_TOKEN": TOKEN,
                           "WABOT_SHOPIFY_API_URL": "http://127.0.0.1:8123/", "WABOT_SHOPIFY_API_VERSION": "2026-01"})
    assert config.endpoint == "http://127.0.0.1:8123/admin/api/2026-01/graphql.json"
    assert admin_config({"WABOT_SHOPIFY_SHOP": "acme", "WABOT_SHOPIFY_TOKEN": TOKEN,
                         "WABOT_SHOPIFY_API_VERSION": "unstable"}).api_version == "unstable"


@pytest.mark.parametrize("env, named", [
    ({"WABOT_SHOPIFY_TOKEN": TOKEN}, "WABOT_SHOPIFY_SHOP is not set"),
    ({"WABOT_SHOPIFY_SHOP": "acme"}, "WABOT_SHOPIFY_TOKEN is not set"),
    ({"WABOT_SHOPIFY_SHOP": "acme", "WABOT_SHOPIFY_TOKEN": "two words"}, "WABOT_SHOPIFY_TOKEN: contains"),
    ({"WABOT_SHOPIFY_SHOP": "acme shop", "WABOT_SHOPIFY_TOKEN": TOKEN}, "WABOT_SHOPIFY_SHOP: 'acme shop'"),
    ({"WABOT_SHOPIFY_SHOP": "acme", "WABOT_SHOPIFY_TOKEN": TOKEN, "WABOT_SHOPIFY_API_VERSION": "2026-03"},
     "not a Shopify API version"),
    ({"WABOT_SHOPIFY_SHOP": "acme", "WABOT_SHOPIFY_TOKEN": TOKEN, "WABOT_SHOPIFY_API_VERSION": "2024-10"},
     "older than 2025-07"),
    ({"WABOT_SHOPIFY_SHOP": "acme", "WABOT_SHOPIFY_TOKEN": TOKEN, "WABOT_SHOPIFY_API_URL": "http://shop.example.com"},
     "unencrypted"),
    ({"WABOT_SHOPIFY_SHOP": "acme", "WABOT_SHOPIFY_TOKEN": TOKEN, "WABOT_SHOPIFY_API_URL": "ftp://x"},
     "not an http(s) URL"),
])
def test_a_wrong_variable_is_named_in_one_line(env, named):
    with pytest.raises(ConfigError) as caught:
        admin_config(env)
    message = str(caught.value)
    assert named in message and "\n" not in message and TOKEN not in message
