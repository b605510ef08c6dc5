"""The intent router in Indonesian and in Hindi written in Devanagari, the `language` intent, and the
per-language tables of [intents] in wabot.toml."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import intents as bench
from bot.core import languages
from bot.core.errors import ConfigError
from flows.nlu import (
    INTENTS,
    MAX_LANGUAGE_WORDS,
    IntentDecision,
    IntentRouter,
    chosen_language,
    intent_of_reply_id,
    language_named,
    normalise,
    squash,
)


@pytest.fixture(scope="module")
def router() -> IntentRouter:
    return IntentRouter()


def failures(router: IntentRouter, cases: list[tuple[str, str]]) -> list[str]:
    found = []
    for text, expected in cases:
        decision = router.route(text)
        if decision.intent != expected:
            top = sorted(router.scores(text).items(), key=lambda kv: -kv[1])[:3]
            found.append(f"{text!r}: {decision.intent} ({decision.matched}), expected {expected}; scores {top}")
    return found


# ---------------------------------------------------------------- Devanagari text

def test_devanagari_words_stay_whole():
    assert normalise("मेरा ऑर्डर कहाँ है?") == "मेरा ऑर्डर कहां है"
    assert normalise("धन्यवाद!!") == "धन्यवाद"  # the virama stays: not "धनयवाद"
    assert normalise("बहुत  बढ़िया 🙏") == "बहुत बढिया"
    assert len(normalise("किधर है भाई").split()) == 3


def test_devanagari_variants_fold_alike():
    assert normalise("ज़्यादा") == normalise("ज्यादा")  # a nukta, typed or not
    assert normalise("कहाँ") == normalise("कहां")  # a candrabindu is an anusvara
    assert normalise("फ़ोन") == normalise("फोन")
    assert normalise("क्\u200dष") == normalise("क्ष")  # a joiner only shapes the letters


def test_the_danda_ends_a_sentence(router):
    # Each sentence is read for a command of its own: "बंद करो" after a danda is one.
    assert router.route("सुनो। बंद करो").intent == "stop"


def test_devanagari_takes_no_typos(router):
    assert router.route("धन्यवाद").intent == "thanks"
    assert router.route("धन्यवाड").intent == "fallback"


# ---------------------------------------------------------------- intents by language

CASES: dict[str, dict[str, list[str]]] = {
    "greet": {
        "id": ["halo kak", "selamat pagi min", "hai gan", "assalamualaikum kak", "sore kak 🙏"],
        "hi-Deva": ["नमस्ते", "नमस्कार भैया", "हेलो जी", "राम राम जी", "शुभ प्रभात"],
    },
    "thanks": {
        "id": ["terima kasih kak", "makasih banyak min", "oke makasih ya", "trims gan 🙏", "thx kak"],
        "hi-Deva": ["धन्यवाद जी", "शुक्रिया भाई", "थैंक यू", "ठीक है धन्यवाद 🙏", "बहुत शुक्रिया"],
    },
    "order_status": {
        "id": ["pesanan saya dimana ya kak", "paket sy blm nyampe", "kapan pesanannya sampai",
               "no resi berapa min", "udah dikirim belum kak?"],
        "hi-Deva": ["मेरा ऑर्डर कहाँ है", "पार्सल कब आएगा", "ऑर्डर अभी तक नहीं मिला", "ट्रैकिंग आईडी भेजो",
                    "मेरा सामान कब पहुंचेगा"],
    },
    "reorder": {
        "id": ["mau pesan lagi kak", "beli lagi yang kemarin", "order ulang dong", "mau yang sama kayak kemarin",
               "tambah 1 botol lagi"],
        "hi-Deva": ["फिर से वही भेज दो", "दोबारा ऑर्डर करना है", "पिछली बार वाला चाहिए", "एक और पैकेट चाहिए",
                    "रीऑर्डर करना है"],
    },
    "recommend": {
        "id": ["ada rekomendasi kak?", "yang paling laris apa", "minta saran dong", "cari kado buat ibu",
               "yang bagus yang mana min"],
        "hi-Deva": ["कुछ सुझाव दो", "कौन सा सबसे अच्छा है", "गिफ्ट के लिए क्या लूं", "क्या रिकमेंड करोगे",
                    "कोई अच्छा प्रोडक्ट बताओ"],
    },
    "sale": {
        "id": ["ada diskon?", "lagi promo apa kak", "kode voucher dong", "ada potongan harga?", "gratis ongkir gak"],
        "hi-Deva": ["कोई ऑफर है क्या", "डिस्काउंट मिलेगा", "सेल कब है", "कूपन कोड दो", "कुछ छूट है"],
    },
    "human": {
        "id": ["mau bicara sama admin", "bisa ngobrol dengan cs?", "mau orang asli bukan bot", "telepon saya kak",
               "hubungkan ke admin dong"],
        "hi-Deva": ["किसी इंसान से बात करनी है", "कस्टमर केयर से बात कराओ", "मुझे कॉल करो", "एजेंट से बात करनी है",
                    "असली आदमी से बात करवाओ"],
    },
    "stop": {
        "id": ["berhenti", "stop kak", "jangan kirim pesan lagi", "berhenti langganan", "unreg"],
        "hi-Deva": ["बंद करो", "मैसेज मत भेजो", "स्टॉप", "मैसेज भेजना बंद करो", "अनसब्सक्राइब"],
    },
    "start": {
        "id": ["mulai lagi", "MULAI", "langganan lagi", "kirim promo lagi dong", "aktifkan notif"],
        "hi-Deva": ["फिर से शुरू करो", "शुरू करो", "चालू करो", "मैसेज फिर से भेजो", "स्टार्ट"],
    },
    "fallback": {
        "id": ["ongkir ke medan berapa", "bisa cod?", "wkwkwk", "alamat toko dimana", "ready kak?"],
        "hi-Deva": ["हाहाहा", "आप कौन हो", "दुकान कितने बजे खुलती है", "कैश ऑन डिलीवरी है?", "हाँ"],
    },
}


@pytest.mark.parametrize("lang", ["id", "hi-Deva"])
def test_every_intent_routes_in_indonesian_and_devanagari(router, lang):
    cases = [(text, intent) for intent, by_lang in CASES.items() for text in by_lang[lang]]
    assert len(cases) == 50
    wrong = failures(router, cases)
    assert not wrong, f"{len(wrong)} of {len(cases)} {lang} phrases routed wrong:\n" + "\n".join(wrong)


def test_cases_cover_every_text_intent():
    assert set(CASES) == set(bench.TEXT_INTENTS) - {"language"}
    assert "id" in bench.LANGUAGES


def test_preferences(router):
    for text in ("ubah preferensi saya", "minat saya", "मेरी पसंद बदलनी है"):
        assert router.route(text).intent == "preferences", (text, router.scores(text))


def test_typo_in_an_indonesian_word(router):
    assert router.route("rekomendsi dong").intent == "recommend"
    assert router.route("pesanan sy dmana").intent == "order_status"


# ---------------------------------------------------------------- opting out and back in

OPT_OUT = {
    "id": ["STOP", "berhenti ya kak", "stop kirim pesan", "berhenti kirim promo", "jangan kirim promo lagi",
           "gak usah kirim promo lagi", "gak mau terima promo lagi", "tolong berhenti spam", "unreg",
           "hapus nomor saya dari daftar", "saya mau berhenti berlangganan", "jangan hubungi saya lagi",
           "stop dulu min"],
    "hi-Deva": ["बंद", "बंद कर दो", "रोक दो", "स्टॉप करो", "मैसेज मत भेजो", "और मैसेज मत भेजना",
                "मुझे मैसेज नहीं चाहिए", "ये सब मैसेज बंद कर दो प्लीज़", "ऑफर भेजना बंद करो", "अनसब्सक्राइब कर दो"],
}
NOT_OPT_OUT = {  # negated opt-outs and look-alikes: a wrong STOP silences a customer
    "id": ["jangan berhenti kirim promo", "saya gak mau berhenti langganan", "jangan kirim ke alamat lama",
           "jangan kirim pesanan saya dulu", "paket jangan dikirim dulu", "ga dapet notif resi", "kapan promo berhenti?",
           "jangan", "gak mau", "pacar", "bakal langganan", "salah kirim", "stok habis"],
    "hi-Deva": ["बंद मत करो", "मैसेज बंद मत करो", "मैसेज भेजना बंद मत करना", "दुकान बंद है क्या", "बंद है?",
                "ऑर्डर बंद करो", "मैसेज नहीं आया", "ऑर्डर रोक दो", "बंदा कौन है", "नहीं"],
}
OPT_IN = {
    "id": ["mulai", "mulai lagi kak", "langganan", "berlangganan lagi", "aktifkan lagi notifnya",
           "kirimin promo lagi ya", "mau dapat promo lagi", "mulai kirim promo lagi"],
    "hi-Deva": ["शुरू", "फिर से शुरू", "दोबारा शुरू करो", "चालू कर दो", "मैसेज वापस चालू करो", "फिर से मैसेज भेजो",
                "दोबारा सब्सक्राइब करना है"],
}
NOT_OPT_IN = {
    "id": ["promo mulai kapan?", "kapan mulai dikirim?", "aktifkan garansi", "mulia"],
    "hi-Deva": ["ऑर्डर फिर से शुरू करो", "सेल कब शुरू होगी", "चालू है?"],
}


@pytest.mark.parametrize("lang", ["id", "hi-Deva"])
def test_opt_out_and_back_in(router, lang):
    wrong = []
    for texts, check in ((OPT_OUT, "stop"), (NOT_OPT_OUT, "!stop"), (OPT_IN, "start"), (NOT_OPT_IN, "!start")):
        for text in texts[lang]:
            decision = router.route(text)
            ok = decision.intent != check[1:] if check.startswith("!") else (
                decision.intent == check and decision.source == "keyword" and decision.confidence >= 0.9)
            if not ok:
                wrong.append(f"{text!r}: {decision}, expected {check}")
    assert not wrong, "\n".join(wrong)


def test_both_directions_in_one_message_is_an_opt_out(router):
    assert router.route("mulai lagi. berhenti aja").intent == "stop"
    assert router.route("फिर से शुरू करो। बंद करो").intent == "stop"


# ---------------------------------------------------------------- choosing a language

CHOICES = [
    ("english", "en"), ("English please", "en"), ("in english pls", "en"), ("can you reply in english", "en"),
    ("ENGLISH!!", "en"), ("español", "es"), ("Español por favor", "es"), ("en espanol", "es"),
    ("idioma español", "es"), ("ingles por favor", "en"), ("português", "pt"), ("em português por favor", "pt"),
    ("pode falar em espanhol?", "es"), ("hindi", "hi"), ("hindi me baat karo", "hi"), ("हिंदी", "hi"),
    ("हिन्दी में", "hi"), ("अंग्रेजी में बात करो", "en"), ("इंग्लिश प्लीज़", "en"), ("bahasa indonesia", "id"),
    ("pakai bahasa indonesia", "id"), ("bahasa inggris dong", "en"), ("bhs indo aja kak", "id"), ("indonesia", "id"),
    ("deutsch", "de"), ("french please", "fr"), ("русский", "ru"), ("العربية", "ar"),
    ("bahasa melayu", "ms"), ("english 👍", "en"),
]
NOT_CHOICES = [
    "do you ship to indonesia?", "my order in spanish shop", "english breakfast tea", "spanish olive oil please",
    "is the manual in english?", "i dont speak english well", "english or spanish?", "no english", "hindi nahi aati",
    "हिंदी अच्छी नहीं आती", "ada toko di indonesia?", "bahasa inggris nya apa ya", "vocês têm site em inglês?",
    "please please please please please please please please english",
]


@pytest.mark.parametrize("text,code", CHOICES)
def test_a_language_named_alone_is_the_language_intent(router, text, code):
    assert language_named(text) == code
    decision = router.route(text)
    assert decision == IntentDecision("language", 1.0, "keyword", code)
    assert chosen_language(decision) == code


@pytest.mark.parametrize("text", NOT_CHOICES)
def test_a_sentence_that_mentions_a_language_is_not_a_choice(router, text):
    assert language_named(text) is None
    assert router.route(text).intent != "language"


def test_every_name_of_every_language_is_understood():
    for code, names in languages.NAMES.items():
        for name in names:
            assert language_named(name) == code, (code, name)
            assert language_named(name.upper() + " please") == code, (code, name)


def test_opting_out_comes_before_a_language(router):
    assert router.route("english please. STOP").intent == "stop"


@pytest.mark.parametrize("reply_id,code", [
    ("language:es", "es"), ("LANGUAGE:PT", "pt"), ("intent:language:hi", "hi"), ("language:pt_BR", "pt"),
    ("language:id", "id"), ("language", None), ("language:xx", None), ("language:", None),
])
def test_a_tapped_language_row(router, reply_id, code):
    assert intent_of_reply_id(reply_id) == "language"
    decision = router.route("Español", reply_id, "interactive")
    assert decision == IntentDecision("language", 1.0, "button", reply_id)
    assert chosen_language(decision) == code
    assert chosen_language(IntentDecision("language", 0.9, "rasa"), reply_id) == code


def test_chosen_language_of_other_decisions():
    assert chosen_language(IntentDecision("greet", 0.7, "keyword", "@greet")) is None
    assert chosen_language(IntentDecision("reorder", 1.0, "button", "language:es")) is None
    assert chosen_language(IntentDecision("language", 1.0, "keyword", "en"), "row_7") == "en"


def test_language_is_an_intent_but_takes_no_keywords():
    assert "language" in INTENTS
    with pytest.raises(ConfigError, match=r"^\[intents.language\]: language takes no keywords"):
        IntentRouter.from_config({"language": {"keywords": ["idioma"]}})


# ---------------------------------------------------------------- per-language [intents] tables

def test_a_language_table_adds_to_its_intent():
    router = IntentRouter.from_config({
        "reorder": {"keywords": ["restock"], "es": {"keywords": ["reponer ya"], "patterns": [r"\bmas cafe\b"]},
                    "id": ["isi ulang"]},
        "human": {"hi": {"keywords": ["सहायक"]}},
        "stop": {"id": {"keywords": ["udahan"]}},
    })
    for text, expected in (("restock", "reorder"), ("Reponer ya!", "reorder"), ("quiero más café", "reorder"),
                           ("isi ulang dong", "reorder"), ("सहायक चाहिए", "human"), ("udahan kak", "stop"),
                           ("where is my order", "order_status")):
        assert router.route(text).intent == expected, (text, router.scores(text))


@pytest.mark.parametrize("table,message", [
    ({"reorder": {"xx": {"keywords": ["a"]}}}, "[intents.reorder.xx]: unknown language 'xx'; languages are en, es"),
    ({"reorder": {"es": {"keyword": ["a"]}}}, "[intents.reorder.es]: unknown key 'keyword'; use keywords or patterns"),
    ({"reorder": {"es": "reponer"}}, "[intents.reorder.es] must be a table with keywords = [...]"),
    ({"reorder": {"es": {"keywords": "reponer"}}}, "[intents.reorder.es] keywords must be a list of strings"),
    ({"reorder": {"es": {"keywords": [".. reponer"]}}}, "[intents.reorder.es] keywords: '.. reponer': '..' must stand"),
    ({"reorder": {"es": {"patterns": ["("]}}}, "[intents.reorder.es] patterns: bad regular expression '('"),
    ({"stop": {"id": {"keywords": ["tolong"]}}}, "[intents.stop.id] keywords: 'tolong' is only filler words"),
    ({"stop": {"id": {"keywords": ["mulai"]}}}, "[intents] mulai: both an opt-out and an opt-in command"),
    ({"reorder": {"es": {"es": {"keywords": ["x"]}}}}, "[intents.reorder.es]: unknown key 'es'"),
    ({"reorder": {"note": "x"}}, "[intents.reorder]: unknown key 'note'; use keywords or patterns, or a table per"),
])
def test_language_table_errors_name_the_table(table, message):
    with pytest.raises(ConfigError) as caught:
        IntentRouter.from_config(table)
    assert message in str(caught.value)


def test_a_devanagari_pattern_is_folded_like_a_message():
    router = IntentRouter.from_config({"sale": {"hi": {"patterns": ["ज़्यादा सस्ता"]}}})
    assert router.route("कुछ ज्यादा सस्ता है?").intent == "sale"


# ---------------------------------------------------------------- properties

WORDS = ["berhenti", "jangan", "kirim", "lagi", "mulai", "promo", "pesanan", "saya", "kak", "gak", "bahasa",
         "indonesia", "inggris", "english", "please", "in", "hindi", "me", "español", "बंद", "करो", "मत", "भेजो",
         "मैसेज", "शुरू", "फिर", "से", "हिंदी", "में", "ऑर्डर", "कहाँ", "।", "?", "🙏", "stop", "start", "no"]
TEXTS = st.none() | st.text(max_size=200) | st.text(alphabet=st.characters(min_codepoint=0x0900, max_codepoint=0x097F)
                                                    | st.sampled_from(" ?।"), max_size=60) \
    | st.lists(st.sampled_from(WORDS), max_size=14).map(" ".join)
REPLY_IDS = st.none() | st.text(max_size=20) | st.builds(lambda arg: f"language:{arg}", st.text(max_size=8))
NAME_WORDS = {squash(w) for names in languages.NAMES.values() for name in names for w in normalise(name).split()}


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXTS, reply_id=REPLY_IDS, message_type=st.sampled_from(["text", "interactive", "button", "image"]))
def test_any_input_routes_and_a_language_is_chosen_only_by_a_short_message_naming_it(router, text, reply_id,
                                                                                    message_type):
    decision = router.route(text, reply_id, message_type)
    assert decision.intent in INTENTS and 0.0 <= decision.confidence <= 1.0
    code = chosen_language(decision, reply_id)
    assert code is None or code in languages.KNOWN
    if decision.intent == "language" and decision.source == "keyword":
        words = [squash(w) for w in normalise(text or "").split()]
        assert len(words) <= MAX_LANGUAGE_WORDS
        assert NAME_WORDS & set(words), text
        assert code in languages.NAMES


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(min_codepoint=0x0900, max_codepoint=0x0DFF) | st.sampled_from(" a?"),
               max_size=30))
def test_normalise_is_idempotent_on_indic_text(text):
    assert normalise(normalise(text)) == normalise(text)
