"""Intents from what a customer types or taps.

Tapped buttons and list rows map by their ids (`intent:<name>`, `<name>:<argument>` or `<name>`).
Typed text is scored against a multilingual vocabulary (`flows.lexicon`: English, Spanish, Portuguese,
Indonesian, and Hindi in Latin script and in Devanagari; plus the store's own `[intents]` table): each
cue found adds its weight to its intent, and the best-scoring intent wins, so a greeting followed by a
question is the question. Words are compared after folding case, accents, punctuation and elongation
("Holaaa!!" = "hola"); Devanagari words stay whole, their vowel signs and viramas kept, nuktas dropped
("ज़्यादा" = "ज्यादा"). Longer words in Latin letters also match with a typo.

Opting out and back in is decided first and more strictly, because a wrong STOP silences a customer:
STOP, START and their synonyms count when a sentence is nothing but the command ("Stop please",
"BAJA", "sair", "berhenti", "बंद करो"), or when an explicit phrase says it ("stop sending me messages",
"darme de baja", "jangan kirim pesan lagi"), unless a negation comes just before it ("don't stop
sending deals", "jangan berhenti kirim promo").

Next, a message that is nothing but a language's name (bot.core.languages.NAMES, in English or in
itself), perhaps with a few words around it ("in english please", "pakai bahasa indonesia", "हिंदी
में"), is the `language` intent, `matched` its ISO code; a sentence that only mentions one ("do you ship
to indonesia?") is not. `chosen_language` reads the code from such a decision or a tapped
`language:<code>`.

The `[intents]` table of wabot.toml adds to the defaults, one table per intent, and optionally one
per language under it (any code of bot.core.languages.KNOWN), which adds the same way:

    [intents.reorder]
    keywords = ["restock", "same box", "top up .. subscription", "refill*"]
    patterns = ['\\b(one|two|\\d+) more (bags?|boxes)\\b']

    [intents.reorder.es]
    keywords = ["reponer", "la caja de siempre"]

Keywords are words or phrases, typos forgiven in longer words; `stem*` matches any ending and `..`
lets up to three other words stand between. Patterns are regular expressions searched in the text as
normalise() leaves it (lower case, no accents or punctuation).

For `stop` and `start`, keywords are whole commands and patterns are searched anywhere (unless negated
shortly before, like the built-in phrases). `fallback`, `media` and `language` take no keywords.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping, Sequence

from bot.core import languages
from bot.core.errors import ConfigError
from flows import lexicon, real_words

INTENTS = ("greet", "thanks", "order_status", "reorder", "recommend", "sale", "human", "stop", "start",
           "fallback", "media", "preferences", "language", "cod")
# Intents the [intents] table may not add words to, and why.
UNCONFIGURABLE = {"fallback": "it is what no keyword matched", "media": "it is decided by the message type",
                  "language": "it is a language's name (bot.core.languages.NAMES)",
                  "cod": "it is the answer to a cash-on-delivery question (flows/answers.py)"}
CONFIGURABLE = tuple(i for i in INTENTS if i not in UNCONFIGURABLE)
# Ties between equal scores covering as many words go to the intent earlier here.
PRIORITY = ("human", "order_status", "reorder", "sale", "recommend", "preferences", "greet", "thanks", "fallback")

MAX_CHARS = 1000  # a longer message is routed by its beginning (about 180 words)
MAX_LANGUAGE_WORDS = 8  # "can you please reply in english please": choosing a language takes few words
MAX_GAP = 3  # words allowed between the items of a cue joined by `..`
MIN_SCORE = lexicon.LIGHT  # a LIGHT cue alone; not two hints, nor a misspelt LIGHT cue among other words
MIN_SCORE_ONE_WORD = 0.85  # a one-word message near a known word is most likely that word ("hellow")
FUZZY_DISCOUNT = 0.85  # a cue matched through a typo counts a little less than an exact one
CONFIG_WEIGHT = lexicon.STRONG
GREETING_WORDS = 3  # a greeting opens a message: its cues count only when they start among its first words

TEXT_TYPES = ("text", "interactive", "button")
# Endings that make another word of a command rather than a typo of it.
_ENDINGS = frozenset({"s", "d", "ed", "es", "ing", "er", "ers", "ado", "ada", "ando", "ido", "ida"})


@dataclass(frozen=True)
class IntentDecision:
    intent: str
    confidence: float
    source: str  # button | keyword | pattern | media | fallback (| fallback_streak, rasa: set by callers)
    matched: str | None = None


# ---------------------------------------------------------------- text

_APOSTROPHES = re.compile(r"['’‘`´ʼ]")
# Indic scripts (Devanagari to Sinhala) write vowels and consonant clusters with marks: parts of the
# letters, not accents, so they are kept and keep a word whole. Nuktas go ("ज़" is typed "ज" as often),
# a candrabindu is an anusvara ("कहाँ" = "कहां"), and joiners, which only shape letters, are dropped.
_INDIC_MARKS = "".join(chr(c) for c in range(0x0900, 0x0E00) if unicodedata.category(chr(c)).startswith("M"))
_KEPT_MARKS = frozenset(m for m in _INDIC_MARKS if not unicodedata.name(m, "").endswith("NUKTA"))
_INDIC_FOLDS = str.maketrans({"\u0901": "\u0902", "\u200c": None, "\u200d": None})
_NON_WORD = re.compile(f"[^\\w{_INDIC_MARKS}]+")
_RUNS = re.compile(r"(.)\1+")
_SENTENCES = re.compile(r"[.!?;\n¡¿।॥]+")
_CLAUSES = re.compile(r"[,.!?;:\n¡¿।॥]+")
_EMOJI_WORDS = str.maketrans({ord(char): f" {word} " for char, word in lexicon.EMOJI.items()})
_NOT_ASCII = re.compile(r"[^\x00-\x7f]+")


def normalise(text: str) -> str:
    """Lower case, no accents, no apostrophes ("don't" -> "dont"), no other punctuation or emoji, single spaces;
    Devanagari words whole ("मेरा ऑर्डर कहाँ है?" -> "मेरा ऑर्डर कहां है")."""
    return " ".join(_split(_fold(text)))


def _fold(text: str, emoji: bool = False) -> str:
    """Lower case, no accents or apostrophes; punctuation kept (it separates sentences); with `emoji`, the
    emoji the vocabulary knows become words."""
    if emoji:
        text = text.translate(_EMOJI_WORDS)
    if text.isascii():
        return _APOSTROPHES.sub("", text.lower())
    # Decomposed before and after case folding: "𝐴" is an "A" only once decomposed, and folding can
    # produce letters with accents to drop ("ǰ").
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold()).translate(_INDIC_FOLDS)
    return _APOSTROPHES.sub("", "".join(ch for ch in folded if ch in _KEPT_MARKS or not unicodedata.combining(ch)))


def _split(folded: str) -> list[str]:
    return _NON_WORD.sub(" ", folded).split()


def squash(word: str) -> str:
    """Runs of a letter to one: "hiiii" -> "hi", "thankss" -> "thanks", "accha" -> "acha"."""
    return _RUNS.sub(r"\1", word)


def _words(text: str) -> list[str]:
    return _split(_fold(text, emoji=True))


def _folded(words: Iterable[str]) -> frozenset[str]:
    """Words of the vocabulary as messages' words are compared: normalised and squashed."""
    return frozenset(squash(w) for word in words for w in normalise(word).split())


def _fold_pattern(pattern: str) -> str:
    """A regular expression with its letters folded as normalise() folds a message's: the non-ASCII runs
    ("ã", Devanagari), leaving the syntax ("\\b", "\\w") alone."""
    return _NOT_ASCII.sub(lambda run: _fold(run.group(0)), pattern)


def _typo_script(word: str) -> bool:
    """Typos are forgiven in words of Latin letters, those the thumb-typo model and the list of real
    words (flows.real_words) are made for; a word in another script matches as written."""
    return word.isascii()


# ---------------------------------------------------------------- choosing a language

def _language_names() -> dict[str, list[tuple[tuple[str, ...], str]]]:
    """First word -> (the name's words, its code), longest names first: "bahasa inggris" before "bahasa"."""
    by_first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for code, names in languages.NAMES.items():
        for name in names:
            words = tuple(squash(w) for w in normalise(name).split())
            by_first.setdefault(words[0], []).append((words, code))
    for entries in by_first.values():
        entries.sort(key=lambda entry: (-len(entry[0]), entry))
    return by_first


_LANGUAGE_NAMES = _language_names()
_squash_cached = lru_cache(maxsize=50_000)(squash)  # every short message is read for a language's name
_LANGUAGE_FILLER = _folded(lexicon.LANGUAGE_FILLER)


def language_named(text: str | None) -> str | None:
    """The ISO code of the language a message chooses by naming it and nothing else ("español", "in
    english please", "pakai bahasa indonesia", "हिंदी में"), else None."""
    return _language_of(_words((text or "")[:MAX_CHARS]))


def _language_of(words: Sequence[str]) -> str | None:
    if len(words) > MAX_LANGUAGE_WORDS:
        return None
    squashed = [_squash_cached(w) for w in words]
    for start, word in enumerate(squashed):
        for name, code in _LANGUAGE_NAMES.get(word, ()):
            end = start + len(name)
            if tuple(squashed[start:end]) == name and all(
                    w in _LANGUAGE_FILLER or w.startswith("emoji_") for w in squashed[:start] + squashed[end:]):
                return code
    return None


def chosen_language(decision: IntentDecision, reply_id: str | None = None) -> str | None:
    """The ISO code a `language` decision chose: the one its text named, or the argument of a tapped
    `language:<code>` (`reply_id`, else the decision's own); None when it names no code of
    bot.core.languages.KNOWN ("language" alone: the customer is to be asked which)."""
    if decision.intent != "language":
        return None
    if decision.matched in languages.KNOWN:
        return decision.matched
    return _reply_language(reply_id) or _reply_language(decision.matched)


def _reply_language(reply_id: str | None) -> str | None:
    """`language:pt_BR` or `intent:language:pt` -> "pt"."""
    name, _, argument = (reply_id or "").strip().lower().removeprefix("intent:").partition(":")
    code = languages.primary(argument.strip()) if name.strip() == "language" else None
    return code if code in languages.KNOWN else None


def intent_of_reply_id(reply_id: str) -> str | None:
    """`intent:reorder`, `reorder:1234` or `reorder` -> "reorder"; None for an id naming no intent."""
    name = reply_id.strip().lower()
    if name.startswith("intent:"):
        name = name[len("intent:"):]
    name = name.split(":", 1)[0].strip()
    return name if name in INTENTS else None


# ---------------------------------------------------------------- typos

def _typo_budget(length: int) -> int:
    """Edits forgiven in a word of this length: none below four letters, two from eight."""
    return 2 if length >= 8 else 1 if length >= 4 else 0


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a swap of neighbours counts one), or limit + 1 when above it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


def _deletions(word: str, depth: int) -> set[str]:
    found = {word}
    frontier = {word}
    for _ in range(depth):
        frontier = {w[:i] + w[i + 1:] for w in frontier for i in range(len(w))}
        found |= frontier
    return found


class _TypoIndex:
    """Finds the known word nearest a typo through shared deletions (the symmetric-delete method), so a
    lookup costs a few dictionary probes instead of a pass over the vocabulary."""

    def __init__(self, words: Iterable[str], budget: int | None = None):
        self._budget = budget
        self._by_deletion: dict[str, set[str]] = {}
        for word in words:
            for variant in _deletions(word, self._budget_for(word)):
                self._by_deletion.setdefault(variant, set()).add(word)

    def _budget_for(self, word: str) -> int:
        return _typo_budget(len(word)) if self._budget is None else min(self._budget, _typo_budget(len(word)))

    def nearest(self, token: str) -> str | None:
        budget = self._budget_for(token)
        if not budget:
            return None
        candidates: set[str] = set()
        for variant in _deletions(token, budget):
            candidates.update(self._by_deletion.get(variant, ()))
        best: tuple | None = None
        for word in candidates:
            limit = min(budget, self._budget_for(word))
            distance = _edit_distance(token, word, limit)
            if distance > limit:
                continue
            # Four-letter words forgive swapped neighbours ("sael") and a letter missing or extra after the
            # first ("helko"), not a different letter ("sala" is not "sale").
            if min(len(word), len(token)) == 4 and not (
                    _is_swap(token, word) or (len(word) != len(token) and word[0] == token[0])):
                continue
            rank = (distance, word[0] != token[0], abs(len(word) - len(token)), -len(word), word)
            if best is None or rank < best:
                best = rank
        return best[-1] if best else None


def _typo_of(correction: Callable[[str], str | None], word: str) -> str | None:
    """What a misspelt word meant: compared squashed, then as typed ("mornng" squashes to "morng", two
    letters from "morning")."""
    squashed = squash(word)
    return correction(squashed) or (correction(word) if word != squashed else None)


def _is_swap(a: str, b: str) -> bool:
    if len(a) != len(b):
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


# ---------------------------------------------------------------- cues

@dataclass(frozen=True)
class _Cue:
    intent: str
    text: str
    items: tuple[frozenset[str], ...]  # labels: w:<word>, p:<stem>, c:<class>
    gaps: tuple[int, ...]  # words allowed before each item (the first is unused)
    weight: float


def _parse_cue(text: str) -> tuple[tuple[frozenset[str], ...], tuple[int, ...]]:
    """The cue syntax of flows.lexicon -> item label sets and gaps. ValueError says what is wrong."""
    items: list[frozenset[str]] = []
    gaps: list[int] = []
    gap = 0
    for part in text.split():
        if part == "..":
            if not items or gap:
                raise ValueError("'..' must stand between two words")
            gap = MAX_GAP
            continue
        alternatives = part.split("|")
        if len(alternatives) == 1 and not part.startswith("@"):
            stem = part.endswith("*")
            words = normalise(part.rstrip("*")).split()
            if not words:
                raise ValueError(f"{part!r} has no letters or digits")
            for k, word in enumerate(words):
                prefix = "p:" if stem and k == len(words) - 1 else "w:"
                items.append(frozenset({prefix + squash(word)}))
                gaps.append(gap if k == 0 else 0)
            gap = 0
            continue
        labels = set()
        for alternative in alternatives:
            if alternative.startswith("@"):
                if alternative[1:] not in lexicon.CLASSES:
                    raise ValueError(f"unknown word class {alternative!r}")
                labels.add("c:" + alternative[1:])
                continue
            stem = alternative.endswith("*")
            words = normalise(alternative.rstrip("*")).split()
            if len(words) != 1:
                raise ValueError(f"{alternative!r} in {part!r} must be one word")
            labels.add(("p:" if stem else "w:") + squash(words[0]))
        items.append(frozenset(labels))
        gaps.append(gap)
        gap = 0
    if gap:
        raise ValueError("'..' must stand between two words")
    if not items:
        raise ValueError("no words")
    return tuple(items), tuple(gaps)


class _Vocabulary:
    """Every word and stem the cues name, with the labels a message word gets when it matches one."""

    def __init__(self, fuzzy: bool):
        self.fuzzy = fuzzy
        self.words: dict[str, set[str]] = {}
        self.stems: dict[str, set[str]] = {}
        self.exact_only: set[str] = set()
        self.typo_targets: set[str] = set()
        self.protected = _folded(lexicon.PROTECTED) | real_words.REAL_WORDS  # stored squashed
        for name, members in lexicon.CLASSES.items():
            for member in members.split():
                word = squash(normalise(member))
                # Short function words only match as written: "there" must not become "where".
                function = name in lexicon.FUNCTION_CLASSES and len(word) < 6
                self.add(word + ("*" if member.endswith("*") else ""), "c:" + name, typo_target=not function)
                if function:
                    self.exact_only.add(word)

    def add(self, item: str, *labels: str, typo_target: bool) -> None:
        """A normalised word, or stem ending in `*`, with the labels it gives."""
        if item.endswith("*"):
            key = squash(item[:-1])
            self.stems.setdefault(key, set()).update(("p:" + key, *labels))
        else:
            key = squash(item)
            self.words.setdefault(key, set()).update(("w:" + key, *labels))
        if typo_target and _typo_script(key):
            self.typo_targets.add(key)

    def add_labels(self, labels: Iterable[str]) -> None:
        """The words and stems of a cue item; a word written out in a cue takes typos only from five
        letters on, so "que" never swallows "qua"."""
        for label in labels:
            kind, _, value = label.partition(":")
            if kind in ("w", "p"):
                self.add(value + ("*" if kind == "p" else ""), typo_target=len(value) >= 5)

    def finish(self) -> None:
        self.stem_lengths = sorted({len(s) for s in self.stems}, reverse=True)
        targets = {t for t in self.typo_targets - self.exact_only if len(t) >= 4 and not t.isdigit()}
        targets = {t for t in targets if t in self.words or len(t) >= 5}
        self.typos = _TypoIndex(targets) if self.fuzzy else None
        stems = {t for t in targets if t in self.stems and t not in self.words}
        self.stem_typos = _TypoIndex(stems, budget=1) if self.fuzzy else None
        lengths = {len(t) for t in stems}
        # A word's beginning is compared with stems one letter shorter, as long or one longer than it.
        self.stem_cuts = sorted({n + d for n in lengths for d in (-1, 0, 1) if n + d >= 4}, reverse=True)

    def correction(self, squashed: str) -> str | None:
        """The word or stem a typo most likely meant, protection aside: the whole word against every
        target, then its beginning against the stems ("prpmotions" -> promo*, "decsuentos" -> descuent*)."""
        if self.typos is None or len(squashed) < 4 or squashed.isdigit() or not _typo_script(squashed):
            return None
        nearest = self.typos.nearest(squashed)
        if nearest is not None:
            return nearest
        for cut in self.stem_cuts:
            if cut < len(squashed):
                stem = self.stem_typos.nearest(squashed[:cut])
                if stem is not None:
                    return stem
        return None

    def labels(self, word: str) -> tuple[frozenset[str], bool]:
        """(labels, whether they came through a typo correction) for one normalised message word."""
        squashed = squash(word)
        labels = set(self.words.get(squashed, ()))
        for length in self.stem_lengths:
            if len(squashed) >= length and squashed[:length] in self.stems:
                labels |= self.stems[squashed[:length]]
        if labels or squashed in self.protected:
            return frozenset(labels), False
        nearest = self.typo_of(word)
        if nearest is None:
            return frozenset(), False
        return frozenset(self.words.get(nearest, set()) | self.stems.get(nearest, set())), True

    def typo_of(self, word: str) -> str | None:
        return _typo_of(self.correction, word)


@dataclass(frozen=True)
class _Evidence:
    intent: str
    weight: float
    positions: frozenset[int]
    text: str
    source: str


_FILLER = _folded(lexicon.COMMAND_FILLER)
_OBJECTS = _folded(lexicon.OPT_OBJECTS)
_NEGATORS = _folded(lexicon.NEGATORS)


def _command_core(text: str) -> str:
    """A command without its filler and objects: "darme de baja por favor" -> "darme baja"."""
    return " ".join(w for w in map(squash, _words(text)) if w not in _FILLER and w not in _OBJECTS)


class _OptCommands:
    """STOP / START: whole commands, explicit phrases, and the negations that cancel a phrase."""

    def __init__(self, stop_words: Iterable[str], start_words: Iterable[str], stop_patterns: Iterable[re.Pattern],
                 start_patterns: Iterable[re.Pattern], fuzzy: bool, known: Iterable[str] = ()):
        self.stop = {_command_core(c) for c in (*lexicon.STOP_COMMANDS, *stop_words)} - {""}
        self.stop_with_object = {_command_core(c) for c in lexicon.STOP_COMMANDS_WITH_OBJECT} - {""}
        self.start = {_command_core(c) for c in (*lexicon.START_COMMANDS, *start_words)} - {""}
        # The built-in phrases as one alternation per direction, so a clause is searched once, and apart those
        # in another script, which a clause in ASCII cannot match: their lookbehinds ("(?<!\\S)बंद") would cost
        # the Latin alternation its quick scan. (pattern, searched only in a clause that is not ASCII)
        self.stop_patterns = [*_alternations(lexicon.STOP_PHRASES), *((p, False) for p in stop_patterns)]
        self.start_patterns = [*_alternations(lexicon.START_PHRASES), *((p, False) for p in start_patterns)]
        # The words commands and phrases are made of, squashed -> as written, for mending typos; typos are
        # mended towards the commands themselves and longer words, not towards filler such as "para".
        words = {*lexicon.OPT_OBJECTS, *lexicon.OPT_WORDS}
        for command in (*self.stop, *self.stop_with_object, *self.start):
            words.update(command.split())
        for pattern in (*lexicon.STOP_PHRASES, *lexicon.START_PHRASES):
            words.update(re.findall(r"[a-z]{5,}", re.sub(r"\\[a-zA-Z]", " ", pattern)))
        self.written: dict[str, str] = {}
        # Spelt as the phrases spell them: the squashed form a command is kept in ("langanan") gives way.
        spellings = {w for word in (*words, *lexicon.COMMAND_FILLER) for w in normalise(word).split()}
        for word in sorted(spellings, key=lambda w: (squash(w) == w, w)):
            self.written.setdefault(squash(word), word)
        self.commands = {c for c in self.stop | self.start if " " not in c and len(c) >= 4 and _typo_script(c)}
        self.command_typos = _TypoIndex(self.commands) if fuzzy else None
        self.word_typos = _TypoIndex({squash(w) for w in words if len(w) >= 5 and _typo_script(w)}) if fuzzy else None
        self.protected = _folded(lexicon.PROTECTED) | real_words.REAL_WORDS  # stored squashed
        self.known = set(known)  # words the other intents know: written as meant, never a typo of ours
        self._mend_word = lru_cache(maxsize=50_000)(self._mend_one)

    def correction(self, squashed: str) -> str | None:
        """The opt-out/opt-in word a typo most likely meant, protection aside: a command ("stpo", "sari"),
        or from five letters on any word of the phrases ("meessaging")."""
        if self.command_typos is None or len(squashed) < 4 or squashed.isdigit() or not _typo_script(squashed):
            return None
        nearest = self.command_typos.nearest(squashed)
        if nearest is None and len(squashed) >= 5:
            nearest = self.word_typos.nearest(squashed)
        if nearest in self.commands and squashed.startswith(nearest) and squashed[len(nearest):] in _ENDINGS:
            return None  # "subscribed?", "stops": another form of the word, not a command with a typo
        return nearest

    def mend(self, words: Sequence[str]) -> list[str]:
        """Words as the commands and phrases spell them: "stooop" -> "stop", "meessaging" -> "messaging"."""
        return [self._mend_word(word) for word in words]

    def _mend_one(self, word: str) -> str:
        squashed = squash(word)
        if squashed in self.written:
            return self.written[squashed]
        if squashed in self.protected or squashed in self.known:
            return word
        nearest = self.typo_of(word)
        return self.written[nearest] if nearest else word

    def typo_of(self, word: str) -> str | None:
        return _typo_of(self.correction, word)

    def command(self, words: Sequence[str]) -> tuple[str, str] | None:
        core: list[str] = []
        has_object = False
        for word in words:
            squashed = squash(word)
            if squashed in _FILLER:
                continue
            if squashed in _OBJECTS:
                has_object = True
                continue
            core.append(squashed)
        key = " ".join(core)
        if not key:
            return None
        if key in self.stop or (has_object and key in self.stop_with_object):
            return "stop", key
        if key in self.start:
            return "start", key
        return None

    @staticmethod
    def _negated(text: str, match: re.Match) -> bool:
        """A negation among the three words before the phrase, unless the phrase is itself a negative
        command ("don't message me", "no more texts")."""
        if any(w in _NEGATORS for w in match.group(0).split()):
            return False
        return any(w in _NEGATORS for w in text[: match.start()].split()[-3:])

    def decide(self, folded: str) -> IntentDecision | None:
        """STOP or START for a message (as `_fold` left it), or None when it is neither."""
        found: dict[str, IntentDecision] = {}
        for sentence in _SENTENCES.split(folded):
            hit = self.command(self.mend(_split(sentence)))
            if hit:
                found.setdefault(hit[0], IntentDecision(hit[0], 1.0, "keyword", hit[1]))
        for clause in _CLAUSES.split(folded):
            clean = " ".join(self.mend(_split(clause)))
            if not clean:
                continue
            for intent, patterns in (("stop", self.stop_patterns), ("start", self.start_patterns)):
                if intent not in found:
                    match = self._search(patterns, clean)
                    if match is not None:
                        found[intent] = IntentDecision(intent, 0.9, "keyword", match.group(0))
        # Both in one message: opting out is the safe reading.
        return found.get("stop") or found.get("start")

    def _search(self, patterns: Sequence[tuple[re.Pattern, bool]], clean: str) -> re.Match | None:
        ascii_only = clean.isascii()
        for pattern, not_ascii in patterns:
            if not_ascii and ascii_only:
                continue
            for match in pattern.finditer(clean):
                if not self._negated(clean, match):
                    return match
        return None


# ---------------------------------------------------------------- the router

class IntentRouter:
    """Decides one intent per inbound message. Built once per process; route() is pure and fast."""

    @classmethod
    def from_config(cls, intents: Mapping[str, Any] | None) -> "IntentRouter":
        """From the [intents] table of wabot.toml; ConfigError names the first bad intent, key or entry."""
        return cls(*_read_table(intents))

    def __init__(self, keywords: Mapping[str, Sequence[str]] | None = None,
                 patterns: Mapping[str, Sequence[str]] | None = None, *, fuzzy: bool = True):
        """`keywords` and `patterns` per intent add to the built-in vocabulary; `fuzzy=False` turns typo
        matching off (the benchmark's baseline)."""
        keywords = dict(keywords or {})
        patterns = dict(patterns or {})
        _check_entries(keywords, patterns)
        self._vocabulary = _Vocabulary(fuzzy)
        cues = [_Cue(intent, text, *_parse_cue(text), weight)
                for intent, entries in lexicon.CUES.items() for text, weight in entries]
        cues += [_Cue(intent, text, *_parse_cue(text), CONFIG_WEIGHT)
                 for intent, texts in keywords.items() if intent not in ("stop", "start") for text in texts]
        for cue in cues:
            for item in cue.items:
                self._vocabulary.add_labels(item)
        self._vocabulary.finish()
        self._cues_by_first: dict[str, list[_Cue]] = {}
        for cue in cues:
            for label in cue.items[0]:
                self._cues_by_first.setdefault(label, []).append(cue)

        compiled: dict[str, list[tuple[re.Pattern, float, str]]] = {}
        for intent, entries in lexicon.PATTERNS.items():
            compiled.setdefault(intent, []).extend((re.compile(_fold_pattern(p)), w, p) for p, w in entries)
        for intent, texts in patterns.items():
            compiled.setdefault(intent, []).extend(
                (_compile_config_pattern(f"[intents.{intent}]", t), CONFIG_WEIGHT, t) for t in texts)
        self._patterns = {i: v for i, v in compiled.items() if i not in ("stop", "start")}
        self._opt = _OptCommands(keywords.get("stop", []), keywords.get("start", []),
                                 [p for p, _, _ in compiled.get("stop", [])],
                                 [p for p, _, _ in compiled.get("start", [])], fuzzy, self._vocabulary.words)
        self._labels = lru_cache(maxsize=50_000)(self._vocabulary.labels)

    # -- routing

    def route(self, text: str | None, reply_id: str | None = None, message_type: str = "text") -> IntentDecision:
        if reply_id:
            intent = intent_of_reply_id(reply_id)
            if intent:
                return IntentDecision(intent, 1.0, "button", reply_id)
        text = (text or "")[:MAX_CHARS]
        is_media = message_type not in TEXT_TYPES
        folded = _fold(text, emoji=True)
        words = _split(folded)
        if not words:
            # Nothing to read: a photo, a location, a flow's answer without a known id; or an empty text.
            return IntentDecision("fallback", 0.0, "fallback") if message_type == "text" \
                else IntentDecision("media", 1.0, "media", message_type)
        decision = self._opt.decide(folded)
        if decision is not None:
            return decision
        code = _language_of(words)
        if code is not None:
            return IntentDecision("language", 1.0, "keyword", code)
        decision, score = self._score(words, asks="?" in text)
        if is_media and score < lexicon.MEDIUM:
            # A photo or voice note whose caption asks nothing clearly ("😍", "my dog") is just media.
            return IntentDecision("media", 1.0, "media", message_type)
        return decision

    def scores(self, text: str) -> dict[str, float]:
        """Each intent's score for a text (for explaining a decision; route() decides)."""
        words = _words(text[:MAX_CHARS])
        return {intent: round(score, 3) for intent, (score, _, _, _) in self._tally(words).items()}

    def _score(self, words: Sequence[str], asks: bool) -> tuple[IntentDecision, float]:
        """The decision for a text, and its winning score."""
        tally = self._tally(words)
        if not tally:
            return IntentDecision("fallback", 0.0, "fallback"), 0.0
        if "thanks" in tally and not asks:
            # "Got my order, thanks!" closes a conversation; it asks nothing.
            score, covered, evidence, source = tally["thanks"]
            if score >= lexicon.MEDIUM:
                tally["thanks"] = (score + lexicon.LIGHT, covered, evidence, source)
        ranked = sorted(tally.items(), key=lambda kv: (-kv[1][0], -kv[1][1], PRIORITY.index(kv[0])))
        intent, (score, _, evidence, source) = ranked[0]
        if intent == "fallback" or score < (MIN_SCORE_ONE_WORD if len(words) == 1 else MIN_SCORE):
            return IntentDecision("fallback", 0.0, "fallback", evidence if intent == "fallback" else None), 0.0
        runner_up = ranked[1][1][0] if len(ranked) > 1 and ranked[1][0] != "fallback" else 0.0
        margin = (score - runner_up) / score
        confidence = min(0.95, 0.3 + 0.15 * score) * (0.6 + 0.4 * margin)
        return IntentDecision(intent, round(confidence, 3), source, evidence), score

    def _tally(self, words: Sequence[str]) -> dict[str, tuple[float, int, str, str]]:
        """intent -> (score, words covered, strongest evidence, its source), from non-overlapping evidence."""
        evidence = self._evidence(words)
        evidence.sort(key=lambda e: (-e.weight, -len(e.positions), e.text))
        tally: dict[str, tuple[float, int, str, str]] = {}
        used: dict[str, set[int]] = {}
        counted: set[tuple[str, str]] = set()
        for item in evidence:
            taken = used.setdefault(item.intent, set())
            # A cue counts once: "delivery ... orders" is not twice the evidence of "orders".
            if item.positions & taken or (item.intent, item.text) in counted:
                continue
            counted.add((item.intent, item.text))
            taken |= item.positions
            score, covered, best, source = tally.get(item.intent, (0.0, 0, item.text, item.source))
            tally[item.intent] = (score + item.weight, covered + len(item.positions), best, source)
        return tally

    def _evidence(self, words: Sequence[str]) -> list[_Evidence]:
        analysed = [self._labels(w) for w in words]
        labels = [a[0] for a in analysed]
        found: dict[tuple[int, int], _Evidence] = {}
        for start, word_labels in enumerate(labels):
            for label in word_labels:
                for cue in self._cues_by_first.get(label, ()):
                    key = (id(cue), start)
                    if key in found:
                        continue
                    positions = _match(cue, labels, start)
                    if positions is None:
                        continue
                    if cue.intent == "greet" and start >= GREETING_WORDS:
                        continue  # "pichli baar wala hi mangwana hai": a Hindi "hi" is no greeting
                    typo = any(analysed[p][1] for p in positions)
                    found[key] = _Evidence(cue.intent, cue.weight * (FUZZY_DISCOUNT if typo else 1.0),
                                           frozenset(positions), cue.text, "keyword")
        result = list(found.values())
        if self._patterns:
            # Patterns read the message as normalise() leaves it: without the words standing for emoji.
            kept = [i for i, w in enumerate(words) if not w.startswith("emoji_")]
            joined = " ".join(words[i] for i in kept)
            spans, offset = [], 0
            for i in kept:
                spans.append((offset, offset + len(words[i]), i))
                offset += len(words[i]) + 1
            for intent, patterns in self._patterns.items():
                for pattern, weight, text in patterns:
                    match = pattern.search(joined)
                    if match:
                        covered = frozenset(i for start, end, i in spans if start < match.end() and end > match.start())
                        result.append(_Evidence(intent, weight, covered or frozenset({-1}), text, "pattern"))
        return result


def _match(cue: _Cue, labels: Sequence[frozenset[str]], start: int) -> list[int] | None:
    positions = [start]
    at = start
    for item, gap in zip(cue.items[1:], cue.gaps[1:]):
        for next_at in range(at + 1, min(len(labels), at + 2 + gap)):
            if item & labels[next_at]:
                positions.append(next_at)
                at = next_at
                break
        else:
            return None
    return positions


# ---------------------------------------------------------------- the [intents] table

def _read_table(intents: Mapping[str, Any] | None) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The [intents] table -> (keywords, patterns) per intent, a language's sub-table adding to its intent's;
    ConfigError for a wrong shape or a bad entry, naming the table it is in ([intents.reorder.es])."""
    keywords: dict[str, list[str]] = {}
    patterns: dict[str, list[str]] = {}
    if intents is not None and not isinstance(intents, Mapping):
        raise ConfigError("[intents] must be a table with one table per intent")
    for name, table in (intents or {}).items():
        where = f"[intents.{name}]"
        if name in UNCONFIGURABLE:
            raise ConfigError(f"{where}: {name} takes no keywords: {UNCONFIGURABLE[name]}")
        if name not in CONFIGURABLE:
            raise ConfigError(f"{where}: unknown intent {name!r}; intents are {', '.join(CONFIGURABLE)}")
        for part_where, part in _tables(name, table):
            for key, target in (("keywords", keywords), ("patterns", patterns)):
                values = part.get(key, [])
                if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
                    raise ConfigError(f"{part_where} {key} must be a list of strings")
                target.setdefault(name, []).extend(values)
            _check_texts(part_where, name, part.get("keywords", []), part.get("patterns", []))
    return keywords, patterns


def _tables(name: str, table: Any, language: str | None = None) -> list[tuple[str, Mapping[str, Any]]]:
    """An intent's table and its languages' sub-tables, each with the name an error gives it."""
    where = f"[intents.{name}.{language}]" if language else f"[intents.{name}]"
    if isinstance(table, (list, tuple)):
        table = {"keywords": table}  # shorthand: reorder = ["restock", ...]
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where} must be a table with keywords = [...] and/or patterns = [...]")
    found = [(where, table)]
    for key, value in table.items():
        if key in ("keywords", "patterns"):
            continue
        if language is None and (key in languages.KNOWN or isinstance(value, Mapping)):
            if key not in languages.KNOWN:
                raise ConfigError(f"[intents.{name}.{key}]: unknown language {key!r}; languages are "
                                  + ", ".join(languages.KNOWN))
            found += _tables(name, value, key)
            continue
        raise ConfigError(f"{where}: unknown key {key!r}; use keywords or patterns"
                          + ("" if language else f", or a table per language ([intents.{name}.es])"))
    return found


def _check_texts(where: str, intent: str, keywords: Iterable[str], patterns: Iterable[str]) -> None:
    """Every keyword and pattern of one table usable; ConfigError names the first that is not."""
    for text in keywords:
        if intent not in ("stop", "start"):
            try:
                _parse_cue(text)
            except ValueError as exc:
                raise ConfigError(f"{where} keywords: {text!r}: {exc}") from None
            continue
        if any(mark in text for mark in ("*", "..", "|", "@")):
            raise ConfigError(f"{where} keywords: {text!r}: opt-out and opt-in keywords are "
                              "whole commands; use patterns for anything else")
        if not normalise(text):
            raise ConfigError(f"{where} keywords: {text!r} has no letters or digits")
        if not _command_core(text):
            raise ConfigError(f"{where} keywords: {text!r} is only filler words (please, thanks, messages, ...)")
    for text in patterns:
        _compile_config_pattern(where, text)


def _check_entries(keywords: Mapping[str, Sequence[str]], patterns: Mapping[str, Sequence[str]]) -> None:
    """Every keyword and pattern usable, and no command both an opt-out and an opt-in; ConfigError names the
    first that is not."""
    for intent in {**keywords, **patterns}:
        _check_texts(f"[intents.{intent}]", intent, keywords.get(intent, ()), patterns.get(intent, ()))
    stop = {_command_core(c) for c in (*lexicon.STOP_COMMANDS, *keywords.get("stop", ()))}
    start = {_command_core(c) for c in (*lexicon.START_COMMANDS, *keywords.get("start", ()))}
    clash = (stop & start) - {""}
    if clash:
        raise ConfigError(f"[intents] {', '.join(sorted(clash))}: both an opt-out and an opt-in command")


def check_intents(intents: Mapping[str, Any]) -> None:
    """Check the [intents] table of wabot.toml without building a router; ConfigError names the
    first bad intent, key or entry (building the router at start checks the same)."""
    _check_entries(*_read_table(intents))


def _alternations(patterns: Sequence[str]) -> list[tuple[re.Pattern, bool]]:
    """Built-in phrases as one expression for those in ASCII and one for the others (which name letters of
    another script, so only a clause that is not ASCII can match them)."""
    found = []
    for not_ascii in (False, True):
        group = [_fold_pattern(p) for p in patterns if p.isascii() != not_ascii]
        if group:
            found.append((re.compile("|".join(f"(?:{p})" for p in group)), not_ascii))
    return found


def _compile_config_pattern(where: str, text: str) -> re.Pattern:
    try:
        return re.compile(_fold_pattern(text), re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(f"{where} patterns: bad regular expression {text!r}: {exc}") from None
