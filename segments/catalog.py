"""The variants a WhatsApp catalog's retailer ids are spelled from (docs/catalog.md), read set-wise.

A variant is known from the catalogue (`variants`, by products import or `wabot shopify sync`) or,
for a store that imported only orders, from the line items that sold it; the catalogue's SKU wins.
The spelling itself is bot/whatsapp/commerce.py's.
"""
from __future__ import annotations

from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.whatsapp.commerce import Lookup, Variant
from segments.tables import line_items, variants


def _known(conn: Connection, of_variant, of_line) -> dict[int, Variant]:
    v, li = variants.c, line_items.c
    found = {r.id: Variant(r.id, r.product_id, r.sku or None)
             for r in conn.execute(sa.select(v.id, v.product_id, v.sku).where(of_variant))}
    sold = (sa.select(li.variant_id, sa.func.max(li.product_id).label("product_id"), sa.func.max(li.sku).label("sku"))
            .where(li.variant_id.is_not(None), of_line).group_by(li.variant_id))
    for r in conn.execute(sold):
        known = found.get(r.variant_id)
        if known is None:
            found[r.variant_id] = Variant(r.variant_id, r.product_id, r.sku or None)
        elif known.sku is None and r.sku:
            found[r.variant_id] = Variant(known.variant_id, known.product_id or r.product_id, r.sku)
    return found


def variants_by_id(conn: Connection, variant_ids: Iterable[int]) -> dict[int, Variant]:
    """Variant id -> what its retailer id is spelled from (recommendations)."""
    ids = sorted({int(i) for i in variant_ids if i is not None})
    if not ids:
        return {}
    return _known(conn, variants.c.id.in_(ids), line_items.c.variant_id.in_(ids))


def variants_for(conn: Connection, lookup: Lookup) -> list[Variant]:
    """The variants an inbound cart's retailer ids may name: by variant id, SKU or product id."""
    v, li = variants.c, line_items.c
    if lookup.variant_ids:
        ids = sorted(lookup.variant_ids)
        found = _known(conn, v.id.in_(ids), li.variant_id.in_(ids))
    elif lookup.skus:
        skus = sorted(lookup.skus)
        found = _known(conn, v.sku.in_(skus), li.sku.in_(skus))
    elif lookup.product_ids:
        ids = sorted(lookup.product_ids)
        found = _known(conn, v.product_id.in_(ids), li.product_id.in_(ids))
    else:
        return []
    return list(found.values())
