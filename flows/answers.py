"""A yes or a no, in any of the store's languages: the answer to a question the bot asked (the
cash-on-delivery confirmation, docs/automations.md).

Only short messages count ("yes", "sim, pode enviar", "हाँ जी", "batal"): a long message, or one
with a question mark, is a question or a story, and goes to the router. Words are compared as the router folds them (lower
case, no accents), so "Sí", "si" and "SI" are one word. A message with both a yes and a no word
("yes cancel it") counts as the no: cancelling is what a customer cannot take back by mistake.
"""
from __future__ import annotations

from typing import Literal

from flows.nlu import normalise, squash

Answer = Literal["confirm", "cancel"]
MAX_WORDS = 6

# Per language; folded when compared. Button titles (flows/reply_texts.py LABELS cod_confirm and
# cod_cancel) are among them, so a customer who types the title they see is understood.
YES: dict[str, tuple[str, ...]] = {
    "en": ("yes", "yeah", "yep", "yup", "y", "ok", "okay", "sure", "confirm", "confirmed", "correct",
           "go ahead", "please send"),
    "es": ("si", "sí", "claro", "confirmo", "confirmar", "confirmado", "dale", "de acuerdo", "correcto", "vale"),
    "pt": ("sim", "confirmo", "confirmar", "confirmado", "pode enviar", "pode mandar", "beleza", "certo", "isso"),
    "hi": ("haan", "han", "ha", "haa", "ji haan", "theek hai", "thik hai", "हाँ", "हां", "जी हाँ", "ठीक है",
           "पुष्टि", "पुष्टि करें", "कन्फर्म"),
    "id": ("ya", "iya", "iyaa", "betul", "benar", "oke", "konfirmasi", "setuju", "lanjut", "boleh"),
}
NO: dict[str, tuple[str, ...]] = {
    "en": ("no", "nope", "nah", "n", "cancel", "cancel it", "don't send", "dont send", "not anymore"),
    "es": ("no", "cancelar", "cancela", "cancelalo", "cancélalo", "ya no"),
    "pt": ("nao", "não", "cancelar", "cancela", "pode cancelar", "desisti"),
    "hi": ("nahi", "nahin", "nai", "na", "नहीं", "ना", "रद्द", "रद्द करें", "कैंसल", "cancel karo"),
    "id": ("tidak", "tdk", "gak", "nggak", "ga", "enggak", "batal", "batalkan", "jangan"),
}


def _phrases(table: dict[str, tuple[str, ...]], languages: tuple[str, ...]) -> set[tuple[str, ...]]:
    return {tuple(squash(w) for w in normalise(phrase).split()) for code in languages
            for phrase in table.get(code, ()) if normalise(phrase).split()}


def _contains(words: list[str], phrases: set[tuple[str, ...]]) -> bool:
    return any(tuple(words[i:i + len(p)]) == p for p in phrases for i in range(len(words) - len(p) + 1))


def yes_or_no(text: str | None, languages: tuple[str, ...] = tuple(YES)) -> Answer | None:
    """"confirm" for a yes, "cancel" for a no, None for anything else (a question, a long text)."""
    if "?" in (text or ""):
        return None  # "ok, but when does it arrive?" asks; it does not answer
    words = [squash(w) for w in normalise(text or "").split()]
    if not words or len(words) > MAX_WORDS:
        return None
    if _contains(words, _phrases(NO, languages)):
        return "cancel"
    if _contains(words, _phrases(YES, languages)):
        return "confirm"
    return None
