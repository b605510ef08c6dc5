"""`campaigns preview` names a sample of its recipients with the exact message each would get
(CONTRACT section 12): `"sample": [{"wa_id", "name", "form", "text" | "template", "language"}]`, up to
20, in a stable order; the run then sends each of them exactly that. The sample is read for just
those customers: the number of queries does not grow with the audience."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.core.config import load_settings
from bot.runtime import Runtime
from segments.tables import customer_tags
from tests.conftest import ROOT, make_env
from tests.support.cli import run_cli
from tests.support.seed import add_customer, set_language_evidence

UTC = timezone.utc
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
TOML = """
[store]
name = "Acme"
timezone = "UTC"
languages = ["en", "es"]
shop_domain = "acme.myshopify.com"

[policy]
consent = "any"
quiet_hours = []

[segments.audience]
rule = 'has_tag("audience")'

[campaigns.spring]
segment = "audience"
text = "Hi {first_name}, spring is here at {store_name}: {discount_code}"
texts = { es = "¡Hola, {first_name}! Llegó la primavera: {discount_code}" }
template = { name = "spring", language = "en_US", languages = ["es_MX"], body = ["{first_name}", "{discount_code}"] }
discount_code = "SPRING10"
buttons = [{ title = "Shop covers", intent = "recommend" }, "Reorder"]

[campaigns.tested]
segment = "audience"
test_fraction = 0.5
variants = [{ text = "A for {first_name}" }, { text = "B for {first_name}" }]
"""


def seed(engine, count: int, *, start: int = 0) -> None:
    """`count` customers in the audience: every third one's window closed, every fourth one Spanish,
    every fifth one nameless, odd ones with a last name."""
    with engine.begin() as conn:
        for i in range(start, start + count):
            inbound = NOW - (timedelta(days=2) if i % 3 == 0 else timedelta(hours=1))
            cid = add_customer(conn, f"1212555{i:04d}", None if i % 5 == 4 else f"Ana{i}",
                               last_name="Silva" if i % 2 else None, last_inbound_at=inbound, now=NOW)
            conn.execute(sa.insert(customer_tags).values(customer_id=cid, tag="audience"))
            if i % 4 == 1:
                set_language_evidence(conn, cid, choice="es")


@pytest.fixture
def env(database_url, tmp_path, fake_graph):
    (tmp_path / "wabot.toml").write_text(TOML)
    return make_env(database_url, tmp_path, fake_graph, WABOT_CONFIG=str(tmp_path / "wabot.toml"))


def wabot(env: dict, *args: str) -> dict:
    result = run_cli([*args, "--json"], env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_sample_names_who_gets_which_message(engine, env):
    seed(engine, 10)
    preview = wabot(env, "campaigns", "preview", "spring", "--now", NOW.isoformat())
    sample = preview["sample"]
    assert len(sample) == preview["eligible"] == 10
    assert [e["wa_id"] for e in sample] == [f"1212555{i:04d}" for i in range(10)]  # by customer
    by_wa = {e["wa_id"]: e for e in sample}
    assert by_wa["12125550001"] == {  # Spanish, window open: the Spanish text, with the buttons
        "wa_id": "12125550001", "name": "Ana1 Silva", "form": "freeform", "language": "es",
        "text": "¡Hola, Ana1! Llegó la primavera: SPRING10", "buttons": ["Shop covers", "Reorder"]}
    assert by_wa["12125550002"] == {
        "wa_id": "12125550002", "name": "Ana2", "form": "freeform", "language": "en",
        "text": "Hi Ana2, spring is here at Acme: SPRING10", "buttons": ["Shop covers", "Reorder"]}
    assert by_wa["12125550000"] == {  # window closed: the template, filled
        "wa_id": "12125550000", "name": "Ana0", "form": "template", "language": "en",
        "template": {"name": "spring", "language": "en_US", "params": ["Ana0", "SPRING10"]}}
    # nameless, Spanish, window closed: the template in Spanish, its name parameter in Spanish
    assert by_wa["12125550009"] == {
        "wa_id": "12125550009", "name": "Silva", "form": "template", "language": "es",
        "template": {"name": "spring", "language": "es_MX", "params": ["cliente", "SPRING10"]}}
    assert by_wa["12125550004"]["name"] is None and by_wa["12125550004"]["text"].startswith("Hi there, spring")
    for e in sample:
        assert ("text" in e) != ("template" in e) and e["form"] == ("template" if "template" in e else "freeform")


def test_at_most_twenty_in_a_stable_order_and_the_run_sends_each_exactly_that(engine, env, fake_graph):
    seed(engine, 45)
    first = wabot(env, "campaigns", "preview", "spring", "--now", NOW.isoformat())
    again = wabot(env, "campaigns", "preview", "spring", "--now", NOW.isoformat())
    assert first["eligible"] == 45 and len(first["sample"]) == 20 and first["sample"] == again["sample"]

    ran = wabot(env, "campaigns", "run", "spring", "--now", NOW.isoformat())
    assert ran["queued"] == 45 and "sample" not in ran  # a run reports as before
    for entry in first["sample"]:
        [got] = [m for m in fake_graph.messages(to=entry["wa_id"]) if m.status == 200]
        if entry["form"] == "template":
            template = got.body["template"]
            params = [p["text"] for c in template.get("components", []) if c["type"] == "body"
                      for p in c["parameters"]]
            assert {"name": template["name"], "language": template["language"]["code"], "params": params} \
                == entry["template"]
        else:
            assert got.type == "interactive" and got.text == entry["text"]
            assert [b["reply"]["title"] for b in got.body["interactive"]["action"]["buttons"]] == entry["buttons"]


def test_a_tested_campaign_samples_its_test_group_with_each_ones_variant(engine, env):
    seed(engine, 40)
    preview = wabot(env, "campaigns", "preview", "tested", "--now", NOW.isoformat())
    assert preview["held_back"] > 0 and preview["sample"]
    for entry in preview["sample"]:
        i = int(entry["wa_id"][-4:])
        first_name = "there" if i % 5 == 4 else f"Ana{i}"
        assert entry["text"] == f"{'AB'[entry['variant']]} for {first_name}"
    assert {e["variant"] for e in preview["sample"]} == {0, 1}


def test_nobody_eligible_is_an_empty_sample(engine, env):
    preview = wabot(env, "campaigns", "preview", "spring", "--now", NOW.isoformat())
    assert preview["audience"] == 0 and preview["sample"] == []


def test_the_text_preview_shows_the_sample_as_a_table(engine, env):
    seed(engine, 3)
    result = run_cli(["campaigns", "preview", "spring", "--now", NOW.isoformat()], env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index("sample: 3 of 3 who would get a message now")
    assert lines[at + 1].split() == ["wa_id", "name", "form", "lang", "message"]
    assert lines[at + 2].split()[:4] == ["12125550000", "Ana0", "template", "en"]
    assert "spring (en_US): Ana0 | SPRING10" in lines[at + 2]
    assert lines[at + 3].split()[:5] == ["12125550001", "Ana1", "Silva", "freeform", "es"]
    assert lines[at + 3].endswith("¡Hola, Ana1! Llegó la primavera: SPRING10 [Shop covers] [Reorder]")


def test_the_sample_is_read_set_wise(engine, env, tmp_path):
    runtime = Runtime.from_settings(load_settings(env, cwd=tmp_path), engine=engine)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def queries_of_a_preview() -> int:
        statements.clear()
        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            with engine.connect() as conn:
                preview = runtime.campaigns.preview(conn, "spring", NOW)
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        assert len(preview["sample"]) == min(20, preview["eligible"]) > 0
        return len(statements)

    seed(engine, 5)
    small = queries_of_a_preview()
    seed(engine, 200, start=5)
    assert queries_of_a_preview() == small, "a preview's queries grew with its audience"
