"""The customer's language in SQL (segments/language.py) is the order of bot/core/languages.py,
on random evidence, on SQLite and PostgreSQL; and `language` in rules and explanations."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core import languages as langs
from bot.core.tables import customers
from segments.language import _constant, customer_language, language_counts
from segments.tables import orders, segment_members
from tests.support.seed import add_customer

NOW = datetime(2026, 12, 1, 12, tzinfo=timezone.utc)
codes = st.one_of(st.none(), st.sampled_from(["en", "es", "pt", "hi", "id", "de", "fr"]))
locales = st.one_of(st.none(), st.sampled_from(["es-MX", "pt-BR", "pt_BR", "EN", "en-GB", "de", "hi-IN", "fil",
                                                "zh-TW", "x"]))
countries = st.one_of(st.none(), st.sampled_from(["US", "BR", "MX", "IN", "ID", "DE", "FR", "JP", "ZZ", "br"]))
evidence = st.fixed_dictionaries({"choice": codes, "chat": codes, "shopify_locale": locales,
                                  "order_locales": st.lists(locales, max_size=3), "country": countries})
stores = st.lists(st.sampled_from(["en", "es", "pt", "hi", "id", "de"]), min_size=1, max_size=4, unique=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(store=stores, people=st.lists(evidence, min_size=1, max_size=6))
def test_sql_agrees_with_the_documented_order(engine, store, people):
    with engine.begin() as conn:
        conn.execute(sa.delete(orders))
        conn.execute(sa.delete(customers))
        expected = {}
        for i, person in enumerate(people):
            customer_id = add_customer(conn, f"1555000{i:04d}", now=NOW)
            conn.execute(sa.update(customers).where(customers.c.id == customer_id).values(
                language_choice=person["choice"], language_chat=person["chat"],
                shopify_locale=person["shopify_locale"], phone_country=person["country"]))
            for k, locale in enumerate(person["order_locales"]):
                conn.execute(sa.insert(orders).values(
                    id=10_000 * (i + 1) + k, customer_id=customer_id, created_at=NOW - timedelta(days=10 - k),
                    total_price=10, customer_locale=locale, ingested_at=NOW))
            latest = next((loc for loc in reversed(person["order_locales"]) if loc is not None), None)
            expected[customer_id] = langs.resolve(store, choice=person["choice"], messages=person["chat"],
                                                  locale=latest or person["shopify_locale"],
                                                  country=(person["country"] or "").upper() or None)
        for customer_id, want in expected.items():
            assert customer_language(conn, customer_id, store) == want
        counts = language_counts(conn, store)
        assert list(counts) == store and sum(counts.values()) == len(people)


def test_language_in_a_rule_and_in_explain(engine, settings_for):
    from bot.runtime import Runtime

    toml = ('[store]\nlanguages = ["en", "es"]\n[segments.hispanohablantes]\nrule = \'language == "es"\'\n')
    runtime = Runtime.from_settings(settings_for(toml=toml), engine=engine)
    with engine.begin() as conn:
        mexican = add_customer(conn, "5215512345678", "Ana", now=NOW)
        chose = add_customer(conn, "15551230000", "Bo", now=NOW)
        add_customer(conn, "15551239999", "Cy", now=NOW)
        conn.execute(sa.update(customers).where(customers.c.id == mexican).values(phone_country="MX"))
        conn.execute(sa.update(customers).where(customers.c.id == chose).values(
            phone_country="US", language_choice="es", language_chat="en"))
        runtime.segment_engine.refresh(conn, NOW)
        members = set(conn.execute(sa.select(segment_members.c.customer_id)
                                   .where(segment_members.c.segment == "hispanohablantes")).scalars())
        explained = runtime.segment_engine.explain(conn, chose, NOW)
        attributes = runtime.segment_engine.attributes(conn, mexican, NOW)
    reason = next(e["reason"] for e in explained if e["segment"] == "hispanohablantes")
    assert reason["language"] == "es" and reason["language_source"] == "choice"
    assert (attributes["language"], attributes["language_source"]) == ("es", "country")
    assert members == {mexican, chose}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40))
def test_codes_written_into_the_sql_read_back_as_themselves(engine, text):
    # The language query writes its codes into the SQL (segments/language.py, _constant): whatever
    # the text, quotes and all, the database must read it back unchanged, never as SQL.
    with engine.connect() as conn:
        assert conn.execute(sa.select(_constant(text))).scalar_one() == text
