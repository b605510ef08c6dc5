"""What a WhatsApp number says by itself: its country (what Meta prices and restricts by)."""
from __future__ import annotations

import re
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


# A business-scoped user id (a username customer's id without a phone number): the ISO country
# of the user's number, ".", then up to 128 letters and digits; a parent id has "ENT." after the
# country (docs/usernames.md).
_USER_ID = re.compile(r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}")


def is_user_id(key: str | None) -> bool:
    """Whether a customer key is a business-scoped user id (BSUID) rather than a phone number."""
    return bool(key) and _USER_ID.fullmatch(key) is not None


def address_country(key: str | None) -> str | None:
    """The country of a customer address: a number's by its prefix, a BSUID's by its ISO prefix
    (what pricing and quiet hours go by when the phone number is unknown)."""
    if key and is_user_id(key):
        return key[:2]
    return country_of(key)
