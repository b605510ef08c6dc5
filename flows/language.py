"""The language a short chat line is written in, when it can be told with confidence.

WhatsApp lines are short, misspelt, unaccented and mixed ("mera order kab aayega", "oi cade meu
pedido", "pesanan sy blm nyampe kak"). Two kinds of evidence are combined (docs/languages.md,
detection):

1. Script: a line mostly in Devanagari is Hindi.
2. Marker words: words that in a shop's chat belong to one language only ("cadê", "mujhe", "saya",
   "gracias"). Hindi in Latin script has no other detector, and markers decide most short lines.
3. lingua (an offline detector that ships its models in the package), restricted to the languages
   in play, for lines with no clear marker winner; only a high confidence counts.

A line none of these decides ("ok", "👍", "#1001", "hi") is no evidence: the customer's language
stays what earlier evidence made it. `bench/intents.py` measures the accuracy per language.
"""
from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from flows.nlu import normalise

# Markers: folded like flows.nlu.normalise (lower case, no accents). A word shared by two of these
# languages in a shop's chat ("pedido", "por favor", "order", "mas", "ya") is no marker.
MARKERS: dict[str, frozenset[str]] = {
    "en": frozenset((
        "the my is are was where when what why how please thanks thank you your yours want need would could "
        "can get got still yet arrived arrive received buy again same much many this that these with and for "
        "from have has had been it its im ive dont didnt doesnt hello hey there any some just not "
        "should will wanna gonna know tell help talk person someone anyone real today tomorrow "
        "week days shipped shipping delivered delivery tracking track package "
        "recommend something sale discount deal deals offer cheers bye"
    ).split()),
    "es": frozenset((
        "hola gracias donde cuando quiero quisiera necesito mi mis el los las es esta estan muy hay llega "
        "llego llegado llegara envio envios tengo tienes tiene usted ustedes cuanto cuanta cuantos precio "
        "descuento descuentos ayuda ayudar hablar puedo puede pueden otra otro todavia aun "
        "pero bien buenas buenos dias tardes noches mismo misma quiero hay alguien orden paquete "
        "compre recomiendas recomienda baja porfa porfis tu su sus del con una un suscripcion suscribirme "
        "estoy estas tambien ahora mucho mucha manden envien llamar mensaje mensajes siempre luego"
    ).split()),
    "pt": frozenset((
        "oi ola obrigado obrigada obg vlw valeu cade meu minha meus minhas voce voces vc vcs nao quero "
        "quando chegou chega chegar ainda tudo bem bom boa pra muito muita ajuda falar atendente "
        "posso preciso tambem tbm encomenda rastreio rastrear entrega recebi blz beleza td um uma "
        "sem com isso esse essa aqui agora mesmo mesma comprei gostaria outra outro sempre fiz faz liga ligar ligue "
        "mandem parem sair voltar desconto descontos promocao promocoes ate mensagem mensagens atendimento novo"
    ).split()),
    "hi": frozenset((
        "mera meri mere mujhe mujhko kya kab kahan kaha kidhar hai hain nahi nahin nhi bhai bhaiya ji aap "
        "aapka aapki karo kardo krdo kijiye chahiye chaiye wala wali vala abhi bhej bhejo bhejna aayega ayega "
        "aaya aya hua gaya gayi dhanyavad dhanyawad shukriya namaste namaskar accha acha achha theek thik haan "
        "kaise kitna kitne kuch kuchh yaar kyu kyun hoga hogi lena mangwana mangana pichli pichla baar bhi "
        "sab wahi dobara phir fir shuru rok roko batao bataiye milega mila pahunch dekho hamara humara apna baat karwao karao hoti hota"
    ).split()),
    "id": frozenset((
        "saya sy aku gue gw kak kakak min mimin pesanan paket kapan sampai sampe nyampe belum blm sudah udah "
        "udh sdh terima kasih makasih mksh trims tolong mau ingin pengen beli lagi yang yg dan ini itu apa "
        "tidak tdk gak nggak enggak ngga dong kok sih nih deh aja kirim dikirim barang harga diskon halo "
        "selamat pagi siang sore malam bisa bicara orang berhenti jangan mulai gimana bagaimana berapa sama "
        "gan sis bang kah punya kenapa dimana mana sekarang besok hari minggu bulan langganan"
    ).split()),
}

# The languages lingua is asked about: those of the markers that it knows, Hindi aside (it reads
# Hindi only in Devanagari, which the script already decides).
_LINGUA_CODES = ("en", "es", "pt", "id", "de", "it", "fr", "nl", "tr", "ru", "ar", "ms", "pl")
LINGUA_MIN_CONFIDENCE = 0.8  # of its best language, among those in play
LINGUA_MIN_LETTERS = 12  # shorter lines are too little for character statistics
DEVANAGARI = (0x0900, 0x097F)
MAX_CHARS = 1000  # a longer message is read by its beginning, as the router reads it


@dataclass(frozen=True)
class Reading:
    language: str
    confidence: float
    evidence: str  # script | markers | lingua


def read(text: str | None, candidates: Iterable[str]) -> Reading | None:
    """The language of `text` among `candidates` (ISO 639-1 codes), or None when it cannot be
    told with confidence."""
    if not text:
        return None
    text = text[:MAX_CHARS]
    candidates = tuple(dict.fromkeys(candidates))
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    devanagari = sum(1 for ch in letters if DEVANAGARI[0] <= ord(ch) <= DEVANAGARI[1])
    if devanagari * 2 > len(letters):
        return Reading("hi", 1.0, "script") if "hi" in candidates and devanagari >= 2 else None
    folded = normalise(text)
    found = _markers(folded, candidates)
    if found is not None or any(w in MARKERS["hi"] for w in folded.split()):
        return found  # lingua cannot read Hindi in Latin script: a line with its markers is not for it
    return _lingua(text, candidates, len(letters))


def _markers(folded: str, candidates: tuple[str, ...]) -> Reading | None:
    words = folded.split()
    counts: dict[str, float] = {code: sum(1 for w in words if w in MARKERS[code])
                                for code in candidates if code in MARKERS}
    if "en" in counts and any(n for code, n in counts.items() if code != "en"):
        # Chat in any language borrows English words ("mera order kab aayega", "quiero un discount"):
        # beside another language's markers, an English one counts half.
        counts["en"] /= 2
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] == 0:
        return None
    best, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    if score >= 1.5 * runner_up and score > runner_up:
        return Reading(best, round(min(0.95, 0.6 + 0.1 * (score - runner_up)), 2), "markers")
    return None


def _lingua(text: str, candidates: tuple[str, ...], letters: int) -> Reading | None:
    codes = tuple(sorted(c for c in candidates if c in _LINGUA_CODES))
    if len(codes) < 2 or letters < LINGUA_MIN_LETTERS:
        return None
    detector = _detector(codes)
    values = detector.compute_language_confidence_values(unicodedata.normalize("NFC", text))
    if not values:
        return None
    best = values[0]
    if best.value < LINGUA_MIN_CONFIDENCE:
        return None
    return Reading(best.language.iso_code_639_1.name.lower(), round(best.value, 2), "lingua")


_lock = threading.Lock()
_detectors: dict[tuple[str, ...], object] = {}


def _detector(codes: tuple[str, ...]):
    """One lingua detector per set of languages and process, built once even when asked for from
    two threads at a time."""
    with _lock:
        if codes not in _detectors:
            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
            languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in codes]
            _detectors[codes] = LanguageDetectorBuilder.from_languages(*languages).build()
        return _detectors[codes]
