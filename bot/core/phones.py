"""What a WhatsApp number says by itself: its country (what Meta prices and restricts by)."""
from __future__ import annotations

from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=16384)
def country_of(wa_id: str | None) -> str | None:
    """ISO country of a WhatsApp number (E.164 digits, no +), or None for a username's user id
    and anything else that is not a number."""
    if not wa_id or not wa_id.isdigit():
        return None
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse("+" + wa_id, None))
    except phonenumbers.NumberParseException:
        return None
