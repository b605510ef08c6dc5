"""A customer's language in SQL: the order of bot/core/languages.py (`resolve`) as one CASE.

Used wherever a language is read: the `language` attribute of rules and `segments explain`, the
flows' context (which table a reply comes from), campaign audiences (which text or template), the
agent console. Only the store's languages count; a test holds this to `resolve` on random evidence.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement

from bot.core import languages as langs
from bot.core.tables import customers
from segments.tables import orders


def last_order_locale(customer_id: ColumnElement) -> ColumnElement:
    """The storefront locale of the customer's latest order that has one."""
    o = orders.alias("locale_order")
    return (sa.select(o.c.customer_locale)
            .where(o.c.customer_id == customer_id, o.c.customer_locale.is_not(None))
            .order_by(o.c.created_at.desc(), o.c.id.desc()).limit(1).scalar_subquery())


def _constant(value: str | int) -> ColumnElement:
    """A language or country code (or a length) written into the SQL itself, not bound: the
    one-customer query below has over a hundred of them, and binding each on every reply cost
    more than running the query (docs/performance.md). The codes come from the store's checked
    configuration and bot/core/languages.py; quotes are doubled all the same."""
    if isinstance(value, int):
        return sa.literal_column(str(int(value)), sa.Integer)
    return sa.literal_column("'" + value.replace("'", "''") + "'", sa.String)


def _primary_in(locale: ColumnElement, languages: Sequence[str]) -> ColumnElement:
    """The primary subtag of `locale` when it is one of `languages`, else NULL ("es-MX" -> "es")."""
    lowered = sa.func.lower(sa.func.trim(locale))
    whens = []
    for code in languages:
        prefix = sa.func.substr(lowered, _constant(1), _constant(len(code) + 1))
        whens.append((sa.or_(lowered == _constant(code),
                             prefix.in_([_constant(code + "-"), _constant(code + "_")])), _constant(code)))
    return sa.case(*whens, else_=sa.null())


def _country_language(country: ColumnElement, languages: Sequence[str]) -> ColumnElement:
    mapping = {c: lang for c, lang in langs.COUNTRY_LANGUAGE.items() if lang in languages}
    if not mapping:
        return sa.null()
    upper = sa.func.upper(country)
    return sa.case(*[(upper == _constant(c), _constant(lang)) for c, lang in mapping.items()], else_=sa.null())


def language_columns(languages: Sequence[str], *, choice: ColumnElement, chat: ColumnElement,
                     shopify_locale: ColumnElement, phone_country: ColumnElement,
                     customer_id: ColumnElement) -> tuple[ColumnElement, ColumnElement]:
    """(language, where it came from) as column expressions over one customer row."""
    store = list(languages)
    locale = _primary_in(sa.func.coalesce(last_order_locale(customer_id), shopify_locale), store)
    country = _country_language(phone_country, store)
    codes = [_constant(code) for code in store]
    steps = [(choice.in_(codes), choice, langs.CHOICE), (chat.in_(codes), chat, langs.MESSAGES),
             (locale.is_not(None), locale, langs.LOCALE), (country.is_not(None), country, langs.COUNTRY)]
    language = sa.case(*[(test, value) for test, value, _ in steps], else_=codes[0])
    source = sa.case(*[(test, _constant(name)) for test, _, name in steps], else_=_constant(langs.DEFAULT))
    return sa.type_coerce(language, sa.String), sa.type_coerce(source, sa.String)


def of_customers(languages: Sequence[str]) -> tuple[ColumnElement, ColumnElement]:
    """language_columns over the `customers` table itself."""
    c = customers.c
    return language_columns(languages, choice=c.language_choice, chat=c.language_chat,
                            shopify_locale=c.shopify_locale, phone_country=c.phone_country, customer_id=c.id)


def customer_language(conn: Connection, customer_id: int, languages: Sequence[str]) -> tuple[str, str]:
    """(language, where it came from) of one customer, as rules and audiences read it."""
    row = conn.execute(_one_customer(tuple(languages)), {"customer_id": customer_id}).first()
    return (row[0], row[1]) if row else (languages[0], langs.DEFAULT)


@lru_cache(maxsize=16)
def _one_customer(languages: tuple[str, ...]) -> sa.Select:
    # Built once per set of languages: every reply reads its customer's language, and building
    # this CASE cost more than running it (docs/performance.md, "The background process").
    language, source = of_customers(languages)
    return sa.select(language, source).where(customers.c.id == sa.bindparam("customer_id"))


def language_counts(conn: Connection, languages: Sequence[str]) -> dict[str, int]:
    """Customers per language, the store's languages in their order (none left out)."""
    language, _ = of_customers(languages)
    inner = sa.select(language.label("language")).subquery("languages")
    found = dict(conn.execute(sa.select(inner.c.language, sa.func.count()).group_by(inner.c.language)).all())
    return {code: found.get(code, 0) for code in languages}
