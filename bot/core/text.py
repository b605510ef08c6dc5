"""Placeholders in the texts a store writes ({first_name}, {cart_url}...): which ones a text uses,
and why it could not be filled from the ones a feature offers. Replies, campaigns and reorder
prompts all check their texts here (docs/flows.md, docs/campaigns.md)."""
from __future__ import annotations

import string
from typing import Iterable


def placeholders_in(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]


def placeholder_problem(template: str, allowed: Iterable[str]) -> str | None:
    """Why `template` cannot be filled from the `allowed` placeholders, or None when it can."""
    try:
        names = placeholders_in(template)
    except ValueError as exc:  # an unmatched brace
        return str(exc)
    allowed = tuple(allowed)
    unknown = next((name for name in names if name not in allowed), None)
    return None if unknown is None else f"unknown placeholder {{{unknown}}}; known: {', '.join(allowed)}"
