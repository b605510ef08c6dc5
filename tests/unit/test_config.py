"""wabot.toml: the contract's own example and the shipped wabot.example.toml load and pass every
start check; unknown keys and bad values are refused with the key named."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.config import load_settings
from bot.core.errors import ConfigError
from bot.runtime import check_configuration
from flows.checks import check_settings
from tests.conftest import FIXTURES, ROOT

EXAMPLES = [FIXTURES / "contract-example.toml", ROOT / "wabot.example.toml"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_pass_every_start_check(path: Path):
    settings = load_settings({"WABOT_CONFIG": str(path)})
    check_settings(settings)
    check_configuration(settings)
    assert settings.store.name == "Acme Home"
    assert "we_miss_you" in settings.file.campaigns


def test_the_contract_example_warns_about_its_missing_discount_code():
    settings = load_settings({"WABOT_CONFIG": str(FIXTURES / "contract-example.toml")})
    assert any("{discount_code}" in w and "we_miss_you" in w for w in settings.warnings())
    shipped = load_settings({"WABOT_CONFIG": str(ROOT / "wabot.example.toml")})
    assert shipped.warnings() == []


def test_a_store_without_shop_domain_is_warned_that_cart_links_are_off(tmp_path):
    path = tmp_path / "wabot.toml"
    path.write_text("[store]\nname = 'Tea Corner'\n")
    assert any("shop_domain" in w for w in load_settings({"WABOT_CONFIG": str(path)}).warnings())


@pytest.mark.parametrize("toml, message", [
    ("[store]\ncolour = 'blue'\n", "unknown key 'store.colour'"),
    ("[stores]\nname = 'x'\n", "unknown key 'stores'"),
    ("[store]\ntimezone = 'Mars/Olympus'\n", "unknown time zone"),
    ("[policy]\nquiet_hours = ['21:00']\n", "quiet_hours"),
    ("[policy]\nconsent = 'maybe'\n", "policy.consent"),
    ("[segments.x]\nrule = 'orders_count >'\n", "segments.x"),
    ("[replies.greet]\nvips = 'hi {first_name}'\n", "unknown segment 'vips'"),
    ("[replies.greet]\ndefault = 'hi {name}'\n", "unknown placeholder {name}"),
    ("[replies.greet]\ndefault = 'hi {first_name'\n", "[replies.greet] default: "),
    ("[campaigns.x]\nsegment = 'vip'\ntext = 'hi {nom}'\n", "campaigns.x: text: unknown placeholder {nom}"),
    ("store = [\n", "not valid TOML"),
])
def test_bad_configuration_is_refused_naming_the_key(tmp_path, toml, message):
    path = tmp_path / "wabot.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}").replace("[", r"\[")):
        settings = load_settings({"WABOT_CONFIG": str(path)})
        check_settings(settings)
        check_configuration(settings)


def test_unknown_environment_values_are_refused():
    with pytest.raises(ConfigError, match="WABOT_RATE_LIMIT"):
        load_settings({"WABOT_RATE_LIMIT": "fast"})
    with pytest.raises(ConfigError, match="WABOT_AGENT_TOKENS"):
        load_settings({"WABOT_AGENT_TOKENS": "ana"})
