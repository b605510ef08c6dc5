"""A customer's language: the codes a store may answer in, their names, and the order of evidence.

Pure data and functions (docs/languages.md). `resolve` is the one statement of the rule "first that
applies": the customer's explicit choice, the language of their recent messages, the locale of their
last order (else of their Shopify customer record), their phone country's main language, the
store default; a language the store does not answer in never counts. `segments` builds the same
order in SQL from `SOURCES` and `COUNTRY_LANGUAGE`, so a rule and a reply read one answer.
"""
from __future__ import annotations

import re
from typing import Sequence

# Where a customer's language came from, in the order they count.
CHOICE, MESSAGES, LOCALE, COUNTRY, DEFAULT = "choice", "messages", "locale", "country", "default"
SOURCES = (CHOICE, MESSAGES, LOCALE, COUNTRY, DEFAULT)
# The same in words, for `segments explain` (the consoles' copy is in bot/web/static/console.js).
SOURCE_WORDS = {CHOICE: "chosen in chat", MESSAGES: "from their messages", LOCALE: "from their Shopify locale",
                COUNTRY: "from their phone's country", DEFAULT: "the store's default"}

# Languages with built-in replies and router vocabulary.
BUILT_IN = ("en", "es", "pt", "hi", "id")

# ISO 639-1 codes a store may list in [store] languages: those above and the languages of the
# commerce markets WhatsApp is big in. Replies in the others come from the store's own tables.
KNOWN = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "hi": "Hindi", "id": "Indonesian",
    "de": "German", "it": "Italian", "fr": "French", "nl": "Dutch", "tr": "Turkish", "ru": "Russian",
    "ar": "Arabic", "ms": "Malay", "bn": "Bengali", "ta": "Tamil", "te": "Telugu", "mr": "Marathi",
    "gu": "Gujarati", "ur": "Urdu", "pl": "Polish", "uk": "Ukrainian", "ro": "Romanian", "vi": "Vietnamese",
    "th": "Thai", "fil": "Filipino", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "he": "Hebrew",
    "fa": "Persian", "sw": "Swahili", "el": "Greek", "cs": "Czech", "sv": "Swedish", "da": "Danish",
    "nb": "Norwegian", "fi": "Finnish", "hu": "Hungarian",
}

# Each language's name in itself: list rows, the agent console, "we chat in English and Español".
ENDONYMS = {
    "en": "English", "es": "Español", "pt": "Português", "hi": "हिन्दी", "id": "Bahasa Indonesia",
    "de": "Deutsch", "it": "Italiano", "fr": "Français", "nl": "Nederlands", "tr": "Türkçe", "ru": "Русский",
    "ar": "العربية", "ms": "Bahasa Melayu", "bn": "বাংলা", "ta": "தமிழ்", "te": "తెలుగు", "mr": "मराठी",
    "gu": "ગુજરાતી", "ur": "اردو", "pl": "Polski", "uk": "Українська", "ro": "Română", "vi": "Tiếng Việt",
    "th": "ไทย", "fil": "Filipino", "zh": "中文", "ja": "日本語", "ko": "한국어", "he": "עברית", "fa": "فارسی",
    "sw": "Kiswahili", "el": "Ελληνικά", "cs": "Čeština", "sv": "Svenska", "da": "Dansk", "nb": "Norsk",
    "fi": "Suomi", "hu": "Magyar",
}

# What a customer may write to choose a language (after folding case and accents): its name in
# English and in itself, and the spellings people type without accents.
NAMES: dict[str, tuple[str, ...]] = {
    "en": ("english", "ingles", "angrezi", "angreji", "inggris", "bahasa inggris", "अंग्रेजी", "इंग्लिश"),
    "es": ("spanish", "espanol", "castellano", "espanhol", "spanyol", "bahasa spanyol"),
    "pt": ("portuguese", "portugues", "portugis", "bahasa portugis", "brazilian portuguese", "portugues do brasil"),
    "hi": ("hindi", "हिंदी", "हिन्दी"),
    "id": ("indonesian", "bahasa indonesia", "bahasa", "indonesia", "indo"),
    "de": ("german", "deutsch"), "it": ("italian", "italiano"), "fr": ("french", "francais"),
    "nl": ("dutch", "nederlands"), "tr": ("turkish", "turkce"), "ru": ("russian", "русский"),
    "ar": ("arabic", "العربية", "عربي"), "ms": ("malay", "bahasa melayu", "melayu"),
}

# The main language of a phone number's country. India counts as English (docs/languages.md): its
# customers write to shops in English and Hindi about equally, and the text decides.
COUNTRY_LANGUAGE: dict[str, str] = {
    **dict.fromkeys("US GB CA AU NZ IE IN ZA NG KE GH PH SG JM TT UG ZM ZW".split(), "en"),
    **dict.fromkeys("ES MX AR CO CL PE VE EC GT CU BO DO HN PY SV NI CR PA UY PR GQ".split(), "es"),
    **dict.fromkeys("BR PT AO MZ CV GW ST".split(), "pt"),
    "ID": "id",
    **dict.fromkeys("DE AT LI".split(), "de"),
    **dict.fromkeys("IT SM".split(), "it"),
    **dict.fromkeys("FR MC SN CI".split(), "fr"),
    "NL": "nl", "TR": "tr", "RU": "ru", "MY": "ms", "PL": "pl", "UA": "uk", "RO": "ro", "VN": "vi", "TH": "th",
    **dict.fromkeys("SA AE EG MA DZ TN JO KW QA BH OM IQ LB".split(), "ar"),
    "BD": "bn", "PK": "ur", "IL": "he", "IR": "fa", "GR": "el", "CZ": "cs", "SE": "sv", "DK": "da",
    "NO": "nb", "FI": "fi", "HU": "hu", "JP": "ja", "KR": "ko", "CN": "zh", "TW": "zh",
}

_TAG = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")


def primary(tag: str | None) -> str | None:
    """The primary subtag of a locale or WhatsApp language code, lower case: "pt_BR" -> "pt",
    "es-MX" -> "es", "en" -> "en"; None for anything that is not such a tag."""
    if not tag or not isinstance(tag, str) or not _TAG.match(tag.strip()):
        return None
    return re.split(r"[_-]", tag.strip(), maxsplit=1)[0].lower()


def country_language(country: str | None) -> str | None:
    return COUNTRY_LANGUAGE.get((country or "").upper())


def resolve(languages: Sequence[str], *, choice: str | None = None, messages: str | None = None,
            locale: str | None = None, country: str | None = None) -> tuple[str, str]:
    """(language, where it came from) by the order of SOURCES; `languages` are the store's, the
    first the default. `locale` may be a tag ("es-MX"); `country` an ISO country code."""
    for source, code in ((CHOICE, choice), (MESSAGES, messages), (LOCALE, primary(locale)),
                         (COUNTRY, country_language(country))):
        if code and code in languages:
            return code, source
    return languages[0], DEFAULT


# The language codes Meta accepts for a message template (docs/languages.md): the long-standing list
# and the regional variants added since. Case matters and the separator is "_" ("pt_BR", not "pt-br").
WHATSAPP_TEMPLATE_LANGUAGES = frozenset((
    "af sq ar az bn bg ca zh_CN zh_HK zh_TW hr cs da nl en en_GB en_US et fil fi fr ka de el gu ha he hi hu id "
    "ga it ja kn kk rw_RW ko ky_KG lo lv lt mk ms ml mr nb fa pl pt_BR pt_PT pa ro ru sr sk sl es es_AR es_ES "
    "es_MX sw sv ta te th tr uk ur uz vi zu "
    "ar_EG ar_AE ar_LB ar_MA ar_QA be_BY bn_IN prs_AF nl_BE en_AE en_AU en_CA en_GH en_IE en_IN en_JM en_MY "
    "en_NZ en_QA en_SG en_UG en_ZA fr_BE fr_CA fr_CH fr_CI fr_MA de_AT de_CH it_CH es_CL es_CO es_CR es_DO "
    "es_EC es_GT es_HN es_PA es_PE es_PY es_UY es_VE"
).split())


def template_language_problem(code: object) -> str | None:
    """Why `code` cannot be a template's language, or None."""
    if not isinstance(code, str) or code not in WHATSAPP_TEMPLATE_LANGUAGES:
        hint = ""
        if isinstance(code, str) and "-" in code and code.replace("-", "_") in WHATSAPP_TEMPLATE_LANGUAGES:
            hint = f" (write {code.replace('-', '_')!r})"
        return f"{code!r} is not a WhatsApp template language code{hint}, e.g. en_US, es_MX, pt_BR, hi, id"
    return None


def template_language_for(language: str, default: str, languages: Sequence[str]) -> str:
    """The template language to send a customer of `language`: the first of the template's
    `languages` whose primary subtag is theirs, else its `language`."""
    return next((code for code in languages if primary(code) == language), default)
