"""The intent router: intents per language, buttons and lists, STOP/START safety, typos, the [intents]
table of wabot.toml, properties over any input, and the labelled benchmark set."""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench import intents as bench
from bench.real_words import targets_digest
from bot.core.config import Settings, parse_file_config
from bot.core.errors import ConfigError
from bot.runtime import Runtime, check_configuration
from flows import lexicon, real_words
from flows.nlu import INTENTS, IntentDecision, IntentRouter, _parse_cue, intent_of_reply_id, normalise, squash
from tests.support.cli import run_cli


@pytest.fixture(scope="module")
def router() -> IntentRouter:
    return IntentRouter()


def intent(router: IntentRouter, text: str) -> str:
    return router.route(text).intent


# ---------------------------------------------------------------- text

def test_normalise_folds_case_accents_apostrophes_punctuation_and_emoji():
    assert normalise("  ¿Dónde   está MI pedido?? 😡 ") == "donde esta mi pedido"
    assert normalise("Don't STOP!!") == "dont stop"
    assert normalise("Não, obrigadão") == "nao obrigadao"
    assert normalise("🙏🙏") == ""


def test_squash_folds_elongation():
    assert squash("hiiiii") == "hi"
    assert squash("thankss") == "thanks"
    assert squash("accha") == squash("acha")


# ---------------------------------------------------------------- intents by language

CASES = {
    "greet": {
        "en": ["hi", "Hellooo 👋", "good evening", "hey there"],
        "es": ["hola!!", "buenas tardes", "buen día", "hola que tal"],
        "pt": ["oi", "olá, bom dia", "boa noite", "oi tudo bem?"],
        "hi": ["namaste", "namaskar ji", "hello bhai kaise ho", "ram ram"],
    },
    "thanks": {
        "en": ["thanks!", "thank you so much", "thx 🙏", "cheers, bye"],
        "es": ["gracias", "muchísimas gracias!", "mil gracias", "ok gracias, adiós"],
        "pt": ["obrigado", "valeu!!", "muito obrigada pela ajuda", "brigadão"],
        "hi": ["dhanyavad", "shukriya bhai", "thank you ji", "bahut dhanyawad"],
    },
    "order_status": {
        "en": ["where is my order?", "any update on my parcel", "tracking number please", "my package hasn't arrived"],
        "es": ["¿dónde está mi pedido?", "mi paquete no ha llegado", "número de seguimiento", "cuándo llega mi compra"],
        "pt": ["cadê meu pedido", "minha encomenda não chegou", "código de rastreio?", "quando chega meu pedido"],
        "hi": ["mera order kab aayega", "parcel abhi tak nahi mila", "order kahan hai", "tracking id bhejo"],
    },
    "reorder": {
        "en": ["reorder", "same as last time please", "I want to buy it again", "another bag of the dog food"],
        "es": ["quiero repetir mi pedido", "lo mismo de siempre", "volver a comprar el café", "otra caja igual"],
        "pt": ["quero pedir de novo", "mesmo pedido da última vez", "repetir compra", "mais um pacote igual"],
        "hi": ["same order dobara karna hai", "phir se wahi bhejo", "reorder karna hai", "ek aur bottle bhej do"],
    },
    "recommend": {
        "en": ["what do you recommend?", "suggest a gift for my mum", "which one is best for dry skin", "any ideas?"],
        "es": ["¿qué me recomiendas?", "alguna sugerencia?", "cuál es el mejor para mi perro", "busco un regalo"],
        "pt": ["o que você recomenda?", "me indica um presente", "qual o melhor pra pele seca", "alguma sugestão"],
        "hi": ["kuch accha suggest karo", "kya recommend karoge", "gift ke liye kya lu", "kaunsa best hai"],
    },
    "sale": {
        "en": ["any discounts?", "is there a sale on", "promo code pls", "black friday deals?"],
        "es": ["hay descuentos?", "tienen ofertas", "alguna promo?", "hay rebajas"],
        "pt": ["tem desconto?", "tem promoção hoje", "cupom de desconto?", "tá tendo liquidação?"],
        "hi": ["koi offer hai kya", "discount milega?", "sale kab hai", "koi coupon code hai"],
    },
    "human": {
        "en": ["talk to a human", "can I speak to a real person", "agent please", "customer service"],
        "es": ["quiero hablar con una persona", "necesito un asesor", "hablar con un agente", "atención al cliente"],
        "pt": ["quero falar com um atendente", "falar com uma pessoa", "atendimento humano", "me liga por favor"],
        "hi": ["kisi insaan se baat karao", "customer care se baat karni hai", "agent chahiye", "mujhe call karo"],
    },
    "stop": {
        "en": ["STOP", "Stop please", "unsubscribe", "stop sending me messages"],
        "es": ["baja", "parar", "darme de baja", "no quiero recibir más mensajes"],
        "pt": ["sair", "parar", "não quero mais receber mensagens", "me tira da lista"],
        "hi": ["band karo", "message mat bhejo", "unsubscribe karo", "stop karo"],
    },
    "start": {
        "en": ["START", "start please", "subscribe", "opt me back in"],
        "es": ["alta", "darme de alta", "quiero volver a recibir mensajes", "suscribirme"],
        "pt": ["quero voltar a receber mensagens", "reativar", "me inscrever de novo", "voltar a receber"],
        "hi": ["shuru karo", "phir se message bhejo", "start karo", "messages chalu karo"],
    },
    "fallback": {
        "en": ["what are your opening hours", "lol", "asdfgh", "do you ship to canada?"],
        "es": ["jajaja", "aceptan tarjeta?", "cuál es su dirección", "tienen talla 38?"],
        "pt": ["kkkkk", "aceita pix?", "qual o endereço da loja", "tem tamanho p?"],
        "hi": ["hahaha", "aap kaun ho", "size chart bhejo", "cash on delivery hai kya?"],
    },
}


# ---------------------------------------------------------------- every phrase, one test per language
# Each language's phrases are checked in one test that lists every failure; the count per language
# keeps a phrase from being dropped unnoticed.

OPT_OUT = {  # STOP and its synonyms: opted out at once, by keyword, with confidence
    "en": ["stop", "STOP", "STOP!!", "Stop please", "stop pls 🙏", "please stop", "Stop.", "stop it", "STOP ALL",
           "stopall", "stooop", "unsubscribe", "Unsubscribe me please", "unsubscibe", "opt out", "opt-out", "cancel",
           "end", "quit", "stop sending me messages", "stop messaging me", "please stop texting me",
           "no more messages pls", "remove me from your list", "take me off this list",
           "I don't want these messages anymore", "Stop promotions", "don't message me again",
           "Hi, please stop messaging me", "Stop. I never signed up for this", "stop sending", "stop sending me these",
           "pls stop sending me promos", "don't send me any more offers", "no, stop sending me offers"],
    "es": ["baja", "BAJA", "baja por favor", "darme de baja", "parar", "para", "basta", "stop por favor",
           "no quiero recibir más mensajes", "no me manden mas mensajes", "dejen de escribirme", "Detener promociones",
           "eliminen mi número de su lista"],
    "pt": ["sair", "SAIR", "parar", "pare", "descadastrar", "não quero mais receber mensagens",
           "parem de me mandar mensagem", "me tira dessa lista", "sair da lista por favor", "Parar promoções"],
    "hi": ["band karo", "band kar do", "message mat bhejo", "msg bhejna band karo", "unsubscribe kar do",
           "mujhe messages nahi chahiye", "ye sab messages band karo", "STOP karo"],
}
NOT_OPT_OUT = {  # look like a STOP, are not one
    "en": ["don't stop sending deals", "please don't stop the offers", "do not unsubscribe me",
           "never stop sending promos", "when does the sale end?", "can I cancel my order?",
           "my order stopped at customs", "I'll stop by the store", "where is the bus stop",
           "the stop button doesn't work", "how do I start an order?", "no more questions, thanks", "no", "no more",
           "quiet", "star", "ok", "stop sending me the wrong size!", "don't send me the wrong colour again",
           "please stop sending the parcel to my old address", "I want to stop my order", "wait stop", "stopped",
           "cancel my subscription box delivery date?"],
    "es": ["pasta", "para mi mamá", "para cuando llega?", "no pares de mandar ofertas", "alta calidad?",
           "baja de precio la promo?"],
    "pt": ["vou sair agora, depois falo", "não pare de mandar promoções"],
    "hi": ["nahi chahiye", "bas", "band mat karo messages"],
}
OPT_IN = {
    "en": ["START", "start", "Start please", "unstop", "resume", "subscribe", "subscribe me again", "resubscribe",
           "opt in", "opt me back in", "start sending me offers again", "I want to receive messages again"],
    "es": ["alta", "ALTA por favor", "darme de alta", "suscribirme", "quiero suscribirme de nuevo",
           "activar notificaciones", "reactivar mensajes"],
    "pt": ["quero voltar a receber mensagens", "reativar", "ativar", "me cadastra de novo"],
    "hi": ["shuru karo", "start karo", "messages wapas chalu karo", "phir se message bhejo"],
}
NOT_OPT_IN = {
    "en": ["when does the sale start?", "how do I start?", "I'll start with the blue one", "don't start sending me ads",
           "subscribed?", "unsubscribe"],
    "es": ["no quiero volver a recibir mensajes"],
}
REQUEST_WINS = {  # the request wins over small talk, and the specific over the general
    "en": [("hi, where is my order?", "order_status"), ("hello! any discounts today?", "sale"),
           ("thanks! and where is my parcel?", "order_status"), ("got my order, thanks!", "thanks"),
           ("thanks for the discount code", "thanks"), ("where is my order? I want to talk to a human", "human"),
           ("reorder the same as last time, and any discount?", "reorder")],
    "es": [("hola, quiero hablar con una persona", "human")],
    "pt": [("oi, tudo bem? quero repetir o pedido", "reorder")],
    "hi": [("namaste, mera order kab aayega", "order_status"), ("offer kab aayega", "sale")],
}
TYPOS = {  # typos, elongation and shouting
    "en": [("hiiiii", "greet"), ("thx!!", "thanks"), ("thnks", "thanks"), ("tahnks", "thanks"),
           ("reccomend something", "recommend"), ("any discunts?", "sale"), ("prpmotions?", "sale"),
           ("trakcing number", "order_status"), ("wher is my pakage", "order_status"), ("unsubscibe", "stop"),
           ("stpo", "stop"), ("stop textnig me", "stop"), ("humn please", "human")],
    "es": [("recomendasion porfa", "recommend"), ("HOLAAAA", "greet"), ("DONDE ESTA MI PEDIDO", "order_status")],
    "pt": [("obrigadaaa", "thanks")],
    "hi": [("dhanyawaad", "thanks"), ("shukriyaa", "thanks")],
}
NOT_TYPOS = {  # real words are not typos of a cue
    "en": [("first time here", "reorder"),     # "first" is not Hinglish "firse"
           ("I feel alive", "order_status"),   # nor "alive" a typo of "arrive"
           ("sugar free?", "recommend"),       # nor "sugar" of "suger*"
           ("there", "order_status")],         # function words only match as written
    "es": [("muy caliente", "human")],         # nor "caliente" of "cliente"
}
LANGUAGES = ("en", "es", "pt", "hi")
PHRASE_COUNTS = {"en": 141, "es": 72, "pt": 58, "hi": 59}  # 330 phrases


def phrases(lang: str) -> list[tuple[str, str, str]]:
    """(text, check, intent) for every phrase of a language. Checks: `intent` (that intent, matched
    with a confidence unless it is the fallback), `stop` (an opt-out by keyword with confidence
    >= 0.9), `is` (that intent), `not` (any other intent)."""
    out = [(text, "intent", name) for name, by_lang in CASES.items() for text in by_lang.get(lang, [])]
    out += [(text, "stop", "stop") for text in OPT_OUT.get(lang, [])]
    out += [(text, "not", "stop") for text in NOT_OPT_OUT.get(lang, [])]
    out += [(text, "is", "start") for text in OPT_IN.get(lang, [])]
    out += [(text, "not", "start") for text in NOT_OPT_IN.get(lang, [])]
    out += [(text, "is", name) for text, name in REQUEST_WINS.get(lang, []) + TYPOS.get(lang, [])]
    out += [(text, "not", name) for text, name in NOT_TYPOS.get(lang, [])]
    return out


def phrase_failure(router: IntentRouter, text: str, check: str, expected: str) -> str | None:
    decision = router.route(text)
    if check == "not":
        ok = decision.intent != expected
    else:
        ok = decision.intent == expected
        if ok and check == "intent" and expected != "fallback":
            ok = decision.matched and 0 < decision.confidence <= 1
        if ok and check == "stop":
            ok = decision.confidence >= 0.9 and decision.source == "keyword"
    if ok:
        return None
    top = sorted(router.scores(text).items(), key=lambda kv: -kv[1])[:3]
    return (f"{text!r}: {decision.intent} ({decision.source}, {decision.confidence:.2f}), expected "
            f"{'not ' if check == 'not' else ''}{expected}; scores {top}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_intent_phrases(router, lang):
    checks = phrases(lang)
    assert len(checks) == PHRASE_COUNTS[lang], f"{lang}: {len(checks)} phrases, expected {PHRASE_COUNTS[lang]}"
    failures = [f for f in (phrase_failure(router, *c) for c in checks) if f]
    assert not failures, f"{len(failures)} of {len(checks)} {lang} phrases routed wrong:\n" + "\n".join(failures)


def test_every_text_intent_and_language_is_covered():
    # Indonesian, Hindi in Devanagari and the language intent: tests/unit/test_router_languages.py
    assert set(CASES) == set(bench.TEXT_INTENTS) - {"language"}
    assert all(set(by_lang) == set(LANGUAGES) for by_lang in CASES.values())
    assert set(LANGUAGES) == set(bench.LANGUAGES) - {"id"}
    assert sum(PHRASE_COUNTS.values()) == 330


# ---------------------------------------------------------------- buttons, lists and message types

@pytest.mark.parametrize("reply_id,expected", [
    ("intent:reorder", "reorder"), ("reorder:1234", "reorder"), ("reorder", "reorder"), ("INTENT:Human", "human"),
    (" stop ", "stop"), ("preferences:tea", "preferences"), ("intent:order_status", "order_status"),
    ("intent:nope", None), ("buy_now:12", None), ("", None), ("intent:", None),
])
def test_intent_of_reply_id(reply_id, expected):
    assert intent_of_reply_id(reply_id) == expected


def test_button_id_wins_over_text(router):
    assert router.route("Reorder", "reorder:1234", "interactive") == IntentDecision("reorder", 1.0, "button",
                                                                                  "reorder:1234")
    assert router.route("Stop promotions", "STOP", "button").intent == "stop"
    assert router.route(None, "intent:preferences", "interactive").intent == "preferences"


def test_unknown_id_routes_the_tapped_title(router):
    assert router.route("Track my order", "row_7", "interactive").intent == "order_status"
    assert router.route("Stop promotions", "STOP_PROMOTIONS_PAYLOAD", "button").intent == "stop"
    assert router.route("Pizza", "product:77", "interactive").intent == "fallback"


def test_media_without_words_or_payload(router):
    for kind in ("image", "audio", "sticker", "location", "contacts", "video", "document", "unknown"):
        assert router.route(None, None, kind) == IntentDecision("media", 1.0, "media", kind)
    assert router.route(None, None, "interactive").intent == "media"  # a flow's answer without a known id
    assert router.route("😍😍", None, "image").intent == "media"
    assert router.route("", None, "text").intent == "fallback"
    assert router.route(None).intent == "fallback"


def test_a_caption_that_asks_something_is_routed(router):
    assert router.route("is this on sale?", None, "image").intent == "sale"
    assert router.route("my cute dog", None, "image").intent == "media"


# ---------------------------------------------------------------- opting out and back in

def test_both_in_one_message_is_an_opt_out(router):
    assert intent(router, "stop. actually start again") == "stop"


def test_opt_commands_do_not_overlap():
    router = IntentRouter()
    assert not router._opt.stop & router._opt.start


# ---------------------------------------------------------------- ambiguity, typos, real text

def test_emoji_alone(router):
    assert intent(router, "🙏") == "thanks"
    assert intent(router, "👋") == "greet"
    assert intent(router, "namaste 🙏") == "greet"
    assert intent(router, "👍") == "fallback"


def test_long_message_is_routed_by_its_beginning(router):
    text = "where is my order? " + "blah " * 2000 + "STOP"
    assert intent(router, text) == "order_status"


# ---------------------------------------------------------------- [intents] in wabot.toml

EXAMPLE_TOML = """
[intents.reorder]
keywords = ["restock", "same box", "top up .. subscription", "refill*"]
patterns = ['\\b(one|two|\\d+) more (bags?|boxes)\\b']

[intents.human]
keywords = ["gerente", "supervisor please"]

[intents.stop]
keywords = ["parar envios"]
patterns = ['\\bleave me alone\\b']

[intents.start]
keywords = ["volta"]

[intents.sale]
keywords = ["liquidación"]
"""


@pytest.fixture(scope="module")
def configured() -> IntentRouter:
    file_config = parse_file_config(tomllib.loads(EXAMPLE_TOML))
    return IntentRouter.from_config(file_config.intents)


@pytest.mark.parametrize("text,expected", [
    ("restock", "reorder"), ("the same box please", "reorder"), ("top up my coffee subscription", "reorder"),
    ("refilling time", "reorder"), ("two more bags", "reorder"), ("3 more boxes pls", "reorder"),
    ("quiero hablar con el gerente", "human"), ("supervisor please", "human"),
    ("Parar envios por favor", "stop"), ("please leave me alone", "stop"), ("don't leave me alone", "fallback"),
    ("volta", "start"), ("liquidacion?", "sale"),
    # the defaults stay
    ("where is my order", "order_status"), ("STOP", "stop"), ("hola", "greet"),
])
def test_config_adds_to_the_defaults(configured, text, expected):
    assert configured.route(text).intent == expected, (text, configured.scores(text))


def test_config_pattern_source_and_matched(configured):
    decision = configured.route("two more bags")
    assert decision.source == "pattern" and decision.matched.startswith("\\b(one|two")


def test_shorthand_list_is_keywords():
    router = IntentRouter.from_config({"reorder": ["restock"]})
    assert router.route("restock").intent == "reorder"


def test_no_table_means_defaults():
    assert IntentRouter.from_config(None).route("hi").intent == "greet"
    assert IntentRouter.from_config({}).route("hi").intent == "greet"


@pytest.mark.parametrize("table,message", [
    ({"returns": {"keywords": ["refund"]}}, "[intents.returns]: unknown intent 'returns'"),
    ({"fallback": {"keywords": ["x"]}}, "[intents.fallback]: fallback takes no keywords"),
    ({"media": {"keywords": ["x"]}}, "[intents.media]: media takes no keywords"),
    ({"reorder": {"keyword": ["x"]}}, "[intents.reorder]: unknown key 'keyword'; use keywords or patterns"),
    ({"reorder": {"keywords": "restock"}}, "[intents.reorder] keywords must be a list of strings"),
    ({"reorder": {"keywords": [1]}}, "[intents.reorder] keywords must be a list of strings"),
    ({"reorder": "restock"}, "[intents.reorder] must be a table"),
    ({"reorder": {"patterns": ["(unclosed"]}},
     "[intents.reorder] patterns: bad regular expression '(unclosed': missing ), unterminated subpattern"),
    ({"stop": {"patterns": ["[z-a]"]}}, "[intents.stop] patterns: bad regular expression '[z-a]'"),
    ({"reorder": {"keywords": ["!!!"]}}, "[intents.reorder] keywords: '!!!': '!!!' has no letters or digits"),
    ({"reorder": {"keywords": [".. restock"]}}, "[intents.reorder] keywords: '.. restock': '..' must stand"),
    ({"reorder": {"keywords": ["@nosuch thing"]}}, "[intents.reorder] keywords: '@nosuch thing': unknown word class"),
    ({"stop": {"keywords": ["stop*"]}}, "[intents.stop] keywords: 'stop*': opt-out and opt-in keywords are whole"),
    ({"stop": {"keywords": ["please"]}}, "[intents.stop] keywords: 'please' is only filler words"),
    ({"stop": {"keywords": ["start"]}}, "[intents] start: both an opt-out and an opt-in command"),
    (["reorder"], "[intents] must be a table"),
])
def test_config_errors_name_the_intent_and_entry(table, message):
    with pytest.raises(ConfigError) as caught:
        IntentRouter.from_config(table)
    assert message in str(caught.value)


def test_worker_builds_its_router_from_wabot_toml():
    engine = sa.create_engine("sqlite://")  # the worker only keeps it; building the router reads no rows
    settings = Settings(file=parse_file_config(tomllib.loads(EXAMPLE_TOML)))
    worker = Runtime.from_settings(settings, engine=engine).worker()
    assert worker.router.route("restock").intent == "reorder"


def test_a_bad_intents_table_is_rejected_at_start():
    def start(data: dict) -> None:
        check_configuration(Settings(file=parse_file_config(data)))

    with pytest.raises(ConfigError, match=r"^\[intents.reorder\] patterns: bad regular expression '\('"):
        start({"intents": {"reorder": {"patterns": ["("]}}})
    with pytest.raises(ConfigError, match=r"^\[intents.refunds\]: unknown intent"):
        start({"intents": {"refunds": ["refund"]}})
    assert parse_file_config({"intents": {"reorder": ["restock"]}}).intents == {"reorder": ["restock"]}


def test_cli_prints_one_line_for_a_bad_intents_table(tmp_path):
    config = tmp_path / "wabot.toml"
    config.write_text('[intents.human]\nkeywords = ["..", "gerente"]\n', encoding="utf-8")
    env = {**os.environ, "WABOT_CONFIG": str(config), "WABOT_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}"}
    done = run_cli(["db", "upgrade"], env=env)
    assert done.returncode == 2
    assert done.stderr.strip() == "wabot: error: [intents.human] keywords: '..': '..' must stand between two words"


# ---------------------------------------------------------------- the built-in vocabulary

def test_every_builtin_cue_parses_and_names_a_routable_intent():
    for name, cues in lexicon.CUES.items():
        assert name in INTENTS and name != "media"
        for text, weight in cues:
            assert _parse_cue(text) and weight > 0


def test_real_word_list_was_made_for_this_vocabulary(router):
    assert real_words.TARGETS_DIGEST == targets_digest(router), "run: python bench/real_words.py"


def test_cue_syntax():
    items, gaps = _parse_cue("@where .. order|pedido track*")
    assert items == (frozenset({"c:where"}), frozenset({"w:order", "w:pedido"}), frozenset({"p:track"}))
    assert gaps == (0, 3, 0)
    with pytest.raises(ValueError):
        _parse_cue("order ..")


# ---------------------------------------------------------------- properties

MESSAGE_TYPES = (st.sampled_from(["text", "interactive", "button", "image", "audio", "location", "unknown"])
                 | st.text(max_size=12))
REPLY_IDS = st.none() | st.text(max_size=30) | st.builds(
    lambda name, arg: f"{name}:{arg}", st.sampled_from(INTENTS + ("intent", "x")), st.text(max_size=10))
TEXTS = st.none() | st.text(max_size=300) | st.lists(
    st.sampled_from(["stop", "hi", "order", "dónde", "pedido", "don't", "kab", "aayega", "🙏", "!!", "baja",
                     "start", "sale", "again", "no", "more", "messages", "thanks", "?", "..", "\n"]),
    max_size=12).map(" ".join)


@pytest.fixture(scope="module")
def second_router() -> IntentRouter:
    return IntentRouter()


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXTS, reply_id=REPLY_IDS, message_type=MESSAGE_TYPES)
def test_any_input_routes_to_a_known_intent_deterministically(router, second_router, configured, text, reply_id,
                                                              message_type):
    first = router.route(text, reply_id, message_type)
    assert first.intent in INTENTS
    assert 0.0 <= first.confidence <= 1.0
    assert router.route(text, reply_id, message_type) == first
    # another instance, whose caches saw other words first, decides the same
    assert second_router.route(text, reply_id, message_type) == first
    assert configured.route(text, reply_id, message_type).intent in INTENTS


@settings(max_examples=200)
@given(st.text(max_size=40))
def test_normalise_is_idempotent(text):
    assert normalise(normalise(text)) == normalise(text)


# ---------------------------------------------------------------- the labelled set

def test_labelled_set_is_well_formed():
    examples = bench.load()
    assert len(examples) >= 150
    cells = {(e.lang, e.intent) for e in examples}
    assert cells == {(lang, name) for lang in bench.LANGUAGES for name in bench.TEXT_INTENTS}
    for part in bench.PARTS:
        assert any(e.part == part for e in examples)


@pytest.mark.parametrize("part", bench.PARTS)
def test_labelled_set_meets_the_targets(router, part):
    result = bench.accuracy(router, [e for e in bench.load() if e.part == part])
    assert result.overall >= bench.TARGET_OVERALL, result.errors
    for lang, value in result.by_language.items():
        assert value >= bench.TARGET_LANGUAGE, (lang, [e for e in result.errors if e[0].lang == lang])


def test_typo_robustness_beats_the_baseline(router):
    typos = bench.typo_examples([e for e in bench.load() if e.part != "dev"])
    assert len(typos) > 100
    assert bench.accuracy(router, typos).overall >= bench.accuracy(IntentRouter(fuzzy=False), typos).overall + 0.1


def test_bench_script_runs_and_checks(capsys):
    assert bench.main(["--check", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "held-out" in out and "p99" in out and "confusion pairs" in out
    assert Path(bench.__file__).name == "intents.py"
