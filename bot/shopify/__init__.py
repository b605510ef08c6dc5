"""Shopify's Admin API: one GraphQL client (admin.py) that everything talking to Shopify uses, the
queries it sends (queries.py), bulk operations and their JSONL (bulk.py, jsonl.py), GraphQL shapes
mapped into the records of segments/shopify.py (records.py), and `wabot shopify sync` (sync.py).
docs/shopify.md describes the whole."""
