"""Campaigns and reorder prompts in each customer's language (CONTRACT section 8), through the real
commands (`wabot campaigns preview|run`, `wabot reorder run`, `wabot tick`), the segment engine and
the fake Graph API: a store in en, es and pt, customers whose language comes from each kind of
evidence, free-form `texts.<lang>` inside the window and the template's `languages` entry outside it."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.campaigns.tables import campaign_sends
from segments.tables import customer_tags
from tests.conftest import ROOT, make_env
from tests.support.cli import run_cli
from tests.support.fake_graph import refuse_outside_window
from tests.support.seed import add_customer, add_order, add_product, set_language_evidence

UTC = timezone.utc
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # 10:00 in New York, 12:00 in São Paulo
OPEN = NOW - timedelta(hours=1)
CLOSED = NOW - timedelta(days=3)
STORE = """
[store]
name = "Acme"
timezone = "UTC"
languages = ["en", "es", "pt"]

[policy]
consent = "any"
quiet_hours = {quiet}
"""
CAMPAIGNS = """
[campaigns.we_miss_you]
rule = 'has_tag("audience")'
text = "Hi {first_name}, we miss you!"
texts = { es = "¡Hola, {first_name}, te extrañamos!", pt = "Oi, {first_name}, sentimos sua falta!" }
template = { name = "we_miss_you", language = "en_US", languages = ["es_MX", "pt_BR"], body = ["{first_name}"] }

[campaigns.spanish_only]
rule = 'has_tag("audience")'
text = "Hi {first_name}!"
texts = { es = "¡Hola, {first_name}!" }
template = { name = "hola", language = "en_US", languages = ["es_MX"], body = ["{first_name}"] }
"""
REORDER = """
[reorder]
text = "Hi {first_name}, running low on {product_title}?"
texts = { pt = "Oi, {first_name}, acabando o {product_title}?" }
template = { name = "reorder_reminder", language = "en_US", languages = ["pt_BR", "es_MX"], body = ["{product_title}"] }

[reorder.days]
"type:Dog Food" = 28
"""
TOML = STORE.format(quiet="[]") + CAMPAIGNS + REORDER

# key: (wa_id, first name, last inbound, language evidence); tagged "audience"
AUDIENCE = {
    "ana": ("5511987000001", "Ana", OPEN, {"choice": "es", "phone_country": "BR"}),  # choice beats country
    "bia": ("5511987000002", "Bia", OPEN, {"phone_country": "BR"}),
    "cal": ("12125550003", "Cal", OPEN, {"phone_country": "US"}),
    "nameless": ("5511987000004", None, OPEN, {"phone_country": "BR"}),
    "dan": ("12125550005", "Dan", CLOSED, {"phone_country": "US", "order_locale": "es-MX"}),
    "eva": ("12125550006", "Eva", CLOSED, {"phone_country": "US", "shopify_locale": "pt-BR"}),
    "fil": ("5511987000007", "Fil", CLOSED, {"phone_country": "BR", "chat": "es"}),  # chat beats country
    "gil": ("5215512345678", "Gil", CLOSED, {"phone_country": "MX"}),
    "hal": ("4915123000009", "Hal", CLOSED, {"phone_country": "DE", "chat": "de"}),  # neither is a store language
}
LANGUAGE = {"ana": "es", "bia": "pt", "cal": "en", "nameless": "pt", "dan": "es", "eva": "pt", "fil": "es",
            "gil": "es", "hal": "en"}


def seed(conn, people: dict) -> dict[str, int]:
    ids = {}
    for n, (key, (wa_id, name, last_inbound, evidence)) in enumerate(people.items()):
        ids[key] = add_customer(conn, wa_id, name, last_inbound_at=last_inbound, now=NOW)
        if "order_locale" in evidence:
            add_order(conn, 7000 + n, ids[key], [], created_at=NOW - timedelta(days=60))
        set_language_evidence(conn, ids[key], **evidence)
    return ids


@pytest.fixture
def world(engine, database_url, tmp_path, fake_graph):
    def configure(toml: str = TOML) -> dict:
        (tmp_path / "wabot.toml").write_text(toml)
        return make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))

    with engine.begin() as conn:
        ids = seed(conn, AUDIENCE)
        for customer_id in ids.values():
            conn.execute(sa.insert(customer_tags).values(customer_id=customer_id, tag="audience"))
    last_inbound = {wa_id: last for wa_id, _, last, _ in AUDIENCE.values()}
    clock = {"now": NOW}
    fake_graph.responder = refuse_outside_window(last_inbound.get, lambda: clock["now"])
    return ids, clock, configure


def wabot(env: dict, *args: str) -> dict:
    result = run_cli([*args, "--json"], env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def received(fake_graph, key: str, people: dict = AUDIENCE) -> tuple[str, str]:
    """The one message a customer got: ("text", its text) or ("template", its language code)."""
    [message] = [m for m in fake_graph.messages(to=people[key][0]) if m.status == 200]
    if message.type == "template":
        return "template", message.body["template"]["language"]["code"]
    return "text", message.text


def button_of(fake_graph, key: str) -> dict:
    [message] = fake_graph.messages(to=BUYERS[key][0])
    return message.body["interactive"]["action"]["buttons"][0]["reply"]


def ledger_languages(engine, campaign: str, ids: dict[str, int]) -> dict[str, str | None]:
    by_id = {v: k for k, v in ids.items()}
    with engine.connect() as conn:
        rows = conn.execute(sa.select(campaign_sends.c.customer_id, campaign_sends.c.context)
                            .where(campaign_sends.c.campaign == campaign)).all()
    return {by_id[r.customer_id]: (r.context or {}).get("language") for r in rows}


def test_each_customer_gets_the_campaign_in_their_language(engine, world, fake_graph):
    ids, clock, configure = world
    env = configure()
    preview = wabot(env, "campaigns", "preview", "we_miss_you", "--now", NOW.isoformat())
    assert (preview["eligible"], preview["freeform"], preview["template"]) == (9, 4, 5)
    assert preview["by_language"] == {"en": 2, "es": 4, "pt": 3}
    assert sum(preview["by_language"].values()) == preview["eligible"]

    ran = wabot(env, "campaigns", "run", "we_miss_you", "--now", NOW.isoformat())
    assert ran["outbox"] == {"sent": 9} and ran["by_language"] == preview["by_language"]
    assert {key: received(fake_graph, key) for key in AUDIENCE} == {
        "ana": ("text", "¡Hola, Ana, te extrañamos!"),
        "bia": ("text", "Oi, Bia, sentimos sua falta!"),
        "cal": ("text", "Hi Cal, we miss you!"),
        "nameless": ("text", "Oi, sentimos sua falta!"),  # no stand-in for a missing name in Portuguese
        "dan": ("template", "es_MX"),
        "eva": ("template", "pt_BR"),
        "fil": ("template", "es_MX"),
        "gil": ("template", "es_MX"),
        "hal": ("template", "en_US"),
    }
    assert ledger_languages(engine, "we_miss_you", ids) == LANGUAGE


def test_a_language_without_its_text_or_template_gets_the_defaults(engine, world, fake_graph):
    ids, clock, configure = world
    env = configure()
    ran = wabot(env, "campaigns", "run", "spanish_only", "--now", NOW.isoformat())
    assert ran["by_language"] == {"en": 2, "es": 4, "pt": 3}
    got = {key: received(fake_graph, key) for key in AUDIENCE}
    assert got["ana"] == ("text", "¡Hola, Ana!")
    assert got["bia"] == ("text", "Hi Bia!")  # no pt text: text
    assert got["nameless"] == ("text", "Hi there!")  # ...filled as the English it is
    assert got["gil"] == ("template", "es_MX")
    assert got["eva"] == ("template", "en_US")  # no pt_BR in languages: language
    assert received(fake_graph, "hal") == ("template", "en_US")


def test_the_text_preview_has_a_line_per_language(engine, world):
    ids, clock, configure = world
    env = configure()
    result = run_cli(["campaigns", "preview", "we_miss_you", "--now", NOW.isoformat()], env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "by language: en 2, es 4, pt 3" in result.stdout.splitlines()


def test_a_deferred_send_goes_in_the_language_of_the_moment_it_goes(engine, world, fake_graph):
    ids, clock, configure = world
    # quiet in São Paulo (12:00), not in New York (10:00), Mexico City (09:00) or Berlin (16:00)
    env = configure(STORE.format(quiet='["11:00", "13:00"]') + CAMPAIGNS + REORDER)
    ran = wabot(env, "campaigns", "run", "we_miss_you", "--now", NOW.isoformat())
    brazilian = {"ana", "bia", "nameless", "fil"}
    assert ran["deferred"] == len(brazilian)
    assert ran["by_language"] == {"en": 2, "es": 2, "pt": 1}  # sent now: cal, hal; dan, gil; eva
    assert {k: v for k, v in ledger_languages(engine, "we_miss_you", ids).items() if k in brazilian} == {
        "ana": "es", "bia": "pt", "nameless": "pt", "fil": "es"}

    with engine.begin() as conn:  # before her quiet hours end, Bia chooses Spanish
        set_language_evidence(conn, ids["bia"], choice="es", phone_country="BR")
    end = NOW + timedelta(hours=1)  # 13:00 in São Paulo; the windows opened at 14:00 UTC are still open
    clock["now"] = end
    run_cli(["tick", "--now", end.isoformat()], env=env, cwd=ROOT, check=True)
    assert received(fake_graph, "bia") == ("text", "¡Hola, Bia, te extrañamos!")
    assert received(fake_graph, "ana") == ("text", "¡Hola, Ana, te extrañamos!")
    assert received(fake_graph, "fil") == ("template", "es_MX")
    assert ledger_languages(engine, "we_miss_you", ids)["bia"] == "es"


# key: (wa_id, first name, last inbound, language evidence); each bought dog food 28 days ago
BUYERS = {
    "rui": ("12125550101", "Rui", OPEN, {"phone_country": "US", "order_locale": "pt-BR"}),
    "sol": ("12125550102", "Sol", OPEN, {"phone_country": "US", "choice": "es"}),  # no es text
    "tom": ("5215512340103", "Tom", CLOSED, {"phone_country": "MX"}),
    "uma": ("12125550104", "Uma", CLOSED, {"phone_country": "US"}),
    "vic": ("5511987000105", None, CLOSED, {"phone_country": "BR"}),
}


def test_reorder_prompts_speak_the_customers_language(engine, database_url, tmp_path, fake_graph):
    with engine.begin() as conn:
        add_product(conn, 10, "Dog Food 5kg", [11], product_type="Dog Food")
        ids = {}
        for n, (key, (wa_id, name, last_inbound, evidence)) in enumerate(BUYERS.items()):
            ids[key] = add_customer(conn, wa_id, name, last_inbound_at=last_inbound, now=NOW)
            add_order(conn, 8000 + n, ids[key], [(10, 11, "Dog Food 5kg", 1, "30.00")],
                      created_at=NOW - timedelta(days=28))
            set_language_evidence(conn, ids[key], **evidence)
    (tmp_path / "wabot.toml").write_text(TOML)
    env = make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))
    last_inbound = {wa_id: last for wa_id, _, last, _ in BUYERS.values()}
    fake_graph.responder = refuse_outside_window(last_inbound.get, lambda: NOW)

    dry = wabot(env, "reorder", "run", "--now", NOW.isoformat(), "--dry-run")
    assert dry["by_language"] == {"en": 1, "es": 2, "pt": 2}
    report = wabot(env, "reorder", "run", "--now", NOW.isoformat())
    assert report["outbox"] == {"sent": 5}
    got = {key: received(fake_graph, key, BUYERS) for key in BUYERS}
    assert got == {
        "rui": ("text", "Oi, Rui, acabando o Dog Food 5kg?"),
        "sol": ("text", "Hi Sol, running low on Dog Food 5kg?"),
        "tom": ("template", "es_MX"),
        "uma": ("template", "en_US"),
        "vic": ("template", "pt_BR"),
    }
    # the Reorder button speaks the language of the text it is on
    assert [button_of(fake_graph, key) for key in ("rui", "sol")] == [
        {"id": "reorder:confirm:8000", "title": "Pedir de novo"}, {"id": "reorder:confirm:8001", "title": "Reorder"}]
    assert ledger_languages(engine, "reorder", ids) == {"rui": "pt", "sol": "es", "tom": "es", "uma": "en",
                                                        "vic": "pt"}
