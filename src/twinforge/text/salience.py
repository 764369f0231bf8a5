"""What a person's text is about: its noun phrases ranked by salience, and its sentences ranked by how central
a claim or question they are.

A phrase is salient when the person uses it (often, early, its head noun in several phrases), when its words are
rarer in the language at large than in this text (background frequency: wordfreq's Zipf scale, Russian and
English, offline), when it sits near the meaning of the whole text (embedding centrality, USE) and when the other
side of the dialog takes it up (the assistant's answers repeat what the question turns on; they only weigh the
person's phrases, never add one). A sentence is
central when it carries the salient phrases and the text's meaning, is a statement or question of the person's
own (not an instruction to the assistant such as "покажи расчёт"), and is neither a fragment nor a ramble.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .embed import embed
from .lemmas import analyze
from .phrases import Phrase, _morph, noun_phrases

MAX_CANDIDATES = 40  # embedded for centrality; the rest stay ranked by use and rarity only
TOP_CONCEPTS = 10
# Weights of the salience score (tuned on the labelled set's tuning split): repeated use, the head noun's other
# phrases, an early first mention; rarity's floor keeps a common word the person thinks with ("release",
# "storage") in reach of a rare one; centrality's floor keeps an off-centre term from vanishing.
USE_W, HEAD_W, EARLY_W, RARITY_FLOOR, CENTRAL_FLOOR = 1.0, 0.5, 0.3, 0.5, 0.5
# Echo: the phrase's words in the other side's text, log-weighted (tuning split: concept recall 0.67 → 0.71). It
# lifts the common words a person thinks with ("data", "release", "память"), which rarity holds down.
ECHO_W = 0.5
_CYR = re.compile(r"[а-яё]", re.IGNORECASE)
_MAX_ZIPF = 7.0  # the commonest words ("и", "the") sit near 7 on the Zipf scale
_TERM_ZIPF = 1.5  # a word the background list lacks, written as a term (RAG, LoRA, Qwen): rare and specific
_UNKNOWN_ZIPF = 3.5  # … written in lower case: as likely a typo ("indepenet") as a coinage, so no bonus


@lru_cache(maxsize=200_000)
def zipf(word: str) -> float:
    """How common the word is in the language at large (Zipf scale, 0 = unseen … 7 = "the")."""
    from wordfreq import zipf_frequency

    lang = "ru" if _CYR.search(word) else "en"
    z = zipf_frequency(word.lower(), lang)
    if z > 0:
        return z
    return _TERM_ZIPF if any(c.isdigit() for c in word) else _UNKNOWN_ZIPF


def _terms(surfaces: list[str]) -> set[str]:
    """Words written as terms (an upper-case letter after the first: "LoRA", "RAG", "QLoRA")."""
    return {w.lower() for s in surfaces for w in re.findall(r"\w+", s) if any(c.isupper() for c in w[1:])}


def rarity(lemmas: tuple[str, ...], terms: set[str] = frozenset()) -> float:
    """0..1: how specific the phrase's words are (the mean over its words); `terms` count as rare."""
    words = [w for w in lemmas if len(w) > 1]
    if not words:
        return 0.0
    return sum(max(0.0, _MAX_ZIPF - (min(zipf(w), _TERM_ZIPF) if w.lower() in terms else zipf(w))) / _MAX_ZIPF
               for w in words) / len(words)


@dataclass
class Concept:
    text: str  # normal form
    head: str
    lemmas: tuple[str, ...]
    count: int = 0
    first: int = 0  # character offset of the first mention
    score: float = 0.0
    surfaces: list[str] = field(default_factory=list)


def concepts(text: str, lang: str, k: int = TOP_CONCEPTS, echo: str = "") -> list[Concept]:
    """The k most salient noun phrases of `text` (the person's words), best first; a phrase whose words are all
    in a better one already chosen is left out ("модель" after "большая модель"), and so is one that only adds
    words to a better one ("хорошая работа" after "работа"): the slot goes to another thought. `echo`: the other
    side's text of the dialog (the assistant's), which weighs the phrases it takes up."""
    ranked = rank_concepts(text, lang, echo)
    out: list[Concept] = []
    for c in ranked:
        words = set(c.lemmas)
        if any(words <= set(o.lemmas) or set(o.lemmas) <= words for o in out):
            continue
        out.append(c)
        if len(out) >= k:
            break
    return out


def _echoes(c: Concept, heard: Counter) -> int:
    """How often the other side says the phrase: its rarest word's count there (one-letter words aside)."""
    words = [w for w in c.lemmas if len(w) > 1]
    return min((heard.get(w.lower(), 0) for w in words), default=0)


def rank_concepts(text: str, lang: str, echo: str = "") -> list[Concept]:
    phrases: list[Phrase] = noun_phrases(text, lang)
    if not phrases:
        return []
    by_text: dict[str, Concept] = {}
    heads: dict[str, int] = defaultdict(int)
    for p in phrases:
        c = by_text.get(p.text)
        if c is None:
            c = by_text[p.text] = Concept(p.text, p.head, p.lemmas, first=p.start)
        c.count += 1
        if p.surface not in c.surfaces:
            c.surfaces.append(p.surface)
        if len(p.lemmas) == 1:
            heads[p.head] += 1
    n = max(len(text), 1)
    heard = Counter(t.lemma.lower() for t in analyze(echo, lang)) if echo.strip() else Counter()
    for c in by_text.values():
        use = 1.0 + USE_W * math.log(c.count) + HEAD_W * math.log1p(max(0, heads[c.head] - c.count))
        early = 1.0 + EARLY_W * (1.0 - c.first / n)
        c.score = use * early * (RARITY_FLOOR + rarity(c.lemmas, _terms(c.surfaces)))
        c.score *= 1.0 + ECHO_W * math.log1p(_echoes(c, heard))
    ranked = sorted(by_text.values(), key=lambda c: (-c.score, c.first))
    top = ranked[:MAX_CANDIDATES]
    vecs = embed([text[:2000], *(c.text for c in top)])
    central = vecs[1:] @ vecs[0]
    for c, sim in zip(top, central):
        c.score *= CENTRAL_FLOOR + max(0.0, float(sim))
    return sorted(ranked, key=lambda c: (-c.score, c.first))


# --- sentences -------------------------------------------------------------------------------------------

MIN_WORDS = 4
MAX_WORDS = 45
# An instruction to the assistant, not the person's claim: imperative openers.
_EN_REQUEST = re.compile(r"^(?:please|pls|can you|could you|would you|show|give|tell|run|let'?s|lets|write|make|"
                         r"list|explain|describe|do|try|plot|graph|draw|use|go|continue|repeat|now,? let'?s)\b",
                         re.IGNORECASE)
_RU_REQUEST = re.compile(r"^(?:пожалуйста|давай|покажи|напиши|сделай|расскажи|объясни|опиши|посчитай|запиши|"
                         r"возьми|сожми|разверни|попробуй|продолжай|повтори|дай|перечисли|ответь|подожди)\b", re.IGNORECASE)


def _imperative(sentence: str) -> bool:
    s = sentence.lstrip(" «\"'—-")
    if _EN_REQUEST.match(s) or _RU_REQUEST.match(s):
        return True
    first = re.match(r"[а-яё]+", s, re.IGNORECASE)
    return bool(first) and any("impr" in p.tag for p in _morph().parse(first.group().lower())[:1])


@dataclass
class Ranked:
    text: str
    start: int
    score: float


def rank_sentences(spans: list[tuple[int, int]], text: str, lang: str, top: list[Concept],
                   bonus: dict[int, float] | None = None) -> list[Ranked]:
    """The sentences (given as spans of `text`) best first. `bonus`: extra weight by span start (cue sentences:
    a hypothesis, an axis)."""
    if not spans:
        return []
    sents = [text[s:e] for s, e in spans]
    vecs = embed([text[:2000], *sents])
    central = vecs[1:] @ vecs[0]
    weights = {c.text: c.score for c in top}
    best = max(weights.values(), default=1.0) or 1.0
    out = []
    for (s, e), sent, sim in zip(spans, sents, central):
        toks = [t for t in analyze(sent, lang) if t.pos != "FUNC"]
        lem = {t.lemma for t in toks}
        carried = sum(w / best for c, w in weights.items() if set(_concept_lemmas(top, c)) <= lem)
        words = len(sent.split())
        size = 1.0 if MIN_WORDS <= words <= MAX_WORDS else (0.4 if words < MIN_WORDS else 0.7)
        own = 0.35 if _imperative(sent) else 1.0
        question = 1.1 if sent.rstrip().endswith("?") else 1.0
        score = (carried / math.sqrt(max(len(toks), 1)) + 1.5 * max(0.0, float(sim))) * size * own * question
        score += (bonus or {}).get(s, 0.0)
        out.append(Ranked(sent, s, score))
    return sorted(out, key=lambda r: (-r.score, r.start))


def _concept_lemmas(top: list[Concept], text: str) -> tuple[str, ...]:
    return next(c.lemmas for c in top if c.text == text)


def centrality(texts: list[str], whole: str) -> np.ndarray:
    vecs = embed([whole[:2000], *texts])
    return vecs[1:] @ vecs[0]
