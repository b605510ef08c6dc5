"""Intents from what a customer types or taps.

Interactive replies map by their ids (`intent:<name>` or `<name>:<argument>`); typed text by
keywords and phrases, after folding case, accents and punctuation. STOP and START match only
as the whole message, the way carriers and WhatsApp users expect opt-out words to work.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

INTENTS = ("greet", "thanks", "order_status", "reorder", "recommend", "sale", "human", "stop", "start",
           "fallback", "media", "preferences")

# Whole-message keywords (after normalisation).
STOP_WORDS = ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "opt out", "optout", "baja",
              "darme de baja", "parar", "para", "sair", "cancelar", "descadastrar", "band karo", "band")
START_WORDS = ("start", "unstop", "subscribe", "opt in", "optin", "alta", "iniciar", "comecar", "voltar",
               "shuru", "chalu karo")

PHRASES: dict[str, tuple[str, ...]] = {
    "greet": ("hi", "hello", "hey", "hola", "buenas", "buenos dias", "ola", "oi", "bom dia", "boa tarde",
              "namaste", "namaskar", "hii", "helo", "good morning", "good evening"),
    "thanks": ("thanks", "thank you", "thx", "ty", "gracias", "obrigado", "obrigada", "valeu", "dhanyavad",
               "shukriya", "thank u"),
    "human": ("human", "agent", "real person", "talk to someone", "speak to someone", "representative",
              "humano", "persona", "agente", "atendente", "pessoa", "insaan", "kisi se baat"),
    "order_status": ("order status", "where is my order", "track", "tracking", "pedido", "mi pedido",
                     "meu pedido", "rastreio", "rastrear", "order kahan", "mera order"),
    "reorder": ("reorder", "order again", "buy again", "same again", "repetir pedido", "volver a pedir",
                "pedir de novo", "comprar de novo", "phir se order", "dobara"),
    "recommend": ("recommend", "suggest", "what should i buy", "recomienda", "recomendacion", "sugere",
                  "recomenda", "sujhav", "kya lu"),
    "sale": ("sale", "discount", "offer", "deal", "promo", "oferta", "descuento", "desconto", "promocao",
             "chhoot", "offer hai"),
}


@dataclass(frozen=True)
class IntentDecision:
    intent: str
    confidence: float
    source: str  # button | keyword | phrase | media | fallback | rasa
    matched: str | None = None


def normalise(text: str) -> str:
    """Lower case, no accents, no punctuation or emoji, single spaces."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = re.sub(r"[^\w\s]", " ", folded)
    return " ".join(folded.split())


def intent_of_reply_id(reply_id: str) -> str | None:
    """`intent:reorder`, `reorder:1234` or `reorder` -> "reorder"."""
    head = reply_id.split(":", 1)
    name = head[1] if head[0] == "intent" and len(head) == 2 else head[0]
    name = name.strip().lower()
    return name if name in INTENTS else None


class IntentRouter:
    @classmethod
    def from_config(cls, intents: Mapping[str, Any] | None) -> "IntentRouter":
        """From the [intents] table of wabot.toml: extra phrases per intent."""
        return cls({name: list(words) for name, words in (intents or {}).items()})

    def __init__(self, extra_phrases: Mapping[str, Iterable[str]] | None = None):
        phrases = {intent: list(words) for intent, words in PHRASES.items()}
        for intent, words in (extra_phrases or {}).items():
            phrases.setdefault(intent, []).extend(normalise(w) for w in words)
        # Longest phrases first, so "order again" wins over "order".
        self._phrases: Sequence[tuple[str, str, re.Pattern]] = sorted(
            ((intent, p, re.compile(rf"(?:^|\s){re.escape(p)}(?:$|\s)")) for intent, ps in phrases.items() for p in ps),
            key=lambda item: -len(item[1]),
        )
        self._stop = {normalise(w) for w in STOP_WORDS}
        self._start = {normalise(w) for w in START_WORDS}

    def route(self, text: str | None, reply_id: str | None = None, message_type: str = "text") -> IntentDecision:
        if reply_id:
            intent = intent_of_reply_id(reply_id)
            if intent:
                return IntentDecision(intent, 1.0, "button", reply_id)
        if message_type not in ("text", "interactive", "button") and not text:
            return IntentDecision("media", 1.0, "media", message_type)
        if not text or not text.strip():
            return IntentDecision("media" if message_type != "text" else "fallback", 0.0, "fallback")
        clean = normalise(text)
        if clean in self._stop:
            return IntentDecision("stop", 1.0, "keyword", clean)
        if clean in self._start:
            return IntentDecision("start", 1.0, "keyword", clean)
        for intent, phrase, pattern in self._phrases:
            if pattern.search(clean):
                return IntentDecision(intent, 0.8, "phrase", phrase)
        return IntentDecision("fallback", 0.0, "fallback")
