"""A customer's language in SQL: the order of bot/core/languages.py (`resolve`) as one CASE.

Used wherever a language is read: the `language` attribute of rules and `segments explain`, the
flows' context (which table a reply comes from), campaign audiences (which text or template), the
agent console. Only the store's languages count; a test holds this to `resolve` on random evidence.
"""
from __future__ import annotations

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


def _primary_in(locale: ColumnElement, languages: Sequence[str]) -> ColumnElement:
    """The primary subtag of `locale` when it is one of `languages`, else NULL ("es-MX" -> "es")."""
    lowered = sa.func.lower(sa.func.trim(locale))
    whens = []
    for code in languages:
        prefix = sa.func.substr(lowered, 1, len(code) + 1)
        whens.append((sa.or_(lowered == code, prefix.in_([code + "-", code + "_"])), sa.literal(code)))
    return sa.case(*whens, else_=sa.null())


def _country_language(country: ColumnElement, languages: Sequence[str]) -> ColumnElement:
    mapping = {c: lang for c, lang in langs.COUNTRY_LANGUAGE.items() if lang in languages}
    if not mapping:
        return sa.null()
    return sa.case(mapping, value=sa.func.upper(country), else_=sa.null())


def language_columns(languages: Sequence[str], *, choice: ColumnElement, chat: ColumnElement,
                     shopify_locale: ColumnElement, phone_country: ColumnElement,
                     customer_id: ColumnElement) -> tuple[ColumnElement, ColumnElement]:
    """(language, where it came from) as column expressions over one customer row."""
    store = list(languages)
    locale = _primary_in(sa.func.coalesce(last_order_locale(customer_id), shopify_locale), store)
    country = _country_language(phone_country, store)
    steps = [(choice.in_(store), choice, langs.CHOICE), (chat.in_(store), chat, langs.MESSAGES),
             (locale.is_not(None), locale, langs.LOCALE), (country.is_not(None), country, langs.COUNTRY)]
    language = sa.case(*[(test, value) for test, value, _ in steps], else_=sa.literal(store[0]))
    source = sa.case(*[(test, sa.literal(name)) for test, _, name in steps], else_=sa.literal(langs.DEFAULT))
    return sa.type_coerce(language, sa.String), sa.type_coerce(source, sa.String)


def of_customers(languages: Sequence[str]) -> tuple[ColumnElement, ColumnElement]:
    """language_columns over the `customers` table itself."""
    c = customers.c
    return language_columns(languages, choice=c.language_choice, chat=c.language_chat,
                            shopify_locale=c.shopify_locale, phone_country=c.phone_country, customer_id=c.id)


def customer_language(conn: Connection, customer_id: int, languages: Sequence[str]) -> tuple[str, str]:
    """(language, where it came from) of one customer, as rules and audiences read it."""
    language, source = of_customers(languages)
    row = conn.execute(sa.select(language, source).where(customers.c.id == customer_id)).first()
    return (row[0], row[1]) if row else (languages[0], langs.DEFAULT)


def language_counts(conn: Connection, languages: Sequence[str]) -> dict[str, int]:
    """Customers per language, the store's languages in their order (none left out)."""
    language, _ = of_customers(languages)
    inner = sa.select(language.label("language")).subquery("languages")
    found = dict(conn.execute(sa.select(inner.c.language, sa.func.count()).group_by(inner.c.language)).all())
    return {code: found.get(code, 0) for code in languages}
