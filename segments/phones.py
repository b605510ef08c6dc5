"""Phone numbers as WhatsApp knows them: the key that joins Shopify orders to chat customers.

A wa_id is the E.164 number without "+". For two countries WhatsApp's id differs from E.164 for
many numbers (Mexican mobiles carry an extra "1" after 52; older Brazilian mobiles lack the ninth
digit), so a lookup tries both spellings before a new customer is created.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from bot.core.phones import country_of


@dataclass(frozen=True)
class Phone:
    wa_id: str  # E.164 digits, no "+"

    @property
    def country(self) -> str | None:
        """ISO 3166 alpha-2 of the number (looked up only when needed: it is the slow part)."""
        return country_of(self.wa_id)


def parse_phone(raw: object, default_region: str) -> Phone | None:
    """The number in `raw` (any common notation; no country code means `default_region`), or None
    when it is empty or cannot be a phone number."""
    if raw is None:
        return None
    text = str(raw).strip().lstrip("'")  # spreadsheet exports quote numbers with a leading apostrophe
    if not text:
        return None
    return _parse(text, default_region.upper())


@lru_cache(maxsize=16384)  # a store's customers order again and again: most lookups repeat
def _parse(text: str, region: str) -> Phone | None:
    try:
        number = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return Phone(wa_id=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+"))


def wa_id_spellings(wa_id: str) -> tuple[str, ...]:
    """The wa_id itself first, then the other spelling WhatsApp may use for the same number."""
    if wa_id.startswith("521") and len(wa_id) == 13:  # Mexico: 52 1 + ten digits
        return wa_id, "52" + wa_id[3:]
    if wa_id.startswith("52") and len(wa_id) == 12:
        return wa_id, "521" + wa_id[2:]
    if wa_id.startswith("55") and len(wa_id) == 13 and wa_id[4] == "9":  # Brazil: 55 DD 9 + eight digits
        return wa_id, wa_id[:4] + wa_id[5:]
    if wa_id.startswith("55") and len(wa_id) == 12 and wa_id[4] in "6789":  # mobile without the ninth digit
        return wa_id, wa_id[:4] + "9" + wa_id[4:]
    return (wa_id,)


def display(wa_id: str | None) -> str | None:
    """The wa_id as a dialable E.164 number, for exports to other channels."""
    if not wa_id or not wa_id.isdigit():
        return None
    return "+" + wa_id
